"""Chapter 8 text models: an LSTM/GRU sentence classifier, a seq2seq GRU with attention, skip-gram."""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

from core.nets import register


@dataclass
class RNNClassifierConfig:
    vocab_size: int = 3000   # token ids 0 = <pad>, 1 = <unk>, then the most frequent tokens
    embed_dim: int = 64      # small: 35k short reviews do not support more on a CPU minute
    hidden: int = 64         # RNN state size
    cell: str = "gru"        # "gru" or "lstm" (the 实战 lets the visitor choose)
    n_classes: int = 2       # negative / positive
    dropout: float = 0.2     # on the pooled features; the Chinese set overfits otherwise


@register("ch08_rnn_classifier", RNNClassifierConfig)
class RNNClassifier(nn.Module):
    """ids [B, L] (0 = padding) → logits [B, n_classes].

    The RNN's outputs [B, L, H] are max-pooled over the real (unpadded) steps, so padding
    never changes a prediction and long reviews are not judged by their last word alone.
    """

    def __init__(self, config: RNNClassifierConfig):
        super().__init__()
        self.config = config
        self.embedding = nn.Embedding(config.vocab_size, config.embed_dim, padding_idx=0)
        rnn = nn.LSTM if config.cell == "lstm" else nn.GRU
        self.rnn = rnn(config.embed_dim, config.hidden, batch_first=True)
        self.dropout = nn.Dropout(config.dropout)
        self.head = nn.Linear(config.hidden, config.n_classes)

    def forward_embedded(self, emb: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """emb [B, L, E], mask [B, L] (True = real token) → logits [B, C]."""
        out, _ = self.rnn(emb)                                  # [B, L, H]
        out = out.masked_fill(~mask.unsqueeze(-1), -1e4)        # padding can never win the max
        return self.head(self.dropout(out.max(1).values))

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        ids = ids.long()
        mask = ids != 0
        mask[:, 0] |= ~mask.any(1)        # an all-padding row still has one step to pool
        return self.forward_embedded(self.embedding(ids), mask)


@dataclass
class Seq2SeqConfig:
    src_vocab: int = 64      # source tokens (number words / date words / digits)
    tgt_vocab: int = 16      # target characters: digits, '-', plus <pad>/<unk>/<bos>/<eos>
    src_len: int = 16        # padded source length; inputs arrive as [src | target-in] side by side
    embed_dim: int = 48      # token embeddings, encoder and decoder
    hidden: int = 96         # GRU state size (the encoder is bidirectional: 2 × hidden/2)


@register("ch08_seq2seq", Seq2SeqConfig)
class Seq2SeqAttention(nn.Module):
    """A bidirectional GRU encoder and a GRU decoder with (Luong, dot-product) attention.

    forward(x): x = cat([src [B, S], tgt_in [B, T]], 1) (long; 0 = <pad>) → logits [B, T, V]
    (teacher forcing: the decoder reads the true previous character). ``decode`` is greedy.
    """

    BOS, EOS = 2, 3

    def __init__(self, config: Seq2SeqConfig):
        super().__init__()
        self.config = config
        h = config.hidden
        self.src_embed = nn.Embedding(config.src_vocab, config.embed_dim, padding_idx=0)
        self.tgt_embed = nn.Embedding(config.tgt_vocab, config.embed_dim, padding_idx=0)
        self.encoder = nn.GRU(config.embed_dim, h // 2, batch_first=True, bidirectional=True)
        self.decoder = nn.GRU(config.embed_dim + h, h, batch_first=True)
        self.bridge = nn.Linear(h, h)
        self.out = nn.Linear(2 * h, config.tgt_vocab)

    def encode(self, src: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """src [B, S] → memory [B, S, H], its mask [B, S], initial decoder state [1, B, H]."""
        mask = src != 0
        memory, _ = self.encoder(self.src_embed(src))
        mean = (memory * mask.unsqueeze(-1)).sum(1) / mask.sum(1, keepdim=True).clamp(min=1)
        return memory, mask, torch.tanh(self.bridge(mean)).unsqueeze(0)

    def step(self, prev: torch.Tensor, context: torch.Tensor, state: torch.Tensor, memory: torch.Tensor,
             mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """One decoder step. prev [B] ids, context [B, H] → logits [B, V], new context, state, attention [B, S]."""
        # 1. read the previous character together with the previous context (input feeding)
        inp = torch.cat([self.tgt_embed(prev), context], -1).unsqueeze(1)
        out, state = self.decoder(inp, state)                  # out [B, 1, H]
        # 2. score every source position against the decoder state, softmax over real positions
        scores = (memory @ out.transpose(1, 2)).squeeze(-1)     # [B, S]
        attn = scores.masked_fill(~mask, float("-inf")).softmax(-1)
        # 3. context = attention-weighted source summary; predict from [state, context]
        context = (attn.unsqueeze(1) @ memory).squeeze(1)       # [B, H]
        logits = self.out(torch.cat([out.squeeze(1), context], -1))
        return logits, context, state, attn

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.long()
        src, tgt_in = x[:, :self.config.src_len], x[:, self.config.src_len:]
        memory, mask, state = self.encode(src)
        context = torch.zeros(src.shape[0], memory.shape[-1])
        logits = []
        for t in range(tgt_in.shape[1]):
            step_logits, context, state, _ = self.step(tgt_in[:, t], context, state, memory, mask)
            logits.append(step_logits)
        return torch.stack(logits, 1)

    @torch.no_grad()
    def decode(self, src: torch.Tensor, max_len: int = 12) -> tuple[torch.Tensor, torch.Tensor]:
        """Greedy decoding. src [B, S] → ids [B, max_len] (0 after <eos>), attention [B, max_len, S]."""
        memory, mask, state = self.encode(src)
        B = src.shape[0]
        context = torch.zeros(B, memory.shape[-1])
        prev = torch.full((B,), self.BOS, dtype=torch.long)
        done = torch.zeros(B, dtype=torch.bool)
        ids, attns = [], []
        for _ in range(max_len):
            logits, context, state, attn = self.step(prev, context, state, memory, mask)
            prev = logits.argmax(-1)
            ids.append(prev.masked_fill(done, 0))
            attns.append(attn)
            done |= prev == self.EOS
            if bool(done.all()):
                break
        return torch.stack(ids, 1), torch.stack(attns, 1)


@dataclass
class SkipGramConfig:
    vocab_size: int = 2000   # the most frequent words of the corpus
    dim: int = 48            # vector size; 2-D plots come from a PCA of these


@register("ch08_skipgram", SkipGramConfig)
class SkipGram(nn.Module):
    """Word2vec skip-gram with negative sampling (two embedding tables: centre and context).

    x [B, 2 + K] = (centre, true context, K sampled negatives) → scores [B, 1 + K]
    (dot products; a logistic loss wants the first high and the rest low).
    """

    def __init__(self, config: SkipGramConfig):
        super().__init__()
        self.config = config
        self.center = nn.Embedding(config.vocab_size, config.dim)
        self.context = nn.Embedding(config.vocab_size, config.dim)
        nn.init.uniform_(self.center.weight, -0.5 / config.dim, 0.5 / config.dim)
        nn.init.zeros_(self.context.weight)   # word2vec's own initialisation

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.long()
        c = self.center(x[:, 0])                   # [B, D]
        others = self.context(x[:, 1:])            # [B, 1 + K, D]
        return (others @ c.unsqueeze(-1)).squeeze(-1)


def sgns_loss(scores: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Negative-sampling loss: −log σ(s_pos) − Σ log σ(−s_neg). scores/target [B, 1 + K]."""
    return F.binary_cross_entropy_with_logits(scores, target.float(), reduction="sum") / scores.shape[0]
