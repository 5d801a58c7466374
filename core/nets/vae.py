"""A fully connected VAE for flattened digit images (Kingma & Welling 2013)."""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from core.nets import register


@dataclass
class VAEConfig:
    in_features: int = 784   # flattened image (28×28 MNIST; 64 for the 8×8 sklearn digits)
    hidden: int = 256        # one hidden layer each way: enough for digits, trains in seconds
    latent_dim: int = 2      # 2 so the latent space can be drawn and decoded as a grid


@register("vae_mlp", VAEConfig, example=lambda c: (torch.rand(2, c.in_features),))
class VAE(nn.Module):
    """x: [B, in_features] in [0, 1] → (reconstruction logits [B, in_features], μ [B, latent], log σ² [B, latent])."""

    def __init__(self, config: VAEConfig):
        super().__init__()
        self.config = config
        self.encoder = nn.Sequential(nn.Linear(config.in_features, config.hidden), nn.ReLU())
        self.mu = nn.Linear(config.hidden, config.latent_dim)
        self.log_var = nn.Linear(config.hidden, config.latent_dim)
        self.decoder = nn.Sequential(nn.Linear(config.latent_dim, config.hidden), nn.ReLU(),
                                     nn.Linear(config.hidden, config.in_features))

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.encoder(x.reshape(len(x), -1))
        return self.mu(h), self.log_var(h).clamp(-10, 10)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """z [B, latent] → logits [B, in_features] (sigmoid gives pixel intensities)."""
        return self.decoder(z)

    def forward(self, x: torch.Tensor):
        mu, logvar = self.encode(x)
        # the reparameterisation trick: z = μ + σ·ε keeps sampling differentiable in μ and σ;
        # in eval mode z = μ, so a reconstruction is deterministic
        z = mu + torch.exp(0.5 * logvar) * torch.randn_like(mu) if self.training else mu
        return self.decode(z), mu, logvar
