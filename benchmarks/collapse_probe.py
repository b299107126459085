"""Per-step diagnostics of a training run (issue 25: which quantity runs away first).

Runs ``sat_hw.flow.train.run_training`` with a monitor that records, after every optimizer step,
one JSON line: the learning rate, the loss and its parts (cross-entropy, distillation KL), the
batch's training accuracy, the logits' and the teacher's logits' standard deviation, per
activation quantizer its alpha, alpha's gradient and the share of its inputs clipped at alpha,
per conv/fc layer max|tanh W|, rms W and the gradient norm of W, per BN layer the mean of its
running variance and of |running mean|, and the last layer's SAT weight scale. Every
``--eval-every`` steps it also scores the first ``--probe-images`` test images in eval mode.

    python benchmarks/collapse_probe.py --init fp.pt --distill fp.pt --width 1.0 --seed 1 \\
        --method sat --wbits 4 --abits 4 --lr 0.01 --max-steps 200 --log probe.jsonl

Row 0 is the model as training starts (after --init and calibration), before any step.
``--logit-scale FP.pt ... --log OUT.md`` tabulates the logit scale of SAT W4A4 made from FP
checkpoints under both fc rules. ``--compact LOG OUT`` writes a committable copy of a log (every step's scalars, everything at
steps 0-20 and every 10th step), ``--report FOLDER`` FOLDER/summary.md from the logs there
(committed: benchmarks/results/collapse_probe/).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

import torch
import torch.nn.functional as F

from sat_hw.flow import config as config_mod
from sat_hw.flow.evaluate import evaluate, first_items
from sat_hw.flow.train import lr_factor, run_training
from sat_hw.nn.batches import Loader
from sat_hw.nn.data import load_split
from sat_hw.nn.models import ActQ, QConv2d, QLinear
from sat_hw.nn.quant import quantize_weight, weight_scale


def _f(x) -> float:
    return float(x.detach()) if torch.is_tensor(x) else float(x)


class Probe:
    def __init__(self, cfg: dict, log: Path, eval_every: int, probe_images: int,
                 temperature: float, weight: float):
        self.cfg, self.log, self.eval_every = cfg, log, eval_every
        self.T, self.w = temperature, weight
        d, m = cfg["data"], cfg["model"]
        test = load_split(d["name"], d["root"], "test", m["resolution"], m["in_channels"])
        self.test = Loader(first_items(test, probe_images), torch.device("cpu"), 0)
        self.clip: dict[str, float] = {}
        self.hooked = False
        self.fh = log.open("w")
        t = cfg["train"]
        per_epoch = 60000 // t["batch_size"]
        self.total, self.warmup = per_epoch * t["epochs"], per_epoch * t["warmup_epochs"]

    def _hook(self, model) -> None:
        for name, mod in model.named_modules():
            if isinstance(mod, ActQ):
                def h(m, inp, out, name=name):
                    if m.training:
                        x = inp[0].detach()
                        self.clip[name] = float((x >= m.alpha.detach()).float().mean())
                mod.register_forward_hook(h)
        self.hooked = True

    def row(self, step: int, epoch: int, model, loss=None, logits=None, soft=None, y=None):
        r = {"step": step, "epoch": epoch + 1,
             "lr": self.cfg["train"]["lr"] * lr_factor(max(step - 1, 0), self.total, self.warmup)}
        if loss is not None:
            r["loss"] = _f(loss)
            ce = F.cross_entropy(logits.detach(), y)
            r["ce"] = _f(ce)
            r["acc"] = _f((logits.detach().argmax(1) == y).float().mean())
            r["logit_std"] = _f(logits.detach().std())
            if soft is not None:
                kl = F.kl_div(F.log_softmax(logits.detach() / self.T, 1),
                              F.log_softmax(soft / self.T, 1), reduction="batchmean",
                              log_target=True)
                r["kl_term"] = _f(self.w * self.T**2 * kl)
                r["teacher_logit_std"] = _f(soft.std())
        for name, mod in model.named_modules():
            if isinstance(mod, ActQ) and mod.method != "fp":
                r[f"alpha/{name}"] = _f(mod.alpha)
                g = mod.alpha.grad
                r[f"alpha_grad/{name}"] = _f(g) if g is not None else None
                if name in self.clip:
                    r[f"clip/{name}"] = self.clip[name]
            elif isinstance(mod, (QConv2d, QLinear)):
                w = mod.weight.detach()
                r[f"wmax/{name}"] = _f(torch.tanh(w).abs().max())
                r[f"wrms/{name}"] = _f(w.pow(2).mean().sqrt())
                if mod.weight.grad is not None:
                    r[f"wgrad/{name}"] = _f(mod.weight.grad.norm())
                if isinstance(mod, QLinear) and mod.method != "fp":
                    r[f"wscale/{name}"] = weight_scale(quantize_weight(w, mod.wbits), mod.n_out)
            elif isinstance(mod, torch.nn.BatchNorm2d):
                r[f"bn_var/{name}"] = _f(mod.running_var.mean())
                r[f"bn_mean/{name}"] = _f(mod.running_mean.abs().mean())
                r[f"bn_gamma/{name}"] = _f(mod.weight.abs().mean())
        if self.eval_every and step % self.eval_every == 0:
            r["test_top1"] = evaluate(model, self.test, 256)
            model.train()
        self.fh.write(json.dumps(r) + "\n")
        self.fh.flush()
        if step % 10 == 0:
            show = {k: r[k] for k in ("step", "lr", "loss", "ce", "kl_term", "acc", "logit_std",
                                     "test_top1") if k in r}
            print(json.dumps(show), file=sys.stderr, flush=True)

    def __call__(self, step, epoch, model, loss, logits, soft, y):
        if not self.hooked:
            self._hook(model)
            was = model.training
            self.row(0, 0, model)  # the starting point (gradients of step 1 present)
            model.train(was)
        self.row(step, epoch, model, loss, logits, soft, y)


SCALARS = ("step", "epoch", "lr", "loss", "ce", "kl_term", "acc", "logit_std",
           "teacher_logit_std", "test_top1", "alpha/layers.fc.act", "alpha/layers.pool.act",
           "bn_var/layers.pw13.bn", "alpha/quants.pool", "bn_var/layers.head.bn")


def compact(src: Path, dst: Path) -> None:
    """A committable copy of a log: every step's scalars (SCALARS); every alpha, BN running
    variance and weight-gradient norm at steps 0-20 and every 10th step (5 significant digits)."""
    lines, rows = [], [json.loads(line) for line in src.read_text().splitlines()]
    for r in rows:  # and the last 10 steps whole: where a run that stopped ran away
        full = r["step"] <= 20 or r["step"] % 10 == 0 or r["step"] > rows[-1]["step"] - 10
        keep = {k: v for k, v in r.items() if k in SCALARS or full and k.split("/")[0] in
                ("alpha", "bn_var", "wgrad")}
        lines.append(json.dumps({k: float(f"{v:.5g}") if isinstance(v, float) else v
                                 for k, v in keep.items()}))
    dst.write_text("\n".join(lines) + "\n")


def _bn_drift(rows: list[dict], step: int) -> tuple[float, float] | None:
    """Median and max over BN layers of |log(running var at ``step`` / at row 0)|."""
    at = next((r for r in rows if r["step"] == step), None)
    if at is None:
        return None
    keys = [k for k in rows[0] if k.startswith("bn_var/") and k in at]
    d = sorted(abs(math.log(at[k] / rows[0][k])) for k in keys)
    return d[len(d) // 2], d[-1]


def _runaway(rows: list[dict]) -> list[str]:
    """For a run whose values went non-finite: the largest weight-gradient norm (and its layer)
    in each of the last steps before, where the gradient grew."""
    def finite(r):
        return all(math.isfinite(v) for v in r.values() if isinstance(v, float))
    bad = next((i for i, r in enumerate(rows) if not finite(r)), None)
    if bad is None:
        return []
    seen = []
    for r in rows[max(bad - 9, 0):bad + 1]:
        g = [(v, k[6:]) for k, v in r.items() if k.startswith("wgrad/")]
        if g:
            v, k = max(g, key=lambda t: t[0] if math.isfinite(t[0]) else math.inf)
            seen.append(f"step {r['step']} {v:.3g} ({k})")
    return ["", f"First non-finite values after step {rows[bad]['step']}; the largest "
            "weight-gradient norm per step before: " + "; ".join(seen)]


def report(folder: Path, every: int = 50) -> str:
    """``summary.md`` for the logs in ``folder``: per run, every ``every`` steps the learning
    rate, the training top-1 over the last ``every`` steps, the probe's test top-1, the logits'
    std, the fc input's alpha and the last BN layer's mean running variance (pw13's in mbv1);
    for a run that went non-finite, the largest weight-gradient norm of its last steps; then,
    per pair of runs that differ only in ``quant.fc_scale``, the ratio of their weight-gradient
    norms over steps 1-20 (median per layer)."""
    import statistics

    logs = {p.stem: [json.loads(x) for x in p.read_text().splitlines()]
            for p in sorted(folder.glob("*.jsonl"))}
    out = ["# Per-step probes (benchmarks/collapse_probe.py)", ""]
    for name, rows in logs.items():
        fc_alpha = next(k for k in ("alpha/layers.fc.act", "alpha/quants.pool") if k in rows[0])
        last_bn = [k for k in rows[0] if k.startswith("bn_var/")][-1]
        bn = last_bn.split(".")[-2]
        out += [f"## {name}", "", ("| step | lr | train top-1, last steps (%) | test top-1 (%) | "
                                   "logit std | teacher logit std | fc input's alpha | "
                                   f"{bn} running var (mean) |"),
                "|---|---|---|---|---|---|---|---|"]
        accs = []
        for r in rows:
            if "acc" in r:
                accs.append(r["acc"])
            if r["step"] % every == 0:
                last = accs[-every:]
                tr = f"{100 * sum(last) / len(last):.2f}" if last else ""
                te = f"{100 * r['test_top1']:.2f}" if "test_top1" in r else ""
                out.append(f"| {r['step']} | {r['lr']:.4f} | {tr} | {te} | "
                           f"{r.get('logit_std', float('nan')):.2f} | "
                           f"{r.get('teacher_logit_std', float('nan')):.2f} | "
                           f"{r[fc_alpha]:.4f} | {r[last_bn]:.3f} |")
        out.append("")
        for r in (rows[1], rows[-1]):
            kl = f", distillation term {r['kl_term']:.3f}" if "kl_term" in r else ""
            tl = (f" (teacher {r['teacher_logit_std']:.2f})" if "teacher_logit_std" in r
                  else "")
            out.append(f"- step {r['step']}: loss {r['loss']:.3f}, cross-entropy {r['ce']:.3f}"
                       f"{kl}, logit std {r['logit_std']:.2f}{tl}")
        log = folder / f"{name}.log"
        if log.is_file():  # the trainer's own lines: the start and each epoch's test top-1
            out += [f"- trainer: {ln.strip()}" for ln in log.read_text().splitlines()
                    if ln.startswith(("start:", "epoch ", "sat_hw"))]
        out += _runaway(rows)
        drift = [(st, _bn_drift(rows, st)) for st in (50, 100, 200, 300, 500, 700)]
        drift = [f"step {st}: {d[0]:.3f} / {d[1]:.3f}" for st, d in drift if d]
        if drift:
            out += ["", "BN running variances, |log(now / row 0)| over the layers, median / "
                    "max: " + "; ".join(drift)]
        out.append("")
    for a in logs:
        if not a.endswith("_fanout") or a.replace("_fanout", "_fanin") not in logs:
            continue
        b = a.replace("_fanout", "_fanin")
        ra, rb = logs[a][1:21], logs[b][1:21]
        out += [f"## Weight-gradient norms, {a} / {b} (median over steps 1-{len(ra)})", "",
                "| layer | fan_out | fan_in | ratio |", "|---|---|---|---|"]
        for k in (k for k in ra[0] if k.startswith("wgrad/")):
            ma = statistics.median(r[k] for r in ra)
            mb = statistics.median(r[k] for r in rb)
            out.append(f"| {k[6:]} | {ma:.4g} | {mb:.4g} | {ma / mb:.2f} |")
        out.append("")
    text = "\n".join(out)
    (folder / "summary.md").write_text(text)
    return text


def logit_scale(fps: list[Path], out: Path) -> str:
    """Per FP checkpoint: its fc weight std and logit std, and SAT W4A4 made from it (``--init``
    and calibration on 256 training images, as training does) under each fc rule: Q* std, logit
    std and its ratio to the FP model's, on 512 training images. Written to ``out``."""
    from sat_hw.flow.train import _calib_images, _load_init
    from sat_hw.nn.checkpoint import load_checkpoint
    from sat_hw.nn.models import calibrate

    lines = ["| FP model | width | FP fc weight std (x sqrt(n_in)) | FP logit std | `fan_out` "
             "(paper): Q* std, logit std | `fan_in`: Q* std, logit std |",
             "|---|---|---|---|---|---|"]
    for path in fps:
        fp = load_checkpoint(path)
        c = fp.config
        train = load_split("fashion-mnist", None, "train", c["resolution"], c["in_channels"])
        x = _calib_images(train, 512, 1).float()
        with torch.no_grad():
            teacher = fp(x)
        std = float(fp.layers["fc"].fc.weight.detach().std())
        row = (f"| {path.name} | {c['width']:g} | {std:.4f} "
               f"({std * fp.layers['fc'].fc.in_features ** 0.5:.2f}) | {teacher.std():.2f} |")
        for rule in ("fan_out", "fan_in"):
            cfg = config_mod.load_config(None, {
                "model": {k: c[k] for k in ("width", "resolution", "in_channels", "classes")},
                "quant": {"method": "sat", "wbits": 4, "abits": 4, "fc_scale": rule}})
            m = config_mod.model_from_config(cfg)
            _load_init(m, path)
            calibrate(m, _calib_images(train, 256, 0), cfg["quant"]["calib_percentile"])
            with torch.no_grad():
                s = m(x)
            row += (f" {float(m.layers['fc'].fc.qweight().std()):.4f}, {s.std():.2f} "
                    f"({s.std() / teacher.std():.2f}x) |")
        lines.append(row)
    text = "\n".join(lines) + "\n"
    out.write_text(text)
    return text


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", type=Path)
    ap.add_argument("--method", default="sat")
    ap.add_argument("--wbits", type=int, default=4)
    ap.add_argument("--abits", type=int, default=4)
    ap.add_argument("--width", type=float, default=1.0)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--lr", type=float, default=0.01)
    ap.add_argument("--epochs", type=int, default=20)
    ap.add_argument("--batch-size", type=int, default=256)
    ap.add_argument("--max-steps", type=int, default=200)
    ap.add_argument("--init", type=Path)
    ap.add_argument("--distill", default="")
    ap.add_argument("--eval-every", type=int, default=25)
    ap.add_argument("--probe-images", type=int, default=1000)
    ap.add_argument("--log", type=Path)
    ap.add_argument("--out", type=Path)
    ap.add_argument("--report", type=Path, help="only write FOLDER/summary.md from its logs")
    ap.add_argument("--logit-scale", type=Path, nargs="+", metavar="FP",
                    help="only tabulate the logit scale of SAT W4A4 made from these FP "
                    "checkpoints under both fc rules (into --log)")
    ap.add_argument("--compact", type=Path, nargs=2, metavar=("LOG", "OUT"),
                    help="only write a committable copy of LOG (see compact())")
    ap.add_argument("--set", action="append", default=[],
                    help="section.key=value (TOML value), e.g. quant.fc_scale=\"fp\"")
    a = ap.parse_args(argv)
    if a.logit_scale:
        print(logit_scale(a.logit_scale, a.log or Path("logit_scale.md")), end="")
        return 0
    if a.compact:
        compact(*a.compact)
        return 0
    if a.report:
        print(report(a.report), end="")
        return 0
    over = {"model": {"width": a.width},
            "quant": {"method": a.method, "wbits": a.wbits, "abits": a.abits},
            "train": {"epochs": a.epochs, "batch_size": a.batch_size, "seed": a.seed,
                      "lr": a.lr, "max_steps": a.max_steps, "distill": a.distill,
                      "eval_images": a.probe_images}}
    import tomllib
    for s in a.set:
        key, val = s.split("=", 1)
        sec, k = key.split(".", 1)
        over.setdefault(sec, {})[k] = tomllib.loads(f"v = {val}")["v"]
    if a.log is None or a.out is None:
        ap.error("--log and --out are required (unless --report)")
    cfg = config_mod.load_config(a.config, over)
    t = cfg["train"]
    probe = Probe(cfg, a.log, a.eval_every, a.probe_images, t["distill_temperature"],
                  t["distill_weight"])
    s = run_training(cfg, a.out, a.init, monitor=probe)
    print(f"top1 {100 * (s['top1'] or math.nan):.2f} % after {s['steps']} steps", flush=True)
    return 0


if __name__ == "__main__":
    torch.set_num_threads(1)
    raise SystemExit(main())
