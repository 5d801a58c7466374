"""A plain MLP for GANs on 2-D points: the same architecture serves as generator (noise → point)
and discriminator / critic (point → one score)."""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from core.nets import register


@dataclass
class GanMLPConfig:
    in_features: int = 2      # generator: the noise size; discriminator: 2 (a point)
    out_features: int = 2     # generator: 2 (a point); discriminator: 1 (a logit or a critic score)
    hidden: int = 64          # units per hidden layer: 2-D targets need little capacity
    depth: int = 2            # hidden layers
    activation: str = "leaky_relu"   # leaky: a discriminator with dead ReLUs gives the generator no gradient


@register("gan_mlp", GanMLPConfig, example=lambda c: (torch.randn(2, c.in_features),))
class GanMLP(nn.Module):
    """x: [B, in_features] → [B, out_features]."""

    def __init__(self, config: GanMLPConfig):
        super().__init__()
        self.config = config
        act = {"leaky_relu": lambda: nn.LeakyReLU(0.2), "relu": nn.ReLU, "tanh": nn.Tanh}[config.activation]
        layers: list[nn.Module] = []
        width = config.in_features
        for _ in range(config.depth):
            layers += [nn.Linear(width, config.hidden), act()]
            width = config.hidden
        self.net = nn.Sequential(*layers, nn.Linear(width, config.out_features))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)
