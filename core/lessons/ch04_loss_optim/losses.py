"""4.1 The loss explorer: every loss of the chapter as a curve of one prediction against a target."""
from __future__ import annotations

import plotly.graph_objects as go
import torch
from plotly.subplots import make_subplots
from torch.nn import functional as F

from core.errors import HeroError, check_range
from core.viz import PALETTE, style as _layout

from .limits import MAX_CURVE_POINTS


# =========================================================================== 4.1 loss explorer

# kind: what the x axis is — a regression "value", a "logit" (any real number) or a "prob" in (0, 1).
# target: "value" (any real), "class" (index 0..2 of 3 classes) or "prob" (a label in [0, 1]).
LOSSES = {
    "mse": {"kind": "value", "target": "value", "torch": "nn.MSELoss()"},
    "l1": {"kind": "value", "target": "value", "torch": "nn.L1Loss()"},
    "huber": {"kind": "value", "target": "value", "torch": "nn.HuberLoss(delta=δ)"},
    "smooth_l1": {"kind": "value", "target": "value", "torch": "nn.SmoothL1Loss(beta=δ)"},
    "cross_entropy": {"kind": "logit", "target": "class", "torch": "nn.CrossEntropyLoss()"},
    "nll": {"kind": "prob", "target": "class", "torch": "nn.NLLLoss() on log-probabilities"},
    "bce": {"kind": "prob", "target": "prob", "torch": "nn.BCELoss() on probabilities"},
    "bce_logits": {"kind": "logit", "target": "prob", "torch": "nn.BCEWithLogitsLoss()"},
}
N_CLASSES = 3   # the CE/NLL explorer uses 3 classes: the x axis moves class 0, the others stay fixed


def loss_inputs(name: str, x: torch.Tensor) -> torch.Tensor:
    """What the real loss receives for x-axis values x [N].

    value/logit losses get x itself; CrossEntropy gets logits [N, 3] = (x, 0, 0);
    NLL gets log-probabilities [N, 3] = log(x, (1-x)/2, (1-x)/2); BCE gets x as a probability.
    """
    if name == "cross_entropy":
        zeros = torch.zeros_like(x)
        return torch.stack([x, zeros, zeros], 1)
    if name == "nll":
        rest = (1 - x) / 2
        return torch.stack([x, rest, rest], 1).log()
    return x


def apply_loss(name: str, inputs: torch.Tensor, target: float, delta: float = 1.0) -> torch.Tensor:
    """Per-point loss [N] of the real torch loss ``name`` for one shared target."""
    if name in ("cross_entropy", "nll"):
        t = torch.full((len(inputs),), int(target), dtype=torch.long)
        fn = F.cross_entropy if name == "cross_entropy" else F.nll_loss
        return fn(inputs, t, reduction="none")
    t = torch.full_like(inputs, float(target))
    if name == "mse":
        return F.mse_loss(inputs, t, reduction="none")
    if name == "l1":
        return F.l1_loss(inputs, t, reduction="none")
    if name == "huber":
        return F.huber_loss(inputs, t, reduction="none", delta=delta)
    if name == "smooth_l1":
        return F.smooth_l1_loss(inputs, t, reduction="none", beta=delta)
    if name == "bce":
        return F.binary_cross_entropy(inputs, t, reduction="none")
    if name == "bce_logits":
        return F.binary_cross_entropy_with_logits(inputs, t, reduction="none")
    raise HeroError("ch04.unknown_loss", name=name, known=", ".join(LOSSES))


def x_range(name: str) -> tuple[float, float]:
    """The x axis of the explorer: probabilities stay inside (0, 1), the rest spans ±4."""
    return (0.005, 0.995) if LOSSES[name]["kind"] == "prob" else (-4.0, 4.0)


def loss_curve(name: str, target: float, n: int = 301, delta: float = 1.0) -> dict:
    """Loss and its gradient (by autograd) along the x axis of loss ``name``.

    Returns x [n], loss [n], grad [n] = d loss / d x, and ``what`` (the loss's kind).
    """
    if name not in LOSSES:
        raise HeroError("ch04.unknown_loss", name=name, known=", ".join(LOSSES))
    check_range("n", n, 11, MAX_CURVE_POINTS)
    spec = LOSSES[name]
    if spec["target"] == "class" and int(target) not in range(N_CLASSES):
        raise HeroError("ch04.bad_target", value=target, low=0, high=N_CLASSES - 1)
    if spec["target"] == "prob":
        check_range("target", target, 0.0, 1.0)
    lo, hi = x_range(name)
    # 1. the x axis is a leaf tensor, so autograd can give d loss / d x at every point
    x = torch.linspace(lo, hi, int(n), dtype=torch.float64, requires_grad=True)
    # 2. the real torch loss, one value per point (reduction="none")
    loss = apply_loss(name, loss_inputs(name, x), target, delta)
    # 3. the points are independent, so the gradient of the sum is each point's own gradient
    loss.sum().backward()
    return {"x": x.detach().numpy(), "loss": loss.detach().numpy(), "grad": x.grad.numpy(),
            "kind": spec["kind"]}


def loss_curve_figure(curves: dict[str, dict], title: str = "", loss_label: str = "loss",
                      grad_label: str = "gradient", x_label: str = "prediction") -> go.Figure:
    """Loss (left) and its gradient (right) for one or more curves from ``loss_curve``."""
    fig = make_subplots(rows=1, cols=2, subplot_titles=[loss_label, grad_label])
    for i, (name, c) in enumerate(curves.items()):
        colour = PALETTE[i % len(PALETTE)]
        fig.add_trace(go.Scatter(x=c["x"], y=c["loss"], name=name, legendgroup=name,
                                 line=dict(color=colour)), row=1, col=1)
        fig.add_trace(go.Scatter(x=c["x"], y=c["grad"], name=name, legendgroup=name, showlegend=False,
                                 line=dict(color=colour, dash="dot")), row=1, col=2)
    fig.update_xaxes(title_text=x_label)
    return _layout(fig, title, height=340)
