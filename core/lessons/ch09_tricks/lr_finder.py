"""9.3 LR finder: Leslie Smith's learning-rate range test, with two suggested rates."""
from __future__ import annotations

import math

import numpy as np
import plotly.graph_objects as go
import torch
import torch.nn.functional as F
from torch import nn

from core import data as datasets
from core import nets
from core.device import seed_everything
from core.errors import HeroError, check_range
from core.lessons import trainer
from core.lessons.ch09_tricks.presets import MAX_STEPS, PRESETS
from core.train import make_optimizer
from core.viz import PALETTE, style as _layout


def lr_schedule(lr_min: float, lr_max: float, steps: int) -> np.ndarray:
    """Exactly geometric: lr_i = lr_min · (lr_max / lr_min)^(i / (steps − 1)), i = 0..steps−1."""
    return lr_min * (lr_max / lr_min) ** (np.arange(steps) / (steps - 1))


def lr_finder(model: nn.Module, X: torch.Tensor, y: torch.Tensor, lr_min: float = 1e-5, lr_max: float = 1.0,
              steps: int = 100, optimizer: str = "adam", batch_size: int = 64, seed: int = 0,
              beta: float = 0.9, diverge: float = 4.0, device: str = "cpu") -> dict:
    """Leslie Smith's LR range test: one mini-batch step per LR, LR growing exponentially.

    X [N, ...], y [N] (on the CPU; each batch goes to ``device``, where the model is moved).
    Trains ``model`` in place (pass a fresh copy). Stops once the smoothed
    loss exceeds ``diverge`` × its best. Returns the schedule, the LRs actually tried, raw and
    smoothed losses, and two suggestions: ``steepest`` (most negative slope of the smoothed loss
    vs log10 LR, before its minimum) and ``min_over_10`` (LR at the minimum loss ÷ 10).
    """
    check_range("steps", steps, 10, MAX_STEPS)
    if not (0 < lr_min < lr_max <= 10):
        raise HeroError("ch09.bad_lr_range", low=lr_min, high=lr_max)
    schedule = lr_schedule(lr_min, lr_max, steps)
    gen = torch.Generator().manual_seed(seed)
    model.to(device).train()
    opt = make_optimizer(optimizer, model.parameters(), lr_min)
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
        xb, yb = X[idx].to(device), y[idx].to(device)
        loss = F.cross_entropy(model(xb), yb)              # 2. one ordinary training step
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


@trainer("ch09_lr_finder")
def _check_lr_finder(device: str, preset: str) -> dict:
    split = digits_split()
    r = lr_finder(finder_model("small_cnn"), split.X_train, split.y_train,
                  steps=max(10, PRESETS[preset]["finder_steps"]), device=device)
    return {"steepest": r["steepest"], "min_lr": r["min_lr"], "steps": len(r["lrs"])}


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
