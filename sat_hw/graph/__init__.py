"""The integer layer graph (IR), its golden executor, serialization and agreement checks.

numpy only: importing this package never imports torch. Lowering a torch model lives in
``sat_hw.nn.lower`` (``from sat_hw.nn.lower import lower, torch_codes``), imported on
purpose by whoever has a model. Imports nothing of sat_hw outside ``graph``.
"""

from sat_hw.graph.agreement import agreement, tie_analysis
from sat_hw.graph.checks import verify
from sat_hw.graph.golden import (
    GoldenResult,
    layer_acc,
    requantize,
    run_golden,
    run_node,
    threshold_codes,
)
from sat_hw.graph.ir import (
    FLOAT_EXACT_BOUND,
    Add,
    AvgPool,
    Conv,
    Graph,
    Input,
    Layer,
    Linear,
    MaxPool,
    Node,
    acc_bits_for,
    acc_bound,
    levels,
)
from sat_hw.graph.naive import run_naive
from sat_hw.graph.serialize import graph_files, graph_from_files, graph_hash, load_graph, save_graph

__all__ = [
    "FLOAT_EXACT_BOUND",
    "Add",
    "AvgPool",
    "Conv",
    "GoldenResult",
    "Graph",
    "Input",
    "Layer",
    "Linear",
    "MaxPool",
    "Node",
    "acc_bits_for",
    "acc_bound",
    "agreement",
    "graph_files",
    "graph_from_files",
    "graph_hash",
    "layer_acc",
    "levels",
    "load_graph",
    "requantize",
    "run_golden",
    "run_naive",
    "run_node",
    "save_graph",
    "threshold_codes",
    "tie_analysis",
    "verify",
]
