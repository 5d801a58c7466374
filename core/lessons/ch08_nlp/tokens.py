"""8.1 Tokens, vocabulary, padding: a regex tokenizer (English words, every Chinese character on
its own), a frequency vocabulary with <pad>/<unk>, padded batches with masks, nn.Embedding as a lookup."""
from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field

import numpy as np
import plotly.graph_objects as go
import torch
from torch import nn
from torch.nn import functional as F

from core.errors import HeroError

MAX_TEXT_CHARS = 2000     # pasted text beyond this is cut (and the page says so)
MAX_LINES = 8             # the tokenizer demo pads at most this many lines into one batch
PAD, UNK, BOS, EOS = "<pad>", "<unk>", "<bos>", "<eos>"

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
