"""9.4 Gradient clipping: a deep plain ReLU net on noisy moons, with and without ``GradClip``."""
from __future__ import annotations

import math
import threading
from dataclasses import dataclass

import plotly.graph_objects as go
import torch

from core import data as datasets
from core import nets
from core.device import seed_everything
from core.errors import Emit, check_range
from core.lessons import trainer
from core.lessons.ch09_tricks.presets import MAX_DEPTH, MAX_EPOCHS, PRESETS
from core.train import Callback, GradClip, GradNorm, NaNGuard, TrainState, amp_callbacks, fit
from core.viz import PALETTE, style as _layout


@dataclass
class ClipSettings:
    depth: int = 8            # a deep plain ReLU net, no normalisation: gradients multiply through layers
    lr: float = 0.5           # plain SGD with a high LR: a few steps blow the weights up
    max_norm: float = 1.0     # GradClip threshold on the global gradient norm
    epochs: int = 15
    seed: int = 0
    device: str = "cpu"       # where the models and batches live ("cuda", "mps", "cpu")


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
    check_range("depth", s.depth, 1, MAX_DEPTH)
    check_range("epochs", s.epochs, 1, MAX_EPOCHS)
    check_range("max_norm", s.max_norm, 1e-3, 1e3)
    split = datasets.split(datasets.load("toy", kind="moons", n=400, noise=0.15, seed=s.seed), 0.25, seed=s.seed)
    out = {}
    for name in ("no_clip", "clip"):
        seed_everything(s.seed)
        model = nets.build("deep_mlp", {"in_features": 2, "width": 64, "depth": s.depth, "out_features": 2,
                                        "init": "kaiming"}).to(s.device)
        optimizer = torch.optim.SGD(model.parameters(), lr=s.lr)
        # GradClip/GradNorm log the norm *before* clipping; UpdateNorm runs after them.
        callbacks = [*amp_callbacks(s.device), GradClip(s.max_norm) if name == "clip" else GradNorm(), UpdateNorm(),
                     NaNGuard()]
        run = out[name] = {"steps": [], "history": [], "end": {}}
        for event in fit(model, (split.X_train, split.y_train), (split.X_val, split.y_val), optimizer=optimizer,
                         epochs=s.epochs, batch_size=32, seed=s.seed, device=s.device, callbacks=callbacks,
                         stop_event=stop_event):
            if event["kind"] == "end":
                run["end"] = event
            else:
                run["steps" if event["kind"] == "step" else "history"].append(event)
            emit({**event, "run": name})
    return {"settings": s, "runs": out}


@trainer("ch09_clipping")
def _check_clipping(device: str, preset: str) -> dict:
    r = run_clipping(ClipSettings(epochs=PRESETS[preset]["clip_epochs"], device=device))
    return {f"{k}_max_update": max(e["update_norm"] for e in v["steps"]) for k, v in r["runs"].items()}


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
