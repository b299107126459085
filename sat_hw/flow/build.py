"""``sat_hw build``: configuration -> model -> integer graph -> golden -> build folder.

The pipeline, in order (each step a plain function):

1. ``make_model``: load ``--checkpoint``; else the zoo checkpoint whose shape and bits match
   (``build.zoo``); else a seeded model calibrated on real training images when the configured
   dataset serves the model (``sat_hw.nn.data.serves``: same classes, channels that convert), else
   on seeded random codes;
2. ``lower`` + ``verify``: the integer layer graph;
3. ``make_inputs``: ``--images`` real test images when the model fits them, else seeded codes;
4. ``run_golden``: the bit-exact integer outputs; ``torch_codes`` + ``agreement``: how far the
   PyTorch fake-quant model agrees with it;
5. ``write_tree``: every file at once, into a temporary folder renamed into place.

The phases beyond the graph (generators, simulation, estimates) are listed in :data:`PHASES`;
:func:`plan_phases` decides which run, and the report says which ran and why others did not.
A command-line flag that only a phase absent from this version (or skipped by this build) would
read is refused in one line, so no flag is ever accepted and ignored.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sat_hw.base.errors import VerificationError
from sat_hw.base.writer import check_writable, npy_bytes, write_tree
from sat_hw.flow.config import (
    default_out,
    file_settings,
    layer_bits,
    mixed_label,
    model_from_config,
    to_toml,
)
from sat_hw.flow.report import add_hardware, make_report, render_markdown
from sat_hw.graph.agreement import agreement
from sat_hw.graph.golden import run_golden, run_node
from sat_hw.graph.serialize import files_hash, graph_files
from sat_hw.nn import zoo
from sat_hw.nn.lower import lower, torch_codes

MODEL_KEYS = ("name", "width", "resolution", "in_channels", "classes")
EDGE_LAYERS = ("conv0", "pool", "fc")  # bits not set by --wbits/--abits


@dataclass(frozen=True)
class Phase:
    """A build phase beyond the integer graph. ``present``: this version has it; ``flags``: the
    command-line flags (flow.toml keys) that only phases read, so that a flag no running phase
    reads is refused instead of ignored. A phase that lands sets ``present`` and its code runs in
    :func:`build` where ``plan[name] is None``."""

    name: str
    what: str
    present: bool
    flags: tuple[str, ...] = ()


PHASES: tuple[Phase, ...] = (
    Phase("golden", "bit-exact integer executor on the input images", True),
    Phase("rtl", "Verilog generator", True, ("--fps", "--device")),  # device: DSP packing
    Phase("hls", "HLS C++ generator and its C-simulation", True, ("--device", "--fclk")),
    Phase("sim", "Verilator simulation of the generated RTL against golden", True,
          ("--fclk",)),
    Phase("estimate", "resources and cycles per layer on hw.device", True,
          ("--device", "--fclk", "--fps")),
)
FLAG_KEYS = {"--device": ("hw", "device"), "--fclk": ("hw", "fclk_mhz"), "--fps": ("hw", "fps")}
NOT_YET = "not in this version yet"


def plan_phases(cfg: dict, no_sim: bool = False) -> dict[str, str | None]:
    """``{phase: None if it runs, else why not}`` for this configuration."""
    backends = [b.strip() for b in cfg["build"]["backend"].split(",") if b.strip()]
    plan: dict[str, str | None] = {}
    for p in PHASES:
        if not p.present:
            why = NOT_YET
        elif p.name in ("rtl", "hls") and p.name not in backends:
            why = f"not selected by build.backend = {cfg['build']['backend']}"
        elif p.name == "sim" and no_sim:
            why = "--no-sim"
        elif p.name == "sim" and plan.get("rtl"):
            why = "no generated RTL to simulate"
        else:
            why = None
        plan[p.name] = why
    if no_sim and plan["sim"] == NOT_YET:
        plan["sim"] = f"--no-sim ({NOT_YET})"
    return plan


def refuse_absent(plan: dict[str, str | None], explicit: dict) -> None:
    """A flag given on the command line that no running phase reads is an error (one line)."""
    b = (explicit.get("build") or {}).get("backend")
    for name in [x.strip() for x in (b or "").split(",") if x.strip()]:
        if plan.get(name) is not None:
            phase = next(p for p in PHASES if p.name == name)
            raise ValueError(f"--backend {name}: the {phase.what} is {plan[name]} "
                             f"(phases here: {', '.join(n for n, w in plan.items() if w is None)})")
    for flag, (section, key) in FLAG_KEYS.items():
        v = (explicit.get(section) or {}).get(key)
        readers = [p.name for p in PHASES if flag in p.flags]
        if v is not None and all(plan[r] is not None for r in readers):
            why = "; ".join(f"{r}: {plan[r]}" for r in readers)
            raise ValueError(f"{flag} {v}: only the {' and '.join(readers)} phase(s) read it, "
                             f"and this build runs none of them ({why})")


def build_folding(cfg: dict, graph):
    """PE/SIMD per layer: ``[fold.<layer>]`` tables, the rest by the default rule: the planner
    for ``hw.fps`` at ``hw.fclk_mhz`` on ``hw.device`` when ``hw.fps > 0``, else the lane
    budget ``hw.lanes`` (:func:`sat_hw.hw.planner.resolve_folding`). Weights the planner puts
    in URAM are loaded at run time (the RTL's weight-load stream)."""
    from sat_hw.hw.planner import resolve_folding

    hw = cfg["hw"]
    return resolve_folding(graph, cfg.get("fold", {}), hw["lanes"], fps=hw["fps"],
                           fclk_mhz=hw["fclk_mhz"], device=hw["device"])


def _hls(cfg: dict, hardware, inputs, golden, digest: str,
         no_sim: bool) -> tuple[dict, dict | None]:
    """The hls phase: ``hls/`` files (+ ``sim/hls_outputs.npy``) and the ``hls_csim`` entry."""
    from sat_hw.hw.devices import get_device
    from sat_hw.tools.hlssim import hls_phase

    return hls_phase(hardware, inputs, golden.outputs, digest,
                     part=get_device(cfg["hw"]["device"]).part, fclk_mhz=cfg["hw"]["fclk_mhz"],
                     run=not no_sim, say=lambda m: _say(f"hls: {m}"))


def check_folding_early(cfg: dict, plan: dict[str, str | None],
                        config_file: Path | None = None) -> None:
    """Every check that the configuration alone decides, before any long work: the folding
    (``[fold.<layer>]`` divisors, the planner's target) on the shape graph of ``cfg``, which has
    the layers, shapes and bits that lowering the model will give."""
    if all(plan[p] is not None for p in ("rtl", "hls", "estimate")):
        return
    from sat_hw.flow.estimate import config_graph
    from sat_hw.hw.devices import get_device
    from sat_hw.hw.plan import check_memories

    try:
        folding = build_folding(cfg, config_graph(cfg))
        check_memories(folding, get_device(cfg["hw"]["device"]), cfg.get("fold", {}))
    except ValueError as e:  # [fold.<layer>] tables come only from the user's file: name it
        if config_file is None or not str(e).startswith("fold."):
            raise
        raise ValueError(f"{config_file}: {e}") from None


def _inner_bits(ckpt_cfg: dict) -> list[dict]:
    """The checkpoint's bits of the layers that --wbits/--abits set."""
    return [b for n, b in ckpt_cfg["bits"].items()
            if n not in EDGE_LAYERS and not n.endswith("_add")]  # an add has no weights


def _say(msg: str) -> None:
    print(f"sat_hw build: {msg}", file=sys.stderr, flush=True)


def _dataset_misfit(cfg: dict) -> str | None:
    """None when the configured dataset serves the model (the rule training uses too, see
    ``sat_hw.nn.data.serves``), else why not."""
    from sat_hw.nn.data import serves

    d, m = cfg["data"], cfg["model"]
    try:
        return serves(d["name"], d["root"], m["in_channels"], m["classes"])
    except ValueError as e:
        return str(e)


def _adapted(cfg: dict) -> str:
    from sat_hw.nn.data import adaptation

    note = adaptation(cfg["data"]["name"], cfg["model"]["resolution"], cfg["model"]["in_channels"])
    return f" ({note})" if note else ""


def _real_images(cfg: dict, split: str, count: int, seed: int,
                 labels: bool = False) -> np.ndarray | tuple | None:
    """``count`` images of ``split`` (seeded choice), uint8 (N, C, H, W); None if unavailable.
    With ``labels``, ``(images, labels)``."""
    from sat_hw.nn.data import load_split

    if _dataset_misfit(cfg) is not None:
        return None
    m, d = cfg["model"], cfg["data"]
    try:
        ds = load_split(d["name"], d["root"], split, m["resolution"], m["in_channels"])
    except ValueError as e:
        _say(f"no real {split} images ({e}); using random codes")
        return None
    images = ds.images.numpy()
    if split == "test":  # the first test images: reproducible and easy to look up
        return (images[:count], ds.labels.numpy()[:count]) if labels else images[:count]
    idx = np.random.default_rng(seed).choice(len(images), min(count, len(images)), replace=False)
    return images[np.sort(idx)]


CALIB_STREAM, INPUT_STREAM = 1, 2
"""Random codes for calibration and for inputs: the build seed's two streams (seed, stream)."""


def _random_codes(cfg: dict, count: int, seed: int, stream: int) -> np.ndarray:
    m = cfg["model"]
    shape = (count, m["in_channels"], m["resolution"], m["resolution"])
    return np.random.default_rng([seed, stream]).integers(0, 256, shape, dtype=np.uint8)


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _check_against_checkpoint(ckpt_cfg: dict, explicit: dict, file: dict | None = None,
                              file_name: str = "") -> None:
    """A flag or a ``--config`` setting that contradicts the checkpoint is an error (the
    checkpoint fixes the model); settings equal to the checkpoint's are fine."""
    for key, v in (explicit.get("model") or {}).items():
        if v is not None and ckpt_cfg.get(key) != v:
            raise ValueError(f"--{key.replace('_', '-')} {v} contradicts the checkpoint's "
                             f"{key} {ckpt_cfg.get(key)}")
    q = explicit.get("quant") or {}
    for key in ("wbits", "abits"):
        v = q.get(key)
        inner = {b[key] for b in _inner_bits(ckpt_cfg)}
        if v is not None and inner != {v}:
            raise ValueError(f"--{key} {v} contradicts the checkpoint's {key} {sorted(inner)}")
    if file:
        _check_file_against_checkpoint(ckpt_cfg, file, file_name)


def _check_file_against_checkpoint(ckpt: dict, file: dict, name: str) -> None:
    """What the ``--config`` file sets (model shape, method, global and per-layer bits) must be
    what the checkpoint holds."""
    for key, v in (file.get("model") or {}).items():
        if ckpt.get(key) != v:
            raise ValueError(f"{name}: model.{key} = {v!r} contradicts the checkpoint's {key} "
                             f"{ckpt.get(key)!r}")
    q = file.get("quant") or {}
    for key in ("method", "scale_all_convs", "fc_scale"):
        have = ckpt.get(key, "fan_out" if key == "fc_scale" else None)  # older: the paper's
        if key in q and have != q[key]:
            raise ValueError(f"{name}: quant.{key} = {q[key]!r} contradicts the checkpoint's "
                             f"{key} {have!r}")
    layers = q.get("layers") or {}
    for layer, bits in ckpt["bits"].items():
        for key in ("wbits", "abits"):
            if (layer == "pool" or layer.endswith("_add")) and key == "wbits" \
                    or layer == "conv0" and key == "abits":
                continue  # no weights; the 8-bit input codes
            if key in layers.get(layer, {}):
                where, v = f"quant.layers.{layer}.{key}", layers[layer][key]
            else:
                glob = {"conv0": "first_wbits", "fc": "last_wbits"}.get(layer, "wbits") \
                    if key == "wbits" else "abits"
                if glob not in q:
                    continue
                where, v = f"quant.{glob}", q[glob]
            if bits[key] != v:
                raise ValueError(f"{name}: {where} = {v} contradicts the checkpoint's {layer} "
                                 f"{key} {bits[key]}")


def _model_config(cfg: dict) -> dict:
    """The model config (as ``MobileNetV1.config`` holds it) that ``cfg`` describes."""
    q = cfg["quant"]
    return {**{k: cfg["model"][k] for k in MODEL_KEYS}, "method": q["method"],
            "scale_all_convs": q["scale_all_convs"], "bits": layer_bits(cfg)}


def make_model(cfg: dict, checkpoint: Path | None, explicit: dict, file: dict | None = None,
               file_name: str = ""):
    """The model to build and a line saying where it came from. Updates ``cfg`` from a checkpoint."""
    from sat_hw.nn.checkpoint import load_checkpoint
    from sat_hw.nn.models import calibrate

    entry = None
    if checkpoint is None and cfg["build"]["zoo"] and cfg["quant"]["method"] != "fp":
        entry = zoo.find(_model_config(cfg), cfg["data"]["name"])
        if entry is not None:
            checkpoint = entry["path"]
            _say(f"no --checkpoint: using the zoo model {entry['file']} (trained on "
                 f"{entry['data']}, top-1 {100 * entry['top1']:.2f} %; --no-zoo for an untrained one)")
    if checkpoint is not None:
        model = load_checkpoint(checkpoint)
        c = model.config
        _check_against_checkpoint(c, explicit, file, file_name)
        cfg["model"].update({k: c[k] for k in MODEL_KEYS})
        cfg["quant"].update(method=c["method"], scale_all_convs=c["scale_all_convs"],
                            fc_scale=c["fc_scale"])
        inner = _inner_bits(c)
        cfg["quant"].update(wbits=inner[0]["wbits"], abits=inner[0]["abits"],
                            first_wbits=c["bits"]["conv0"]["wbits"],
                            last_wbits=c["bits"]["fc"]["wbits"])
        defaults = layer_bits({**cfg, "quant": {**cfg["quant"], "layers": {}}})
        cfg["quant"]["layers"] = {n: {k: v for k, v in b.items() if defaults[n].get(k) != v}
                                  for n, b in c["bits"].items() if b != defaults[n]}
        if entry is None:
            _say(f"loaded checkpoint {checkpoint}")
            return model, f"checkpoint {checkpoint}"
        return model, (f"zoo model {entry['file']} (trained on {entry['data']}, test top-1 "
                       f"{100 * entry['top1']:.2f} %)")
    if cfg["quant"]["method"] == "fp":
        raise ValueError("quant.method fp has no integer form: build needs pact, cgpact or sat")
    seed = cfg["build"]["seed"]
    model = model_from_config(cfg, seed=seed)
    n = cfg["quant"]["calib_images"]
    images = _real_images(cfg, "train", n, seed)
    if images is not None:
        source = f"{cfg['data']['name']} training images{_adapted(cfg)}"
    else:
        images = _random_codes(cfg, n, seed, CALIB_STREAM)
        source = f"seeded random codes ({_dataset_misfit(cfg) or 'no real images'})"
    calibrate(model, images, cfg["quant"]["calib_percentile"])
    what = "no zoo model matches; " if cfg["build"]["zoo"] else ""
    _say(f"no --checkpoint ({what}untrained model, seed {seed}), calibrated on "
         f"{len(images)} {source}")
    return model, f"untrained, seed {seed}, calibrated on {len(images)} {source}"


def make_inputs(cfg: dict) -> tuple[np.ndarray, str, np.ndarray | None]:
    """``(images, where they came from, their labels or None for random codes)``."""
    n, seed = cfg["build"]["images"], cfg["build"]["seed"]
    real = _real_images(cfg, "test", n, seed, labels=True)
    if real is not None:
        images, labels = real
        what = _plural(len(images), f"{cfg['data']['name']} test image")
        return images, f"the first {what}{_adapted(cfg)}", labels
    why = _dataset_misfit(cfg) or "no real images"
    return (_random_codes(cfg, n, seed, INPUT_STREAM),
            f"seeded random codes (seed {seed}; {why})", None)


def accuracy(labels: np.ndarray, torch_logits: np.ndarray, golden: np.ndarray,
             rtl: bytes | None, hls_files: dict) -> dict:
    """report.json ``accuracy``: top-1 against the true labels of PyTorch, golden, and the RTL
    and HLS outputs where they ran (they must all agree with golden); ``counts``: the images
    each was measured on (``sat_hw sim --images N`` reruns the RTL on fewer)."""
    import io

    from sat_hw.flow.report import top1

    out = {"images": len(labels), "labels": {}, "counts": {}}
    hls = hls_files.get("sim/hls_outputs.npy")
    for name, a in (("torch", torch_logits), ("golden", golden),
                    ("rtl", None if rtl is None else np.load(io.BytesIO(rtl))),
                    ("hls", None if hls is None else np.load(io.BytesIO(hls)))):
        if a is not None:
            out["labels"][name], out["counts"][name] = top1(a, labels)
    return out


def build(cfg: dict, checkpoint: Path | None = None, explicit: dict | None = None,
          no_sim: bool = False, config_file: Path | None = None) -> Path:
    """Run the pipeline and write the build folder ``cfg['build']['out']``; returns its path.

    ``explicit`` holds the command-line flags (``{section: {key: value or None}}``) and
    ``config_file`` the user's ``--config``: both are checked against a checkpoint, and a flag
    that no running phase reads is refused (:func:`refuse_absent`) before any work.
    """
    from sat_hw.nn.checkpoint import checkpoint_bytes

    explicit = explicit or {}
    plan = plan_phases(cfg, no_sim)
    refuse_absent(plan, explicit)
    # before any work, not after it (the default folder's name waits for the checkpoint's bits)
    check_writable(Path(cfg["build"]["out"] or default_out(cfg)))
    file = file_settings(config_file) if config_file is not None else None
    if checkpoint is None:  # the configuration is the model (a zoo match has the same shape)
        check_folding_early(cfg, plan, config_file)
    model, weights = make_model(cfg, checkpoint, explicit, file, str(config_file))
    if checkpoint is not None:  # the checkpoint fixed the shape: check again, still before work
        plan = plan_phases(cfg, no_sim)
        refuse_absent(plan, explicit)
        check_folding_early(cfg, plan, config_file)
    out = Path(cfg["build"]["out"] or default_out(cfg))
    check_writable(out)
    graph = lower(model)  # verified by its last pass
    gfiles = graph_files(graph)
    digest = files_hash(gfiles)
    _say(f"lowered to {len(graph.layers)} layers (graph {digest})")
    inputs, source, labels = make_inputs(cfg)
    golden = run_golden(graph, inputs)
    tcodes = torch_codes(model, inputs)
    agree = agreement(tcodes, golden, graph=graph)
    twin = agreement(torch_codes(model, inputs, precision="float64"), golden)
    agree["float64"] = {k: twin[k] for k in ("code_match_rate", "top1_match_rate")}
    iso = agree["isolated"]
    ties = (f"{iso['ties']} of {iso['mismatches']} differences are rounding ties"
            if iso["mismatches"] else "no differences")
    _say(f"golden on {_plural(len(inputs), 'image')}; PyTorch (float32) agreement: codes "
         f"{100 * agree['code_match_rate']:.3f} %, top-1 {100 * agree['top1_match_rate']:.1f} %; "
         f"layer by layer {100 * iso['code_match_rate']:.4f} % ({ties}); float64 model: codes "
         f"{100 * twin['code_match_rate']:.3f} %")
    folding = hardware = None
    if any(plan[p] is None for p in ("rtl", "hls", "estimate")):
        from sat_hw.hw.devices import get_device
        from sat_hw.hw.plan import hardware_plan

        folding = build_folding(cfg, graph)  # into flow.toml: the build reproduces exactly
        cfg["fold"] = {name: f.as_dict() for name, f in folding.items()}
        # the one hardware plan that the generators render and the cost model prices
        hardware = hardware_plan(graph, folding, get_device(cfg["hw"]["device"]).family)
    hls_files, hls_csim = ({}, None) if plan["hls"] else _hls(cfg, hardware, inputs,
                                                               golden, digest, no_sim)
    torch_out = run_node(graph.layers[-1], tcodes[graph.layers[-1].name])
    torch_top1 = np.argmax(tcodes["logits"], axis=1)
    rtl_files, sim, layer_sims = {}, None, None
    if plan["rtl"] is None:  # a stall comes back as sim["failed"]: the folder is still written
        from sat_hw.flow.rtlphase import rtl_phase

        rtl_files, sim, layer_sims = rtl_phase(
            hardware, digest, inputs, golden.outputs, torch_out, torch_top1,
            cfg["hw"]["fclk_mhz"], run=plan["sim"] is None, say=lambda m: _say(f"rtl: {m}"),
            device=cfg["hw"]["device"])
    q = cfg["quant"]
    phases = [{"name": p.name, "what": p.what, "ran": plan[p.name] is None,
               "why": plan[p.name] or ""} for p in PHASES]
    info = {"wbits": q["wbits"], "abits": q["abits"], "mixed": mixed_label(cfg),
            "method": q["method"], "weights": weights, "inputs": source, "graph_hash": digest,
            "seed": cfg["build"]["seed"], "phases": phases}
    estimate = None
    if plan["estimate"] is None:  # the cost model on the folding the generators use
        from sat_hw.flow.estimate import build_estimate

        estimate = build_estimate(hardware, cfg["hw"])
    report = add_hardware(make_report(graph, agree, info), folding, estimate, hls_csim, sim,
                          layer_sims, cfg["hw"]["fclk_mhz"], hardware)
    if labels is not None:
        report["accuracy"] = accuracy(labels, tcodes["logits"], golden.outputs,
                                      rtl_files.get("sim/rtl_outputs.npy"), hls_files)
        rtl_files["sim/labels.npy"] = npy_bytes(np.asarray(labels, np.int64))
    files: dict[str, bytes | str] = {f"graph/{k}": v for k, v in gfiles.items()}
    files.update(hls_files)
    files.update(rtl_files)
    files.update({
        "flow.toml": to_toml(cfg),
        "model.pt": checkpoint_bytes(model, {"source": weights, **getattr(model, "meta", {})}),
        "sim/inputs.npy": npy_bytes(np.ascontiguousarray(inputs, dtype=np.uint8)),
        "sim/golden.npy": npy_bytes(golden.outputs.astype(np.int64)),
        "sim/torch_outputs.npy": npy_bytes(torch_out.astype(np.int64)),
        "report.json": json.dumps(report, indent=1) + "\n",
        "report.md": render_markdown(report),
    })
    replaced = out.exists() and any(out.iterdir())
    path = write_tree(out, files)
    skipped = ", ".join(f"{p['name']} ({p['why']})" for p in phases if not p["ran"])
    _say(f"ran {', '.join(p['name'] for p in phases if p['ran'])}"
         + (f"; skipped {skipped}" if skipped else ""))
    _say(f"wrote {path}" + (" (replaced the earlier build there)" if replaced else ""))
    if sim and sim.get("failed"):
        raise VerificationError(f"RTL simulation failed: {sim['failed']} (the design and "
                                f"report are in {path})")
    if sim and sim["mismatches"]:
        raise VerificationError(f"RTL simulation: {sim['mismatches']} outputs differ from golden "
                                f"({sim['first_mismatch']}; sim/rtl_outputs.npy in {path})")
    if hls_csim and hls_csim["mismatches"]:
        raise VerificationError(f"HLS C-simulation: {hls_csim['mismatches']} outputs differ "
                                f"from golden (sim/hls_outputs.npy vs sim/golden.npy in {path})")
    return path


__all__ = ["PHASES", "Phase", "build", "build_folding", "default_out", "make_inputs", "make_model",
           "mixed_label", "plan_phases", "refuse_absent"]
