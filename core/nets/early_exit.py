"""An early-exit MLP: data-dependent control flow, the case that separates trace, script and export."""

from dataclasses import dataclass

import torch
from torch import nn

from core.nets import register


@dataclass
class EarlyExitConfig:
    in_features: int = 64      # flattened 8×8 digit
    hidden: int = 32           # width of both hidden layers
    n_classes: int = 10        # output logits
    threshold: float = 0.5     # exit early when the first head's lowest top-probability in the batch exceeds this
    use_cond: bool = False     # express the branch with torch.cond so torch.export can capture both sides


@register("early_exit_mlp", EarlyExitConfig, example=lambda c: (torch.rand(2, c.in_features),))
class EarlyExitMLP(nn.Module):
    """x: [B, in_features] (or [B, 1, 8, 8]) → logits [B, n_classes].

    Easy batches leave after the first layer (cheap head); hard ones go through the second
    layer (deep head). Which branch runs depends on the *values* of x, not its shape.
    """

    def __init__(self, config: EarlyExitConfig):
        super().__init__()
        self.config = config
        self.threshold = float(config.threshold)   # plain attributes: TorchScript cannot read the dataclass
        self.use_cond = bool(config.use_cond)
        self.body = nn.Sequential(nn.Linear(config.in_features, config.hidden), nn.ReLU())
        self.early_head = nn.Linear(config.hidden, config.n_classes)
        self.deep = nn.Sequential(nn.Linear(config.hidden, config.hidden), nn.ReLU(),
                                  nn.Linear(config.hidden, config.n_classes))

    def confidence(self, x):
        """The early head's lowest top-probability over the batch: a scalar tensor."""
        h = self.body(x.reshape(x.shape[0], -1))
        return self.early_head(h).softmax(-1).amax(-1).amin()

    def forward(self, x):   # no annotations: TorchScript reads unannotated args as Tensor, even as strings
        h = self.body(x.reshape(x.shape[0], -1))
        early = self.early_head(h)
        confident = early.softmax(-1).amax(-1).amin() > self.threshold
        if self.use_cond:
            return self._cond(confident, early, h)
        if bool(confident):        # a Python `if` on a tensor value: trace records only the branch it saw
            return early
        return self.deep(h)

    @torch.jit.unused
    def _cond(self, confident, early, h):
        """Both branches as functions: torch.export keeps both in the graph and picks at run time."""
        return torch.cond(confident, lambda e, h: e.clone(), lambda e, h: self.deep(h), (early, h))
