"""10.4–10.5 ``nn.Transformer`` by config (shapes and parameter counts, checked against the
formula) and the cost of attention: time and memory vs sequence length, naive vs SDPA."""
from __future__ import annotations

import math
import time
from dataclasses import dataclass

import plotly.graph_objects as go
import torch
from torch import nn
from torch.nn import functional as F

from core.device import synchronize
from core.errors import HeroError, check_range
from core.viz import PALETTE, style


@dataclass
class TransformerShape:
    d_model: int = 64
    nhead: int = 4
    num_encoder_layers: int = 2
    num_decoder_layers: int = 2
    dim_feedforward: int = 256
    batch: int = 2
    src_len: int = 10
    tgt_len: int = 7


def layer_formula(d: int, ff: int, decoder: bool) -> int:
    """Parameters of one encoder (or decoder) layer, by hand: attention 4d² + 4d (q, k, v, out
    with biases), feed-forward 2·d·ff + ff + d, LayerNorms 2d each. A decoder layer adds a
    cross-attention block and a third LayerNorm."""
    attn = 4 * d * d + 4 * d
    ffn = 2 * d * ff + ff + d
    norms = (3 if decoder else 2) * 2 * d
    return (2 if decoder else 1) * attn + ffn + norms


def transformer_table(s: TransformerShape) -> dict:
    """Build ``nn.Transformer`` from the config, run one forward pass and record every part's
    output shape and parameter count (counted, and by the formula)."""
    if s.nhead < 1 or s.d_model % s.nhead:
        raise HeroError("ch10.heads_divide", heads=s.nhead, width=s.d_model)
    for name, value, hi in (("d_model", s.d_model, 1024), ("num_encoder_layers", s.num_encoder_layers, 12),
                            ("num_decoder_layers", s.num_decoder_layers, 12), ("dim_feedforward", s.dim_feedforward, 4096),
                            ("src_len", s.src_len, 512), ("tgt_len", s.tgt_len, 512), ("batch", s.batch, 64)):
        check_range(name, value, 1, hi)
    model = nn.Transformer(d_model=s.d_model, nhead=s.nhead, num_encoder_layers=s.num_encoder_layers,
                           num_decoder_layers=s.num_decoder_layers, dim_feedforward=s.dim_feedforward,
                           dropout=0.0, batch_first=True).eval()
    shapes: dict[str, tuple] = {}
    hooks = []
    parts = [("encoder.layers." + str(i), l) for i, l in enumerate(model.encoder.layers)]
    parts += [("encoder.norm", model.encoder.norm)]
    parts += [("decoder.layers." + str(i), l) for i, l in enumerate(model.decoder.layers)]
    parts += [("decoder.norm", model.decoder.norm)]
    for name, module in parts:
        hooks.append(module.register_forward_hook(lambda m, i, o, n=name: shapes.__setitem__(n, tuple(o.shape))))
    src = torch.randn(s.batch, s.src_len, s.d_model)
    tgt = torch.randn(s.batch, s.tgt_len, s.d_model)
    mask = nn.Transformer.generate_square_subsequent_mask(s.tgt_len)
    with torch.no_grad():
        out = model(src, tgt, tgt_mask=mask)
    for h in hooks:
        h.remove()
    rows = [{"part": "src", "shape": str(tuple(src.shape)), "params": 0, "formula": 0},
            {"part": "tgt", "shape": str(tuple(tgt.shape)), "params": 0, "formula": 0}]
    for name, module in parts:
        decoder = name.startswith("decoder.layers")
        formula = 2 * s.d_model if name.endswith("norm") else layer_formula(s.d_model, s.dim_feedforward, decoder)
        rows.append({"part": name, "shape": str(shapes[name]), "params": sum(p.numel() for p in module.parameters()),
                     "formula": formula})
    total = sum(p.numel() for p in model.parameters())
    return {"rows": rows, "total": total, "formula_total": sum(r["formula"] for r in rows),
            "output": tuple(out.shape), "memory_mask": tuple(mask.shape)}


# --------------------------------------------------------------------------- cost vs sequence length

def naive_attention(q, k, v, causal: bool):
    """Attention that writes out the whole [B, H, T, T] score matrix (what 10.1 computes by hand)."""
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
    if causal:
        T = q.shape[-2]
        scores = scores.masked_fill(~torch.ones(T, T, dtype=torch.bool, device=q.device).tril(), float("-inf"))
    return scores.softmax(-1) @ v


def attention_cost(lengths: list[int], d_head: int = 32, heads: int = 4, batch: int = 1, causal: bool = True,
                   device: str = "cpu", repeats: int = 3) -> list[dict]:
    """Best-of-``repeats`` time (ms) and memory (MiB) of naive attention vs SDPA for each length.

    Memory: on CUDA the allocator's measured peak above the inputs; on CPU the size of the
    T×T matrices the naive version materialises (scores and weights), while SDPA's fused
    kernels work in tiles (reported as the peak CUDA measures where a GPU is present)."""
    dev = torch.device(device)
    rows = []
    for T in lengths:
        check_range("length", T, 1, 16384)
        q, k, v = (torch.randn(batch, heads, T, d_head, device=dev) for _ in range(3))
        row = {"length": T}
        for name, fn in (("naive", lambda: naive_attention(q, k, v, causal)),
                         ("sdpa", lambda: F.scaled_dot_product_attention(q, k, v, is_causal=causal))):
            with torch.no_grad():
                fn()                                    # warm-up (kernel choice, allocations)
                synchronize(dev)
                if dev.type == "cuda":
                    torch.cuda.reset_peak_memory_stats(dev)
                    base = torch.cuda.memory_allocated(dev)
                best = math.inf
                for _ in range(repeats):
                    t0 = time.perf_counter()
                    fn()
                    synchronize(dev)
                    best = min(best, time.perf_counter() - t0)
                if dev.type == "cuda":
                    mem = (torch.cuda.max_memory_allocated(dev) - base) / 2**20
                else:
                    mem = (2 * batch * heads * T * T * 4 if name == "naive" else batch * heads * T * d_head * 4) / 2**20
            row[f"{name}_ms"] = best * 1000
            row[f"{name}_mib"] = mem
        row["max_diff"] = float((naive_attention(q, k, v, causal) -
                                 F.scaled_dot_product_attention(q, k, v, is_causal=causal)).abs().max())
        rows.append(row)
    return rows


def cost_figure(rows: list[dict], metric: str, labels: dict, title: str = "") -> go.Figure:
    fig = go.Figure()
    for i, name in enumerate(("naive", "sdpa")):
        fig.add_trace(go.Scatter(x=[r["length"] for r in rows], y=[r[f"{name}_{metric}"] for r in rows],
                                 mode="lines+markers", name=labels[name], line=dict(color=PALETTE[i])))
    fig.update_xaxes(title_text=labels["length"], type="log")
    fig.update_yaxes(title_text=labels[metric], type="log")
    return style(fig, title)
