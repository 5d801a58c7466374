"""Plotly figures for chapter 14 (imported by the page and the widget, never by a rank)."""
from __future__ import annotations

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from core.viz import PALETTE, style

PHASE_COLOURS = {"forward": PALETTE[0], "backward": PALETTE[1], "step": PALETTE[2], "allreduce": PALETTE[3]}


def scaling(rows: list[dict], labels: dict[str, str]) -> go.Figure:
    """Epoch time split into serial / compute / communication per worker count, with speedup vs
    Amdahl's bound on a second axis."""
    x = [str(r["workers"]) for r in rows]
    fig = make_subplots(specs=[[{"secondary_y": True}]])
    for key, colour in (("serial_s", PALETTE[2]), ("compute_s", PALETTE[0]), ("comm_s", PALETTE[3])):
        fig.add_bar(x=x, y=[r[key] for r in rows], name=labels[key], marker_color=colour)
    fig.add_scatter(x=x, y=[r["speedup"] for r in rows], name=labels["speedup"], mode="lines+markers",
                    line=dict(color="black"), secondary_y=True)
    fig.add_scatter(x=x, y=[r["amdahl"] for r in rows], name=labels["amdahl"], mode="lines",
                    line=dict(color="gray", dash="dash"), secondary_y=True)
    fig.update_layout(barmode="stack")
    fig.update_xaxes(title_text=labels["workers"])
    fig.update_yaxes(title_text=labels["epoch_s"], secondary_y=False)
    fig.update_yaxes(title_text=labels["speedup"], secondary_y=True)
    return style(fig, labels["title"])


def memory(rows: list[dict], labels: dict[str, str], names: dict[str, str], budget_gib: float | None = None) -> go.Figure:
    """Stacked GiB per device for each strategy, with an optional device-memory line."""
    x = [names[r["strategy"]] for r in rows]
    fig = go.Figure()
    for i, key in enumerate(("weights", "gradients", "optimizer", "activations")):
        fig.add_bar(x=x, y=[r[key] for r in rows], name=labels[key], marker_color=PALETTE[i])
    if budget_gib:
        fig.add_hline(y=budget_gib, line_dash="dash", line_color="red", annotation_text=labels["budget"])
    return style(fig, labels["title"], barmode="stack", yaxis=dict(title="GiB"))


def rank_losses(losses: dict, title: str, x_title: str) -> go.Figure:
    fig = go.Figure()
    for rank, values in sorted(losses.items(), key=lambda kv: int(kv[0])):
        fig.add_scatter(x=list(range(1, len(values) + 1)), y=values, mode="lines+markers", name=f"rank {rank}",
                        line=dict(color=PALETTE[int(rank) % len(PALETTE)]))
    return style(fig, title, xaxis=dict(title=x_title), yaxis=dict(title="loss"))


def throughput(rows: list[dict], title: str, y_title: str) -> go.Figure:
    fig = go.Figure(go.Bar(x=[str(r["world_size"]) for r in rows], y=[r["samples_per_s"] for r in rows],
                           text=[f"{r['speedup']:.2f}×" for r in rows], textposition="outside",
                           marker_color=PALETTE[0]))
    return style(fig, title, xaxis=dict(title="world size"), yaxis=dict(title=y_title))


def rank_tensors(result: dict, labels: dict[str, str]) -> go.Figure:
    """Each rank's tensor before and after the collective, as two heatmaps with the numbers."""
    rows = [f"rank {r}" for r in range(result["world_size"])]
    fig = make_subplots(rows=1, cols=2, subplot_titles=(labels["before"], labels["after"]),
                        column_widths=[0.4, 0.6])
    for col, key in ((1, "before"), (2, "after")):
        z = result[key]
        fig.add_heatmap(z=z, y=rows, text=[[f"{v:g}" for v in row] for row in z], texttemplate="%{text}",
                        colorscale="Blues", showscale=False, row=1, col=col)
    fig.update_yaxes(autorange="reversed")
    return style(fig, labels["title"], height=160 + 40 * result["world_size"])


def bandwidth(result: dict, labels: dict[str, str]) -> go.Figure:
    rows, fit = result["rows"], result["fit"]
    x = [r["bytes"] for r in rows]
    fig = go.Figure()
    fig.add_scatter(x=x, y=[1e3 * r["seconds"] for r in rows], mode="markers", name=labels["measured"],
                    marker=dict(size=9, color=PALETTE[0]))
    fig.add_scatter(x=x, y=[1e3 * t for t in fit["fitted"]], mode="lines", name=labels["fit"],
                    line=dict(color=PALETTE[3], dash="dash"))
    return style(fig, labels["title"], xaxis=dict(title=labels["bytes"], type="log"),
                 yaxis=dict(title="ms", type="log"))


def timeline(spans: list[dict], title: str, x_title: str, label_of=lambda s: s["phase"]) -> go.Figure:
    """A Gantt chart: one row per rank, one bar per span (start/end in seconds), coloured by phase.
    All-reduce spans sit on their own row under their rank so overlap with backward is visible."""
    fig = go.Figure()
    shown = set()
    for s in spans:
        row = f"rank {s['rank']}" + (" · all-reduce" if s["phase"] == "allreduce" else "")
        name = label_of(s)
        fig.add_bar(x=[1e3 * (s["end"] - s["start"])], base=[1e3 * s["start"]], y=[row], orientation="h",
                    marker_color=PHASE_COLOURS.get(s["phase"], PALETTE[4]), name=name,
                    legendgroup=name, showlegend=name not in shown,
                    text=[str(s["micro"])] if "micro" in s and s["phase"] != "allreduce" else None,
                    textposition="inside", hovertemplate=f"{name} %{{base:.1f}}–%{{x:.1f}} ms<extra></extra>")
        shown.add(name)
    fig.update_yaxes(autorange="reversed", categoryorder="category ascending")
    return style(fig, title, barmode="overlay", xaxis=dict(title=x_title), height=260)


def fault_timeline(result: dict, labels: dict[str, str]) -> go.Figure:
    """Steps of each rank against time, one colour per attempt; kills and checkpoints marked."""
    fig = go.Figure()
    steps = [e for e in result["events"] if e["kind"] == "step"]
    for attempt in sorted({e["attempt"] for e in steps}):
        for rank in sorted({e["rank"] for e in steps}):
            pts = [e for e in steps if e["attempt"] == attempt and e["rank"] == rank]
            fig.add_scatter(x=[e["t"] for e in pts], y=[e["step"] for e in pts], mode="lines+markers",
                            name=labels["attempt"].format(attempt=attempt, rank=rank),
                            line=dict(color=PALETTE[attempt % len(PALETTE)], dash="solid" if rank == 0 else "dot"))
    for c in (e for e in result["events"] if e["kind"] == "checkpoint"):
        fig.add_scatter(x=[c["t"]], y=[c["step"]], mode="markers", marker=dict(symbol="square", size=10, color="green"),
                        name=labels["checkpoint"], legendgroup="ckpt", showlegend=False)
    for k in result.get("kills", []):
        fig.add_vline(x=k["t"], line_color="red", line_dash="dash", annotation_text=labels["killed"].format(rank=k["rank"]))
    return style(fig, labels["title"], xaxis=dict(title=labels["seconds"]), yaxis=dict(title=labels["step"]))
