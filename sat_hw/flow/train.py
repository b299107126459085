"""SAT quantization-aware training and torchrun (DistributedDataParallel) support (scoring a
model or a checkpoint: :mod:`sat_hw.flow.evaluate`).

The recipe (the same for every method, so that methods differ only in their quantizers):

- model from the configuration; quantized methods (not ``fp``) are calibrated first on
  ``quant.calib_images`` training images (a seeded draw) at ``quant.calib_percentile``: BN
  running statistics and alphas, also from ``init`` (a checkpoint whose weights and BN affine
  parameters are loaded: quantized weights change every conv's output scale, so the FP running
  statistics no longer fit). ``fp`` trains no alphas (its activations are ReLUs).
- SGD with Nesterov momentum ``train.momentum``; weight decay only on non-depthwise conv and FC
  weights (not BN, biases, alphas, depthwise weights); learning rate per iteration: linear warm-up
  over ``train.warmup_epochs`` then cosine from ``train.lr`` to 0; cross-entropy with
  ``train.label_smoothing``; augmentation: random horizontal flip, a random crop after zero
  padding by ``train.crop_pad`` pixels, and random erasing with probability ``train.erase``.
- data order: per epoch a permutation seeded by (seed, epoch), sharded over ranks as
  DistributedSampler does (padded to a multiple of the world size, ``rank::world``), full batches
  only. Augmentation is seeded by (seed, step, rank). So ``resume`` continues exactly where the
  checkpoint stopped, even inside an epoch (a ``max_steps`` stop).
- after every epoch: test top-1 (a fraction in [0, 1]) and a checkpoint at ``out`` (rank 0),
  carrying optimizer and scheduler state for ``resume``.
- the guard (``train.guard``, :mod:`sat_hw.flow.guard`): a non-finite loss or a collapse of the
  training or test top-1 raises :class:`~sat_hw.base.errors.TrainingCollapse` before the epoch's
  checkpoint is written, so the last good one stays; with ``init`` the starting point is scored
  first (the test rule's first reference).

Under ``torchrun`` (``WORLD_SIZE`` > 1) each process trains on its shard with
DistributedDataParallel (gloo on CPU, nccl on CUDA); ``train.batch_size`` is per process and the
learning rate is not rescaled. BN running statistics are averaged over the ranks after every epoch
(DDP broadcasts rank 0's at each forward, then each rank updates them on its own batch), so every
rank evaluates and ends with the same state; rank 0 logs and writes the checkpoint.

Test hook: with ``SAT_HW_DUMP_STATE=<dir>`` every rank saves its final state dict to
``<dir>/rank<r>.pt`` (the torchrun test compares them).
"""

from __future__ import annotations

import math
import os
import sys
import time
from pathlib import Path

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import Tensor, nn
from tqdm import tqdm

from sat_hw.base.errors import EXIT_COLLAPSE, TrainingCollapse
from sat_hw.flow import config as config_mod
from sat_hw.flow.evaluate import evaluate, first_items
from sat_hw.flow.guard import Guard
from sat_hw.nn.batches import Loader, augment, epoch_batches
from sat_hw.nn.checkpoint import read_checkpoint, save_checkpoint
from sat_hw.nn.data import adaptation, load_split, serves
from sat_hw.nn.distill import distill_loss, load_teacher
from sat_hw.nn.ema import BN_IMAGES, Ema
from sat_hw.nn.models import MobileNetV1, QConv2d, QLinear, calibrate


class _Dist:
    """Rank, world size and device of this process; initialises the process group if needed."""

    def __init__(self) -> None:
        self.world = int(os.environ.get("WORLD_SIZE", "1"))
        self.rank = int(os.environ.get("RANK", "0"))
        local = int(os.environ.get("LOCAL_RANK", "0"))
        cuda = torch.cuda.is_available()
        self.device = torch.device(f"cuda:{local}" if cuda else "cpu")
        if cuda:
            torch.cuda.set_device(self.device)
            torch.backends.cudnn.benchmark = True
            # Full float32 on the GPU, as on the CPU: TF32 convolutions (cuDNN's default) can move
            # activations across rounding boundaries (a checkpoint's top-1 measured 89.28 % with
            # TF32 on an H100 and 89.04 % in float32 on the CPU).
            torch.backends.cudnn.allow_tf32 = False
            torch.backends.cuda.matmul.allow_tf32 = False
        self.owns_group = False
        if self.world > 1 and not dist.is_initialized():
            dist.init_process_group("nccl" if cuda else "gloo")
            self.owns_group = True

    def all_sum(self, values: list[float]) -> list[float]:
        t = torch.tensor(values, dtype=torch.float64, device=self.device)
        if self.world > 1:
            dist.all_reduce(t)
        return t.tolist()

    def average_buffers(self, model: nn.Module) -> None:
        """Average BN running statistics over ranks (each rank updated them on its own shard)."""
        if self.world > 1:
            for b in model.buffers():
                if b.is_floating_point():
                    dist.all_reduce(b)
                    b.div_(self.world)

    def close(self) -> None:
        if self.owns_group:
            dist.destroy_process_group()


def param_groups(model: nn.Module, weight_decay: float) -> list[dict]:
    """Decay on non-depthwise conv and FC weights only; BN, biases, alphas, depthwise: none."""
    decay = [m.weight for m in model.modules()
             if (isinstance(m, QConv2d) and m.groups == 1) or isinstance(m, QLinear)]
    ids = {id(p) for p in decay}
    rest = [p for p in model.parameters() if id(p) not in ids and p.requires_grad]
    return [{"params": decay, "weight_decay": weight_decay}, {"params": rest, "weight_decay": 0.0}]


def lr_factor(step: int, total: int, warmup: int) -> float:
    """Linear warm-up over ``warmup`` steps, then cosine from 1 to 0 at ``total``."""
    if step < warmup:
        return (step + 1) / warmup
    span = max(1, total - warmup)
    return 0.5 * (1 + math.cos(math.pi * min(1.0, (step - warmup) / span)))


def _load_init(model: MobileNetV1, path: Path) -> None:
    """Weights and BN from a sat_hw checkpoint; alphas are taken if present (calibrated anyway)."""
    state = read_checkpoint(path)["state_dict"]
    own = model.state_dict()
    for k, v in own.items():
        if k not in state:
            if k.endswith(".alpha"):
                continue
            raise ValueError(f"init checkpoint {str(path)!r} has no tensor {k!r}")
        if state[k].shape != v.shape:
            raise ValueError(f"init checkpoint {str(path)!r}: {k} has shape "
                             f"{tuple(state[k].shape)}, the model needs {tuple(v.shape)}")
    extra = [k for k in state if k not in own]
    if extra:
        raise ValueError(f"init checkpoint {str(path)!r} has tensor {extra[0]!r} the model lacks")
    model.load_state_dict({k: state[k] for k in own if k in state}, strict=False)


def _same_model(saved: dict, now: dict) -> bool:
    """A checkpoint's model config equals ``now``'s; one without ``fc_scale`` (older) used the
    paper's rule, and the rule does not matter where nothing is scale-adjusted (not SAT)."""
    saved = {"fc_scale": "fan_out", **saved}
    if now.get("method") != "sat":
        saved, now = ({k: v for k, v in c.items() if k != "fc_scale"} for c in (saved, now))
    return saved == now


def _calib_images(dataset, count: int, seed: int) -> Tensor:
    g = torch.Generator().manual_seed(seed)
    idx = torch.randperm(len(dataset), generator=g)[: min(count, len(dataset))]
    images = getattr(dataset, "images", None)
    if images is not None:
        return images[idx]
    return torch.stack([dataset[int(i)][0] for i in idx])


def _check_classes(cfg: dict) -> None:
    """The dataset must serve the model (``sat_hw.nn.data.serves``: classes, channels)."""
    d, m = cfg["data"], cfg["model"]
    why = serves(d["name"], d["root"], m["in_channels"], m["classes"])
    if why is not None:
        raise ValueError(why)


SMOKE_EVAL_IMAGES = 1000
"""Test images a smoke run (``train.max_steps`` > 0) scores when ``train.eval_images`` is 0."""
PROGRESS_S = 5.0
"""Seconds between plain progress lines when stderr is not a terminal."""


def eval_count(t: dict, available: int) -> int:
    """How many test images (the first ones) each epoch's evaluation scores."""
    n = t["eval_images"] or (SMOKE_EVAL_IMAGES if t["max_steps"] > 0 else 0)
    return min(n, available) if n else available


def run_training(cfg: dict, out: Path, init: Path | None = None, resume: bool = False,
                 monitor=None) -> dict:
    """Train as ``cfg`` says, checkpoint every epoch to ``out``; returns a summary dict.

    ``resume`` continues from the checkpoint at ``out`` (same model and world size; ``init`` is
    then ignored). The summary: epochs, steps, top1 (last test top-1, fraction), images_per_s
    (mean training throughput over all ranks), history (one dict per epoch), out, world_size,
    device. ``monitor`` (diagnostics: ``benchmarks/collapse_probe.py``), if given, is called after
    every optimizer step as ``monitor(step, epoch, model, loss, logits, teacher_logits, labels)``
    (``teacher_logits`` None without a teacher; gradients still held).
    """
    out = Path(out)
    t, q, d = cfg["train"], cfg["quant"], cfg["data"]
    _check_classes(cfg)
    if not resume:
        _check_out(out)
    env = _Dist()
    try:
        return _train(cfg, out, init, resume, env, t, q, d, monitor)
    finally:
        env.close()


def _check_out(out: Path) -> None:
    """``--out`` may be new or a sat_hw checkpoint (which training replaces); anything else is
    a user's file that training must not overwrite."""
    if out.is_dir():
        raise ValueError(f"--out {str(out)!r} is a folder: give the checkpoint file to write")
    parent = out.resolve().parent
    if not parent.is_dir():
        raise ValueError(f"--out {str(out)!r}: the folder {str(parent)!r} does not exist")
    try:  # a file beside it, removed at once: fail now, not after the training
        from sat_hw.base.writer import probe

        probe(parent, out.name)
    except OSError as e:
        raise ValueError(f"--out {str(out)!r} cannot be written: {e.strerror} in "
                         f"{str(parent)!r}") from None
    if out.exists():
        try:
            read_checkpoint(out)
        except ValueError:
            raise ValueError(f"--out {str(out)!r} exists and is not a sat_hw checkpoint: "
                             f"training would overwrite it; choose another --out or remove it "
                             f"yourself") from None


def _train(cfg, out, init, resume, env: _Dist, t, q, d, monitor=None) -> dict:
    seed, method = t["seed"], q["method"]
    m = cfg["model"]
    train_set = load_split(d["name"], d["root"], "train", m["resolution"], m["in_channels"])
    test_set = load_split(d["name"], d["root"], "test", m["resolution"], m["in_channels"])
    test_set = first_items(test_set, eval_count(t, 10**9))
    note = adaptation(d["name"], m["resolution"], m["in_channels"])
    if env.rank == 0:
        print(f"data: {d['name']}, {len(train_set)} training images"
              + (f" ({note})" if note else "") + f"; scoring {len(test_set)} test images per epoch"
              + (" (smoke run; --eval-images to change)" if len(test_set) == SMOKE_EVAL_IMAGES
                 and not t["eval_images"] else ""), flush=True)
    torch.manual_seed(seed)
    model = config_mod.model_from_config(cfg)
    if method == "fp":
        for _, a in model.act_quantizers():
            a.alpha.requires_grad_(False)  # unused by ReLU; frozen so DDP sees no unused grads
    model.to(env.device)

    state = None
    if resume:
        if not out.is_file():
            raise ValueError(f"cannot resume: checkpoint {str(out)!r} does not exist")
        blob = read_checkpoint(out)
        state = blob.get("train_state")
        if state is None:
            raise ValueError(f"cannot resume from {str(out)!r}: it has no training state")
        if not _same_model(blob["config"], model.config):
            raise ValueError(f"cannot resume from {str(out)!r}: it holds a different model "
                             f"({blob['config']['method']}, width {blob['config']['width']})")
        if state["world_size"] != env.world:
            raise ValueError(f"cannot resume from {str(out)!r}: trained with world size "
                             f"{state['world_size']}, now {env.world}")
        model.load_state_dict(blob["state_dict"])
    else:
        if init is not None:
            _load_init(model, Path(init))
        if method != "fp":
            images = _calib_images(train_set, q["calib_images"], seed).to(env.device)
            # BN statistics too with --init: quantized weights change every conv's output scale,
            # so an FP model's running statistics no longer describe it.
            calibrate(model, images, q["calib_percentile"])
    model.train()

    teacher = load_teacher(t["distill"], cfg, env.device) if t["distill"] else None
    ema = Ema(model, t["ema"]) if t["ema"] > 0 else None
    ema_images = (_calib_images(train_set, BN_IMAGES, seed).to(env.device) if ema is not None
                  else None)
    opt = torch.optim.SGD(param_groups(model, t["weight_decay"]), lr=t["lr"],
                          momentum=t["momentum"], nesterov=t["momentum"] > 0)
    loader = Loader(train_set, env.device, d["workers"])
    test_loader = Loader(test_set, env.device, d["workers"])
    per_epoch = len(epoch_batches(len(loader), t["batch_size"], 0, seed, env.rank, env.world))
    total = per_epoch * t["epochs"]
    warmup = per_epoch * t["warmup_epochs"]
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: lr_factor(s, total, warmup))
    step, history = 0, []
    if state is not None:
        opt.load_state_dict(state["optimizer"])
        sched.load_state_dict(state["scheduler"])
        step, history = state["step"], list(state["history"])
        if (ema is None) != ("raw_state_dict" not in state):
            raise ValueError(f"cannot resume from {str(out)!r}: it was trained "
                             f"{'with' if ema is None else 'without'} train.ema")
        if ema is not None:
            ema.model.load_state_dict(blob["state_dict"])
            model.load_state_dict(state["raw_state_dict"])

    start_top1 = None
    if init is not None and state is None and t["guard"]:  # the fine-tune's starting point
        start_top1 = evaluate(model, test_loader, 256, env.rank, env.world)
        model.train()
        if env.rank == 0:
            print(f"start: test {100 * start_top1:.2f}% (after --init"
                  + ("" if method == "fp" else " and calibration") + ")", flush=True)
    guard = Guard(model, env.all_sum, out, t["guard"], history, start_top1, len(test_loader))
    net = model
    if env.world > 1:
        ids = [env.device.index] if env.device.type == "cuda" else None
        net = nn.parallel.DistributedDataParallel(model, device_ids=ids)
    limit = min(total, t["max_steps"]) if t["max_steps"] > 0 else total
    gen = torch.Generator(device=env.device)
    show = env.rank == 0 and sys.stderr.isatty()
    plain = env.rank == 0 and not show  # plain progress lines on stderr every PROGRESS_S

    while step < limit:
        epoch, skip = divmod(step, per_epoch)
        batches = epoch_batches(len(loader), t["batch_size"], epoch, seed, env.rank, env.world)
        batches = batches[skip: skip + (limit - step)]
        net.train()
        bar = tqdm(total=len(batches), desc=f"epoch {epoch + 1}/{t['epochs']}", unit="batch",
                   disable=not show, leave=False)
        loss_sum = torch.zeros((), dtype=torch.float64, device=env.device)
        correct = torch.zeros((), dtype=torch.int64, device=env.device)
        seen, t0 = 0, time.perf_counter()
        last = t0
        for i, (x, y) in enumerate(loader(batches)):
            gen.manual_seed((seed * 1_000_003 + step) * 1024 + env.rank)
            x = augment(x, gen, t["crop_pad"], t["erase"]).float()
            logits = net(x)
            loss = F.cross_entropy(logits, y, label_smoothing=t["label_smoothing"])
            soft = None
            if teacher is not None:
                with torch.no_grad():
                    soft = teacher(x)
                loss = distill_loss(loss, logits, soft, t["distill_weight"],
                                    t["distill_temperature"])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            if ema is not None:
                ema.update(model)
            step += 1
            if monitor is not None:
                monitor(step, epoch, model, loss, logits, soft, y)
            hits = (logits.detach().argmax(1) == y).sum()
            guard.after_step(model, epoch + 1, step, loss, hits, len(y))
            loss_sum += loss.detach() * len(y)
            correct += hits
            seen += len(y)
            bar.update(1)
            if show and (i % 10 == 9 or i == len(batches) - 1):
                el = time.perf_counter() - t0
                bar.set_postfix(loss=f"{loss_sum.item() / seen:.3f}",
                                acc=f"{correct.item() / seen:.3f}",
                                img_s=f"{seen * env.world / el:.0f}")
            if plain and time.perf_counter() - last >= PROGRESS_S:
                last = time.perf_counter()
                print(f"  epoch {epoch + 1}/{t['epochs']} step {step}/{limit}: loss "
                      f"{loss_sum.item() / seen:.4f} train {100 * correct.item() / seen:.2f}% "
                      f"{seen * env.world / (last - t0):.0f} images/s", file=sys.stderr,
                      flush=True)
        if env.device.type == "cuda":
            torch.cuda.synchronize(env.device)
        elapsed = time.perf_counter() - t0
        bar.close()
        env.average_buffers(model)
        ls, cs, n = env.all_sum([float(loss_sum), float(correct), float(seen)])
        ips = n / elapsed if elapsed > 0 else 0.0
        top1 = evaluate(model, test_loader, 256, env.rank, env.world)
        rec = {"epoch": epoch + 1, "step": step, "loss": ls / max(n, 1),
               "train_top1": cs / max(n, 1), "top1": top1, "test_images": len(test_loader),
               "images_per_s": ips,
               "lr": opt.param_groups[0]["lr"], "partial": step % per_epoch != 0}
        if ema is not None:  # the average is what the checkpoint holds: its top-1 is "top1"
            ema.refresh_bn(ema_images)
            rec["top1_raw"], rec["top1"] = top1, evaluate(ema.model, test_loader, 256, env.rank,
                                                          env.world)
        guard.after_epoch(model, rec)  # a collapse raises here: the last checkpoint stays
        history.append(rec)
        if env.rank == 0:
            raw = "" if ema is None else f" (raw weights {100 * rec['top1_raw']:.2f}%)"
            print(f"epoch {epoch + 1}/{t['epochs']} step {step}/{total}: loss {rec['loss']:.4f} "
                  f"train {100 * rec['train_top1']:.2f}% test {100 * rec['top1']:.2f}%{raw} "
                  f"{ips:.0f} images/s ({method})", flush=True)
            _save(model if ema is None else ema.model, out, cfg, init, env, history, opt, sched,
                  step, None if ema is None else model)
    if env.world > 1:
        dist.barrier()
    dump = os.environ.get("SAT_HW_DUMP_STATE")
    if dump:
        Path(dump).mkdir(parents=True, exist_ok=True)
        torch.save({k: v.cpu() for k, v in model.state_dict().items()},
                   Path(dump) / f"rank{env.rank}.pt")
    done = [h for h in history if h["images_per_s"] > 0]
    return {"epochs": history[-1]["epoch"] if history else 0, "steps": step,
            "top1": history[-1]["top1"] if history else None,
            "images_per_s": sum(h["images_per_s"] for h in done) / max(1, len(done)),
            "history": history, "out": str(out), "world_size": env.world,
            "device": str(env.device), "method": method}


def _save(model, out: Path, cfg: dict, init, env: _Dist, history: list[dict], opt, sched,
          step: int, raw: nn.Module | None = None) -> None:
    """``model`` is what the checkpoint holds; with EMA, ``raw`` is the trained model (for
    ``resume``)."""
    last = history[-1]
    t, q = cfg["train"], cfg["quant"]
    meta = {"epoch": last["epoch"], "step": step, "top1": last["top1"], "method": q["method"],
            "wbits": q["wbits"], "abits": q["abits"], "seed": t["seed"], "epochs": t["epochs"],
            "images_per_s": last["images_per_s"], "data": cfg["data"]["name"],
            "data_root": cfg["data"]["root"], "test_images": last.get("test_images"),
            "init": str(init) if init is not None else None, "world_size": env.world,
            "batch_size": t["batch_size"], "lr": t["lr"], "device": str(env.device),
            "distill": t["distill"] or None, "ema": t["ema"] or None}
    train_state = {"optimizer": opt.state_dict(), "scheduler": sched.state_dict(), "step": step,
                   "history": history, "world_size": env.world,
                   "config_toml": config_mod.to_toml(cfg)}
    if raw is not None:
        train_state["raw_state_dict"] = raw.state_dict()
    out.parent.mkdir(parents=True, exist_ok=True)
    save_checkpoint(model, out, meta=meta, extra={"train_state": train_state})


def _main(argv: list[str] | None = None) -> int:
    """``python -m sat_hw.flow.train``: a small entry point (torchrun-able) beside ``sat_hw train``."""
    import argparse

    ap = argparse.ArgumentParser(prog="python -m sat_hw.flow.train", description=_main.__doc__)
    ap.add_argument("--config", type=Path)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--method")
    ap.add_argument("--wbits", type=int)
    ap.add_argument("--abits", type=int)
    ap.add_argument("--width", type=float)
    ap.add_argument("--resolution", type=int)
    ap.add_argument("--epochs", type=int)
    ap.add_argument("--batch-size", type=int)
    ap.add_argument("--seed", type=int)
    ap.add_argument("--max-steps", type=int)
    ap.add_argument("--data")
    ap.add_argument("--data-root")
    ap.add_argument("--init", type=Path)
    ap.add_argument("--resume", action="store_true")
    a = ap.parse_args(argv)
    over = {"model": {"width": a.width, "resolution": a.resolution},
            "quant": {"method": a.method, "wbits": a.wbits, "abits": a.abits},
            "data": {"name": a.data, "root": a.data_root},
            "train": {"epochs": a.epochs, "batch_size": a.batch_size, "seed": a.seed,
                      "max_steps": a.max_steps}}
    try:
        cfg = config_mod.load_config(a.config, over)
        s = run_training(cfg, a.out, a.init, a.resume)
    except ValueError as e:
        print(f"sat_hw.flow.train: error: {e}", file=sys.stderr)
        return 2
    except TrainingCollapse as e:
        print(f"sat_hw.flow.train: error: {e}", file=sys.stderr)
        return EXIT_COLLAPSE
    if int(os.environ.get("RANK", "0")) == 0:
        print(f"top1 {100 * (s['top1'] or 0):.2f}% after {s['steps']} steps, "
              f"{s['images_per_s']:.0f} images/s on {s['device']} x {s['world_size']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(_main())
