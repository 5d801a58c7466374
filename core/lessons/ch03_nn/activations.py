"""3.2 Activations and their derivatives."""
from __future__ import annotations

from typing import Callable

import numpy as np
import plotly.graph_objects as go
import torch
from plotly.subplots import make_subplots
from torch import nn

from core.viz import PALETTE, style as _layout


# ---------------------------------------------------------------- activations and derivatives

ACTIVATIONS = ("ReLU", "Sigmoid", "Tanh", "Softmax", "LeakyReLU", "GELU")


def activation_fn(name: str, slope: float = 0.01) -> Callable[[torch.Tensor], torch.Tensor]:
    """Elementwise f(x). Softmax is vector-valued: we plot its first output for the input [x, 0]."""
    if name == "Softmax":
        return lambda x: torch.stack([x, torch.zeros_like(x)], -1).softmax(-1)[..., 0]
    if name == "LeakyReLU":
        return nn.LeakyReLU(slope)
    return getattr(nn, name)()


def activation_curves(names: list[str], lo: float = -5.0, hi: float = 5.0, n: int = 401,
                      slope: float = 0.01) -> dict:
    """f(x) and f'(x) on a grid, the derivative taken by autograd.

    Returns {"x": [n], name: {"y": [n], "dy": [n]}}. Each output depends only on its own input,
    so the gradient of y.sum() is exactly the elementwise derivative.
    """
    out: dict = {"x": np.linspace(lo, hi, n)}
    for name in names:
        x = torch.linspace(lo, hi, n, dtype=torch.float64, requires_grad=True)
        y = activation_fn(name, slope)(x)
        (dy,) = torch.autograd.grad(y.sum(), x)
        out[name] = {"y": y.detach().numpy(), "dy": dy.numpy()}
    return out


def activation_figure(curves: dict, f_title: str = "f(x)", df_title: str = "f'(x)") -> go.Figure:
    fig = make_subplots(rows=1, cols=2, subplot_titles=[f_title, df_title])
    for i, name in enumerate(k for k in curves if k != "x"):
        colour = PALETTE[i % len(PALETTE)]
        for col, key in ((1, "y"), (2, "dy")):
            fig.add_trace(go.Scatter(x=curves["x"], y=curves[name][key], name=name, legendgroup=name,
                                     showlegend=col == 1, line=dict(color=colour)), row=1, col=col)
    return _layout(fig, height=320)
