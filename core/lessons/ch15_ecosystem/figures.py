"""Plotly figures for chapter 15 (labels come in translated from the page or widget)."""
from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from core.viz import PALETTE, style


def attribution_maps(out: dict, titles: dict[str, str], title: str = "") -> go.Figure:
    """The digit, then one heatmap per Captum method (red = pushes the target class up, blue = down)."""
    names = list(out["maps"])
    fig = make_subplots(rows=1, cols=1 + len(names), subplot_titles=[titles.get("image", "")] +
                        [titles.get(n, n) for n in names], horizontal_spacing=0.02)
    fig.add_trace(go.Heatmap(z=out["image"], colorscale="gray_r", showscale=False, hoverinfo="skip"), 1, 1)
    for i, name in enumerate(names, start=2):
        a = out["maps"][name]
        lim = max(float(np.abs(a).max()), 1e-12)
        fig.add_trace(go.Heatmap(z=a, zmin=-lim, zmax=lim, colorscale="RdBu_r", showscale=False,
                                 hovertemplate="%{z:.3f}<extra></extra>"), 1, i)
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False, autorange="reversed", scaleanchor="x")
    return style(fig, title, height=260, margin=dict(l=5, r=5, t=60, b=5))


def model_comparison(cmp: dict, row_titles: dict[str, str], title: str = "") -> go.Figure:
    """Rows: the digits, then each model's Integrated Gradients map of the same digits (✓/✗ = right or wrong)."""
    images, names = cmp["images"], list(cmp["maps"])
    n = len(images)
    fig = make_subplots(rows=1 + len(names), cols=n, vertical_spacing=0.06, horizontal_spacing=0.01,
                        row_titles=[row_titles.get("digits", "")] + [row_titles.get(m, m) for m in names])
    for j in range(n):
        fig.add_trace(go.Heatmap(z=images[j], colorscale="gray_r", showscale=False, hoverinfo="skip"), 1, j + 1)
        for i, name in enumerate(names, start=2):
            a = cmp["maps"][name][j]
            lim = max(float(np.abs(a).max()), 1e-12)
            fig.add_trace(go.Heatmap(z=a, zmin=-lim, zmax=lim, colorscale="RdBu_r", showscale=False,
                                     hovertemplate="%{z:.3f}<extra></extra>"), i, j + 1)
            ok = bool(cmp["correct"][name][j])
            fig.add_annotation(text="✓" if ok else "✗", showarrow=False, font=dict(color="green" if ok else "red"),
                               xref=f"x{(i - 1) * n + j + 1} domain", yref=f"y{(i - 1) * n + j + 1} domain",
                               x=0.95, y=0.95)
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False, autorange="reversed", scaleanchor="x")
    return style(fig, title, height=130 * (1 + len(names)), margin=dict(l=5, r=90, t=40, b=5))


def trial_curves(events: list[dict], states: dict[int, str], labels: dict[str, str]) -> go.Figure:
    """val_acc per epoch for every trial so far (dashed = pruned), as the MedianPruner saw them."""
    fig = go.Figure()
    by_trial: dict[int, list] = {}
    for e in events:
        by_trial.setdefault(e["trial"], []).append((e["epoch"] + 1, e["val_acc"]))
    for n, pts in sorted(by_trial.items()):
        xs, ys = zip(*pts)
        pruned = states.get(n) == "pruned"
        fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines+markers", name=f"#{n}",
                                 line=dict(color=PALETTE[n % len(PALETTE)], dash="dash" if pruned else "solid")))
    fig.update_xaxes(title_text=labels.get("epoch", "epoch"), dtick=1)
    fig.update_yaxes(title_text=labels.get("val_acc", "val_acc"))
    return style(fig, labels.get("title", ""))


def graph_animation(frames: list[dict], graph: dict, labels: dict[str, str]) -> go.Figure:
    """Node embeddings [N, 2] as they train: plotly frames with a slider and a play button; edges drawn
    between members, colour = community, a ring = one of the four labelled members."""
    edges = graph["edges"]
    y, train = graph["y"], graph["train"]
    colours = [PALETTE[int(c) % len(PALETTE)] for c in y]

    def traces(emb: np.ndarray) -> list[go.Scatter]:
        ex, ey = [], []
        for a, b in edges.T:
            if a < b:
                ex += [float(emb[a, 0]), float(emb[b, 0]), None]
                ey += [float(emb[a, 1]), float(emb[b, 1]), None]
        return [go.Scatter(x=ex, y=ey, mode="lines", line=dict(color="#ccc", width=1), hoverinfo="skip",
                           showlegend=False),
                go.Scatter(x=emb[:, 0], y=emb[:, 1], mode="markers", showlegend=False,
                           text=[f"{i}" for i in range(len(y))], hovertemplate="%{text}<extra></extra>",
                           marker=dict(size=[16 if t else 10 for t in train], color=colours,
                                       line=dict(width=[3 if t else 0 for t in train], color="black")))]

    last = frames[-1]      # shown first: the trained embedding; Play replays it from the start
    fig = go.Figure(data=traces(last["emb"]),
                    frames=[go.Frame(data=traces(f["emb"]), name=str(f["epoch"]),
                                     layout=dict(title=labels["frame"].format(epoch=f["epoch"] + 1,
                                                                              acc=f"{f['acc']:.0%}")))
                            for f in frames])
    steps = [dict(method="animate", label=str(f["epoch"] + 1),
                  args=[[str(f["epoch"])], dict(mode="immediate", frame=dict(duration=0, redraw=True))])
             for f in frames]
    fig.update_layout(updatemenus=[dict(type="buttons", showactive=False, x=0, y=-0.12, xanchor="left",
                                        buttons=[dict(label=labels["play"], method="animate",
                                                      args=[None, dict(frame=dict(duration=120, redraw=True))])])],
                      sliders=[dict(steps=steps, active=len(steps) - 1, x=0.12, len=0.88, y=-0.05,
                                    currentvalue=dict(prefix=labels["epoch"] + " "))])
    fig.update_xaxes(range=[-1.1, 1.1], zeroline=False)
    fig.update_yaxes(range=[-1.1, 1.1], zeroline=False, scaleanchor="x")
    return style(fig, labels["frame"].format(epoch=last["epoch"] + 1, acc=f"{last['acc']:.0%}"),
                 height=480, margin=dict(l=40, r=10, t=50, b=90))
