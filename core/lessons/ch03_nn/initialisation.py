"""3.4 Initialisation: how each scheme keeps (or loses) the activation scale through deep stacks."""
from __future__ import annotations

import math

import numpy as np
import plotly.graph_objects as go
import torch
from plotly.subplots import make_subplots
from torch import nn

from core.viz import PALETTE, style as _layout


# =========================================================================== 3.4 initialisation

INITS = ("default", "zeros", "normal", "normal_small", "xavier_uniform", "kaiming_normal", "orthogonal")


def apply_init(layer: nn.Linear, init: str, activation: str) -> None:
    """Initialise one Linear layer in place with a ``torch.nn.init`` strategy (biases to zero)."""
    if init == "default":
        layer.reset_parameters()     # PyTorch's own: kaiming_uniform with a=√5, i.e. U(±1/√fan_in)
        return
    with torch.no_grad():
        if init == "zeros":
            nn.init.zeros_(layer.weight)
        elif init == "normal":
            nn.init.normal_(layer.weight, 0.0, 1.0)
        elif init == "normal_small":
            nn.init.normal_(layer.weight, 0.0, 0.01)
        elif init == "xavier_uniform":
            nn.init.xavier_uniform_(layer.weight, gain=nn.init.calculate_gain(activation))
        elif init == "kaiming_normal":
            nn.init.kaiming_normal_(layer.weight, nonlinearity=activation)
        elif init == "orthogonal":
            nn.init.orthogonal_(layer.weight, gain=nn.init.calculate_gain(activation))
        else:
            raise ValueError(f"unknown init {init!r}")
        nn.init.zeros_(layer.bias)


def init_activation_stats(init: str, activation: str = "relu", depth: int = 10, width: int = 128,
                          n: int = 512, seed: int = 0, hist_bins: int = 40) -> dict:
    """Push n standard-normal inputs [n, width] through ``depth`` Linear+activation layers.

    Returns per layer: std, mean, fraction of exact zeros, a histogram of the activations,
    and the std of the weight gradient of mean(out²) (vanishing/exploding gradients).
    """
    gen = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    act = {"relu": torch.relu, "tanh": torch.tanh}[activation]
    layers = [nn.Linear(width, width) for _ in range(depth)]
    for layer in layers:
        apply_init(layer, init, activation)
    h = torch.randn(n, width, generator=gen)
    stats = []
    for i, layer in enumerate(layers):
        h = act(layer(h))
        values = h.detach().double()
        sample = values.ravel()[:4096].numpy()          # a histogram of 4k values looks the same, costs less
        sample = sample[np.isfinite(sample)]
        counts, edges = np.histogram(sample, bins=hist_bins) if sample.size else (np.zeros(1), np.zeros(2))
        stats.append({"layer": i + 1, "std": float(values.std()), "mean": float(values.mean()),
                      "zero_fraction": float((values == 0).double().mean()), "counts": counts, "edges": edges})
    h.pow(2).mean().backward()
    for row, layer in zip(stats, layers):
        row["grad_std"] = float(layer.weight.grad.std())
    return {"init": init, "activation": activation, "layers": stats}


def init_stats_per_strategy(activation: str = "relu", width: int = 128, n: int = 512) -> dict:
    """:func:`init_activation_stats` for every strategy in :data:`INITS` (seeded, so the same on every call)."""
    return {name: init_activation_stats(name, activation, width=width, n=n) for name in INITS}


def init_histogram_figure(stats: dict, title: str = "") -> go.Figure:
    """One histogram of activation values per layer (each with its own x-range)."""
    layers = stats["layers"]
    fig = make_subplots(rows=2, cols=math.ceil(len(layers) / 2),
                        subplot_titles=[f"L{r['layer']} σ={r['std']:.2g}" for r in layers],
                        horizontal_spacing=0.03, vertical_spacing=0.18)
    cols = math.ceil(len(layers) / 2)
    for i, row in enumerate(layers):
        centres = (row["edges"][1:] + row["edges"][:-1]) / 2 if len(row["edges"]) > 1 else [0]
        fig.add_trace(go.Bar(x=centres, y=row["counts"], marker_color=PALETTE[0], showlegend=False),
                      row=i // cols + 1, col=i % cols + 1)
    fig.update_yaxes(showticklabels=False)
    fig.update_layout(bargap=0)
    return _layout(fig, title, height=400, margin=dict(l=20, r=10, t=80, b=30))


def std_per_layer_figure(all_stats: dict[str, dict], key: str = "std", title: str = "") -> go.Figure:
    """Activation std per layer for several inits, log scale (a zero std leaves a gap)."""
    fig = go.Figure()
    for i, (name, stats) in enumerate(all_stats.items()):
        ys = [r[key] if r[key] > 0 and math.isfinite(r[key]) else None for r in stats["layers"]]
        fig.add_trace(go.Scatter(x=[r["layer"] for r in stats["layers"]], y=ys, name=name, mode="lines+markers",
                                 line=dict(color=PALETTE[i % len(PALETTE)])))
    return _layout(fig, title, yaxis=dict(type="log", exponentformat="power"), xaxis=dict(title="layer", dtick=1))
