"""10.8 实战 2 and the chapter's *beyond*: a character GPT trained live on the Python language
reference, generation step by step (temperature / top-k / top-p), the KV cache timed, checkpoints
saved during training for watching heads form, and head ablation."""
from __future__ import annotations

import copy
import math
import threading
import time
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from typing import Callable, Iterator

import numpy as np
import torch
from torch.nn import functional as F
from torch.utils.data import DataLoader, IterableDataset

from core.data.ch08_text import corpus_text
from core.device import seed_everything
from core.errors import HeroError, check_range
from core.nets.char_gpt import CharGPT, CharGPTConfig
from core.train import Callback, LRScheduler, NaNGuard, amp_callbacks, finished_ok, fit, record

MAX_PROMPT_CHARS = 2000      # a pasted prompt beyond this is refused, not silently cut
MAX_NEW_TOKENS = 1000
SAMPLE_TEXT = "the cat sat on the mat. the cat sat on the mat."     # model inputs (English: the corpus is)
REPEAT_TEXT = "def f(x): return x. def f(x): return x."          # repeated, for induction heads


# --------------------------------------------------------------------------- the corpus as characters

@dataclass(frozen=True)
class CharVocab:
    """Every distinct character of the corpus, sorted; id = position in ``chars``."""
    chars: str

    def __len__(self) -> int:
        return len(self.chars)

    @property
    def stoi(self) -> dict[str, int]:
        return _char_index(self.chars)

    def encode(self, text: str) -> list[int]:
        stoi = self.stoi
        return [stoi[c] for c in text]

    def decode(self, ids) -> str:
        return "".join(self.chars[int(i)] for i in ids)


@lru_cache(maxsize=8)
def _char_index(chars: str) -> dict[str, int]:
    return {c: i for i, c in enumerate(chars)}


@lru_cache(maxsize=1)
def corpus_vocab() -> CharVocab:
    return CharVocab("".join(sorted(set(corpus_text()))))


@lru_cache(maxsize=2)
def corpus_ids(max_chars: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """The corpus as ids: (first 90 % for training, last 10 % for validation), int64 [N]."""
    text = corpus_text()
    if max_chars:
        text = text[:max_chars]
    ids = torch.tensor(corpus_vocab().encode(text), dtype=torch.long)
    cut = int(len(ids) * 0.9)
    return ids[:cut], ids[cut:]


class RandomWindows(IterableDataset):
    """Endless batches of random windows: x [B, T] and y = x shifted by one [B, T] (nanoGPT's get_batch)."""

    def __init__(self, ids: torch.Tensor, block: int, batch: int, seed: int):
        self.ids, self.block, self.batch, self.seed = ids, block, batch, seed

    def __iter__(self):
        gen = torch.Generator().manual_seed(self.seed)
        offsets = torch.arange(self.block)
        while True:
            start = torch.randint(len(self.ids) - self.block - 1, (self.batch,), generator=gen)
            idx = start[:, None] + offsets
            yield self.ids[idx], self.ids[idx + 1]


def fixed_windows(ids: torch.Tensor, block: int, n: int, seed: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` windows at seeded random places: the same validation set for every run."""
    gen = torch.Generator().manual_seed(seed)
    start = torch.randint(len(ids) - block - 1, (n,), generator=gen)
    idx = start[:, None] + torch.arange(block)
    return ids[idx], ids[idx + 1]


def lm_loss(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy in nats per character. logits [B, T, V], target [B, T]."""
    return F.cross_entropy(logits.flatten(0, 1), target.flatten())


# --------------------------------------------------------------------------- training

@dataclass
class GPTSettings:
    n_layer: int = 2
    n_head: int = 4
    n_embd: int = 96
    block_size: int = 64
    pos: str = "learned"          # learned | sinusoidal | rope | none
    dropout: float = 0.0
    steps: int = 700
    batch_size: int = 32
    lr: float = 3e-3
    warmup: int = 30              # steps of linear warm-up before the cosine decay
    eval_every: int = 50
    eval_windows: int = 96        # validation windows of block_size characters
    n_checkpoints: int = 6        # weights kept during the run, for scrubbing through training
    sample_chars: int = 80        # characters sampled at each evaluation
    max_chars: int = 0            # 0: the whole corpus
    seed: int = 0
    device: str = "cpu"


def check_gpt_settings(s: GPTSettings) -> GPTSettings:
    """``s`` if a model can be built from it; else a translated error saying why."""
    if s.n_head < 1 or s.n_embd % s.n_head:
        raise HeroError("ch10.heads_divide", heads=s.n_head, width=s.n_embd)
    check_range("block_size", s.block_size, 4, 1024)
    check_range("steps", s.steps, 1, 100000)
    return s


def build_gpt(s: GPTSettings, vocab_size: int) -> CharGPT:
    check_gpt_settings(s)
    return CharGPT(CharGPTConfig(vocab_size=vocab_size, block_size=s.block_size, n_layer=s.n_layer,
                                 n_head=s.n_head, n_embd=s.n_embd, dropout=s.dropout, pos=s.pos))


@dataclass
class GPTResult:
    model: CharGPT
    vocab: CharVocab
    history: list[dict]                      # eval events: step, val_loss, sample, seconds
    end: dict
    settings: dict
    checkpoints: list[tuple[int, dict]] = field(default_factory=list)   # (step, state_dict on CPU)

    @property
    def ok(self) -> bool:
        return finished_ok(self.end, self.history)

    @property
    def val_loss(self) -> float:
        return float(self.history[-1]["val_loss"]) if self.history else float("nan")


class SamplesAndCheckpoints(Callback):
    """At each evaluation: a short greedy-free sample of text, the wall time, and (at evenly
    spaced evaluations) a CPU copy of the weights for the checkpoint scrubber."""

    def __init__(self, vocab: CharVocab, s: GPTSettings, keep: list):
        self.vocab, self.s, self.keep = vocab, s, keep
        self.started = time.perf_counter()
        n_evals = max(1, s.steps // s.eval_every)
        self.save_at = set(np.linspace(1, n_evals, min(s.n_checkpoints, n_evals)).round().astype(int) * s.eval_every)

    def on_train_start(self, state):
        self.keep.append((0, {k: v.detach().cpu().clone() for k, v in state.model.state_dict().items()}))

    def on_eval(self, state, metrics):
        metrics["seconds"] = time.perf_counter() - self.started
        model = state.model
        model.eval()
        prompt = torch.tensor([self.vocab.encode("The ")], device=next(model.parameters()).device)
        out = sample_ids(model, prompt, self.s.sample_chars, temperature=0.8, top_k=0, top_p=1.0,
                         seed=state.step, use_cache=True)
        metrics["sample"] = self.vocab.decode(out[0].tolist())
        model.train()
        if state.step in self.save_at or state.step >= self.s.steps:
            if not self.keep or self.keep[-1][0] != state.step:
                self.keep.append((state.step, {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}))


def cosine_with_warmup(warmup: int, total: int) -> Callable[[int], float]:
    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        progress = min(1.0, (step - warmup) / max(1, total - warmup))
        return 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress))   # decays to 10 % of the peak
    return factor


def train_gpt(s: GPTSettings, stop_event: threading.Event | None = None,
              emit: Callable[[dict], None] | None = None) -> GPTResult:
    """Train a character GPT on the Python language reference; eval events carry ``val_loss``
    (nats/char), ``sample`` (text written by the model so far) and ``seconds``."""
    seed_everything(s.seed)
    vocab = corpus_vocab()
    model = build_gpt(s, len(vocab))
    train_ids, val_ids = corpus_ids(s.max_chars)
    device = torch.device(s.device)
    batches = DataLoader(RandomWindows(train_ids, s.block_size, s.batch_size, s.seed), batch_size=None)
    val = fixed_windows(val_ids, s.block_size, s.eval_windows)
    optimizer = torch.optim.AdamW(model.parameters(), lr=s.lr, betas=(0.9, 0.99), weight_decay=0.01)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, cosine_with_warmup(s.warmup, s.steps))
    checkpoints: list = []
    callbacks = [*amp_callbacks(device), NaNGuard(), LRScheduler(schedule, "step"),
                 SamplesAndCheckpoints(vocab, s, checkpoints)]
    history, end = record(fit(model, batches, val, optimizer=optimizer, loss_fn=lm_loss, epochs=1,
                              device=device, seed=s.seed, callbacks=callbacks, stop_event=stop_event,
                              eval_every=s.eval_every, max_steps=s.steps), emit)
    return GPTResult(model.cpu().eval(), vocab, history, end, asdict(s), checkpoints)


# --------------------------------------------------------------------------- generation

def filter_logits(logits: torch.Tensor, temperature: float, top_k: int, top_p: float) -> torch.Tensor:
    """Next-token probabilities after temperature, top-k and top-p (nucleus). logits [B, V] → probs [B, V]."""
    # 1. temperature: divide the logits (below 1 sharpens, above 1 flattens)
    logits = logits / max(temperature, 1e-6)
    # 2. top-k: keep the k largest logits
    if top_k and top_k < logits.shape[-1]:
        kth = torch.topk(logits, top_k, dim=-1).values[..., -1:]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    probs = logits.softmax(-1)
    # 3. top-p: keep the smallest set of most likely tokens whose probabilities reach p
    if top_p < 1.0:
        sorted_p, order = probs.sort(-1, descending=True)
        before = sorted_p.cumsum(-1) - sorted_p            # mass of the tokens ranked above each one
        drop = torch.zeros_like(probs, dtype=torch.bool).scatter(-1, order, before >= top_p)
        probs = probs.masked_fill(drop, 0.0)
        probs = probs / probs.sum(-1, keepdim=True)
    return probs


@torch.no_grad()
def sample_steps(model: CharGPT, idx: torch.Tensor, n_new: int, temperature: float = 1.0, top_k: int = 0,
                 top_p: float = 1.0, seed: int = 0, use_cache: bool = True) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Sample ``n_new`` tokens after idx [B, T], yielding (probs [B, V], chosen [B]) at every step.

    With ``use_cache`` the prompt is run once and each new token attends to the cached keys and
    values; without it the whole (cropped) context is re-run for every token, as nanoGPT does.
    When the cache reaches ``block_size`` it is rebuilt from the last half of the context.
    """
    block = model.config.block_size
    gen = torch.Generator(device=idx.device).manual_seed(seed)
    cache, context = None, idx[:, -block:]
    for _ in range(n_new):
        # 1. logits for the next position (from the cache, or by re-running the context)
        if use_cache:
            logits, cache = model.step(context if cache is None else context[:, -1:], cache)
        else:
            logits = model(context)
        # 2. temperature / top-k / top-p, 3. draw one token
        probs = filter_logits(logits[:, -1].float(), temperature, top_k, top_p)
        nxt = torch.multinomial(probs, 1, generator=gen)                         # [B, 1]
        yield probs, nxt[:, 0]
        # 4. append it; keep the context (and the cache) within block_size
        context = torch.cat((context, nxt), 1)
        if context.shape[1] > block:
            context = context[:, -block:]
            if use_cache and cache is not None and cache[0][0].shape[2] >= block:
                context, cache = context[:, -(block // 2):], None     # refill from the last half


def sample_ids(model: CharGPT, idx: torch.Tensor, n_new: int, temperature: float = 1.0, top_k: int = 0,
               top_p: float = 1.0, seed: int = 0, use_cache: bool = True) -> torch.Tensor:
    """The ``n_new`` sampled tokens after idx [B, T], as ids [B, n_new]."""
    out = [nxt for _, nxt in sample_steps(model, idx, n_new, temperature, top_k, top_p, seed, use_cache)]
    return torch.stack(out, 1) if out else idx[:, :0]


@dataclass
class PromptCheck:
    text: str                      # what the model will see
    dropped: list[str]             # characters outside the vocabulary, removed
    cut: int                       # characters cut from the front to fit the context (0: none)


def check_prompt(text: str | None, vocab: CharVocab, block_size: int) -> PromptCheck:
    """A typed prompt made safe for the model: refuses an empty one, removes characters the
    model has never seen (and says which), keeps only the last ``block_size`` characters."""
    text = text or ""
    if len(text) > MAX_PROMPT_CHARS:
        raise HeroError("ch10.prompt_too_long", n=len(text), limit=MAX_PROMPT_CHARS)
    stoi = vocab.stoi
    dropped = sorted({c for c in text if c not in stoi})
    kept = "".join(c for c in text if c in stoi)
    if not kept.strip():
        if dropped:
            raise HeroError("ch10.prompt_all_unknown", chars=" ".join(repr(c) for c in dropped[:12]))
        raise HeroError("ch10.empty_prompt")
    cut = max(0, len(kept) - block_size)
    return PromptCheck(kept[cut:], dropped, cut)


@dataclass
class GenerateSettings:
    prompt: str = "The "
    n_new: int = 40
    temperature: float = 0.8
    top_k: int = 10
    top_p: float = 0.95
    use_cache: bool = True
    seed: int = 0
    n_show: int = 5               # candidates shown per step
    device: str = "cpu"


def stream_generate(model: CharGPT, vocab: CharVocab, g: GenerateSettings) -> Iterator[dict]:
    """Sample ``n_new`` characters, yielding one dict per step: the character drawn, its
    probability, and the top candidates (after temperature / top-k / top-p) with theirs."""
    check_range("temperature", g.temperature, 0.05, 5.0)
    check_range("top_p", g.top_p, 0.01, 1.0)
    check_range("n_new", g.n_new, 1, MAX_NEW_TOKENS)
    if len(vocab) != model.config.vocab_size:
        raise HeroError("ch10.vocab_mismatch", model=model.config.vocab_size, vocab=len(vocab))
    p = check_prompt(g.prompt, vocab, model.config.block_size)
    device = torch.device(g.device)
    model = model.to(device).eval()
    idx = torch.tensor([vocab.encode(p.text)], device=device)
    for probs, chosen in sample_steps(model, idx, g.n_new, g.temperature, g.top_k, g.top_p, g.seed, g.use_cache):
        top = probs[0].topk(min(g.n_show, probs.shape[-1]))
        c = int(chosen[0])
        candidates = [(vocab.chars[int(i)], float(v)) for v, i in zip(top.values, top.indices)]
        if c not in top.indices.tolist():            # a lower-ranked draw is still listed (last), so it can be marked
            candidates.append((vocab.chars[c], float(probs[0, c])))
        yield {"chosen": vocab.chars[c], "p_chosen": float(probs[0, c]), "kept": int((probs[0] > 0).sum()),
               "candidates": candidates,
               "prompt": p.text, "dropped": p.dropped, "cut": p.cut}


def generate(model: CharGPT, vocab: CharVocab, g: GenerateSettings) -> dict:
    """All of ``stream_generate`` at once: the text, every step, the wall time and tokens/s."""
    started = time.perf_counter()
    steps = list(stream_generate(model, vocab, g))
    seconds = time.perf_counter() - started
    first = steps[0]
    return {"prompt": first["prompt"], "dropped": first["dropped"], "cut": first["cut"],
            "text": "".join(s["chosen"] for s in steps), "steps": steps, "seconds": seconds,
            "tokens_per_s": len(steps) / max(seconds, 1e-9), "use_cache": g.use_cache}


def cache_speed(model: CharGPT, vocab: CharVocab, prompt: str = "The ", n_new: int = 256,
                device: str = "cpu", repeats: int = 1) -> dict:
    """Tokens per second with and without the KV cache, and whether both wrote the same text."""
    model = model.to(torch.device(device)).eval()
    idx = torch.tensor([vocab.encode(check_prompt(prompt, vocab, model.config.block_size).text)],
                       device=torch.device(device))
    out = {}
    for use_cache in (True, False):
        best = math.inf
        for _ in range(repeats):
            t0 = time.perf_counter()
            ids = sample_ids(model, idx, n_new, temperature=1.0, seed=0, use_cache=use_cache)
            best = min(best, time.perf_counter() - t0)
        out["cache" if use_cache else "no_cache"] = {"seconds": best, "tokens_per_s": n_new / best,
                                                      "text": vocab.decode(ids[0].tolist())}
    out["speedup"] = out["no_cache"]["seconds"] / out["cache"]["seconds"]
    return out


# --------------------------------------------------------------------------- heads over training, ablation

def model_at(result: GPTResult, index: int) -> CharGPT:
    """A copy of the run's model with the weights of checkpoint ``index``."""
    model = copy.deepcopy(result.model)
    model.load_state_dict(result.checkpoints[index][1])
    return model.eval()


@torch.no_grad()
def attention_for(model: CharGPT, vocab: CharVocab, text: str) -> dict:
    """Every layer's and head's attention on ``text`` (cut to the context): maps [L, H, T, T]."""
    p = check_prompt(text, vocab, model.config.block_size)
    device = next(model.parameters()).device
    idx = torch.tensor([vocab.encode(p.text)], device=device)
    logits, maps = model.eval().attention_maps(idx)
    return {"tokens": list(p.text), "maps": torch.stack([m[0] for m in maps]).float().cpu().numpy(),
            "dropped": p.dropped, "cut": p.cut}


def head_scores(maps: np.ndarray, tokens: list[str]) -> dict:
    """How much each head behaves like a previous-token head (mass on position t-1) and like an
    induction head (mass on the token right after an earlier occurrence of the current token).
    maps [L, H, T, T] → {"previous": [L, H], "induction": [L, H]}."""
    L, H, T, _ = maps.shape
    prev = maps[:, :, np.arange(1, T), np.arange(T - 1)].mean(-1) if T > 1 else np.zeros((L, H))
    targets = [(t, j + 1) for t in range(T) for j in range(t - 1) if tokens[j] == tokens[t]]
    if targets:
        rows, cols = zip(*targets)
        induction = maps[:, :, list(rows), list(cols)].mean(-1)
    else:
        induction = np.zeros((L, H))
    return {"previous": prev, "induction": induction}


@torch.no_grad()
def ablate_head(model: CharGPT, vocab: CharVocab, layer: int, head: int, text: str | None = None,
                n_windows: int = 32, device: str = "cpu") -> dict:
    """Validation loss with every head on and with head (layer, head) zeroed; the mask is removed
    afterwards, so the model is left exactly as it was."""
    if not (0 <= layer < model.config.n_layer and 0 <= head < model.config.n_head):
        raise HeroError("ch10.no_such_head", layer=layer, head=head, layers=model.config.n_layer,
                        heads=model.config.n_head)
    model = model.to(torch.device(device)).eval()
    _, val_ids = corpus_ids()
    if text:
        ids = torch.tensor(vocab.encode(check_prompt(text, vocab, model.config.block_size).text))
        x, y = ids[None, :-1], ids[None, 1:]
    else:
        x, y = fixed_windows(val_ids, model.config.block_size, n_windows, seed=2)
    x, y = x.to(device), y.to(device)
    base = float(lm_loss(model(x), y))
    try:
        model.set_head_mask(layer, head)
        ablated = float(lm_loss(model(x), y))
    finally:
        model.set_head_mask()
    return {"loss": base, "ablated": ablated, "delta": ablated - base, "layer": layer, "head": head}


@torch.no_grad()
def ablation_table(model: CharGPT, vocab: CharVocab, n_windows: int = 16, device: str = "cpu") -> np.ndarray:
    """Loss increase from zeroing each head in turn, [n_layer, n_head]."""
    c = model.config
    return np.array([[ablate_head(model, vocab, l, h, n_windows=n_windows, device=device)["delta"]
                      for h in range(c.n_head)] for l in range(c.n_layer)])
