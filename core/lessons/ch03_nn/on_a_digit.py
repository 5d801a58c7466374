"""3.2 Layers on a real digit: what a conv, pooling or normalisation layer does to an 8×8 or 28×28 image."""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import plotly.graph_objects as go
import torch
from plotly.subplots import make_subplots
from torch import nn

from core.viz import PALETTE, style as _layout

from .layers import LAYERS, build_layer, check_hp


# ---------------------------------------------------------------- the layer on a real digit

# Hand-set 3×3 kernels: what a first conv layer often learns by itself.
EDGE_KERNELS_2D = {
    "sobel_x": [[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]],
    "sobel_y": [[-1, -2, -1], [0, 0, 0], [1, 2, 1]],
    "laplacian": [[0, 1, 0], [1, -4, 1], [0, 1, 0]],
    "blur": [[1 / 9] * 3] * 3,
    "sharpen": [[0, -1, 0], [-1, 5, -1], [0, -1, 0]],
    "diagonal": [[2, -1, -1], [-1, 2, -1], [-1, -1, 2]],
}
EDGE_KERNELS_1D = {"derivative": [-1, 0, 1], "smooth": [0.25, 0.5, 0.25], "second_derivative": [1, -2, 1]}


def _set_kernels(conv: nn.Module, bank: dict, dims: int) -> list[str]:
    """Write the hand-set kernels into the first output channels (centred in a k×k kernel)."""
    k = conv.kernel_size[0]
    names = []
    if k < 3:
        return names
    with torch.no_grad():
        for c, (kname, kern) in zip(range(conv.out_channels), bank.items()):
            kern = torch.tensor(kern, dtype=torch.float32)
            w = torch.zeros((k,) * dims)
            lo = (k - 3) // 2
            w[(slice(lo, lo + 3),) * dims] = kern
            if isinstance(conv, nn.ConvTranspose2d):
                conv.weight[:, c] = w
            else:
                conv.weight[c] = w
            if conv.bias is not None:
                conv.bias[c] = 0.0
            names.append(kname)
    return names


@dataclass
class DigitEffect:
    """The layer applied to a real digit: ``kind`` says how to draw ``panels``.

    maps: panels are 2-D images; sequence: one [T, units] heatmap; vector: one [features] row.
    """
    kind: str
    panels: list[np.ndarray]
    titles: list[str]
    in_shape: tuple[int, ...]
    out_shape: tuple[int, ...]
    adapted: dict                      # hyperparameters changed so the layer fits the image


def layer_on_digit(name: str, hp: dict, image: np.ndarray, kernels: str = "random", batch: np.ndarray | None = None,
                   seed: int = 0, max_panels: int = 8) -> DigitEffect:
    """Apply the explorer's layer to a real digit image [H, W] (values in [0, 1]).

    Input channels/features are set to fit the image (reported in ``adapted``). Conv1d reads
    each row as a 1-D signal; RNN/LSTM/GRU read the rows top to bottom as a sequence of T=H
    steps of W features; BatchNorm normalises ``batch`` [N, H, W] of digits (training mode).
    """
    h = check_hp(name, hp)
    img = torch.tensor(np.array(image, dtype=np.float32))
    H, W = img.shape
    group, adapted = LAYERS[name].group, {}
    fit_to = {"Linear": ("in_features", H * W), "Conv1d": ("in_channels", 1), "Conv2d": ("in_channels", 1),
              "ConvTranspose2d": ("in_channels", 1), "RNN": ("input_size", W), "LSTM": ("input_size", W),
              "GRU": ("input_size", W), "BatchNorm1d": ("num_features", H * W), "BatchNorm2d": ("num_features", 1)}
    if name in fit_to and h[fit_to[name][0]] != fit_to[name][1]:
        adapted[fit_to[name][0]] = fit_to[name][1]
        h[fit_to[name][0]] = fit_to[name][1]
    if name == "Softmax" and h["dim"] != -1:
        adapted["dim"] = h["dim"] = -1
    torch.manual_seed(seed)
    layer = build_layer(name, h)
    names: list[str] = []
    if kernels == "edges" and name in ("Conv2d", "ConvTranspose2d"):
        names = _set_kernels(layer, EDGE_KERNELS_2D, 2)
    elif kernels == "edges" and name == "Conv1d":
        names = _set_kernels(layer, EDGE_KERNELS_1D, 1)
    if name == "Linear":
        x = img.reshape(1, -1)                       # [1, H·W]
    elif name == "Conv1d":
        x = img[:, None, :]                          # [H, 1, W]: a batch of H rows, one channel each
    elif group == "recurrent":
        x = img[None]                                # [1, T=H, W]
    elif name == "Softmax":
        x = img                                      # [H, W]: softmax along each row
    else:
        x = img[None, None]                          # [1, 1, H, W]
    if group == "norm":
        stack = torch.tensor(np.array(batch if batch is not None else image[None], dtype=np.float32))
        stack = torch.cat([img[None], stack])[:64]
        x = stack.reshape(len(stack), -1) if name == "BatchNorm1d" else stack[:, None]
    if group == "activation" and name != "Softmax":
        x = (img - img.mean()) / (img.std() + 1e-6)     # standardised, so negative inputs exist
        x = x[None, None]
    with torch.no_grad():
        out = layer(x)
    if isinstance(out, tuple):
        out = out[0]
    shape_in, shape_out = tuple(x.shape), tuple(out.shape)
    if name == "Linear":
        return DigitEffect("vector", [out[0].numpy()], ["y"], shape_in, shape_out, adapted)
    if group == "recurrent":
        return DigitEffect("sequence", [out[0].numpy()], ["h_t"], shape_in, shape_out, adapted)
    if name == "Conv1d":
        maps = [out[:, c].numpy() for c in range(min(out.shape[1], max_panels))]
    elif group == "norm":
        maps = [x[0].reshape(H, W).numpy(), out[0].reshape(H, W).numpy()]
        return DigitEffect("maps", maps, ["x", "BN(x)"], shape_in, shape_out, adapted)
    elif group == "activation" or name == "Dropout":
        return DigitEffect("maps", [x.reshape(H, W).numpy(), out.reshape(H, W).numpy()], ["x", name],
                           shape_in, shape_out, adapted)
    else:
        maps = [out[0, c].numpy() for c in range(min(out.shape[1], max_panels))]
    titles = [names[i] if i < len(names) else f"#{i}" for i in range(len(maps))]
    return DigitEffect("maps", [img.numpy()] + maps, ["x"] + titles, shape_in, shape_out, adapted)


def effect_figure(effect: DigitEffect, title: str = "") -> go.Figure:
    """Draw a DigitEffect: feature maps as small images, a sequence as a T×units heatmap."""
    if effect.kind == "vector":
        v = effect.panels[0]
        fig = go.Figure(go.Bar(y=v, marker_color=PALETTE[0]))
        return _layout(fig, title, height=260, xaxis=dict(title="out_features"))
    if effect.kind == "sequence":
        fig = go.Figure(go.Heatmap(z=effect.panels[0], colorscale="RdBu", zmid=0))
        return _layout(fig, title, height=320, xaxis=dict(title="hidden unit"),
                       yaxis=dict(title="t (row)", autorange="reversed"))
    n = len(effect.panels)
    cols = min(n, 9)
    fig = make_subplots(rows=math.ceil(n / cols), cols=cols, subplot_titles=effect.titles,
                        horizontal_spacing=0.01, vertical_spacing=0.1)
    for i, panel in enumerate(effect.panels):
        fig.add_trace(go.Heatmap(z=panel, colorscale="gray_r" if i == 0 else "RdBu_r",
                                 zmid=None if i == 0 else 0, showscale=False, hoverinfo="skip"),
                      row=i // cols + 1, col=i % cols + 1)
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False, autorange="reversed", scaleanchor="x")
    return _layout(fig, title, height=max(200, 170 * math.ceil(n / cols)), margin=dict(l=5, r=5, t=70, b=5))
