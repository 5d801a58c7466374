"""4.3 Learning-rate schedulers from torch.optim.lr_scheduler, stepped for real."""
from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import torch
from plotly.subplots import make_subplots

from core.errors import HeroError, check_range
from core.viz import PALETTE, style as _layout

from .limits import MAX_SCHED_STEPS


# =========================================================================== 4.3 LR schedulers

# The key parameters of each scheduler as widgets: (name, min, max, default, step). Integers
# where the default is an int. "milestones" of MultiStepLR are fractions of the run.
SCHEDULERS = {
    "step": [("step_size", 1, 200, 30, 1), ("gamma", 0.05, 1.0, 0.5, 0.05)],
    "multistep": [("first", 0.05, 0.95, 0.5, 0.05), ("second", 0.05, 0.95, 0.75, 0.05), ("gamma", 0.05, 1.0, 0.1, 0.05)],
    "exponential": [("gamma", 0.8, 1.0, 0.97, 0.005)],
    "cosine": [("eta_min", 0.0, 0.05, 0.0, 0.005)],
    "warm_restarts": [("T_0", 1, 200, 20, 1), ("T_mult", 1, 3, 2, 1), ("eta_min", 0.0, 0.05, 0.0, 0.005)],
    "onecycle": [("max_lr", 0.01, 1.0, 0.1, 0.01), ("pct_start", 0.05, 0.95, 0.3, 0.05)],
    "warmup_cosine": [("warmup", 1, 200, 10, 1), ("start_factor", 0.01, 1.0, 0.1, 0.01)],
    "plateau": [("factor", 0.05, 0.95, 0.5, 0.05), ("patience", 0, 50, 5, 1), ("plateau_at", 0.05, 0.95, 0.3, 0.05)],
}


def default_params(name: str) -> dict:
    return {p: d for p, _, _, d, _ in SCHEDULERS[name]}


def make_scheduler(name: str, optimizer: torch.optim.Optimizer, steps: int, **params):
    """The real ``torch.optim.lr_scheduler`` object for ``name`` with the given parameters."""
    lrs = torch.optim.lr_scheduler
    p = {**default_params(name), **params}
    if name == "step":
        return lrs.StepLR(optimizer, step_size=int(p["step_size"]), gamma=p["gamma"])
    if name == "multistep":
        milestones = sorted({max(1, int(round(f * steps))) for f in (p["first"], p["second"])})
        return lrs.MultiStepLR(optimizer, milestones=milestones, gamma=p["gamma"])
    if name == "exponential":
        return lrs.ExponentialLR(optimizer, gamma=p["gamma"])
    if name == "cosine":
        return lrs.CosineAnnealingLR(optimizer, T_max=steps, eta_min=p["eta_min"])
    if name == "warm_restarts":
        return lrs.CosineAnnealingWarmRestarts(optimizer, T_0=int(p["T_0"]), T_mult=int(p["T_mult"]), eta_min=p["eta_min"])
    if name == "onecycle":
        return lrs.OneCycleLR(optimizer, max_lr=p["max_lr"], total_steps=steps, pct_start=p["pct_start"])
    if name == "warmup_cosine":
        warm = min(int(p["warmup"]), steps - 1)
        return lrs.SequentialLR(optimizer, [lrs.LinearLR(optimizer, start_factor=p["start_factor"], total_iters=warm),
                                            lrs.CosineAnnealingLR(optimizer, T_max=max(1, steps - warm))],
                                milestones=[warm])
    if name == "plateau":
        return lrs.ReduceLROnPlateau(optimizer, mode="min", factor=p["factor"], patience=int(p["patience"]))
    raise HeroError("ch04.unknown_scheduler", name=name, known=", ".join(SCHEDULERS))


def plateau_loss(steps: int, plateau_at: float = 0.3, seed: int = 0) -> np.ndarray:
    """A simulated validation loss [steps]: falls, then flattens at ``plateau_at`` of the run
    (with a little noise), the situation ReduceLROnPlateau is built for."""
    rng = np.random.default_rng(seed)
    t = np.arange(steps, dtype=float)
    knee = max(1.0, plateau_at * steps)
    loss = 1.0 / (1.0 + np.minimum(t, knee) / 5.0)
    return loss + 0.005 * rng.standard_normal(steps)


def scheduler_curve(name: str, steps: int = 100, base_lr: float = 0.1, **params) -> dict:
    """The learning rate a real scheduler sets at each of ``steps`` steps: lr [steps]
    (plus ``loss`` [steps], the simulated loss fed to ReduceLROnPlateau)."""
    check_range("steps", steps, 2, MAX_SCHED_STEPS)
    check_range("base_lr", base_lr, 1e-6, 10.0)
    w = torch.zeros(1, requires_grad=True)
    # 1. an optimizer to schedule (its lr is what the scheduler rewrites every step)
    opt = torch.optim.SGD([w], lr=base_lr, momentum=0.9)
    sched = make_scheduler(name, opt, steps, **params)
    loss = plateau_loss(steps, params.get("plateau_at", default_params("plateau")["plateau_at"])) \
        if name == "plateau" else None
    lrs = []
    for t in range(steps):
        # 2. the lr used for this step, then 3. optimizer.step() (no gradient: a no-op) and scheduler.step()
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        if t < steps - 1:
            sched.step(loss[t]) if loss is not None else sched.step()
    return {"lr": np.array(lrs), "loss": loss}


def scheduler_figure(curves: dict[str, dict], title: str = "", lr_label: str = "lr",
                     loss_label: str = "loss") -> go.Figure:
    """Learning rate per step for each scheduler; the simulated plateau loss on a second axis."""
    fig = make_subplots(specs=[[{"secondary_y": True}]])
    for i, (name, c) in enumerate(curves.items()):
        fig.add_trace(go.Scatter(y=c["lr"], mode="lines", name=name, line=dict(color=PALETTE[i % len(PALETTE)])))
        if c.get("loss") is not None:
            fig.add_trace(go.Scatter(y=c["loss"], mode="lines", name=loss_label,
                                     line=dict(color="#999999", dash="dot")), secondary_y=True)
    fig.update_yaxes(title_text=lr_label, secondary_y=False)
    fig.update_xaxes(title_text="step")
    return _layout(fig, title, height=360)


def scheduler_script(name: str, steps: int, base_lr: float, **params) -> str:
    """A runnable snippet building the same scheduler and printing its lr per step."""
    p = {**default_params(name), **params}
    milestones = sorted({max(1, int(round(f * steps))) for f in (p.get("first", 0), p.get("second", 0))})
    warm = min(int(p.get("warmup", 1)), steps - 1)
    body = {   # lambdas: only the chosen scheduler's parameters exist in p
        "step": lambda: f"StepLR(opt, step_size={int(p['step_size'])}, gamma={p['gamma']})",
        "multistep": lambda: f"MultiStepLR(opt, milestones={milestones}, gamma={p['gamma']})",
        "exponential": lambda: f"ExponentialLR(opt, gamma={p['gamma']})",
        "cosine": lambda: f"CosineAnnealingLR(opt, T_max={steps}, eta_min={p['eta_min']})",
        "warm_restarts": lambda: (f"CosineAnnealingWarmRestarts(opt, T_0={int(p['T_0'])}, T_mult={int(p['T_mult'])}, "
                                  f"eta_min={p['eta_min']})"),
        "onecycle": lambda: f"OneCycleLR(opt, max_lr={p['max_lr']}, total_steps={steps}, pct_start={p['pct_start']})",
        "warmup_cosine": lambda: (f"SequentialLR(opt, [LinearLR(opt, start_factor={p['start_factor']}, total_iters={warm}), "
                                  f"CosineAnnealingLR(opt, T_max={max(1, steps - warm)})], milestones=[{warm}])"),
        "plateau": lambda: f"ReduceLROnPlateau(opt, factor={p['factor']}, patience={int(p['patience'])})",
    }[name]()
    step = "sched.step(val_loss)  # ReduceLROnPlateau watches a metric" if name == "plateau" else "sched.step()"
    return f'''import torch
from torch.optim.lr_scheduler import *

model = torch.nn.Linear(4, 1)
opt = torch.optim.SGD(model.parameters(), lr={base_lr}, momentum=0.9)
sched = {body}
for step in range({steps}):
    print(step, opt.param_groups[0]["lr"])  # the lr this step uses
    # ... forward, loss.backward() ...
    opt.step()
    val_loss = 1.0  # your validation loss here
    if step < {steps - 1}:
        {step}
'''
