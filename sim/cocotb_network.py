"""cocotb test of a whole generated accelerator (loaded by the simulator; see sat_hw.tools.rtlsim).

The HDL wrapper (rtl/sat_tb.sv of the build) streams the images, captures the outputs and counts
per layer; Python starts it, reports progress every `poll_cycles` cycles, then compares every
output with the golden executor's (`==`) and with the integers the PyTorch model implies.
Configuration and results are JSON files named by the environment variable SAT_HW_NET.
"""

import json
import os
import time
from pathlib import Path

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, First, RisingEdge, Timer

from sat_hw.tools.rtlsim import check_outputs

NEVER = (1 << 64) - 1  # waves_from / waves_to that never come


@cocotb.test()
async def network(dut):
    path = Path(os.environ["SAT_HW_NET"])
    cfg = json.loads(path.read_text())
    Clock(dut.clk, 10, unit="ns").start()
    dut.start.value = 0
    dut.n_images.value = cfg["images"]
    dut.watchdog.value = cfg["watchdog"]
    dut.valid_pct.value = cfg.get("valid_pct", 100)
    dut.ready_pct.value = cfg.get("ready_pct", 100)
    windows = hasattr(dut, "waves_from")  # a build from before waveform windows has none
    if windows:
        dut.waves_from.value = cfg.get("waves_from", NEVER)
        dut.waves_to.value = cfg.get("waves_to", NEVER)
    await ClockCycles(dut.clk, 2)
    dut.start.value = 1
    await RisingEdge(dut.clk)
    dut.start.value = 0
    t0 = time.monotonic()
    progress = path.with_name("progress.txt")
    while not int(dut.done.value):
        # a timer, not ClockCycles: ClockCycles wakes Python on every edge it counts
        await First(RisingEdge(dut.done), Timer(10 * cfg["poll_cycles"], unit="ns"))
        progress.write_text(f"{int(dut.images_out.value)} {int(dut.cycles.value)}\n")
    run_s = time.monotonic() - t0
    if windows and int(dut.window_end.value):  # a waveform window: the run stopped early, nothing to check
        path.with_suffix(".out.json").write_text(json.dumps(
            {"window_end": True, "cycles": int(dut.cycles.value), "run_s": run_s}))
        return
    res = check_outputs(path.parent, cfg)
    res.update(run_s=run_s, cycles=int(dut.cycles.value), timed_out=bool(int(dut.timed_out.value)))
    path.with_suffix(".out.json").write_text(json.dumps(res))
    assert not res["timed_out"], res["stall"]
    assert res["mismatches"] == 0, res["first_mismatch"]
