"""The external tools, run on what ``codegen`` rendered: Verilator and cocotb (``verilator``,
``streamtb`` for single blocks, ``rtlsim`` for a whole network), g++ on the HLS C++ (``hlssim``)
and Yosys (``yosys``). May import ``base``, ``graph``, ``hw`` and ``codegen``; never ``nn`` or
``flow``."""
