"""11.5 Decoding strategies through ``generate``: a tiny character-level ``GPT2LMHeadModel`` trained
here on the Python language reference, then greedy / beam / sampling / temperature / top-k / top-p /
repetition penalty side by side on one prompt, and the beams with their cumulative log-probabilities."""
from __future__ import annotations

import time
from dataclasses import dataclass

import torch

from core.data.ch08_text import corpus_text
from core.errors import HeroError
from core.nets.char_gpt2 import CharGPT2, CharGPT2Config

MAX_PROMPT_CHARS = 200


@dataclass
class TinyGPTSettings:
    n_layer: int = 2            # blocks: two are enough to learn spelling and common words
    n_head: int = 4             # attention heads per block
    n_embd: int = 96            # width; 96 trains in about a minute on 2 CPU cores
    block_size: int = 64        # context in characters
    steps: int = 300            # AdamW steps on random windows
    batch_size: int = 16        # windows per step
    lr: float = 3e-3            # high for a tiny model and few steps
    max_chars: int = 200000     # corpus characters used (0 = all 465 k)
    seed: int = 0
    device: str = "cpu"


@dataclass
class CharGPT:
    model: object               # GPT2LMHeadModel (net.lm)
    chars: str                  # vocabulary: token id i is chars[i]
    losses: list
    seconds: float
    net: object = None          # the registered ``char_gpt2`` wrapper (what a checkpoint stores)
    source: str = "trained"     # "trained" here, or "shipped" (models/ch11_char_gpt2.safetensors)

    def encode(self, text: str) -> list[int]:
        return [self.chars.index(c) for c in text if c in self.chars]

    def decode(self, ids) -> str:
        return "".join(self.chars[i] for i in ids)


def train_char_gpt(s: TinyGPTSettings, stop_event=None, emit=None) -> CharGPT:
    """Train a GPT2LMHeadModel on characters of the corpus; emits ``step`` events with the loss."""
    torch.manual_seed(s.seed)
    text = corpus_text()
    text = text[:s.max_chars] if s.max_chars else text
    chars = "".join(sorted(set(text)))
    data = torch.tensor([chars.index(c) for c in text])
    device = torch.device(s.device)
    net = CharGPT2(CharGPT2Config(chars=chars, n_positions=s.block_size, n_embd=s.n_embd, n_layer=s.n_layer,
                                  n_head=s.n_head)).to(device)
    model = net.lm
    opt = torch.optim.AdamW(model.parameters(), lr=s.lr)
    gen = torch.Generator().manual_seed(s.seed)
    losses, t0 = [], time.perf_counter()
    model.train()
    for step in range(1, s.steps + 1):
        if stop_event is not None and stop_event.is_set():
            break
        # 1. random windows of block_size characters; 2. next-character loss (labels shifted inside the model)
        starts = torch.randint(0, len(data) - s.block_size, (s.batch_size,), generator=gen)
        x = torch.stack([data[i:i + s.block_size] for i in starts.tolist()]).to(device)
        loss = model(x, labels=x).loss
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        losses.append(loss.item())
        if emit is not None:
            emit({"kind": "step", "step": step, "total_steps": s.steps, "epoch": 1, "epochs": 1, "loss": losses[-1]})
    model.eval()
    return CharGPT(model, chars, losses, time.perf_counter() - t0, net.cpu().eval())


def shipped_char_gpt() -> CharGPT:
    """The shipped ``ch11_char_gpt2`` checkpoint (sha256-checked, see core/recipes/ch11.py) as a CharGPT."""
    from core import weights
    loaded = weights.load("ch11_char_gpt2", allow_train=False)
    net = loaded.model.eval()
    return CharGPT(net.lm, net.config.chars, [], 0.0, net, loaded.source)


STRATEGIES = {
    "greedy": {"do_sample": False},
    "beam": {"do_sample": False, "num_beams": 4},
    "sample": {"do_sample": True, "temperature": 1.0, "top_k": 0},
    "temp_low": {"do_sample": True, "temperature": 0.5, "top_k": 0},
    "temp_high": {"do_sample": True, "temperature": 1.5, "top_k": 0},
    "top_k": {"do_sample": True, "top_k": 10},
    "top_p": {"do_sample": True, "top_p": 0.9, "top_k": 0},
    "repetition": {"do_sample": False, "repetition_penalty": 1.5},
}


def prompt_ids(gpt: CharGPT, prompt: str) -> tuple[torch.Tensor, list[str]]:
    """[1, T] ids of the prompt's known characters (cut to the context), and the characters dropped."""
    prompt = prompt or ""
    if not prompt.strip():
        raise HeroError("ch11.empty_prompt")
    if len(prompt) > MAX_PROMPT_CHARS:
        raise HeroError("ch11.text_too_long", n=len(prompt), limit=MAX_PROMPT_CHARS)
    dropped = sorted({c for c in prompt if c not in gpt.chars})
    ids = gpt.encode(prompt)
    if not ids:
        raise HeroError("ch11.unknown_script", chars=" ".join(dropped[:10]))
    return torch.tensor([ids[-(gpt.model.config.n_positions // 2):]]), dropped


@torch.no_grad()
def decode_all(gpt: CharGPT, prompt: str, max_new: int = 40, seed: int = 0, device: str = "cpu") -> dict:
    """Every strategy of ``STRATEGIES`` on one prompt: {"rows": [{strategy, text, settings}], "dropped", "beams"}.
    ``max_new`` is capped so prompt + continuation fits the model's context."""
    ids, dropped = prompt_ids(gpt, prompt)
    model = gpt.model.to(device)
    ids = ids.to(device)
    mask = torch.ones_like(ids)
    max_new = min(max_new, model.config.n_positions - ids.shape[1])
    rows = []
    for name, kw in STRATEGIES.items():
        torch.manual_seed(seed)            # the same seed for every sampler: differences come from the strategy
        out = model.generate(ids, attention_mask=mask, max_new_tokens=max_new, min_new_tokens=max_new, pad_token_id=0, **kw)
        rows.append({"strategy": name, "text": gpt.decode(out[0, ids.shape[1]:].tolist()),
                     "settings": ", ".join(f"{k}={v}" for k, v in kw.items())})
    beam = model.generate(ids, attention_mask=mask, max_new_tokens=max_new, min_new_tokens=max_new, num_beams=4, num_return_sequences=4,
                          do_sample=False, output_scores=True, return_dict_in_generate=True, pad_token_id=0,
                          length_penalty=0.0)
    beams = [{"beam": i + 1, "text": gpt.decode(seq[ids.shape[1]:].tolist()), "logprob": float(score)}
             for i, (seq, score) in enumerate(zip(beam.sequences, beam.sequences_scores))]
    return {"rows": rows, "dropped": dropped, "beams": beams, "max_new": max_new}


@torch.no_grad()
def beam_tree(gpt: CharGPT, prompt: str, n_new: int = 8, num_beams: int = 3, device: str = "cpu") -> dict:
    """Beam search written out, recording the tree: at every step each kept beam's children, their
    cumulative log-probabilities and which survive. Same algorithm as ``generate(num_beams=...)``
    without length penalty or end token. Returns {"steps": [[{beam, parent, char, logprob, kept}]], "best": text}."""
    ids, _ = prompt_ids(gpt, prompt)
    model = gpt.model.to(device)
    n_new = min(n_new, model.config.n_positions - ids.shape[1])
    seqs = ids.to(device)                                         # [beams, T]
    scores = torch.zeros(1, device=device)                        # cumulative log-prob of each beam
    steps, parents_text = [], [""]
    for _ in range(n_new):
        # 1. next-character log-probabilities of every beam, added to the beam's score
        logp = torch.log_softmax(model(seqs).logits[:, -1].float(), dim=-1)        # [beams, V]
        total = (scores[:, None] + logp).flatten()
        # 2. the num_beams best (beam, character) pairs over all beams survive
        top = torch.topk(total, min(num_beams * 2, total.numel()))
        V = logp.shape[1]
        layer = []
        for rank, (score, flat) in enumerate(zip(top.values.tolist(), top.indices.tolist())):
            parent, char = divmod(flat, V)
            layer.append({"parent": parent, "char": gpt.chars[char], "logprob": score, "kept": rank < num_beams,
                          "text": parents_text[parent] + gpt.chars[char]})
        kept = [c for c in layer if c["kept"]]
        seqs = torch.cat([seqs[[c["parent"] for c in kept]],
                          torch.tensor([[gpt.chars.index(c["char"])] for c in kept], device=device)], dim=1)
        scores = torch.tensor([c["logprob"] for c in kept], device=device)
        parents_text = [c["text"] for c in kept]
        steps.append(layer)
    return {"steps": steps, "best": parents_text[0], "best_logprob": float(scores[0])}


def tree_figure(tree: dict, title: str = "", labels: dict | None = None):
    """Steps left to right; each candidate a point labelled with its character and cumulative log-prob;
    lines from its parent beam; kept beams in colour, pruned ones grey, the returned path thick."""
    import plotly.graph_objects as go

    from core.viz import PALETTE, style
    labels = labels or {}
    fig = go.Figure()
    # the chosen path: walk back from the best final beam
    path, idx = set(), 0
    for s in range(len(tree["steps"]) - 1, -1, -1):
        kept = [c for c in tree["steps"][s] if c["kept"]]
        path.add((s, idx))
        idx = kept[idx]["parent"]
    for s, layer in enumerate(tree["steps"]):
        kept_i = 0
        for rank, c in enumerate(layer):
            y, py = -rank, -c["parent"]
            on_path = c["kept"] and (s, kept_i) in path
            colour = PALETTE[0] if on_path else (PALETTE[1] if c["kept"] else "#cccccc")
            fig.add_scatter(x=[s, s + 1], y=[py, y], mode="lines", line={"color": colour, "width": 4 if on_path else 1},
                            showlegend=False, hoverinfo="skip")
            fig.add_scatter(x=[s + 1], y=[y], mode="markers+text", text=[repr(c["char"])[1:-1] or "␣"],
                            textposition="top center", marker={"color": colour, "size": 9}, showlegend=False,
                            hovertext=f"{c['text']!r}  log p = {c['logprob']:.2f}", hoverinfo="text")
            kept_i += c["kept"]
    fig.update_layout(xaxis_title=labels.get("step", "step"), yaxis={"title": labels.get("rank", "rank"), "showticklabels": False})
    return style(fig, title)
