"""Training: a few steps end to end, resume, init from FP, the CLI, two processes under torchrun.

Data: a tiny fake cifar-10-batches-py folder (80 train / 16 test images), so every epoch's test
evaluation is cheap; the real Fashion-MNIST files are covered by test_data.py.
"""

import math
import os
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from sat_hw.flow import config
from sat_hw.flow.evaluate import evaluate, run_eval
from sat_hw.flow.train import (
    _load_init,
    _main,
    lr_factor,
    param_groups,
    run_training,
)
from sat_hw.nn.batches import augment, epoch_batches
from sat_hw.nn.checkpoint import load_checkpoint, read_checkpoint

ROOT = Path(__file__).resolve().parents[1]


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def fake_cifar(folder: Path, per_batch: int = 16, test: int = 16) -> Path:
    root = folder / "cifar-10-batches-py"
    root.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        n = test if name == "test_batch" else per_batch
        labels = rng.integers(0, 10, n)
        data = rng.integers(0, 96, (n, 3072)) + (labels[:, None] * 16)  # learnable brightness
        d = {b"data": data.astype(np.uint8), b"labels": [int(v) for v in labels]}
        (root / name).write_bytes(pickle.dumps(d))
    return folder


@pytest.fixture(scope="module")
def cifar(tmp_path_factory) -> Path:
    return fake_cifar(tmp_path_factory.mktemp("cifar"))


def _cfg(cifar: Path, **train) -> dict:
    t = {"epochs": 2, "batch_size": 16, "max_steps": 3, "lr": 0.02, "warmup_epochs": 0}
    t.update(train)
    method = t.pop("method", "sat")
    return config.load_config(None, {
        "model": {"width": 0.25, "resolution": 16, "in_channels": 3, "classes": 10},
        "quant": {"method": method, "wbits": 4, "abits": 4, "calib_images": 32},
        "data": {"name": "cifar10", "root": str(cifar)}, "train": t})


def _equal_states(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_run_training_checkpoint_and_exact_resume(cifar, tmp_path):
    out = tmp_path / "m.pt"
    s = run_training(_cfg(cifar), out)
    assert s["steps"] == 3 and s["epochs"] == 1 and 0 <= s["top1"] <= 1
    assert s["images_per_s"] > 0 and s["world_size"] == 1
    model = load_checkpoint(out)
    assert not model.training and model.config["method"] == "sat"
    assert model(torch.zeros(2, 3, 16, 16)).shape == (2, 10)
    meta = model.meta
    assert meta["epoch"] == 1 and meta["step"] == 3 and meta["method"] == "sat"
    assert meta["seed"] == 0 and meta["epochs"] == 2 and meta["images_per_s"] > 0
    assert meta["top1"] == s["top1"]
    assert "train_state" in read_checkpoint(out)

    s2 = run_training(_cfg(cifar, max_steps=7), out, resume=True)  # 5 steps/epoch: into epoch 2
    assert s2["steps"] == 7 and [h["step"] for h in s2["history"]] == [3, 5, 7]
    whole = tmp_path / "whole.pt"
    run_training(_cfg(cifar, max_steps=7), whole)
    a, b = read_checkpoint(out), read_checkpoint(whole)
    assert _equal_states(a["state_dict"], b["state_dict"]), "resume must continue exactly"
    assert b["meta"]["epoch"] == 2

    s3 = run_training(_cfg(cifar), out, resume=True)  # max_steps 3 already reached: no-op
    assert s3["steps"] == 7


def test_resume_errors(cifar, tmp_path):
    with pytest.raises(ValueError, match="cannot resume.*does not exist"):
        run_training(_cfg(cifar), tmp_path / "none.pt", resume=True)
    out = tmp_path / "fp.pt"
    run_training(_cfg(cifar, method="fp", max_steps=1), out)
    with pytest.raises(ValueError, match="different model"):
        run_training(_cfg(cifar, max_steps=2), out, resume=True)


def test_init_from_fp(cifar, tmp_path):
    fp = tmp_path / "fp.pt"
    run_training(_cfg(cifar, method="fp", max_steps=2), fp)
    cfg = _cfg(cifar, max_steps=1)
    m = config.model_from_config(cfg)
    _load_init(m, fp)
    src = read_checkpoint(fp)["state_dict"]
    for k, v in m.state_dict().items():
        assert torch.equal(v, src[k]), k
    out = tmp_path / "sat.pt"
    s = run_training(cfg, out, init=fp)
    assert s["steps"] == 1 and read_checkpoint(out)["meta"]["init"] == str(fp)
    wide = _cfg(cifar)
    wide["model"]["width"] = 0.5
    with pytest.raises(ValueError, match="layers.conv0.conv.weight has shape"):
        _load_init(config.model_from_config(wide), fp)


def test_classes_must_match_data(cifar, tmp_path):
    cfg = _cfg(cifar)
    cfg["model"]["classes"] = 12
    with pytest.raises(ValueError, match="model.classes is 12.*cifar10 has 10"):
        run_training(cfg, tmp_path / "m.pt")


def test_weight_decay_groups():
    m = config.model_from_config(config.load_config())
    decay, rest = param_groups(m, 1e-4)
    names = {id(p): n for n, p in m.named_parameters()}
    dn = sorted(names[id(p)] for p in decay["params"])
    assert decay["weight_decay"] == 1e-4 and rest["weight_decay"] == 0
    assert "layers.conv0.conv.weight" in dn and "layers.pw1.conv.weight" in dn
    assert "layers.fc.fc.weight" in dn and len(dn) == 1 + 13 + 1
    assert not any(".dw" in n or "bn" in n or "alpha" in n or "bias" in n for n in dn)
    assert len(decay["params"]) + len(rest["params"]) == len(list(m.parameters()))


def test_lr_schedule():
    assert lr_factor(0, 100, 10) == pytest.approx(0.1)
    assert lr_factor(9, 100, 10) == pytest.approx(1.0)
    assert lr_factor(10, 100, 10) == pytest.approx(1.0)
    assert lr_factor(55, 100, 10) == pytest.approx(0.5)
    assert lr_factor(100, 100, 10) == pytest.approx(0.0, abs=1e-12)
    assert lr_factor(25, 100, 0) == pytest.approx(0.5 * (1 + math.cos(math.pi / 4)))


def test_batches_shard_like_distributed_sampler():
    one = epoch_batches(10, 2, epoch=3, seed=1)
    again = epoch_batches(10, 2, epoch=3, seed=1)
    assert all(torch.equal(a, b) for a, b in zip(one, again))
    assert sorted(torch.cat(one).tolist()) == list(range(10))
    r0, r1 = (torch.cat(epoch_batches(11, 2, 0, 0, rank=r, world=2)).tolist() for r in (0, 1))
    assert len(r0) == len(r1) == 6  # 11 padded to 12, 3 full batches each
    assert set(r0) | set(r1) == set(range(11))
    ev = [torch.cat(epoch_batches(11, 4, 0, 0, r, 2, shuffle=False, drop_last=False))
          for r in (0, 1)]
    assert sorted(torch.cat(ev).tolist()) == list(range(11))  # evaluation: every image once


def test_augment_flip_and_crop():
    x = torch.arange(2 * 3 * 6 * 6, dtype=torch.int64).reshape(2, 3, 6, 6).to(torch.uint8)
    g = torch.Generator().manual_seed(0)
    y = augment(x, g)
    assert y.shape == x.shape and y.dtype == torch.uint8
    assert torch.equal(y, augment(x, torch.Generator().manual_seed(0)))
    seen = set()
    for s in range(40):
        y = augment(x, torch.Generator().manual_seed(s))
        for i in range(2):
            pad = torch.nn.functional.pad(x[i], (2, 2, 2, 2))
            found = [(f, dy, dx) for f in (0, 1) for dy in range(5) for dx in range(5)
                     if torch.equal(y[i], (pad.flip(2) if f else pad)[:, dy:dy + 6, dx:dx + 6])]
            assert found, "every output is a (flipped) crop of the padded input"
            seen.add(found[0])
    assert len(seen) > 20


def test_evaluate_counts(cifar):
    from sat_hw.nn.data import load_split

    test = load_split("cifar10", str(cifar), "test", 16, 3)
    m = config.model_from_config(_cfg(cifar)).eval()
    with torch.no_grad():
        want = (m(test.images.float()).argmax(1) == test.labels).float().mean().item()
    assert evaluate(m, test, batch_size=5) == pytest.approx(want)


def _env() -> dict:
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1")
    env.pop("SAT_HW_DUMP_STATE", None)
    return env


def _run(cmd: list[str], env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, check=False, cwd=ROOT, env=env or _env(), capture_output=True,
                          text=True, timeout=300)


def _model_flags(cifar: Path) -> list[str]:
    return ["--width", "0.25", "--resolution", "16", "--in-channels", "3", "--classes", "10",
            "--data", "cifar10", "--data-root", str(cifar), "--batch-size", "8"]


def test_cli_train_and_eval(cifar, tmp_path):
    out = tmp_path / "cli.pt"
    cmd = [sys.executable, "-m", "sat_hw", "train", "--method", "pact", "--wbits", "3",
           "--abits", "3", "--max-steps", "2", "--out", str(out)] + _model_flags(cifar)
    r = _run(cmd)
    assert r.returncode == 0, r.stderr
    assert "epoch 1/" in r.stdout and "images/s" in r.stdout
    assert read_checkpoint(out)["config"]["bits"]["pw3"] == {"wbits": 3, "abits": 3}
    r = _run([sys.executable, "-m", "sat_hw", "eval", str(out), "--data", "cifar10",
              "--data-root", str(cifar)])
    assert r.returncode == 0, r.stderr
    assert "top1" in r.stdout
    res = run_eval(out, {"name": "cifar10", "root": str(cifar), "workers": 0})
    assert res["images"] == 16 and res["top1"] == read_checkpoint(out)["meta"]["top1"]


def test_torchrun_two_processes_identical_parameters(cifar, tmp_path):
    out, dump = tmp_path / "ddp.pt", tmp_path / "dump"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
           "-m", "sat_hw", "train", "--method", "sat", "--max-steps", "4", "--out", str(out)]
    env = dict(_env(), SAT_HW_DUMP_STATE=str(dump))
    r = _run(cmd + _model_flags(cifar), env)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    assert r.stdout.count("epoch 1/") == 1, "only rank 0 logs"
    s0, s1 = (torch.load(dump / f"rank{i}.pt") for i in (0, 1))
    assert _equal_states(s0, s1), "ranks ended with different parameters"
    blob = read_checkpoint(out)
    assert _equal_states(s0, blob["state_dict"])
    assert blob["meta"]["world_size"] == 2 and blob["meta"]["step"] == 4
    # the run trained: the weights moved away from a fresh calibrated start of the same seed
    single = tmp_path / "one.pt"
    run_training(_cfg(cifar, max_steps=1, batch_size=8), single)
    assert not torch.equal(s0["layers.pw1.conv.weight"],
                           read_checkpoint(single)["state_dict"]["layers.pw1.conv.weight"])


def test_train_module_entry(cifar, tmp_path, capsys):
    flow = tmp_path / "flow.toml"
    flow.write_text('[model]\nresolution = 16\nin_channels = 3\n[data]\nname = "cifar10"\n'
                    f'root = "{cifar}"\n[train]\nbatch_size = 16\n')
    out = tmp_path / "entry.pt"
    cmd = [sys.executable, "-m", "sat_hw.flow.train", "--config", str(flow), "--out", str(out),
           "--max-steps", "1", "--method", "cgpact"]
    r = _run(cmd)
    assert r.returncode == 0, r.stderr
    assert read_checkpoint(out)["meta"]["method"] == "cgpact"
    assert _main(cmd[3:-2] + ["--method", "int4"]) == 2  # in-process: the error path
    err = capsys.readouterr().err
    assert "--method int4: must be one of" in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


def test_eval_uses_the_checkpoints_dataset(cifar, tmp_path, monkeypatch, capsys):
    out = tmp_path / "c.pt"
    run_training(_cfg(cifar, max_steps=1), out)
    assert read_checkpoint(out)["meta"]["data_root"] == str(cifar)
    res = run_eval(out)  # no dataset given: the one it was trained on (and its folder)
    assert res["data"] == "cifar10" and res["images"] == 16
    assert res["data_source"] == "the dataset the checkpoint was trained on"
    assert run_eval(out, images=5)["images"] == 5
    from sat_hw.flow.cli import main

    assert main(["eval", str(out), "--images", "4"]) == 0
    assert "on 4 cifar10 test images" in capsys.readouterr().out
    # --data overrides it; the error names the flag (not only the flow.toml key)
    with pytest.raises(ValueError, match="does not exist.*pass --data-root"):
        run_eval(out, {"name": "fashion-mnist", "root": str(tmp_path)})


def test_smoke_runs_score_fewer_images_and_log_progress(cifar, tmp_path, monkeypatch, capsys):
    from sat_hw.flow import train as train_mod

    t = {"eval_images": 0, "max_steps": 20}
    assert train_mod.eval_count(t, 10000) == train_mod.SMOKE_EVAL_IMAGES
    assert train_mod.eval_count({"eval_images": 0, "max_steps": 0}, 10000) == 10000
    assert train_mod.eval_count({"eval_images": 300, "max_steps": 0}, 10000) == 300
    monkeypatch.setattr(train_mod, "PROGRESS_S", 0.0)
    s = run_training(_cfg(cifar, max_steps=2, eval_images=8), tmp_path / "p.pt")
    assert s["history"][-1]["test_images"] == 8
    cap = capsys.readouterr()
    assert "scoring 8 test images per epoch" in cap.out
    assert "  epoch 1/2 step 1/2: loss" in cap.err  # plain lines: stderr is not a terminal


def test_augment_erase_and_no_crop():
    x = torch.full((64, 1, 8, 8), 200, dtype=torch.uint8)
    y = augment(x, torch.Generator().manual_seed(0), pad=0, erase=1.0)
    zeros = (y == 0).flatten(1).sum(1)
    assert ((zeros >= 1) & (zeros <= 0.25 * 64 + 8)).all(), "every image has one erased box"
    assert set(y.unique().tolist()) == {0, 200}
    for i in range(4):  # the erased pixels form one rectangle
        r, c = (y[i, 0] == 0).nonzero(as_tuple=True)
        assert len(r) == (r.max() - r.min() + 1) * (c.max() - c.min() + 1)
    assert torch.equal(augment(x, torch.Generator().manual_seed(0), pad=0, erase=0.0), x)
    # pad 2 without erasing: the same draws as before the option existed
    x = torch.arange(2 * 3 * 6 * 6, dtype=torch.int64).reshape(2, 3, 6, 6).to(torch.uint8)
    assert torch.equal(augment(x, torch.Generator().manual_seed(3)),
                       augment(x, torch.Generator().manual_seed(3), 2, 0.0))


@pytest.mark.parametrize("method", ["sat", "pact"])
def test_fast_cpu_training_equals_the_reference(cifar, tmp_path, monkeypatch, method):
    """The fused activation quantizer and the one-node weight quantizer train to the very same
    bits as the plain reference quantizers (issue 10's speed-up changes no value)."""
    from sat_hw.nn import fused, layers, quant

    states = []
    for fast in (False, True):
        monkeypatch.setattr(fused, "ENABLED", fast)
        monkeypatch.setattr(quant, "_ActQuant",
                            quant._ActQuant if fast else quant._ActQuantReference)
        monkeypatch.setattr(layers, "quantize_weight",
                            quant.quantize_weight if fast else quant._weight_quant_reference)
        out = tmp_path / f"{fast}.pt"
        run_training(_cfg(cifar, method=method, max_steps=4), out)
        assert fused.ENABLED == fast
        states.append(read_checkpoint(out)["state_dict"])
    assert _equal_states(*states)


def test_distillation(cifar, tmp_path):
    """--distill: the loss mixes in the teacher's soft targets; weight 0 trains exactly as without
    a teacher; a teacher for other classes is refused in one line."""
    from sat_hw.nn.distill import distill_loss

    logits, soft = torch.randn(4, 10), torch.randn(4, 10)
    ce = torch.nn.functional.cross_entropy(logits, torch.arange(4))
    assert torch.equal(distill_loss(ce, logits, soft, 0.0, 3.0), ce)
    kl = (soft.softmax(1) * (soft.log_softmax(1) - logits.log_softmax(1))).sum(1).mean()
    torch.testing.assert_close(distill_loss(ce, logits, soft, 1.0, 1.0), kl)
    assert distill_loss(ce, logits, logits, 1.0, 2.0).abs() < 1e-6  # the teacher itself: no loss

    teacher = tmp_path / "fp.pt"
    run_training(_cfg(cifar, method="fp", max_steps=2), teacher)
    plain, zero, kd = tmp_path / "plain.pt", tmp_path / "zero.pt", tmp_path / "kd.pt"
    run_training(_cfg(cifar, max_steps=2), plain)
    run_training(_cfg(cifar, max_steps=2, distill=str(teacher), distill_weight=0.0), zero)
    run_training(_cfg(cifar, max_steps=2, distill=str(teacher)), kd)
    states = [read_checkpoint(p)["state_dict"] for p in (plain, zero, kd)]
    assert _equal_states(states[0], states[1]) and not _equal_states(states[0], states[2])

    other = _cfg(cifar, method="fp", max_steps=1)
    other["model"]["classes"] = 5
    with pytest.raises(ValueError, match="teacher .* has classes 5, the model being trained has 10"):
        run_training(_cfg(cifar, max_steps=1, distill=str(_train_other(other, tmp_path))),
                     tmp_path / "x.pt")


def test_distillation_ensemble(cifar, tmp_path):
    """--distill a.pt,b.pt: one teacher whose logits are the mean of the members'; one member is
    that checkpoint itself; an empty or missing member is an error naming it."""
    from sat_hw.nn.distill import load_teacher

    cfg = _cfg(cifar, method="fp", max_steps=1)
    a, b = tmp_path / "a.pt", tmp_path / "b.pt"
    run_training(cfg, a)
    run_training(_cfg(cifar, method="fp", max_steps=1, seed=1), b)
    x = torch.randint(0, 256, (4, 3, 16, 16), dtype=torch.uint8).float()
    cpu = torch.device("cpu")
    one, two = load_teacher(str(a), cfg, cpu), load_teacher(f"{a}, {b}", cfg, cpu)
    la, lb = load_checkpoint(a)(x), load_checkpoint(b)(x)
    assert not torch.equal(la, lb)
    assert torch.equal(one(x), la)
    torch.testing.assert_close(two(x), (la + lb) / 2)
    assert not any(p.requires_grad for p in two.parameters()) and not two.training
    with pytest.raises(ValueError, match="has an empty checkpoint path"):
        load_teacher(f"{a},", cfg, cpu)
    with pytest.raises(ValueError, match="missing.pt"):
        load_teacher(f"{a},{tmp_path / 'missing.pt'}", cfg, cpu)


def _train_other(cfg: dict, tmp_path: Path) -> Path:
    """A checkpoint of ``cfg``'s model, untrained (the data need not serve it)."""
    from sat_hw.nn.checkpoint import save_checkpoint

    out = tmp_path / "other.pt"
    save_checkpoint(config.model_from_config(cfg), out)
    return out


def test_ema_average_and_bn_reestimate():
    """Ema: avg = d * avg + (1 - d) * value for every parameter; BN statistics are not averaged
    but re-estimated: the mean of the batches' means and unbiased variances."""
    from sat_hw.nn.ema import Ema

    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.BatchNorm1d(4), torch.nn.Linear(4, 2))
    start = {k: v.clone() for k, v in net.named_parameters()}
    ema = Ema(net, 0.75)
    with torch.no_grad():
        for p in net.parameters():
            p.add_(torch.randn_like(p))
    ema.update(net)
    for k, v in net.named_parameters():
        assert torch.equal(dict(ema.model.named_parameters())[k], 0.75 * start[k] + 0.25 * v), k
    assert not any(p.requires_grad for p in ema.model.parameters())

    images = torch.randint(0, 256, (12, 1, 2, 2), dtype=torch.uint8)
    ema.refresh_bn(images, batch=4)
    x = images.float().view(3, 4, 4)  # three batches of four samples, four features
    bn = ema.model[1]
    torch.testing.assert_close(bn.running_mean, x.mean(1).mean(0))
    torch.testing.assert_close(bn.running_var, x.var(1).mean(0))
    assert not ema.model.training and bn.momentum == 0.1


def test_ema_training_and_exact_resume(cifar, tmp_path):
    """train.ema leaves training itself unchanged (the raw weights equal a run without it), saves
    and scores the average, resumes exactly, and refuses a resume that switches it on or off."""
    plain, ema, part = tmp_path / "plain.pt", tmp_path / "ema.pt", tmp_path / "part.pt"
    s0 = run_training(_cfg(cifar, max_steps=7), plain)
    s1 = run_training(_cfg(cifar, max_steps=7, ema=0.5), ema)
    a, b = read_checkpoint(plain), read_checkpoint(ema)
    assert _equal_states(a["state_dict"], b["train_state"]["raw_state_dict"])
    assert not _equal_states(a["state_dict"], b["state_dict"])
    assert [h["top1_raw"] for h in s1["history"]] == [h["top1"] for h in s0["history"]]
    assert b["meta"]["ema"] == 0.5 and b["meta"]["top1"] == s1["history"][-1]["top1"]
    run_training(_cfg(cifar, max_steps=3, ema=0.5), part)
    run_training(_cfg(cifar, max_steps=7, ema=0.5), part, resume=True)
    c = read_checkpoint(part)
    assert _equal_states(b["state_dict"], c["state_dict"])
    assert _equal_states(b["train_state"]["raw_state_dict"], c["train_state"]["raw_state_dict"])
    with pytest.raises(ValueError, match="trained with train.ema"):
        run_training(_cfg(cifar, max_steps=9), part, resume=True)
    with pytest.raises(ValueError, match="trained without train.ema"):
        run_training(_cfg(cifar, max_steps=9, ema=0.5), plain, resume=True)
