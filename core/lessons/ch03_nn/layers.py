"""3.2 Layers: every common torch.nn layer with its hyperparameters, predicted output shape,
parameter count and cost, and an explained error for a shape that does not fit."""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

import torch
from torch import nn

from core.errors import HeroError

from .limits import MAX_DIM, MAX_DIMS, MAX_MACS, MAX_NUMEL, MAX_OUT_NUMEL


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


def _conv_hps(c_in: int, c_out: int, k: int) -> tuple[HP, ...]:
    return (HP("in_channels", c_in, 1, 512), HP("out_channels", c_out, 1, 512), HP("kernel_size", k, 1, 11),
            HP("stride", 1, 1, 8), HP("padding", 0, 0, 8), HP("dilation", 1, 1, 4), HP("bias", True))



_RNN = (HP("input_size", 28, 1, 1024), HP("hidden_size", 16, 1, 1024), HP("num_layers", 1, 1, 4),
        HP("bidirectional", False))
_POOL = (HP("kernel_size", 2, 1, 11), HP("stride", 2, 1, 8), HP("padding", 0, 0, 5))

LAYERS: dict[str, LayerSpec] = {s.name: s for s in (
    LayerSpec("Linear", "linear", (HP("in_features", 784, 1, 4096), HP("out_features", 32, 1, 4096),
                                   HP("bias", True)), (1, 784)),
    LayerSpec("Conv1d", "conv", _conv_hps(1, 4, 3), (1, 1, 28)),
    LayerSpec("Conv2d", "conv", _conv_hps(1, 8, 3), (1, 1, 28, 28)),
    LayerSpec("ConvTranspose2d", "conv", _conv_hps(1, 4, 2)[:4] + (HP("padding", 0, 0, 8),
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


def layer_core_main(name: str, hp: dict, side: int, kernels: str = "random") -> str:
    """The ``__main__`` of the layer take-home script: the layer on its default input and on a digit-sized image."""
    shape = LAYERS[name].default_shape
    return (f"r = run_layer({name!r}, {hp!r}, {tuple(shape)!r})\n"
            "print('output', r.out_shape, 'predicted', r.predicted_shape, 'parameters', r.n_params)\nprint(r.formula)\n"
            f"e = layer_on_digit({name!r}, {hp!r}, np.random.default_rng(0).random(({side}, {side})), {kernels!r})\n"
            "print('on a digit:', e.in_shape, '->', e.out_shape)")
