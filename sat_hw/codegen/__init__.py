"""Text from the hardware plan: the Verilog top, testbench wrapper and ROM images (``rtl``), the
HLS C++ (``hls``), and the memory layouts both share (``layout``). Pure functions from
(graph, plan) to ``{path: text}``. May import ``base``, ``graph`` and ``hw.plan``; never the
folding module, ``tools`` (simulators) or ``flow``."""
