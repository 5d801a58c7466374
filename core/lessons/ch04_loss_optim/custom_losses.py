"""4.1 Custom losses (focal, pinball) written by hand and checked against autograd and references."""
from __future__ import annotations

import numpy as np
import torch
from torch.nn import functional as F

from core.errors import check_range


# --------------------------------------------------------------------------- custom losses

def focal_loss(logits: torch.Tensor, targets: torch.Tensor, gamma: float = 2.0,
               alpha: float | None = None) -> torch.Tensor:
    """Binary focal loss (Lin et al., 2017), per element. logits, targets: [N] (targets in [0, 1]).

    FL = (1 − p_t)^γ · BCE, where p_t is the probability given to the true label: confident,
    correct predictions (p_t → 1) are down-weighted, so training focuses on the hard ones.
    γ = 0 (and no α) is exactly BCEWithLogits.
    """
    bce = F.binary_cross_entropy_with_logits(logits, targets, reduction="none")  # stable log-loss
    p = torch.sigmoid(logits)
    p_t = p * targets + (1 - p) * (1 - targets)
    loss = (1 - p_t) ** gamma * bce
    if alpha is not None:   # optional class balance: α for positives, 1 − α for negatives
        loss = (alpha * targets + (1 - alpha) * (1 - targets)) * loss
    return loss


def pinball_loss(pred: torch.Tensor, target: torch.Tensor, q: float = 0.9) -> torch.Tensor:
    """Quantile (pinball) loss, per element. pred, target: [N]; q in (0, 1).

    Under-prediction costs q per unit, over-prediction 1 − q: minimising it gives the q-quantile
    (q = 0.5 is half the L1 loss, whose minimiser is the median).
    """
    diff = target - pred
    return torch.maximum(q * diff, (q - 1) * diff)


def custom_loss_check(gamma: float = 2.0, q: float = 0.9, n: int = 201, seed: int = 0) -> dict:
    """Compare our custom losses numerically with references.

    Returns the focal curve vs BCE along logits (target 1), the largest differences between
    our focal loss and torchvision's ``sigmoid_focal_loss`` and between focal(γ=0) and
    BCEWithLogits on random data, pinball(0.5) vs ½·L1, and the constant that minimises the
    pinball loss on a skewed sample vs ``np.quantile``.
    """
    from torchvision.ops import sigmoid_focal_loss
    check_range("gamma", gamma, 0.0, 10.0)
    check_range("q", q, 0.01, 0.99)
    gen = torch.Generator().manual_seed(seed)
    logits = torch.randn(512, generator=gen, dtype=torch.float64) * 4
    labels = (torch.rand(512, generator=gen, dtype=torch.float64) > 0.5).double()
    ours = focal_loss(logits, labels, gamma, alpha=0.25)
    theirs = sigmoid_focal_loss(logits, labels, alpha=0.25, gamma=gamma, reduction="none")
    plain = focal_loss(logits, labels, 0.0)
    bce = F.binary_cross_entropy_with_logits(logits, labels, reduction="none")
    # the pinball loss's minimiser over a constant prediction is the q-quantile of the data:
    # evaluate the mean loss for 801 candidate constants at once and keep the best one
    sample = -torch.rand(2000, generator=gen, dtype=torch.float64).log()   # Exponential(1), skewed
    candidates = torch.linspace(0.0, float(sample.max()), 801, dtype=torch.float64)
    mean_loss = pinball_loss(candidates[:, None], sample[None, :], q).mean(1)   # [801]
    best = candidates[mean_loss.argmin()]
    half = pinball_loss(logits, labels, 0.5)
    z = torch.linspace(-6, 6, n, dtype=torch.float64)
    ones = torch.ones_like(z)
    return {
        "z": z.numpy(),
        "bce_curve": F.binary_cross_entropy_with_logits(z, ones, reduction="none").numpy(),
        "focal_curve": focal_loss(z, ones, gamma).numpy(),
        "vs_torchvision": float((ours - theirs).abs().max()),
        "gamma0_vs_bce": float((plain - bce).abs().max()),
        "pinball_half_vs_l1": float((half - 0.5 * (logits - labels).abs()).abs().max()),
        "pinball_minimiser": float(best),
        "quantile": float(np.quantile(sample.numpy(), q)),
    }
