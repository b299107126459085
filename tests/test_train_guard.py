"""The training guard (sat_hw.flow.guard): the rules at their limits, and end to end through
``sat_hw train``: exit status 5, one line naming the epoch, the step and what ran away, and the
last good checkpoint left byte for byte as it was."""

import math

import pytest
import torch
from torch import nn

from sat_hw.base.errors import EXIT_COLLAPSE, TrainingCollapse
from sat_hw.flow import guard as guard_mod
from sat_hw.flow import train as train_mod
from sat_hw.flow.cli import main
from sat_hw.flow.guard import TEST_DROP, TRAIN_DROP, WINDOW, Guard, ran_away, watched
from sat_hw.nn.models import MobileNetV1

from test_train import fake_cifar

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _tiny() -> nn.Module:
    return MobileNetV1(width=0.25, resolution=16, in_channels=3, classes=10, method="sat")


def _feed(g: Guard, model, accs: list[int], start_step: int = 1, batch: int = 100) -> None:
    for i, a in enumerate(accs):
        g.after_step(model, 1, start_step + i, torch.tensor(0.5), torch.tensor(a), batch)
    g.flush(model)


def test_training_rule_stops_at_the_first_window_more_than_the_limit_below_its_best():
    m = _tiny()
    drop = int(TRAIN_DROP)
    g = Guard(m, lambda v: v, "x.pt")
    # WINDOW steps at 90 %, then steps at 90 - 2*drop: the window's mean falls by 2*drop/WINDOW
    # points a step, so it first exceeds the limit after WINDOW/2 + 1 such steps
    _feed(g, m, [90] * WINDOW)
    with pytest.raises(TrainingCollapse) as e:
        _feed(g, m, [90 - 2 * drop] * WINDOW, start_step=WINDOW + 1)
    first = WINDOW + WINDOW // 2 + 1
    msg = str(e.value)
    assert f"stopped at epoch 1, step {first}:" in msg and "\n" not in msg
    assert f"points below its best over {WINDOW} steps 90.00 % (limit {TRAIN_DROP:g})" in msg
    assert "no checkpoint of this run was written to 'x.pt'" in msg


def test_training_rule_tolerates_a_fall_of_exactly_the_limit():
    m = _tiny()
    g = Guard(m, lambda v: v, "x.pt")
    _feed(g, m, [90] * WINDOW + [90 - int(TRAIN_DROP)] * (2 * WINDOW))  # falls exactly the limit
    assert g.best_window == 90.0


def test_a_fine_tune_that_collapses_in_its_first_steps_falls_from_its_starting_point():
    m = _tiny()
    drop = int(TRAIN_DROP)
    # from a start scored at 90 % on 1000 images: steps at 90 - drop pass, the first 10 steps
    # at 90 - drop - 1 stop the run at step 10 (the first judgement)
    g = Guard(m, lambda v: v, "x.pt", start_top1=0.9, test_images=1000)
    _feed(g, m, [90 - drop] * (2 * WINDOW))
    g = Guard(m, lambda v: v, "x.pt", start_top1=0.9, test_images=1000)
    with pytest.raises(TrainingCollapse, match=rf"stopped at epoch 1, step 10: training top-1 "
                       rf"over the last 10 steps fell to {89 - drop}\.00 %, {drop + 1}\.00 points "
                       rf"below the starting point's test top-1 90\.00 % "):
        _feed(g, m, [90 - drop - 1] * 10)
    # a start scored on fewer than MIN_TEST_IMAGES images is no reference
    g = Guard(m, lambda v: v, "x.pt", start_top1=0.9, test_images=999)
    _feed(g, m, [10] * WINDOW)


def test_a_disabled_guard_lets_anything_pass():
    m = _tiny()
    g = Guard(m, lambda v: v, "x.pt", enabled=False)
    g.after_step(m, 1, 1, torch.tensor(math.nan), torch.tensor(0), 100)
    _feed(g, m, [90] * WINDOW + [0] * WINDOW)
    g.after_epoch(m, {"epoch": 1, "step": 1, "top1": 0.0, "test_images": 10000, "loss": 1.0})


def test_nonfinite_loss_names_its_step_even_between_checks():
    m = _tiny()
    g = Guard(m, lambda v: v, "x.pt")
    for s in range(1, 8):
        loss = torch.tensor(math.inf if s == 4 else 0.5)
        g.after_step(m, 3, s, loss, torch.tensor(50), 100)
    with pytest.raises(TrainingCollapse, match=r"stopped at epoch 3, step 4: the loss is inf;"):
        g.flush(m)


def test_test_rule_counts_the_start_and_needs_enough_images():
    m = _tiny()
    rec = {"epoch": 1, "step": 5, "loss": 0.3, "test_images": 1000}
    # falling exactly the limit from the starting point passes; one image more stops
    g = Guard(m, lambda v: v, "m.pt", start_top1=0.9, test_images=1000)
    g.after_epoch(m, dict(rec, top1=0.9 - TEST_DROP / 100))
    g = Guard(m, lambda v: v, "m.pt", start_top1=0.9, test_images=1000)
    with pytest.raises(TrainingCollapse, match=r"stopped at epoch 1, step 5: test top-1 fell to "
                       r"39\.90 %, 50\.10 points below the best 90\.00 % \(limit 50\)"):
        g.after_epoch(m, dict(rec, top1=0.399))
    # on 999 images the same fall is not judged
    g = Guard(m, lambda v: v, "m.pt", start_top1=0.9, test_images=999)
    g.after_epoch(m, dict(rec, top1=0.1, test_images=999))
    # after a good epoch the message names it as the kept checkpoint
    g = Guard(m, lambda v: v, "m.pt")
    g.after_epoch(m, dict(rec, top1=0.92))
    with pytest.raises(TrainingCollapse, match=r"epoch 2, step 10: .* the last good checkpoint "
                       r"'m\.pt' \(epoch 1, test 92\.00 %\) is kept$"):
        g.after_epoch(m, dict(rec, epoch=2, step=10, top1=0.1))


def test_ran_away_names_the_quantity_that_moved_furthest():
    m = _tiny()
    before = watched(m)
    with torch.no_grad():
        m.layers["fc"].act.alpha.mul_(0.01)      # by a factor 100
        m.layers["pw3"].bn.running_var.mul_(20)  # by a factor 20
    assert ran_away(m, before, "epoch 4") == (
        f"moved most since epoch 4: layers.fc.act.alpha {before['layers.fc.act.alpha']:.4g} -> "
        f"{0.01 * before['layers.fc.act.alpha']:.4g}")
    with torch.no_grad():
        m.layers["dw2"].conv.weight[0, 0, 0, 0] = math.nan
    assert ran_away(m, before, "epoch 4") == "parameter layers.dw2.conv.weight is not finite"


def _train_argv(root, out, epochs=3) -> list[str]:
    return ["train", "--data", "cifar10", "--data-root", str(root), "--width", "0.25",
            "--resolution", "16", "--epochs", str(epochs), "--batch-size", "16", "--lr", "0.02",
            "--out", str(out)]


@pytest.fixture(scope="module")
def cifar(tmp_path_factory):
    return fake_cifar(tmp_path_factory.mktemp("cifar"))


def test_cli_nan_loss_stops_with_status_5_and_keeps_the_last_good_checkpoint(
        cifar, tmp_path, monkeypatch, capsys):
    out = tmp_path / "m.pt"
    real = train_mod.F.cross_entropy
    calls = {"n": 0}

    def poisoned(*a, **k):  # the 7th training step's loss (epoch 2 of 5 steps each) is NaN
        calls["n"] += 1
        loss = real(*a, **k)
        return loss * math.nan if calls["n"] == 7 else loss

    saved = {}
    real_save = train_mod._save

    def save(*a, **k):
        real_save(*a, **k)
        saved[len(saved) + 1] = out.read_bytes()

    monkeypatch.setattr(train_mod.F, "cross_entropy", poisoned)
    monkeypatch.setattr(train_mod, "_save", save)
    assert main(_train_argv(cifar, out)) == EXIT_COLLAPSE
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert err[0].startswith("sat_hw train: error: stopped at epoch 2, step 7: the loss is nan; ")
    assert " is not finite; the last good checkpoint " in err[0]
    assert err[0].endswith("(epoch 1, test " + err[0].rsplit("(epoch 1, test ", 1)[1])
    assert list(saved) == [1] and out.read_bytes() == saved[1]


def test_cli_test_collapse_keeps_the_checkpoint_of_the_last_good_epoch(
        cifar, tmp_path, monkeypatch, capsys):
    out = tmp_path / "m.pt"
    scores = iter([0.80, 0.85, 0.20, 0.9])  # epochs 1, 2, 3 (3 collapses)
    monkeypatch.setattr(guard_mod, "MIN_TEST_IMAGES", 1)
    monkeypatch.setattr(train_mod, "evaluate", lambda *a, **k: next(scores))
    saved = {}
    real_save = train_mod._save

    def save(*a, **k):
        real_save(*a, **k)
        saved[len(saved) + 1] = out.read_bytes()

    monkeypatch.setattr(train_mod, "_save", save)
    assert main(_train_argv(cifar, out, epochs=4)) == EXIT_COLLAPSE
    err = capsys.readouterr().err.strip()
    assert err == ("sat_hw train: error: stopped at epoch 3, step 15: test top-1 fell to 20.00 %, "
                   "65.00 points below the best 85.00 % (limit 50); "
                   + err.split("(limit 50); ", 1)[1])
    assert err.endswith(f"the last good checkpoint {str(out)!r} (epoch 2, test 85.00 %) is kept")
    assert list(saved) == [1, 2] and out.read_bytes() == saved[2]
