"""A multi-layer perceptron: the first model of the book (ch03 builds it, ch05 trains it)."""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from core.nets import register

ACTIVATIONS: dict[str, type[nn.Module]] = {
    "relu": nn.ReLU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid, "gelu": nn.GELU, "leaky_relu": nn.LeakyReLU,
}


@dataclass
class MLPConfig:
    in_features: int = 2            # input width: 2 for toy points, 64 for 8×8 digits, 784 for MNIST
    hidden: tuple[int, ...] = (16, 16)  # width of each hidden layer; () gives logistic regression
    out_features: int = 2           # number of classes (the model outputs logits)
    activation: str = "relu"        # non-linearity between layers, a key of ACTIVATIONS
    dropout: float = 0.0            # dropout after each hidden activation; 0 disables it

    def __post_init__(self):
        self.hidden = tuple(int(h) for h in self.hidden)
        if self.activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}")


@register("mlp", MLPConfig, example=lambda c: (torch.randn(4, c.in_features),))
class MLP(nn.Module):
    """x: [B, in_features] → logits [B, out_features]."""

    def __init__(self, config: MLPConfig):
        super().__init__()
        self.config = config
        layers: list[nn.Module] = []
        width = config.in_features
        for h in config.hidden:
            layers += [nn.Linear(width, h), ACTIVATIONS[config.activation]()]
            if config.dropout > 0:
                layers.append(nn.Dropout(config.dropout))
            width = h
        layers.append(nn.Linear(width, config.out_features))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x.flatten(1))
