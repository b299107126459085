"""SAT training and evaluation speed on the CPU: the reference quantizers vs the faster ones
(issue 10). Not a test: it prints figures.

Variants (the first listed is the baseline of the speed-ups):

- ``reference``: both quantizers as first landed (plain autograd, eager passes);
- ``restructured``: the last stop's eager activation quantizer (fewer passes, masks saved);
- ``fast``: today's default: the activation quantizer's fused C loops (``sat_hw.nn.fused``) and the
  weight quantizer as one autograd node (``quant._WeightQuant``).

All give identical values and gradients (tests/test_quant.py, tests/test_train.py). They run in
one process, alternating, on the same data and model (mbv1 0.25, 28 px, Fashion-MNIST, SAT W4A4
by default): each round times ``--steps`` real training steps (augmentation, forward, backward,
SGD) per variant; the figure is the best round (the least disturbed by other work on the
machine) and the median. Evaluation: ``--eval-images`` test images through the eval forward,
reference quantizer run as a module (codes recovered from its output) against codes taken
directly.

    python benchmarks/train_speed.py --threads 2 --rounds 5 --json /tmp/train_speed.json
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from sat_hw.flow.config import load_config, model_from_config  # noqa: E402
from sat_hw.flow.evaluate import evaluate  # noqa: E402
from sat_hw.nn import fused, models, quant  # noqa: E402
from sat_hw.nn.batches import augment  # noqa: E402
from sat_hw.nn.data import load_split  # noqa: E402
from sat_hw.nn.models import calibrate  # noqa: E402

VARIANTS = {  # name: (activation quantizer, fused kernels, weight quantizer)
    "reference": (quant._ActQuantReference, False, quant._weight_quant_reference),  # first landed
    "restructured": (quant._ActQuant, False, quant._weight_quant_reference),  # the last stop's
    "fast": (quant._ActQuant, True, quant.quantize_weight),  # fused kernels, one weight node
}


def use(name: str) -> None:
    """Switch the quantizers to ``name``'s."""
    quant._ActQuant, fused.ENABLED, models.quantize_weight = VARIANTS[name]


def _model(cfg: dict, images: torch.Tensor):
    model = model_from_config(cfg, seed=0)
    calibrate(model, images[:256])
    return model


def train_round(model, opt, x_all, y_all, steps: int, batch: int, start: int) -> float:
    """Seconds for ``steps`` training steps."""
    model.train()
    g = torch.Generator()
    t0 = time.perf_counter()
    for s in range(steps):
        i = ((start + s) * batch) % (len(x_all) - batch)
        g.manual_seed(s)
        x = augment(x_all[i:i + batch], g).float()
        loss = F.cross_entropy(model(x), y_all[i:i + batch])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--batch-size", type=int, default=128)
    ap.add_argument("--wbits", type=int, default=4)
    ap.add_argument("--abits", type=int, default=4)
    ap.add_argument("--eval-images", type=int, default=2000)
    ap.add_argument("--data-root", default="")
    ap.add_argument("--variants", default=",".join(VARIANTS),
                    help="comma-separated, the first is the baseline: " + ", ".join(VARIANTS))
    ap.add_argument("--json", type=Path)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    cfg = load_config(None, {"quant": {"method": "sat", "wbits": a.wbits, "abits": a.abits},
                             "data": {"root": a.data_root}})
    train = load_split("fashion-mnist", a.data_root, "train", 28, 1)
    test = load_split("fashion-mnist", a.data_root, "test", 28, 1)
    x_all, y_all = train.images[:20000], train.labels[:20000]
    names = a.variants.split(",")
    nets = {k: _model(cfg, x_all) for k in names}
    opts = {k: torch.optim.SGD(m.parameters(), lr=0.01, momentum=0.9, nesterov=True)
            for k, m in nets.items()}
    times: dict[str, list[float]] = {k: [] for k in names}
    for r in range(a.rounds + 1):  # round 0 warms up (and compiles the fused kernel)
        for k in names:
            use(k)
            dt = train_round(nets[k], opts[k], x_all, y_all, a.steps, a.batch_size, r * a.steps)
            if r:
                times[k].append(dt)
    use("fast")
    ips = {k: {"best": a.steps * a.batch_size / min(v),
               "median": a.steps * a.batch_size / statistics.median(v)} for k, v in times.items()}

    sub = type(test)(test.images[:a.eval_images], test.labels[:a.eval_images], test.classes)
    model = nets[names[-1]]
    ev: dict[str, list[float]] = {"reference": [], "restructured": []}  # eval never fuses
    for _ in range(3):
        for k in ev:
            use(k)
            hooks = []
            if k == "reference":  # a hook makes the eval run the quantizer module (the old path)
                hooks = [m.act.register_forward_hook(lambda *_: None)
                         for m in model.layers.values() if getattr(m, "act", None) is not None]
            t0 = time.perf_counter()
            evaluate(model, sub, 256)
            ev[k].append(time.perf_counter() - t0)
            for h in hooks:
                h.remove()
    use("fast")
    eval_ips = {k: a.eval_images / min(v) for k, v in ev.items()}
    res = {"threads": a.threads, "batch_size": a.batch_size, "steps": a.steps,
           "rounds": a.rounds, "wbits": a.wbits, "abits": a.abits,
           "machine": platform.processor() or platform.machine(), "torch": torch.__version__,
           "train_images_per_s": ips,
           "train_speedup_best": {k: v["best"] / ips[names[0]]["best"] for k, v in ips.items()},
           "train_speedup_median": {k: v["median"] / ips[names[0]]["median"]
                                    for k, v in ips.items()},
           "eval_images_per_s": eval_ips,
           "eval_speedup": eval_ips["restructured"] / eval_ips["reference"],
           "command": "python " + " ".join(["benchmarks/train_speed.py"] + sys.argv[1:])}
    print(json.dumps(res, indent=1))
    if a.json:
        a.json.parent.mkdir(parents=True, exist_ok=True)
        a.json.write_text(json.dumps(res, indent=1) + "\n")


if __name__ == "__main__":
    main()
