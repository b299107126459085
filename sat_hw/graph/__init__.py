"""The integer layer graph (IR), its golden executor, serialization and agreement checks.

numpy only: importing this package never imports torch. Lowering a torch model lives in
``sat_hw.graph.lower`` (``from sat_hw.graph.lower import lower, torch_codes``), imported on
purpose by whoever has a model.
"""

from .agreement import agreement, tie_analysis
from .checks import verify
from .golden import GoldenResult, layer_acc, requantize, run_golden, run_node, threshold_codes
from .ir import (
    FLOAT_EXACT_BOUND,
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
from .naive import run_naive
from .serialize import graph_files, graph_from_files, graph_hash, load_graph, save_graph

__all__ = [
    "FLOAT_EXACT_BOUND",
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
