"""A deep, uniform-width MLP with switchable BatchNorm, dropout and initialisation.

Chapter 9 uses it to show what regularisation does (dropout, BatchNorm) and what a bad
initialisation does to the signal flowing through many layers (hooks on every block).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from core.nets import register

ACTIVATIONS: dict[str, type[nn.Module]] = {"relu": nn.ReLU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid}
INITS = ("default", "kaiming", "tiny", "large")


@dataclass
class DeepMLPConfig:
    in_features: int = 64       # 64 for flattened 8×8 digits
    width: int = 64             # every hidden layer has the same width, so per-layer statistics compare like with like
    depth: int = 6              # hidden layers: deep enough for vanishing/exploding signals to show
    out_features: int = 10      # number of classes (logits out)
    activation: str = "relu"    # a key of ACTIVATIONS
    batchnorm: bool = False     # BatchNorm1d between each Linear and its activation (re-centres every layer)
    dropout: float = 0.0        # dropout after each activation; 0 disables it
    init: str = "default"       # "default" (PyTorch's), "kaiming" (He normal), "tiny" (N(0, 0.01²): signal
                                # vanishes), "large" (N(0, 1): signal explodes, ReLUs die)

    def __post_init__(self):
        if self.activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}")
        if self.init not in INITS:
            raise ValueError(f"init must be one of {INITS}")


@register("deep_mlp", DeepMLPConfig, example=lambda c: (torch.randn(4, c.in_features),))
class DeepMLP(nn.Module):
    """x: [B, in_features] (or any shape flattening to it) → logits [B, out_features].

    ``blocks[i]`` is hidden layer i: Linear → (BatchNorm) → activation → (Dropout).
    """

    def __init__(self, config: DeepMLPConfig):
        super().__init__()
        self.config = config
        blocks = []
        width_in = config.in_features
        for _ in range(config.depth):
            layers: list[nn.Module] = [nn.Linear(width_in, config.width)]
            if config.batchnorm:
                layers.append(nn.BatchNorm1d(config.width))
            layers.append(ACTIVATIONS[config.activation]())
            if config.dropout > 0:
                layers.append(nn.Dropout(config.dropout))
            blocks.append(nn.Sequential(*layers))
            width_in = config.width
        self.blocks = nn.ModuleList(blocks)
        self.head = nn.Linear(width_in, config.out_features)
        self._init_weights()

    @torch.no_grad()
    def _init_weights(self) -> None:
        if self.config.init == "default":
            return
        for module in self.modules():
            if isinstance(module, nn.Linear):
                if self.config.init == "kaiming":
                    nn.init.kaiming_normal_(module.weight, nonlinearity="relu")
                else:
                    nn.init.normal_(module.weight, 0.0, 0.01 if self.config.init == "tiny" else 1.0)
                nn.init.zeros_(module.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.flatten(1)
        for block in self.blocks:
            x = block(x)
        return self.head(x)
