"""Chapter 4 — loss functions and optimizers: how a model measures its error and walks downhill.

Plain functions returning data (NumPy arrays, dicts, dataclasses) plus the chapter's own plotly
figures. Every number comes from the real ``torch.nn.functional`` losses, ``torch.optim``
optimizers and ``torch.optim.lr_scheduler`` schedulers; the Streamlit page and the Gradio
widget only draw what these return.
"""
from __future__ import annotations

import math
import threading
from dataclasses import asdict, dataclass, field
from typing import Callable

import numpy as np
import plotly.graph_objects as go
import torch
from plotly.subplots import make_subplots
from torch import nn
from torch.nn import functional as F

from core import data as datasets
from core import nets
from core.device import seed_everything
from core.errors import HeroError
from core.train import Callback, NaNGuard, evaluate, fit, make_optimizer
from core.viz import PALETTE, style as _layout

Emit = Callable[[dict], None]

# Sizes per preset: tiny keeps tests to a few seconds, default is a visitor on 2 CPU cores.
PRESETS = {
    "tiny": {"curve_points": 101, "race_steps": 60, "grid": 40, "frames": 12, "decay_steps": 60,
             "sched_steps": 60, "practice_epochs": 2},
    "default": {"curve_points": 301, "race_steps": 400, "grid": 80, "frames": 30, "decay_steps": 200,
                "sched_steps": 100, "practice_epochs": 12},
    "gpu": {"curve_points": 401, "race_steps": 600, "grid": 100, "frames": 60, "decay_steps": 400,
            "sched_steps": 200, "practice_epochs": 20},
}

# Every size a visitor can request is capped here (checked in the functions, HeroError beyond).
MAX_CURVE_POINTS = 2001
MAX_RACE_STEPS = 2000
MAX_SCHED_STEPS = 1000
MAX_DECAY_STEPS = 2000
MAX_EPOCHS = 50
MAX_LR = 100.0


def _check_range(code: str, value: float, low: float, high: float) -> None:
    if not (low <= value <= high) or not math.isfinite(value):
        raise HeroError(f"ch04.{code}", value=value, low=low, high=high)


# =========================================================================== 4.1 loss explorer

# kind: what the x axis is — a regression "value", a "logit" (any real number) or a "prob" in (0, 1).
# target: "value" (any real), "class" (index 0..2 of 3 classes) or "prob" (a label in [0, 1]).
LOSSES = {
    "mse": {"kind": "value", "target": "value", "torch": "nn.MSELoss()"},
    "l1": {"kind": "value", "target": "value", "torch": "nn.L1Loss()"},
    "huber": {"kind": "value", "target": "value", "torch": "nn.HuberLoss(delta=δ)"},
    "smooth_l1": {"kind": "value", "target": "value", "torch": "nn.SmoothL1Loss(beta=δ)"},
    "cross_entropy": {"kind": "logit", "target": "class", "torch": "nn.CrossEntropyLoss()"},
    "nll": {"kind": "prob", "target": "class", "torch": "nn.NLLLoss() on log-probabilities"},
    "bce": {"kind": "prob", "target": "prob", "torch": "nn.BCELoss() on probabilities"},
    "bce_logits": {"kind": "logit", "target": "prob", "torch": "nn.BCEWithLogitsLoss()"},
}
N_CLASSES = 3   # the CE/NLL explorer uses 3 classes: the x axis moves class 0, the others stay fixed


def loss_inputs(name: str, x: torch.Tensor) -> torch.Tensor:
    """What the real loss receives for x-axis values x [N].

    value/logit losses get x itself; CrossEntropy gets logits [N, 3] = (x, 0, 0);
    NLL gets log-probabilities [N, 3] = log(x, (1-x)/2, (1-x)/2); BCE gets x as a probability.
    """
    if name == "cross_entropy":
        zeros = torch.zeros_like(x)
        return torch.stack([x, zeros, zeros], 1)
    if name == "nll":
        rest = (1 - x) / 2
        return torch.stack([x, rest, rest], 1).log()
    return x


def apply_loss(name: str, inputs: torch.Tensor, target: float, delta: float = 1.0) -> torch.Tensor:
    """Per-point loss [N] of the real torch loss ``name`` for one shared target."""
    if name in ("cross_entropy", "nll"):
        t = torch.full((len(inputs),), int(target), dtype=torch.long)
        fn = F.cross_entropy if name == "cross_entropy" else F.nll_loss
        return fn(inputs, t, reduction="none")
    t = torch.full_like(inputs, float(target))
    if name == "mse":
        return F.mse_loss(inputs, t, reduction="none")
    if name == "l1":
        return F.l1_loss(inputs, t, reduction="none")
    if name == "huber":
        return F.huber_loss(inputs, t, reduction="none", delta=delta)
    if name == "smooth_l1":
        return F.smooth_l1_loss(inputs, t, reduction="none", beta=delta)
    if name == "bce":
        return F.binary_cross_entropy(inputs, t, reduction="none")
    if name == "bce_logits":
        return F.binary_cross_entropy_with_logits(inputs, t, reduction="none")
    raise HeroError("ch04.unknown_loss", name=name, known=", ".join(LOSSES))


def x_range(name: str) -> tuple[float, float]:
    """The x axis of the explorer: probabilities stay inside (0, 1), the rest spans ±4."""
    return (0.005, 0.995) if LOSSES[name]["kind"] == "prob" else (-4.0, 4.0)


def loss_curve(name: str, target: float, n: int = 301, delta: float = 1.0) -> dict:
    """Loss and its gradient (by autograd) along the x axis of loss ``name``.

    Returns x [n], loss [n], grad [n] = d loss / d x, and ``what`` (the loss's kind).
    """
    if name not in LOSSES:
        raise HeroError("ch04.unknown_loss", name=name, known=", ".join(LOSSES))
    _check_range("bad_points", n, 11, MAX_CURVE_POINTS)
    spec = LOSSES[name]
    if spec["target"] == "class" and int(target) not in range(N_CLASSES):
        raise HeroError("ch04.bad_target", value=target, low=0, high=N_CLASSES - 1)
    if spec["target"] == "prob":
        _check_range("bad_target", target, 0.0, 1.0)
    lo, hi = x_range(name)
    # 1. the x axis is a leaf tensor, so autograd can give d loss / d x at every point
    x = torch.linspace(lo, hi, int(n), dtype=torch.float64, requires_grad=True)
    # 2. the real torch loss, one value per point (reduction="none")
    loss = apply_loss(name, loss_inputs(name, x), target, delta)
    # 3. the points are independent, so the gradient of the sum is each point's own gradient
    loss.sum().backward()
    return {"x": x.detach().numpy(), "loss": loss.detach().numpy(), "grad": x.grad.numpy(),
            "kind": spec["kind"]}


def loss_curve_figure(curves: dict[str, dict], title: str = "", loss_label: str = "loss",
                      grad_label: str = "gradient", x_label: str = "prediction") -> go.Figure:
    """Loss (left) and its gradient (right) for one or more curves from ``loss_curve``."""
    fig = make_subplots(rows=1, cols=2, subplot_titles=[loss_label, grad_label])
    for i, (name, c) in enumerate(curves.items()):
        colour = PALETTE[i % len(PALETTE)]
        fig.add_trace(go.Scatter(x=c["x"], y=c["loss"], name=name, legendgroup=name,
                                 line=dict(color=colour)), row=1, col=1)
        fig.add_trace(go.Scatter(x=c["x"], y=c["grad"], name=name, legendgroup=name, showlegend=False,
                                 line=dict(color=colour, dash="dot")), row=1, col=2)
    fig.update_xaxes(title_text=x_label)
    return _layout(fig, title, height=340)


# --------------------------------------------------------------------------- BCE stability

STABILITY_LOGITS = (-100.0, -50.0, -20.0, -10.0, -5.0, -1.0, 1.0, 5.0, 10.0, 20.0, 50.0, 100.0)


def bce_reference(z: np.ndarray, y: float) -> tuple[np.ndarray, np.ndarray]:
    """Exact BCE-with-logits loss and gradient in float64: softplus(z) − y·z, σ(z) − y."""
    z = np.asarray(z, dtype=np.float64)
    loss = np.maximum(z, 0) - z * y + np.log1p(np.exp(-np.abs(z)))
    grad = np.where(z >= 0, 1 / (1 + np.exp(-np.abs(z))), np.exp(-np.abs(z)) / (1 + np.exp(-np.abs(z)))) - y
    return loss, grad


def bce_stability(logits=STABILITY_LOGITS, target: float = 0.0) -> list[dict]:
    """Three ways to compute binary cross-entropy in float32, against the float64 truth.

    For each logit z: ``manual`` = −[y·log σ(z) + (1−y)·log(1−σ(z))] typed by hand (goes inf),
    ``bce`` = nn.BCELoss on σ(z) (PyTorch clamps log at −100), ``bce_logits`` = nn.BCEWithLogitsLoss
    on z (log-sum-exp trick, stays exact); each with d loss / d z by autograd.
    """
    _check_range("bad_target", target, 0.0, 1.0)
    z32 = torch.tensor(list(logits), dtype=torch.float32)
    y = torch.full_like(z32, float(target))
    rows = []
    ref_loss, ref_grad = bce_reference(z32.double().numpy(), float(target))

    def loss_and_grad(fn) -> tuple[np.ndarray, np.ndarray]:
        z = z32.clone().requires_grad_(True)
        loss = fn(z)
        loss.sum().backward()
        return loss.detach().numpy(), z.grad.numpy()

    # 1. the textbook formula: σ(z) rounds to exactly 1.0 (or 0.0) in float32, log(0) = −inf
    manual, manual_g = loss_and_grad(lambda z: -(y * torch.sigmoid(z).log() + (1 - y) * (1 - torch.sigmoid(z)).log()))
    # 2. sigmoid then nn.BCELoss: the log is clamped at −100, so the loss is finite but wrong,
    #    and the gradient through the saturated sigmoid is 0
    bce, bce_g = loss_and_grad(lambda z: F.binary_cross_entropy(torch.sigmoid(z), y, reduction="none"))
    # 3. BCEWithLogits: softplus form, never forms σ(z) = 1 exactly
    stable, stable_g = loss_and_grad(lambda z: F.binary_cross_entropy_with_logits(z, y, reduction="none"))
    for i, z in enumerate(logits):
        rows.append({"logit": float(z), "reference": float(ref_loss[i]), "manual": float(manual[i]),
                     "bce": float(bce[i]), "bce_logits": float(stable[i]), "grad_reference": float(ref_grad[i]),
                     "grad_bce": float(bce_g[i]), "grad_bce_logits": float(stable_g[i])})
    return rows


def stability_figure(rows: list[dict], names: dict[str, str], title: str = "") -> go.Figure:
    """Absolute error (log scale) of each float32 method against the float64 reference, per logit."""
    fig = make_subplots(rows=1, cols=2, subplot_titles=[names.get("loss_error", "loss error"),
                                                        names.get("grad_error", "gradient error")])
    z = [r["logit"] for r in rows]
    floor = 1e-12   # exact answers would be 0, which a log axis cannot draw
    for i, key in enumerate(("manual", "bce", "bce_logits")):
        err = [abs(r[key] - r["reference"]) if math.isfinite(r[key]) else 1e6 for r in rows]
        fig.add_trace(go.Scatter(x=z, y=[max(e, floor) for e in err], mode="lines+markers", name=names.get(key, key),
                                 legendgroup=key, line=dict(color=PALETTE[i])), row=1, col=1)
    for i, key in ((1, "bce"), (2, "bce_logits")):
        err = [abs(r[f"grad_{key}"] - r["grad_reference"]) for r in rows]
        fig.add_trace(go.Scatter(x=z, y=[max(e, floor) for e in err], mode="lines+markers", name=names.get(key, key),
                                 legendgroup=key, showlegend=False, line=dict(color=PALETTE[i])), row=1, col=2)
    fig.update_yaxes(type="log", exponentformat="power")
    fig.update_xaxes(title_text="logit z")
    return _layout(fig, title, height=340)


# --------------------------------------------------------------------------- custom losses

def focal_loss(logits: torch.Tensor, targets: torch.Tensor, gamma: float = 2.0,
               alpha: float | None = None) -> torch.Tensor:
    """Binary focal loss (Lin et al., 2017), per element. logits, targets: [N] (targets in [0, 1]).

    FL = (1 − p_t)^γ · BCE, where p_t is the probability given to the true label: confident,
    correct predictions (p_t → 1) are down-weighted, so training focuses on the hard ones.
    γ = 0 (and no α) is exactly BCEWithLogits.
    """
    bce = F.binary_cross_entropy_with_logits(logits, targets, reduction="none")  # stable log-loss
    p = torch.sigmoid(logits)
    p_t = p * targets + (1 - p) * (1 - targets)
    loss = (1 - p_t) ** gamma * bce
    if alpha is not None:   # optional class balance: α for positives, 1 − α for negatives
        loss = (alpha * targets + (1 - alpha) * (1 - targets)) * loss
    return loss


def pinball_loss(pred: torch.Tensor, target: torch.Tensor, q: float = 0.9) -> torch.Tensor:
    """Quantile (pinball) loss, per element. pred, target: [N]; q in (0, 1).

    Under-prediction costs q per unit, over-prediction 1 − q: minimising it gives the q-quantile
    (q = 0.5 is half the L1 loss, whose minimiser is the median).
    """
    diff = target - pred
    return torch.maximum(q * diff, (q - 1) * diff)


def custom_loss_check(gamma: float = 2.0, q: float = 0.9, n: int = 201, seed: int = 0) -> dict:
    """Compare our custom losses numerically with references.

    Returns the focal curve vs BCE along logits (target 1), the largest differences between
    our focal loss and torchvision's ``sigmoid_focal_loss`` and between focal(γ=0) and
    BCEWithLogits on random data, pinball(0.5) vs ½·L1, and the constant that minimises the
    pinball loss on a skewed sample vs ``np.quantile``.
    """
    from torchvision.ops import sigmoid_focal_loss
    _check_range("bad_gamma", gamma, 0.0, 10.0)
    _check_range("bad_quantile", q, 0.01, 0.99)
    gen = torch.Generator().manual_seed(seed)
    logits = torch.randn(512, generator=gen, dtype=torch.float64) * 4
    labels = (torch.rand(512, generator=gen, dtype=torch.float64) > 0.5).double()
    ours = focal_loss(logits, labels, gamma, alpha=0.25)
    theirs = sigmoid_focal_loss(logits, labels, alpha=0.25, gamma=gamma, reduction="none")
    plain = focal_loss(logits, labels, 0.0)
    bce = F.binary_cross_entropy_with_logits(logits, labels, reduction="none")
    # the pinball loss's minimiser over a constant prediction is the q-quantile of the data:
    # evaluate the mean loss for 801 candidate constants at once and keep the best one
    sample = -torch.rand(2000, generator=gen, dtype=torch.float64).log()   # Exponential(1), skewed
    candidates = torch.linspace(0.0, float(sample.max()), 801, dtype=torch.float64)
    mean_loss = pinball_loss(candidates[:, None], sample[None, :], q).mean(1)   # [801]
    best = candidates[mean_loss.argmin()]
    half = pinball_loss(logits, labels, 0.5)
    z = torch.linspace(-6, 6, n, dtype=torch.float64)
    ones = torch.ones_like(z)
    return {
        "z": z.numpy(),
        "bce_curve": F.binary_cross_entropy_with_logits(z, ones, reduction="none").numpy(),
        "focal_curve": focal_loss(z, ones, gamma).numpy(),
        "vs_torchvision": float((ours - theirs).abs().max()),
        "gamma0_vs_bce": float((plain - bce).abs().max()),
        "pinball_half_vs_l1": float((half - 0.5 * (logits - labels).abs()).abs().max()),
        "pinball_minimiser": float(best),
        "quantile": float(np.quantile(sample.numpy(), q)),
    }


# =========================================================================== 4.2 optimizer race

@dataclass(frozen=True)
class Surface:
    """A 2-D loss landscape f(x, y), written once for torch tensors and NumPy arrays."""
    fn: Callable
    start: tuple[float, float]           # where every optimizer starts
    minima: tuple[tuple[float, float], ...]
    x_range: tuple[float, float]
    y_range: tuple[float, float]
    lr_sgd: float                        # a learning rate that works for the SGD family here
    lr_adaptive: float                   # … and for RMSprop / Adam / AdamW
    log_contours: bool = True            # draw log(f − f_min) so valleys stay visible


def _rosenbrock(x, y):
    return (1 - x) ** 2 + 100 * (y - x ** 2) ** 2


def _saddle(x, y):
    # a saddle at the origin between two minima at (0, ±1): flat ground where SGD stalls
    return x ** 2 + 0.25 * y ** 4 - 0.5 * y ** 2


def _bowl(x, y):
    # an ill-conditioned bowl (curvatures 1 and 40) rotated 30°, so no axis lines up with it
    u = 0.866 * x + 0.5 * y
    v = -0.5 * x + 0.866 * y
    return 0.5 * (u ** 2 + 40 * v ** 2)


def _himmelblau(x, y):
    return (x ** 2 + y - 11) ** 2 + (x + y ** 2 - 7) ** 2


SURFACES = {
    "rosenbrock": Surface(_rosenbrock, (-1.2, 1.0), ((1.0, 1.0),), (-2.0, 2.0), (-1.0, 3.0), 1.5e-3, 0.1),
    "saddle": Surface(_saddle, (-1.5, 1e-3), ((0.0, 1.0), (0.0, -1.0)), (-2.0, 2.0), (-1.6, 1.6), 0.05, 0.05,
                      log_contours=False),
    "bowl": Surface(_bowl, (-1.8, 1.2), ((0.0, 0.0),), (-2.2, 2.2), (-1.6, 1.6), 0.025, 0.1),
    "himmelblau": Surface(_himmelblau, (0.0, -0.5), ((3.0, 2.0), (-2.805118, 3.131312), (-3.779310, -3.283186),
                                                     (3.584428, -1.848127)), (-5.0, 5.0), (-5.0, 5.0), 0.005, 0.1),
}
RACERS = ("sgd", "momentum", "nesterov", "rmsprop", "adam", "adamw")
ADAPTIVE = ("rmsprop", "adam", "adamw")
DIVERGE_FACTOR = 1e8      # a loss this many times the starting loss (or NaN/inf) counts as diverged
REACH_TOLERANCE = 0.1     # "reached the minimum": within this distance of one


def surface_min(surface: str) -> float:
    s = SURFACES[surface]
    return float(min(s.fn(*m) for m in s.minima))


@dataclass
class Trajectory:
    """One optimizer's walk: points [T+1, 2] from the start, losses [T+1]."""
    optimizer: str
    lr: float
    points: np.ndarray
    losses: np.ndarray
    diverged_at: int | None = None      # step at which the loss became NaN/inf or |p| exploded
    reached_at: int | None = None       # first step within REACH_TOLERANCE of a minimum


def optimizer_path(surface: str, optimizer: str, lr: float, steps: int,
                   start: tuple[float, float] | None = None) -> Trajectory:
    """Really step ``torch.optim`` on a 2-element parameter sitting on ``surface``."""
    if surface not in SURFACES:
        raise HeroError("ch04.unknown_surface", name=surface, known=", ".join(SURFACES))
    _check_range("bad_lr", lr, 1e-6, MAX_LR)
    _check_range("bad_steps", steps, 1, MAX_RACE_STEPS)
    s = SURFACES[surface]
    # 1. the parameter: a point (x, y) that the optimizer owns
    p = torch.tensor(start or s.start, dtype=torch.float32, requires_grad=True)
    # AdamW keeps torch's own default decay (0.01); with 0 it would be Adam exactly
    opt = make_optimizer(optimizer, [p], lr, weight_decay=0.01 if optimizer == "adamw" else 0.0)
    points, losses = [p.detach().clone()], []
    diverged = None
    for step in range(int(steps) + 1):
        # 2. forward: the height of the surface at p
        loss = s.fn(p[0], p[1])
        value = loss.item()
        losses.append(value)
        if not math.isfinite(value) or abs(value) > DIVERGE_FACTOR * (abs(losses[0]) + 1):
            diverged = step    # NaN/inf or exploding: stop here, the learner is told why
            break
        if step == steps:
            break
        # 3. backward + update, exactly like a training loop
        opt.zero_grad()
        loss.backward()
        opt.step()
        points.append(p.detach().clone())
    pts = torch.stack(points).numpy()
    # 4. the first step within REACH_TOLERANCE of any minimum
    dist = np.linalg.norm(pts[:, None, :] - np.array(s.minima)[None], axis=2).min(1)
    close = np.flatnonzero(dist < REACH_TOLERANCE) if diverged is None else np.flatnonzero(dist[:diverged] < REACH_TOLERANCE)
    reached = int(close[0]) if len(close) else None
    return Trajectory(optimizer, lr, pts, np.array(losses), diverged, reached)


def race(surface: str, optimizers=RACERS, lr_sgd: float | None = None, lr_adaptive: float | None = None,
         steps: int = 400) -> dict[str, Trajectory]:
    """Every optimizer from the same start on the same surface; adaptive ones use ``lr_adaptive``."""
    s = SURFACES[surface] if surface in SURFACES else None
    if s is None:
        raise HeroError("ch04.unknown_surface", name=surface, known=", ".join(SURFACES))
    if not optimizers:
        raise HeroError("ch04.no_optimizer")
    out = {}
    for name in optimizers:
        lr = (lr_adaptive or s.lr_adaptive) if name in ADAPTIVE else (lr_sgd or s.lr_sgd)
        out[name] = optimizer_path(surface, name, lr, steps)
    return out


def race_winner(paths: dict[str, Trajectory]) -> str | None:
    """The optimizer that first came within REACH_TOLERANCE of a minimum (None if nobody did)."""
    reached = [(t.reached_at, name) for name, t in paths.items() if t.reached_at is not None]
    return min(reached)[1] if reached else None


def surface_grid(surface: str, resolution: int = 80) -> dict:
    """Heights on a grid for contours: xs [R], ys [R], z [R, R] (row i is y = ys[i])."""
    _check_range("bad_points", resolution, 10, 400)
    s = SURFACES[surface]
    xs = np.linspace(*s.x_range, resolution)
    ys = np.linspace(*s.y_range, resolution)
    gx, gy = np.meshgrid(xs, ys)
    z = s.fn(gx, gy)
    if s.log_contours:
        z = np.log10(z - surface_min(surface) + 1e-3)
    return {"xs": xs, "ys": ys, "z": z}


def race_figure(surface: str, paths: dict[str, Trajectory], resolution: int = 80, frames: int = 50,
                title: str = "", play: str = "Play") -> go.Figure:
    """Contours of the surface with every trajectory, animated by plotly frames (a Play button).

    The still figure shows the whole paths and final positions; Play replays them step by step.
    """
    s = SURFACES[surface]
    grid = surface_grid(surface, resolution)
    names = list(paths)

    def clip(pts: np.ndarray) -> np.ndarray:   # keep diverged paths drawable inside the plot
        lo = np.array([s.x_range[0], s.y_range[0]]) - 1
        hi = np.array([s.x_range[1], s.y_range[1]]) + 1
        return np.clip(np.nan_to_num(pts, nan=0.0, posinf=1e3, neginf=-1e3), lo, hi)

    def path_traces(k: int | None) -> list[go.Scatter]:
        # one trace per optimizer: the path as a line, a big marker only at its current end
        traces = []
        for i, name in enumerate(names):
            pts = clip(paths[name].points if k is None else paths[name].points[:k + 1])
            sizes = np.zeros(len(pts))
            sizes[-1] = 11
            traces.append(go.Scatter(x=pts[:, 0], y=pts[:, 1], mode="lines+markers", name=name,
                                     line=dict(color=PALETTE[i % len(PALETTE)], width=2),
                                     marker=dict(size=sizes, color=PALETTE[i % len(PALETTE)], opacity=1)))
        return traces

    contour = go.Contour(x=grid["xs"], y=grid["ys"], z=grid["z"], colorscale="Greys", showscale=False,
                         ncontours=25, contours=dict(coloring="heatmap"), opacity=0.55, hoverinfo="skip")
    minima = go.Scatter(x=[m[0] for m in s.minima], y=[m[1] for m in s.minima], mode="markers",
                        marker=dict(symbol="star", size=14, color="gold", line=dict(width=1, color="black")),
                        name="min", showlegend=False)
    longest = max(len(t.points) for t in paths.values())
    ticks = sorted(set(np.linspace(0, longest - 1, max(2, min(frames, longest))).round().astype(int)))
    fig = go.Figure(data=[contour, minima, *path_traces(None)],
                    frames=[go.Frame(data=path_traces(k), traces=list(range(2, 2 + len(names))), name=str(k))
                            for k in ticks])
    fig.update_layout(updatemenus=[dict(type="buttons", showactive=False, x=0.0, y=-0.12, xanchor="left",
                                        buttons=[dict(label=play, method="animate",
                                                      args=[None, {"frame": {"duration": 60, "redraw": False},
                                                                   "fromcurrent": False, "transition": {"duration": 0}}])])])
    return _layout(fig, title, height=460, xaxis=dict(range=list(s.x_range)), yaxis=dict(range=list(s.y_range)),
                   margin=dict(l=40, r=10, t=40, b=70))


def race_loss_figure(surface: str, paths: dict[str, Trajectory], title: str = "", y_label: str = "") -> go.Figure:
    """f(p) − f(min) per step on a log axis (gaps to the minimum, so every surface reads alike)."""
    fmin = surface_min(surface)
    fig = go.Figure()
    for i, (name, t) in enumerate(paths.items()):
        gap = np.where(np.isfinite(t.losses), t.losses - fmin, np.nan)
        fig.add_trace(go.Scatter(y=np.maximum(gap, 1e-12), mode="lines", name=name,
                                 line=dict(color=PALETTE[i % len(PALETTE)])))
    return _layout(fig, title, yaxis=dict(type="log", title=y_label, exponentformat="power"),
                   xaxis=dict(title="step"), height=340)


def race_table(paths: dict[str, Trajectory], surface: str) -> list[dict]:
    """One row per optimizer: lr, final point, final gap to the minimum, step reached, divergence."""
    fmin = surface_min(surface)
    return [{"optimizer": n, "lr": t.lr, "x": float(t.points[-1, 0]), "y": float(t.points[-1, 1]),
             "gap": float(t.losses[-1] - fmin), "reached_at": t.reached_at, "diverged_at": t.diverged_at}
            for n, t in paths.items()]


def race_script(surface: str, optimizer: str, lr: float, steps: int) -> str:
    """A runnable snippet that replays one racer with the page's settings."""
    s = SURFACES[surface]
    import inspect
    body = inspect.getsource(s.fn).replace(s.fn.__name__, "f")
    return f'''import torch

{body}
p = torch.tensor({list(s.start)}, requires_grad=True)   # the point the optimizer moves
opt = {_optimizer_code(optimizer, "[p]", lr, 0.01 if optimizer == "adamw" else 0.0)}
for step in range({steps}):
    loss = f(p[0], p[1])
    if not torch.isfinite(loss):
        print("diverged at step", step, "- lower the learning rate")
        break
    opt.zero_grad()
    loss.backward()
    opt.step()
print(p.detach(), loss.item())
'''


def _optimizer_code(name: str, params: str, lr: float, weight_decay: float = 0.0) -> str:
    wd = f", weight_decay={weight_decay}" if weight_decay else ""
    return {"sgd": f"torch.optim.SGD({params}, lr={lr}{wd})",
            "momentum": f"torch.optim.SGD({params}, lr={lr}, momentum=0.9{wd})",
            "nesterov": f"torch.optim.SGD({params}, lr={lr}, momentum=0.9, nesterov=True{wd})",
            "rmsprop": f"torch.optim.RMSprop({params}, lr={lr}{wd})",
            "adam": f"torch.optim.Adam({params}, lr={lr}{wd})",
            "adamw": f"torch.optim.AdamW({params}, lr={lr}{wd})"}[name]


# --------------------------------------------------------------------------- Adam vs AdamW

def decay_problem(seed: int = 0, n: int = 256, d: int = 8) -> tuple[torch.Tensor, torch.Tensor]:
    """A least-squares problem whose features have very different scales (0.1 … 10).

    X [n, d], y [n]. Different scales → very different gradient sizes per weight, which is
    exactly where "L2 inside Adam" and "decoupled decay" part ways.
    """
    gen = torch.Generator().manual_seed(seed)
    scales = torch.logspace(-1, 1, d)
    X = torch.randn(n, d, generator=gen) * scales
    w_true = torch.randn(d, generator=gen) * 2
    y = X @ w_true + 0.1 * torch.randn(n, generator=gen)
    return X, y


def weight_decay_compare(lr: float = 0.05, weight_decay: float = 0.1, steps: int = 300, seed: int = 0) -> dict:
    """Train the same linear model with Adam(weight_decay) and AdamW(weight_decay) from the same start.

    Adam adds wd·w to the gradient before its per-weight scaling (L2 in the gradient); AdamW
    shrinks w by lr·wd·w after the Adam step (decoupled). Returns per optimizer the weight norm
    [steps+1], the loss [steps+1] and the final weights [d].
    """
    _check_range("bad_lr", lr, 1e-5, 1.0)
    _check_range("bad_decay", weight_decay, 0.0, 10.0)
    _check_range("bad_steps", steps, 1, MAX_DECAY_STEPS)
    X, y = decay_problem(seed)
    out = {}
    for name in ("adam", "adamw"):
        w = torch.zeros(X.shape[1], requires_grad=True)
        opt = make_optimizer(name, [w], lr, weight_decay=weight_decay)
        norms, losses = [0.0], []
        for _ in range(int(steps)):
            loss = F.mse_loss(X @ w, y)
            losses.append(loss.item())
            opt.zero_grad()
            loss.backward()
            opt.step()
            norms.append(float(w.detach().norm()))
        losses.append(float(F.mse_loss(X @ w.detach(), y)))
        out[name] = {"norm": np.array(norms), "loss": np.array(losses), "weights": w.detach().numpy().copy()}
    out["max_weight_diff"] = float(np.abs(out["adam"]["weights"] - out["adamw"]["weights"]).max())
    return out


def decay_figure(result: dict, labels: dict[str, str], title: str = "") -> go.Figure:
    """‖w‖ over steps (left) and the final weights side by side (right) for Adam vs AdamW."""
    fig = make_subplots(rows=1, cols=2, subplot_titles=[labels.get("norm", "‖w‖"), labels.get("weights", "w")])
    for i, name in enumerate(("adam", "adamw")):
        r = result[name]
        fig.add_trace(go.Scatter(y=r["norm"], mode="lines", name=name, legendgroup=name,
                                 line=dict(color=PALETTE[i])), row=1, col=1)
        fig.add_trace(go.Bar(x=[f"w{j}" for j in range(len(r["weights"]))], y=r["weights"], name=name,
                             legendgroup=name, showlegend=False, marker_color=PALETTE[i]), row=1, col=2)
    fig.update_layout(barmode="group")
    return _layout(fig, title, height=340)


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
    _check_range("bad_steps", steps, 2, MAX_SCHED_STEPS)
    _check_range("bad_lr", base_lr, 1e-6, 10.0)
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


# =========================================================================== 4.4 实战: choose loss + optimizer

PRACTICE_LOSSES = ("cross_entropy", "nll", "label_smoothing", "focal", "mse")


def practice_loss(name: str) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    """loss_fn(logits [B, C], labels [B]) -> scalar, for the MLP's raw logits."""
    if name == "cross_entropy":
        return F.cross_entropy
    if name == "nll":
        return lambda out, y: F.nll_loss(F.log_softmax(out, 1), y)  # = cross_entropy, in two steps
    if name == "label_smoothing":
        return lambda out, y: F.cross_entropy(out, y, label_smoothing=0.1)
    if name == "focal":
        def multiclass_focal(out, y, gamma=2.0):
            logp = F.log_softmax(out, 1).gather(1, y[:, None]).squeeze(1)
            return (-(1 - logp.exp()) ** gamma * logp).mean()
        return multiclass_focal
    if name == "mse":   # regression loss on probabilities vs one-hot: works, but learns slower
        return lambda out, y: F.mse_loss(out.softmax(1), F.one_hot(y, out.shape[1]).to(out.dtype))
    raise HeroError("ch04.unknown_loss", name=name, known=", ".join(PRACTICE_LOSSES))


@dataclass
class PracticeRun:
    """One setting of the 实战 comparison."""
    loss: str = "cross_entropy"
    optimizer: str = "adam"
    lr: float = 3e-3
    weight_decay: float = 0.0

    @property
    def name(self) -> str:
        wd = f" wd={self.weight_decay:g}" if self.weight_decay else ""
        return f"{self.loss} + {self.optimizer} lr={self.lr:g}{wd}"


@dataclass
class PracticeResult:
    runs: dict[str, dict] = field(default_factory=dict)   # name → {"settings", "history", "end"}

    def table(self) -> list[dict]:
        """Final accuracy per run, best first, with the settings that produced it."""
        rows = [{"run": name, **r["settings"], "val_acc": r["end"].get("val_acc"),
                 "train_loss": r["end"].get("train_loss"), "end": r["end"].get("reason"),
                 "seconds": r["end"].get("seconds")} for name, r in self.runs.items()]
        return sorted(rows, key=lambda r: -(r["val_acc"] if r["val_acc"] is not None and math.isfinite(r["val_acc"]) else -1))

    def differences(self) -> dict[str, list]:
        """The settings that differ between runs (setting → one value per run)."""
        settings = [r["settings"] for r in self.runs.values()]
        return {k: [s[k] for s in settings] for k in (settings[0] if settings else {})
                if len({str(s[k]) for s in settings}) > 1}


class Divergence(Callback):
    """End a run whose batch loss became NaN/inf or ``factor`` times its starting loss.

    A classifier rarely produces NaN even at lr = 100 (cross-entropy's gradient is bounded);
    it just jumps to huge weights and chance accuracy. The exploding loss is the sign to catch.
    """

    def __init__(self, start_loss: float, factor: float = 10.0):
        self.limit = factor * start_loss

    def on_step_end(self, state):
        if not math.isfinite(state.loss) or state.loss > self.limit:
            state.stop("diverged")


def practice_model(in_features: int, n_classes: int) -> nn.Module:
    """The ch03 MLP: in → 64 → ReLU → 64 → ReLU → classes (logits)."""
    return nets.build("mlp", {"in_features": in_features, "hidden": (64, 64), "out_features": n_classes})


def practice_data(dataset: str = "digits", seed: int = 0) -> datasets.Split:
    """Real 8×8 digits (pixels scaled to [0, 1]) or the 2-D moons toy set."""
    if dataset == "digits":
        ds = datasets.load("digits")
    elif dataset == "moons":
        ds = datasets.load("toy", kind="moons", n=600, noise=0.2, seed=seed)
    else:
        raise HeroError("data.unknown", name=dataset, known="digits, moons")
    split = datasets.split(ds, 0.2, seed=seed)
    scale = max(float(split.X_train.abs().max()), 1.0) if dataset == "digits" else 1.0
    return datasets.Split(split.X_train / scale, split.y_train, split.X_val / scale, split.y_val)


def compare_practice(settings: list[PracticeRun], dataset: str = "digits", epochs: int = 12,
                     batch_size: int = 64, seed: int = 0, stop_event: threading.Event | None = None,
                     emit: Emit | None = None) -> PracticeResult:
    """Train the same MLP (same seed: same initial weights, same batches) once per setting.

    Every event of ``core.train.fit`` is passed to ``emit`` tagged with ``run`` (the setting's
    name). A run whose loss turns NaN ends early (reason "nan"); the others still train.
    """
    emit = emit or (lambda event: None)
    if not 1 <= len(settings) <= 4:
        raise HeroError("ch04.bad_runs", value=len(settings), low=1, high=4)
    _check_range("bad_epochs", epochs, 1, MAX_EPOCHS)
    for s in settings:
        _check_range("bad_lr", s.lr, 1e-6, MAX_LR)
        _check_range("bad_decay", s.weight_decay, 0.0, 10.0)
    split = practice_data(dataset, seed)
    n_classes = int(split.y_train.max()) + 1
    result = PracticeResult()
    for s in settings:
        if stop_event is not None and stop_event.is_set():
            break
        name = s.name if s.name not in result.runs else f"{s.name} #{len(result.runs) + 1}"
        # 1. same seed → identical initial weights for every setting: only loss/optimizer differ
        seed_everything(seed)
        model = practice_model(split.X_train.shape[1], n_classes)
        optimizer = make_optimizer(s.optimizer, model.parameters(), s.lr, weight_decay=s.weight_decay)
        run = {"settings": asdict(s), "history": [], "end": {}}
        result.runs[name] = run
        loss_fn = practice_loss(s.loss)
        start_loss = evaluate(model, (split.X_train, split.y_train), loss_fn)["loss"]
        # 2. the gallery's one training loop, stopping a run whose loss explodes
        for event in fit(model, (split.X_train, split.y_train), (split.X_val, split.y_val), optimizer=optimizer,
                         loss_fn=loss_fn, epochs=epochs, batch_size=batch_size, seed=seed,
                         callbacks=[NaNGuard(), Divergence(start_loss)], stop_event=stop_event):
            if event["kind"] == "eval":
                run["history"].append(event)
            elif event["kind"] == "end":
                run["end"] = event
            emit({**event, "run": name})
    return result
