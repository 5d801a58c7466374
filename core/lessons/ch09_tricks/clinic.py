"""9.6 Debugging clinic: runnable buggy training scripts next to their fixes, on the same data and seed."""
from __future__ import annotations

import difflib
import inspect
import math
from dataclasses import dataclass, replace
from typing import Callable

import numpy as np
import plotly.graph_objects as go
import torch
import torch.nn.functional as F
from torch import nn

from core.errors import HeroError, check_range
from core.lessons.ch09_tricks.presets import MAX_STEPS
from core.lessons.ch09_tricks.lr_finder import digits_split
from core.viz import PALETTE, style as _layout


@dataclass
class ClinicData:
    """Digits for the clinic: X [N, 64] in [0, 1], y [N]; steps of batch ``batch_size``."""
    X_train: torch.Tensor
    y_train: torch.Tensor
    X_val: torch.Tensor
    y_val: torch.Tensor
    batch_size: int = 64
    eval_every: int = 5


def clinic_data(seed: int = 0, n_train: int = 300) -> ClinicData:
    """A small training set (``n_train`` images) so a few hundred steps show every symptom."""
    s = digits_split(seed)
    return ClinicData(s.X_train[:n_train], s.y_train[:n_train], s.X_val, s.y_val)


def clinic_model() -> nn.Module:
    """The patient: 64 → 128 → 10 with dropout (so forgetting eval mode shows)."""
    return nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Dropout(0.5), nn.Linear(128, 10))


def batches(d: ClinicData, steps: int, seed: int):
    """``steps`` shuffled mini-batches (x [B, 64], y [B]) cycling through the training set."""
    gen = torch.Generator().manual_seed(seed)
    order, pos = torch.randperm(len(d.y_train), generator=gen), 0
    for _ in range(steps):
        if pos + d.batch_size > len(order):
            order, pos = torch.randperm(len(d.y_train), generator=gen), 0
        idx = order[pos:pos + d.batch_size]
        pos += d.batch_size
        yield d.X_train[idx], d.y_train[idx]


class Chart:
    """What a clinic run records: per-step loss and gradient norm, val accuracy every few steps."""

    def __init__(self):
        self.losses, self.grad_norms, self.val_steps, self.val_acc = [], [], [], []

    def step(self, model: nn.Module, loss: torch.Tensor) -> None:
        self.losses.append(loss.item())
        norms = [p.grad.norm() for p in model.parameters() if p.grad is not None]
        self.grad_norms.append(float(torch.stack(norms).norm()) if norms else 0.0)

    def evaluate(self, model: nn.Module, d: ClinicData, step: int) -> None:
        """The correct way: eval mode, no autograd, then back to train mode."""
        model.eval()
        with torch.no_grad():
            self.record_acc(model(d.X_val), d.y_val, step)
        model.train()

    def record_acc(self, logits: torch.Tensor, y: torch.Tensor, step: int) -> None:
        self.val_steps.append(step)
        self.val_acc.append(float((logits.argmax(1) == y).float().mean()))

    def result(self) -> dict:
        return {"losses": self.losses, "grad_norms": self.grad_norms, "val_steps": self.val_steps,
                "val_acc": self.val_acc, "error": None}


def buggy_no_zero_grad(d: ClinicData, steps: int, seed: int = 0) -> dict:
    torch.manual_seed(seed)
    model, chart = clinic_model(), Chart()
    opt = torch.optim.SGD(model.parameters(), lr=0.2)
    for step, (xb, yb) in enumerate(batches(d, steps, seed)):
        loss = F.cross_entropy(model(xb), yb)
        loss.backward()                      # gradients add up on top of the previous ones
        chart.step(model, loss)
        opt.step()
        if step % d.eval_every == 0:
            chart.evaluate(model, d, step)
    return chart.result()


def fixed_no_zero_grad(d: ClinicData, steps: int, seed: int = 0) -> dict:
    torch.manual_seed(seed)
    model, chart = clinic_model(), Chart()
    opt = torch.optim.SGD(model.parameters(), lr=0.2)
    for step, (xb, yb) in enumerate(batches(d, steps, seed)):
        loss = F.cross_entropy(model(xb), yb)
        opt.zero_grad()                      # clear last step's gradients first
        loss.backward()
        chart.step(model, loss)
        opt.step()
        if step % d.eval_every == 0:
            chart.evaluate(model, d, step)
    return chart.result()


def buggy_softmax_before_ce(d: ClinicData, steps: int, seed: int = 0) -> dict:
    torch.manual_seed(seed)
    model, chart = clinic_model(), Chart()
    opt = torch.optim.SGD(model.parameters(), lr=0.5)
    for step, (xb, yb) in enumerate(batches(d, steps, seed)):
        probs = model(xb).softmax(dim=1)     # CrossEntropyLoss applies log-softmax itself
        loss = F.cross_entropy(probs, yb)    # → softmax twice: flat loss, tiny gradients
        opt.zero_grad()
        loss.backward()
        chart.step(model, loss)
        opt.step()
        if step % d.eval_every == 0:
            chart.evaluate(model, d, step)
    return chart.result()


def fixed_softmax_before_ce(d: ClinicData, steps: int, seed: int = 0) -> dict:
    torch.manual_seed(seed)
    model, chart = clinic_model(), Chart()
    opt = torch.optim.SGD(model.parameters(), lr=0.5)
    for step, (xb, yb) in enumerate(batches(d, steps, seed)):
        logits = model(xb)                   # raw scores (logits)
        loss = F.cross_entropy(logits, yb)   # log-softmax + NLL in one stable op
        opt.zero_grad()
        loss.backward()
        chart.step(model, loss)
        opt.step()
        if step % d.eval_every == 0:
            chart.evaluate(model, d, step)
    return chart.result()


def buggy_eval_mode(d: ClinicData, steps: int, seed: int = 0) -> dict:
    torch.manual_seed(seed)
    model, chart = clinic_model(), Chart()
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    for step, (xb, yb) in enumerate(batches(d, steps, seed)):
        loss = F.cross_entropy(model(xb), yb)
        opt.zero_grad()
        loss.backward()
        chart.step(model, loss)
        opt.step()
        if step % d.eval_every == 0:
            with torch.no_grad():            # still in train mode: dropout drops half the units
                chart.record_acc(model(d.X_val), d.y_val, step)
    return chart.result()


def fixed_eval_mode(d: ClinicData, steps: int, seed: int = 0) -> dict:
    torch.manual_seed(seed)
    model, chart = clinic_model(), Chart()
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    for step, (xb, yb) in enumerate(batches(d, steps, seed)):
        loss = F.cross_entropy(model(xb), yb)
        opt.zero_grad()
        loss.backward()
        chart.step(model, loss)
        opt.step()
        if step % d.eval_every == 0:
            model.eval()                     # dropout off, BatchNorm uses running stats
            with torch.no_grad():
                chart.record_acc(model(d.X_val), d.y_val, step)
            model.train()
    return chart.result()


def buggy_unnormalised(d: ClinicData, steps: int, seed: int = 0) -> dict:
    torch.manual_seed(seed)
    model, chart = clinic_model(), Chart()
    opt = torch.optim.SGD(model.parameters(), lr=0.05)
    d = replace(d, X_train=d.X_train * 255, X_val=d.X_val * 255)   # raw 0–255 pixels
    for step, (xb, yb) in enumerate(batches(d, steps, seed)):
        loss = F.cross_entropy(model(xb), yb)
        opt.zero_grad()
        loss.backward()
        chart.step(model, loss)
        opt.step()
        if step % d.eval_every == 0:
            chart.evaluate(model, d, step)
    return chart.result()


def fixed_unnormalised(d: ClinicData, steps: int, seed: int = 0) -> dict:
    torch.manual_seed(seed)
    model, chart = clinic_model(), Chart()
    opt = torch.optim.SGD(model.parameters(), lr=0.05)
    d = replace(d, X_train=d.X_train * 255, X_val=d.X_val * 255)   # raw 0–255 pixels ...
    mean, std = d.X_train.mean(), d.X_train.std()                 # ... standardised with train stats
    d = replace(d, X_train=(d.X_train - mean) / std, X_val=(d.X_val - mean) / std)
    for step, (xb, yb) in enumerate(batches(d, steps, seed)):
        loss = F.cross_entropy(model(xb), yb)
        opt.zero_grad()
        loss.backward()
        chart.step(model, loss)
        opt.step()
        if step % d.eval_every == 0:
            chart.evaluate(model, d, step)
    return chart.result()


def buggy_lr_too_high(d: ClinicData, steps: int, seed: int = 0) -> dict:
    torch.manual_seed(seed)
    model, chart = clinic_model(), Chart()
    opt = torch.optim.SGD(model.parameters(), lr=20.0)   # each step overshoots the minimum
    for step, (xb, yb) in enumerate(batches(d, steps, seed)):
        loss = F.cross_entropy(model(xb), yb)
        opt.zero_grad()
        loss.backward()
        chart.step(model, loss)
        opt.step()
        if step % d.eval_every == 0:
            chart.evaluate(model, d, step)
    return chart.result()


def fixed_lr_too_high(d: ClinicData, steps: int, seed: int = 0) -> dict:
    torch.manual_seed(seed)
    model, chart = clinic_model(), Chart()
    opt = torch.optim.SGD(model.parameters(), lr=0.2)    # found with the LR finder (9.3)
    for step, (xb, yb) in enumerate(batches(d, steps, seed)):
        loss = F.cross_entropy(model(xb), yb)
        opt.zero_grad()
        loss.backward()
        chart.step(model, loss)
        opt.step()
        if step % d.eval_every == 0:
            chart.evaluate(model, d, step)
    return chart.result()


def buggy_shuffled_labels(d: ClinicData, steps: int, seed: int = 0) -> dict:
    torch.manual_seed(seed)
    model, chart = clinic_model(), Chart()
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    y = d.y_train[torch.randperm(len(d.y_train))]        # labels shuffled apart from their images
    d = replace(d, y_train=y)
    for step, (xb, yb) in enumerate(batches(d, steps, seed)):
        loss = F.cross_entropy(model(xb), yb)
        opt.zero_grad()
        loss.backward()
        chart.step(model, loss)
        opt.step()
        if step % d.eval_every == 0:
            chart.evaluate(model, d, step)
    return chart.result()


def fixed_shuffled_labels(d: ClinicData, steps: int, seed: int = 0) -> dict:
    torch.manual_seed(seed)
    model, chart = clinic_model(), Chart()
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    perm = torch.randperm(len(d.y_train))                # shuffle images *and* labels together
    d = replace(d, X_train=d.X_train[perm], y_train=d.y_train[perm])
    for step, (xb, yb) in enumerate(batches(d, steps, seed)):
        loss = F.cross_entropy(model(xb), yb)
        opt.zero_grad()
        loss.backward()
        chart.step(model, loss)
        opt.step()
        if step % d.eval_every == 0:
            chart.evaluate(model, d, step)
    return chart.result()


def buggy_dtype(d: ClinicData, steps: int, seed: int = 0) -> dict:
    torch.manual_seed(seed)
    model, chart = clinic_model(), Chart()
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    d = replace(d, X_train=torch.tensor(d.X_train.numpy().astype(np.float64)))  # NumPy's float64
    for step, (xb, yb) in enumerate(batches(d, steps, seed)):
        loss = F.cross_entropy(model(xb), yb)            # float64 input, float32 weights
        opt.zero_grad()
        loss.backward()
        chart.step(model, loss)
        opt.step()
        if step % d.eval_every == 0:
            chart.evaluate(model, d, step)
    return chart.result()


def fixed_dtype(d: ClinicData, steps: int, seed: int = 0) -> dict:
    torch.manual_seed(seed)
    model, chart = clinic_model(), Chart()
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    d = replace(d, X_train=torch.tensor(d.X_train.numpy().astype(np.float64)))  # NumPy's float64 ...
    d = replace(d, X_train=d.X_train.float())            # ... cast to the model's dtype (and .to(device))
    for step, (xb, yb) in enumerate(batches(d, steps, seed)):
        loss = F.cross_entropy(model(xb), yb)
        opt.zero_grad()
        loss.backward()
        chart.step(model, loss)
        opt.step()
        if step % d.eval_every == 0:
            chart.evaluate(model, d, step)
    return chart.result()


BUGS: dict[str, tuple[Callable, Callable]] = {
    "no_zero_grad": (buggy_no_zero_grad, fixed_no_zero_grad),
    "softmax_before_ce": (buggy_softmax_before_ce, fixed_softmax_before_ce),
    "eval_mode": (buggy_eval_mode, fixed_eval_mode),
    "unnormalised": (buggy_unnormalised, fixed_unnormalised),
    "lr_too_high": (buggy_lr_too_high, fixed_lr_too_high),
    "shuffled_labels": (buggy_shuffled_labels, fixed_shuffled_labels),
    "wrong_dtype": (buggy_dtype, fixed_dtype),
}


def run_script(fn: Callable, d: ClinicData, steps: int, seed: int = 0) -> dict:
    """Run one clinic script; a RuntimeError (dtype/device mismatch) becomes a translatable HeroError."""
    try:
        return fn(d, steps, seed)
    except RuntimeError as exc:
        detail = str(exc).splitlines()[0][:300]
        code = "ch09.device_mismatch" if "device" in detail else "ch09.dtype_mismatch"
        return {"losses": [], "grad_norms": [], "val_steps": [], "val_acc": [], "error": HeroError(code, detail=detail)}


def run_clinic(bug: str, d: ClinicData, steps: int, seed: int = 0) -> dict:
    """Run the buggy script and its fix on the same data and seed: {"buggy": chart, "fixed": chart}."""
    if bug not in BUGS:
        raise HeroError("ch09.unknown_bug", name=bug)
    check_range("steps", steps, 5, MAX_STEPS)
    buggy, fixed = BUGS[bug]
    return {"buggy": run_script(buggy, d, steps, seed), "fixed": run_script(fixed, d, steps, seed)}


def bug_diff(bug: str) -> str:
    """Unified diff from the buggy function's source to the fixed one."""
    buggy, fixed = BUGS[bug]
    a = inspect.getsource(buggy).replace(buggy.__name__, "train", 1).splitlines(keepends=True)
    b = inspect.getsource(fixed).replace(fixed.__name__, "train", 1).splitlines(keepends=True)
    return "".join(difflib.unified_diff(a, b, f"buggy_{bug}.py", f"fixed_{bug}.py"))


def clinic_figure(result: dict, names: dict[str, str], labels: dict[str, str] | None = None) -> go.Figure:
    """Loss per step (left, log scale) and validation accuracy (right) of the buggy vs fixed script."""
    from plotly.subplots import make_subplots
    labels = labels or {}
    fig = make_subplots(rows=1, cols=3, subplot_titles=[labels.get(k, k) for k in ("loss", "grad_norm", "val_acc")])
    for i, key in enumerate(("buggy", "fixed")):
        r, colour = result[key], PALETTE[i]
        steps = list(range(len(r["losses"])))
        fig.add_trace(go.Scatter(x=steps, y=[v if math.isfinite(v) else None for v in r["losses"]], mode="lines",
                                 name=names[key], legendgroup=key, line=dict(color=colour)), row=1, col=1)
        fig.add_trace(go.Scatter(x=steps, y=[v if math.isfinite(v) else None for v in r["grad_norms"]],
                                 mode="lines", name=names[key], legendgroup=key, showlegend=False,
                                 line=dict(color=colour)), row=1, col=2)
        fig.add_trace(go.Scatter(x=r["val_steps"], y=r["val_acc"], mode="lines+markers", name=names[key],
                                 legendgroup=key, showlegend=False, line=dict(color=colour)), row=1, col=3)
    fig.update_yaxes(type="log", row=1, col=1)
    fig.update_yaxes(type="log", row=1, col=2)
    fig.update_yaxes(range=[0, 1.05], row=1, col=3)
    fig.update_xaxes(title_text="step")
    return _layout(fig, labels.get("title", ""))
