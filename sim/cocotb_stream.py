"""cocotb test of a stream block wrapped by sat_hw.tools.streamtb (loaded by the simulator).

The HDL wrapper does the per-cycle work (random idle input cycles, random backpressure, the reset
mid-stream, capture, a watchdog); Python only sets each scenario up, waits for `done`, waits a
tail of cycles to catch beats after the last expected one, and records the counters.
Configuration and results are JSON files named by the environment variable SAT_HW_TB.
"""

import json
import os
from pathlib import Path

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, RisingEdge

COUNTERS = ("sent", "received", "cycles", "first_out", "last_out", "timed_out", "idle_cycles")


@cocotb.test()
async def scenarios(dut):
    path = Path(os.environ["SAT_HW_TB"])
    cfg = json.loads(path.read_text())
    Clock(dut.clk, 10, unit="ns").start()
    dut.start.value = 0
    await ClockCycles(dut.clk, 2)
    results = []
    for i, sc in enumerate(cfg["scenarios"]):
        dut.scenario.value = i
        for key in ("n_in", "n_out", "valid_pct", "ready_pct", "seed", "reset_after", "watchdog"):
            getattr(dut, key).value = int(sc[key])
        dut.start.value = 1
        await RisingEdge(dut.clk)
        dut.start.value = 0
        await RisingEdge(dut.done)
        await ClockCycles(dut.clk, int(cfg["tail"]))
        results.append({k: int(getattr(dut, k).value) for k in COUNTERS})
    path.with_suffix(".out.json").write_text(json.dumps(results))
