"""A tiny Vision Transformer (ViT, Dosovitskiy et al. 2020) for digit images.

    model = TinyViT(TinyViTConfig())           # 8×8 digits in 2×2 patches → 16 tokens + [CLS]
    logits = model(images)                     # images [B, 1, H, W] in [0, 1] (or [B, H·W]) → [B, 10]
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from core.nets import register


@dataclass
class TinyViTConfig:
    image_size: int = 8        # 8 for scikit-learn digits, 28 for MNIST
    patch_size: int = 2        # must divide image_size; (image_size / patch_size)² tokens
    in_channels: int = 1       # greyscale digits
    dim: int = 64              # token width
    depth: int = 2             # encoder layers
    heads: int = 4             # must divide dim
    mlp_dim: int = 128         # feed-forward width inside each layer
    dropout: float = 0.0       # tiny data, short runs: no regularisation needed to see it learn
    n_classes: int = 10        # digits 0-9


@register("tiny_vit", TinyViTConfig, example=lambda c: (torch.rand(2, c.in_channels, c.image_size, c.image_size),))
class TinyViT(nn.Module):
    def __init__(self, config: TinyViTConfig):
        super().__init__()
        c = self.config = config
        if c.image_size % c.patch_size:
            raise ValueError(f"patch_size={c.patch_size} does not divide image_size={c.image_size}")
        if c.dim % c.heads:
            raise ValueError(f"heads={c.heads} does not divide dim={c.dim}")
        self.n_patches = (c.image_size // c.patch_size) ** 2
        # patchify + linear projection in one op: a conv whose kernel and stride are the patch size
        self.patch = nn.Conv2d(c.in_channels, c.dim, kernel_size=c.patch_size, stride=c.patch_size)
        self.cls = nn.Parameter(torch.zeros(1, 1, c.dim))
        self.pos = nn.Parameter(torch.randn(1, self.n_patches + 1, c.dim) * 0.02)
        layer = nn.TransformerEncoderLayer(c.dim, c.heads, c.mlp_dim, c.dropout, activation="gelu",
                                           batch_first=True, norm_first=True)
        self.encoder = nn.TransformerEncoder(layer, c.depth, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(c.dim)
        self.head = nn.Linear(c.dim, c.n_classes)

    def tokens(self, x: torch.Tensor) -> torch.Tensor:
        """images → token sequence [B, 1 + n_patches, dim] ([CLS] first, positions added)."""
        c = self.config
        if x.ndim == 2:                                   # flattened rows, as the digits datasets store them
            x = x.view(-1, c.in_channels, c.image_size, c.image_size)
        t = self.patch(x).flatten(2).transpose(1, 2)      # [B, n_patches, dim]
        return torch.cat((self.cls.expand(len(t), -1, -1), t), 1) + self.pos

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.encoder(self.tokens(x))
        return self.head(self.norm(h[:, 0]))              # classify from the [CLS] token
