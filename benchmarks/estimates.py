"""Regenerate every committed estimate result and the docs tables made from them (issue 21).

    .venv/bin/python benchmarks/estimates.py [--no-sweep]

1. ``benchmarks/estimate_finn.py``: ``benchmarks/results/estimate_finn.json`` and ``.md``;
2. ``benchmarks/estimate_sweep.py`` (unless ``--no-sweep``): ``benchmarks/results/
   estimate_mbv1_u250/`` (the 16-configuration sweep, its wall time printed);
3. the tables of docs/estimates.md and README.md between ``<!-- estimates:NAME -->`` and
   ``<!-- /estimates:NAME -->`` markers, rendered from those files by :func:`blocks` and
   :func:`readme_blocks`.

tests/test_estimate_figures.py renders the same blocks from the committed files and fails when
docs/estimates.md or the README differs, or when the planner no longer gives the committed rows.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

from docblocks import render_blocks

RESULTS = ROOT / "benchmarks" / "results"
DOC = ROOT / "docs" / "estimates.md"
README = ROOT / "README.md"


def _pct(v: float) -> str:
    return f"{100 * v:.1f} %"


def finn_table(data: dict) -> list[str]:
    import estimate_finn

    return estimate_finn.table(data["rows"])


def readme_table(data: dict) -> list[str]:
    """The README's short form of the FINN table: 4-bit last-layer weights (FINN's network)."""
    lines = ["| device, clock | folding | cycles/frame | frames/s (at the depth bound) | LUT | FF "
             "| BRAM18 | URAM | DSP |", "|---|---|---|---|---|---|---|---|---|"]
    for r in data["rows"]:
        if r["fc_wbits"] != 4:
            continue
        name = r["kind"] + (f" ({r['finn']})" if "finn" in r else "")
        lines.append(f"| {r['device'].upper()}, {r['fclk_mhz']:g} MHz | {name} "
                     f"| {r['interval_cycles']:,} | {r['fps']:,.0f} ({r['fps_depth_bound']:,.0f}) "
                     f"| {r['lut']:,} | {r['ff']:,} | {r['bram18']:,} | {r['uram']:,} "
                     f"| {r['dsp']:,} |")
    return lines


def five_thousand(data: dict) -> list[str]:
    f = data["five_thousand_u250"]
    out = [(f"- at {f['fclk_mhz']:g} MHz: an interval of at most {f['interval_cycles_max']:,} "
           f"cycles, i.e. at least {f['lanes_at_balance_1']:,} MAC lanes busy every cycle "
           f"({f['macs']:,} MACs per image);")]
    for k, name in (("lut", "LUT products only"), ("dsp", "with DSPs")):
        r = f[k]
        if "error" in r:
            out.append(f"- the planner, {name}: {r['error']};")
        else:
            out.append(f"- the planner, {name}: {r['interval_cycles']:,} cycles (the next "
                       f"interval the folds allow), {r['fps']:,.0f} frames/s, "
                       f"{r['mac_lanes']:,} lanes, LUT {r['lut']:,} "
                       f"({_pct(r['utilisation']['lut'])}), "
                       f"FF {r['ff']:,}, BRAM18 {r['bram18']:,}, DSP {r['dsp']:,};")
    out.append(f"- or the 3,318 frames/s plans' 100,352 cycles at {f['clock_at_100352_mhz']} MHz.")
    return out


def calibration_table(family: str = "") -> list[str]:
    name = "calibration.json" if not family else f"calibration_{family}.json"
    src = json.loads((ROOT / "sat_hw" / "hw" / name).read_text())["source"]
    h, t = src["errors_held_out"], src["errors_fitted"]
    lines = [("| resource | held-out n | held-out median | held-out p90 | fitted n | fitted median "
             "| fitted p90 |"), "|---|---|---|---|---|---|---|"]
    for k in ("lut", "ff", "bram18", "dsp"):
        lines.append(f"| {k.upper() if k != 'bram18' else 'BRAM18'} | {h[k]['n']} "
                     f"| {_pct(h[k]['median'])} | {_pct(h[k]['p90'])} | {t[k]['n']} "
                     f"| {_pct(t[k]['median'])} | {_pct(t[k]['p90'])} |")
    return lines


def blocks() -> dict[str, list[str]]:
    """Each generated block of docs/estimates.md, from the committed files."""
    data = json.loads((RESULTS / "estimate_finn.json").read_text())
    return {"finn": finn_table(data), "five-thousand": five_thousand(data),
            "calibration": calibration_table()}


def readme_blocks() -> dict[str, list[str]]:
    """Each generated block of README.md, from the committed files."""
    return {"finn": readme_table(json.loads((RESULTS / "estimate_finn.json").read_text()))}


def render(text: str, made: dict[str, list[str]], what: str = "docs/estimates.md") -> str:
    """``text`` with every marked block replaced by ``made``'s (a missing marker is an error)."""
    return render_blocks(text, "estimates", made, what)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--no-sweep", action="store_true", help="skip the 16-configuration sweep")
    a = ap.parse_args()
    py = sys.executable
    subprocess.run([py, str(ROOT / "benchmarks" / "estimate_finn.py")], check=True, cwd=ROOT)
    if not a.no_sweep:
        subprocess.run([py, str(ROOT / "benchmarks" / "estimate_sweep.py")], check=True, cwd=ROOT)
    DOC.write_text(render(DOC.read_text(), blocks()))
    README.write_text(render(README.read_text(), readme_blocks(), "README.md"))
    print(f"wrote the generated tables of {DOC.relative_to(ROOT)} and README.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
