"""Chapter 8 sentence classifier: embedding → LSTM/GRU → max-pool over real tokens → logits."""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from core.nets import register


@dataclass
class RNNClassifierConfig:
    vocab_size: int = 3000   # token ids 0 = <pad>, 1 = <unk>, then the most frequent tokens
    embed_dim: int = 64      # small: 35k short reviews do not support more on a CPU minute
    hidden: int = 64         # RNN state size
    cell: str = "gru"        # "gru" or "lstm" (the 实战 lets the visitor choose)
    n_classes: int = 2       # negative / positive
    dropout: float = 0.2     # on the pooled features; the Chinese set overfits otherwise


@register("ch08_rnn_classifier", RNNClassifierConfig,
          example=lambda c: (torch.randint(0, c.vocab_size, (2, 7)),))
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
