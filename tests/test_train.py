import math

import pytest
import torch
from torch import nn

from core import data, nets
from core.train import (EarlyStopping, GradClip, History, LRScheduler, NaNGuard, evaluate, fit,
                        make_optimizer, run_to_end, OPTIMIZERS)


def toy_split():
    return data.split(data.load("toy", kind="moons", n=300, noise=0.1, seed=0), 0.25, seed=0)


def model():
    torch.manual_seed(0)
    return nets.build("mlp", {"in_features": 2, "hidden": (16,), "out_features": 2})


def test_fit_matches_a_hand_written_loop():
    """Oracle: the same steps written out by hand give bit-identical weights."""
    s = toy_split()
    m1, m2 = model(), model()
    opt1, opt2 = torch.optim.SGD(m1.parameters(), lr=0.1), torch.optim.SGD(m2.parameters(), lr=0.1)
    run_to_end(fit(m1, (s.X_train, s.y_train), optimizer=opt1, epochs=2, batch_size=32, seed=5))
    gen = torch.Generator().manual_seed(5)
    for _ in range(2):
        order = torch.randperm(len(s.y_train), generator=gen)
        for i in range(0, len(order), 32):
            idx = order[i:i + 32]
            loss = nn.functional.cross_entropy(m2(s.X_train[idx]), s.y_train[idx])
            opt2.zero_grad()
            loss.backward()
            opt2.step()
    for p1, p2 in zip(m1.parameters(), m2.parameters()):
        assert torch.equal(p1, p2)


def test_events_and_learning():
    s = toy_split()
    m = model()
    events = list(fit(m, (s.X_train, s.y_train), (s.X_val, s.y_val),
                      optimizer=make_optimizer("adam", m.parameters(), 0.03), epochs=15, batch_size=32))
    kinds = [e["kind"] for e in events]
    assert kinds[-1] == "end" and kinds.count("eval") == 15
    assert events[-1]["reason"] == "completed" and events[-1]["val_acc"] > 0.9
    evals = [e for e in events if e["kind"] == "eval"]
    assert evals[-1]["train_loss"] < evals[0]["train_loss"]


def test_same_seed_same_curve():
    s = toy_split()
    curves = []
    for _ in range(2):
        m = model()
        ev = fit(m, (s.X_train, s.y_train), optimizer=make_optimizer("sgd", m.parameters(), 0.1), epochs=2, seed=3)
        curves.append([e["loss"] for e in ev if e["kind"] == "step"])
    assert curves[0] == curves[1]


def test_nan_guard_stops():
    s = toy_split()
    m = model()
    end = run_to_end(fit(m, (s.X_train, s.y_train), optimizer=make_optimizer("sgd", m.parameters(), 1e12),
                         epochs=20, callbacks=[NaNGuard()]))
    assert end["reason"] == "nan" and end["epoch"] < 20


def test_stop_event_and_max_steps():
    import threading
    s = toy_split()
    m = model()
    stop = threading.Event()
    stop.set()
    assert run_to_end(fit(m, (s.X_train, s.y_train), optimizer=make_optimizer("sgd", m.parameters(), 0.1),
                          stop_event=stop))["reason"] == "stopped"
    end = run_to_end(fit(m, (s.X_train, s.y_train), optimizer=make_optimizer("sgd", m.parameters(), 0.1),
                         epochs=100, max_steps=7))
    assert end["reason"] == "max_steps" and end["step"] == 7


def test_grad_clip_bounds_the_update():
    s = toy_split()
    m = model()
    before = [p.detach().clone() for p in m.parameters()]
    events = list(fit(m, (s.X_train, s.y_train), optimizer=torch.optim.SGD(m.parameters(), lr=1.0),
                      max_steps=1, callbacks=[GradClip(0.01)]))
    assert events[0]["grad_norm"] > 0.01
    change = torch.sqrt(sum(((p - b) ** 2).sum() for p, b in zip(m.parameters(), before)))
    assert change <= 0.01 + 1e-6   # SGD with lr=1 moves exactly by the clipped gradient


def test_scheduler_and_early_stopping():
    s = toy_split()
    m = model()
    opt = torch.optim.SGD(m.parameters(), lr=1.0)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)
    events = list(fit(m, (s.X_train, s.y_train), (s.X_val, s.y_val), optimizer=opt, epochs=3,
                      callbacks=[LRScheduler(sched, "epoch")]))
    lrs = sorted({e["lr"] for e in events if e["kind"] == "step"}, reverse=True)
    assert lrs == [1.0, 0.5, 0.25]
    m = model()
    stopper = EarlyStopping("val_loss", patience=1, min_delta=10.0)  # nothing improves by 10: stop fast
    end = run_to_end(fit(m, (s.X_train, s.y_train), (s.X_val, s.y_val),
                         optimizer=make_optimizer("adam", m.parameters(), 0.01), epochs=50, callbacks=[stopper]))
    assert end["reason"] == "early_stop" and end["epoch"] <= 2


def test_history_and_dataloader_input():
    from torch.utils.data import DataLoader, TensorDataset
    s = toy_split()
    m = model()
    hist = History()
    loader = DataLoader(TensorDataset(s.X_train, s.y_train), batch_size=16, shuffle=True)
    run_to_end(fit(m, loader, (s.X_val, s.y_val), optimizer=make_optimizer("adam", m.parameters(), 0.01),
                   epochs=2, callbacks=[hist]))
    assert len(hist.evals) == 2 and "val_acc" in hist.evals[0]


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_optimizers_build(name):
    opt = make_optimizer(name, model().parameters(), 0.01, weight_decay=0.1)
    assert opt.param_groups[0]["lr"] == 0.01


def test_evaluate_restores_mode():
    s = toy_split()
    m = model().train()
    metrics = evaluate(m, (s.X_val, s.y_val), nn.functional.cross_entropy)
    assert m.training and 0 <= metrics["acc"] <= 1 and math.isfinite(metrics["loss"])


def test_record_collects_evals_and_end_and_forwards_everything():
    from core.train import record
    s = toy_split()
    m = model()
    seen = []
    history, end = record(fit(m, (s.X_train, s.y_train), (s.X_val, s.y_val),
                              optimizer=make_optimizer("adam", m.parameters(), 0.01), epochs=3), seen.append)
    assert [e["epoch"] for e in history] == [0, 1, 2] and end["kind"] == "end"
    assert seen[-1] is end and sum(e["kind"] == "step" for e in seen) == end["step"]
