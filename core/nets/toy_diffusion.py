"""A small MLP that predicts the noise added to 2-D points (the toy diffusion of chapter 12)."""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from core.nets import register


@dataclass
class ToyDenoiserConfig:
    hidden: int = 128            # width of each hidden layer; 2-D data needs little capacity
    depth: int = 3               # hidden layers; 3 is enough to bend noise into rings and spirals
    time_dim: int = 32           # sinusoidal features of t, so one net serves every noise level
    train_timesteps: int = 100   # T of the forward process; 2-D points need far fewer steps than images


def time_features(t: torch.Tensor, dim: int, max_t: int) -> torch.Tensor:
    """t [B] → [B, dim] sines and cosines at geometric frequencies (the Transformer position code)."""
    half = dim // 2
    freqs = torch.exp(-math.log(1000.0) * torch.arange(half, device=t.device) / half)
    angles = (t.float() / max_t * 1000.0)[:, None] * freqs[None]
    return torch.cat([angles.sin(), angles.cos()], dim=1)


@register("toy_denoiser", ToyDenoiserConfig,
          example=lambda c: (torch.randn(2, 2), torch.tensor([0, c.train_timesteps - 1])))
class ToyDenoiser(nn.Module):
    """x: noisy points [B, 2], t: timesteps [B] → predicted noise [B, 2]."""

    def __init__(self, config: ToyDenoiserConfig):
        super().__init__()
        self.config = config
        layers: list[nn.Module] = []
        width = 2 + config.time_dim
        for _ in range(config.depth):
            layers += [nn.Linear(width, config.hidden), nn.SiLU()]
            width = config.hidden
        self.net = nn.Sequential(*layers, nn.Linear(width, 2))

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        emb = time_features(t, self.config.time_dim, self.config.train_timesteps)
        return self.net(torch.cat([x, emb], dim=1))
