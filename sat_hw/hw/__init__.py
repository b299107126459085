"""The hardware, before any text is written: target devices (``devices``), folding (``fold``:
PE, SIMD, products, weight memories), the hardware plan (``plan``: every block instance of every
layer, its parameters, stream widths and memories), what blocks cost (``blocks``, ``memory``,
``cost``, fitted by ``fit``), their cycles (``cycles``) and the folding planner (``planner``).
May import ``base`` and ``graph``; nothing of ``nn``, ``codegen``, ``tools`` or ``flow``."""
