"""Put trained checkpoints into the model zoo (zoo/): model state only, top-1 re-measured here.

Not a test. Each `--entry NAME=CKPT[:INIT_NAME]` copies CKPT (a sat_hw checkpoint) to
zoo/NAME.pt without optimizer state, scores it on the full Fashion-MNIST test set on this
machine's CPU, and writes zoo/index.json (what `sat_hw build` looks up) and zoo/README.md (the
table). The reproducing command of each entry is rebuilt from its recorded training settings.

    python benchmarks/make_zoo.py --entry mbv1_fm_fp=/tmp/fp.pt \
        --entry mbv1_fm_sat_w4a4=/tmp/w4a4.pt:mbv1_fm_fp
    python benchmarks/make_zoo.py --update --entry mbv1_fm_sat_w4a4=/tmp/kd.pt:mbv1_fm_fp \
        --note "mbv1_fm_sat_w4a4=CPU; ..."
"""

from __future__ import annotations

import argparse
import json
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

from sat_hw.flow.config import defaults  # noqa: E402
from sat_hw.flow.evaluate import run_eval  # noqa: E402

ZOO = ROOT / "zoo"
KEEP_META = ("epoch", "step", "top1", "method", "wbits", "abits", "seed", "epochs", "data",
             "batch_size", "lr", "device", "world_size", "distill", "ema")


def command(name: str, blob: dict, init: str | None, zoo_names: dict | None = None) -> str:
    """The `sat_hw train` command that reproduces ``blob`` with flow.toml's default recipe."""
    m, c = blob["meta"], blob["config"]
    parts = ["sat_hw train"] + ([f"--model {c['name']}"] if c["name"] != "mbv1" else [])
    if c["width"] != defaults()["model"]["width"]:
        parts.append(f"--width {c['width']:g}")
    parts.append(f"--method {c['method']}")
    if c["method"] != "fp":
        parts.append(f"--wbits {m['wbits']} --abits {m['abits']}")
    parts.append(f"--epochs {m['epochs']} --batch-size {m['batch_size']} --lr {m['lr']:g}")
    if init:
        parts.append(f"--init zoo/{init}.pt")
    if _distill(blob):
        parts.append(f"--distill {_distill(blob, zoo_names)}")
    if m.get("seed"):
        parts.append(f"--seed {m['seed']}")
    if m.get("ema"):
        parts.append(f"--ema {m['ema']:g}")
    parts.append(f"--out {name}.pt")
    return " ".join(parts)


def _distill(blob: dict, zoo_names: dict | None = None) -> str | None:
    """The teacher a checkpoint was distilled from (its meta, else its saved configuration);
    a teacher that is itself one of this run's entries (``zoo_names``: source path -> name) is
    named by its zoo file."""
    if blob["meta"].get("distill"):
        t = blob["meta"]["distill"]
    else:
        toml = blob.get("train_state", {}).get("config_toml")
        t = tomllib.loads(toml)["train"].get("distill") or None if toml else None
    if t and zoo_names:
        t = ",".join(f"zoo/{zoo_names[x]}.pt" if x in zoo_names else x for x in t.split(","))
    return t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--entry", action="append", required=True, help="NAME=CKPT[:INIT_NAME]")
    ap.add_argument("--note", action="append", default=[], help="NAME=text for the table")
    ap.add_argument("--data-root", default="")
    ap.add_argument("--update", action="store_true",
                    help="keep the other entries of zoo/index.json (replace or add only these)")
    a = ap.parse_args()
    notes = dict(n.split("=", 1) for n in a.note)
    ZOO.mkdir(exist_ok=True)
    index = ZOO / "index.json"
    kept = json.loads(index.read_text()) if a.update and index.is_file() else []
    rows = []
    sources = {s.split("=", 1)[1].partition(":")[0]: s.split("=", 1)[0] for s in a.entry}
    for spec in a.entry:
        name, rest = spec.split("=", 1)
        src, _, init = rest.partition(":")
        blob = torch.load(src, map_location="cpu", weights_only=False)
        cmd = command(name, blob, init or None, sources)
        meta = {k: blob["meta"][k] for k in KEEP_META if k in blob["meta"]}
        meta.update(init=f"zoo/{init}.pt" if init else None, command=cmd,
                    distill=_distill(blob, sources),
                    top1_training_device=blob["meta"].get("top1"))
        out = {k: blob[k] for k in ("format", "version", "config", "state_dict")}
        out["meta"] = meta
        dest = ZOO / f"{name}.pt"
        torch.save(out, dest)
        res = run_eval(dest, {"name": "fashion-mnist", "root": a.data_root})
        meta["top1"] = res["top1"]
        torch.save(dict(out, meta=meta), dest)
        print(f"{name}: top-1 {100 * res['top1']:.2f} % on {res['images']} test images "
              f"(training device said {100 * (meta['top1_training_device'] or 0):.2f} %)",
              flush=True)
        rows.append({"file": dest.name, "data": "fashion-mnist", "config": out["config"],
                     "top1": res["top1"], "test_images": res["images"],
                     "top1_training_device": meta["top1_training_device"],
                     "epochs": meta.get("epochs"), "init": meta["init"], "command": cmd,
                     "note": notes.get(name, "")})
    new = {r["file"] for r in rows}
    rows = sorted([r for r in kept if r["file"] not in new] + rows, key=lambda r: r["file"])
    index.write_text(json.dumps(rows, indent=1) + "\n")
    lines = ["# sat_hw model zoo", "",
             "MobileNetV1 (mbv1), MobileNetV2 (mbv2) and ResNet-20 (resnet20), width 0.25 unless "
             "the command says `--width`, 28 px, 1 channel, 10 classes, trained on Fashion-MNIST "
             "(model state only; `sat_hw.nn.checkpoint.load_checkpoint`). `sat_hw build` without "
             "`--checkpoint` uses the entry whose shape and per-layer bits match the "
             "configuration (`--no-zoo` builds the seeded, calibrated model instead). Top-1 on "
             "all 10,000 test images, measured on the CPU by `benchmarks/make_zoo.py` (equal to "
             "what the training device measured after training). The commands use flow.toml's "
             "default recipe for everything they do not set; they ran on a lent H200 "
             "(`benchmarks/recipe_gpu.py`, two runs) unless the note says CPU. For each bit "
             "setting the zoo keeps the best run; the note gives the others' top-1. See "
             "`benchmarks/results/recipe_fashion_mnist.md`.", "",
             "| file | model | method | W/A (inner; conv0/fc weights) | top-1 (%) | epochs | init | "
             "command | note |", "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        c = r["config"]
        b = c["bits"]
        inner = next(v for k, v in b.items() if k != "conv0" and v["wbits"])
        wa = "32/32" if c["method"] == "fp" else (
            f"W{inner['wbits']}A{inner['abits']}; "
            f"W{b['conv0']['wbits']}/W{b['fc']['wbits']}")
        model = c["name"] if c["width"] == defaults()["model"]["width"] else (
            f"{c['name']}, width {c['width']:g}")
        lines.append(f"| `{r['file']}` | {model} | {c['method']} | {wa} | "
                     f"{100 * r['top1']:.2f} | "
                     f"{r['epochs']} | {('`' + r['init'] + '`') if r['init'] else 'scratch'} | "
                     f"`{r['command']}` | {r['note']} |")
    (ZOO / "README.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
