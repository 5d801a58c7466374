"""16.5 *beyond*: a scaling-law lab. Several tiny character GPTs (the ch10 architecture) of growing
width and depth are trained one after another for the same budget — the same number of training
tokens, or the same wall-clock seconds — and their validation loss is fitted as a power law of the
parameter count, L(N) = a·N^(−α) + c, as Kaplan et al. (2020) did for models 10⁴–10⁵ times larger.

N counts the *non-embedding* parameters (Kaplan's convention): the token and position tables of a
character model are a large, nearly constant share at these sizes and bend the curve otherwise.
"""
from __future__ import annotations

import math
import threading
import time
from dataclasses import asdict, dataclass, field
from typing import Callable

import numpy as np
import torch
from torch.utils.data import DataLoader

from core.device import seed_everything
from core.errors import HeroError, check_range
from core.lessons import trainer
from core.lessons.ch10_transformer.gpt import RandomWindows, corpus_ids, corpus_vocab, fixed_windows, lm_loss
from core.nets.char_gpt import CharGPT, CharGPTConfig
from core.train import Callback, NaNGuard, amp_callbacks, fit, record

BUDGETS = ("tokens", "seconds")
MAX_MODELS = 8                 # a ladder longer than this would keep a 2-core machine busy for many minutes
MAX_SECONDS_PER_MODEL = 120

# (n_layer, n_embd, n_head) from small to large: width and depth grow together, as in Kaplan's sweeps.
LADDER = ((1, 16, 2), (1, 24, 2), (1, 32, 4), (2, 32, 4), (2, 48, 4), (2, 64, 4), (3, 80, 4), (4, 128, 4))

PRESETS = {
    "tiny": {"sizes": 3, "steps": 6, "seconds": 1.0, "batch_size": 4, "block_size": 16, "eval_every": 3,
             "eval_windows": 8, "max_chars": 20000},
    "default": {"sizes": 6, "steps": 200, "seconds": 8.0, "batch_size": 16, "block_size": 64, "eval_every": 25,
                "eval_windows": 64, "max_chars": 0},
    "gpu": {"sizes": 8, "steps": 1500, "seconds": 20.0, "batch_size": 64, "block_size": 128, "eval_every": 100,
            "eval_windows": 256, "max_chars": 0},
}


@dataclass
class ScalingSettings:
    sizes: int = 6                 # how many rungs of LADDER to train, smallest first
    budget: str = "tokens"         # "tokens": every model sees steps·batch·block tokens; "seconds": the same time each
    steps: int = 200               # optimiser steps per model when budget == "tokens"
    seconds: float = 8.0           # wall-clock seconds per model when budget == "seconds"
    batch_size: int = 16
    block_size: int = 64
    lr: float = 3e-3               # one learning rate for all: a real sweep tunes it per size (small ones like it higher)
    warmup: int = 20               # steps of linear warm-up (a fresh transformer diverges at full lr)
    eval_every: int = 25           # steps between validation losses for the learning curves
    eval_windows: int = 64         # validation windows of block_size characters (the same ones for every model)
    max_chars: int = 0             # 0: the whole corpus
    seed: int = 0
    device: str = "cpu"


def check_scaling(s: ScalingSettings) -> ScalingSettings:
    """``s`` if the lab can run it; else a translated error saying why."""
    if s.budget not in BUDGETS:
        raise HeroError("ch16.scaling.bad_budget", budget=s.budget)
    check_range("sizes", s.sizes, 2, min(MAX_MODELS, len(LADDER)))
    check_range("steps", s.steps, 1, 20000)
    check_range("seconds", s.seconds, 0.2, MAX_SECONDS_PER_MODEL)
    check_range("block_size", s.block_size, 4, 512)
    return s


def ladder(n: int) -> list[dict]:
    """The first ``n`` model shapes, each with its parameter counts (no model is built)."""
    vocab = len(corpus_vocab())
    out = []
    for n_layer, n_embd, n_head in LADDER[:n]:
        # per block: qkv (3d² + 3d) + proj (d² + d) + MLP (8d² + 5d) + two LayerNorms (4d) = 12d² + 13d
        blocks = n_layer * (12 * n_embd**2 + 13 * n_embd)
        out.append({"name": f"L{n_layer}·d{n_embd}", "n_layer": n_layer, "n_embd": n_embd, "n_head": n_head,
                    "params": blocks + 2 * n_embd, "embedding": vocab * n_embd})   # + the final LayerNorm
    return out


def non_embedding_params(model: CharGPT) -> int:
    """Parameters outside the token and position tables (the tied output head shares the token table)."""
    embedding = {id(model.tok.weight)} | ({id(model.pos_emb.weight)} if hasattr(model, "pos_emb") else set())
    return sum(p.numel() for p in model.parameters() if id(p) not in embedding)


class Budget(Callback):
    """Warm-up then cosine decay of the learning rate over the budget, and the stop when it is spent.
    With a seconds budget the schedule follows the clock, so every model gets a full decay in its time."""

    def __init__(self, s: ScalingSettings):
        self.s = s
        self.started = time.perf_counter()

    def fraction(self, step: int) -> float:
        if self.s.budget == "seconds":
            return (time.perf_counter() - self.started) / self.s.seconds
        return step / self.s.steps

    def on_train_start(self, state):
        self.started = time.perf_counter()
        self.base = [g["lr"] for g in state.optimizer.param_groups]

    def on_step_end(self, state):
        done = self.fraction(state.step)
        if done >= 1.0:
            state.stop("budget")
            return
        warm = min(1.0, (state.step + 1) / max(1, self.s.warmup))
        factor = warm * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * done)))     # decays to 10 % of the peak
        for group, base in zip(state.optimizer.param_groups, self.base):
            group["lr"] = base * factor


@dataclass
class ScalingResult:
    points: list[dict]               # one per model: name, params, val_loss, tokens, seconds, tokens_per_s, curve
    fit: dict | None                 # fit_power_law of the finished points (None with fewer than 2)
    settings: dict
    stopped: bool = False
    seconds: float = 0.0
    best: dict | None = field(default=None)   # the point with the lowest loss: this machine's place on the curve

    @property
    def ok(self) -> bool:
        return len(self.points) >= 2


@torch.no_grad()
def val_loss(model: CharGPT, val: tuple[torch.Tensor, torch.Tensor], device: torch.device) -> float:
    """Mean loss in nats per character on the fixed validation windows x, y [W, T]."""
    model.eval()
    loss = float(lm_loss(model(val[0].to(device)), val[1].to(device)))
    model.train()
    return loss


def train_size(shape: dict, s: ScalingSettings, stop_event: threading.Event | None = None,
               emit: Callable[[dict], None] | None = None) -> dict:
    """Train one model of the ladder for the budget; return its point (params, final val_loss, tokens…)."""
    seed_everything(s.seed)
    vocab = corpus_vocab()
    device = torch.device(s.device)
    model = CharGPT(CharGPTConfig(vocab_size=len(vocab), block_size=s.block_size, n_layer=shape["n_layer"],
                                  n_head=shape["n_head"], n_embd=shape["n_embd"])).to(device)
    train_ids, val_ids = corpus_ids(s.max_chars)
    batches = DataLoader(RandomWindows(train_ids, s.block_size, s.batch_size, s.seed), batch_size=None)
    val = fixed_windows(val_ids, s.block_size, s.eval_windows)        # the same windows for every size
    optimizer = torch.optim.AdamW(model.parameters(), lr=s.lr, betas=(0.9, 0.99), weight_decay=0.01)
    max_steps = s.steps if s.budget == "tokens" else 10**7            # a seconds budget ends on the clock
    started = time.perf_counter()
    history, end = record(fit(model, batches, val, optimizer=optimizer, loss_fn=lm_loss, device=device,
                              seed=s.seed, callbacks=[*amp_callbacks(device), NaNGuard(), Budget(s)],
                              stop_event=stop_event, eval_every=s.eval_every, max_steps=max_steps), emit)
    seconds = time.perf_counter() - started
    steps = int(end.get("step", 0))
    tokens = steps * s.batch_size * s.block_size
    n = non_embedding_params(model)
    final = val_loss(model, val, device)
    return {"name": shape["name"], "n_layer": shape["n_layer"], "n_embd": shape["n_embd"], "params": n,
            "val_loss": final, "steps": steps, "tokens": tokens, "seconds": seconds,
            "tokens_per_s": tokens / max(seconds, 1e-9),
            "flops": 6.0 * n * tokens,          # ≈ 6·N·D training FLOPs (forward 2ND + backward 4ND)
            "reason": end.get("reason", ""),
            "curve": [(int(e["step"]) * s.batch_size * s.block_size, float(e["val_loss"])) for e in history
                      if int(e["step"]) < steps] + [(tokens, final)]}


def scaling_lab(s: ScalingSettings, stop_event: threading.Event | None = None,
                emit: Callable[[dict], None] | None = None) -> ScalingResult:
    """Train ``s.sizes`` models of growing size one after another for the same budget each.

    Emits ``progress`` events (done/total in steps, or in seconds for a time budget) while a model
    trains, and ``{"kind": "point", **point, "fit": ...}`` as each one finishes, so the fit is
    redrawn live. A run stopped part-way returns the points it finished.
    """
    check_scaling(s)
    emit = emit or (lambda e: None)
    shapes = ladder(s.sizes)
    per_model = s.steps if s.budget == "tokens" else s.seconds
    total = per_model * len(shapes)
    points: list[dict] = []
    started = time.perf_counter()
    for i, shape in enumerate(shapes):
        if stop_event is not None and stop_event.is_set():
            break
        model_started = time.perf_counter()
        label = f"{i + 1}/{len(shapes)} · {shape['name']} · N={shape['params']:,}"

        def forward(event: dict, i=i, label=label, t0=model_started) -> None:
            if event["kind"] != "step":
                return
            done = event["step"] if s.budget == "tokens" else time.perf_counter() - t0
            emit({"kind": "progress", "done": round(i * per_model + min(done, per_model), 1), "total": total,
                  "text": f"{label} · loss {event['loss']:.3f}"})

        point = train_size(shape, s, stop_event, forward)
        if point["reason"] in ("stopped", "nan"):
            break                       # a half-trained model would sit above the curve: leave it out
        points.append(point)
        fitted = fit_power_law([p["params"] for p in points], [p["val_loss"] for p in points]) if len(points) >= 2 else None
        emit({"kind": "point", "index": i, **point, "fit": fitted})
    fitted = fit_power_law([p["params"] for p in points], [p["val_loss"] for p in points]) if len(points) >= 2 else None
    best = min(points, key=lambda p: p["val_loss"]) if points else None
    return ScalingResult(points, fitted, asdict(s), stopped=len(points) < len(shapes),
                         seconds=time.perf_counter() - started, best=best)


# --------------------------------------------------------------------------- the fit

def _loglog_line(N: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Least squares of log y = log a − α·log N; returns (a, α)."""
    slope, intercept = np.polyfit(np.log(N), np.log(y), 1)
    return float(np.exp(intercept)), float(-slope)


def _linear_ac(N: np.ndarray, L: np.ndarray, alpha: float) -> tuple[float, float, float]:
    """For a fixed α the law is linear in (a, c): least squares of [N^−α, 1]·[a, c] = L, with c ≥ 0.
    Returns (squared error, a, c)."""
    x = N ** -alpha
    A = np.stack([x, np.ones_like(x)], 1)
    (a, c), *_ = np.linalg.lstsq(A, L, rcond=None)
    if c < 0:                                  # a negative irreducible loss means no floor is visible: c = 0
        a, c = float(x @ L / (x @ x)), 0.0
    return float(np.sum((a * x + c - L) ** 2)), float(a), float(c)


def fit_power_law(params, losses, offset: bool = True, alphas: tuple[float, float] = (1e-3, 2.0),
                  grid: int = 400) -> dict:
    """Fit L(N) = a·N^(−α) + c to the points (N_i, L_i) by least squares in L.

    1. For a fixed α, a and c enter linearly: solve for them exactly (``_linear_ac``); 2. try α on
    a grid over ``alphas``; 3. refine the best by golden-section search. ``offset=False`` fixes
    c = 0 and fits the straight line log L = log a − α·log N instead (the line Kaplan plots).
    Returns a, alpha, c, r2 (in L), and beside them the pure power law's a0, alpha0.
    """
    N = np.asarray(params, dtype=np.float64)
    L = np.asarray(losses, dtype=np.float64)
    if len(N) < 2 or len(N) != len(L) or np.any(N <= 0) or np.any(L <= 0) or len(set(N.tolist())) < 2:
        raise HeroError("ch16.scaling.too_few_points", n=int(len(N)))
    a0, alpha0 = _loglog_line(N, L)
    if offset and len(N) >= 3:
        grid_alphas = np.linspace(alphas[0], alphas[1], grid)
        errors = [_linear_ac(N, L, al)[0] for al in grid_alphas]
        k = int(np.argmin(errors))
        lo, hi = grid_alphas[max(0, k - 1)], grid_alphas[min(grid - 1, k + 1)]
        ratio = (math.sqrt(5) - 1) / 2
        for _ in range(80):            # golden section: the error is unimodal next to the grid's minimum
            m1, m2 = hi - ratio * (hi - lo), lo + ratio * (hi - lo)
            if _linear_ac(N, L, m1)[0] < _linear_ac(N, L, m2)[0]:
                hi = m2
            else:
                lo = m1
        alpha = (lo + hi) / 2
        err, a, c = _linear_ac(N, L, alpha)
    else:
        a, alpha, c = a0, alpha0, 0.0
        err = float(np.sum((a * N ** -alpha - L) ** 2))
    total = float(np.sum((L - L.mean()) ** 2))
    return {"a": a, "alpha": float(alpha), "c": c, "r2": 1 - err / total if total > 0 else 1.0,
            "a0": a0, "alpha0": alpha0, "n": int(len(N)), "n_min": float(N.min()), "n_max": float(N.max())}


def predict(fitted: dict, params) -> np.ndarray:
    """L(N) = a·N^(−α) + c of a fit_power_law result, for an array of N."""
    N = np.asarray(params, dtype=np.float64)
    return fitted["a"] * N ** -fitted["alpha"] + fitted["c"]


# --------------------------------------------------------------------------- figures

def scaling_figure(points: list[dict], fitted: dict | None, best: dict | None, labels: dict, title: str = ""):
    """Validation loss vs non-embedding parameters on log-log axes: the measured points, the fitted
    power law (with and without the irreducible loss c) and this machine's best point starred.

    ``labels``: measured, fit, pure, machine, params, loss (already translated)."""
    import plotly.graph_objects as go
    from core.viz import PALETTE, style
    fig = go.Figure()
    if points:
        fig.add_trace(go.Scatter(x=[p["params"] for p in points], y=[p["val_loss"] for p in points],
                                 mode="markers+text", name=labels["measured"], text=[p["name"] for p in points],
                                 textposition="top center", marker=dict(size=10, color=PALETTE[1])))
    if fitted:
        span = np.geomspace(fitted["n_min"] / 2, fitted["n_max"] * 4, 80)
        fig.add_trace(go.Scatter(x=span, y=predict(fitted, span), mode="lines", line=dict(color=PALETTE[0]),
                                 name=f"{labels['fit']}: {fitted['a']:.3g}·N^-{fitted['alpha']:.3f} + {fitted['c']:.3f}"))
        fig.add_trace(go.Scatter(x=span, y=fitted["a0"] * span ** -fitted["alpha0"], mode="lines",
                                 line=dict(color=PALETTE[2], dash="dot"),
                                 name=f"{labels['pure']}: {fitted['a0']:.3g}·N^-{fitted['alpha0']:.3f}"))
    if best:
        fig.add_trace(go.Scatter(x=[best["params"]], y=[best["val_loss"]], mode="markers", name=labels["machine"],
                                 marker=dict(symbol="star", size=20, color=PALETTE[4], line=dict(width=1, color="black"))))
    fig.update_xaxes(type="log", title_text=labels["params"])
    fig.update_yaxes(type="log", title_text=labels["loss"])
    return style(fig, title, height=420, legend=dict(orientation="h", y=-0.25))


def curves_figure(points: list[dict], labels: dict, title: str = ""):
    """Every model's validation loss against the training tokens it had seen (one line per size)."""
    import plotly.graph_objects as go
    from core.viz import PALETTE, style
    fig = go.Figure()
    for i, p in enumerate(points):
        if p["curve"]:
            xs, ys = zip(*p["curve"])
            fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines+markers", name=f"{p['name']} (N={p['params']:,})",
                                     line=dict(color=PALETTE[i % len(PALETTE)])))
    fig.update_xaxes(title_text=labels["tokens"])
    fig.update_yaxes(title_text=labels["loss"])
    return style(fig, title)


@trainer("ch16_scaling")
def _check_scaling(device: str, preset: str) -> dict:
    r = scaling_lab(ScalingSettings(**PRESETS[preset], device=device))
    return {"alpha": r.fit["alpha"] if r.fit else float("nan"), "best_val_loss": r.best["val_loss"] if r.best else float("nan")}
