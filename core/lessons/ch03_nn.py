"""Chapter 3 — torch.nn: modules, every common layer, containers, initialisation, parameters, an MLP.

Plain functions returning data; the Streamlit page and the Gradio widget only draw it.
Shapes follow PyTorch's conventions: B batch, C channels, H×W image, L length, T time steps,
F features.
"""
from __future__ import annotations

import math
import re
import threading
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import plotly.graph_objects as go
import torch
from plotly.subplots import make_subplots
from torch import nn

from core import data as datasets
from core import nets
from core.device import seed_everything
from core.errors import HeroError
from core.train import NaNGuard, fit, make_optimizer, record
from core.viz import PALETTE, style as _layout

Emit = Callable[[dict], None]

# Sizes per preset: tiny keeps tests fast; default answers in ≤ 0.3 s on 2 CPU cores.
PRESETS = {
    "tiny": {"init_width": 64, "init_samples": 128, "bn_steps": 10, "mlp_epochs": 1, "mlp_max_steps": 20},
    "default": {"init_width": 128, "init_samples": 256, "bn_steps": 40, "mlp_epochs": 8, "mlp_max_steps": None},
    "gpu": {"init_width": 256, "init_samples": 1024, "bn_steps": 60, "mlp_epochs": 15, "mlp_max_steps": None},
}

# Caps on what a visitor may ask for (documented on the page): the explorer runs real layers
# on the server, so the input size and the multiply-adds of one forward pass are bounded.
MAX_DIMS, MAX_DIM, MAX_NUMEL = 5, 4096, 1_000_000
MAX_OUT_NUMEL = 4_000_000
MAX_MACS = 200_000_000          # ≈ 0.1 s of float32 work on one CPU core
MAX_BLOCKS = 16                 # layers in a container built on the page


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


# =========================================================================== 3.2 layers

@dataclass(frozen=True)
class HP:
    """One hyperparameter of a layer, with the bounds the page allows."""
    name: str
    default: int | float | bool
    lo: float = 0
    hi: float = 0


@dataclass(frozen=True)
class LayerSpec:
    name: str
    group: str                       # linear, conv, recurrent, pool, activation, dropout, norm
    hps: tuple[HP, ...]
    default_shape: tuple[int, ...]   # a sensible input: the flattened / image / sequence digit


_CONV = lambda c_in, c_out, k: (HP("in_channels", c_in, 1, 512), HP("out_channels", c_out, 1, 512),  # noqa: E731
                                HP("kernel_size", k, 1, 11), HP("stride", 1, 1, 8), HP("padding", 0, 0, 8),
                                HP("dilation", 1, 1, 4), HP("bias", True))
_RNN = (HP("input_size", 28, 1, 1024), HP("hidden_size", 16, 1, 1024), HP("num_layers", 1, 1, 4),
        HP("bidirectional", False))
_POOL = (HP("kernel_size", 2, 1, 11), HP("stride", 2, 1, 8), HP("padding", 0, 0, 5))

LAYERS: dict[str, LayerSpec] = {s.name: s for s in (
    LayerSpec("Linear", "linear", (HP("in_features", 784, 1, 4096), HP("out_features", 32, 1, 4096),
                                   HP("bias", True)), (1, 784)),
    LayerSpec("Conv1d", "conv", _CONV(1, 4, 3), (1, 1, 28)),
    LayerSpec("Conv2d", "conv", _CONV(1, 8, 3), (1, 1, 28, 28)),
    LayerSpec("ConvTranspose2d", "conv", _CONV(1, 4, 2)[:4] + (HP("padding", 0, 0, 8),
              HP("output_padding", 0, 0, 7), HP("dilation", 1, 1, 4), HP("bias", True)), (1, 1, 28, 28)),
    LayerSpec("RNN", "recurrent", _RNN, (1, 28, 28)),
    LayerSpec("LSTM", "recurrent", _RNN, (1, 28, 28)),
    LayerSpec("GRU", "recurrent", _RNN, (1, 28, 28)),
    LayerSpec("MaxPool2d", "pool", _POOL, (1, 1, 28, 28)),
    LayerSpec("AvgPool2d", "pool", _POOL, (1, 1, 28, 28)),
    LayerSpec("AdaptiveAvgPool2d", "pool", (HP("output_h", 4, 1, 64), HP("output_w", 4, 1, 64)), (1, 1, 28, 28)),
    LayerSpec("ReLU", "activation", (), (1, 1, 28, 28)),
    LayerSpec("Sigmoid", "activation", (), (1, 1, 28, 28)),
    LayerSpec("Tanh", "activation", (), (1, 1, 28, 28)),
    LayerSpec("Softmax", "activation", (HP("dim", -1, -6, 5),), (1, 10)),
    LayerSpec("LeakyReLU", "activation", (HP("negative_slope", 0.01, 0.0, 1.0),), (1, 1, 28, 28)),
    LayerSpec("GELU", "activation", (), (1, 1, 28, 28)),
    LayerSpec("Dropout", "dropout", (HP("p", 0.5, 0.0, 1.0),), (1, 1, 28, 28)),
    LayerSpec("BatchNorm1d", "norm", (HP("num_features", 784, 1, 4096),), (16, 784)),
    LayerSpec("BatchNorm2d", "norm", (HP("num_features", 1, 1, 512),), (16, 1, 28, 28)),
)}


def default_hp(name: str) -> dict:
    return {h.name: h.default for h in LAYERS[name].hps}


def check_hp(name: str, hp: dict) -> dict:
    """Fill defaults and enforce the bounds (HeroError ``ch03.bad_hp`` when out of range)."""
    out = default_hp(name)
    for h in LAYERS[name].hps:
        value = hp.get(h.name, h.default)
        if isinstance(h.default, bool):
            out[h.name] = bool(value)
            continue
        if not h.lo <= float(value) <= h.hi:
            raise HeroError("ch03.bad_hp", name=h.name, lo=h.lo, hi=h.hi, value=value)
        out[h.name] = float(value) if isinstance(h.default, float) else int(value)
    return out


def parse_shape(text: str) -> tuple[int, ...]:
    """"1, 1, 28, 28" (or "[1, 1, 28, 28]", "1x1x28x28") → (1, 1, 28, 28); no eval, only digits."""
    cleaned = re.sub(r"(?<=\d)\s*[x×]\s*(?=\d)", ",", str(text).strip().strip("[]()"))
    parts = [p for p in re.split(r"[,\s]+", cleaned) if p]
    if not parts or not all(p.isdigit() for p in parts):
        raise HeroError("ch03.bad_shape", text=str(text)[:40])
    return check_shape(tuple(int(p) for p in parts))


def check_shape(shape: tuple[int, ...]) -> tuple[int, ...]:
    if not (1 <= len(shape) <= MAX_DIMS and all(1 <= d <= MAX_DIM for d in shape) and math.prod(shape) <= MAX_NUMEL):
        raise HeroError("ch03.shape_limits", max_dims=MAX_DIMS, max_dim=MAX_DIM, max_numel=f"{MAX_NUMEL:,}",
                        shape=list(shape))
    return tuple(shape)


def build_layer(name: str, hp: dict) -> nn.Module:
    """The real torch layer for explorer settings ``hp`` (already checked)."""
    h = check_hp(name, hp)
    if name == "Linear":
        return nn.Linear(h["in_features"], h["out_features"], bias=h["bias"])
    if name in ("Conv1d", "Conv2d"):
        return getattr(nn, name)(h["in_channels"], h["out_channels"], h["kernel_size"], stride=h["stride"],
                                 padding=h["padding"], dilation=h["dilation"], bias=h["bias"])
    if name == "ConvTranspose2d":
        return nn.ConvTranspose2d(h["in_channels"], h["out_channels"], h["kernel_size"], stride=h["stride"],
                                  padding=h["padding"], output_padding=h["output_padding"],
                                  dilation=h["dilation"], bias=h["bias"])
    if name in ("RNN", "LSTM", "GRU"):
        return getattr(nn, name)(h["input_size"], h["hidden_size"], num_layers=h["num_layers"],
                                 bidirectional=h["bidirectional"], batch_first=True)
    if name in ("MaxPool2d", "AvgPool2d"):
        return getattr(nn, name)(h["kernel_size"], stride=h["stride"], padding=h["padding"])
    if name == "AdaptiveAvgPool2d":
        return nn.AdaptiveAvgPool2d((h["output_h"], h["output_w"]))
    if name == "Softmax":
        return nn.Softmax(dim=h["dim"])
    if name == "LeakyReLU":
        return nn.LeakyReLU(h["negative_slope"])
    if name == "Dropout":
        return nn.Dropout(h["p"])
    if name in ("BatchNorm1d", "BatchNorm2d"):
        return getattr(nn, name)(h["num_features"])
    return getattr(nn, name)()          # ReLU, Sigmoid, Tanh, GELU


def constructor(name: str, hp: dict) -> str:
    """The Python call that builds this layer, e.g. ``nn.Conv2d(1, 8, kernel_size=3, stride=2)``."""
    h = check_hp(name, hp)
    if name == "AdaptiveAvgPool2d":
        return f"nn.AdaptiveAvgPool2d(({h['output_h']}, {h['output_w']}))"
    args = ", ".join(f"{k}={v}" for k, v in h.items())
    extra = ", batch_first=True" if LAYERS[name].group == "recurrent" else ""
    return f"nn.{name}({args}{extra})"


def _out_len(size: int, k: int, s: int, p: int, d: int) -> int:
    """Conv/pool output length: ⌊(size + 2p − d·(k − 1) − 1) / s⌋ + 1."""
    return (size + 2 * p - d * (k - 1) - 1) // s + 1


def _spatial(layer: str, shape: tuple, n_spatial: int, channels: int | None) -> None:
    """Rank and channel checks shared by conv and pool layers (raise the explained HeroError)."""
    want = {1: "[C, L] / [B, C, L]", 2: "[C, H, W] / [B, C, H, W]"}[n_spatial]
    if len(shape) not in (n_spatial + 1, n_spatial + 2):
        raise HeroError("ch03.conv_rank", layer=layer, want=want, ndim=len(shape), shape=list(shape))
    if channels is not None and shape[-n_spatial - 1] != channels:
        raise HeroError("ch03.conv_channels", layer=layer, expected=channels, got=shape[-n_spatial - 1],
                        dim=len(shape) - n_spatial - 1, shape=list(shape))


def predict_shape(name: str, hp: dict, shape: tuple[int, ...]) -> tuple[tuple[int, ...], str]:
    """Our own prediction of ``layer(x).shape`` from the formulas, plus the formula as text.

    Raises HeroError with a plain-words explanation (and the fix) when the input does not fit.
    """
    h, shape = check_hp(name, hp), tuple(shape)
    group = LAYERS[name].group
    if name == "Linear":
        if shape[-1] != h["in_features"]:
            raise HeroError("ch03.linear_features", expected=h["in_features"], got=shape[-1], shape=list(shape))
        return shape[:-1] + (h["out_features"],), "y = x @ W.T + b,  W: [out_features, in_features]"
    if name in ("Conv1d", "Conv2d", "MaxPool2d", "AvgPool2d"):
        n_sp = 1 if name == "Conv1d" else 2
        _spatial(name, shape, n_sp, h.get("in_channels"))
        k, s, p, d = h["kernel_size"], h["stride"], h["padding"], h.get("dilation", 1)
        if group == "pool" and p > k // 2:
            raise HeroError("ch03.pool_padding", layer=name, padding=p, kernel=k, limit=k // 2)
        outs = []
        for size in shape[-n_sp:]:
            if size + 2 * p < d * (k - 1) + 1:
                raise HeroError("ch03.too_small", layer=name, size=size, padded=size + 2 * p, kernel=d * (k - 1) + 1)
            outs.append(_out_len(size, k, s, p, d))
        c = h.get("out_channels", shape[-n_sp - 1])
        formula = (f"out = ⌊(in + 2·{p} − {d}·({k} − 1) − 1) / {s}⌋ + 1 = "
                   + ", ".join(f"⌊({n} + {2 * p} − {d * (k - 1)} − 1) / {s}⌋ + 1 = {o}" for n, o in zip(shape[-n_sp:], outs)))
        return shape[:-n_sp - 1] + (c, *outs), formula
    if name == "ConvTranspose2d":
        _spatial(name, shape, 2, h["in_channels"])
        k, s, p, op, d = h["kernel_size"], h["stride"], h["padding"], h["output_padding"], h["dilation"]
        if op >= s and op >= d:
            raise HeroError("ch03.bad_output_padding", output_padding=op, stride=s, dilation=d)
        outs = [(n - 1) * s - 2 * p + d * (k - 1) + op + 1 for n in shape[-2:]]
        if min(outs) < 1:
            raise HeroError("ch03.output_too_small", layer=name, out=min(outs))
        formula = (f"out = (in − 1)·{s} − 2·{p} + {d}·({k} − 1) + {op} + 1 = "
                   + ", ".join(f"({n} − 1)·{s} − {2 * p} + {d * (k - 1)} + {op} + 1 = {o}" for n, o in zip(shape[-2:], outs)))
        return shape[:-3] + (h["out_channels"], *outs), formula
    if group == "recurrent":
        if len(shape) not in (2, 3):
            raise HeroError("ch03.rnn_rank", layer=name, ndim=len(shape), shape=list(shape))
        if shape[-1] != h["input_size"]:
            raise HeroError("ch03.rnn_features", layer=name, expected=h["input_size"], got=shape[-1], shape=list(shape))
        dirs = 2 if h["bidirectional"] else 1
        return shape[:-1] + (dirs * h["hidden_size"],), (
            f"output: [B, T, {dirs}·hidden_size];  h_n: [{dirs}·num_layers, B, hidden_size]")
    if name == "AdaptiveAvgPool2d":
        if len(shape) not in (3, 4):
            raise HeroError("ch03.conv_rank", layer=name, want="[C, H, W] / [B, C, H, W]", ndim=len(shape),
                            shape=list(shape))
        return shape[:-2] + (h["output_h"], h["output_w"]), "out = output_size, whatever H×W comes in"
    if name in ("BatchNorm1d", "BatchNorm2d"):
        ranks, want = ((2, 3), "[B, C] / [B, C, L]") if name == "BatchNorm1d" else ((4,), "[B, C, H, W]")
        if len(shape) not in ranks:
            raise HeroError("ch03.bn_rank", layer=name, want=want, ndim=len(shape), shape=list(shape))
        if shape[1] != h["num_features"]:
            raise HeroError("ch03.bn_features", layer=name, expected=h["num_features"], got=shape[1], shape=list(shape))
        if math.prod(shape) // shape[1] == 1:     # training mode needs a batch to take statistics of
            raise HeroError("ch03.bn_batch", layer=name, shape=list(shape))
        return shape, "y = (x − mean_batch) / √(var_batch + eps) · γ + β  (per channel)"
    if name == "Softmax" and not -len(shape) <= h["dim"] < len(shape):
        raise HeroError("ch03.bad_dim", dim=h["dim"], ndim=len(shape), shape=list(shape), lo=-len(shape),
                        hi=len(shape) - 1)
    return shape, "elementwise: same shape in, same shape out"


def formula_params(name: str, hp: dict) -> int:
    """Parameter count from the closed-form formulas (the tests compare it with the real layer)."""
    h = check_hp(name, hp)
    if name == "Linear":
        return h["in_features"] * h["out_features"] + h["out_features"] * h["bias"]
    if name in ("Conv1d", "Conv2d", "ConvTranspose2d"):
        k = h["kernel_size"] ** (1 if name == "Conv1d" else 2)
        return h["in_channels"] * h["out_channels"] * k + h["out_channels"] * h["bias"]
    if name in ("RNN", "LSTM", "GRU"):
        gates, hs, dirs = {"RNN": 1, "LSTM": 4, "GRU": 3}[name], h["hidden_size"], 1 + h["bidirectional"]
        total, width = 0, h["input_size"]
        for _ in range(h["num_layers"]):   # W_ih, W_hh and two biases per gate, per direction
            total += dirs * gates * hs * (width + hs + 2)
            width = dirs * hs
        return total
    if name in ("BatchNorm1d", "BatchNorm2d"):
        return 2 * h["num_features"]       # γ and β; running stats are buffers, not parameters
    return 0


def _macs(name: str, h: dict, shape: tuple, out: tuple) -> int:
    """Rough multiply-adds of one forward pass (to refuse requests that would hog the CPU)."""
    if name == "Linear":
        return math.prod(out) * h["in_features"]
    if name in ("Conv1d", "Conv2d"):
        return math.prod(out) * h["in_channels"] * h["kernel_size"] ** (1 if name == "Conv1d" else 2)
    if name == "ConvTranspose2d":
        return math.prod(shape) * h["out_channels"] * h["kernel_size"] ** 2
    if LAYERS[name].group == "recurrent":
        steps = math.prod(shape[:-1])
        return steps * formula_params(name, h)
    return math.prod(shape) * 8


@dataclass
class LayerReport:
    """What the explorer shows for one layer on one input shape."""
    name: str
    hp: dict
    in_shape: tuple[int, ...]
    out_shape: tuple[int, ...]             # from running the real layer
    predicted_shape: tuple[int, ...]       # from our formula (must agree)
    formula: str
    n_params: int                          # sum(p.numel() for p in layer.parameters())
    params: list[tuple[str, tuple, int]]   # (name, shape, numel) per parameter
    buffers: list[tuple[str, tuple]]       # running_mean and friends
    extra: dict = field(default_factory=dict)   # h_n / c_n shapes of recurrent layers
    constructor: str = ""


def run_layer(name: str, hp: dict, shape: tuple[int, ...], seed: int = 0) -> LayerReport:
    """Run the real layer on a random input of ``shape``; explain a failure in plain words.

    The real forward pass decides. If it raises, the error becomes our HeroError (the formula
    check says *why*), carrying PyTorch's own message as ``torch_error``.
    """
    h, shape = check_hp(name, hp), check_shape(tuple(shape))
    torch.manual_seed(seed)
    layer = build_layer(name, h)
    try:
        predicted, formula = predict_shape(name, h, shape)
        problem = None
        if math.prod(predicted) > MAX_OUT_NUMEL or _macs(name, h, shape, predicted) > MAX_MACS:
            raise HeroError("ch03.too_costly", macs=_macs(name, h, shape, predicted) // 10**6,
                            limit=MAX_MACS // 10**6)
    except HeroError as err:
        if err.code in ("ch03.too_costly",):
            raise
        predicted, formula, problem = (), "", err
    x = torch.randn(shape)
    try:
        with torch.no_grad():
            out = layer(x)
    except (RuntimeError, ValueError, IndexError) as exc:
        err = problem or HeroError("ch03.shape_other", layer=name, shape=list(shape))
        err.params["torch_error"] = str(exc).strip().splitlines()[0][:300]
        raise err from None
    extra = {}
    if isinstance(out, tuple):                  # RNN/GRU: (output, h_n); LSTM: (output, (h_n, c_n))
        out, state = out
        states = state if isinstance(state, tuple) else (state,)
        extra = dict(zip(("h_n", "c_n"), (tuple(s.shape) for s in states)))
    return LayerReport(
        name=name, hp=h, in_shape=shape, out_shape=tuple(out.shape), predicted_shape=tuple(predicted),
        formula=formula, n_params=sum(p.numel() for p in layer.parameters()),
        params=[(n, tuple(p.shape), p.numel()) for n, p in layer.named_parameters()],
        buffers=[(n, tuple(b.shape)) for n, b in layer.named_buffers()], extra=extra,
        constructor=constructor(name, h))


def layer_snippet(report: LayerReport) -> str:
    """A runnable script reproducing the explorer's result (shown in the code panel)."""
    shape = ", ".join(map(str, report.in_shape))
    first = "[0]" if LAYERS[report.name].group == "recurrent" else ""
    return (f"import torch\nfrom torch import nn\n\nlayer = {report.constructor}\n"
            f"x = torch.randn({shape})\ny = layer(x){first}\n"
            f"print(y.shape)                                   # {report.out_shape}\n"
            f"print(sum(p.numel() for p in layer.parameters()))  # {report.n_params}\n"
            "for name, p in layer.named_parameters():\n    print(name, tuple(p.shape))\n")


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


# ---------------------------------------------------------------- activations and derivatives

ACTIVATIONS = ("ReLU", "Sigmoid", "Tanh", "Softmax", "LeakyReLU", "GELU")


def activation_fn(name: str, slope: float = 0.01) -> Callable[[torch.Tensor], torch.Tensor]:
    """Elementwise f(x). Softmax is vector-valued: we plot its first output for the input [x, 0]."""
    if name == "Softmax":
        return lambda x: torch.stack([x, torch.zeros_like(x)], -1).softmax(-1)[..., 0]
    if name == "LeakyReLU":
        return nn.LeakyReLU(slope)
    return getattr(nn, name)()


def activation_curves(names: list[str], lo: float = -5.0, hi: float = 5.0, n: int = 401,
                      slope: float = 0.01) -> dict:
    """f(x) and f'(x) on a grid, the derivative taken by autograd.

    Returns {"x": [n], name: {"y": [n], "dy": [n]}}. Each output depends only on its own input,
    so the gradient of y.sum() is exactly the elementwise derivative.
    """
    out: dict = {"x": np.linspace(lo, hi, n)}
    for name in names:
        x = torch.linspace(lo, hi, n, dtype=torch.float64, requires_grad=True)
        y = activation_fn(name, slope)(x)
        (dy,) = torch.autograd.grad(y.sum(), x)
        out[name] = {"y": y.detach().numpy(), "dy": dy.numpy()}
    return out


def activation_figure(curves: dict, f_title: str = "f(x)", df_title: str = "f'(x)") -> go.Figure:
    fig = make_subplots(rows=1, cols=2, subplot_titles=[f_title, df_title])
    for i, name in enumerate(k for k in curves if k != "x"):
        colour = PALETTE[i % len(PALETTE)]
        for col, key in ((1, "y"), (2, "dy")):
            fig.add_trace(go.Scatter(x=curves["x"], y=curves[name][key], name=name, legendgroup=name,
                                     showlegend=col == 1, line=dict(color=colour)), row=1, col=col)
    return _layout(fig, height=320)


# ---------------------------------------------------------------- Dropout / BatchNorm: train vs eval

def dropout_train_eval(x: torch.Tensor, p: float, seed: int = 0) -> dict:
    """The same input through ``nn.Dropout(p)`` twice in train mode and twice in eval mode.

    x: any shape. Train: each entry is zeroed with probability p, survivors scaled by 1/(1-p),
    so the expected value is unchanged. Eval: the identity.
    """
    drop = nn.Dropout(p)
    torch.manual_seed(seed)
    drop.train()
    a, b = drop(x), drop(x)
    drop.eval()
    e1, e2 = drop(x), drop(x)
    nonzero = x != 0
    return {"train_a": a, "train_b": b, "eval_a": e1, "eval_b": e2,
            "zero_fraction": float(((a == 0) & nonzero).sum() / max(int(nonzero.sum()), 1)),
            "scale": 1 / (1 - p) if p < 1 else float("inf"),
            "train_differ": not torch.equal(a, b), "eval_identity": torch.equal(e1, x) and torch.equal(e2, x)}


def batchnorm_train_eval(X: torch.Tensor, batch_size: int = 32, steps: int = 40, momentum: float = 0.1,
                         seed: int = 0, watch: int = 36) -> dict:
    """Feed ``steps`` random batches of X [N, F] through ``nn.BatchNorm1d(F)`` in train mode.

    Returns the trace of running_mean[watch] and running_var[watch] [steps + 1], the data's true
    mean/var of that feature, and one sample normalised inside two different batches (train:
    depends on the batch) vs twice in eval mode (uses running stats: identical).
    """
    gen = torch.Generator().manual_seed(seed)
    bn = nn.BatchNorm1d(X.shape[1], momentum=momentum)
    means, vars_ = [float(bn.running_mean[watch])], [float(bn.running_var[watch])]
    bn.train()
    with torch.no_grad():
        for _ in range(steps):
            bn(X[torch.randint(len(X), (batch_size,), generator=gen)])
            means.append(float(bn.running_mean[watch]))
            vars_.append(float(bn.running_var[watch]))
        sample = X[:1]
        others = [X[torch.randint(len(X), (batch_size - 1,), generator=gen)] for _ in range(2)]
        train_outs = [bn(torch.cat([sample, o]))[0] for o in others]
        bn.eval()
        eval_outs = [bn(torch.cat([sample, o]))[0] for o in others]
    return {"running_mean": np.array(means), "running_var": np.array(vars_),
            "data_mean": float(X[:, watch].mean()), "data_var": float(X[:, watch].var()),
            "train_outs": train_outs, "eval_outs": eval_outs, "module": bn, "sample": sample[0],
            "num_batches_tracked": int(bn.num_batches_tracked)}


def running_stats_figure(bn: dict, labels: tuple[str, str] = ("running_mean", "data mean")) -> go.Figure:
    steps = np.arange(len(bn["running_mean"]))
    fig = go.Figure([go.Scatter(x=steps, y=bn["running_mean"], name=labels[0], line=dict(color=PALETTE[0])),
                     go.Scatter(x=steps, y=[bn["data_mean"]] * len(steps), name=labels[1],
                                line=dict(color=PALETTE[1], dash="dash"))])
    return _layout(fig, height=280, xaxis=dict(title="step"))


# =========================================================================== 3.3 containers

BLOCKS = {  # block type → (its one setting, default); in-sizes are inferred from the incoming shape
    "Flatten": (None, None), "Linear": ("out_features", 32), "Conv2d": ("out_channels", 8),
    "MaxPool2d": ("kernel_size", 2), "AvgPool2d": ("kernel_size", 2), "AdaptiveAvgPool2d": ("output_size", 4),
    "BatchNorm1d": (None, None), "BatchNorm2d": (None, None), "ReLU": (None, None), "Tanh": (None, None),
    "GELU": (None, None), "Sigmoid": (None, None), "Dropout": ("p", 0.2),
}
CONTAINERS = ("Sequential", "ModuleList", "ModuleDict")
DEFAULT_STACK = [{"type": "Flatten"}, {"type": "Linear", "arg": 32}, {"type": "BatchNorm1d"},
                 {"type": "ReLU"}, {"type": "Dropout", "arg": 0.2}, {"type": "Linear", "arg": 10}]


class ListNet(nn.Module):
    """nn.ModuleList registers the layers; *we* write the loop in forward."""

    def __init__(self, layers: list[nn.Module]):
        super().__init__()
        self.layers = nn.ModuleList(layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer in self.layers:
            x = layer(x)
        return x


class DictNet(nn.Module):
    """nn.ModuleDict: layers looked up by name (kept in insertion order)."""

    def __init__(self, layers: dict[str, nn.Module]):
        super().__init__()
        self.blocks = nn.ModuleDict(layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for name in self.blocks:
            x = self.blocks[name](x)
        return x


def _block_hp(block: dict, shape: tuple) -> tuple[str, dict]:
    """Explorer settings for a builder block, with in-sizes taken from the incoming ``shape``."""
    kind, arg = block["type"], block.get("arg", BLOCKS[block["type"]][1])
    ch = shape[1] if len(shape) > 1 else shape[-1]
    if kind == "Linear":
        return kind, {"in_features": shape[-1], "out_features": int(arg)}
    if kind == "Conv2d":
        return kind, {"in_channels": ch, "out_channels": int(arg), "kernel_size": 3, "padding": 1}
    if kind in ("MaxPool2d", "AvgPool2d"):
        return kind, {"kernel_size": int(arg), "stride": int(arg)}
    if kind == "AdaptiveAvgPool2d":
        return kind, {"output_h": int(arg), "output_w": int(arg)}
    if kind in ("BatchNorm1d", "BatchNorm2d"):
        return kind, {"num_features": ch}
    if kind == "Dropout":
        return kind, {"p": float(arg)}
    return kind, {}


def build_container(kind: str, blocks: list[dict], in_shape: tuple[int, ...], seed: int = 0) -> nn.Module:
    """Build the blocks into a Sequential, a ModuleList-based or a ModuleDict-based module.

    Each block's input size comes from running a real tensor of ``in_shape`` through the layers
    built so far; a block that cannot take that input raises the explained HeroError.
    """
    if not blocks:
        raise HeroError("ch03.empty_stack")
    if len(blocks) > MAX_BLOCKS:
        raise HeroError("ch03.too_many_blocks", limit=MAX_BLOCKS)
    torch.manual_seed(seed)
    x = torch.randn(in_shape)
    layers = []
    with torch.no_grad():
        for i, block in enumerate(blocks):
            if block["type"] == "Flatten":
                layer = nn.Flatten()
            else:
                name, hp = _block_hp(block, tuple(x.shape))
                try:
                    report = run_layer(name, hp, tuple(x.shape))
                except HeroError as err:
                    err.params["position"] = i + 1
                    raise
                layer = build_layer(name, report.hp)
            layers.append(layer.eval())
            x = layer(x)
    if kind == "Sequential":
        return nn.Sequential(*layers)
    if kind == "ModuleList":
        return ListNet(layers)
    return DictNet({f"{type(layer).__name__.lower()}{i}": layer for i, layer in enumerate(layers)})


def summarize(model: nn.Module, x: torch.Tensor) -> dict:
    """A torchinfo-like summary computed with forward hooks on every leaf module.

    Returns rows (name, type, output shape, own parameter count) in call order, the total
    and trainable counts, the final output shape, and ``str(model)`` (the module tree).
    """
    rows, handles = [], []
    for name, module in model.named_modules():
        if next(module.children(), None) is None:    # leaves do the work; containers only route
            def hook(mod, inp, out, name=name):
                out = out[0] if isinstance(out, tuple) else out
                rows.append({"name": name, "type": type(mod).__name__, "output": tuple(out.shape),
                             "params": sum(p.numel() for p in mod.parameters(recurse=False))})
            handles.append(module.register_forward_hook(hook))
    was_training = model.training
    try:
        model.eval()
        with torch.no_grad():
            y = model(x)
    finally:
        for handle in handles:
            handle.remove()
        model.train(was_training)
    return {"rows": rows, "total": sum(p.numel() for p in model.parameters()),
            "trainable": sum(p.numel() for p in model.parameters() if p.requires_grad),
            "output": tuple(y.shape), "input": tuple(x.shape), "tree": str(model)}


def container_snippet(kind: str, model: nn.Module) -> str:
    """Runnable code that builds the same container."""
    layers = list(model.children())[0] if kind != "Sequential" else model
    lines = [f"    nn.{m!r}," for m in (layers.values() if kind == "ModuleDict" else layers)]
    if kind == "Sequential":
        return "import torch\nfrom torch import nn\n\nmodel = nn.Sequential(\n" + "\n".join(lines) + "\n)\n"
    if kind == "ModuleList":
        return ("import torch\nfrom torch import nn\n\n\nclass Net(nn.Module):\n    def __init__(self):\n"
                "        super().__init__()\n        self.layers = nn.ModuleList([\n"
                + "\n".join("    " * 2 + ln for ln in lines) + "\n        ])\n\n"
                "    def forward(self, x):\n        for layer in self.layers:\n            x = layer(x)\n"
                "        return x\n\n\nmodel = Net()\n")
    items = "\n".join(f'            "{n}": nn.{m!r},' for n, m in layers.items())
    return ("import torch\nfrom torch import nn\n\n\nclass Net(nn.Module):\n    def __init__(self):\n"
            "        super().__init__()\n        self.blocks = nn.ModuleDict({\n" + items + "\n        })\n\n"
            "    def forward(self, x):\n        for name in self.blocks:\n            x = self.blocks[name](x)\n"
            "        return x\n\n\nmodel = Net()\n")


# =========================================================================== 3.4 initialisation

INITS = ("default", "zeros", "normal", "normal_small", "xavier_uniform", "kaiming_normal", "orthogonal")


def apply_init(layer: nn.Linear, init: str, activation: str) -> None:
    """Initialise one Linear layer in place with a ``torch.nn.init`` strategy (biases to zero)."""
    if init == "default":
        layer.reset_parameters()     # PyTorch's own: kaiming_uniform with a=√5, i.e. U(±1/√fan_in)
        return
    with torch.no_grad():
        if init == "zeros":
            nn.init.zeros_(layer.weight)
        elif init == "normal":
            nn.init.normal_(layer.weight, 0.0, 1.0)
        elif init == "normal_small":
            nn.init.normal_(layer.weight, 0.0, 0.01)
        elif init == "xavier_uniform":
            nn.init.xavier_uniform_(layer.weight, gain=nn.init.calculate_gain(activation))
        elif init == "kaiming_normal":
            nn.init.kaiming_normal_(layer.weight, nonlinearity=activation)
        elif init == "orthogonal":
            nn.init.orthogonal_(layer.weight, gain=nn.init.calculate_gain(activation))
        else:
            raise ValueError(f"unknown init {init!r}")
        nn.init.zeros_(layer.bias)


def init_activation_stats(init: str, activation: str = "relu", depth: int = 10, width: int = 128,
                          n: int = 512, seed: int = 0, hist_bins: int = 40) -> dict:
    """Push n standard-normal inputs [n, width] through ``depth`` Linear+activation layers.

    Returns per layer: std, mean, fraction of exact zeros, a histogram of the activations,
    and the std of the weight gradient of mean(out²) (vanishing/exploding gradients).
    """
    gen = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    act = {"relu": torch.relu, "tanh": torch.tanh}[activation]
    layers = [nn.Linear(width, width) for _ in range(depth)]
    for layer in layers:
        apply_init(layer, init, activation)
    h = torch.randn(n, width, generator=gen)
    stats = []
    for i, layer in enumerate(layers):
        h = act(layer(h))
        values = h.detach().double()
        sample = values.ravel()[:4096].numpy()          # a histogram of 4k values looks the same, costs less
        sample = sample[np.isfinite(sample)]
        counts, edges = np.histogram(sample, bins=hist_bins) if sample.size else (np.zeros(1), np.zeros(2))
        stats.append({"layer": i + 1, "std": float(values.std()), "mean": float(values.mean()),
                      "zero_fraction": float((values == 0).double().mean()), "counts": counts, "edges": edges})
    h.pow(2).mean().backward()
    for row, layer in zip(stats, layers):
        row["grad_std"] = float(layer.weight.grad.std())
    return {"init": init, "activation": activation, "layers": stats}


def init_histogram_figure(stats: dict, title: str = "") -> go.Figure:
    """One histogram of activation values per layer (each with its own x-range)."""
    layers = stats["layers"]
    fig = make_subplots(rows=2, cols=math.ceil(len(layers) / 2),
                        subplot_titles=[f"L{r['layer']} σ={r['std']:.2g}" for r in layers],
                        horizontal_spacing=0.03, vertical_spacing=0.18)
    cols = math.ceil(len(layers) / 2)
    for i, row in enumerate(layers):
        centres = (row["edges"][1:] + row["edges"][:-1]) / 2 if len(row["edges"]) > 1 else [0]
        fig.add_trace(go.Bar(x=centres, y=row["counts"], marker_color=PALETTE[0], showlegend=False),
                      row=i // cols + 1, col=i % cols + 1)
    fig.update_yaxes(showticklabels=False)
    fig.update_layout(bargap=0)
    return _layout(fig, title, height=400, margin=dict(l=20, r=10, t=80, b=30))


def std_per_layer_figure(all_stats: dict[str, dict], key: str = "std", title: str = "") -> go.Figure:
    """Activation std per layer for several inits, log scale (a zero std leaves a gap)."""
    fig = go.Figure()
    for i, (name, stats) in enumerate(all_stats.items()):
        ys = [r[key] if r[key] > 0 and math.isfinite(r[key]) else None for r in stats["layers"]]
        fig.add_trace(go.Scatter(x=[r["layer"] for r in stats["layers"]], y=ys, name=name, mode="lines+markers",
                                 line=dict(color=PALETTE[i % len(PALETTE)])))
    return _layout(fig, title, yaxis=dict(type="log", exponentformat="power"), xaxis=dict(title="layer", dtick=1))


# =========================================================================== 3.5 parameters

def parameter_table(model: nn.Module) -> list[dict]:
    """Every parameter and buffer: name, kind, shape, numel, requires_grad, mean and std."""
    rows = []
    for kind, items in (("parameter", model.named_parameters()), ("buffer", model.named_buffers())):
        for name, t in items:
            values = t.detach().double()
            rows.append({"name": name, "kind": kind, "shape": str(tuple(t.shape)), "numel": t.numel(),
                         "dtype": str(t.dtype).replace("torch.", ""),
                         "requires_grad": bool(t.requires_grad),
                         "mean": float(values.mean()) if t.numel() and t.is_floating_point() else float(values.sum()),
                         "std": float(values.std()) if t.numel() > 1 and t.is_floating_point() else 0.0})
    return rows


def state_dict_summary(model: nn.Module) -> dict:
    """What ``parameters()``, ``named_parameters()`` and ``state_dict()`` each contain."""
    sd = model.state_dict()
    names = [n for n, _ in model.named_parameters()]
    return {"n_tensors_parameters": len(list(model.parameters())), "n_params": sum(p.numel() for p in model.parameters()),
            "state_dict_keys": list(sd), "buffer_keys": [k for k in sd if k not in names],
            "state_dict_numel": sum(v.numel() for v in sd.values())}


# =========================================================================== 3.6 实战: an MLP

@dataclass
class MLPSettings:
    dataset: str = "digits"        # "digits" (8×8) or "mnist5k" (28×28)
    depth: int = 2                 # hidden layers, 0–6
    width: int = 64                # neurons per hidden layer, 1–512
    activation: str = "relu"
    dropout: float = 0.0
    epochs: int = 8
    lr: float = 3e-3
    batch_size: int = 64
    seed: int = 0
    max_steps: int | None = None   # the tiny preset stops early so tests stay fast


def build_mlp(s: MLPSettings) -> nn.Module:
    """The book's MLP (core.nets "mlp") sized for the chosen digit images."""
    if not (0 <= s.depth <= 6 and 1 <= s.width <= 512 and 0.0 <= s.dropout < 1.0):
        raise HeroError("ch03.bad_mlp", depth=s.depth, width=s.width, dropout=s.dropout)
    side = datasets.load(s.dataset).image_shape[0]
    torch.manual_seed(s.seed)
    return nets.build("mlp", {"in_features": side * side, "hidden": (s.width,) * s.depth, "out_features": 10,
                              "activation": s.activation, "dropout": s.dropout})


@torch.no_grad()
def mlp_forward(model: nn.Module, dataset: str, n: int = 256) -> dict:
    """Untrained (or trained) forward pass on the first n real digits, in eval mode.

    Returns input/output shapes, probabilities of the first image [10], and accuracy on the n.
    """
    ds = datasets.load(dataset)
    X, y = torch.tensor(ds.X[:n]), torch.tensor(ds.y[:n])
    was_training = model.training
    model.eval()
    logits = model(X)
    model.train(was_training)
    probs = logits.softmax(-1)
    return {"input_shape": tuple(X.shape), "output_shape": tuple(logits.shape), "probs": probs[0].numpy(),
            "label": int(y[0]), "accuracy": float((logits.argmax(1) == y).float().mean()),
            "image": ds.X[0].reshape(ds.image_shape)}


@dataclass
class MLPRun:
    model: nn.Module
    settings: MLPSettings
    history: list[dict] = field(default_factory=list)
    end: dict = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return bool(self.end) and self.end.get("reason") != "nan"


def train_mlp(s: MLPSettings, stop_event: threading.Event | None = None, emit: Emit | None = None) -> MLPRun:
    """A few seconds of training with core.train.fit (Adam, cross-entropy); events go to ``emit``."""
    emit = emit or (lambda event: None)
    seed_everything(s.seed)
    split = datasets.split(datasets.load(s.dataset), 0.2, seed=s.seed)
    model = build_mlp(s)
    run = MLPRun(model=model, settings=s)
    run.history, run.end = record(fit(
        model, (split.X_train, split.y_train), (split.X_val, split.y_val),
        optimizer=make_optimizer("adam", model.parameters(), s.lr), epochs=s.epochs, batch_size=s.batch_size,
        seed=s.seed, callbacks=[NaNGuard()], stop_event=stop_event, max_steps=s.max_steps), emit)
    model.eval()
    return run
