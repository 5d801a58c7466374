"""A small actor-critic MLP for discrete-action control (CartPole in ch16.2): a shared trunk,
a policy head (action logits) and a value head (the REINFORCE baseline)."""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from core.nets import register


@dataclass
class PolicyMLPConfig:
    obs_dim: int = 4         # CartPole: cart position, cart velocity, pole angle, pole angular velocity
    n_actions: int = 2       # CartPole: push left, push right
    hidden: int = 64         # trunk width; 64 is plenty for CartPole


@register("policy_mlp", PolicyMLPConfig, example=lambda c: (torch.randn(4, c.obs_dim),))
class PolicyMLP(nn.Module):
    """obs [B, obs_dim] → (action logits [B, n_actions], state value [B])."""

    def __init__(self, config: PolicyMLPConfig):
        super().__init__()
        self.config = config
        self.trunk = nn.Sequential(nn.Linear(config.obs_dim, config.hidden), nn.Tanh(),
                                   nn.Linear(config.hidden, config.hidden), nn.Tanh())
        self.policy = nn.Linear(config.hidden, config.n_actions)
        self.value = nn.Linear(config.hidden, 1)

    def forward(self, obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.trunk(obs)
        return self.policy(h), self.value(h).squeeze(-1)
