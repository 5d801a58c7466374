"""11.6 LoRA with ``peft`` on the shipped character GPT-2: how many parameters train, what a step
costs in memory beside a full fine-tune (measured tensor by tensor, and predicted by cost.py), and a
live LoRA run that adapts the Python-reference model to the English review set."""
from __future__ import annotations

import copy
import time
from dataclasses import dataclass

import torch

from core.data.ch08_text import sentiment_en
from core.errors import HeroError
from core.lessons.ch11_llm.cost import LMConfig, memory

TARGETS = {"attn": ["c_attn"],                                   # GPT-2's fused q, k, v projection
           "all": ["c_attn", "c_proj", "c_fc"]}                  # every linear layer of every block


@dataclass
class LoraSettings:
    r: int = 8                  # rank of the update B·A added to each targeted weight
    alpha: int = 16             # the update is scaled by alpha / r
    targets: str = "attn"       # a key of TARGETS
    steps: int = 60             # AdamW steps on random windows of the reviews
    batch_size: int = 16
    lr: float = 3e-3            # LoRA tolerates a higher rate than a full fine-tune: only A, B move
    seed: int = 0
    device: str = "cpu"


def rank_limit(model, targets: list[str]) -> int:
    """Largest useful rank: min(in, out) over the targeted layers (GPT-2's Conv1D weight is [in, out])."""
    dims = [min(m.weight.shape) for name, m in model.named_modules() if name.split(".")[-1] in targets]
    return min(dims)


def lora_model(gpt_model, s: LoraSettings):
    """A peft ``PeftModel`` over a private copy of ``gpt_model`` (GPT2LMHeadModel): base frozen, LoRA A/B trainable.
    A rank above :func:`rank_limit` is refused (``ch11.lora_rank``): no rank-r update of an in×out matrix
    can have rank above min(in, out), so the extra parameters would buy nothing."""
    from peft import LoraConfig, get_peft_model
    targets = TARGETS[s.targets]
    limit = rank_limit(gpt_model, targets)
    if not 1 <= s.r <= limit:
        raise HeroError("ch11.lora_rank", r=s.r, limit=limit)
    torch.manual_seed(s.seed)                  # A's random init; B starts at zero, so step 0 is the base model
    config = LoraConfig(r=s.r, lora_alpha=s.alpha, target_modules=targets, lora_dropout=0.0, bias="none",
                        fan_in_fan_out=True)   # GPT-2's Conv1D stores weights transposed
    return get_peft_model(copy.deepcopy(gpt_model), config)


def trainable_count(model) -> tuple[int, int]:
    """(trainable, total) parameters, counted by hand from ``requires_grad``."""
    params = list(model.parameters())
    return sum(p.numel() for p in params if p.requires_grad), sum(p.numel() for p in params)


def lora_count_formula(n_layer: int, d: int, r: int, targets: str) -> int:
    """LoRA parameters: r · (in + out) per targeted layer; per block c_attn d→3d, c_proj d→d, c_fc d→4d, mlp c_proj 4d→d."""
    per_block = {"attn": r * (d + 3 * d), "all": r * ((d + 3 * d) + (d + d) + (d + 4 * d) + (4 * d + d))}[targets]
    return n_layer * per_block


def review_ids(gpt, n: int = 2400) -> torch.Tensor:
    """[N] character ids of the generated English reviews, one per line (characters the model lacks dropped)."""
    return torch.tensor(gpt.encode("\n".join(sentiment_en().texts[:n]) + "\n"))


def windows(data: torch.Tensor, T: int, batch: int, gen: torch.Generator) -> torch.Tensor:
    """[batch, T] random windows of ``data``."""
    starts = torch.randint(0, len(data) - T, (batch,), generator=gen).tolist()
    return torch.stack([data[i:i + T] for i in starts])


def _bytes(tensors) -> int:
    seen, total = set(), 0
    for t in tensors:                          # count each storage once (views and tied weights share one)
        key = (t.untyped_storage().data_ptr(), t.device)
        if key not in seen:
            seen.add(key)
            total += t.untyped_storage().nbytes()
    return total


def measure_step(model, ids: torch.Tensor) -> dict:
    """One AdamW step of ``model`` on ``ids`` [B, T], measured in bytes: weights, gradients, AdamW moments,
    and the activations autograd saves for backward (caught with ``saved_tensors_hooks``); on CUDA also the
    allocator's peak."""
    saved = []
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=1e-3)
    if ids.is_cuda:
        torch.cuda.reset_peak_memory_stats(ids.device)
    with torch.autograd.graph.saved_tensors_hooks(lambda t: saved.append(t) or t, lambda t: t):
        loss = model(input_ids=ids, labels=ids).loss
    activations = _bytes([t for t in saved if not isinstance(t, torch.nn.Parameter)
                          and t.data_ptr() not in {p.data_ptr() for p in model.parameters()}])
    saved.clear()
    loss.backward()
    opt.step()
    out = {"weights": _bytes(list(model.parameters())), "gradients": _bytes([p.grad for p in params if p.grad is not None]),
           "optimizer": _bytes([v for st in opt.state.values() for k, v in st.items() if k in ("exp_avg", "exp_avg_sq")]),
           "activations": activations}
    out["total"] = sum(out.values())
    if ids.is_cuda:
        out["cuda_peak"] = torch.cuda.max_memory_allocated(ids.device)
    return out


def predicted_step(gpt_model, trainable: int, total: int, batch: int, seq: int) -> dict:
    """cost.py's figures for the same step in fp32: weights = all parameters, gradients and AdamW moments
    only for the trainable ones; activations by the Korthikanti formula (written for bf16 training with
    dropout masks, so only an order of magnitude for this fp32 model without dropout)."""
    c = gpt_model.config
    cfg = LMConfig("tiny", c.n_layer, c.n_embd, c.n_head, c.n_head, 4 * c.n_embd, c.vocab_size, c.n_positions)
    full = memory(cfg, "fp32", batch, seq, training=True)
    out = {"weights": total * 4, "gradients": trainable * 4, "optimizer": trainable * 8, "activations": full["activations"]}
    out["total"] = sum(out.values())
    return out


def memory_compare(gpt, s: LoraSettings, batch: int = 8) -> dict:
    """Full fine-tune vs LoRA, one step each on the same windows: {"full": {...}, "lora": {...}} with
    measured and predicted bytes per term, and the (trainable, total) counts."""
    T = gpt.model.config.n_positions
    ids = windows(review_ids(gpt, 200), T, batch, torch.Generator().manual_seed(s.seed)).to(s.device)
    out = {}
    for name in ("full", "lora"):
        model = (copy.deepcopy(gpt.model) if name == "full" else lora_model(gpt.model, s)).to(s.device).train()
        trainable, total = trainable_count(model)
        out[name] = {"trainable": trainable, "total": total, "measured": measure_step(model, ids),
                     "predicted": predicted_step(gpt.model, trainable, total, batch, T)}
        del model
    return out


def train_lora(gpt, s: LoraSettings, stop_event=None, emit=None) -> dict:
    """LoRA-adapt a copy of the shipped model to the reviews; emits ``step`` events (loss) and an ``eval``
    (held-out review loss) every quarter. Returns {"model" (merged GPT2LMHeadModel), "losses", "evals",
    "trainable", "total", "loss_before", "loss_after", "seconds"}."""
    model = lora_model(gpt.model, s).to(s.device)
    trainable, total = trainable_count(model)
    data = review_ids(gpt)
    cut = int(len(data) * 0.9)
    train, val = data[:cut], data[cut:]
    T = gpt.model.config.n_positions
    val_x = windows(val, T, 32, torch.Generator().manual_seed(1)).to(s.device)

    @torch.no_grad()
    def val_loss() -> float:
        model.eval()
        v = float(model(input_ids=val_x, labels=val_x).loss)
        model.train()
        return v

    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=s.lr)
    gen = torch.Generator().manual_seed(s.seed)
    evals = [{"kind": "eval", "step": 0, "val_loss": val_loss()}]
    if emit is not None:
        emit(dict(evals[0]))
    losses, t0 = [], time.perf_counter()
    model.train()
    for step in range(1, s.steps + 1):
        if stop_event is not None and stop_event.is_set():
            break
        x = windows(train, T, s.batch_size, gen).to(s.device)
        loss = model(input_ids=x, labels=x).loss
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        losses.append(loss.item())
        if emit is not None:
            emit({"kind": "step", "step": step, "total_steps": s.steps, "epoch": 1, "epochs": 1, "loss": losses[-1]})
        if step % max(1, s.steps // 4) == 0 or step == s.steps:
            evals.append({"kind": "eval", "step": step, "val_loss": val_loss()})
            if emit is not None:
                emit(dict(evals[-1]))
    model.eval()
    merged = model.merge_and_unload().cpu().eval()   # B·A folded into the weights: a plain GPT2LMHeadModel again
    return {"model": merged, "losses": losses, "evals": evals, "trainable": trainable, "total": total,
            "loss_before": evals[0]["val_loss"], "loss_after": evals[-1]["val_loss"], "seconds": time.perf_counter() - t0}


@torch.no_grad()
def compare_samples(gpt, adapted, prompt: str = "this film was ", n_new: int = 40) -> dict:
    """Greedy continuations of ``prompt`` by the base model and the adapted (merged) one."""
    ids = torch.tensor([gpt.encode(prompt)])
    out = {}
    for name, model in (("base", gpt.model), ("lora", adapted)):
        model = model.cpu().eval()
        seq = model.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=n_new, do_sample=False,
                             repetition_penalty=1.3, pad_token_id=0)
        out[name] = gpt.decode(seq[0, ids.shape[1]:].tolist())
    return out


def memory_figure(cmp: dict, labels: dict, title: str = ""):
    """Grouped bars (KiB) per term: full fine-tune and LoRA, measured (solid) and predicted by cost.py (hatched)."""
    import plotly.graph_objects as go

    from core.viz import PALETTE, style
    terms = ["weights", "gradients", "optimizer", "activations"]
    fig = go.Figure()
    for i, run in enumerate(("full", "lora")):
        for kind in ("measured", "predicted"):
            fig.add_bar(x=[labels.get(k, k) for k in terms], y=[cmp[run][kind][k] / 1024 for k in terms],
                        name=f"{labels.get(run, run)} · {labels.get(kind, kind)}", marker_color=PALETTE[i],
                        marker_pattern_shape="/" if kind == "predicted" else "", opacity=1 if kind == "measured" else 0.6)
    fig.update_layout(barmode="group", yaxis={"title": "KiB", "type": "log"})
    return style(fig, title)


def memory_rows(cmp: dict) -> list[dict]:
    """One row per term, KiB: {"term", "full_measured", "full_predicted", "lora_measured", "lora_predicted"}."""
    return [{"term": k, **{f"{run}_{m}": round(cmp[run][m][k] / 1024, 1) for run in ("full", "lora") for m in ("measured", "predicted")}}
            for k in ("weights", "gradients", "optimizer", "activations", "total")]
