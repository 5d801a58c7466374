"""LeNet-5 (LeCun et al., 1998): the first CNN to read handwritten digits, in today's PyTorch.

torchvision has no LeNet, so the chapter-7 architecture zoo builds it from here.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from core.nets import register


@dataclass
class LeNetConfig:
    in_channels: int = 1     # the original read grey 32×32 images (MNIST padded by 2 pixels)
    n_classes: int = 10      # ten digits
    image_size: int = 32     # flattened inputs [B, C·size²] are reshaped to this square


@register("lenet5", LeNetConfig, example=lambda c: (torch.rand(4, c.in_channels * c.image_size ** 2),))
class LeNet5(nn.Module):
    """x: [B, C, 32, 32] (or flattened) → logits [B, n_classes].

    conv 5×5 (6) → pool → conv 5×5 (16) → pool → 120 → 84 → classes; tanh as in 1998,
    max-pooling instead of the original trainable sub-sampling.
    """

    def __init__(self, config: LeNetConfig):
        super().__init__()
        self.config = config
        self.features = nn.Sequential(
            nn.Conv2d(config.in_channels, 6, 5), nn.Tanh(), nn.MaxPool2d(2),   # 32 → 28 → 14
            nn.Conv2d(6, 16, 5), nn.Tanh(), nn.MaxPool2d(2),                    # 14 → 10 → 5
        )
        # adaptive pooling keeps the 16·5·5 = 400 features the classifier expects at any input ≥ 32
        self.pool = nn.AdaptiveAvgPool2d(5)
        self.classifier = nn.Sequential(nn.Flatten(), nn.Linear(400, 120), nn.Tanh(),
                                        nn.Linear(120, 84), nn.Tanh(), nn.Linear(84, config.n_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim == 2:
            s = self.config.image_size
            x = x.reshape(-1, self.config.in_channels, s, s)
        return self.classifier(self.pool(self.features(x)))
