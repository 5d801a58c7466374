"""Chapter 9 — training tricks and debugging.

Regularisation runs (weight decay, dropout, BatchNorm, augmentation, early stopping), gradient
clipping on an exploding setup, an LR finder, real TensorBoard event files, a clinic of buggy
training scripts, per-layer hooks, reproducibility, and the 实战 that tunes the ch05 digit CNN.
Plain functions returning data (plus this chapter's plotly figures); no UI code here.
"""
from __future__ import annotations

import difflib
import inspect
import io
import math
import shutil
import threading
import warnings
import zipfile
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable

import numpy as np
import plotly.graph_objects as go
import torch
import torch.nn.functional as F
from torch import nn

from core import data as datasets
from core import nets
from core.device import seed_everything
from core.errors import HeroError
from core.train import (Callback, EarlyStopping, GradClip, GradNorm, NaNGuard, TrainState, fit,
                        make_optimizer)
from core.viz import PALETTE, style as _layout

Emit = Callable[[dict], None]

PRESETS = {
    "tiny": {"per_class": 5, "overfit_epochs": 3, "clip_epochs": 2, "finder_steps": 20, "clinic_steps": 20,
             "tb_epochs": 1, "tune_epochs": 1, "repro_steps": 10, "hook_depth": 4},
    "default": {"per_class": 10, "overfit_epochs": 40, "clip_epochs": 15, "finder_steps": 100,
                "clinic_steps": 80, "tb_epochs": 5, "tune_epochs": 25, "repro_steps": 40, "hook_depth": 8},
    "gpu": {"per_class": 10, "overfit_epochs": 80, "clip_epochs": 25, "finder_steps": 100,
            "clinic_steps": 150, "tb_epochs": 8, "tune_epochs": 40, "repro_steps": 60, "hook_depth": 10},
}
# Upper bounds on what a visitor can ask for (keeps every request small on a shared CPU).
MAX_EPOCHS, MAX_STEPS, MAX_DEPTH, MAX_PER_CLASS = 200, 500, 20, 100


def _check(value: float, low: float, high: float, name: str) -> None:
    if not (low <= value <= high) or not math.isfinite(value):
        raise HeroError("ch09.out_of_range", name=name, value=value, low=low, high=high)


# =========================================================================== 9.1–9.2 overfitting lab

VARIANTS = ("none", "weight_decay", "dropout", "batchnorm", "augment", "early_stop")


class RandomShift(nn.Module):
    """Augmentation as a layer: in training mode, shift each image by up to ``max_shift`` pixels.

    x: [B, size²] → [B, size²]. Identity in eval mode, so evaluation sees clean images.
    Uses the global torch RNG, so a seeded run draws the same shifts every time.
    """

    def __init__(self, size: int, max_shift: int = 1):
        super().__init__()
        self.size, self.max_shift = size, max_shift

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.max_shift == 0:
            return x
        k, s = self.max_shift, self.size
        img = F.pad(x.reshape(-1, 1, s, s), (k, k, k, k))        # zero border to shift into
        dy, dx = torch.randint(0, 2 * k + 1, (2, len(x)))
        rows = (dy[:, None] + torch.arange(s))[:, :, None]        # [B, s, 1] source rows
        cols = (dx[:, None] + torch.arange(s))[:, None, :]        # [B, 1, s] source cols
        return img[torch.arange(len(x))[:, None, None], 0, rows, cols].reshape(len(x), -1)


@dataclass
class OverfitSettings:
    per_class: int = 10            # training images per digit: small data is what makes a big net overfit
    width: int = 256               # hidden width: far more capacity than 100 images need
    depth: int = 2
    epochs: int = 40
    lr: float = 3e-3
    batch_size: int = 32
    weight_decay: float = 1e-2     # L2 strength of the "weight_decay" run (Adam adds wd·θ to the gradient)
    dropout: float = 0.5           # drop probability of the "dropout" run
    max_shift: int = 1             # pixels of random shift in the "augment" run
    patience: int = 5              # evaluations without val-loss improvement before "early_stop" stops
    seed: int = 0
    variants: tuple[str, ...] = VARIANTS


def overfit_split(per_class: int, seed: int = 0) -> datasets.Split:
    """Real 8×8 digits: ``per_class`` training images per class, every other image for validation.

    X_train [10·per_class, 64], X_val [1797 − 10·per_class, 64] (float32 in [0, 1]).
    """
    _check(per_class, 2, MAX_PER_CLASS, "per_class")
    ds = datasets.load("digits")
    rng = np.random.default_rng(seed)
    train_idx = np.concatenate([rng.permutation(np.flatnonzero(ds.y == c))[:per_class] for c in range(10)])
    val_mask = np.ones(len(ds.y), bool)
    val_mask[train_idx] = False
    train_idx = rng.permutation(train_idx)
    as_x = lambda a: torch.from_numpy(np.ascontiguousarray(a, np.float32))  # noqa: E731
    as_y = lambda a: torch.from_numpy(np.ascontiguousarray(a, np.int64))    # noqa: E731
    return datasets.Split(as_x(ds.X[train_idx]), as_y(ds.y[train_idx]), as_x(ds.X[val_mask]), as_y(ds.y[val_mask]))


def variant_setup(s: OverfitSettings, variant: str) -> tuple[nn.Module, torch.optim.Optimizer, list[Callback], dict]:
    """Model, optimiser, callbacks and the settings that differ from the plain run, for one variant."""
    config = {"in_features": 64, "width": s.width, "depth": s.depth, "out_features": 10}
    differs: dict = {}
    if variant == "dropout":
        config["dropout"] = differs["dropout"] = s.dropout
    if variant == "batchnorm":
        config["batchnorm"] = differs["batchnorm"] = True
    model = nets.build("deep_mlp", config)
    if variant == "augment":
        model = nn.Sequential(RandomShift(8, s.max_shift), model)   # shifts only in train mode
        differs["random_shift_px"] = s.max_shift
    wd = s.weight_decay if variant == "weight_decay" else 0.0
    if wd:
        differs["weight_decay"] = wd
    optimizer = make_optimizer("adam", model.parameters(), s.lr, weight_decay=wd)
    callbacks: list[Callback] = [NaNGuard()]
    if variant == "early_stop":
        callbacks.append(EarlyStopping("val_loss", patience=s.patience))
        differs["early_stopping_patience"] = s.patience
    return model, optimizer, callbacks, differs


def run_overfit_lab(s: OverfitSettings, stop_event: threading.Event | None = None,
                    emit: Emit | None = None) -> dict:
    """Train one run per variant on the same data, seed and shuffle order.

    Every event is forwarded to ``emit`` tagged with ``"run": variant``. Returns
    {variant: {"differs": settings that differ from "none", "history": eval events, "end": end event}}.
    """
    emit = emit or (lambda event: None)
    _check(s.epochs, 1, MAX_EPOCHS, "epochs")
    split = overfit_split(s.per_class, s.seed)
    results: dict[str, dict] = {}
    for variant in s.variants:
        if variant not in VARIANTS:
            raise HeroError("ch09.unknown_variant", name=variant)
        if stop_event is not None and stop_event.is_set():
            break
        seed_everything(s.seed)                     # 1. same initial weights for every variant ...
        model, optimizer, callbacks, differs = variant_setup(s, variant)
        run = results[variant] = {"differs": differs, "history": [], "end": {}}
        for event in fit(model, (split.X_train, split.y_train), (split.X_val, split.y_val),  # 2. ... same batches
                         optimizer=optimizer, epochs=s.epochs, batch_size=s.batch_size, seed=s.seed,
                         callbacks=callbacks, stop_event=stop_event):
            if event["kind"] == "eval":
                run["history"].append(event)
            elif event["kind"] == "end":
                run["end"] = event
            emit({**event, "run": variant})
    return results


def gap_table(results: dict) -> list[dict]:
    """One row per run: final train/val accuracy, the generalisation gap, and losses.

    With early stopping the "final" numbers are those of the restored best epoch (re-evaluated).
    """
    rows = []
    for name, run in results.items():
        last = run["history"][-1] if run["history"] else {}
        if run["end"].get("reason") == "early_stop" and run["history"]:
            last = min(run["history"], key=lambda e: e["val_loss"])   # the weights EarlyStopping put back
        rows.append({"run": name, "epochs": len(run["history"]),
                     "train_acc": last.get("train_acc", float("nan")), "val_acc": last.get("val_acc", float("nan")),
                     "gap": last.get("train_acc", float("nan")) - last.get("val_acc", float("nan")),
                     "train_loss": last.get("train_loss", float("nan")), "val_loss": last.get("val_loss", float("nan"))})
    return rows


# =========================================================================== 9.3 LR finder

def lr_schedule(lr_min: float, lr_max: float, steps: int) -> np.ndarray:
    """Exactly geometric: lr_i = lr_min · (lr_max / lr_min)^(i / (steps − 1)), i = 0..steps−1."""
    return lr_min * (lr_max / lr_min) ** (np.arange(steps) / (steps - 1))


def lr_finder(model: nn.Module, X: torch.Tensor, y: torch.Tensor, lr_min: float = 1e-5, lr_max: float = 1.0,
              steps: int = 100, optimizer: str = "adam", batch_size: int = 64, seed: int = 0,
              beta: float = 0.9, diverge: float = 4.0) -> dict:
    """Leslie Smith's LR range test: one mini-batch step per LR, LR growing exponentially.

    X [N, ...], y [N]. Trains ``model`` in place (pass a fresh copy). Stops once the smoothed
    loss exceeds ``diverge`` × its best. Returns the schedule, the LRs actually tried, raw and
    smoothed losses, and two suggestions: ``steepest`` (most negative slope of the smoothed loss
    vs log10 LR, before its minimum) and ``min_over_10`` (LR at the minimum loss ÷ 10).
    """
    _check(steps, 10, MAX_STEPS, "steps")
    if not (0 < lr_min < lr_max <= 10):
        raise HeroError("ch09.bad_lr_range", low=lr_min, high=lr_max)
    schedule = lr_schedule(lr_min, lr_max, steps)
    gen = torch.Generator().manual_seed(seed)
    opt = make_optimizer(optimizer, model.parameters(), lr_min)
    model.train()
    losses, smoothed, avg, best = [], [], 0.0, math.inf
    order = torch.randperm(len(y), generator=gen)
    pos = 0
    for i, lr in enumerate(schedule):
        if pos + batch_size > len(y):                      # next epoch: reshuffle
            order, pos = torch.randperm(len(y), generator=gen), 0
        idx = order[pos:pos + batch_size]
        pos += batch_size
        for group in opt.param_groups:                     # 1. set this step's LR
            group["lr"] = float(lr)
        loss = F.cross_entropy(model(X[idx]), y[idx])      # 2. one ordinary training step
        opt.zero_grad()
        loss.backward()
        opt.step()
        value = loss.item()
        losses.append(value)
        avg = beta * avg + (1 - beta) * value              # 3. exponential moving average,
        smooth = avg / (1 - beta ** (i + 1))               #    bias-corrected for the first steps
        smoothed.append(smooth)
        best = min(best, smooth)
        if not math.isfinite(smooth) or smooth > diverge * best:   # 4. the loss exploded: stop
            break
    tried = schedule[:len(losses)]
    sm = np.asarray(smoothed)
    finite = np.isfinite(sm)
    i_min = int(np.nanargmin(np.where(finite, sm, np.nan)))
    skip = max(1, len(sm) // 10)                            # the first points are noise around the start
    slope = np.gradient(sm[:i_min + 1], np.log10(tried[:i_min + 1])) if i_min >= 2 else np.zeros(i_min + 1)
    window = slope[skip:i_min] if i_min > skip else slope[:max(i_min, 1)]
    i_steep = int(np.argmin(window)) + (skip if i_min > skip else 0)
    return {"schedule": schedule, "lrs": tried, "losses": np.asarray(losses), "smoothed": sm,
            "min_lr": float(tried[i_min]), "steepest": float(tried[i_steep]),
            "min_over_10": float(tried[i_min] / 10), "stopped_early": len(losses) < steps}


def finder_model(arch: str, seed: int = 0) -> nn.Module:
    """A fresh model for the LR finder demo on 8×8 digits ("mlp" or "small_cnn")."""
    seed_everything(seed)
    if arch == "small_cnn":
        return nets.build("small_cnn", {"image_size": 8, "channels": 16, "n_classes": 10})
    return nets.build("mlp", {"in_features": 64, "hidden": (128, 64), "out_features": 10})


def digits_split(seed: int = 0) -> datasets.Split:
    return datasets.split(datasets.load("digits"), 0.2, seed=seed)


def lr_finder_figure(result: dict, labels: dict[str, str] | None = None) -> go.Figure:
    labels = labels or {}
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=result["lrs"], y=result["losses"], mode="lines", line=dict(color="#cccccc"),
                             name=labels.get("raw", "loss")))
    fig.add_trace(go.Scatter(x=result["lrs"], y=result["smoothed"], mode="lines", line=dict(color=PALETTE[0]),
                             name=labels.get("smoothed", "smoothed")))
    for key, colour in (("steepest", PALETTE[2]), ("min_over_10", PALETTE[1])):
        fig.add_vline(x=result[key], line_dash="dash", line_color=colour,
                      annotation_text=f"{labels.get(key, key)} {result[key]:.1e}", annotation_position="top left")
    top = float(np.nanmax(result["smoothed"][: max(3, len(result["smoothed"]))]))
    return _layout(fig, labels.get("title", ""), xaxis=dict(type="log", title="learning rate"),
                   yaxis=dict(title="loss", range=[0, min(top * 1.3, 4 * float(np.nanmin(result["smoothed"])) + 1)]))


# =========================================================================== 9.4 gradient clipping

@dataclass
class ClipSettings:
    depth: int = 8            # a deep plain ReLU net, no normalisation: gradients multiply through layers
    lr: float = 0.5           # plain SGD with a high LR: a few steps blow the weights up
    max_norm: float = 1.0     # GradClip threshold on the global gradient norm
    epochs: int = 15
    seed: int = 0


class UpdateNorm(Callback):
    """Record ‖Δθ‖, the size of the parameter update ``optimizer.step()`` makes (after any clipping)."""

    def after_backward(self, state: TrainState) -> None:
        self.before = [p.detach().clone() for p in state.model.parameters()]

    def on_step_end(self, state: TrainState) -> None:
        delta = [(p.detach() - b).reshape(-1) for p, b in zip(state.model.parameters(), self.before)]
        state.step_metrics["update_norm"] = float(torch.cat(delta).norm())


def run_clipping(s: ClipSettings, stop_event: threading.Event | None = None, emit: Emit | None = None) -> dict:
    """Train the same deep net on noisy moons with and without ``GradClip``; same seed and batches.

    Returns {"settings": s, "runs": {"no_clip" | "clip": {"steps": step events (loss, grad_norm
    before clipping, update_norm), "history": eval events, "end": end event}}}.
    """
    emit = emit or (lambda event: None)
    _check(s.depth, 1, MAX_DEPTH, "depth")
    _check(s.epochs, 1, MAX_EPOCHS, "epochs")
    _check(s.max_norm, 1e-3, 1e3, "max_norm")
    split = datasets.split(datasets.load("toy", kind="moons", n=400, noise=0.15, seed=s.seed), 0.25, seed=s.seed)
    out = {}
    for name in ("no_clip", "clip"):
        seed_everything(s.seed)
        model = nets.build("deep_mlp", {"in_features": 2, "width": 64, "depth": s.depth, "out_features": 2,
                                        "init": "kaiming"})
        optimizer = torch.optim.SGD(model.parameters(), lr=s.lr)
        # GradClip/GradNorm log the norm *before* clipping; UpdateNorm runs after them.
        callbacks = [GradClip(s.max_norm) if name == "clip" else GradNorm(), UpdateNorm(), NaNGuard()]
        run = out[name] = {"steps": [], "history": [], "end": {}}
        for event in fit(model, (split.X_train, split.y_train), (split.X_val, split.y_val), optimizer=optimizer,
                         epochs=s.epochs, batch_size=32, seed=s.seed, callbacks=callbacks, stop_event=stop_event):
            if event["kind"] == "end":
                run["end"] = event
            else:
                run["steps" if event["kind"] == "step" else "history"].append(event)
            emit({**event, "run": name})
    return {"settings": s, "runs": out}


def step_figure(runs: dict[str, list[dict]], metric: str, title: str = "", log_y: bool = True,
                threshold: float | None = None, threshold_label: str = "") -> go.Figure:
    """Per-step metric (e.g. grad_norm, loss) of several runs, overlaid."""
    fig = go.Figure()
    for i, (name, steps) in enumerate(runs.items()):
        pts = [(e["step"], e[metric]) for e in steps if metric in e and math.isfinite(e[metric])]
        if pts:
            xs, ys = zip(*pts)
            fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines", name=name, line=dict(color=PALETTE[i % len(PALETTE)])))
    if threshold is not None:
        fig.add_hline(y=threshold, line_dash="dash", annotation_text=threshold_label)
    return _layout(fig, title, xaxis=dict(title="step"), yaxis=dict(title=metric, type="log" if log_y else "linear"))


# =========================================================================== 9.5 TensorBoard

class TensorBoardLogger(Callback):
    """Write what ``fit`` sees to TensorBoard: per-step loss/LR, per-eval metrics, and per-epoch
    histograms of every weight and its gradient (the gradients of the epoch's last step)."""

    def __init__(self, writer):
        self.writer = writer
        self.grads: dict[str, torch.Tensor] = {}
        self.logged: list[tuple[str, int, float]] = []    # (tag, step, value) of every scalar written

    def scalar(self, tag: str, value: float, step: int) -> None:
        self.writer.add_scalar(tag, value, step)
        self.logged.append((tag, step, float(value)))

    def after_backward(self, state):
        self.grads = {n: p.grad.detach().clone() for n, p in state.model.named_parameters() if p.grad is not None}

    def on_step_end(self, state):
        self.scalar("train/loss_step", state.loss, state.step)
        self.scalar("train/lr", state.optimizer.param_groups[0]["lr"], state.step)

    def on_eval(self, state, metrics):
        for key in ("train_loss", "val_loss", "train_acc", "val_acc"):
            if key in metrics:
                self.scalar(f"epoch/{key}", metrics[key], state.step)

    def on_epoch_end(self, state):
        for name, p in state.model.named_parameters():
            self.writer.add_histogram(f"weights/{name}", p.detach(), state.epoch)
            if name in self.grads:
                self.writer.add_histogram(f"grads/{name}", self.grads[name], state.epoch)


def train_with_tensorboard(logdir: str | Path, run_name: str, model: nn.Module, split: datasets.Split,
                           optimizer: torch.optim.Optimizer, epochs: int, batch_size: int = 32, seed: int = 0,
                           callbacks: list[Callback] = (), stop_event: threading.Event | None = None,
                           emit: Emit | None = None) -> dict:
    """``fit`` with a ``SummaryWriter`` attached, writing event files into ``logdir/run_name``.

    Also logs the model graph (``add_graph`` traces one forward pass). Returns the eval
    history, the end event, the run directory and every scalar written (tag, step, value).
    """
    from torch.utils.tensorboard import SummaryWriter
    emit = emit or (lambda event: None)
    run_dir = Path(logdir) / run_name
    writer = SummaryWriter(log_dir=str(run_dir))
    try:
        was_training = model.training
        model.eval()
        with warnings.catch_warnings():   # add_graph traces with torch.jit.trace, deprecated but working
            warnings.simplefilter("ignore", FutureWarning)
            writer.add_graph(model, split.X_train[:2])              # 1. the computation graph
        model.train(was_training)
        logger = TensorBoardLogger(writer)                           # 2. scalars + histograms while training
        history, end = [], {}
        for event in fit(model, (split.X_train, split.y_train), (split.X_val, split.y_val), optimizer=optimizer,
                         epochs=epochs, batch_size=batch_size, seed=seed, callbacks=[*callbacks, logger],
                         stop_event=stop_event):
            if event["kind"] == "eval":
                history.append(event)
            elif event["kind"] == "end":
                end = event
            emit({**event, "run": run_name})
    finally:
        writer.close()                                               # 3. flush the event file to disk
    return {"history": history, "end": end, "run_dir": str(run_dir), "logged": logger.logged}


def tensorboard_demo(logdir: str | Path, run_name: str = "mlp", epochs: int = 5, lr: float = 3e-3,
                     seed: int = 0) -> dict:
    """A small MLP on 8×8 digits trained for ``epochs`` with TensorBoard logging (see above)."""
    _check(epochs, 1, 50, "epochs")
    seed_everything(seed)
    model = nets.build("mlp", {"in_features": 64, "hidden": (64, 32), "out_features": 10})
    split = digits_split(seed)
    return train_with_tensorboard(logdir, run_name, model, split, make_optimizer("adam", model.parameters(), lr),
                                  epochs, seed=seed)


def read_events(run_dir: str | Path) -> dict:
    """Read a run's event files back with TensorBoard's own ``EventAccumulator``.

    Returns {"scalars": {tag: {"steps", "values"}}, "histograms": {tag: [{"step", "limits",
    "counts", "min", "max"}]}, "graph": bool, "files": [event file names]}.
    """
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    acc = EventAccumulator(str(run_dir), size_guidance={"scalars": 0, "histograms": 0})   # 0 = keep everything
    acc.Reload()
    tags = acc.Tags()
    scalars = {tag: {"steps": [e.step for e in acc.Scalars(tag)], "values": [e.value for e in acc.Scalars(tag)]}
               for tag in tags["scalars"]}
    histograms = {tag: [{"step": e.step, "limits": list(e.histogram_value.bucket_limit),
                         "counts": list(e.histogram_value.bucket), "min": e.histogram_value.min,
                         "max": e.histogram_value.max} for e in acc.Histograms(tag)]
                  for tag in tags["histograms"]}
    return {"scalars": scalars, "histograms": histograms, "graph": bool(tags.get("graph")),
            "files": sorted(p.name for p in Path(run_dir).glob("events.out.tfevents.*"))}


def zip_logdir(logdir: str | Path) -> bytes:
    """Every file under ``logdir`` as a zip (paths relative to it), for download."""
    logdir = Path(logdir)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(logdir.rglob("*")):
            if path.is_file():
                zf.write(path, path.relative_to(logdir).as_posix())
    return buffer.getvalue()


def prune_runs(logdir: str | Path, keep: int = 4) -> None:
    """Keep a visitor's temp dir bounded: delete all but the ``keep`` newest run folders."""
    runs = sorted((p for p in Path(logdir).iterdir() if p.is_dir()), key=lambda p: p.stat().st_mtime)
    for old in runs[:-keep] if keep > 0 else runs:
        shutil.rmtree(old, ignore_errors=True)


def scalars_figure(scalars: dict, tags: list[str], title: str = "") -> go.Figure:
    fig = go.Figure()
    for i, tag in enumerate(tags):
        if tag in scalars:
            fig.add_trace(go.Scatter(x=scalars[tag]["steps"], y=scalars[tag]["values"], mode="lines+markers"
                                     if len(scalars[tag]["steps"]) < 30 else "lines", name=tag,
                                     line=dict(color=PALETTE[i % len(PALETTE)])))
    return _layout(fig, title, xaxis=dict(title="step"))


def histogram_figure(events: list[dict], title: str = "") -> go.Figure:
    """TensorBoard-style histogram view: one outline per epoch, later epochs darker."""
    fig = go.Figure()
    for i, h in enumerate(events):
        limits = np.asarray(h["limits"], float)
        lower = np.r_[h["min"], limits[:-1]]
        centres = (lower + np.minimum(limits, h["max"])) / 2
        shade = 0.25 + 0.75 * (i + 1) / len(events)
        fig.add_trace(go.Scatter(x=centres, y=h["counts"], mode="lines", name=f"epoch {h['step']}",
                                 line=dict(color=f"rgba(238,76,44,{shade:.2f})")))
    return _layout(fig, title, xaxis=dict(title="value"), yaxis=dict(title="count"))


# =========================================================================== 9.6 debugging clinic

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
    _check(steps, 5, MAX_STEPS, "steps")
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


# =========================================================================== 9.6 hooks

def hook_model(init: str, depth: int, activation: str = "relu", seed: int = 0) -> nn.Module:
    _check(depth, 1, MAX_DEPTH, "depth")
    seed_everything(seed)
    return nets.build("deep_mlp", {"in_features": 64, "width": 64, "depth": depth, "out_features": 10,
                                   "activation": activation, "init": init})


def layer_statistics(model: nn.Module, X: torch.Tensor, y: torch.Tensor) -> list[dict]:
    """Per hidden block of a ``deep_mlp``, measured with hooks during one forward + backward pass.

    X [B, 64], y [B]. Forward hooks keep each block's output a [B, W]; full backward hooks keep
    dL/da [B, W]. Rows: act_mean, act_std of a; dead_frac = fraction of units that are ≤ 0 for the
    whole batch (a ReLU that never fires gets no gradient); act_grad = mean |dL/da|;
    weight_grad = mean |dL/dW| of the block's Linear.
    """
    acts: dict[int, torch.Tensor] = {}
    grads: dict[int, torch.Tensor] = {}
    handles = []
    for i, block in enumerate(model.blocks):
        handles.append(block.register_forward_hook(lambda m, inp, out, i=i: acts.__setitem__(i, out.detach())))
        handles.append(block.register_full_backward_hook(
            lambda m, grad_in, grad_out, i=i: grads.__setitem__(i, grad_out[0].detach())))
    try:
        model.zero_grad(set_to_none=True)
        # an input that requires grad lets the first block's full backward hook fire normally
        F.cross_entropy(model(X.detach().requires_grad_(True)), y).backward()
    finally:
        for h in handles:                 # hooks left behind would slow down every later call
            h.remove()
    rows = []
    for i, block in enumerate(model.blocks):
        a = acts[i]
        rows.append({"layer": i + 1, "act_mean": float(a.mean()), "act_std": float(a.std()),
                     "dead_frac": float((a <= 0).all(0).float().mean()),
                     "act_grad": float(grads[i].abs().mean()),
                     "weight_grad": float(block[0].weight.grad.abs().mean())})
    return rows


def compare_inits(bad_init: str, depth: int, activation: str = "relu", steps: int = 60, seed: int = 0) -> dict:
    """Healthy (Kaiming) vs ``bad_init`` deep net: layer statistics at init and a short training run."""
    d = clinic_data(seed)
    X, y = d.X_train[:256], d.y_train[:256]
    out = {}
    for name, init in (("healthy", "kaiming"), ("bad", bad_init)):
        model = hook_model(init, depth, activation, seed)
        stats = layer_statistics(model, X, y)
        opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
        losses = []
        for xb, yb in batches(d, steps, seed):
            loss = F.cross_entropy(model(xb), yb)
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(loss.item())
        out[name] = {"init": init, "stats": stats, "losses": losses}
    return out


def layer_stats_figure(result: dict, metric: str, names: dict[str, str], title: str = "",
                       log_y: bool = False) -> go.Figure:
    fig = go.Figure()
    for i, key in enumerate(("healthy", "bad")):
        rows = result[key]["stats"]
        fig.add_trace(go.Bar(x=[f"L{r['layer']}" for r in rows], y=[max(r[metric], 1e-30) if log_y else r[metric]
                                                                    for r in rows],
                             name=names[key], marker_color=PALETTE[i]))
    return _layout(fig, title, barmode="group", yaxis=dict(type="log" if log_y else "linear"), height=280)


# =========================================================================== 9.7 reproducibility

def repro_run(seed: int, steps: int, seed_init: bool = True) -> list[float]:
    """Per-step losses of a small MLP on digits, with ``seed`` for init and shuffling.

    ``seed_init=False`` forgets to seed the initial weights (only the shuffle is seeded).
    """
    _check(steps, 1, MAX_STEPS, "steps")
    if seed_init:
        seed_everything(seed)             # Python, NumPy and torch RNGs
    else:
        torch.seed()                      # a fresh non-deterministic seed: what an unseeded script gets
    model = nets.build("mlp", {"in_features": 64, "hidden": (64,), "out_features": 10, "dropout": 0.2})
    split = digits_split(0)
    events = fit(model, (split.X_train, split.y_train), None, optimizer=make_optimizer("sgd", model.parameters(), 0.1),
                 epochs=MAX_EPOCHS, batch_size=32, seed=seed, max_steps=steps)
    return [e["loss"] for e in events if e["kind"] == "step"]


def reproducibility(seed_a: int, seed_b: int, steps: int) -> dict:
    """Seed A twice, seed B once, and seed A with the init unseeded; compare the loss curves."""
    runs = {"a1": repro_run(seed_a, steps), "a2": repro_run(seed_a, steps), "b": repro_run(seed_b, steps),
            "unseeded": repro_run(seed_a, steps, seed_init=False)}
    diff = lambda p, q: float(np.max(np.abs(np.asarray(runs[p]) - np.asarray(runs[q]))))  # noqa: E731
    return {"runs": runs, "same_seed_identical": runs["a1"] == runs["a2"], "same_seed_diff": diff("a1", "a2"),
            "other_seed_diff": diff("a1", "b"), "unseeded_diff": diff("a1", "unseeded")}


def lines_figure(series: dict[str, list[float]], title: str = "", x_title: str = "step",
                 y_title: str = "loss", dashes: tuple[str, ...] = ()) -> go.Figure:
    fig = go.Figure()
    for i, (name, ys) in enumerate(series.items()):
        fig.add_trace(go.Scatter(y=ys, mode="lines", name=name, line=dict(color=PALETTE[i % len(PALETTE)],
                                 dash="dash" if name in dashes else "solid")))
    return _layout(fig, title, xaxis=dict(title=x_title), yaxis=dict(title=y_title))


# =========================================================================== 9.8 实战: tune the digit CNN

@dataclass
class TuneSettings:
    dataset: str = "digits"          # "digits" (8×8) or "mnist5k" (28×28)
    epochs: int = 25                 # the baseline trains all of them; the tuned run may stop early
    baseline_lr: float = 3e-3        # ch05's default for this CNN
    weight_decay: float = 1e-2       # AdamW's decoupled weight decay in the tuned run
    patience: int = 4                # early-stopping patience (evaluations) in the tuned run
    finder_steps: int = 100
    batch_size: int = 32
    seed: int = 0


def tune_model(image_size: int) -> nn.Module:
    """The chapter 5 digit CNN (same config as its shipped checkpoint), freshly initialised."""
    return nets.build("small_cnn", {"image_size": image_size, "channels": 16, "n_classes": 10})


def tune_digits(s: TuneSettings, logdir: str | Path, stop_event: threading.Event | None = None,
                emit: Emit | None = None) -> dict:
    """Baseline vs tuned training of the ch05 digit CNN, both logged to TensorBoard under ``logdir``.

    1. LR finder on a fresh CNN → suggested LR (steepest descent);
    2. baseline: Adam at ``baseline_lr`` for all epochs;
    3. tuned: AdamW at the suggested LR + weight decay + early stopping (best weights restored).
    Same seed (initial weights and batches) for both. Returns {"finder", "runs": {name: {history,
    end, differs, run_dir}}, "table"}.
    """
    emit = emit or (lambda event: None)
    _check(s.epochs, 1, MAX_EPOCHS, "epochs")
    _check(s.weight_decay, 0.0, 1.0, "weight_decay")
    _check(s.patience, 1, 50, "patience")
    ds = datasets.load(s.dataset)
    split = datasets.split(ds, 0.2, seed=s.seed)
    size = ds.image_shape[0]
    # 1. LR finder
    seed_everything(s.seed)
    finder = lr_finder(tune_model(size), split.X_train, split.y_train, 1e-5, 1.0, s.finder_steps,
                       "adam", s.batch_size, s.seed)
    emit({"kind": "finder", "steepest": finder["steepest"], "min_over_10": finder["min_over_10"]})
    tuned_lr = finder["steepest"]
    runs = {}
    plans = {"baseline": ("adam", s.baseline_lr, 0.0, []),
             "tuned": ("adamw", tuned_lr, s.weight_decay, [EarlyStopping("val_loss", patience=s.patience)])}
    for name, (opt_name, lr, wd, callbacks) in plans.items():
        if stop_event is not None and stop_event.is_set():
            break
        seed_everything(s.seed)                                  # same initial weights for both runs
        model = tune_model(size)
        optimizer = make_optimizer(opt_name, model.parameters(), lr, weight_decay=wd)
        run = train_with_tensorboard(logdir, name, model, split, optimizer, s.epochs, s.batch_size, s.seed,
                                     [NaNGuard(), *callbacks], stop_event, emit)
        run["differs"] = {"optimizer": opt_name, "lr": float(lr), "weight_decay": wd,
                          "early_stopping": bool(callbacks)}
        run["model"] = model
        runs[name] = run
    table = [{"run": name, **r["differs"], "epochs": len(r["history"]),
              "val_acc": best_val(r)["val_acc"], "val_loss": best_val(r)["val_loss"],
              "seconds": r["end"].get("seconds", float("nan"))} for name, r in runs.items()]
    return {"finder": finder, "runs": runs, "table": table, "logdir": str(logdir)}


def best_val(run: dict) -> dict:
    """The eval whose weights the run ends with (the best one when early stopping restored it)."""
    if not run["history"]:
        return {"val_acc": float("nan"), "val_loss": float("nan")}
    if run["end"].get("reason") == "early_stop":
        return min(run["history"], key=lambda e: e["val_loss"])
    return run["history"][-1]

