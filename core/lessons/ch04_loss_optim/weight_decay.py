"""4.2 Adam vs AdamW: L2 in the gradient vs decoupled weight decay."""
from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import torch
from plotly.subplots import make_subplots
from torch.nn import functional as F

from core.train import make_optimizer
from core.viz import PALETTE, style as _layout
from core.errors import check_range

from .limits import MAX_DECAY_STEPS


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
    check_range("lr", lr, 1e-5, 1.0)
    check_range("weight_decay", weight_decay, 0.0, 10.0)
    check_range("steps", steps, 1, MAX_DECAY_STEPS)
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
