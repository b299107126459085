"""The commands a user runs and the build folder they write: ``cli`` (the ``sat_hw`` command),
``config`` (flow.toml), ``train`` (``sat_hw train``), ``evaluate`` (``sat_hw eval``), ``build``
and its RTL phase (``rtlphase``), ``estimate``, ``synthesis`` (``sat_hw synth``), ``roms`` (ROM
image checks), ``report`` and ``plots``. The top of the house: it may import every other package,
and none imports it."""
