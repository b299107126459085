"""The ``sat_hw`` command line. Flags override ``--config``, which overrides the shipped defaults.

Expected errors (bad values, missing files) print one line on stderr and exit with status 2.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .config import load_config

EXIT_USAGE = 2


def _csv_ints(s: str) -> list[int]:
    try:
        return [int(p) for p in s.split(",") if p.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {s!r}") from None


def _model_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", help="architecture (mbv1)")
    p.add_argument("--wbits", type=int, help="weight bits of the inner layers, 1..8")
    p.add_argument("--abits", type=int, help="activation bits, 1..8")
    p.add_argument("--width", type=float, help="width multiplier")
    p.add_argument("--resolution", type=int, help="input resolution in pixels")
    p.add_argument("--in-channels", type=int, help="input channels")
    p.add_argument("--classes", type=int, help="output classes")
    p.add_argument("--config", type=Path, help="flow.toml with settings to merge over the defaults")


def _overrides(a: argparse.Namespace) -> dict:
    get = lambda k: getattr(a, k, None)
    return {
        "model": {"name": get("model"), "width": get("width"), "resolution": get("resolution"),
                  "in_channels": get("in_channels"), "classes": get("classes")},
        "quant": {"wbits": get("wbits"), "abits": get("abits"), "method": get("method")},
        "data": {"name": get("data"), "root": get("data_root")},
        "train": {"epochs": get("epochs"), "batch_size": get("batch_size"), "lr": get("lr"),
                  "seed": get("train_seed"), "max_steps": get("max_steps")},
        "build": {"out": None if get("out") is None or a.command != "build" else str(a.out),
                  "seed": get("seed") if a.command == "build" else None,
                  "images": get("images"), "backend": get("backend")},
        "hw": {"device": get("device"), "fclk_mhz": get("fclk"), "fps": get("fps")},
    }


def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="sat_hw", description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="command", required=True)

    t = sub.add_parser("train", help="SAT quantization-aware training")
    _model_flags(t)
    t.add_argument("--method", help="fp | pact | cgpact | sat")
    t.add_argument("--data", help="fashion-mnist | cifar10 | imagefolder")
    t.add_argument("--data-root", help="dataset folder (default: the dataset's own)")
    t.add_argument("--epochs", type=int)
    t.add_argument("--batch-size", type=int)
    t.add_argument("--lr", type=float)
    t.add_argument("--seed", dest="train_seed", type=int)
    t.add_argument("--max-steps", type=int, help="stop after this many steps (smoke runs)")
    t.add_argument("--init", type=Path, help="initialise from this checkpoint (e.g. the FP model)")
    t.add_argument("--resume", action="store_true", help="continue from --out's last epoch")
    t.add_argument("--out", type=Path, required=True, help="checkpoint file to write")

    e = sub.add_parser("eval", help="top-1 of a checkpoint on a test set")
    e.add_argument("checkpoint", type=Path)
    e.add_argument("--data", help="fashion-mnist | cifar10 | imagefolder")
    e.add_argument("--data-root")
    e.add_argument("--batch-size", type=int, default=256)

    b = sub.add_parser("build", help="lower, generate and verify an accelerator")
    _model_flags(b)
    b.add_argument("--checkpoint", type=Path, help="trained checkpoint (default: seeded, calibrated)")
    b.add_argument("--out", type=Path, help="build folder (default: builds/<model>_w<wbits>a<abits>)")
    b.add_argument("--seed", type=int, help="seed of the untrained model and random inputs")
    b.add_argument("--backend", help="rtl,hls")
    b.add_argument("--images", type=int, help="images to run through golden and simulation")
    b.add_argument("--no-sim", action="store_true", help="skip simulation")
    b.add_argument("--device", help="target FPGA for estimates")
    b.add_argument("--fclk", type=float, help="clock in MHz")
    b.add_argument("--fps", type=float, help="target frames/s for folding")
    return ap


def _run(a: argparse.Namespace) -> int:
    if a.command == "train":
        from .train import run_training

        cfg = load_config(a.config, _overrides(a))
        run_training(cfg, a.out, init=a.init, resume=a.resume)
        return 0
    if a.command == "eval":
        from .train import run_eval

        data = load_config(None, {"data": {"name": a.data, "root": a.data_root}})["data"]
        res = run_eval(a.checkpoint, data, batch_size=a.batch_size)
        print(f"top1 {100 * res['top1']:.2f} % on {res['images']} images")
        return 0
    if a.command == "build":
        from .build import build

        cfg = load_config(a.config, _overrides(a))
        build(cfg, checkpoint=a.checkpoint, explicit=_overrides(a), no_sim=a.no_sim)
        return 0
    raise AssertionError(a.command)


def main(argv: list[str] | None = None) -> int:
    a = _parser().parse_args(argv)
    try:
        return _run(a)
    except (ValueError, FileNotFoundError) as e:
        print(f"sat_hw {a.command}: error: {e}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print(f"sat_hw {a.command}: interrupted", file=sys.stderr)
        return 130
