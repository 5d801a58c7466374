"""8.5 Seq2seq with attention: number words and dates (English and Chinese) → digits, with a
bidirectional GRU encoder, a GRU decoder with dot-product attention, and greedy decoding."""
from __future__ import annotations

import random
import threading
from dataclasses import asdict, dataclass

import numpy as np
import plotly.graph_objects as go
import torch
from torch import nn
from torch.nn import functional as F

from core import nets
from core.data import ch08_text as textdata
from core.device import seed_everything
from core.errors import Emit, HeroError
from core.lessons import trainer
from core.lessons.ch08_nlp.presets import PRESETS
from core.lessons.ch08_nlp.tokens import BOS, EOS, PAD, UNK, Vocab, build_vocab, clean_text, pad_batch, tokenize
from core.train import Callback, NaNGuard, amp_callbacks, finished_ok, fit, record

TASKS = ("num_en", "num_zh", "date_en", "date_zh")
TGT_CHARS = list("0123456789-")
MAX_SRC = 16              # source tokens kept (longer input is cut, and the page says so)
MAX_TGT = 12              # "2021-03-05" + <eos>


def task_pair(task: str, rng: random.Random) -> tuple[str, str]:
    """One (source text, target digits) example of ``task``."""
    if task.startswith("num"):
        n = rng.randrange(1000) if rng.random() < 0.5 else rng.randrange(10000)
        words = textdata.number_words_en(n) if task == "num_en" else textdata.number_words_zh(n)
        return words, str(n)
    y, m = rng.randrange(1950, 2050), rng.randrange(1, 13)
    d = rng.randrange(1, 29 if m == 2 else 31 if m in (4, 6, 9, 11) else 32)
    words = textdata.date_words_en(y, m, d) if task == "date_en" else textdata.date_words_zh(y, m, d)
    return words, f"{y:04d}-{m:02d}-{d:02d}"


def src_tokens(text: str) -> list[str]:
    return tokenize(text, split_digits=True)


@dataclass
class Seq2SeqTask:
    task: str
    src_vocab: Vocab
    tgt_vocab: Vocab
    train: list[tuple[str, str]]
    val: list[tuple[str, str]]

    def encode_src(self, texts: list[str]) -> torch.Tensor:
        ids, _ = pad_batch([self.src_vocab.encode(src_tokens(t))[:MAX_SRC] for t in texts])
        return F.pad(ids, (0, MAX_SRC - ids.shape[1]))                   # [B, MAX_SRC]

    def encode_tgt(self, targets: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
        """Teacher-forcing input (<bos> + chars) and output (chars + <eos>), each [B, MAX_TGT]."""
        bos, eos = self.tgt_vocab.stoi[BOS], self.tgt_vocab.stoi[EOS]
        chars = [self.tgt_vocab.encode(list(t)) for t in targets]
        tin, _ = pad_batch([[bos] + c for c in chars])
        tout, _ = pad_batch([c + [eos] for c in chars])
        return F.pad(tin, (0, MAX_TGT - tin.shape[1])), F.pad(tout, (0, MAX_TGT - tout.shape[1]))

    def tensors(self, pairs: list[tuple[str, str]]) -> tuple[torch.Tensor, torch.Tensor]:
        src = self.encode_src([p[0] for p in pairs])
        tin, tout = self.encode_tgt([p[1] for p in pairs])
        return torch.cat([src, tin], 1), tout


def make_task(task: str, n_pairs: int, seed: int = 0, val_fraction: float = 0.15) -> Seq2SeqTask:
    """Distinct generated pairs, split so validation sources never appear in training."""
    if task not in TASKS:
        raise HeroError("ch08.unknown_task", task=task)
    rng = random.Random(seed)
    pairs = dict(task_pair(task, rng) for _ in range(n_pairs * 3))
    pairs = list(pairs.items())[:n_pairs]
    n_val = max(20, int(len(pairs) * val_fraction))
    # every word the task can produce is in the source vocabulary, so only typos become <unk>
    lexicon = [src_tokens(task_pair(task, random.Random(s))[0]) for s in range(3000)]
    src_vocab = build_vocab(lexicon + [src_tokens(p[0]) for p in pairs])
    tgt_vocab = Vocab([PAD, UNK, BOS, EOS] + TGT_CHARS)
    return Seq2SeqTask(task, src_vocab, tgt_vocab, pairs[n_val:], pairs[:n_val])


def seq2seq_loss(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Cross-entropy per character; padding after <eos> does not count. logits [B, T, V], target [B, T]."""
    return F.cross_entropy(logits.transpose(1, 2), target, ignore_index=0)


def decode_strings(model: nn.Module, task: Seq2SeqTask, src: torch.Tensor) -> tuple[list[str], torch.Tensor]:
    """Greedy decode src [B, S] → output strings and attention [B, T_out, S] (on the CPU), on
    whichever device the model lives."""
    was_training = model.training
    model.eval()
    ids, attn = model.decode(src.to(next(model.parameters()).device), MAX_TGT)
    model.train(was_training)
    ids, attn = ids.cpu(), attn.float().cpu()
    eos = task.tgt_vocab.stoi[EOS]
    outs = []
    for row in ids.tolist():
        chars = []
        for i in row:
            if i in (eos, 0):
                break
            chars.append(task.tgt_vocab.itos[i])
        outs.append("".join(c for c in chars if c in TGT_CHARS))
    return outs, attn


def exact_match(model: nn.Module, task: Seq2SeqTask, pairs: list[tuple[str, str]]) -> float:
    """Share of sources whose greedy output equals the target exactly."""
    outs, _ = decode_strings(model, task, task.encode_src([p[0] for p in pairs]))
    return float(np.mean([o == p[1] for o, p in zip(outs, pairs)]))


class ExactMatch(Callback):
    """Adds ``val_exact`` (greedy decoding, whole-string match) to every evaluation."""

    def __init__(self, task: Seq2SeqTask):
        self.task = task

    def on_eval(self, state, metrics):
        metrics["val_exact"] = exact_match(state.model, self.task, self.task.val)


@dataclass
class Seq2SeqSettings:
    task: str = "num_en"
    n_pairs: int = 4000
    epochs: int = 14
    batch_size: int = 64
    lr: float = 3e-3
    hidden: int = 96
    seed: int = 0
    device: str = "cpu"       # where the model and batches live ("cuda", "mps", "cpu")


@dataclass
class Seq2SeqResult:
    model: nn.Module
    task: Seq2SeqTask
    history: list[dict]
    end: dict
    settings: dict

    @property
    def ok(self) -> bool:
        return finished_ok(self.end)


def train_seq2seq(s: Seq2SeqSettings, stop_event: threading.Event | None = None,
                  emit: Emit | None = None) -> Seq2SeqResult:
    """Train the attention seq2seq on a generated task; eval events carry ``val_exact``."""
    emit = emit or (lambda e: None)
    seed_everything(s.seed)
    task = make_task(s.task, s.n_pairs, s.seed)
    X, y = task.tensors(task.train)
    Xv, yv = task.tensors(task.val)
    device = torch.device(s.device)
    model = nets.build("ch08_seq2seq", {"src_vocab": len(task.src_vocab), "tgt_vocab": len(task.tgt_vocab),
                                        "src_len": MAX_SRC, "hidden": s.hidden}).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=s.lr)
    history, end = record(fit(model, (X, y), (Xv, yv), optimizer=optimizer, loss_fn=seq2seq_loss,
                              epochs=s.epochs, batch_size=s.batch_size, seed=s.seed, device=device,
                              callbacks=[*amp_callbacks(device), NaNGuard(), ExactMatch(task)],
                              stop_event=stop_event), emit)
    model.cpu().eval()      # the page translates typed text on the CPU
    return Seq2SeqResult(model, task, history, end, asdict(s))


@trainer("ch08_seq2seq")
def _check_seq2seq(device: str, preset: str) -> dict:
    P = PRESETS[preset]
    r = train_seq2seq(Seq2SeqSettings(epochs=P["s2s_epochs"], n_pairs=P["s2s_pairs"], device=device))
    return {"val_loss": r.end["val_loss"], "val_exact": r.end["val_exact"]}


def translate(result: Seq2SeqResult, text: str) -> dict:
    """A typed source → the model's output, its source tokens (as the model saw them) and attention [T_out, S]."""
    text, _ = clean_text(text, 200)
    tokens = src_tokens(text)
    if not tokens:
        raise HeroError("ch08.no_tokens")
    truncated = len(tokens) > MAX_SRC
    tokens = tokens[:MAX_SRC]
    outs, attn = decode_strings(result.model, result.task, result.task.encode_src([text]))
    seen = [tok if tok in result.task.src_vocab.stoi else UNK for tok in tokens]
    n_out = min(len(outs[0]) + 1, attn.shape[1])          # output characters plus <eos>
    return {"output": outs[0], "tokens": seen, "attention": attn[0, :n_out, :len(tokens)].numpy(),
            "out_tokens": list(outs[0]) + [EOS], "truncated": truncated,
            "unknown": [t for t in tokens if t not in result.task.src_vocab.stoi]}


def attention_figure(attn: np.ndarray, src: list[str], out: list[str]) -> go.Figure:
    fig = go.Figure(go.Heatmap(z=attn, x=[f"{i}:{t}" for i, t in enumerate(src)],
                               y=[f"{i}:{t}" for i, t in enumerate(out[:attn.shape[0]])],
                               colorscale="Blues", zmin=0, zmax=1))
    fig.update_layout(height=360, yaxis_autorange="reversed", margin={"l": 10, "r": 10, "t": 30, "b": 10})
    return fig
