"""Plotly figure builders shared by the Streamlit pages and the Gradio widgets.

Figures take plain data (lists of metric dicts, NumPy arrays) and optional translated
labels, so they carry no UI dependency and draw the same in both front ends.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import plotly.graph_objects as go
import plotly.io as pio
from plotly.subplots import make_subplots

# Set once: naming the template in every update_layout re-validates all of it (~100 ms a figure).
pio.templates.default = "plotly_white"

PALETTE = ("#EE4C2C", "#1f77b4", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#e377c2",
           "#7f7f7f", "#bcbd22")   # first colour is PyTorch's orange-red
LAYOUT = dict(margin=dict(l=40, r=10, t=40, b=40), height=320)


def style(fig: go.Figure, title: str = "", **extra) -> go.Figure:
    """The gallery's common look (margins, height, title) applied to any figure."""
    fig.update_layout(**{**LAYOUT, "title": title, **extra})
    return fig



def curves(runs: dict[str, list[dict]], metrics: Sequence[str], labels: dict[str, str] | None = None,
           x: str = "epoch", title: str = "") -> go.Figure:
    """Metric curves: one subplot per metric, one line per run (for compare-runs overlays).

    runs: run name → list of eval events (dicts holding ``x`` and the metric keys).
    """
    labels = labels or {}
    fig = make_subplots(rows=1, cols=len(metrics), subplot_titles=[labels.get(m, m) for m in metrics])
    for r, (name, events) in enumerate(runs.items()):
        for c, metric in enumerate(metrics, start=1):
            pts = [(e[x], e[metric]) for e in events if metric in e and e[metric] is not None]
            if not pts:
                continue
            xs, ys = zip(*pts)
            fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines", name=name, legendgroup=name,
                                     showlegend=c == 1, line=dict(color=PALETTE[r % len(PALETTE)])),
                          row=1, col=c)
    fig.update_xaxes(title_text=labels.get(x, x))
    return style(fig, title)


def metric_lines(events: list[dict], metrics: Sequence[str], labels: dict[str, str] | None = None,
                 x: str = "epoch", title: str = "") -> go.Figure:
    """Several metrics of one run on one axis (e.g. train_loss vs val_loss, to see the gap)."""
    labels = labels or {}
    fig = go.Figure()
    for i, metric in enumerate(metrics):
        pts = [(e[x], e[metric]) for e in events if e.get(metric) is not None]
        if pts:
            xs, ys = zip(*pts)
            fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines+markers" if len(pts) < 30 else "lines",
                                     name=labels.get(metric, metric), line=dict(color=PALETTE[i % len(PALETTE)])))
    fig.update_xaxes(title_text=labels.get(x, x))
    return style(fig, title)


def step_losses(losses: Sequence[float], title: str = "", smooth: int = 10) -> go.Figure:
    """Per-step training loss with a moving average (raw loss is noisy per batch)."""
    y = np.asarray(losses, dtype=float)
    fig = go.Figure(go.Scatter(y=y, mode="lines", name="loss", line=dict(color="#cccccc")))
    if len(y) >= smooth:
        kernel = np.ones(smooth) / smooth
        fig.add_trace(go.Scatter(x=np.arange(smooth - 1, len(y)), y=np.convolve(y, kernel, "valid"),
                                 mode="lines", name=f"avg {smooth}", line=dict(color=PALETTE[0])))
    return style(fig, title)


def decision_boundary(grid: dict, X: np.ndarray, y: np.ndarray, title: str = "",
                      X_val: np.ndarray | None = None, y_val: np.ndarray | None = None) -> go.Figure:
    """Predicted class regions (shaded by confidence) with the data points on top.

    grid: {"xs" [R], "ys" [R], "probs" [R, R, C]} from ``decision_grid``; X [N, 2], y [N].
    """
    probs = grid["probs"]
    n_classes = probs.shape[-1]
    fig = go.Figure()
    if n_classes == 2:
        fig.add_trace(go.Heatmap(x=grid["xs"], y=grid["ys"], z=probs[..., 1], zmin=0, zmax=1,
                                 colorscale=[[0, "#9ecae1"], [0.5, "#ffffff"], [1, "#fdae6b"]],
                                 showscale=False, hoverinfo="skip"))
    else:
        pred = probs.argmax(-1)
        colours = [PALETTE[(i + 1) % len(PALETTE)] for i in range(n_classes)]
        scale = [[i / max(n_classes - 1, 1), c] for i, c in enumerate(colours)]
        fig.add_trace(go.Heatmap(x=grid["xs"], y=grid["ys"], z=pred, colorscale=scale, opacity=0.35,
                                 showscale=False, hoverinfo="skip"))
    point_colours = ["#3182bd", "#e6550d", "#31a354", "#756bb1", "#636363"]
    for c in range(n_classes):
        pts = X[y == c]
        fig.add_trace(go.Scatter(x=pts[:, 0], y=pts[:, 1], mode="markers", name=str(c),
                                 marker=dict(size=6, color=point_colours[c % 5], line=dict(width=0.5, color="white"))))
        if X_val is not None and y_val is not None:
            pv = X_val[y_val == c]
            fig.add_trace(go.Scatter(x=pv[:, 0], y=pv[:, 1], mode="markers", name=f"{c} (val)", showlegend=False,
                                     marker=dict(size=7, symbol="x", color=point_colours[c % 5])))
    return style(fig, title, height=380, xaxis=dict(constrain="domain"),
                   yaxis=dict(scaleanchor="x", scaleratio=1))


def confusion_heatmap(matrix: np.ndarray, classes: Sequence[str], title: str = "",
                      x_label: str = "predicted", y_label: str = "true") -> go.Figure:
    fig = go.Figure(go.Heatmap(z=matrix, x=list(classes), y=list(classes), colorscale="Blues",
                               text=matrix, texttemplate="%{text}", showscale=False))
    return style(fig, title, xaxis=dict(title=x_label, type="category"),
                   yaxis=dict(title=y_label, autorange="reversed", type="category"), height=360)


def probability_bars(probs: np.ndarray, classes: Sequence[str], title: str = "") -> go.Figure:
    """Bar chart of class probabilities [C]; the winning class is highlighted."""
    best = int(np.argmax(probs))
    colours = [PALETTE[0] if i == best else "#9ecae1" for i in range(len(probs))]
    fig = go.Figure(go.Bar(x=list(classes), y=probs, marker_color=colours,
                           text=[f"{p:.0%}" for p in probs], textposition="outside"))
    return style(fig, title, yaxis=dict(range=[0, 1.1], tickformat=".0%"), xaxis=dict(type="category"))


def image_grid(images: np.ndarray, titles: Sequence[str] | None = None, cols: int = 8,
               title: str = "") -> go.Figure:
    """Grey images [N, H, W] in a grid (e.g. dataset samples, a preprocessed drawing)."""
    n = len(images)
    rows = int(np.ceil(n / cols))
    fig = make_subplots(rows=rows, cols=min(cols, n), subplot_titles=list(titles) if titles else None,
                        horizontal_spacing=0.01, vertical_spacing=0.08 if titles else 0.01)
    for i, img in enumerate(images):
        fig.add_trace(go.Heatmap(z=img, colorscale="gray_r", showscale=False, hoverinfo="skip"),
                      row=i // cols + 1, col=i % cols + 1)
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False, autorange="reversed", scaleanchor="x")
    return style(fig, title, height=max(140, 110 * rows), margin=dict(l=5, r=5, t=40, b=5))


def bars(names: Sequence[str], values: Sequence[float], title: str = "", y_title: str = "",
         log: bool = False) -> go.Figure:
    fig = go.Figure(go.Bar(x=list(names), y=list(values), marker_color=PALETTE[0],
                           text=[f"{v:.3g}" for v in values], textposition="outside"))
    return style(fig, title, yaxis=dict(title=y_title, type="log" if log else "linear"))
