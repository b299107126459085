"""Graph <-> ``graph.json`` + ``tensors.npz`` (format ``sat_hw-graph``, version 3).

``graph.json`` holds the model info, ``meta``, and one object per node: ``type`` (Input, Conv,
MaxPool, AvgPool, Linear, Add) and every field of that node's dataclass (the version-3 fields
``inputs`` and ``out_zero`` only where they differ from their defaults). An array field is a reference
``{"tensor": "<node>.<field>", "dtype", "shape", "sha256"}`` into ``tensors.npz`` (one ``.npy``
per tensor, uncompressed-equivalent content, C order; the hash is over the array's bytes). Both
files are deterministic (sorted keys, fixed zip timestamps), so equal graphs give equal bytes and
:func:`graph_hash` names a graph. Loading checks the format, the version, every field and tensor
reference, then runs ``verify``; any problem is one ``ValueError`` line naming it.

Versions: 2 adds ``Linear.bias_frac_bits`` (the fc bias in fixed point, ``out = acc * 2^F +
bias``). Version 1 held the bias rounded to the accumulator's integer scale (the ties that the
fixed-point bias removes); it is refused with one line that says to lower the model again, not
silently read as ``F = 0``. 3 adds residual graphs: the ``Add`` node, a node's ``inputs`` (its
producers, when not the node before it) and ``out_zero`` (signed codes' provenance). A graph that
uses none of them is written as version 2, byte for byte as before (its hash, and every cache keyed
by it, unchanged; older sat_hw reads it); version 2 files are read as they always were.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import zipfile
from pathlib import Path

import numpy as np

from sat_hw.graph.checks import verify
from sat_hw.graph.ir import Add, AvgPool, Conv, Graph, Input, Linear, MaxPool

FORMAT = "sat_hw-graph"
VERSION = 3
VERSIONS = (2, 3)
V3_FIELDS = {"inputs": (), "out_zero": 0}
"""Fields version 3 added, with the defaults a version-2 file means by leaving them out."""
GRAPH_JSON = "graph.json"
TENSORS_NPZ = "tensors.npz"
NODE_TYPES = {"Input": Input, "Conv": Conv, "MaxPool": MaxPool, "AvgPool": AvgPool,
              "Linear": Linear, "Add": Add}
_MODEL_KEYS = ("name", "width", "resolution", "in_channels", "classes")


def _sha(a: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(a).tobytes()).hexdigest()


def _one_line(e: Exception) -> str:
    return " ".join(str(e).split())


def _scalar(v):
    if isinstance(v, np.integer):
        return int(v)
    if isinstance(v, np.floating):
        return float(v)
    if isinstance(v, tuple):
        return [_scalar(x) for x in v]
    return v


def _npz_bytes(tensors: dict[str, np.ndarray]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for key in sorted(tensors):
            info = zipfile.ZipInfo(key + ".npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            arr = io.BytesIO()
            np.lib.format.write_array(arr, np.ascontiguousarray(tensors[key]), allow_pickle=False)
            z.writestr(info, arr.getvalue())
    return buf.getvalue()


def graph_files(graph: Graph) -> dict[str, bytes]:
    """``{"graph.json": bytes, "tensors.npz": bytes}`` for ``graph`` (pure; verifies first)."""
    verify(graph)
    tensors: dict[str, np.ndarray] = {}
    nodes = []
    version = 2
    for node in graph.nodes:
        d = {"type": type(node).__name__}
        if isinstance(node, Add):
            version = VERSION
        for f in dataclasses.fields(node):
            v = getattr(node, f.name)
            if f.name in V3_FIELDS:
                if v == V3_FIELDS[f.name]:
                    continue
                version = VERSION
            if isinstance(v, np.ndarray):
                key = f"{node.name}.{f.name}"
                tensors[key] = v
                d[f.name] = {"tensor": key, "dtype": v.dtype.str, "shape": list(v.shape),
                             "sha256": _sha(v)}
            else:
                d[f.name] = _scalar(v)
        nodes.append(d)
    doc = {"format": FORMAT, "version": version,
           "model": {k: getattr(graph, k) for k in _MODEL_KEYS}, "meta": graph.meta,
           "nodes": nodes}
    text = json.dumps(doc, indent=1, sort_keys=True, allow_nan=False) + "\n"
    return {GRAPH_JSON: text.encode(), TENSORS_NPZ: _npz_bytes(tensors)}


def files_hash(files: dict[str, bytes]) -> str:
    """sha256 (hex) of the ``graph.json`` in :func:`graph_files`' output (it pins every tensor)."""
    return hashlib.sha256(files[GRAPH_JSON]).hexdigest()


def graph_hash(graph: Graph) -> str:
    """sha256 (hex) of the graph's ``graph.json``, which pins every tensor by its own hash."""
    return files_hash(graph_files(graph))


def save_graph(graph: Graph, folder: str | Path) -> Path:
    """Write ``graph.json`` and ``tensors.npz`` into ``folder`` (created if needed).

    Not atomic by itself: a build puts :func:`graph_files` through its atomic writer instead.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for rel, data in graph_files(graph).items():
        (folder / rel).write_bytes(data)
    return folder


def _node_from_json(i: int, d, tensors: dict[str, np.ndarray], used: set[str]):
    if not isinstance(d, dict):
        raise ValueError(f"node {i} must be an object, got {type(d).__name__}")  # noqa: TRY004
    cls = NODE_TYPES.get(d.get("type"))
    if cls is None:
        raise ValueError(f"node {i}: unknown type {d.get('type')!r}")
    label = f"node {i} ({d.get('name', '?')})"
    names = {f.name: f for f in dataclasses.fields(cls)}
    extra = sorted(set(d) - set(names) - {"type"})
    if extra:
        raise ValueError(f"{label}: unknown field {extra[0]!r}")
    kw = {}
    for name, f in names.items():
        if name not in d:
            if f.default is dataclasses.MISSING:
                raise ValueError(f"{label}: missing field {name!r}")
            continue
        v = d[name]
        if isinstance(v, dict):
            key = v.get("tensor")
            if key not in tensors:
                raise ValueError(f"{label}: field {name!r} refers to tensor {key!r}, "
                                 f"not in {TENSORS_NPZ}")
            a = tensors[key]
            if a.dtype.str != v.get("dtype") or list(a.shape) != v.get("shape"):
                raise ValueError(f"{label}: tensor {key!r} is {a.dtype.str} {list(a.shape)}, "
                                 f"graph.json says {v.get('dtype')} {v.get('shape')}")
            if _sha(a) != v.get("sha256"):
                raise ValueError(f"{label}: tensor {key!r} does not match its sha256 in "
                                 f"{GRAPH_JSON} (files from different graphs?)")
            used.add(key)
            v = a
        kw[name] = v
    try:
        return cls(**kw)
    except (TypeError, ValueError) as e:
        raise ValueError(f"{label}: {_one_line(e)}") from None


def graph_from_files(files: dict[str, bytes]) -> Graph:
    """Inverse of :func:`graph_files`; raises a one-line ``ValueError`` on any problem."""
    for rel in (GRAPH_JSON, TENSORS_NPZ):
        if rel not in files:
            raise ValueError(f"graph: {rel} is missing")
    try:
        doc = json.loads(files[GRAPH_JSON].decode())
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ValueError(f"{GRAPH_JSON} is not valid JSON: {e}") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise ValueError(f"{GRAPH_JSON}: format must be {FORMAT!r}, got "
                         f"{doc.get('format') if isinstance(doc, dict) else type(doc).__name__!r}")
    if doc.get("version") == 1:
        raise ValueError(f"{GRAPH_JSON}: version 1 graph (fc bias on the integer scale, no "
                         f"bias_frac_bits); this sat_hw reads versions 2 and 3: lower the model "
                         "again (rebuild)")
    if doc.get("version") not in VERSIONS:
        raise ValueError(f"{GRAPH_JSON}: unsupported version {doc.get('version')!r} "
                         f"(this sat_hw reads {', '.join(map(str, VERSIONS))})")
    model = doc.get("model")
    if not isinstance(model, dict) or any(k not in model for k in _MODEL_KEYS):
        raise ValueError(f"{GRAPH_JSON}: 'model' must hold {', '.join(_MODEL_KEYS)}")
    if not isinstance(doc.get("nodes"), list) or not isinstance(doc.get("meta", {}), dict):
        msg = f"{GRAPH_JSON}: 'nodes' must be a list and 'meta' an object"
        raise ValueError(msg)  # noqa: TRY004
    if not files[TENSORS_NPZ].startswith(b"PK"):  # else numpy reads it as a pickle, and says so
        raise ValueError(f"{TENSORS_NPZ} is not an npz (zip) file: it begins "
                         f"{files[TENSORS_NPZ][:8]!r}")
    try:
        with np.load(io.BytesIO(files[TENSORS_NPZ]), allow_pickle=False) as z:
            tensors = {k: z[k] for k in z.files}
    except Exception as e:  # noqa: BLE001 - zip, npy header or pickle refusal: all one problem
        raise ValueError(f"{TENSORS_NPZ} is not a readable npz: {type(e).__name__}: "
                         f"{_one_line(e)}") from None
    used: set[str] = set()
    if doc["version"] == 2:
        for i, d in enumerate(doc["nodes"]):
            new = [k for k in (*V3_FIELDS, "type") if isinstance(d, dict) and k in d
                   and (k != "type" or d[k] == "Add")]
            if new:
                raise ValueError(f"node {i}: version 2 graph holds {new[0]!r}"
                                 f"{' Add' if new[0] == 'type' else ''} (version 3); fix the "
                                 "version")
    nodes = tuple(_node_from_json(i, d, tensors, used) for i, d in enumerate(doc["nodes"]))
    unused = sorted(set(tensors) - used)
    if unused:
        raise ValueError(f"{TENSORS_NPZ} holds tensor {unused[0]!r} that {GRAPH_JSON} does not "
                         "reference (files from different graphs?)")
    m = model
    try:
        graph = Graph(m["name"], m["width"], m["resolution"], m["in_channels"], m["classes"],
                      nodes, doc.get("meta", {}))
        return verify(graph)
    except (TypeError, ValueError) as e:
        raise ValueError(f"graph: {_one_line(e)}") from None


def load_graph(folder: str | Path) -> Graph:
    """Read and verify ``folder/graph.json`` + ``folder/tensors.npz``."""
    folder = Path(folder)
    files = {}
    for rel in (GRAPH_JSON, TENSORS_NPZ):
        p = folder / rel
        if not p.is_file():
            raise ValueError(f"graph {str(folder)!r}: {rel} is missing")
        files[rel] = p.read_bytes()
    try:
        return graph_from_files(files)
    except ValueError as e:
        raise ValueError(f"graph {str(folder)!r}: {_one_line(e)}") from None


__all__ = [
    "FORMAT",
    "VERSION",
    "files_hash",
    "graph_files",
    "graph_from_files",
    "graph_hash",
    "load_graph",
    "save_graph",
]
