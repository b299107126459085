"""graph.json + tensors.npz: round trip, determinism, and one-line errors for broken files."""

from __future__ import annotations

import io
import json
import zipfile

import numpy as np
import pytest

from sat_hw.graph import (
    graph_files,
    graph_from_files,
    graph_hash,
    load_graph,
    run_golden,
    save_graph,
)
from sat_hw.graph.serialize import FORMAT, VERSION
from sat_hw.graph.synthetic import small_graph


def test_round_trip_is_identical(tmp_path):
    g = small_graph(seed=4, wbits=3, abits=5)
    g = type(g)(g.name, g.width, g.resolution, g.in_channels, g.classes, g.nodes,
                {"method": "sat", "note": "x"})
    save_graph(g, tmp_path / "graph")
    assert sorted(p.name for p in (tmp_path / "graph").iterdir()) == ["graph.json", "tensors.npz"]
    h = load_graph(tmp_path / "graph")
    assert graph_files(h) == graph_files(g)
    assert graph_hash(h) == graph_hash(g)
    assert h.meta == {"method": "sat", "note": "x"} and h.width == g.width
    assert h.nodes[-1].bias_frac_bits == g.nodes[-1].bias_frac_bits == 8
    for a, b in zip(g.nodes, h.nodes, strict=True):
        assert type(a) is type(b) and a.name == b.name
        for f in ("weights", "thresholds", "direction", "bias"):
            if hasattr(a, f):
                np.testing.assert_array_equal(getattr(a, f), getattr(b, f))
                assert getattr(a, f).dtype == getattr(b, f).dtype
    x = np.random.default_rng(0).integers(0, 256, (2, 3, 8, 8), dtype=np.uint8)
    np.testing.assert_array_equal(run_golden(g, x).outputs, run_golden(h, x).outputs)


def test_files_are_deterministic_and_hash_tracks_content():
    a, b = small_graph(seed=1), small_graph(seed=1)
    assert graph_files(a) == graph_files(b)
    assert graph_hash(a) == graph_hash(b)
    assert graph_hash(small_graph(seed=2)) != graph_hash(a)
    doc = json.loads(graph_files(a)["graph.json"])
    assert doc["format"] == FORMAT and doc["version"] == 2 and VERSION == 3  # a chain: v2 bytes
    assert doc["nodes"][-1]["bias_frac_bits"] == 8
    assert [n["type"] for n in doc["nodes"]] == [
        "Input", "Conv", "Conv", "MaxPool", "Conv", "Conv", "AvgPool", "Linear"]
    assert doc["nodes"][1]["weights"]["tensor"] == "conv0.weights"


def _edit_json(files, fn):
    doc = json.loads(files["graph.json"])
    fn(doc)
    return {**files, "graph.json": json.dumps(doc).encode()}


def _npz(tensors):
    buf = io.BytesIO()
    np.savez(buf, **tensors)
    return buf.getvalue()


def _tensors(files):
    with np.load(io.BytesIO(files["tensors.npz"])) as z:
        return {k: z[k] for k in z.files}


def _swap_tensor(files, key, value):
    t = _tensors(files)
    t[key] = value
    return {**files, "tensors.npz": _npz(t)}


BROKEN = {
    "not json": (lambda f: {**f, "graph.json": b"{nope"}, "graph.json is not valid JSON"),
    "format": (lambda f: _edit_json(f, lambda d: d.update(format="onnx")), "format must be"),
    "version": (lambda f: _edit_json(f, lambda d: d.update(version=99)),
                "unsupported version 99 (this sat_hw reads 2, 3)"),
    "version 1": (lambda f: _edit_json(f, lambda d: d.update(version=1)),
                  ("graph.json: version 1 graph (fc bias on the integer scale, no "
                   "bias_frac_bits); this sat_hw reads versions 2 and 3: lower the model again (rebuild)")),
    "no bias_frac_bits": (lambda f: _edit_json(f, lambda d: d["nodes"][7].pop("bias_frac_bits")),
                          "node 7 (fc): missing field 'bias_frac_bits'"),
    "bias_frac_bits": (lambda f: _edit_json(f, lambda d: d["nodes"][7].update(bias_frac_bits=20)),
                       "layer fc: bias_frac_bits must be an integer 0..16, got 20"),
    "model": (lambda f: _edit_json(f, lambda d: d["model"].pop("classes")), "'model' must hold"),
    "type": (lambda f: _edit_json(f, lambda d: d["nodes"][2].update(type="Attention")),
             "node 2: unknown type 'Attention'"),
    "missing field": (lambda f: _edit_json(f, lambda d: d["nodes"][2].pop("stride")),
                      "node 2 (gconv1): missing field 'stride'"),
    "unknown field": (lambda f: _edit_json(f, lambda d: d["nodes"][2].update(dilation=2)),
                      "node 2 (gconv1): unknown field 'dilation'"),
    "invariant": (lambda f: _edit_json(f, lambda d: d["nodes"][5].update(acc_bits=3)),
                  "layer pw3: acc_bits 3 too narrow"),
    "string pad": (lambda f: _edit_json(f, lambda d: d["nodes"][3].update(pad="1")),
                   "layer max2: pad must be a non-negative integer, got '1'"),
    "bad shape": (lambda f: _edit_json(f, lambda d: d["nodes"][1].update(in_shape=5)),
                  "node 1 (conv0): "),
    "alpha type": (lambda f: _edit_json(f, lambda d: d["nodes"][1].update(out_alpha="2")),
                   "layer conv0: out_alpha must be finite and > 0, got '2'"),
    "garbage npz": (lambda f: {**f, "tensors.npz": b"PK\x03\x04garbage"},
                    "tensors.npz is not a readable npz"),
    "missing tensor": (lambda f: {**f, "tensors.npz": _npz({})},
                       "refers to tensor 'conv0.weights', not in tensors.npz"),
    "other graph": (lambda f: {**f, "tensors.npz": graph_files(small_graph(seed=9))["tensors.npz"]},
                    "does not match its sha256"),
    "shape": (lambda f: _swap_tensor(f, "dw3.direction", np.ones(7, np.int8)),
              "tensor 'dw3.direction' is |i1 [7], graph.json says |i1 [8]"),
    "extra tensor": (lambda f: _swap_tensor(f, "evil.payload", np.zeros(3)),
                     "holds tensor 'evil.payload' that graph.json does not reference"),
    "pickled": (lambda f: _swap_tensor(f, "conv0.weights", np.array([{"a": 1}], dtype=object)),
                "tensors.npz is not a readable npz"),
}


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_malformed_files_give_one_line_errors(case, tmp_path):
    make, fragment = BROKEN[case]
    files = make(graph_files(small_graph()))
    with pytest.raises(ValueError) as e:
        graph_from_files(files)
    assert fragment in str(e.value) and "\n" not in str(e.value)
    folder = tmp_path / "g"
    folder.mkdir()
    for rel, data in files.items():
        (folder / rel).write_bytes(data)
    with pytest.raises(ValueError) as e:
        load_graph(folder)
    msg = str(e.value)
    assert msg.startswith(f"graph {str(folder)!r}: ") and fragment in msg and "\n" not in msg


def test_missing_files(tmp_path):
    with pytest.raises(ValueError, match="graph.json is missing"):
        load_graph(tmp_path)
    save_graph(small_graph(), tmp_path)
    (tmp_path / "tensors.npz").unlink()
    with pytest.raises(ValueError, match="tensors.npz is missing"):
        load_graph(tmp_path)
    with pytest.raises(ValueError, match="tensors.npz is missing"):
        graph_from_files({"graph.json": b"{}"})


def test_npz_members_are_plain_npy():
    files = graph_files(small_graph())
    with zipfile.ZipFile(io.BytesIO(files["tensors.npz"])) as z:
        names = z.namelist()
        assert names == sorted(names) and all(n.endswith(".npy") for n in names)
        assert {i.date_time for i in z.infolist()} == {(1980, 1, 1, 0, 0, 0)}
