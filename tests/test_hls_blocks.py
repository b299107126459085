"""HLS header library, block by block, at every bit width 1..8, against the golden executor.

Each case is one layer's block chain as the renderer emits it (``sat_hw.codegen.hls``), cut
between two of its streams: e.g. the sliding-window generator, width converter and matrix-vector
unit of a kxk conv up to the accumulators (compared with ``golden.layer_acc``), or the threshold
block alone on random accumulators (compared with ``golden.threshold_codes``). All cases compile
into one C-simulation harness (a few translation units, g++ against hls4ml's ap_types) that feeds
the input stream, runs the blocks once per image and drains the tapped stream. Exact: ``==``.
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass

import numpy as np
import pytest

from sat_hw.codegen.hls import Chain, Layer, layer_blocks, library_files
from sat_hw.graph import synthetic as syn
from sat_hw.graph.golden import layer_acc, run_node, threshold_codes
from sat_hw.graph.ir import levels
from sat_hw.hw.fold import Fold, dwc_chain
from sat_hw.hw.plan import layer_plan
from sat_hw.tools.hlssim import STREAM_WARNING, compile_csim

BITS = range(1, 9)
IMAGES = 2
_CALL = re.compile(r"\((\w+), (\w+)")


@dataclass
class Case:
    name: str
    kind: str
    inputs: np.ndarray     # int64, stream order (images, elements)
    expected: np.ndarray   # int64, stream order (images, elements)
    code: str = ""         # C++: structs, tables, run function
    body: str = ""


def _elem(t: str) -> tuple[str, int]:
    """``sat::vec<ap_uint<4>, 8 >`` -> ("ap_uint<4>", 8)."""
    m = re.fullmatch(r"sat::vec<(.+), (\d+) ?>", t)
    return m.group(1), int(m.group(2))


def _cpp(name: str, layer, chain: Chain, head: tuple[str, str], start: str, tap: str) -> str:
    """Structs, tables and ``run_<name>`` for the calls of ``layer`` from ``start`` to ``tap``."""
    types = {head[0]: head[1], **{s["name"]: s["type"] for s in chain.streams}}
    calls, on = [], False
    for c in layer.calls:
        src, dst = _CALL.search(c).groups()
        on = on or src == start
        if on:
            calls.append(c)
        if dst == tap:
            break
    assert calls and _CALL.search(calls[-1]).group(2) == tap, (start, tap, layer.calls)
    used = {s for c in calls for s in _CALL.search(c).groups()}
    structs = "".join(
        f"    struct {n} {{\n" + "".join(
            f"        static const {'bool' if v in ('true', 'false') else 'int'} {k} = {v};\n"
            for k, v in params) + "    };\n" for n, params in layer.structs)
    tables = ""
    for t in layer.tables:
        c = t.context()
        tables += (f"static const {c['ctype']} {c['name']}{c['dims']} = {{\n"
                   + "".join(f"    {ln},\n" for ln in c["lines"]) + "};\n")
    decls = "".join(f"    hls::stream<{types[s]}> {s}(\"{s}\");\n" for s in sorted(used))
    ein, nin = _elem(types[start])
    eout, nout = _elem(types[tap])
    return (f"struct {layer.name}_cfg {{\n{structs}}};\n{tables}"
            f"void run_{name}(const std::vector<long long> &in, std::vector<long long> &out, "
            f"int images) {{\n{decls}"
            f"    feed<{ein}, {nin}>({start}, in);\n"
            f"    for (int i = 0; i < images; i++) {{\n"
            + "".join(f"        {c}\n" for c in calls) +
            f"    }}\n    drain<{eout}, {nout}>({tap}, out);\n}}\n")


def _layer_case(name: str, kind: str, node, fold: Fold, codes: np.ndarray, start: str | None,
                tap: str, expected: np.ndarray) -> Case:
    """A case over ``node``'s chain from its input (or ``start``) to ``tap``."""
    elem = f"ap_uint<{node.abits}>"
    lp = layer_plan(node, fold)
    n0 = lp.in_beat
    chain = Chain(f"{node.name}_src", elem, n0)
    layer = layer_blocks(lp, chain)
    code = _cpp(name, layer, chain, (f"{node.name}_src", f"sat::vec<{elem}, {n0}>"),
                start or f"{node.name}_src", tap)
    return Case(name, kind, codes, expected, code)


def _nhwc(a: np.ndarray) -> np.ndarray:
    """(N, C, H, W) -> stream order (N, H*W*C) int64."""
    return np.ascontiguousarray(a.transpose(0, 2, 3, 1)).reshape(len(a), -1).astype(np.int64)


def _codes(rng, shape, bits) -> np.ndarray:
    return rng.integers(0, levels(bits) + 1, (IMAGES, *shape), dtype=np.uint8)


def _pick(rng, n: int, allowed=None) -> int:
    ds = [d for d in range(1, n + 1) if n % d == 0 and (allowed is None or d in allowed)]
    return int(rng.choice(ds))


def _cases() -> list[Case]:
    rng = np.random.default_rng(8)
    cases = []
    for b in BITS:
        ab = 9 - b  # every pair of weight and activation bits crosses 1..8 once
        # pointwise conv: matrix-vector unit alone
        node = syn.conv(rng, f"pw{b}", (8, 3, 2), 6, kernel=1, pad=0, wbits=b, abits=ab)
        fold = Fold(_pick(rng, 6), _pick(rng, 8))
        x = _codes(rng, node.in_shape, ab)
        cases.append(_layer_case(f"mvu_pw_w{b}", "mvu", node, fold, _nhwc(x), None,
                                 f"pw{b}_acc", _nhwc(layer_acc(node, x))))
        # kxk conv: window generator -> width converter -> matrix-vector unit
        stride, pad = (1, 1) if b % 2 else (2, b % 3 % 2)
        node = syn.conv(rng, f"cv{b}", (4, 5, 5), 4, kernel=3, stride=stride, pad=pad, wbits=b,
                        abits=ab)
        fold = Fold(_pick(rng, 4), _pick(rng, 36))
        x = _codes(rng, node.in_shape, ab)
        cases.append(_layer_case(f"mvu_conv_w{b}", "conv", node, fold, _nhwc(x), None,
                                 f"cv{b}_acc", _nhwc(layer_acc(node, x))))
        # depthwise: window generator -> width converter -> vector unit
        node = syn.conv(rng, f"dw{b}", (6, 5, 5), 6, kernel=3, stride=1 + b % 2, groups=6,
                        wbits=b, abits=ab)
        fold = Fold(_pick(rng, 6), _pick(rng, 9))
        x = _codes(rng, node.in_shape, ab)
        cases.append(_layer_case(f"vvu_w{b}", "dw", node, fold, _nhwc(x), None, f"dw{b}_acc",
                                 _nhwc(layer_acc(node, x))))
        # thresholds alone, on random accumulators over the whole range, both directions
        node = syn.conv(rng, f"th{b}", (2, 3, 3), 6, kernel=1, pad=0, wbits=3, abits=3,
                        out_bits=b)
        assert {-1, 1} <= set(node.direction.tolist())
        bound = node.acc_bound
        acc = rng.integers(-bound - 1, bound + 2, (IMAGES, *node.out_shape))
        acc[:, :, 0, 0] = node.thresholds[:, 0]  # exactly on a threshold
        codes = threshold_codes(acc.transpose(0, 2, 3, 1), node.thresholds, node.direction)
        cases.append(_layer_case(f"thr_o{b}", "thr", node, Fold(_pick(rng, 6), 1),
                                 _nhwc(acc), f"th{b}_acc", f"th{b}_out",
                                 _nhwc(codes.transpose(0, 3, 1, 2))))
        # max pool: window generator -> max
        k, s, p = ((2, 2, 0), (3, 2, 1), (3, 1, 1))[b % 3]
        node = syn.maxpool(f"mp{b}", (4, 5, 5), kernel=k, stride=s, pad=p, abits=b)
        x = _codes(rng, node.in_shape, b)
        cases.append(_layer_case(f"maxpool_a{b}", "pool", node, Fold(_pick(rng, 4), 1),
                                 _nhwc(x), None, f"mp{b}_out", _nhwc(run_node(node, x))))
        # global average pool: sum -> thresholds
        node = syn.avgpool(rng, f"ap{b}", (6, 3, 3), abits=b, out_bits=9 - b)
        x = _codes(rng, node.in_shape, b)
        cases.append(_layer_case(f"avgpool_a{b}", "pool", node, Fold(_pick(rng, 6), 1),
                                 _nhwc(x), None, f"ap{b}_out", _nhwc(run_node(node, x))))
        # fully connected: matrix-vector unit -> fixed-point bias
        node = syn.linear(rng, f"fc{b}", 12, 4, wbits=b, abits=ab, bias_frac_bits=(0, 3, 8)[b % 3])
        fold = Fold(_pick(rng, 4), _pick(rng, 12))
        x = _codes(rng, node.in_shape, ab)
        cases.append(_layer_case(f"fc_w{b}", "fc", node, fold, _nhwc(x), None, f"fc{b}_out",
                                 run_node(node, x).astype(np.int64)))
    cases.append(_dwc_case())
    return cases


def _dwc_case() -> Case:
    """Width converters: split, pack, and both ways through the least common multiple."""
    chain = Chain("dwc_src", "ap_uint<5>", 6)
    layer = Layer("dwc", "dwc")
    total = 6 * 4 * 5
    for i, n in enumerate((4, 6, 2, 6, 3, 12, 5)):
        for j, (a, b) in enumerate(dwc_chain(chain.n, n)):
            chain.dwc(layer, f"s{i}_{j}", a, b, total)
    code = _cpp("dwc", layer, chain, ("dwc_src", "sat::vec<ap_uint<5>, 6>"), "dwc_src",
                chain.cur)
    x = np.random.default_rng(3).integers(0, 32, (IMAGES, total)).astype(np.int64)
    return Case("dwc", "dwc", x, x, code)


HARNESS = """\
#include <cstdio>
#include <cstring>
#include <vector>
#include "sat.h"

template <typename T, unsigned N>
void feed(hls::stream<sat::vec<T, N> > &s, const std::vector<long long> &v) {
    for (size_t b = 0; b + N <= v.size(); b += N) {
        sat::vec<T, N> x;
        for (unsigned i = 0; i < N; i++) x[i] = v[b + i];
        s.write(x);
    }
}

template <typename T, unsigned N>
void drain(hls::stream<sat::vec<T, N> > &s, std::vector<long long> &v) {
    while (!s.empty()) {
        const sat::vec<T, N> x = s.read();
        for (unsigned i = 0; i < N; i++) v.push_back(x[i].to_int64());
    }
}
"""

MAIN = """\
#include <cstdio>
#include <cstring>
#include <vector>
{decls}
int main(int argc, char **argv) {{
    // unit CASE IN.bin OUT.bin IMAGES: int64 little-endian in and out
    if (argc != 5) return 2;
    std::FILE *f = std::fopen(argv[2], "rb");
    std::vector<long long> in;
    long long v;
    while (std::fread(&v, sizeof v, 1, f) == 1) in.push_back(v);
    std::fclose(f);
    std::vector<long long> out;
    const int images = std::atoi(argv[4]);
{dispatch}
    else return 3;
    f = std::fopen(argv[3], "wb");
    std::fwrite(out.data(), sizeof(long long), out.size(), f);
    std::fclose(f);
    return 0;
}}
"""


@pytest.fixture(scope="module")
def harness(tmp_path_factory):
    cases = _cases()
    files = dict(library_files())
    for kind in sorted({c.kind for c in cases}):
        files[f"firmware/unit_{kind}.cpp"] = HARNESS + "".join(c.code for c in cases
                                                              if c.kind == kind)
    decls = "".join(f"void run_{c.name}(const std::vector<long long> &, std::vector<long long> &,"
                    f" int);\n" for c in cases)
    dispatch = "".join(f"    {'else ' if i else ''}if (!std::strcmp(argv[1], \"{c.name}\")) "
                       f"run_{c.name}(in, out, images);\n" for i, c in enumerate(cases))
    files["tb/sat_tb.cpp"] = "#include <cstdlib>\n" + MAIN.format(decls=decls, dispatch=dispatch)
    exe, _, _ = compile_csim(files)
    return exe, {c.name: c for c in cases}, tmp_path_factory.mktemp("hls_unit")


def _names() -> list[str]:
    return [c.name for c in _cases()]


@pytest.mark.parametrize("name", _names())
def test_block_matches_golden(harness, name):
    exe, cases, tmp = harness
    case = cases[name]
    inp, out = tmp / f"{name}.in", tmp / f"{name}.out"
    case.inputs.astype("<i8").tofile(inp)
    res = subprocess.run([str(exe), name, str(inp), str(out), str(IMAGES)], capture_output=True,
                         text=True, timeout=60, check=False)
    assert res.returncode == 0, res.stdout + res.stderr
    assert STREAM_WARNING not in res.stdout, res.stdout  # no stream read empty or left over
    got = np.fromfile(out, "<i8").reshape(case.expected.shape)
    np.testing.assert_array_equal(got, case.expected)


def test_cases_cover_every_bit_width():
    names = _names()
    for prefix in ("mvu_pw_w", "mvu_conv_w", "vvu_w", "thr_o", "maxpool_a", "avgpool_a", "fc_w"):
        assert sorted(int(n[len(prefix):]) for n in names if n.startswith(prefix)) == list(BITS)


def test_library_is_shipped_with_every_header_it_includes():
    """Quoted includes are ours or hls4ml's ap_types; a vendor header in angle brackets
    (``ap_axi_sdata.h``) only behind ``__has_include``, so the library builds without it."""
    files = library_files()
    for path, text in files.items():
        for inc in re.findall(r'#include "([^"]+)"', text):
            assert inc in ("ap_int.h", "hls_stream.h") or f"lib/{inc}" in files, (path, inc)
        for inc in re.findall(r"#include <((?:ap|hls)_\w+\.h)>", text):  # vendor's names
            assert f"__has_include(<{inc}>)" in text, (path, inc)


SHIM_PROBE = """\
#include "sat_axis.h"
static_assert(SAT_AXIS_VENDOR == {vendor}, "the wrong ap_axiu");
int probe() {{
    ap_axiu<24, 0, 0, 0> t;
    t.data = 1; t.keep = -1; t.strb = -1; t.last = 1;
    return {use};
}}
"""
FAKE_VENDOR = """\
#pragma once
#include "ap_int.h"
template <int D, int U, int TI, int TD>
struct ap_axiu { ap_uint<D> data; ap_uint<(D + 7) / 8> keep, strb; ap_uint<1> last; int vendor; };
"""


@pytest.mark.parametrize("vendor", [0, 1])
def test_axis_stand_in_only_without_the_vendor_header(tmp_path, vendor):
    """sat_axis.h takes ap_axi_sdata.h where the include path has one (as under Vitis), else
    its own stand-in with the members the adapters use."""
    from sat_hw.tools.hlssim import CXX, ap_types_dir

    for rel, text in library_files().items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text)
    inc = [f"-I{tmp_path / 'lib'}", f"-I{ap_types_dir()}"]
    if vendor:
        (tmp_path / "vendor").mkdir()
        (tmp_path / "vendor" / "ap_axi_sdata.h").write_text(FAKE_VENDOR)
        inc.append(f"-I{tmp_path / 'vendor'}")
    use = "t.vendor" if vendor else "(int)t.user + (int)t.id + (int)t.dest"
    (tmp_path / "probe.cpp").write_text(SHIM_PROBE.format(vendor=vendor, use=use))
    res = subprocess.run([CXX, "-std=c++14", "-fsyntax-only", *inc, str(tmp_path / "probe.cpp")],
                         capture_output=True, text=True, timeout=120, check=False)
    assert res.returncode == 0, res.stderr
