"""1.4 cat vs stack: which dimension grows, which is new."""
from __future__ import annotations

import torch

from .shapes import check_size


# --------------------------------------------------------------------------- 1.4 cat vs stack

def cat_stack(a_shape: tuple[int, ...], b_shape: tuple[int, ...], dim: int) -> dict:
    """Run ``torch.cat([A, B], dim)`` and ``torch.stack([A, B], dim)`` on real tensors.

    Each entry: ``shape`` of the result, or ``error`` (torch's text) plus ``reason``, a code
    explaining the rule that was broken: cat needs equal sizes except along ``dim``; stack
    needs identical shapes and inserts a new dim (so ``dim`` may be one past the last).
    """
    check_size(a_shape)
    check_size(b_shape)
    a, b = torch.zeros(a_shape), torch.ones(b_shape)
    out = {}
    for name, fn, ndim in (("cat", torch.cat, len(a_shape)), ("stack", torch.stack, len(a_shape) + 1)):
        try:
            r = fn([a, b], dim=dim)
            out[name] = {"shape": tuple(r.shape), "values": r if r.numel() <= 60 else None}
        except (RuntimeError, IndexError) as exc:
            if not -ndim <= dim < ndim:
                reason = "dim_range"
            elif name == "cat" and len(a_shape) != len(b_shape):
                reason = "cat_ndim"
            elif name == "cat":
                reason = "cat_size"
            else:
                reason = "stack_shape"
            out[name] = {"error": str(exc).strip().splitlines()[0], "reason": reason}
    return out
