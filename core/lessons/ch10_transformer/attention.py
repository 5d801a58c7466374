"""10.1 Self-attention: step by step on a typed sentence, and the same computation three ways —
by hand, with ``nn.MultiheadAttention`` and with ``F.scaled_dot_product_attention``."""
from __future__ import annotations

import math
import zlib
from dataclasses import dataclass

import numpy as np
import plotly.graph_objects as go
import torch
from torch import nn
from torch.nn import functional as F

from core.errors import HeroError, check_range
from core.viz import style

MAX_WORDS = 12          # the step-by-step view stays readable up to this many tokens
PAD_TOKEN = "<pad>"


def attention_by_hand(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, mask: torch.Tensor | None = None,
                      scale: float | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """softmax(q kᵀ · scale + mask) v. q [..., T, D], k/v [..., S, D]; mask bool [..., T, S] (True = may
    attend, as in SDPA). Returns (output [..., T, D], weights [..., T, S])."""
    scale = 1.0 / math.sqrt(q.shape[-1]) if scale is None else scale
    scores = q @ k.transpose(-2, -1) * scale                      # 1. similarity of every query with every key
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))          # 2. forbidden pairs get -inf …
    weights = scores.softmax(dim=-1)                               # 3. … so softmax gives them 0
    return weights @ v, weights                                    # 4. weighted sum of the values


def build_mask(batch: int, seq: int, causal: bool, lengths: list[int] | None) -> torch.Tensor | None:
    """Boolean mask [B, 1, T, T] (True = may attend) for a causal triangle and/or key padding."""
    mask = torch.ones(batch, 1, seq, seq, dtype=torch.bool)
    if causal:
        mask &= torch.ones(seq, seq, dtype=torch.bool).tril()
    if lengths is not None:
        keys = torch.arange(seq)[None, :] < torch.tensor(lengths)[:, None]     # [B, T] real tokens
        mask &= keys[:, None, None, :]
    return mask if (causal or lengths is not None) else None


def mha_by_hand(x: torch.Tensor, mha: nn.MultiheadAttention, mask: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
    """What ``nn.MultiheadAttention(x, x, x)`` computes, from its own weights. x [B, T, E] →
    (output [B, T, E], per-head weights [B, H, T, T])."""
    B, T, E = x.shape
    H = mha.num_heads
    q, k, v = F.linear(x, mha.in_proj_weight, mha.in_proj_bias).split(E, dim=-1)   # one packed projection
    q, k, v = (t.view(B, T, H, E // H).transpose(1, 2) for t in (q, k, v))         # [B, H, T, D]
    out, weights = attention_by_hand(q, k, v, mask)
    out = out.transpose(1, 2).reshape(B, T, E)                                      # heads side by side again
    return mha.out_proj(out), weights


def three_ways(batch: int = 2, seq: int = 6, embed: int = 16, heads: int = 4, causal: bool = True,
               lengths: list[int] | None = None, seed: int = 0) -> dict:
    """The same self-attention computed three ways, with the largest differences between them.

    ``lengths`` gives each sequence's real length (the rest is padding). Returns the outputs
    [B, T, E], the per-head weights [B, H, T, T] and ``max_diff`` for each pair.
    """
    if heads < 1 or embed % heads:
        raise HeroError("ch10.heads_divide", heads=heads, width=embed)
    check_range("seq", seq, 1, 512)
    if lengths is not None and (len(lengths) != batch or min(lengths) < 1 or max(lengths) > seq):
        raise HeroError("ch10.bad_lengths", seq=seq)
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(batch, seq, embed, generator=gen)
    torch.manual_seed(seed)
    mha = nn.MultiheadAttention(embed, heads, batch_first=True).eval()
    mask = build_mask(batch, seq, causal, lengths)
    with torch.no_grad():
        # 1. by hand, from the layer's own weights
        hand, hand_w = mha_by_hand(x, mha, mask)
        # 2. nn.MultiheadAttention: its masks say True = *blocked*, the opposite of SDPA's
        attn_mask = None
        if causal:
            attn_mask = ~torch.ones(seq, seq, dtype=torch.bool).tril()
        kpm = None if lengths is None else torch.arange(seq)[None, :] >= torch.tensor(lengths)[:, None]
        lib, lib_w = mha(x, x, x, attn_mask=attn_mask, key_padding_mask=kpm, need_weights=True,
                         average_attn_weights=False)
        # 3. F.scaled_dot_product_attention on the same projections (one fused kernel, no weights returned)
        B, T, E, H = batch, seq, embed, heads
        q, k, v = F.linear(x, mha.in_proj_weight, mha.in_proj_bias).split(E, dim=-1)
        q, k, v = (t.view(B, T, H, E // H).transpose(1, 2) for t in (q, k, v))
        fused = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
        fused = mha.out_proj(fused.transpose(1, 2).reshape(B, T, E))
    return {"x": x, "by_hand": hand, "mha": lib, "sdpa": fused, "weights_hand": hand_w, "weights_mha": lib_w,
            "max_diff": {"hand_vs_mha": float((hand - lib).abs().max()),
                         "hand_vs_sdpa": float((hand - fused).abs().max()),
                         "mha_vs_sdpa": float((lib - fused).abs().max()),
                         "weights": float((hand_w - lib_w).abs().max())}}


# --------------------------------------------------------------------------- step by step on a sentence

@dataclass
class StepSettings:
    sentence: str = "the cat sat on the mat"
    d_model: int = 8          # embedding width (small, so every number fits on screen)
    d_k: int = 4              # query/key/value width
    temperature: float = 1.0  # divides the scaled scores: < 1 sharper, > 1 flatter
    causal: bool = False
    pad_to: int = 0           # pad the sentence to this many tokens (0: no padding)
    seed: int = 0


def word_vector(word: str, dim: int) -> torch.Tensor:
    """A fixed pseudo-random embedding per word (the same word always gets the same vector)."""
    gen = torch.Generator().manual_seed(zlib.crc32(word.encode("utf-8")))
    return torch.randn(dim, generator=gen)


def attention_steps(s: StepSettings) -> dict:
    """Embeddings → Q, K, V → scores → scale → mask → softmax → weighted sum, each as a named
    matrix with its shape; also the same result from ``F.scaled_dot_product_attention``."""
    words = (s.sentence or "").split()
    if not words:
        raise HeroError("ch10.empty_sentence")
    if len(words) > MAX_WORDS:
        raise HeroError("ch10.too_many_words", n=len(words), limit=MAX_WORDS)
    check_range("temperature", s.temperature, 0.05, 10.0)
    n_real = len(words)
    tokens = words + [PAD_TOKEN] * max(0, s.pad_to - n_real)
    T = len(tokens)
    # 1. embeddings X [T, d_model] (pads are zero vectors)
    X = torch.stack([word_vector(w, s.d_model) if w != PAD_TOKEN else torch.zeros(s.d_model) for w in tokens])
    # 2. projections (random, untrained: the mechanics are the point here)
    gen = torch.Generator().manual_seed(s.seed)
    Wq, Wk, Wv = (torch.randn(s.d_model, s.d_k, generator=gen) / math.sqrt(s.d_model) for _ in range(3))
    Q, K, V = X @ Wq, X @ Wk, X @ Wv
    # 3. raw scores, 4. scaled by 1/(√d_k · temperature)
    scores = Q @ K.T
    scale = 1.0 / (math.sqrt(s.d_k) * s.temperature)
    scaled = scores * scale
    # 5. mask: True = may attend
    mask = torch.ones(T, T, dtype=torch.bool)
    if s.causal:
        mask &= torch.ones(T, T, dtype=torch.bool).tril()
    mask &= (torch.arange(T) < n_real)[None, :]
    masked = scaled.masked_fill(~mask, float("-inf"))
    # 6. softmax over keys, 7. weighted sum of values
    weights = masked.softmax(-1)
    out = weights @ V
    fused = F.scaled_dot_product_attention(Q[None], K[None], V[None], attn_mask=mask[None], scale=scale)[0]
    entropy = -(weights * weights.clamp_min(1e-12).log()).sum(-1)
    d = [f"d{i}" for i in range(s.d_model)]
    k = [f"k{i}" for i in range(s.d_k)]
    steps = [("embeddings", X, tokens, d), ("queries", Q, tokens, k), ("keys", K, tokens, k),
             ("values", V, tokens, k), ("scores", scores, tokens, tokens), ("scaled", scaled, tokens, tokens),
             ("masked", masked, tokens, tokens), ("weights", weights, tokens, tokens), ("output", out, tokens, k)]
    return {"tokens": tokens, "scale": scale, "mask": mask.numpy(), "max_diff_sdpa": float((out - fused).abs().max()),
            "entropy": entropy.numpy(),
            "steps": [{"name": n, "matrix": m.detach().numpy(), "rows": r, "cols": c, "shape": tuple(m.shape)}
                      for n, m, r, c in steps]}


def matrix_figure(matrix: np.ndarray, rows: list[str], cols: list[str], title: str, zero_mid: bool = False) -> go.Figure:
    """A labelled heatmap with the numbers written in the cells (-inf shown as −∞)."""
    finite = np.where(np.isfinite(matrix), matrix, np.nan)
    text = [["−∞" if np.isneginf(v) else f"{v:.2f}" for v in row] for row in matrix]
    rl = [f"{i}:{r}" for i, r in enumerate(rows)]
    cl = [f"{i}:{c}" for i, c in enumerate(cols)] if cols is rows else list(cols)
    fig = go.Figure(go.Heatmap(z=finite, x=cl, y=rl, text=text, texttemplate="%{text}", textfont={"size": 10},
                               colorscale="RdBu" if zero_mid else "Blues", zmid=0 if zero_mid else None,
                               showscale=False, hoverongaps=False))
    fig.update_yaxes(autorange="reversed")
    return style(fig, title, height=max(220, 28 * len(rows) + 90), margin=dict(l=10, r=10, t=40, b=10))


def mask_figure(kind: str, n: int = 8, title: str = "") -> go.Figure:
    """BERT (bidirectional: every token sees every token) vs GPT (causal: only the past)."""
    m = np.ones((n, n)) if kind == "bert" else np.tril(np.ones((n, n)))
    fig = go.Figure(go.Heatmap(z=m, colorscale=[[0, "#f0f0f0"], [1, "#EE4C2C"]], showscale=False,
                               x=[f"k{i}" for i in range(n)], y=[f"q{i}" for i in range(n)]))
    fig.update_yaxes(autorange="reversed")
    return style(fig, title, height=260, margin=dict(l=10, r=10, t=40, b=10))
