"""Chapter 4 lesson functions against independent oracles (NumPy formulas, finite differences,
torch.optim / lr_scheduler stepped directly here, torchvision's focal loss)."""
import math
import subprocess
import sys

import numpy as np
import pytest
import torch
from torch.nn import functional as F

from core.errors import HeroError
from core.lessons import ch04_loss_optim as L


# --------------------------------------------------------------------------- 4.1 losses

def numpy_loss(name, x, target, delta=1.0):
    """Each loss from its textbook formula, in float64 NumPy."""
    if name == "mse":
        return (x - target) ** 2
    if name == "l1":
        return np.abs(x - target)
    if name == "huber":
        d = np.abs(x - target)
        return np.where(d < delta, 0.5 * d ** 2, delta * (d - 0.5 * delta))
    if name == "smooth_l1":
        d = np.abs(x - target)
        return np.where(d < delta, 0.5 * d ** 2 / delta, d - 0.5 * delta)
    if name == "cross_entropy":
        logits = np.stack([x, np.zeros_like(x), np.zeros_like(x)], 1)
        log_softmax = logits - np.log(np.exp(logits).sum(1, keepdims=True))
        return -log_softmax[:, int(target)]
    if name == "nll":
        probs = np.stack([x, (1 - x) / 2, (1 - x) / 2], 1)
        return -np.log(probs[:, int(target)])
    if name == "bce":
        return -(target * np.log(x) + (1 - target) * np.log(1 - x))
    if name == "bce_logits":
        p = 1 / (1 + np.exp(-x))
        return -(target * np.log(p) + (1 - target) * np.log(1 - p))
    raise KeyError(name)


@pytest.mark.parametrize("name,target", [("mse", 0.5), ("l1", -1.0), ("huber", 1.0), ("smooth_l1", 0.0),
                                         ("cross_entropy", 0), ("cross_entropy", 2), ("nll", 1),
                                         ("bce", 0.3), ("bce_logits", 1.0)])
def test_loss_curve_matches_numpy_and_finite_differences(name, target):
    delta = 0.7
    c = L.loss_curve(name, target, 101, delta)
    np.testing.assert_allclose(c["loss"], numpy_loss(name, c["x"], target, delta), rtol=1e-9, atol=1e-12)
    # the autograd gradient vs a central finite difference of the NumPy formula (away from kinks)
    h = 1e-6
    fd = (numpy_loss(name, c["x"] + h, target, delta) - numpy_loss(name, c["x"] - h, target, delta)) / (2 * h)
    smooth = np.abs(np.abs(c["x"] - target) - delta) > 1e-3 if name in ("huber", "smooth_l1") else \
        np.abs(c["x"] - target) > 1e-3
    np.testing.assert_allclose(c["grad"][smooth], fd[smooth], rtol=1e-5, atol=1e-6)


def test_loss_curve_rejects_bad_input():
    with pytest.raises(HeroError) as err:
        L.loss_curve("hinge", 0.0)
    assert err.value.code == "ch04.unknown_loss"
    with pytest.raises(HeroError):
        L.loss_curve("cross_entropy", 5)
    with pytest.raises(HeroError):
        L.loss_curve("mse", 0.0, n=10**7)


def test_bce_with_logits_stays_exact_where_sigmoid_then_bce_breaks():
    rows = {r["logit"]: r for r in L.bce_stability(target=0.0)}
    ref_loss, ref_grad = L.bce_reference(np.array([100.0, 20.0, -100.0]), 0.0)
    for z, want, grad in zip((100.0, 20.0), ref_loss, ref_grad):
        r = rows[z]
        assert math.isfinite(r["bce_logits"]) and abs(r["bce_logits"] - want) <= 1e-5 * want
        assert abs(r["grad_bce_logits"] - grad) < 1e-6                    # σ(z) − y = 1
        assert r["grad_bce"] == 0.0                                        # saturated sigmoid: no signal
        assert math.isinf(r["manual"])                                     # log(0) by hand
    assert rows[20.0]["bce"] == pytest.approx(100.0)                       # clamped, truth is 20
    assert abs(rows[20.0]["bce"] - ref_loss[1]) > 50
    assert math.isnan(rows[-100.0]["manual"])                              # 0 · log(0) = NaN
    # the reference vs log(1 + e^z) in float64 done naively where that is still exact (|z| ≤ 30)
    z = np.array([v for v in L.STABILITY_LOGITS if abs(v) <= 30])
    got = np.array([rows[float(v)]["reference"] for v in z])
    np.testing.assert_allclose(got, np.log1p(np.exp(z)), rtol=1e-12)


def test_custom_losses_agree_with_references():
    from torchvision.ops import sigmoid_focal_loss
    gen = torch.Generator().manual_seed(1)
    z = torch.randn(64, generator=gen, dtype=torch.float64) * 3
    y = (torch.rand(64, generator=gen, dtype=torch.float64) > 0.5).double()
    ours = L.focal_loss(z, y, 1.5, alpha=0.4)
    torch.testing.assert_close(ours, sigmoid_focal_loss(z, y, alpha=0.4, gamma=1.5, reduction="none"))
    torch.testing.assert_close(L.focal_loss(z, y, 0.0), F.binary_cross_entropy_with_logits(z, y, reduction="none"))
    assert torch.autograd.gradcheck(lambda a: L.focal_loss(a, y, 2.0), (z.clone().requires_grad_(),))
    pred = torch.randn(32, generator=gen, dtype=torch.float64)
    tgt = torch.randn(32, generator=gen, dtype=torch.float64)
    torch.testing.assert_close(L.pinball_loss(pred, tgt, 0.5), 0.5 * (pred - tgt).abs())
    assert torch.autograd.gradcheck(lambda a: L.pinball_loss(a, tgt, 0.8), (pred.clone().requires_grad_(),))
    check = L.custom_loss_check(gamma=2.0, q=0.9)
    assert check["vs_torchvision"] < 1e-12 and check["gamma0_vs_bce"] < 1e-12
    assert abs(check["pinball_minimiser"] - check["quantile"]) < 0.05     # argmin of pinball = quantile
    assert (check["focal_curve"] <= check["bce_curve"] + 1e-15).all()     # focal only ever down-weights


# --------------------------------------------------------------------------- 4.2 optimizers

def reference_path(surface, name, lr, steps):
    """The same walk, with torch.optim built here by hand (not through make_optimizer)."""
    s = L.SURFACES[surface]
    p = torch.tensor(s.start, dtype=torch.float32, requires_grad=True)
    opt = {"sgd": lambda: torch.optim.SGD([p], lr=lr),
           "momentum": lambda: torch.optim.SGD([p], lr=lr, momentum=0.9),
           "nesterov": lambda: torch.optim.SGD([p], lr=lr, momentum=0.9, nesterov=True),
           "rmsprop": lambda: torch.optim.RMSprop([p], lr=lr),
           "adam": lambda: torch.optim.Adam([p], lr=lr),
           "adamw": lambda: torch.optim.AdamW([p], lr=lr)}[name]()
    pts = [p.detach().clone()]
    for _ in range(steps):
        loss = s.fn(p[0], p[1])
        opt.zero_grad()
        loss.backward()
        opt.step()
        pts.append(p.detach().clone())
    return torch.stack(pts).numpy()


@pytest.mark.parametrize("surface", list(L.SURFACES))
def test_trajectories_are_real_torch_optim_steps(surface):
    s = L.SURFACES[surface]
    for name in L.RACERS:
        lr = s.lr_adaptive if name in L.ADAPTIVE else s.lr_sgd
        path = L.optimizer_path(surface, name, lr, 40)
        assert path.diverged_at is None
        np.testing.assert_array_equal(path.points, reference_path(surface, name, lr, 40))
        np.testing.assert_allclose(path.losses, s.fn(path.points[:, 0].astype(np.float64),
                                                     path.points[:, 1].astype(np.float64)), rtol=1e-5, atol=1e-6)


def test_divergence_is_flagged_not_raised_and_bad_settings_are_errors():
    path = L.optimizer_path("rosenbrock", "sgd", 10.0, 100)
    assert path.diverged_at is not None and path.diverged_at < 100
    assert len(path.points) == len(path.losses) == path.diverged_at + 1
    assert path.reached_at is None
    fig = L.race_figure("rosenbrock", {"sgd": path}, 20, 5)             # still drawable
    assert fig.frames
    for bad in (dict(lr=0.0, steps=10), dict(lr=0.1, steps=L.MAX_RACE_STEPS + 1)):
        with pytest.raises(HeroError):
            L.optimizer_path("bowl", "adam", **bad)
    with pytest.raises(HeroError) as err:
        L.race("bowl", [])
    assert err.value.code == "ch04.no_optimizer"


def test_race_winner_is_the_first_to_reach_a_minimum():
    paths = L.race("himmelblau", steps=120)
    reached = {n: p.reached_at for n, p in paths.items()}
    winner = L.race_winner(paths)
    assert reached[winner] == min(v for v in reached.values() if v is not None)
    p = paths[winner]
    d = np.linalg.norm(np.array(L.SURFACES["himmelblau"].minima) - p.points[p.reached_at], axis=1).min()
    assert d < L.REACH_TOLERANCE
    fig = L.race_figure("himmelblau", paths, 30, 10)
    assert len(fig.frames) == 10 and len(fig.data) == 2 + len(paths)


def test_adamw_and_adam_weight_decay():
    same = L.weight_decay_compare(lr=0.05, weight_decay=0.0, steps=50)
    np.testing.assert_array_equal(same["adam"]["weights"], same["adamw"]["weights"])
    diff = L.weight_decay_compare(lr=0.05, weight_decay=0.3, steps=50)
    assert diff["max_weight_diff"] > 1e-3
    # oracles: Adam(weight_decay) == Adam on loss + wd/2·‖w‖² ; AdamW == decoupled shrink then Adam step
    X, y = L.decay_problem(0)
    w1 = torch.zeros(X.shape[1], requires_grad=True)
    opt1 = torch.optim.Adam([w1], lr=0.05)
    w2 = torch.zeros(X.shape[1], requires_grad=True)
    opt2 = torch.optim.Adam([w2], lr=0.05)
    for _ in range(50):
        opt1.zero_grad()
        (F.mse_loss(X @ w1, y) + 0.15 * (w1 ** 2).sum()).backward()
        opt1.step()
        opt2.zero_grad()
        F.mse_loss(X @ w2, y).backward()
        with torch.no_grad():
            w2.mul_(1 - 0.05 * 0.3)
        opt2.step()
    np.testing.assert_allclose(diff["adam"]["weights"], w1.detach().numpy(), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(diff["adamw"]["weights"], w2.detach().numpy(), rtol=1e-4, atol=1e-5)
    assert diff["adam"]["norm"][-1] == pytest.approx(float(w1.detach().norm()), rel=1e-4)


# --------------------------------------------------------------------------- 4.3 schedulers

def collected_lrs(build, steps, losses=None):
    w = torch.zeros(1, requires_grad=True)
    opt = torch.optim.SGD([w], lr=0.1, momentum=0.9)
    sched = build(opt)
    lrs = [sched.get_last_lr()[0]]
    for t in range(steps - 1):
        opt.step()
        sched.step(losses[t]) if losses is not None else sched.step()
        lrs.append(sched.get_last_lr()[0])
    return np.array(lrs)


def test_scheduler_curves_match_get_last_lr():
    lrs, steps = torch.optim.lr_scheduler, 60
    plateau = L.plateau_loss(steps, 0.3)
    expected = {
        ("step", (("step_size", 7), ("gamma", 0.5))): lambda o: lrs.StepLR(o, 7, 0.5),
        ("multistep", (("first", 0.25), ("second", 0.5), ("gamma", 0.1))): lambda o: lrs.MultiStepLR(o, [15, 30], 0.1),
        ("exponential", (("gamma", 0.95),)): lambda o: lrs.ExponentialLR(o, 0.95),
        ("cosine", (("eta_min", 0.01),)): lambda o: lrs.CosineAnnealingLR(o, steps, 0.01),
        ("warm_restarts", (("T_0", 10), ("T_mult", 2), ("eta_min", 0.0))):
            lambda o: lrs.CosineAnnealingWarmRestarts(o, 10, 2, 0.0),
        ("onecycle", (("max_lr", 0.5), ("pct_start", 0.2))): lambda o: lrs.OneCycleLR(o, 0.5, total_steps=steps, pct_start=0.2),
        ("warmup_cosine", (("warmup", 8), ("start_factor", 0.1))): lambda o: lrs.SequentialLR(
            o, [lrs.LinearLR(o, 0.1, total_iters=8), lrs.CosineAnnealingLR(o, steps - 8)], milestones=[8]),
    }
    for (name, params), build in expected.items():
        got = L.scheduler_curve(name, steps, 0.1, **dict(params))["lr"]
        np.testing.assert_allclose(got, collected_lrs(build, steps), rtol=1e-12, err_msg=name)
    got = L.scheduler_curve("plateau", steps, 0.1, factor=0.5, patience=3, plateau_at=0.3)
    want = collected_lrs(lambda o: lrs.ReduceLROnPlateau(o, factor=0.5, patience=3), steps, plateau)
    np.testing.assert_allclose(got["lr"], want, rtol=1e-12)
    assert got["lr"][-1] < 0.1 and got["lr"][0] == 0.1                 # the plateau was noticed
    for name in L.SCHEDULERS:                                          # the generated snippets run
        scope = {}
        code = compile(L.scheduler_script(name, 20, 0.1), f"<{name}>", "exec")
        import contextlib
        import io
        with contextlib.redirect_stdout(io.StringIO()) as out:
            exec(code, scope)  # noqa: S102 - our own generated snippet, in a test
        assert len(out.getvalue().splitlines()) == 20
    with pytest.raises(HeroError):
        L.scheduler_curve("cosine", L.MAX_SCHED_STEPS + 1)


# --------------------------------------------------------------------------- 4.4 实战

def test_compare_practice_same_seed_and_differences():
    a = L.PracticeRun("cross_entropy", "adam", 3e-3)
    res = L.compare_practice([a, L.PracticeRun("cross_entropy", "adam", 3e-3), L.PracticeRun("nll", "sgd", 0.1)],
                             "moons", epochs=2)
    runs = list(res.runs.values())
    assert len(runs) == 3 and len(res.runs) == 3                      # duplicate names kept apart
    # identical settings + same seed → identical curves; nll = log_softmax + nll = cross-entropy
    assert [e["val_loss"] for e in runs[0]["history"]] == [e["val_loss"] for e in runs[1]["history"]]
    assert res.differences() == {"loss": ["cross_entropy", "cross_entropy", "nll"], "optimizer": ["adam", "adam", "sgd"],
                                 "lr": [3e-3, 3e-3, 0.1]}
    table = res.table()
    assert [r["val_acc"] for r in table] == sorted((r["val_acc"] for r in table), reverse=True)
    x = torch.randn(8, 3)
    yy = torch.randint(0, 3, (8,))
    torch.testing.assert_close(L.practice_loss("nll")(x, yy), F.cross_entropy(x, yy))
    torch.testing.assert_close(L.practice_loss("focal")(x, yy),
                               (-(1 - F.softmax(x, 1)[range(8), yy]) ** 2 * F.log_softmax(x, 1)[range(8), yy]).mean())


def test_compare_practice_flags_divergence_and_rejects_bad_settings():
    events = []
    res = L.compare_practice([L.PracticeRun("cross_entropy", "sgd", 100.0)], "digits", epochs=1, emit=events.append)
    run = next(iter(res.runs.values()))
    assert run["end"]["reason"] == "diverged"
    assert all(e["run"] == next(iter(res.runs)) for e in events)
    with pytest.raises(HeroError) as err:
        L.compare_practice([], "digits")
    assert err.value.code == "ch04.bad_runs"
    with pytest.raises(HeroError):
        L.compare_practice([L.PracticeRun(lr=1e9)], "digits")
    with pytest.raises(HeroError):
        L.compare_practice([L.PracticeRun()], "digits", epochs=10**6)


def test_compare_practice_honours_the_device_and_keeps_cpu_models(monkeypatch):
    with pytest.raises((NotImplementedError, RuntimeError)):
        L.compare_practice([L.PracticeRun()], epochs=1, device="meta")
    from core.lessons.ch04_loss_optim import practice
    seen, real_fit = [], practice.fit

    def spy(*args, **kwargs):
        seen.append((str(kwargs["device"]), [type(c).__name__ for c in kwargs["callbacks"]]))
        return real_fit(*args, **kwargs)
    monkeypatch.setattr(practice, "fit", spy)
    result = L.compare_practice([L.PracticeRun(), L.PracticeRun(lr=1e-4)], "moons", epochs=2)
    assert seen == [("cpu", ["NaNGuard", "Divergence"])] * 2
    name, best = result.best()
    assert best["end"]["val_acc"] == max(r["end"]["val_acc"] for r in result.runs.values())
    assert all({p.device.type for p in r["model"].parameters()} == {"cpu"} for r in result.runs.values())


def test_practice_trainer_check_is_registered():
    from core.lessons import TRAINERS
    accs = TRAINERS["ch04_practice"]("cpu", "tiny")
    assert len(accs) == 2 and all(0 <= a <= 1 for a in accs.values())


def test_range_checks_use_the_shared_message():
    with pytest.raises(HeroError) as err:
        L.weight_decay_compare(lr=5.0)
    assert err.value.code == "range" and err.value.params["name"] == "lr"


def test_race_streams_lockstep_snapshots_equal_to_the_solo_walks():
    """Issue 15.10: the race emits every path so far as it goes; each path is exactly the solo walk."""
    events = []
    paths = L.race("bowl", ["sgd", "adam"], steps=100, emit=events.append, snapshots=10)
    snaps = [e for e in events if "paths" in e]
    assert [e["done"] for e in snaps] == list(range(0, 101, 10))
    assert [len(e["paths"]["adam"].points) for e in snaps] == list(range(1, 102, 10))
    for name, path in paths.items():
        solo = L.optimizer_path("bowl", name, path.lr, 100)
        np.testing.assert_array_equal(path.points, solo.points)
        np.testing.assert_array_equal(snaps[3]["paths"][name].points, solo.points[:31])
    import threading
    stop = threading.Event()
    stop.set()
    assert len(L.race("bowl", ["sgd"], steps=100, stop_event=stop)["sgd"].points) == 1   # stopped: the paths so far
    diverged = L.race("rosenbrock", ["sgd", "adam"], lr_sgd=10.0, steps=50)
    assert diverged["sgd"].diverged_at is not None and len(diverged["adam"].points) == 51


def test_race_script_races_every_optimizer_like_the_page(tmp_path):
    import os
    import re
    paths = L.race("himmelblau", ["momentum", "rmsprop", "adamw"], steps=80)
    (tmp_path / "race.py").write_text(L.race_script("himmelblau", {n: p.lr for n, p in paths.items()}, 80))
    env = {k: v for k, v in os.environ.items() if k != "HERO_TINY"}
    out = subprocess.run([sys.executable, "race.py"], cwd=tmp_path, capture_output=True, text=True, timeout=600, env=env)
    assert out.returncode == 0, out.stderr
    for name, path in paths.items():
        line = next(l for l in out.stdout.splitlines() if l.startswith(name))
        final = [float(v) for v in re.search(r"\[([^\]]*)\]", line).group(1).split(",")]
        np.testing.assert_allclose(final, path.points[-1], rtol=1e-5)
        assert f"reached at {path.reached_at} " in line
    assert f"minimum: {L.race_winner(paths)}" in out.stdout
