"""sat_hw: SAT-trained quantized CNNs to bit-exact streaming accelerators.

The packages follow the data path, each importing only those before it (docs/architecture.md):

- ``base``: errors and exit statuses, resource paths, the cache folder, whole-or-nothing writes;
- ``graph``: the integer layer graph, its checks and passes, the golden executor;
- ``nn``: the PyTorch side: quantizers, models, data, checkpoints, the zoo, lowering to ``graph``;
- ``hw``: devices, folding, the hardware plan (every block instance), cost and cycle models,
  the folding planner;
- ``codegen``: the hardware plan rendered as Verilog (``rtl``) and HLS C++ (``hls``);
- ``tools``: Verilator, Yosys and g++ runs: the RTL and HLS simulations and synthesis;
- ``flow``: the commands: config, train, build, estimate, synth, sim, reports.
"""
