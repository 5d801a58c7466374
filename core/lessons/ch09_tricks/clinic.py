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


def bug_device(device: str = "cpu") -> str:
    """Where the wrong-device bug puts the model: the accelerator when there is one (``device``),
    else PyTorch's ``meta`` device — tensors with a shape but no data, which refuses a CPU input
    exactly as a GPU does ("Tensor on device meta is not on the expected device cpu!")."""
    return device if device not in ("cpu", "meta") else "meta"


def buggy_device(d: ClinicData, steps: int, seed: int = 0, device: str = "meta") -> dict:
    torch.manual_seed(seed)
    model, chart = clinic_model().to(device), Chart()   # the model moved to the GPU ...
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    for step, (xb, yb) in enumerate(batches(d, steps, seed)):
        loss = F.cross_entropy(model(xb), yb)            # ... but the batch is still on the CPU
        opt.zero_grad()
        loss.backward()
        chart.step(model, loss)
        opt.step()
        if step % d.eval_every == 0:
            chart.evaluate(model, d, step)
    return chart.result()


def fixed_device(d: ClinicData, steps: int, seed: int = 0, device: str = "cpu") -> dict:
    torch.manual_seed(seed)
    model, chart = clinic_model().to(device), Chart()
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    d = replace(d, X_val=d.X_val.to(device), y_val=d.y_val.to(device))
    for step, (xb, yb) in enumerate(batches(d, steps, seed)):
        xb, yb = xb.to(device), yb.to(device)            # every batch goes where the model is
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
    "wrong_device": (buggy_device, fixed_device),
}


def run_script(fn: Callable, d: ClinicData, steps: int, seed: int = 0, **device) -> dict:
    """Run one clinic script; a RuntimeError (dtype/device mismatch) becomes a translatable HeroError."""
    try:
        return fn(d, steps, seed, **device)
    except RuntimeError as exc:
        detail = str(exc).splitlines()[0][:300]
        code = "ch09.device_mismatch" if "device" in detail else "ch09.dtype_mismatch"
        return {"losses": [], "grad_norms": [], "val_steps": [], "val_acc": [], "error": HeroError(code, detail=detail)}


def run_clinic(bug: str, d: ClinicData, steps: int, seed: int = 0, device: str = "cpu") -> dict:
    """Run the buggy script and its fix on the same data and seed: {"buggy": chart, "fixed": chart}.

    ``device`` is where the fixed wrong-device script trains; its buggy twin puts the model on
    ``bug_device(device)`` (the GPU, or ``meta`` on a CPU-only host) and leaves the batches on the CPU.
    Every other script runs on the CPU (their symptoms do not depend on the device).
    """
    if bug not in BUGS:
        raise HeroError("ch09.unknown_bug", name=bug)
    check_range("steps", steps, 5, MAX_STEPS)
    buggy, fixed = BUGS[bug]
    places = ({"device": bug_device(device)}, {"device": device}) if bug == "wrong_device" else ({}, {})
    return {"buggy": run_script(buggy, d, steps, seed, **places[0]),
            "fixed": run_script(fixed, d, steps, seed, **places[1]), "bug": bug}


def symptoms(result: dict) -> dict:
    """What a clinic pair measured, as numbers: the buggy run's first and last training loss (mean
    of its first / last 5 steps), its last validation accuracy, the fixed run's, and the error."""
    def ends(losses):
        finite = [v for v in losses if math.isfinite(v)]
        first, last = losses[:5], losses[-5:]
        return (float(np.mean(first)) if first else math.nan,
                float(np.mean(last)) if last and len(finite) == len(losses) else math.nan)
    b, f = result["buggy"], result["fixed"]
    first, last = ends(b["losses"])
    return {"bug": result.get("bug", ""), "loss_first": first, "loss_last": last,
            "val_acc": b["val_acc"][-1] if b["val_acc"] else math.nan,
            "fixed_val_acc": f["val_acc"][-1] if f["val_acc"] else math.nan,
            "error": None if b["error"] is None else b["error"].code}


def learns_nothing(row: dict, n_classes: int = 10, margin: float = 0.1) -> bool:
    """The memorising signature: the training loss ends below the chance level ln(n_classes) (the
    net learns *something* about its training pairs), validation accuracy stays within ``margin`` of
    chance, and the fixed script does learn (so the data are not to blame). A loss that merely
    falls from a huge start back to ln(10) (unnormalised inputs, a too-high LR) is not learning."""
    chance_loss, chance_acc = math.log(n_classes), 1 / n_classes
    return (row["error"] is None and math.isfinite(row["loss_last"]) and row["loss_last"] < 0.95 * chance_loss
            and row["val_acc"] <= chance_acc + margin and row["fixed_val_acc"] > chance_acc + 2 * margin)


def measured_answer(runs: dict[str, dict]) -> list[str] | None:
    """The clinic question's answer as the runs measured it: the bugs whose runs ``learns_nothing``.
    None until every bug in ``BUGS`` has been run (the answer is not known before)."""
    if set(BUGS) - set(runs):
        return None
    return [bug for bug in BUGS if learns_nothing(symptoms(runs[bug]))]


def symptom_table(runs: dict[str, dict], labels: dict[str, str] | None = None) -> list[dict]:
    """One row per measured bug (in ``BUGS`` order): ``symptoms`` plus whether it ``learns_nothing``."""
    labels = labels or {}
    rows = []
    for bug in BUGS:
        if bug in runs:
            row = symptoms(runs[bug])
            rows.append({**row, "bug": labels.get(bug, bug), "memorises": learns_nothing(row)})
    return rows


def run_every_bug(d: ClinicData, steps: int, seed: int = 0, device: str = "cpu", stop_event=None,
                  emit=None) -> dict[str, dict]:
    """``run_clinic`` for every bug, in order, with a progress event after each: {bug: result}."""
    emit = emit or (lambda event: None)
    runs = {}
    for i, bug in enumerate(BUGS):
        if stop_event is not None and stop_event.is_set():
            break
        emit({"kind": "progress", "done": i, "total": len(BUGS), "text": bug})
        runs[bug] = run_clinic(bug, d, steps, seed, device)
    emit({"kind": "progress", "done": len(runs), "total": len(BUGS), "text": ""})
    return runs


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
