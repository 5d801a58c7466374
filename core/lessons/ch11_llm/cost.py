"""11.4 What a language model costs in memory: parameters, gradients, optimizer states, activations
and the KV cache, for real configurations from GPT-2 small to a 70 B Llama, in fp32/bf16/int8/int4;
the formula checked against a small GPT-2 built here and measured."""
from __future__ import annotations

from dataclasses import dataclass

BYTES = {"fp32": 4.0, "bf16": 2.0, "int8": 1.0, "int4": 0.5}
GIB = 1024 ** 3


@dataclass
class LMConfig:
    name: str = "GPT-2 small"
    n_layer: int = 12          # transformer blocks
    d_model: int = 768         # hidden width
    n_head: int = 12           # query heads
    n_kv_head: int = 12        # key/value heads (fewer with grouped-query attention, e.g. Llama-2-70B: 8)
    d_ff: int = 3072           # MLP inner width
    vocab: int = 50257         # token embedding rows
    n_ctx: int = 1024          # learned positions (0 for rotary models)
    style: str = "gpt2"        # "gpt2": GELU MLP, LayerNorm with bias, tied head; "llama": SwiGLU, RMSNorm, untied head


CONFIGS = {c.name: c for c in [
    LMConfig(),
    LMConfig("GPT-2 medium", 24, 1024, 16, 16, 4096),
    LMConfig("GPT-2 XL", 48, 1600, 25, 25, 6400),
    LMConfig("Llama-2-7B", 32, 4096, 32, 32, 11008, 32000, 0, "llama"),
    LMConfig("Llama-2-13B", 40, 5120, 40, 40, 13824, 32000, 0, "llama"),
    LMConfig("Llama-2-70B", 80, 8192, 64, 8, 28672, 32000, 0, "llama"),
]}


def n_params(c: LMConfig) -> int:
    """Exact parameter count of the architecture (GPT-2 as in transformers' GPT2LMHeadModel, head tied)."""
    d, kv = c.d_model, c.d_model // c.n_head * c.n_kv_head
    if c.style == "gpt2":
        attn = d * 3 * d + 3 * d + d * d + d                 # c_attn (q, k, v) and c_proj, with biases
        mlp = d * c.d_ff + c.d_ff + c.d_ff * d + d           # c_fc and c_proj, with biases
        block = attn + mlp + 2 * 2 * d                       # two LayerNorms (weight + bias)
        return c.vocab * d + c.n_ctx * d + c.n_layer * block + 2 * d
    attn = 2 * d * d + 2 * d * kv                            # q, o full width; k, v only n_kv_head heads
    mlp = 3 * d * c.d_ff                                     # gate, up, down (SwiGLU), no biases
    block = attn + mlp + 2 * d                               # two RMSNorms
    return 2 * c.vocab * d + c.n_layer * block + d           # untied embedding and head, final norm


def memory(c: LMConfig, dtype: str = "bf16", batch: int = 1, seq: int = 1024, training: bool = True) -> dict:
    """Bytes per term. Training: weights + gradients in ``dtype``, AdamW's two moments in fp32, plus an
    fp32 master copy when ``dtype`` is not fp32 (mixed precision); activations by Korthikanti et al. 2022
    (no recomputation: s·b·h·(34 + 5·a·s/h) per layer at 2 bytes, scaled by dtype). int8/int4 are
    inference-only here (quantized weights are not trained directly). Inference: weights + KV cache
    (2 · layers · batch · seq · kv_heads · head_dim values)."""
    p, b = n_params(c), BYTES[dtype]
    head_dim = c.d_model // c.n_head
    out = {"params": p, "weights": p * b,
           "kv_cache": 2 * c.n_layer * batch * seq * c.n_kv_head * head_dim * b}
    if training and dtype in ("fp32", "bf16"):
        out["gradients"] = p * b
        out["optimizer"] = 2 * p * 4 + (0 if dtype == "fp32" else p * 4)
        out["activations"] = c.n_layer * seq * batch * c.d_model * (34 + 5 * c.n_head * seq / c.d_model) * b / 2
        out["kv_cache"] = 0                                      # training runs full sequences, no cache
    out["total"] = sum(v for k, v in out.items() if k not in ("params", "total"))
    return out


def cost_table(dtype: str = "bf16", batch: int = 1, seq: int = 1024, training: bool = True) -> list[dict]:
    """One row per known configuration, sizes in GiB."""
    rows = []
    for name, c in CONFIGS.items():
        m = memory(c, dtype, batch, seq, training)
        rows.append({"model": name, "params_b": m["params"] / 1e9,
                     **{k: m[k] / GIB for k in ("weights", "gradients", "optimizer", "activations", "kv_cache", "total")
                        if k in m}})
    return rows


def measure_small(n_layer: int = 2, d_model: int = 64, n_head: int = 4, vocab: int = 100, n_ctx: int = 32,
                  batch: int = 2, seq: int = 16, device: str = "cpu") -> dict:
    """Build a GPT2LMHeadModel with this config, take one AdamW step, and measure: parameter count,
    parameter bytes, optimizer-state bytes, KV-cache bytes of one forward; beside the formula's."""
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel
    torch.manual_seed(0)
    model = GPT2LMHeadModel(GPT2Config(n_layer=n_layer, n_embd=d_model, n_head=n_head, vocab_size=vocab,
                                       n_positions=n_ctx, bos_token_id=None, eos_token_id=None)).to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    ids = torch.randint(0, vocab, (batch, seq), device=device)
    model(ids, labels=ids).loss.backward()
    opt.step()
    nbytes = lambda ts: sum(t.numel() * t.element_size() for t in ts)      # noqa: E731
    params = list(model.parameters())
    # moments only; the per-parameter "step" counters are scalars, left out of the formula too
    opt_bytes = nbytes([v for st in opt.state.values() for k, v in st.items() if k in ("exp_avg", "exp_avg_sq")])
    with torch.no_grad():
        out = model(ids, use_cache=True)
        cache = getattr(out, "cache", None) or out.past_key_values     # renamed in transformers 5
    kv = nbytes([t for layer in cache.layers for t in (layer.keys, layer.values)])
    cfg = LMConfig("measured", n_layer, d_model, n_head, n_head, 4 * d_model, vocab, n_ctx)
    predicted = memory(cfg, "fp32", batch, seq, training=True)
    return {"params": sum(p.numel() for p in params), "params_formula": n_params(cfg),
            "weight_bytes": nbytes(params), "weight_bytes_formula": predicted["weights"],
            "optimizer_bytes": opt_bytes, "optimizer_bytes_formula": predicted["optimizer"],
            "kv_bytes": kv, "kv_bytes_formula": memory(cfg, "fp32", batch, seq, training=False)["kv_cache"]}
