"""Residual (DAG) graphs: edges, the Add node, golden == naive, serialization (issue 23)."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from sat_hw.graph import Add, graph_files, run_golden, run_naive, verify
from sat_hw.graph.serialize import graph_from_files
from sat_hw.graph.synthetic import residual_graph, small_graph


def _images(g, n=2, seed=0):
    c, h, w = g.input.shape
    return np.random.default_rng(seed).integers(0, 256, (n, c, h, w), dtype=np.uint8)


CASES = [(b, False) for b in range(1, 9)] + [(b, True) for b in (2, 3, 4, 8)]


@pytest.mark.parametrize(("bits", "signed"), CASES)
def test_golden_equals_naive_on_residual_graphs(bits, signed):
    g = residual_graph(seed=bits, wbits=bits, abits=bits, signed=signed)
    x = _images(g, seed=bits)
    a, n = run_golden(g, x, batch=1), run_naive(g, x)
    np.testing.assert_array_equal(a.outputs, n.outputs)
    assert list(a.codes) == list(n.codes)
    for k in a.codes:
        np.testing.assert_array_equal(a.codes[k], n.codes[k])
    # the add's second operand is the forked tensor itself: the same codes its first reader takes
    np.testing.assert_array_equal(a.codes["b1_add.b"], a.codes["b1_conv1"])
    np.testing.assert_array_equal(a.codes["b3_add.b"], a.codes["b3_expand"])


def test_edges_and_fork():
    g = residual_graph()
    assert not g.is_chain and small_graph().is_chain
    assert g.producers("b1_add") == ("b1_conv2", "conv0")
    assert g.producers("b1_conv1") == ("conv0",)
    assert [n.name for n in g.consumers("conv0")] == ["b1_conv1", "b1_add"]
    assert [n.name for n in g.consumers("b1_add")] == ["b2_conv1", "b2_short"]
    add = g.node("b2_add")
    assert isinstance(add, Add) and add.op == "add" and add.acc_bound == (
        int(add.mul_a.max()) * 15 + int(add.mul_b.max()) * 15)


def _with(g, name, **kw):
    return dataclasses.replace(g, nodes=tuple(
        dataclasses.replace(n, **kw) if n.name == name else n for n in g.nodes))


@pytest.mark.parametrize(("name", "kw", "fragment"), [
    ("b1_add", {"inputs": ("b1_conv2",)}, "Add takes 2 distinct input(s), got ['b1_conv2']"),
    ("b1_add", {"inputs": ("b1_conv2", "b1_conv2")}, "takes 2 distinct input(s)"),
    ("b1_add", {"inputs": ("b1_conv2", "b2_conv1")}, "input 'b2_conv1' must be a node before it"),
    ("b1_add", {"inputs": ("b1_conv2", "nope")}, "input 'nope' must be a node before it"),
    ("b2_short", {"inputs": ("b2_conv1",)}, "in_shape (8, 8, 8) != b2_conv1 out_shape"),
    ("b1_add", {"bbits": 3}, "bbits 3 != bits 4 that conv0 emits"),
    ("b1_add", {"mul_a": np.full(8, 1 << 17, np.int64)}, "mul_a must satisfy |m| <= 65536"),
    ("b1_add", {"out_zero": 3}, "out_zero must be 0 (unsigned codes) or 2^(out_bits-1)"),
    ("b1_add", {"acc_bits": 8}, "acc_bits 8 too narrow"),
])
def test_verify_names_the_broken_edge(name, kw, fragment):
    g = residual_graph()
    with pytest.raises(ValueError) as e:
        verify(_with(g, name, **kw))
    assert f"layer {name}:" in str(e.value) or fragment.split()[0] in str(e.value)
    assert fragment in str(e.value) and "\n" not in str(e.value)


def test_verify_refuses_dead_ends_and_padded_readers_of_signed_codes():
    g = residual_graph()
    # b1_add's skip moved to b1_conv1: conv0 is still read (by b1_conv1); nothing is dead.
    verify(_with(g, "b1_add", inputs=("b1_conv2", "b1_conv1")))
    # the projection reads b1_conv2 instead: nobody reads... b1_add is still read by b2_conv1
    dead = _with(g, "b2_conv1", inputs=("b1_conv2",))
    dead = _with(dead, "b2_short", inputs=("b1_conv2",))
    with pytest.raises(ValueError, match="layer b1_add: its output is read by no node"):
        verify(dead)
    s = residual_graph(signed=True)
    with pytest.raises(ValueError, match="layer b3_dw: pads with code 0, but b3_expand emits "
                                         "signed codes"):
        verify(_with(s, "b3_expand", out_zero=8))


def test_serialize_round_trip_version_3_and_version_2_still_read():
    g = residual_graph(signed=True)
    files = graph_files(g)
    doc = json.loads(files["graph.json"])
    assert doc["version"] == 3
    add = next(d for d in doc["nodes"] if d["name"] == "b1_add")
    assert add["type"] == "Add" and add["inputs"] == ["b1_conv2", "conv0"]
    assert "inputs" not in next(d for d in doc["nodes"] if d["name"] == "b1_conv1")
    h = graph_from_files(files)
    assert graph_files(h) == files
    x = _images(g)
    np.testing.assert_array_equal(run_golden(g, x).outputs, run_golden(h, x).outputs)
    # a chain is written as version 2, and a version-2 file holding v3 fields is refused
    chain = graph_files(small_graph())
    assert json.loads(chain["graph.json"])["version"] == 2
    graph_from_files(chain)
    doc["version"] = 2
    bad = {**files, "graph.json": json.dumps(doc).encode()}
    with pytest.raises(ValueError, match="version 2 graph holds"):
        graph_from_files(bad)
