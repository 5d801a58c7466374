"""A character-level GPT in one file (nanoGPT style), with a KV cache, head ablation and
attention maps for the chapter 10 page.

    model = CharGPT(CharGPTConfig(vocab_size=103))
    logits = model(idx)                          # idx [B, T] int64 → logits [B, T, vocab]
    logits, cache = model.step(idx, cache=None)  # prefill; then feed one token at a time with the cache
    logits, maps = model.attention_maps(idx)     # maps: one [B, n_head, T, T] tensor per layer

Positions come in four kinds (``pos``): a learned table (GPT-2), fixed sinusoids (the original
Transformer), rotary embeddings applied to q and k (RoPE, LLaMA) or none at all.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

from core.nets import register

POSITIONS = ("learned", "sinusoidal", "rope", "none")


@dataclass
class CharGPTConfig:
    vocab_size: int = 103      # distinct characters of the corpus (pydoc topics has 103)
    block_size: int = 64       # longest context the model sees; also the size of the learned position table
    n_layer: int = 2           # transformer blocks; depth buys composition (e.g. induction heads need 2)
    n_head: int = 4            # attention heads per block; must divide n_embd
    n_embd: int = 64           # width of the residual stream
    dropout: float = 0.0       # off by default: small models on 0.5 MB of text barely overfit in a minute
    bias: bool = True          # biases in Linear/LayerNorm (nanoGPT sets False for a bit of speed)
    pos: str = "learned"       # "learned" | "sinusoidal" | "rope" | "none" (see POSITIONS)
    rope_base: float = 10000.0  # RoPE frequency base, as in the RoFormer paper


def sinusoidal_table(n_pos: int, dim: int, device: torch.device | str | None = None) -> torch.Tensor:
    """The original Transformer's fixed encodings, [n_pos, dim]:
    PE[p, 2i] = sin(p / 10000^(2i/dim)), PE[p, 2i+1] = cos(p / 10000^(2i/dim))."""
    pos = torch.arange(n_pos, dtype=torch.float32, device=device)[:, None]
    freq = torch.exp(torch.arange(0, dim, 2, dtype=torch.float32, device=device) * (-math.log(10000.0) / dim))
    table = torch.zeros(n_pos, dim, device=device)
    table[:, 0::2] = torch.sin(pos * freq)
    table[:, 1::2] = torch.cos(pos * freq[: dim // 2])
    return table


def rope_rotate(x: torch.Tensor, offset: int, base: float) -> torch.Tensor:
    """Rotary position embedding of x [B, H, T, D] for positions offset..offset+T-1: each pair
    (x[2i], x[2i+1]) turns by the angle p·base^(-2i/D), so q·k depends only on the distance."""
    B, H, T, D = x.shape
    inv = base ** (-torch.arange(0, D, 2, dtype=torch.float32, device=x.device) / D)      # [D/2]
    angle = torch.arange(offset, offset + T, dtype=torch.float32, device=x.device)[:, None] * inv  # [T, D/2]
    cos, sin = angle.cos().to(x.dtype), angle.sin().to(x.dtype)
    x1, x2 = x[..., 0::2], x[..., 1::2]
    out = torch.stack((x1 * cos - x2 * sin, x1 * sin + x2 * cos), dim=-1)
    return out.flatten(-2)


class CausalSelfAttention(nn.Module):
    def __init__(self, c: CharGPTConfig):
        super().__init__()
        if c.n_embd % c.n_head:
            raise ValueError(f"n_head={c.n_head} does not divide n_embd={c.n_embd}")
        self.c = c
        self.qkv = nn.Linear(c.n_embd, 3 * c.n_embd, bias=c.bias)
        self.proj = nn.Linear(c.n_embd, c.n_embd, bias=c.bias)
        self.drop = nn.Dropout(c.dropout)
        # Per-head multiplier for ablation (None = all heads on; a [n_head] tensor zeroes some).
        # Not a buffer: it is an experiment, never saved with the weights.
        self.head_mask: torch.Tensor | None = None

    def forward(self, x: torch.Tensor, cache: tuple | None = None, need_weights: bool = False):
        """x [B, T, C] → (y [B, T, C], new cache (k, v) each [B, H, T_total, D], weights [B, H, T, T_total] | None)."""
        B, T, C = x.shape
        H, D = self.c.n_head, C // self.c.n_head
        q, k, v = self.qkv(x).split(C, dim=2)
        q, k, v = (t.view(B, T, H, D).transpose(1, 2) for t in (q, k, v))      # [B, H, T, D]
        past = 0 if cache is None else cache[0].shape[2]
        if self.c.pos == "rope":
            q, k = rope_rotate(q, past, self.c.rope_base), rope_rotate(k, past, self.c.rope_base)
        if cache is not None:
            k, v = torch.cat((cache[0], k), 2), torch.cat((cache[1], v), 2)
        S = k.shape[2]
        weights = None
        if need_weights:
            att = (q @ k.transpose(-2, -1)) / math.sqrt(D)                     # [B, H, T, S]
            mask = torch.ones(T, S, dtype=torch.bool, device=x.device).tril(diagonal=S - T)
            att = att.masked_fill(~mask, float("-inf")).softmax(-1)
            weights = att
            y = self.drop(att) @ v
        else:
            # one fused kernel. Without a cache: the causal triangle. A single new token after a
            # cache may see every key (no mask). Several new tokens after a cache: the shifted triangle.
            p = self.c.dropout if self.training else 0.0
            if cache is None:
                y = F.scaled_dot_product_attention(q, k, v, dropout_p=p, is_causal=True)
            elif T == 1:
                y = F.scaled_dot_product_attention(q, k, v, dropout_p=p)
            else:
                mask = torch.ones(T, S, dtype=torch.bool, device=x.device).tril(diagonal=S - T)
                y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=p)
        if self.head_mask is not None:
            y = y * self.head_mask.to(y.dtype).view(1, H, 1, 1)
        y = y.transpose(1, 2).contiguous().view(B, T, C)
        return self.drop(self.proj(y)), (k, v), weights


class Block(nn.Module):
    def __init__(self, c: CharGPTConfig):
        super().__init__()
        self.ln1 = nn.LayerNorm(c.n_embd, bias=c.bias)
        self.attn = CausalSelfAttention(c)
        self.ln2 = nn.LayerNorm(c.n_embd, bias=c.bias)
        self.mlp = nn.Sequential(nn.Linear(c.n_embd, 4 * c.n_embd, bias=c.bias), nn.GELU(),
                                 nn.Linear(4 * c.n_embd, c.n_embd, bias=c.bias), nn.Dropout(c.dropout))

    def forward(self, x, cache=None, need_weights=False):
        a, new_cache, weights = self.attn(self.ln1(x), cache, need_weights)
        x = x + a                      # pre-norm residual: the stream carries the signal, blocks add to it
        x = x + self.mlp(self.ln2(x))
        return x, new_cache, weights


@register("char_gpt", CharGPTConfig, example=lambda c: (torch.randint(0, c.vocab_size, (2, min(8, c.block_size))),))
class CharGPT(nn.Module):
    def __init__(self, config: CharGPTConfig):
        super().__init__()
        if config.pos not in POSITIONS:
            raise ValueError(f"pos must be one of {POSITIONS}, not {config.pos!r}")
        if config.n_embd % config.n_head:
            raise ValueError(f"n_head={config.n_head} does not divide n_embd={config.n_embd}")
        self.config = c = config
        self.tok = nn.Embedding(c.vocab_size, c.n_embd)
        if c.pos == "learned":
            self.pos_emb = nn.Embedding(c.block_size, c.n_embd)
        self.drop = nn.Dropout(c.dropout)
        self.blocks = nn.ModuleList(Block(c) for _ in range(c.n_layer))
        self.ln_f = nn.LayerNorm(c.n_embd, bias=c.bias)
        self.head = nn.Linear(c.n_embd, c.vocab_size, bias=False)
        self.head.weight = self.tok.weight     # weight tying: the same table reads and writes characters
        self.apply(self._init)
        for name, p in self.named_parameters():   # GPT-2: residual projections scaled by depth
            if name.endswith("attn.proj.weight") or name.endswith("mlp.2.weight"):
                nn.init.normal_(p, 0.0, 0.02 / math.sqrt(2 * c.n_layer))

    @staticmethod
    def _init(m: nn.Module) -> None:
        if isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, 0.0, 0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Embedding):
            nn.init.normal_(m.weight, 0.0, 0.02)

    def _embed(self, idx: torch.Tensor, offset: int) -> torch.Tensor:
        T = idx.shape[1]
        if offset + T > self.config.block_size and self.config.pos in ("learned", "sinusoidal"):
            raise ValueError(f"sequence of {offset + T} tokens is longer than block_size={self.config.block_size}")
        x = self.tok(idx)
        if self.config.pos == "learned":
            x = x + self.pos_emb(torch.arange(offset, offset + T, device=idx.device))
        elif self.config.pos == "sinusoidal":
            x = x + sinusoidal_table(offset + T, self.config.n_embd, idx.device)[offset:]
        return self.drop(x)

    def _run(self, idx, cache=None, need_weights=False):
        offset = 0 if cache is None else cache[0][0].shape[2]
        x = self._embed(idx, offset)
        new_cache, maps = [], []
        for i, block in enumerate(self.blocks):
            x, layer_cache, weights = block(x, None if cache is None else cache[i], need_weights)
            new_cache.append(layer_cache)
            maps.append(weights)
        return self.head(self.ln_f(x)), new_cache, maps

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        """idx [B, T] → logits [B, T, vocab_size] (position t predicts token t+1)."""
        return self._run(idx)[0]

    def step(self, idx: torch.Tensor, cache: list | None = None) -> tuple[torch.Tensor, list]:
        """Incremental decoding: idx [B, T_new] after the cached tokens → (logits [B, T_new, V], cache).
        The cache holds every layer's keys and values [B, H, T_total, D]; each new token then
        costs one row of attention instead of re-running the whole prefix."""
        logits, new_cache, _ = self._run(idx, cache)
        return logits, new_cache

    def attention_maps(self, idx: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """idx [B, T] → (logits, one softmax weight tensor [B, n_head, T, T] per layer)."""
        logits, _, maps = self._run(idx, need_weights=True)
        return logits, maps

    def set_head_mask(self, layer: int | None = None, head: int | None = None) -> None:
        """Zero head ``head`` of block ``layer`` (its output never reaches the residual stream);
        ``set_head_mask()`` with no arguments switches every head back on."""
        for i, block in enumerate(self.blocks):
            if layer is None or i != layer:
                block.attn.head_mask = None
            else:
                mask = torch.ones(self.config.n_head, device=self.tok.weight.device)
                mask[head] = 0.0
                block.attn.head_mask = mask
