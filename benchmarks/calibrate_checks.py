"""Checks beside benchmarks/calibrate_yosys.py's fit (its ``--check-earlier`` and
``--check-build``): records of earlier sources synthesized again with today's RTL, and a build's
residual blocks synthesized alone beside the cost model. ``cy`` is calibrate_yosys (as it runs,
its family set)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from types import ModuleType


def check_earlier(cy: ModuleType, modules: set[str]) -> str:
    """Synthesize the first configuration of each block of ``modules`` (whose records are of
    earlier sources) with today's sources, not cached, beside its kept record: markdown."""
    older = {cy._config(r["module"], r["params"]): r for r in cy.load()["records"]}
    lines = [f"# Records of earlier sources against today's RTL ({cy.tool()})", "",
             ("Reproduce: `nice -n 10 .venv/bin/python benchmarks/calibrate_yosys.py "
              f"--family {cy.FAMILY} --check-earlier` (the first configuration of each block "
              "whose "
              "records a run with `--only` or `--fit-only` kept, synthesized again; nothing "
              "cached or refitted)."), "",
             "| block | parameters | cells | kept LUT | today LUT | kept FF | today FF |",
             "|---|---|---|---|---|---|---|"]
    done = set()
    for i, (module, params) in enumerate(cy.grid()):
        rec = older.get(cy._config(module, params))
        if module not in modules or module in done or rec is None:
            continue
        done.add(module)
        t0 = time.monotonic()
        now = cy.run_one(module, params, seed=i)["cells"]
        a, b = cy.yosys_resources(rec["cells"]), cy.yosys_resources(now)
        same = ({n: v for n, v in rec["cells"].items() if n != "$scopeinfo"}
                == {n: v for n, v in now.items() if n != "$scopeinfo"})
        ps = " ".join(f"{n}={v}" for n, v in params.items() if n != "ENCODING")
        lines.append(f"| {module} | {ps} | {'identical' if same else 'differ'} | {a.lut} "
                     f"| {b.lut} | {a.ff} | {b.ff} |")
        print(f"calibrate: {module} {params}: {'identical' if same else 'differ'} "
              f"({time.monotonic() - t0:.0f} s)", flush=True)
    return "\n".join(lines) + "\n"


def check_build(cy: ModuleType, folder: Path) -> str:
    """Each ``sat_add`` and ``sat_fork`` instance of the build in ``folder`` (``sat_hw build``),
    synthesized alone with its own multiplier ROM, beside the cost model: markdown."""
    from sat_hw.flow.synthesis import _hardware, _rom_images, build_inputs
    from sat_hw.hw.cost import block_cost

    _, images, cfg = build_inputs(folder)
    plan = _hardware(folder, cfg, cy.FAMILY)
    lines = [f"# The residual blocks of a build against the cost model ({cy.tool()})", "",
             (f"Build `{folder.name}`, each `sat_add` and `sat_fork` instance synthesized alone "
              "with its ROM image (`--check-build`); 'alike': every word of its multiplier ROM "
              "the same."), "",
             "| instance | parameters | alike | Yosys LUT | model LUT | Yosys FF | model FF |",
             "|---|---|---|---|---|---|---|"]
    total, done = [0, 0, 0, 0], {}
    for b in (b for lp in plan.layers for b in lp.blocks if b.module in ("sat_add", "sat_fork")):
        p, roms = _rom_images(b.params, images)  # MUL_FILE as mul.hex, its image under it
        files = {**cy.DEFAULT_ROMS, **roms}
        k = json.dumps([b.module, p, files.get("mul.hex")], sort_keys=True)
        if k not in done:
            run = cy.synth([str(f) for f in cy.deps(b.module)], b.module, p, family=cy.FAMILY,
                           files=files)
            done[k] = cy.yosys_resources(run.cells)
        y, m = done[k], block_cost(b, cy.FAMILY)
        for j, v in enumerate((y.lut, m.lut, y.ff, m.ff)):
            total[j] += v
        words = set(files.get("mul.hex", "").split())
        ps = " ".join(f"{n}={v}" for n, v in p.items() if n != "MUL_FILE")
        lines.append(f"| {b.name} | {ps} | {'yes' if len(words) == 1 else '-'} | {y.lut} "
                     f"| {m.lut} | {y.ff} | {m.ff} |")
    lines.append("| all | | | {} | {} | {} | {} |".format(*total))
    return "\n".join(lines) + "\n"
