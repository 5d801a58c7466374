"""8.2 Word embeddings: word2vec skip-gram with negative sampling, trained live on the Python
reference (pydoc_data.topics), then nearest neighbours by cosine similarity and a 2-D PCA map."""
from __future__ import annotations

import math
import re
import threading
from dataclasses import asdict, dataclass, field

import numpy as np
import plotly.graph_objects as go
import torch
from torch.nn import functional as F
from torch.utils.data import DataLoader, IterableDataset

from core import nets
from core.data import ch08_text as textdata
from core.device import seed_everything
from core.errors import Emit, HeroError
from core.lessons import trainer
from core.lessons.ch08_nlp.presets import PRESETS
from core.lessons.ch08_nlp.tokens import PAD, UNK, Vocab, build_vocab
from core.nets.skipgram import sgns_loss
from core.train import NaNGuard, amp_callbacks, finished_ok, fit


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
    device: str = "cpu"       # where the model and batches live ("cuda", "mps", "cpu")


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
        return finished_ok(self.end)


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
    dataset = _SkipGramBatches(ids, counts, s)
    batches = DataLoader(dataset, batch_size=None)
    # pairs per epoch vary with the subsampling: expect kept tokens × (window + 1) pairs (mean span)
    expected = float(dataset.keep_prob[ids].sum()) * (s.window + 1)
    total_steps = s.epochs * max(1, math.ceil(expected / s.batch_size))
    device = torch.device(s.device)
    model = nets.build("ch08_skipgram", {"vocab_size": len(vocab), "dim": s.dim}).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=s.lr)
    losses, end = [], {}
    for event in fit(model, batches, None, optimizer=optimizer, loss_fn=sgns_loss, epochs=s.epochs,
                     seed=s.seed, device=device, callbacks=[*amp_callbacks(device), NaNGuard()],
                     stop_event=stop_event):
        if event["kind"] == "step":
            losses.append(event["loss"])
            if event["step"] % 20:
                continue                           # stream every 20th step; the curve stays light
            event = {**event, "total_steps": max(total_steps, event["step"])}   # an estimate, for the bar
        if event["kind"] == "end":
            end = event
        emit(event)
    # word vector = centre + context table (a standard trick), minus the mean vector: early in training
    # every vector shares one common direction, which would make all cosine similarities look high
    vectors = (model.center.weight + model.context.weight).detach().float().cpu()
    return SkipGramResult(vectors - vectors[2:].mean(0), vocab, losses, end, asdict(s))


@trainer("ch08_skipgram")
def _check_skipgram(device: str, preset: str) -> dict:
    P = PRESETS[preset]
    r = train_skipgram(SkipGramSettings(epochs=P["sg_epochs"], max_tokens=P["sg_max_tokens"], device=device))
    return {"first_loss": r.losses[0], "last_loss": r.losses[-1], "steps": len(r.losses)}


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
