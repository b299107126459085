"""The skip FIFO depth by analysis (sat_hw.hw.skip, docs/hardware.md "Skip FIFO depth") on cases
computed by hand, and its size against part 1's one-image bound (issue 24)."""

from __future__ import annotations

from fractions import Fraction

from sat_hw.graph import synthetic as syn
from sat_hw.hw.dag import main_path
from sat_hw.hw.fold import Fold
from sat_hw.hw.plan import hardware_plan
from sat_hw.hw.skip import skip_depth


def unfolded_plan():
    """The synthetic residual graph (W4A4), every layer at PE 1, SIMD 1."""
    graph = syn.residual_graph(4, 4, 4)
    return graph, hardware_plan(graph, {n.name: Fold(1, 1) for n in graph.layers})


def skip_fifo(plan, layer: str) -> int:
    lp = next(lp for lp in plan.layers if lp.name == layer)
    return next(b for b in lp.blocks if b.role == "skip").params["DEPTH"]


def test_identity_block_by_hand():
    """conv0's fork (8x8x8, one channel a beat: B = 512 beats an image), main branch two 3x3
    convs (8 -> 8 channels) and the add. Per conv, in beats of conv0's output:
    window generator 4 rows of 8x8 of 8 channels = 4*8*8 / 512 of an image (256) and 6 window
    beats of 1 channel of 8x8*8 (6); the window split 9 -> 1, 2 beats of 9 codes of the 8x8*8*9
    window stream (2); the MVU two 72-code vectors of 64 (16) and QD 3 credits (LAT 9 < 72
    beats a vector: max(3, 2)) of 1 channel (3); thresholds 4 bits over CH/PE 8 words: LAT
    2*4 + 2, QD 11 (11); output FIFO 32 (32). The add's operand skid 2. Then the fork's 2."""
    graph, plan = unfolded_plan()
    assert main_path(graph, "conv0") == ["b1_conv1", "b1_conv2", "b1_add"]
    conv = 256 + 6 + 2 + 16 + 3 + 11 + 32
    assert skip_fifo(plan, "conv0") == 2 * conv + 2 + 2 == 656
    sd = skip_depth({lp.name: lp for lp in plan.layers}, graph, "conv0", 1)
    assert sd.depth == 656 and sd.beats == 512 and sd.held == 654
    assert sd.terms[0][:2] == ("b1_conv1_swg", "4 rows")
    lp = next(lp for lp in plan.layers if lp.name == "conv0")
    assert lp.skip_reason.startswith("654 beats the main branch can hold (654.0 of 512 per image)")
    assert lp.skip_reason.endswith("+ 2 fork drift")


def test_inverted_residual_block_by_hand():
    """b2_add's fork (4x4x16, B = 256), main branch 1x1 expand (16 -> 32), 3x3 depthwise, 1x1
    project (32 -> 16), add. Shares of an image times 256:
    expand: vector FIFO 16 + 4 codes of 4*4*16 (20), MVU two vectors of 16 pixels (32) and 3
    credits of 4*4*32 (1.5), thresholds over 32 words (two deep stages: LAT 12, QD 13: 6.5),
    FIFO 32 of 512 (16);
    depthwise: window generator 4 rows = the whole 4x4 image (256) and 6 windows of 1 of 4*4*32
    (3), the split 9 -> 1 (1), the vector unit QD 3 + 1 output beats (2) and 2 input beats of
    the 9x larger window stream (1/9), thresholds (6.5), FIFO (16);
    project: vector FIFO 32 + 4 (18), MVU two vectors (32) and 3 credits of 4*4*16 (3),
    thresholds over 16 words (one deep stage: QD 12: 12), FIFO (32); the add's skid (2)."""
    graph, plan = unfolded_plan()
    expand = 20 + 32 + Fraction(3, 2) + Fraction(13, 2) + 16
    dw = 256 + 3 + 1 + 2 + Fraction(1, 9) + Fraction(13, 2) + 16
    project = 18 + 32 + 3 + 12 + 32
    held = expand + dw + project + 2
    sd = skip_depth({lp.name: lp for lp in plan.layers}, graph, "b2_add", 1)
    assert sd.held == held and sd.depth == 460 + 2 == skip_fifo(plan, "b2_add")


def test_projection_fork_counts_the_main_branch_only():
    """b1_add's fork feeds a stride-2 block: the main branch (3x3 stride 2 conv, 1x1 conv) and
    the shortcut conv on the skip. Only the main branch counts; its window generator holds
    K + STRIDE = 5 rows of 8 (5/8 of an image), its 6 window beats are 6 of the 4x4 output
    pixels (6/16 of an image)."""
    graph, plan = unfolded_plan()
    sd = skip_depth({lp.name: lp for lp in plan.layers}, graph, "b1_add", 1)
    assert main_path(graph, "b1_add") == ["b2_conv1", "b2_conv2", "b2_add"]
    terms = {(b, w): v for b, w, v in sd.terms}
    assert terms[("b2_conv1_swg", "5 rows")] == Fraction(5, 8) * 512
    assert terms[("b2_conv1_swg", "6 windows")] == Fraction(6, 16 * 8) * 512
    assert not any(b.startswith("b2_short") for b, _, _ in sd.terms)


def test_large_images_need_far_less_than_one_image():
    """At 64 px the rows held are a small share of the image: every skip FIFO is below a third
    of part 1's one-image bound."""
    graph = syn.residual_graph(4, 4, 4, size=64)
    plan = hardware_plan(graph, {n.name: Fold(1, 1) for n in graph.layers})
    for lp in plan.layers:
        for b in lp.blocks:
            if b.role == "skip":
                c, h, w = lp.node.out_shape
                assert b.params["DEPTH"] < c * h * w / 3, (lp.name, b.params["DEPTH"])


def test_resnet20_16px_depths_cover_the_simulated_peaks():
    """The ResNet-20 shape of the issue's build (width 0.25, 16 px, W4A4, default folding): the
    peaks its RTL simulation measured with these depths (`sat_hw build --model resnet20 --width
    0.25 --resolution 16 --images 4 --no-zoo`: interval 1,536, the folding's) lie below every
    depth; b7_add and b8_add, which filled part 1's one image (256 beats) and cost 3.6 % of the
    interval, get 834."""
    from sat_hw.flow.build import build_folding
    from sat_hw.flow.config import load_config
    from sat_hw.flow.estimate import config_graph

    cfg = load_config(None, {"model": {"name": "resnet20", "width": 0.25, "resolution": 16},
                             "quant": {"wbits": 4, "abits": 4}})
    graph = config_graph(cfg)
    plan = hardware_plan(graph, build_folding(cfg, graph))
    assert plan.interval == 1536
    peaks = {"conv0": 149, "b1_add": 302, "b2_add": 302, "b3_add": 215, "b4_add": 277,
             "b5_add": 277, "b6_add": 180, "b7_add": 267, "b8_add": 267}
    depths = {name: skip_fifo(plan, name) for name in peaks}
    assert all(depths[n] > peaks[n] for n in peaks), depths
    assert depths["b7_add"] == depths["b8_add"] == 834
