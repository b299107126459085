"""Train the residual networks' zoo candidates on the CPU (issue 23): FP, then SAT W4A4, SAT W2A2,
PACT W2A2 and SAT W3A3 from it, for ResNet-20 and MobileNetV2 at the project's default shape (width 0.25,
28 px, Fashion-MNIST). Not a test.

A reduced recipe sized for this project's 2-core CPU (flow.toml's is 35 FP epochs): FP
``--fp-epochs`` epochs at lr 0.1, then each quantized run ``--q-epochs`` epochs from it, distilled
from it (lr 0.01 for W4A4, 0.05 for W2A2, as the mbv1 zoo's recipe). The two models train side by
side, one thread each. Resumable: a finished checkpoint is skipped, a partial one (per-epoch
checkpoints) continued with ``--resume``. Logs and checkpoints go to ``--runs``.

    python benchmarks/residual_zoo.py --runs /work/runs --models resnet20 --fp-epochs 8 --q-epochs 4
    python benchmarks/residual_zoo.py --runs /work/runs --models mbv2 --fp-epochs 4 --q-epochs 2

(as run for the zoo, the two side by side: MobileNetV2 trains at about a third of ResNet-20's
images/s here, so it got half the epochs.)
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SAT_HW = [sys.executable, "-m", "sat_hw"]


def steps(model: str, runs: Path, fp_epochs: int, q_epochs: int) -> list[tuple[Path, list[str]]]:
    fp = runs / f"{model}_fm_fp.pt"
    common = ["--model", model, "--batch-size", "256"]
    out = [(fp, [*common, "--method", "fp", "--epochs", str(fp_epochs), "--lr", "0.1"])]
    for method, w, a, lr in (("sat", 4, 4, 0.01), ("sat", 2, 2, 0.05), ("pact", 2, 2, 0.05),
                             ("sat", 3, 3, 0.05)):
        out.append((runs / f"{model}_fm_{method}_w{w}a{a}.pt",
                    [*common, "--method", method, "--wbits", str(w), "--abits", str(a),
                     "--epochs", str(q_epochs), "--lr", f"{lr:g}", "--init", str(fp),
                     "--distill", str(fp)]))
    return out


def run_step(out: Path, args: list[str], threads: int = 1) -> None:
    """One ``sat_hw train`` run to checkpoint ``out`` on ``threads`` threads, its log beside it:
    skipped when ``<out>.done`` exists, continued with ``--resume`` when ``out`` does."""
    done = out.with_suffix(".done")
    if done.exists():
        return
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "PYTHONPATH": str(ROOT)}
    cmd = [*SAT_HW, "train", *args, "--out", str(out)] + (["--resume"] if out.exists() else [])
    with open(out.with_suffix(".log"), "a") as log:
        log.write(" ".join(cmd) + "\n")
        log.flush()
        rc = subprocess.run(cmd, stdout=log, stderr=subprocess.STDOUT, env=env,
                            check=False).returncode
    if rc:
        raise SystemExit(f"{out.name} failed (exit {rc}); see {out.with_suffix('.log')}")
    done.write_text("ok\n")


def chain(model: str, runs: Path, fp_epochs: int, q_epochs: int) -> None:
    for out, args in steps(model, runs, fp_epochs, q_epochs):
        run_step(out, args)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=Path, required=True)
    ap.add_argument("--fp-epochs", type=int, default=8)
    ap.add_argument("--q-epochs", type=int, default=4)
    ap.add_argument("--models", default="resnet20,mbv2")
    a = ap.parse_args()
    a.runs.mkdir(parents=True, exist_ok=True)
    models = a.models.split(",")
    with ThreadPoolExecutor(len(models)) as pool:
        for f in [pool.submit(chain, m, a.runs, a.fp_epochs, a.q_epochs) for m in models]:
            f.result()


if __name__ == "__main__":
    main()
