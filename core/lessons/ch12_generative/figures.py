"""Chapter 12 figures (plotly), shared by the page and the widget; labels come in translated."""
from __future__ import annotations

from typing import Sequence

import numpy as np
import plotly.graph_objects as go

from core import viz


def gan_frame(frame: dict, title: str = "", labels: dict | None = None) -> go.Figure:
    """The GAN lab picture: D's surface (heatmap), real points and G's samples on top."""
    labels = labels or {}
    xs = frame["xs"]
    fig = go.Figure(go.Heatmap(x=xs, y=xs, z=frame["surface"], zmin=0, zmax=1, colorscale="RdBu", opacity=0.55,
                               colorbar=dict(title=labels.get("surface", "D"), thickness=10), hoverinfo="skip"))
    real, fake = frame["real"], frame["fake"]
    fig.add_trace(go.Scatter(x=real[:, 0], y=real[:, 1], mode="markers", name=labels.get("real", "real"),
                             marker=dict(size=4, color="#2ca02c", opacity=0.6)))
    ok = np.isfinite(fake).all(1)
    fig.add_trace(go.Scatter(x=fake[ok, 0], y=fake[ok, 1], mode="markers", name=labels.get("fake", "G(z)"),
                             marker=dict(size=4, color="#9467bd", opacity=0.8)))
    return viz.style(fig, title, height=420, xaxis=dict(range=[xs[0], xs[-1]], constrain="domain"),
                     yaxis=dict(range=[xs[0], xs[-1]], scaleanchor="x", scaleratio=1),
                     legend=dict(orientation="h", y=-0.1))


def losses(history: Sequence[dict], keys: Sequence[str], names: dict, title: str = "", x: str = "step") -> go.Figure:
    fig = go.Figure()
    for i, k in enumerate(keys):
        pts = [(h[x], h[k]) for h in history if h.get(k) is not None and np.isfinite(h[k])]
        if pts:
            xs, ys = zip(*pts)
            fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines", name=names.get(k, k),
                                     line=dict(color=viz.PALETTE[i % len(viz.PALETTE)])))
    fig.update_xaxes(title_text=names.get(x, x))
    return viz.style(fig, title)


def mosaic(images: np.ndarray, cols: int = 8, pad: int = 1) -> np.ndarray:
    """[n, H, W] → one [rows·(H+pad), cols·(W+pad)] image (fast to draw: one heatmap)."""
    images = np.asarray(images, dtype=np.float32)
    n, h, w = images.shape
    cols = min(cols, n)
    rows = int(np.ceil(n / cols))
    out = np.full((rows * (h + pad) - pad, cols * (w + pad) - pad), np.nan, np.float32)
    for i, img in enumerate(images):
        r, c = divmod(i, cols)
        out[r * (h + pad):r * (h + pad) + h, c * (w + pad):c * (w + pad) + w] = img
    return out


def digits(images: np.ndarray, title: str = "", cols: int = 8, height: int | None = None) -> go.Figure:
    """A grid of grey digits [n, H, W] in [0, 1] drawn as one heatmap."""
    m = mosaic(images, cols)
    fig = go.Figure(go.Heatmap(z=m, colorscale="gray", zmin=0, zmax=1, showscale=False, hoverinfo="skip"))
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False, autorange="reversed", scaleanchor="x")
    rows = m.shape[0] / max(1, m.shape[1]) * cols
    return viz.style(fig, title, height=height or int(max(160, 60 + 70 * rows)), margin=dict(l=5, r=5, t=40, b=5))


def digit_animation(frames: Sequence[tuple[int, np.ndarray]], title: str = "", cols: int = 8,
                    label: str = "t = {t}", play: str = "▶") -> go.Figure:
    """Frames [(t, images [n, H, W])] as one animated mosaic with a play button and a slider."""
    mosaics = [(t, mosaic(imgs, cols)) for t, imgs in frames]
    fig = go.Figure(go.Heatmap(z=mosaics[0][1], colorscale="gray", zmin=0, zmax=1, showscale=False, hoverinfo="skip"),
                    frames=[go.Frame(data=[go.Heatmap(z=m)], name=str(i)) for i, (_, m) in enumerate(mosaics)])
    steps = [dict(method="animate", label=label.format(t=t), args=[[str(i)], dict(mode="immediate",
                  frame=dict(duration=0, redraw=True))]) for i, (t, _) in enumerate(mosaics)]
    fig.update_layout(updatemenus=[dict(type="buttons", showactive=False, x=0, y=-0.05, xanchor="left", yanchor="top",
                                        buttons=[dict(label=play, method="animate",
                                                      args=[None, dict(frame=dict(duration=250, redraw=True),
                                                                       fromcurrent=True)])])],
                      sliders=[dict(steps=steps, active=0, x=0.1, len=0.9, y=-0.02, currentvalue=dict(prefix=""))])
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False, autorange="reversed", scaleanchor="x")
    return viz.style(fig, title, height=360, margin=dict(l=5, r=5, t=40, b=80))


def points_animation(frames: Sequence[tuple[int, np.ndarray]], real: np.ndarray, title: str = "",
                     labels: dict | None = None, play: str = "▶") -> go.Figure:
    """The toy reverse process: points [(t, [n, 2])] moving from noise onto the data."""
    labels = labels or {}
    lim = 3.5
    real_trace = go.Scatter(x=real[:, 0], y=real[:, 1], mode="markers", name=labels.get("real", "real"),
                            marker=dict(size=3, color="#2ca02c", opacity=0.35))
    point = lambda p: go.Scatter(x=p[:, 0], y=p[:, 1], mode="markers", name=labels.get("fake", "x_t"),  # noqa: E731
                                 marker=dict(size=4, color="#9467bd"))
    fig = go.Figure([real_trace, point(frames[0][1])],
                    frames=[go.Frame(data=[real_trace, point(p)], name=str(i)) for i, (_, p) in enumerate(frames)])
    steps = [dict(method="animate", label=f"t={t}", args=[[str(i)], dict(mode="immediate", frame=dict(duration=0))])
             for i, (t, _) in enumerate(frames)]
    fig.update_layout(updatemenus=[dict(type="buttons", showactive=False, x=0, y=-0.08, xanchor="left", yanchor="top",
                                        buttons=[dict(label=play, method="animate",
                                                      args=[None, dict(frame=dict(duration=300), fromcurrent=True)])])],
                      sliders=[dict(steps=steps, active=0, x=0.1, len=0.9, y=-0.05)])
    return viz.style(fig, title, height=420, xaxis=dict(range=[-lim, lim], constrain="domain"),
                     yaxis=dict(range=[-lim, lim], scaleanchor="x", scaleratio=1), margin=dict(l=40, r=10, t=40, b=90))


def latent_scatter(points: np.ndarray, labels: np.ndarray, title: str = "") -> go.Figure:
    """Real digits' μ in a 2-D latent space, coloured by class."""
    fig = go.Figure()
    for c in range(10):
        p = points[labels == c]
        fig.add_trace(go.Scatter(x=p[:, 0], y=p[:, 1], mode="markers", name=str(c),
                                 marker=dict(size=4, color=viz.PALETTE[c % len(viz.PALETTE)], opacity=0.7)))
    return viz.style(fig, title, height=380, yaxis=dict(scaleanchor="x", scaleratio=1))


def class_histogram(histograms: dict[str, Sequence[int]], title: str = "", y_title: str = "") -> go.Figure:
    """Confident predictions per class, one bar group per generator (mode coverage at a glance)."""
    fig = go.Figure([go.Bar(x=[str(i) for i in range(10)], y=list(h), name=name,
                            marker_color=viz.PALETTE[i % len(viz.PALETTE)]) for i, (name, h) in enumerate(histograms.items())])
    return viz.style(fig, title, barmode="group", xaxis=dict(type="category"), yaxis=dict(title=y_title))
