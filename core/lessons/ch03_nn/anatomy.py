"""3.1 nn.Module: the anatomy of a small module — children, parameters, forward, hooks."""
from __future__ import annotations

import numpy as np
import torch
from torch import nn


# =========================================================================== 3.1 nn.Module

class TinyNet(nn.Module):
    """The smallest useful module: x [B, 64] (a flattened 8×8 digit) → logits [B, 10]."""

    def __init__(self, hidden: int = 16):
        super().__init__()
        self.hidden = nn.Linear(64, hidden)   # a child module: registered because it is an attribute
        self.act = nn.ReLU()
        self.out = nn.Linear(hidden, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(self.act(self.hidden(x)))


def module_anatomy(image: np.ndarray, hidden: int = 16, seed: int = 0) -> dict:
    """Build TinyNet and show what nn.Module gives it: children, parameters, forward vs __call__.

    image: float [8, 8] digit. Returns the printed module, children, parameter names/shapes,
    logits [10], and how many times a forward hook fired for ``model(x)`` vs ``model.forward(x)``.
    """
    torch.manual_seed(seed)
    model = TinyNet(hidden)
    fired = []
    model.register_forward_hook(lambda mod, inp, out: fired.append(tuple(out.shape)))
    x = torch.tensor(np.array(image, dtype=np.float32)).reshape(1, 64)
    with torch.no_grad():
        logits = model(x)            # __call__: runs hooks, then forward
        calls_via_call = len(fired)
        model.forward(x)             # forward directly: hooks are skipped
    return {
        "repr": str(model),
        "children": [(name, type(child).__name__) for name, child in model.named_children()],
        "parameters": [(name, tuple(p.shape), p.numel()) for name, p in model.named_parameters()],
        "n_params": sum(p.numel() for p in model.parameters()),
        "logits": logits[0].numpy(),
        "input_shape": tuple(x.shape), "output_shape": tuple(logits.shape),
        "hook_calls_call": calls_via_call, "hook_calls_forward": len(fired) - calls_via_call,
    }
