"""7.1 Convolution: output sizes, kernels on a real image, receptive fields computed and measured."""
from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import plotly.graph_objects as go
import torch
from plotly.subplots import make_subplots
from torch import nn
from torch.nn import functional as F

from core import data as datasets
from core.errors import HeroError
from core.viz import LAYOUT


KERNELS = ("edge_x", "edge_y", "blur", "sharpen", "random")
LIMITS = {"k": (1, 7), "s": (1, 4), "p": (0, 4), "d": (1, 4)}   # every size a visitor can pick
MAX_STACK = 8                                                    # layers in a receptive-field stack


def conv_output_size(n: int, k: int, s: int = 1, p: int = 0, d: int = 1) -> int:
    """Output side of a convolution over a side-n input: ⌊(n + 2p − d(k−1) − 1)/s⌋ + 1."""
    return (n + 2 * p - d * (k - 1) - 1) // s + 1


def make_kernel(name: str, k: int, seed: int = 0) -> torch.Tensor:
    """A k×k filter [k, k]: a horizontal/vertical derivative, a box blur, a sharpen, or random."""
    c = torch.arange(k, dtype=torch.float32) - (k - 1) / 2
    if name == "edge_x":        # responds to left→right changes in brightness (vertical edges)
        kernel = c[None, :].expand(k, k) / max(float(c.abs().sum()) * k, 1.0) * 2
    elif name == "edge_y":
        kernel = c[:, None].expand(k, k) / max(float(c.abs().sum()) * k, 1.0) * 2
    elif name == "blur":
        kernel = torch.full((k, k), 1.0 / k**2)
    elif name == "sharpen":     # 2·identity − blur: boosts what differs from its neighbourhood
        kernel = -torch.full((k, k), 1.0 / k**2)
        kernel[k // 2, k // 2] += 2.0
    elif name == "random":
        kernel = torch.randn(k, k, generator=torch.Generator().manual_seed(seed)) / k
    else:
        raise HeroError("ch07.unknown_kernel", name=name, known=", ".join(KERNELS))
    return kernel.contiguous()


def _check_conv(k: int, s: int, p: int, d: int) -> None:
    for name, value in zip("kspd", (k, s, p, d)):
        lo, hi = LIMITS[name]
        if not lo <= value <= hi:
            raise HeroError("ch07.bad_conv", name=name, value=value, low=lo, high=hi)


def conv_demo(image: np.ndarray, kernel: str, k: int, s: int = 1, p: int = 0, d: int = 1) -> dict:
    """Run one real ``nn.Conv2d(1, 1, k, s, p, dilation=d)`` over a grey image [H, W].

    Returns the zero-padded input [H+2p, W+2p], the kernel [k, k], the output [H', W'] (from
    the layer, not from the formula), the formula's numbers, and the layer's repr.
    """
    _check_conv(k, s, p, d)
    n = image.shape[0]
    expected = conv_output_size(n, k, s, p, d)
    if expected < 1:
        raise HeroError("ch07.conv_empty", n=n, p=p, span=d * (k - 1) + 1)
    layer = nn.Conv2d(1, 1, k, stride=s, padding=p, dilation=d, bias=False)
    with torch.no_grad():
        layer.weight.copy_(make_kernel(kernel, k)[None, None])
        x = torch.tensor(np.asarray(image, np.float32))[None, None]   # [1, 1, H, W] (a copy: inputs may be read-only)
        out = layer(x)[0, 0]
    formula = f"⌊({n} + 2·{p} − {d}·({k}−1) − 1) / {s}⌋ + 1 = {expected}"
    return {"padded": F.pad(x, (p, p, p, p))[0, 0].numpy(), "kernel": layer.weight[0, 0].detach().numpy(),
            "output": out.numpy(), "n": n, "out_size": int(out.shape[-1]), "formula_size": expected,
            "formula": formula, "layer": repr(layer)}


@dataclass(frozen=True)
class ConvSpec:
    k: int = 3   # kernel size
    s: int = 1   # stride
    p: int = 0   # padding
    d: int = 1   # dilation


def parse_stack(text: str) -> list[ConvSpec]:
    """"k/s/p/d, k/s/p/d, …" (each part optional after k: "3", "3/2", "3/2/1") → layer specs."""
    specs = []
    for part in [p.strip() for p in text.split(",") if p.strip()]:
        if not re.fullmatch(r"\d{1,2}(/\d{1,2}){0,3}", part):
            raise HeroError("ch07.bad_stack", part=part[:20])
        values = [int(v) for v in part.split("/")] + [None] * 3
        k, s, p, d = values[0], values[1] or 1, values[2] or 0, values[3] or 1
        _check_conv(k, s, p, d)
        specs.append(ConvSpec(k, s, p, d))
    if not 1 <= len(specs) <= MAX_STACK:
        raise HeroError("ch07.stack_size", n=len(specs), limit=MAX_STACK)
    return specs


def receptive_field(layers: list[ConvSpec]) -> list[dict]:
    """Receptive field of one unit after each layer (the standard recursion).

    With j = the input-pixel distance between neighbouring units (the "jump") and
    k_eff = d(k−1)+1:  r_l = r_{l−1} + (k_eff − 1)·j_{l−1},  j_l = j_{l−1}·s.
    """
    rows, r, j = [], 1, 1
    for i, L in enumerate(layers, 1):
        k_eff = L.d * (L.k - 1) + 1
        r, j = r + (k_eff - 1) * j, j * L.s
        rows.append({"layer": i, "k": L.k, "s": L.s, "p": L.p, "d": L.d, "rf": r, "jump": j})
    return rows


def measured_receptive_field(layers: list[ConvSpec], n: int) -> dict:
    """Measure the receptive field with autograd: which input pixels does one output unit see?

    A stack of convs with all-positive weights (no cancellation) runs on an n×n input; the
    gradient of the centre output unit w.r.t. the input [n, n] is non-zero exactly on its
    receptive field. Returns the gradient map and its non-zero extent (rows, cols).
    """
    convs = [nn.Conv2d(1, 1, L.k, L.s, L.p, dilation=L.d, bias=False) for L in layers]
    for conv in convs:
        nn.init.constant_(conv.weight, 1.0)
    x = torch.ones(1, 1, n, n, requires_grad=True)
    out = x
    for i, conv in enumerate(convs):
        if out.shape[-1] + 2 * conv.padding[0] < conv.dilation[0] * (conv.kernel_size[0] - 1) + 1:
            raise HeroError("ch07.stack_too_deep", layer=i + 1, n=n)
        out = conv(out)
    oh, ow = out.shape[-2:]
    out[0, 0, oh // 2, ow // 2].backward()
    grad = x.grad[0, 0]
    rows, cols = torch.nonzero(grad.abs().sum(1)).flatten(), torch.nonzero(grad.abs().sum(0)).flatten()
    return {"grad": grad.numpy(), "rows": int(rows.max() - rows.min() + 1), "cols": int(cols.max() - cols.min() + 1),
            "output_size": int(oh), "unit": (int(oh // 2), int(ow // 2))}


def conv_figure(demo: dict, titles: tuple[str, str, str]) -> go.Figure:
    """Padded input, kernel and output side by side (heatmaps, true aspect)."""
    fig = make_subplots(1, 3, subplot_titles=titles, column_widths=[0.4, 0.2, 0.4], horizontal_spacing=0.06)
    for col, (z, scale) in enumerate([(demo["padded"], "gray"), (demo["kernel"], "RdBu"),
                                      (demo["output"], "gray")], 1):
        fig.add_trace(go.Heatmap(z=z, colorscale=scale, showscale=False,
                                 # formatted strings: float32 values would print as 0.3300000131…
                                 text=[[f"{v:.2g}" for v in row] for row in z] if z.size <= 49 else None,
                                 texttemplate="%{text}" if z.size <= 49 else None, textfont=dict(size=13),
                                 zmid=0 if scale == "RdBu" else None), 1, col)
    fig.update_yaxes(autorange="reversed", scaleanchor="x")
    fig.update_yaxes(scaleanchor="x2", row=1, col=2)
    fig.update_yaxes(scaleanchor="x3", row=1, col=3)
    fig.update_xaxes(showticklabels=False)
    fig.update_yaxes(showticklabels=False)
    return fig.update_layout(**{**LAYOUT, "height": 300})


def rf_figure(image: np.ndarray, grad: np.ndarray, title: str) -> go.Figure:
    """The image with the measured receptive field (where the input gradient ≠ 0) over it."""
    mask = np.where(grad > 0, 1.0, np.nan)
    fig = go.Figure([go.Heatmap(z=image, colorscale="gray", showscale=False, hoverinfo="skip"),
                     go.Heatmap(z=mask * np.log1p(grad), colorscale="Reds", opacity=0.55, showscale=False)])
    fig.update_yaxes(autorange="reversed", scaleanchor="x", showticklabels=False)
    fig.update_xaxes(showticklabels=False)
    return fig.update_layout(**{**LAYOUT, "height": 320, "title": title})


def digit_image(index: int) -> np.ndarray:
    """MNIST-5k image ``index`` as a float array [28, 28] in [0, 1] (what the page convolves)."""
    return datasets.load("mnist5k").X[index].reshape(28, 28)
