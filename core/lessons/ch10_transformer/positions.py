"""10.3 Positional encodings: the sinusoidal table, similarity by distance, and learned vs
sinusoidal vs rotary (RoPE) vs none on the same tiny GPT."""
from __future__ import annotations

import threading
from dataclasses import replace
from typing import Callable

import numpy as np
import plotly.graph_objects as go
import torch

from core.lessons.ch10_transformer.gpt import GPTSettings, train_gpt
from core.nets.char_gpt import POSITIONS, rope_rotate, sinusoidal_table
from core.viz import PALETTE, style


def sinusoid_figure(n_pos: int = 64, dim: int = 64, title: str = "", x_title: str = "", y_title: str = "") -> go.Figure:
    table = sinusoidal_table(n_pos, dim).numpy()
    fig = go.Figure(go.Heatmap(z=table, colorscale="RdBu", zmid=0))
    fig.update_yaxes(autorange="reversed", title_text=y_title)
    fig.update_xaxes(title_text=x_title)
    return style(fig, title, height=360)


def similarity_by_distance(n_pos: int = 128, dim: int = 64) -> dict:
    """How alike two positions' encodings are as they move apart.

    sinusoidal: mean over p of PE[p]·PE[p+d] / dim (it depends only on d, not on p);
    rope: q·k for one fixed unit vector q = k rotated to positions 0 and d.
    """
    table = sinusoidal_table(n_pos, dim)
    dots = table @ table.T / (dim / 2)
    dist = np.arange(n_pos)
    sin_sim = np.array([float(torch.diagonal(dots, d).mean()) for d in dist])
    spread = np.array([float(torch.diagonal(dots, d).std()) if d < n_pos - 1 else 0.0 for d in dist])
    q = torch.randn(dim, generator=torch.Generator().manual_seed(0))
    v = (q / q.norm()).expand(1, 1, n_pos, dim)                          # one fixed unit vector at every position
    rotated = rope_rotate(v, 0, 10000.0)[0, 0]                          # [n_pos, dim]
    rope_sim = (rotated[0] @ rotated.T).numpy()                          # q at 0, k at distance d
    return {"distance": dist, "sinusoidal": sin_sim, "spread": spread, "rope": rope_sim}


def similarity_figure(sim: dict, labels: dict, title: str = "") -> go.Figure:
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=sim["distance"], y=sim["sinusoidal"], name=labels["sinusoidal"],
                             line=dict(color=PALETTE[0])))
    fig.add_trace(go.Scatter(x=sim["distance"], y=sim["rope"], name=labels["rope"], line=dict(color=PALETTE[1])))
    fig.update_xaxes(title_text=labels["distance"])
    fig.update_yaxes(title_text=labels["similarity"])
    return style(fig, title)


def compare_positions(base: GPTSettings, kinds: tuple[str, ...] = POSITIONS, stop_event: threading.Event | None = None,
                      emit: Callable[[dict], None] | None = None) -> dict:
    """Train the same tiny GPT once per kind of position encoding (same seed, data and steps).
    Events carry ``run`` (the kind); returns kind → its eval history and final val_loss."""
    emit = emit or (lambda e: None)
    out = {}
    for kind in kinds:
        if stop_event is not None and stop_event.is_set():
            break
        result = train_gpt(replace(base, pos=kind, n_checkpoints=1), stop_event,
                           lambda e, k=kind: emit({**e, "run": k}))
        out[kind] = {"history": result.history, "val_loss": result.val_loss, "end": result.end}
    return out
