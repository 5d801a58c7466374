"""Chapter 8 word2vec: skip-gram with negative sampling (centre and context tables) and its loss."""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

from core.nets import register


@dataclass
class SkipGramConfig:
    vocab_size: int = 2000   # the most frequent words of the corpus
    dim: int = 48            # vector size; 2-D plots come from a PCA of these


@register("ch08_skipgram", SkipGramConfig,
          example=lambda c: (torch.randint(0, c.vocab_size, (2, 2 + 5)),))
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
