"""A tiny ResNet for 32×32 colour images: the chapter-7 transfer-learning backbone.

Same shape of idea as torchvision's resnet18 (a stem, stages of residual BasicBlocks, global
average pooling, one linear head) at about 1/150 of its size, so it trains on 2 CPU cores in
about a minute. Its stages are named so transfer learning can freeze them group by group.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from core.nets import register


@dataclass
class TinyResNetConfig:
    in_channels: int = 3               # RGB: uploaded photos fit as they are; grey images are repeated ×3
    image_size: int = 32               # recipes feed flattened rows [B, C·size²]; they are reshaped to this
    widths: tuple = (16, 32, 64)       # channels of stage 1, 2, 3 (at 16², 8², 4² for a 32² input)
    n_classes: int = 10                # logits of the head (replaced when transferring to a new task)


class BasicBlock(nn.Module):
    """Two 3×3 convs with a shortcut: out = relu(F(x) + x). A 1×1 conv matches shapes when
    the block changes width or stride (He et al., 2015)."""

    def __init__(self, c_in: int, c_out: int, stride: int = 1):
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.shortcut = nn.Identity() if stride == 1 and c_in == c_out else nn.Sequential(
            nn.Conv2d(c_in, c_out, 1, stride, bias=False), nn.BatchNorm2d(c_out))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = torch.relu(self.bn1(self.conv1(x)))
        return torch.relu(self.bn2(self.conv2(out)) + self.shortcut(x))


@register("tiny_resnet", TinyResNetConfig,
          example=lambda c: (torch.rand(4, c.in_channels * c.image_size ** 2),))
class TinyResNet(nn.Module):
    """x: [B, C, S, S] or flattened [B, C·S²] → logits [B, n_classes]."""

    GROUPS = ("stem", "layer1", "layer2", "layer3")   # in forward order; the head is ``fc``

    def __init__(self, config: TinyResNetConfig):
        super().__init__()
        self.config = config
        w1, w2, w3 = config.widths
        # stride-2 stem, like resnet18's: 32×32 → 16×16 at once, so the blocks cost 4× less
        self.stem = nn.Sequential(nn.Conv2d(config.in_channels, w1, 3, 2, 1, bias=False),
                                  nn.BatchNorm2d(w1), nn.ReLU())
        self.layer1 = BasicBlock(w1, w1)
        self.layer2 = BasicBlock(w1, w2, stride=2)
        self.layer3 = BasicBlock(w2, w3, stride=2)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(w3, config.n_classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The backbone: images → feature vectors [B, widths[-1]]."""
        if x.ndim == 2:
            s = self.config.image_size
            x = x.reshape(-1, self.config.in_channels, s, s)
        for name in self.GROUPS:
            x = getattr(self, name)(x)
        return self.pool(x).flatten(1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.features(x))
