"""DCGAN for 28×28 digits (Radford et al. 2015, scaled down): transposed convolutions up from a
latent vector (then one 3×3 convolution at 28×28), strided convolutions down to one logit,
BatchNorm in both, no pooling."""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from core.nets import register


@dataclass
class DCGANConfig:
    latent_dim: int = 32   # size of z; 32 is plenty for 10 digit classes and keeps interpolation smooth
    width: int = 32        # channels at 14×14 (7×7 has twice as many); 32 trains in about a minute on a CPU


@register("dcgan_generator", DCGANConfig, example=lambda c: (torch.randn(2, c.latent_dim),))
class DCGANGenerator(nn.Module):
    """z: [B, latent_dim] → images [B, 1, 28, 28] in [0, 1]."""

    def __init__(self, config: DCGANConfig):
        super().__init__()
        self.config = config
        w = config.width
        self.project = nn.Sequential(nn.Linear(config.latent_dim, 2 * w * 7 * 7), nn.BatchNorm1d(2 * w * 7 * 7), nn.ReLU())
        h = max(1, w // 2)
        self.up = nn.Sequential(
            nn.ConvTranspose2d(2 * w, w, 4, stride=2, padding=1), nn.BatchNorm2d(w), nn.ReLU(),   # 7 → 14
            nn.ConvTranspose2d(w, h, 4, stride=2, padding=1), nn.BatchNorm2d(h), nn.ReLU(),       # 14 → 28
            # a plain 3×3 convolution draws the pixels: a stride-2 transposed convolution writing them
            # itself leaves a checkerboard the judge reads as noise (measured 2026-12-02, 2,000 steps:
            # 58 % vs 55 % confident, Fréchet 20 vs 29)
            nn.Conv2d(h, 1, 3, padding=1), nn.Sigmoid(),
        )

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.up(self.project(z).reshape(len(z), 2 * self.config.width, 7, 7))


@register("dcgan_discriminator", DCGANConfig, example=lambda c: (torch.rand(2, 1, 28, 28),))
class DCGANDiscriminator(nn.Module):
    """images [B, 1, 28, 28] (or [B, 784]) → logits [B, 1] ("real")."""

    def __init__(self, config: DCGANConfig):
        super().__init__()
        self.config = config
        w = config.width
        self.net = nn.Sequential(
            nn.Conv2d(1, w, 4, stride=2, padding=1), nn.LeakyReLU(0.2),                           # 28 → 14
            nn.Conv2d(w, 2 * w, 4, stride=2, padding=1), nn.BatchNorm2d(2 * w), nn.LeakyReLU(0.2),  # 14 → 7
            nn.Flatten(), nn.Linear(2 * w * 7 * 7, 1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x.reshape(-1, 1, 28, 28))
