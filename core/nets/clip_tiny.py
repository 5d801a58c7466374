"""A tiny CLIP-style model: a small CNN for 8×8 digits and a bag-of-tokens text encoder, both
projecting into one shared, L2-normalised embedding space (ch16.1)."""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from core.nets import register


@dataclass
class TinyCLIPConfig:
    image_size: int = 8          # square grey input side; images arrive flattened [B, size²] or [B, 1, S, S]
    vocab_size: int = 64         # token ids 0..vocab_size-1; id 0 is padding and never contributes
    embed_dim: int = 32          # the shared space both encoders project into
    channels: int = 16           # filters of the image encoder's first conv (second has twice as many)
    text_width: int = 48         # token embedding width before the text projection
    max_tokens: int = 12         # prompt length after padding/cutting
    temperature: float = 0.1     # initial softmax temperature τ (CLIP learns log(1/τ); 0.07 in the paper)


@register("clip_tiny", TinyCLIPConfig,
          example=lambda c: (torch.rand(4, c.image_size ** 2), torch.randint(1, c.vocab_size, (4, c.max_tokens))))
class TinyCLIP(nn.Module):
    """images [B, S²] and tokens [B, L] (int64, 0 = pad) → logits_per_image [B, B] (image i vs text j)."""

    def __init__(self, config: TinyCLIPConfig):
        super().__init__()
        self.config = config
        c = config.channels
        self.image_encoder = nn.Sequential(
            nn.Conv2d(1, c, 3, padding=1), nn.ReLU(),
            nn.Conv2d(c, 2 * c, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(2),
            nn.Flatten(), nn.Linear(2 * c * 4, config.embed_dim),
        )
        self.token_embedding = nn.Embedding(config.vocab_size, config.text_width, padding_idx=0)
        # a masked mean of token vectors, then an MLP: word order is ignored (enough for "the digit seven")
        self.text_projection = nn.Sequential(nn.Linear(config.text_width, config.text_width), nn.GELU(),
                                             nn.Linear(config.text_width, config.embed_dim))
        self.logit_scale = nn.Parameter(torch.tensor(math.log(1.0 / config.temperature)))

    def encode_image(self, images: torch.Tensor) -> torch.Tensor:
        """[B, S²] or [B, 1, S, S] → unit vectors [B, embed_dim]."""
        size = self.config.image_size
        return F.normalize(self.image_encoder(images.reshape(-1, 1, size, size)), dim=-1)

    def encode_text(self, tokens: torch.Tensor) -> torch.Tensor:
        """[B, L] token ids (0 = pad) → unit vectors [B, embed_dim]."""
        mask = (tokens != 0).unsqueeze(-1).to(self.token_embedding.weight.dtype)     # [B, L, 1]
        summed = (self.token_embedding(tokens) * mask).sum(1)
        mean = summed / mask.sum(1).clamp_min(1.0)
        return F.normalize(self.text_projection(mean), dim=-1)

    def forward(self, images: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
        # clamp as CLIP does (scale ≤ 100) so the temperature cannot run away
        scale = self.logit_scale.clamp(max=math.log(100.0)).exp()
        return scale * self.encode_image(images) @ self.encode_text(tokens).T
