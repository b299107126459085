"""The residual networks' results (issue 23): top-1 of the zoo's ResNet-20 and MobileNetV2 models
and PyTorch-vs-golden agreement on all 10,000 Fashion-MNIST test images. Not a test.

Writes ``benchmarks/results/residual_zoo.json`` and renders its table into docs/residual.md
between ``<!-- residual:zoo -->`` and ``<!-- /residual:zoo -->`` (tests/test_residual_figures.py
keeps the two equal). ``--render`` only re-renders the table from the committed results.

    .venv/bin/python benchmarks/residual_results.py            # measure (minutes on 2 cores)
    .venv/bin/python benchmarks/residual_results.py --render
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from docblocks import render_blocks

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "residual_zoo.json"
DOC = ROOT / "docs" / "residual.md"
MODELS = ("resnet20", "mbv2")


def measure(images: int) -> dict:
    import numpy as np

    from sat_hw.graph import agreement, run_golden
    from sat_hw.nn.checkpoint import load_checkpoint
    from sat_hw.nn.data import load_split
    from sat_hw.nn.lower import lower, torch_codes

    index = json.loads((ROOT / "zoo" / "index.json").read_text())
    rows = []
    for e in index:
        c = e["config"]
        if c["name"] not in MODELS:
            continue
        row = {"file": e["file"], "model": c["name"], "method": c["method"], "top1": e["top1"],
               "epochs": e["epochs"], "command": e["command"]}
        if c["method"] != "fp":
            inner = next(v for k, v in c["bits"].items() if k != "conv0" and v["wbits"])
            row["bits"] = f"W{inner['wbits']}A{inner['abits']}"
            t = time.time()
            model = load_checkpoint(ROOT / "zoo" / e["file"])
            ds = load_split("fashion-mnist", "", "test", c["resolution"], c["in_channels"])
            x = ds.images[:images].numpy().astype(np.uint8)
            labels = ds.labels[:images].numpy()
            graph = lower(model)
            gold = run_golden(graph, x, batch=64)
            a = agreement(torch_codes(model, x), gold, graph)
            iso = a["isolated"]
            row.update(images=len(x), code_match=a["code_match_rate"],
                       top1_match=a["top1_match_rate"], codes=a["codes_compared"],
                       isolated_mismatches=iso["mismatches"], isolated_ties=iso["ties"],
                       golden_top1=float((gold.outputs.argmax(1) == labels).mean()),
                       seconds=round(time.time() - t, 1))
        rows.append(row)
        print(json.dumps(row), flush=True)
    return {"rows": rows}


def table(data: dict) -> list[str]:
    out = [("| zoo file | method | bits | epochs | top-1 (%) | golden top-1 (%) | codes equal to "
            "PyTorch (%) | differences in isolation (all ties?) |"),
           "|---|---|---|---|---|---|---|---|"]
    for r in data["rows"]:
        if r["method"] == "fp":
            out.append(f"| `{r['file']}` | fp | 32/32 | {r['epochs']} | {100 * r['top1']:.2f} "
                       "| - | - | - |")
            continue
        ties = "yes" if r["isolated_ties"] == r["isolated_mismatches"] else "no"
        out.append(f"| `{r['file']}` | {r['method']} | {r['bits']} | {r['epochs']} | "
                   f"{100 * r['top1']:.2f} | {100 * r['golden_top1']:.2f} | "
                   f"{100 * r['code_match']:.5f} of {r['codes']:,} | "
                   f"{r['isolated_mismatches']} ({ties}) |")
    return out


def render(text: str, data: dict) -> str:
    return render_blocks(text, "residual", {"zoo": table(data)}, "docs/residual.md")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--render", action="store_true")
    ap.add_argument("--images", type=int, default=10000)
    a = ap.parse_args()
    sys.path.insert(0, str(ROOT))
    if not a.render:
        RESULTS.write_text(json.dumps(measure(a.images), indent=1) + "\n")
    DOC.write_text(render(DOC.read_text(), json.loads(RESULTS.read_text())))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
