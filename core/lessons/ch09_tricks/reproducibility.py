"""9.7 Reproducibility: the same seed gives the same curve; another seed or an unseeded init does not."""
from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import torch

from core import nets
from core.device import seed_everything
from core.errors import check_range
from core.lessons.ch09_tricks.presets import MAX_EPOCHS, MAX_STEPS
from core.lessons.ch09_tricks.lr_finder import digits_split
from core.train import fit, make_optimizer
from core.viz import PALETTE, style as _layout


def repro_run(seed: int, steps: int, seed_init: bool = True) -> list[float]:
    """Per-step losses of a small MLP on digits, with ``seed`` for init and shuffling.

    ``seed_init=False`` forgets to seed the initial weights (only the shuffle is seeded).
    """
    check_range("steps", steps, 1, MAX_STEPS)
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
