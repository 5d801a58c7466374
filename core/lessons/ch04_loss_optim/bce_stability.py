"""4.1 BCE vs BCEWithLogits: why the fused version stays finite for large logits."""
from __future__ import annotations

import math

import numpy as np
import plotly.graph_objects as go
import torch
from plotly.subplots import make_subplots
from torch.nn import functional as F

from core.viz import PALETTE, style as _layout
from core.errors import check_range


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
    check_range("target", target, 0.0, 1.0)
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
