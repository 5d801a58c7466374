"""A small LeNet-style CNN for square grey digit images (8×8 or 28×28)."""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from core.nets import register


@dataclass
class SmallCNNConfig:
    image_size: int = 28     # side of the square input image; inputs arrive flattened [B, size²]
    channels: int = 16       # filters in the first conv; the second has twice as many
    n_classes: int = 10      # output logits
    dropout: float = 0.1     # before the classifier; regularises the 5k-image MNIST subset


@register("small_cnn", SmallCNNConfig, example=lambda c: (torch.rand(4, c.image_size ** 2),))
class SmallCNN(nn.Module):
    """x: [B, size²] or [B, 1, size, size] → logits [B, n_classes]."""

    def __init__(self, config: SmallCNNConfig):
        super().__init__()
        self.config = config
        c = config.channels
        self.features = nn.Sequential(
            nn.Conv2d(1, c, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(c, 2 * c, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(4),
        )
        self.classifier = nn.Sequential(nn.Flatten(), nn.Dropout(config.dropout),
                                        nn.Linear(2 * c * 16, config.n_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        size = self.config.image_size
        return self.classifier(self.features(x.reshape(-1, 1, size, size)))
