"""Issue 10 in one GPU call: FP recipe variants, the model zoo from the best, part of the study.

Not a test: it trains and prints figures. Phases, each a set of `python -m sat_hw train`
processes sharing the GPU (one CPU core each):

  A. FP recipe variants (RECIPES) side by side, from scratch; the best final test top-1 wins.
  B. From the winner (`--init`): the zoo's SAT runs (ZOO: W2A2, W3A3, W3A4, W4A4, W8A8) and the
     study's seed-0 PACT and CG-PACT cells (W4A4, W3A3, W2A2), side by side.

Every phase first probes its throughput with all its processes running (`--max-steps`), then
picks the epochs that fit its share of `--budget-s`, so the whole call ends in time on whatever
GPU it gets. A process still running at the deadline is stopped; its last per-epoch checkpoint
and its partial history are reported as such. Meanwhile `benchmarks/train_speed.py` measures
the CPU training step on two otherwise idle cores (if the machine has >= 8 cores).

Writes into `--out` (at most 8 files): results.json (every run: recipe, epochs, history, top-1),
summary.md, ckpts.tar (model-state-only checkpoints: FP winner, zoo, study), logs.tar,
train_speed.json, recipe_gpu.log.

    python benchmarks/recipe_gpu.py --out $OUT --data-root .data/fashion-mnist --budget-s 520
    python benchmarks/recipe_gpu.py --out /tmp/r --max-steps 3 --budget-s 200   # CPU smoke test
"""

from __future__ import annotations

import argparse
import io
import json
import math
import os
import subprocess
import sys
import tarfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BATCH = 256
RECIPES = {  # FP variants: batch 256, Nesterov 0.9, 1 warm-up epoch, cosine to 0
    "A": {"lr": 0.1, "weight_decay": 5e-5, "label_smoothing": 0.0, "erase": 0.0, "crop_pad": 2},
    "B": {"lr": 0.1, "weight_decay": 5e-4, "label_smoothing": 0.0, "erase": 0.0, "crop_pad": 2},
    "C": {"lr": 0.1, "weight_decay": 5e-4, "label_smoothing": 0.1, "erase": 0.5, "crop_pad": 2},
    "D": {"lr": 0.2, "weight_decay": 1e-4, "label_smoothing": 0.1, "erase": 0.5, "crop_pad": 2},
}
ZOO = [(2, 2), (3, 3), (3, 4), (4, 4), (8, 8)]
STUDY_BITS = [(4, 4), (3, 3), (2, 2)]
SAT_LR_FACTOR = 0.5  # quantized runs from the FP model: half the FP peak learning rate
T0 = time.time()
LOG: list[str] = []


def say(msg: str) -> None:
    line = f"[{time.time() - T0:6.1f} s] {msg}"
    LOG.append(line)
    print(line, flush=True)


def toml(recipe: dict, epochs: int, data_root: str, eval_images: int) -> str:
    t = dict(recipe, epochs=epochs, batch_size=BATCH, warmup_epochs=1, eval_images=eval_images)
    body = "\n".join(f"{k} = {json.dumps(v)}" for k, v in t.items())
    return f'[data]\nroot = {json.dumps(data_root)}\n[train]\n{body}\n'


class Run:
    """One training process."""

    def __init__(self, name: str, method: str, wbits: int, abits: int, recipe: dict,
                 init: Path | None, seed: int, work: Path):
        self.name, self.method, self.wbits, self.abits = name, method, wbits, abits
        self.recipe, self.init, self.seed, self.work = recipe, init, seed, work
        self.ckpt = work / f"{name}.pt"
        self.proc: subprocess.Popen | None = None
        self.stopped = False

    def start(self, epochs: int, a, max_steps: int = 0, core: int | None = None,
              tag: str = "") -> None:
        cfg = self.work / f"{self.name}{tag}.toml"
        cfg.write_text(toml(self.recipe, epochs, a.data_root, 0 if not max_steps else 1000))
        out = self.work / f"{self.name}{tag}.pt"
        cmd = [sys.executable, "-m", "sat_hw", "train", "--config", str(cfg), "--method",
               self.method, "--seed", str(self.seed), "--out", str(out)]
        if self.method != "fp":
            cmd += ["--wbits", str(self.wbits), "--abits", str(self.abits)]
        if self.init is not None:
            cmd += ["--init", str(self.init)]
        if max_steps or a.max_steps:
            cmd += ["--max-steps", str(max_steps or a.max_steps)]
        self.cmd = cmd
        env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(ROOT), PYTHONUNBUFFERED="1")
        pre = ["taskset", "-c", str(core)] if core is not None and a.pin else []
        self.log = open(self.work / f"{self.name}{tag}.log", "w")
        self.proc = subprocess.Popen(pre + cmd, env=env, stdout=self.log,
                                     stderr=subprocess.STDOUT, cwd=ROOT)

    def wait(self, deadline: float) -> int:
        try:
            return self.proc.wait(timeout=max(1.0, deadline - time.time()))
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.stopped = True
            return self.proc.wait()
        finally:
            self.log.close()


def meta(path: Path) -> dict | None:
    import torch

    if not path.is_file():
        return None
    blob = torch.load(path, map_location="cpu", weights_only=False)
    hist = (blob.get("train_state") or {}).get("history", [])
    return {"meta": blob["meta"], "history": hist, "config": blob["config"]}


def run_phase(name: str, runs: list[Run], a, budget_s: float, max_epochs: int,
              min_epochs: int, fixed: int = 0) -> int:
    """Probe the phase's throughput with every run going, then run them for the epochs that fit
    (or ``fixed`` epochs: no probe)."""
    cores = list(range(len(runs)))
    if a.max_steps or fixed:  # smoke test: a fixed tiny run; or epochs given
        epochs = fixed or 1
        say(f"{name}: {epochs} epochs, {len(runs)} processes")
    else:
        t_start = time.time()
        for r, c in zip(runs, cores):
            r.start(1, a, max_steps=a.probe_steps, core=c, tag=".probe")
        rates = []
        for r in runs:
            rc = r.wait(time.time() + 240)
            m = meta(r.work / f"{r.name}.probe.pt")
            if rc != 0 or m is None:
                say(f"{name}: probe of {r.name} failed (rc {rc}): "
                    f"{(r.work / f'{r.name}.probe.log').read_text()[-1500:]}")
                continue
            rates.append(m["meta"]["images_per_s"])
        probe_s = time.time() - t_start
        if not rates:
            raise SystemExit(f"{name}: every probe failed")
        slow = min(rates)  # images/s of the slowest process while all run
        epoch_s = 60000 / slow * 1.12 + a.eval_s  # + ~10k test images forward, checkpoint
        left = budget_s - probe_s - a.startup_s
        epochs = max(min_epochs, min(max_epochs, math.floor(left / epoch_s)))
        say(f"{name}: probe {probe_s:.0f} s, slowest {slow:.0f} images/s with {len(runs)} "
            f"processes -> {epoch_s:.1f} s/epoch; {epochs} epochs in {left:.0f} s")
    deadline = time.time() + budget_s + 60  # stop what runs over by a minute
    for r, c in zip(runs, cores):
        r.start(epochs, a, core=c)
    for r in runs:
        rc = r.wait(min(deadline, a.deadline))
        tail = (r.work / f"{r.name}.log").read_text().strip().splitlines()[-1:] or [""]
        say(f"{name}: {r.name} rc {rc}{' (stopped at the deadline)' if r.stopped else ''}: "
            f"{tail[0]}")
    return epochs


def row(r: Run, phase: str, epochs: int) -> dict:
    m = meta(r.ckpt)
    d = {"name": r.name, "phase": phase, "method": r.method, "wbits": r.wbits, "abits": r.abits,
         "seed": r.seed, "init": str(r.init.name) if r.init else None, "recipe": r.recipe,
         "batch_size": BATCH, "epochs_planned": epochs, "stopped": r.stopped,
         "command": " ".join(["sat_hw"] + r.cmd[3:])}
    if m is not None:
        h = m["history"]
        d.update(top1=m["meta"]["top1"], epochs_done=m["meta"]["epoch"],
                 images_per_s=m["meta"]["images_per_s"], device=m["meta"]["device"],
                 history=[{k: e[k] for k in ("epoch", "loss", "train_top1", "top1")} for e in h])
    return d


def strip(path: Path) -> bytes:
    """A model-state-only copy of a checkpoint (no optimizer state), as bytes."""
    import torch

    blob = torch.load(path, map_location="cpu", weights_only=False)
    blob.pop("train_state", None)
    buf = io.BytesIO()
    torch.save(blob, buf)
    return buf.getvalue()


def tar_files(dest: Path, items: dict[str, bytes]) -> None:
    with tarfile.open(dest, "w") as tf:
        for name, data in items.items():
            info = tarfile.TarInfo(name)
            info.size, info.mtime = len(data), int(time.time())
            tf.addfile(info, io.BytesIO(data))


def summary(rows: list[dict], best: str) -> str:
    lines = ["# Issue 10 GPU run", "", f"FP recipe chosen: {best}", "",
             "| run | phase | method | W/A | epochs | top-1 (%) | images/s | note |",
             "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        wa = "32/32" if r["method"] == "fp" else f"{r['wbits']}/{r['abits']}"
        t = f"{100 * r['top1']:.2f}" if r.get("top1") is not None else "-"
        note = "stopped at deadline" if r["stopped"] else ""
        lines.append(f"| {r['name']} | {r['phase']} | {r['method']} | {wa} | "
                     f"{r.get('epochs_done', 0)}/{r['epochs_planned']} | {t} | "
                     f"{r.get('images_per_s', 0):.0f} | {note} |")
    return "\n".join(lines) + "\n"


def try_mps() -> bool:
    """Start the CUDA MPS daemon (kernels of several processes run concurrently); keep it only
    if a CUDA context still starts under it."""
    try:
        if subprocess.run(["nvidia-cuda-mps-control", "-d"], timeout=20).returncode != 0:
            return False
        ok = subprocess.run([sys.executable, "-c", "import torch; torch.zeros(1).cuda(); "
                             "torch.cuda.synchronize()"], timeout=90).returncode == 0
        if not ok:
            subprocess.run(["nvidia-cuda-mps-control"], input=b"quit\n", timeout=20)
        return ok
    except (OSError, subprocess.SubprocessError):
        return False


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--work", type=Path, default=Path("/tmp/recipe_gpu"))
    ap.add_argument("--data-root", default="")
    ap.add_argument("--budget-s", type=float, default=520, help="wall seconds for everything")
    ap.add_argument("--max-steps", type=int, default=0, help="smoke test: every run this long")
    ap.add_argument("--probe-steps", type=int, default=60)
    ap.add_argument("--startup-s", type=float, default=12, help="process start + data load")
    ap.add_argument("--eval-s", type=float, default=1.0, help="checkpoint etc. per epoch")
    ap.add_argument("--recipes", default=",".join(RECIPES))
    ap.add_argument("--no-study", action="store_true")
    ap.add_argument("--fp-epochs", type=int, default=0, help="fixed FP epochs (no probe)")
    ap.add_argument("--sat-epochs", type=int, default=0, help="fixed epochs of phase B")
    ap.add_argument("--share-a", type=float, default=0.38, help="phase A's share of the budget")
    ap.add_argument("--no-pin", dest="pin", action="store_false")
    ap.add_argument("--mps", action="store_true", help="try the CUDA MPS daemon")
    a = ap.parse_args()
    a.deadline = T0 + a.budget_s
    a.out.mkdir(parents=True, exist_ok=True)
    a.work.mkdir(parents=True, exist_ok=True)
    ncpu = os.cpu_count() or 1
    a.pin = a.pin and ncpu >= 16
    say(f"{ncpu} CPUs; budget {a.budget_s:.0f} s; mps {try_mps() if a.mps else 'not asked'}")
    speed = None
    if ncpu >= 8 and not a.max_steps:  # the CPU step on two idle cores, meanwhile
        speed = subprocess.Popen(
            ["taskset", "-c", f"{ncpu - 2},{ncpu - 1}", sys.executable,
             "benchmarks/train_speed.py", "--threads", "2", "--rounds", "5", "--steps", "20",
             "--data-root", a.data_root, "--json", str(a.out / "train_speed.json")],
            cwd=ROOT, stdout=open(a.work / "train_speed.log", "w"), stderr=subprocess.STDOUT,
            env=dict(os.environ, CUDA_VISIBLE_DEVICES=""))
    rows: list[dict] = []
    best_name = ""
    try:
        names = a.recipes.split(",")
        fp = [Run(f"fp_{k}", "fp", 32, 32, RECIPES[k], None, 0, a.work) for k in names]
        budget_a = a.share_a * (a.deadline - time.time() - 30)
        ep_a = run_phase("A", fp, a, budget_a, max_epochs=40, min_epochs=3, fixed=a.fp_epochs)
        rows += [row(r, "A", ep_a) for r in fp]
        done = [r for r in rows if r.get("top1") is not None]
        best = max(done, key=lambda r: r["top1"])
        best_name = best["name"]
        fp_best = a.work / f"{best_name}.pt"
        say(f"A: best {best_name} top-1 {100 * best['top1']:.2f} %")
        recipe = dict(RECIPES[best_name[3:]])
        recipe["lr"] = recipe["lr"] * SAT_LR_FACTOR
        b = [Run(f"zoo_sat_w{w}a{ab}", "sat", min(w, 8), min(ab, 8), recipe, fp_best, 0, a.work)
             for w, ab in ZOO]
        if not a.no_study:
            b += [Run(f"study_{m}_w{w}a{ab}_s0", m, w, ab, recipe, fp_best, 0, a.work)
                  for m in ("pact", "cgpact") for w, ab in STUDY_BITS]
        budget_b = a.deadline - time.time() - 25
        ep_b = run_phase("B", b, a, budget_b, max_epochs=30, min_epochs=2, fixed=a.sat_epochs)
        rows += [row(r, "B", ep_b) for r in b]
    finally:
        if speed is not None:
            try:
                speed.wait(timeout=max(1, a.deadline - time.time() + 15))
            except subprocess.TimeoutExpired:
                speed.kill()
        (a.out / "results.json").write_text(json.dumps(
            {"rows": rows, "best_fp": best_name, "batch_size": BATCH,
             "sat_lr_factor": SAT_LR_FACTOR, "seconds": time.time() - T0}, indent=1) + "\n")
        (a.out / "summary.md").write_text(summary(rows, best_name))
        ckpts = {}
        for r in rows:
            p = a.work / f"{r['name']}.pt"
            if p.is_file() and (r["phase"] == "B" or r["name"] == best_name):
                ckpts[f"{r['name']}.pt"] = strip(p)
        tar_files(a.out / "ckpts.tar", ckpts)
        logs = {p.name: p.read_bytes() for p in sorted(a.work.glob("*.log"))}
        logs.update({p.name: p.read_bytes() for p in sorted(a.work.glob("*.toml"))})
        tar_files(a.out / "logs.tar", logs)
        say(f"wrote {a.out}")
        (a.out / "recipe_gpu.log").write_text("\n".join(LOG) + "\n")


if __name__ == "__main__":
    main()
