"""The external tools, run on what ``codegen`` rendered: Verilator and cocotb (``verilator``,
``streamtb`` for single blocks, ``rtlsim`` for a whole network), g++ on the HLS C++ (``hlssim``),
Yosys (``yosys``: cell counts; ``timing``: logic levels on the longest register-to-register path)
and nextpnr-ecp5 (``nextpnr``: place and route, Fmax). May import ``base``, ``graph``, ``hw`` and
``codegen``; never ``nn`` or ``flow``."""
