"""Weight memories in the style the plan chose, and parameter checks whose messages reach the user.

The plan's ``[fold.<layer>] mem`` becomes the ``MEM_STYLE`` of ``sat_mvu`` / ``sat_vvu`` in the
generated top (absent for ``auto``, the blocks' default); under Yosys ``lut`` keeps a ROM that
``auto`` puts in block RAM in LUTs and ``bram`` puts one that ``auto`` keeps in LUTs in a RAMB18.
``uram`` and ``external`` are RAMs loaded at run time (tests/test_rtl_wload.py); ``uram`` on a part
without UltraRAM is refused by the build in one line. Every block checks
its parameters at elaboration with ``$error`` and a constant message, which Verilator and Yosys
both print (Yosys drops the message of a ``$fatal`` and prints a ``%0d`` unformatted).
"""

from __future__ import annotations

import random
import subprocess

import numpy as np
import pytest

from sat_hw.codegen.layout import hex_lines, vvu_rom
from sat_hw.codegen.rtl import render_rtl
from sat_hw.flow.synthesis import DEFAULT_ROMS, top_instances
from sat_hw.graph import golden
from sat_hw.graph import synthetic as sy
from sat_hw.hw.fold import Fold
from sat_hw.hw.plan import hardware_plan, layer_plan
from sat_hw.hw.planner import resolve_folding
from sat_hw.tools.streamtb import rtl_sources, run_scenarios, standard_scenarios
from sat_hw.tools.verilator import first_error, tool_env, verilator_root
from sat_hw.tools.yosys import SynthError, synth

pytestmark = pytest.mark.rtl
STYLES = {"conv0": "lut", "dw1": "bram", "pw1": "uram", "fc": "auto"}


def styled_graph():
    """kxk conv and pointwise (sat_mvu), depthwise (sat_vvu), fc (sat_mvu)."""
    rng = np.random.default_rng(0)
    a = sy.conv(rng, "conv0", (3, 8, 8), 8, wbits=4, abits=8)
    d = sy.conv(rng, "dw1", a.out_shape, 8, groups=8, wbits=3, abits=4)
    p = sy.conv(rng, "pw1", d.out_shape, 16, kernel=1, wbits=4, abits=4)
    g = sy.avgpool(rng, "pool", p.out_shape, abits=4, out_bits=4)
    f = sy.linear(rng, "fc", 16, 4, wbits=4, abits=4)
    return sy.chain([a, d, p, g, f])


def test_top_passes_the_plans_memory_style():
    graph = styled_graph()
    explicit = {name: {"mem": m} for name, m in STYLES.items()}
    folding = resolve_folding(graph, explicit)
    plan = hardware_plan(graph, folding)
    top = top_instances(render_rtl(plan, "test")["sat_accel.sv"])
    units = {b.layer: b for b in plan.blocks if b.module in ("sat_mvu", "sat_vvu")}
    assert set(units) == set(STYLES)
    for layer, b in units.items():
        module, params = top[b.name]
        assert module == b.module and b.mem == STYLES[layer]
        want = None if STYLES[layer] == "auto" else f'"{STYLES[layer]}"'
        assert params.get("MEM_STYLE") == want, (layer, params)
    # no other block takes a style, and a plan without styles passes none (unchanged tops)
    assert all("MEM_STYLE" not in p for m, p in top.values() if m not in ("sat_mvu", "sat_vvu"))
    plain = render_rtl(hardware_plan(graph, resolve_folding(graph, {})), "test")["sat_accel.sv"]
    assert "MEM_STYLE" not in plain
    # the URAM layer's memory is loaded at run time: no image file, its write port connected
    assert "WEIGHT_FILE" not in units["pw1"].params and "WEIGHT_FILE" in units["conv0"].params
    assert dict(units["pw1"].ports) == {} and "wl_we[0]" in render_rtl(plan, "t")["sat_accel.sv"]


def _rom(depth: int, width: int) -> str:
    rng = random.Random(depth * 31 + width)
    return "".join(f"{rng.getrandbits(width):0{-(-width // 4)}x}\n" for _ in range(depth))


def _synth(module: str, params: dict, depth: int, width: int):
    return synth(rtl_sources(module), module, {**params, "WEIGHT_FILE": "rom.hex"},
                 family="xcup", files={**DEFAULT_ROMS, "rom.hex": _rom(depth, width)})


def test_yosys_maps_each_style():
    """A 512 x 36 weight ROM (sat_vvu, one lane) is block RAM under auto and LUTs under "lut"; a
    16 x 16 one (sat_mvu) is LUTs under auto and a RAMB18 under "bram"."""
    vvu = {"CH": 512, "K2": 9, "PE": 1, "SIMD": 9, "WBITS": 4, "ABITS": 2, "ACC_BITS": 10}
    auto = _synth("sat_vvu", vvu, 512, 36)
    lut = _synth("sat_vvu", {**vvu, "MEM_STYLE": "lut"}, 512, 36)
    assert auto.bram18 >= 1, auto.as_dict()
    assert lut.bram18 == 0 and lut.lut > auto.lut + 200, (auto.as_dict(), lut.as_dict())
    mvu = {"MH": 8, "MW": 16, "PE": 2, "SIMD": 4, "WBITS": 2, "ABITS": 2, "ACC_BITS": 9}
    small = _synth("sat_mvu", mvu, 16, 16)
    bram = _synth("sat_mvu", {**mvu, "MEM_STYLE": "bram"}, 16, 16)
    assert small.bram18 == 0, small.as_dict()
    assert bram.bram18 == 1, bram.as_dict()


@pytest.mark.parametrize("style", ["lut", "bram"])
def test_styled_roms_simulate_as_auto(style):
    """A styled ROM is the same ROM: sat_mvu and sat_vvu under the standard scenarios (idle input,
    backpressure, reset) give golden, with the latency and rate of MEM_STYLE "auto"."""
    from tests.test_rtl_mvu import check_free_flow, make_node, run_mvu
    from tests.test_rtl_vvu import acc_beats, dw_node, images, latency, vvu_beats

    node = make_node(np.random.default_rng(7), "pw", 12, 24, 3, 4)
    r, params, n = run_mvu(node, 3, 4, extra={"MEM_STYLE": style})
    check_free_flow(r, params, n, "lut")

    ch, pe, simd, wbits, abits = 6, 2, 3, 4, 4
    node, rng = dw_node(11, ch, (5, 5), 3, 1, 1, wbits, abits)
    x = images(rng, node.in_shape, abits)
    expected = acc_beats(golden.layer_acc(node, x), pe, node.acc_bits)
    words, width = vvu_rom(layer_plan(node, Fold(pe, simd)), "k")
    params = {"CH": ch, "K2": 9, "PE": pe, "SIMD": simd, "WBITS": wbits, "ABITS": abits,
              "ACC_BITS": node.acc_bits, "WEIGHT_FILE": "w.hex", "MEM_STYLE": style}
    res, _ = run_scenarios("sat_vvu", params, simd * pe * abits, pe * node.acc_bits,
                           standard_scenarios(vvu_beats(x, 3, 1, 1, pe, simd, abits),
                                              len(expected), seed=3),
                           files={"w.hex": hex_lines(words, width)})
    for out in res:
        assert not out.timed_out and out.extra == 0 and out.outputs == expected
    assert res[0].first_out == 9 // simd - 1 + latency(simd, wbits, "k")


def _lint(module: str, params: dict) -> subprocess.CompletedProcess:
    cmd = [str(verilator_root() / "bin" / "verilator"), "--lint-only", "-Wall",
           "-Wno-DECLFILENAME", "-Wno-UNUSEDSIGNAL", "-Wno-UNUSEDPARAM", "--top-module", module,
           *[f"-G{k}={v}" for k, v in params.items()], *map(str, rtl_sources(module))]
    return subprocess.run(cmd, capture_output=True, text=True, env=tool_env(), check=False)


BAD = [  # (module, parameters, the message): a bad value of each kind of check
    ("sat_mvu", {"ACC_BITS": 4}, "sat_mvu: ACC_BITS below acc_bits_for"),
    ("sat_mvu", {"MEM_STYLE": '"ultra"'}, 'sat_mvu: MEM_STYLE must be "auto", "lut", "bram", '),
    ("sat_vvu", {"ACC_BITS": 4}, "sat_vvu: ACC_BITS must be acc_bits_for"),
    ("sat_vvu", {"MEM_STYLE": '"rom"'}, 'sat_vvu: MEM_STYLE must be "auto", "lut", "bram", '),
    ("sat_wmem", {"MEM_STYLE": '"ultra"'}, 'sat_wmem: MEM_STYLE must be "auto", "lut", "bram", '),
    ("sat_wload", {"N": 2, "DEPTHS": "64'h0", "BEATS": "32'h10001"},
     "sat_wload: every DEPTHS entry must be 1 .. 2^24-1"),
    ("sat_vvu", {"SIMD": 2}, "sat_vvu: SIMD must divide K2"),
    ("sat_avgpool", {"ACC_BITS": 4}, "sat_avgpool: ACC_BITS must be acc_bits_for"),
    ("sat_avgpool", {"PE": 3}, "sat_avgpool: PE must divide CH"),
    ("sat_maxpool", {"ABITS": 9}, "sat_maxpool: ABITS must be 1..8"),
    ("sat_thresholds", {"OUT_BITS": 9}, "sat_thresholds: OUT_BITS must be 1..8"),
    ("sat_fifo", {"DEPTH": 1}, "sat_fifo: DEPTH must be >= 2"),
    ("sat_dwc", {"IN_N": 3, "OUT_N": 2}, "sat_dwc: IN_N and OUT_N must divide one another"),
]


@pytest.mark.parametrize("module, params, message", BAD)
def test_bad_parameters_stop_verilator_with_their_message(module, params, message):
    r = _lint(module, params)
    assert r.returncode != 0 and message in r.stderr, first_error(r.stderr)
    ok = _lint(module, {})
    assert ok.returncode == 0, first_error(ok.stderr)


@pytest.mark.parametrize("params, message", [
    ({"ACC_BITS": 4}, "sat_mvu: ACC_BITS below acc_bits_for"),
    ({"MEM_STYLE": "ultra"}, 'sat_mvu: MEM_STYLE must be "auto", "lut", "bram", "uram" or')])
def test_bad_parameters_stop_yosys_with_their_message(params, message):
    with pytest.raises(SynthError) as e:
        synth(rtl_sources("sat_mvu"), "sat_mvu", params, family="xcup", files=DEFAULT_ROMS)
    assert message in str(e.value), str(e.value)


def test_build_refuses_uram_weights_on_a_part_without_uram(tmp_path, capsys):
    """`sat_hw build` for an ECP5 stops on a URAM fold in one line, before lowering (an
    UltraScale+ part takes it: the weights are loaded at run time)."""
    from sat_hw.flow.cli import main

    cfg = tmp_path / "uram.toml"
    cfg.write_text('[fold.pw13]\nmem = "uram"\n')
    argv = ["build", "--model", "mbv1", "--width", "0.25", "--resolution", "16", "--images", "3",
            "--wbits", "3", "--abits", "4", "--config", str(cfg), "--out", str(tmp_path / "b"),
            "--device", "ecp5-85k"]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].endswith(
        'fold.pw13.mem uram: lfe5u-85f (ecp5) has no UltraRAM; set [fold.pw13] mem = "external" '
        '(block RAM loaded at run time) or "bram"'), err
    assert not (tmp_path / "b").exists()
