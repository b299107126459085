"""The ``sat_hw`` command line. Flags override ``--config``, which overrides the shipped defaults.

Every expected error prints one line on stderr; the exit status says which kind it was
(``sat_hw.base.errors``): 2 bad input, 3 verification failed, 4 an external tool failed, 5
training stopped by its guard, 130 interrupted.
"""

from __future__ import annotations

import argparse
import functools
import json
import sys
from pathlib import Path

from sat_hw.base.errors import (
    EXIT_COLLAPSE,
    EXIT_INTERRUPTED,
    EXIT_TOOL,
    EXIT_USAGE,
    EXIT_VERIFY,
    ToolError,
    TrainingCollapse,
    VerificationError,
)
from sat_hw.flow.config import defaults, load_config


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("sat_hw")
    except PackageNotFoundError:
        return "unknown (not installed)"


@functools.cache
def _defaults() -> dict:
    return defaults()


def _d(section: str, key: str) -> str:
    """`` (default: V)`` with the shipped flow.toml's value, for --help."""
    v = _defaults()[section][key]
    return f" (default: {v!r})" if isinstance(v, str) else f" (default: {v})"


def _csv_ints(flag: str, s: str | None) -> list[int] | None:
    """``2,3,4`` -> ``[2, 3, 4]`` (None: the flag was not given); one line naming the flag
    otherwise (an empty list is refused by the command, not replaced by the default)."""
    if s is None:
        return None
    try:
        return [int(p) for p in s.split(",") if p.strip()]
    except ValueError:
        raise ValueError(f"{flag} {s!r}: expected comma-separated integers, e.g. 2,3,4,8") \
            from None


def _model_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", help="architecture (mbv1, mbv2, resnet20)" + _d("model", "name"))
    p.add_argument("--wbits", type=int, help="weight bits of the inner layers, 1..8"
                   + _d("quant", "wbits"))
    p.add_argument("--abits", type=int, help="activation bits, 1..8" + _d("quant", "abits"))
    p.add_argument("--width", type=float, help="width multiplier" + _d("model", "width"))
    p.add_argument("--resolution", type=int, help="input resolution in pixels"
                   + _d("model", "resolution"))
    p.add_argument("--in-channels", type=int, help="input channels" + _d("model", "in_channels"))
    p.add_argument("--classes", type=int, help="output classes" + _d("model", "classes"))
    p.add_argument("--config", type=Path, help="flow.toml with settings to merge over the "
                   "defaults (the shipped flow.toml documents every key)")


def _overrides(a: argparse.Namespace) -> dict:
    get = lambda k: getattr(a, k, None)
    return {
        "model": {"name": get("model"), "width": get("width"), "resolution": get("resolution"),
                  "in_channels": get("in_channels"), "classes": get("classes")},
        "quant": {"wbits": get("wbits"), "abits": get("abits"), "method": get("method")},
        "data": {"name": get("data"), "root": get("data_root")},
        "train": {"epochs": get("epochs"), "batch_size": get("batch_size"), "lr": get("lr"),
                  "seed": get("train_seed"), "max_steps": get("max_steps"),
                  "eval_images": get("eval_images"),
                  "distill": None if get("distill") is None else str(get("distill")),
                  "ema": get("ema")},
        "build": {"out": None if get("out") is None or a.command != "build" else str(a.out),
                  "seed": get("seed") if a.command == "build" else None,
                  "images": get("images") if a.command == "build" else None,
                  "backend": get("backend"), "zoo": False if get("no_zoo") else None},
        "hw": {"device": get("device"), "fclk_mhz": get("fclk"), "fps": get("fps")},
    }


def _parser() -> tuple[argparse.ArgumentParser, dict[str, argparse.ArgumentParser]]:
    """The top-level parser and each subcommand's (abbreviated flags are never accepted)."""
    ap = argparse.ArgumentParser(prog="sat_hw", description=__doc__.splitlines()[0],
                                 allow_abbrev=False)
    ap.add_argument("--version", action="version", version=f"sat_hw {_version()}")
    sub = ap.add_subparsers(dest="command", required=True)

    def add(name: str, help: str) -> argparse.ArgumentParser:
        return sub.add_parser(name, help=help, description=help, allow_abbrev=False)

    t = add("train", "SAT quantization-aware training")
    _model_flags(t)
    t.add_argument("--method", help="fp | pact | cgpact | sat" + _d("quant", "method"))
    t.add_argument("--data", help="fashion-mnist | cifar10 | imagefolder" + _d("data", "name"))
    t.add_argument("--data-root", help="dataset folder (default: the dataset's own)")
    t.add_argument("--epochs", type=int, help="training epochs" + _d("train", "epochs"))
    t.add_argument("--batch-size", type=int, help="per-process batch" + _d("train", "batch_size"))
    t.add_argument("--lr", type=float, help="peak learning rate" + _d("train", "lr"))
    t.add_argument("--seed", dest="train_seed", type=int, help="seed" + _d("train", "seed"))
    t.add_argument("--max-steps", type=int, help="stop after this many steps (smoke runs; they "
                   "score 1000 test images unless --eval-images says otherwise)")
    t.add_argument("--eval-images", type=int, help="test images scored after each epoch, the "
                   "first N; 0 = all" + _d("train", "eval_images"))
    t.add_argument("--init", type=Path, help="initialise from this checkpoint (e.g. the FP model)")
    t.add_argument("--distill", type=Path, help="teacher checkpoint to distil from (e.g. the FP "
                   "model), or several, comma separated, whose logits are averaged; weight and "
                   "temperature: train.distill_* in flow.toml")
    t.add_argument("--ema", type=float, help="decay of the weights' moving average per step that "
                   "the checkpoint holds (e.g. 0.999; 0 = off)" + _d("train", "ema"))
    t.add_argument("--resume", action="store_true", help="continue from --out's last epoch")
    t.add_argument("--out", type=Path, required=True, help="checkpoint file to write")

    e = add("eval", "top-1 of a checkpoint on a test set")
    e.add_argument("checkpoint", type=Path)
    e.add_argument("--data", help="fashion-mnist | cifar10 | imagefolder (default: the dataset "
                   "the checkpoint was trained on)")
    e.add_argument("--data-root", help="dataset folder (default: the checkpoint's, else the "
                   "dataset's own)")
    e.add_argument("--images", type=int, help="score the first N test images (default: all)")
    e.add_argument("--batch-size", type=int, default=256, help="(default: 256)")

    b = add("build", "lower, generate and verify an accelerator")
    _model_flags(b)
    b.add_argument("--checkpoint", type=Path, help="trained checkpoint (default: the zoo model "
                   "whose shape and bits match, else a seeded, calibrated one)")
    b.add_argument("--no-zoo", action="store_true", help="without --checkpoint, build the seeded "
                   "calibrated model even where a zoo model matches")
    b.add_argument("--out", type=Path, help="build folder (default: builds/<model>_w<wbits>a"
                   "<abits>, plus the layers that differ for mixed bits)")
    b.add_argument("--seed", type=int, help="seed of the untrained model and random inputs"
                   + _d("build", "seed"))
    b.add_argument("--backend", help="generators: rtl, hls or rtl,hls" + _d("build", "backend"))
    b.add_argument("--images", type=int, help="images to run through golden and simulation"
                   + _d("build", "images"))
    b.add_argument("--no-sim", action="store_true", help="skip simulation")
    b.add_argument("--device", help="target FPGA for estimates: xc7z020 (pynq-z1), xczu7ev "
                   "(zcu104), xcu250 (u250), ecp5-25k/45k/85k (Lattice ECP5, see sat_hw pnr)" + _d("hw", "device"))
    b.add_argument("--fclk", type=float, help="clock in MHz" + _d("hw", "fclk_mhz"))
    b.add_argument("--fps", type=float, help="target frames/s for folding" + _d("hw", "fps"))

    s = add("estimate", "resources, cycles and frames/s per bit configuration (no training)")
    s.add_argument("--model", help="architecture (mbv1, mbv2, resnet20)" + _d("model", "name"))
    s.add_argument("--wbits", help="weight bits to sweep, e.g. 2,3,4,8" + _d("quant", "wbits"))
    s.add_argument("--abits", help="activation bits to sweep, e.g. 2,3,4,8"
                   + _d("quant", "abits"))
    for flag, key, kind in (("--width", "width", float), ("--resolution", "resolution", int),
                            ("--in-channels", "in_channels", int), ("--classes", "classes", int)):
        s.add_argument(flag, type=kind, help=key.replace("_", " ") + _d("model", key))
    s.add_argument("--config", type=Path, help="flow.toml to merge over the defaults")
    s.add_argument("--device", help="target FPGA: xc7z020 (pynq-z1), xczu7ev (zcu104), xcu250 "
                   "(u250), ecp5-25k/45k/85k" + _d("hw", "device"))
    s.add_argument("--fclk", type=float, help="clock in MHz" + _d("hw", "fclk_mhz"))
    s.add_argument("--fps", type=float, help="target frames/s: the cheapest folding that meets "
                   "it (default: the fastest folding that fits the device budget)")
    s.add_argument("--out", type=Path, help="write estimate.json/.csv/.md and plots here")

    m = add("sim", "rerun the Verilator simulation of a build's RTL against its golden outputs")
    m.add_argument("dir", type=Path, help="build folder (made with --backend rtl)")
    m.add_argument("--images", type=int, help="simulate the first N of sim/inputs.npy "
                   "(default: all)")
    m.add_argument("--waves", action="store_true", help="write an FST waveform of every signal "
                   "to sim/waves.fst (large: the main job's 5 images take about 140 MB; see "
                   "--waves-from/--waves-cycles)")
    m.add_argument("--waves-from", type=int, metavar="CYCLE", help="with --waves: the first "
                   "cycle dumped (default: 0)")
    m.add_argument("--waves-cycles", type=int, metavar="N", help="with --waves: dump N cycles "
                   "only (default: to the end of the run)")

    y = add("synth", "Yosys synth_xilinx of a build's RTL, beside the estimate")
    y.add_argument("dir", type=Path, help="build folder (with rtl/filelist.f)")
    y.add_argument("--timeout", type=float, default=3600, help="seconds (default: 3600)")
    y.add_argument("--per-block", action="store_true", help="synthesize each distinct block "
                   "instance alone (cached by content) and sum, with a per-layer table, instead "
                   "of the whole design in one run (docs/estimates.md compares the two)")
    y.add_argument("--jobs", type=int, help="with --per-block: Yosys runs at a time "
                   "(default: the CPUs available, at most 8)")
    g = add("timing", "logic levels of every block of a build, per layer, and the clock they "
            "support")
    g.add_argument("dir", type=Path, help="build folder (with rtl/, graph/ and flow.toml)")
    g.add_argument("--jobs", type=int, help="Yosys runs at a time (default: the CPUs available, "
                   "at most 8)")
    g.add_argument("--timeout", type=float, default=3600, help="seconds (default: 3600)")
    r = add("pnr", "place and route a build for an ECP5 part with nextpnr: Fmax, utilisation")
    r.add_argument("dir", type=Path, help="build folder made with --device ecp5-25k/45k/85k")
    r.add_argument("--seed", type=int, default=1, help="placer seed (default: 1)")
    r.add_argument("--freq", type=float, help="target MHz for the timing-driven placer "
                   "(default: nextpnr's)")
    r.add_argument("--bitstream", action="store_true", help="place and route in context (pins "
                   "where nextpnr puts them) and write pnr/sat_accel.bit with ecppack")
    r.add_argument("--timeout", type=float, default=7200, help="seconds (default: 7200)")
    v = add("svtb", "run the self-contained SystemVerilog testbench of a build's integration "
            "top (sat_accel_axi) under Verilator: every output beat and TLAST against golden")
    v.add_argument("dir", type=Path, help="build folder (made with --backend rtl)")
    v.add_argument("--images", type=int, help="the first N of the images in rtl/tb/ "
                   "(default: all)")
    v.add_argument("--valid-pct", type=int, default=80, help="share of cycles the source offers "
                   "a beat, 1-100 (default: 80)")
    v.add_argument("--ready-pct", type=int, default=80, help="share of cycles the sink takes "
                   "one, 1-100 (default: 80)")
    v.add_argument("--seed", type=int, default=1, help="random seed (default: 1)")
    return ap, {"train": t, "eval": e, "build": b, "estimate": s, "sim": m, "synth": y,
                "timing": g, "pnr": r, "svtb": v}


def _parse(argv: list[str] | None) -> argparse.Namespace:
    """Parse; an unknown flag is reported by its subcommand's parser, with a close match."""
    import difflib

    ap, subs = _parser()
    a, extra = ap.parse_known_args(argv)
    if extra:
        p = subs[a.command]
        known = [o for act in p._actions for o in act.option_strings]
        hint = difflib.get_close_matches(extra[0].split("=")[0], known, n=1)
        p.error(f"unrecognized arguments: {' '.join(extra)}"
                + (f" (did you mean {hint[0]}?)" if hint else ""))
    return a


def _run(a: argparse.Namespace) -> int:
    if a.command == "train":
        from sat_hw.flow.train import run_training

        cfg = load_config(a.config, _overrides(a))
        run_training(cfg, a.out, init=a.init, resume=a.resume)
        return 0
    if a.command == "eval":
        from sat_hw.flow.evaluate import run_eval

        if a.images is not None and a.images < 1:
            raise ValueError(f"--images must be >= 1, got {a.images}")
        if a.batch_size < 1:
            raise ValueError(f"--batch-size must be >= 1, got {a.batch_size}")
        data = {"name": a.data, "root": a.data_root}
        if a.data is not None:  # validated like the config key
            data = load_config(None, {"data": data})["data"]
        res = run_eval(a.checkpoint, data, batch_size=a.batch_size, images=a.images)
        print(f"top1 {100 * res['top1']:.2f} % on {res['images']} {res['data']} test images "
              f"({res['data_source']})")
        return 0
    if a.command == "build":
        from sat_hw.flow.build import build

        cfg = load_config(a.config, _overrides(a))
        build(cfg, checkpoint=a.checkpoint, explicit=_overrides(a), no_sim=a.no_sim,
              config_file=a.config)
        return 0
    if a.command == "estimate":
        from sat_hw.flow.estimate import run_estimate

        o = _overrides(a)
        o["quant"].update(wbits=None, abits=None)
        wbits, abits = _csv_ints("--wbits", a.wbits), _csv_ints("--abits", a.abits)
        cfg = load_config(a.config, o)
        say = lambda m: print(f"sat_hw estimate: {m}", file=sys.stderr, flush=True)
        rows = run_estimate(cfg, [cfg["quant"]["wbits"]] if wbits is None else wbits,
                            [cfg["quant"]["abits"]] if abits is None else abits, a.out, a.fps,
                            say=say)
        if a.out is None:
            print(json.dumps(rows, indent=1))
        return 0
    if a.command == "sim":
        from sat_hw.flow.rtlphase import resimulate

        if (a.waves_from is not None or a.waves_cycles is not None) and not a.waves:
            raise ValueError("--waves-from/--waves-cycles choose a window of --waves: add "
                             "--waves")
        if a.waves_from is not None and a.waves_from < 0:
            raise ValueError(f"--waves-from {a.waves_from}: must be a cycle, 0 or more")
        if a.waves_cycles is not None and a.waves_cycles < 1:
            raise ValueError(f"--waves-cycles {a.waves_cycles}: must be 1 or more")
        resimulate(a.dir, a.images, a.waves,
                   say=lambda msg: print(f"sat_hw sim: {msg}", file=sys.stderr, flush=True),
                   waves_window=(a.waves_from or 0, a.waves_cycles))
        return 0
    if a.command == "synth":
        from sat_hw.flow.synthesis import synth_build

        if a.jobs is not None and a.jobs < 1:
            raise ValueError(f"--jobs must be >= 1, got {a.jobs}")
        if not a.timeout > 0:
            raise ValueError(f"--timeout must be above 0 seconds, got {a.timeout:g}")
        synth_build(a.dir, a.timeout, mode="per-block" if a.per_block else "whole",
                    jobs=a.jobs, say=lambda m: print(f"sat_hw synth: {m}", file=sys.stderr,
                                                     flush=True))
        return 0
    if a.command == "timing":
        from sat_hw.flow.levels import timing_build

        if a.jobs is not None and a.jobs < 1:
            raise ValueError(f"--jobs must be >= 1, got {a.jobs}")
        if not a.timeout > 0:
            raise ValueError(f"--timeout must be above 0 seconds, got {a.timeout:g}")
        timing_build(a.dir, a.jobs, a.timeout, say=lambda m: print(f"sat_hw timing: {m}",
                                                                   file=sys.stderr, flush=True))
        return 0
    if a.command == "pnr":
        from sat_hw.flow.pnr import pnr_build

        if not a.timeout > 0:
            raise ValueError(f"--timeout must be above 0 seconds, got {a.timeout:g}")
        pnr_build(a.dir, a.seed, a.freq, a.bitstream, a.timeout,
                  say=lambda m: print(f"sat_hw pnr: {m}", file=sys.stderr, flush=True))
        return 0
    if a.command == "svtb":
        return _svtb(a)
    raise AssertionError(a.command)


def _svtb(a: argparse.Namespace) -> int:
    from sat_hw.base.writer import require_kind
    from sat_hw.tools.svtb import run_axi_tb

    for flag, v in (("--valid-pct", a.valid_pct), ("--ready-pct", a.ready_pct)):
        if not 1 <= v <= 100:
            raise ValueError(f"{flag} {v}: must be 1 to 100")
    if a.images is not None and a.images < 1:
        raise ValueError(f"--images {a.images}: must be 1 or more")
    folder = require_kind(a.dir, "build")
    print(f"sat_hw svtb: verilator --binary --timing of {folder}/rtl/sat_accel_axi_tb.sv "
          "(cached by content)", file=sys.stderr, flush=True)
    r = run_axi_tb(folder / "rtl", a.images, a.valid_pct, a.ready_pct, a.seed)
    print(json.dumps(r, indent=1))
    line = (f"{'PASS' if r['passed'] else 'FAIL'}: {r['images']} image(s), {r['mismatches']} "
            f"mismatches, frame_error {int(r['frame_error'])}")
    if "cycles_per_image" in r:
        line += (f", {r['cycles_per_image']:,} cycles per image, latency "
                 f"{r['latency_cycles']:,} (valid {a.valid_pct} %, ready {a.ready_pct} %)")
    if "wload_beats" in r:
        line += (f"; weights loaded through s_axis_wload: {r['wload_beats']:,} beats, "
                 f"{r['early_beats']} image beats taken before")
    line += "".join(f"; {k}: {r[k]}" for k in ("first_mismatch", "stalled") if k in r)
    print(f"sat_hw svtb: {line}; built in {r['build_s']} s{' (cached)' if r['cached'] else ''}, "
          f"ran in {r['run_s']} s", file=sys.stderr)
    return 0 if r["passed"] else EXIT_VERIFY


def main(argv: list[str] | None = None) -> int:
    a = _parse(argv)
    try:
        return _run(a)
    except (ValueError, FileNotFoundError) as e:
        return _fail(a.command, e, EXIT_USAGE)
    except VerificationError as e:  # the design differs from golden or stalled
        return _fail(a.command, e, EXIT_VERIFY)
    except ToolError as e:  # Verilator, the compiler or Yosys failed or is missing
        return _fail(a.command, e, EXIT_TOOL)
    except TrainingCollapse as e:  # the guard stopped a training run
        return _fail(a.command, e, EXIT_COLLAPSE)
    except KeyboardInterrupt:
        print(f"sat_hw {a.command}: interrupted (nothing half-written is left)", file=sys.stderr)
        return EXIT_INTERRUPTED


def _fail(command: str, e: BaseException, status: int) -> int:
    """One line on stderr (the first line of the message; a FileNotFoundError from the OS says
    which file)."""
    msg = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
    if isinstance(e, FileNotFoundError) and e.filename and e.filename not in msg:
        msg = f"{e.strerror or msg}: {e.filename}"
    print(f"sat_hw {command}: error: {msg}", file=sys.stderr)
    return status
