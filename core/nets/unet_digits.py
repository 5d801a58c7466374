"""The diffusers ``UNet2DModel`` behind the chapter 12 digit DDPM, as a registered net.

The UNet itself comes from the library, not re-implemented; this wrapper only gives it a
``@dataclass`` config (so a checkpoint rebuilds it) and the diffusion schedule it was trained
with (so a sampler rebuilds the matching ``DDPMScheduler`` / ``DDIMScheduler``).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from core.nets import register


@dataclass
class UNetDigitsConfig:
    image_size: int = 16                      # MNIST downsampled 28→16: 3× fewer pixels, sampling stays in seconds on a CPU
    channels: tuple = (16, 32, 64)            # widths per resolution 16→8→4; the 4×4 level sees the whole digit
    layers_per_block: int = 1                 # one ResNet block per level keeps a training step ≈ 0.2 s on one core
    norm_groups: int = 8                      # GroupNorm groups; must divide every width
    train_timesteps: int = 1000               # T of the forward process the net was trained on
    beta_schedule: str = "squaredcos_cap_v2"  # cosine schedule: small images lose their signal too fast with the linear one


def _unet_example(c: UNetDigitsConfig) -> tuple:
    return (torch.randn(2, 1, c.image_size, c.image_size), torch.tensor([0, c.train_timesteps - 1]))


@register("unet_digits", UNetDigitsConfig, example=_unet_example)
class UNetDigits(nn.Module):
    """x: noisy images [B, 1, S, S] in [-1, 1], t: timesteps [B] (long) → predicted noise [B, 1, S, S]."""

    def __init__(self, config: UNetDigitsConfig):
        super().__init__()
        from diffusers import UNet2DModel   # heavy import: only when a diffusion model is built
        self.config = config
        n = len(config.channels)
        self.unet = UNet2DModel(sample_size=config.image_size, in_channels=1, out_channels=1,
                                block_out_channels=tuple(config.channels), layers_per_block=config.layers_per_block,
                                down_block_types=("DownBlock2D",) * n, up_block_types=("UpBlock2D",) * n,
                                norm_num_groups=config.norm_groups)

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return self.unet(x, t).sample
