"""Chapter 7 — computer vision: convolution arithmetic, receptive fields, feature maps, the
classic architectures measured, transfer learning, class imbalance, and fine-tuning on your
own images with Grad-CAM.

Plain functions returning data (plus this chapter's plotly figures); the Streamlit page and
the Gradio widget only draw what comes back.
"""
from __future__ import annotations

import copy
import re
import statistics
import threading
import time
from dataclasses import asdict, dataclass, field
from typing import Callable

import numpy as np
import plotly.graph_objects as go
import torch
from plotly.subplots import make_subplots
from PIL import Image
from torch import nn
from torch.nn import functional as F
from torch.utils.flop_counter import FlopCounterMode

from core import data as datasets
from core import nets, uploads, weights
from core.device import seed_everything, synchronize
from core.errors import HeroError
from core.lessons.ch05_training import confusion
from core.train import NaNGuard, fit, make_optimizer, record
from core.viz import LAYOUT, PALETTE

Emit = Callable[[dict], None]

# Sizes per preset: tiny keeps tests to a few seconds; default is a visitor on 2 CPU cores.
PRESETS = {
    "tiny": {"zoo_size": 32, "zoo_models": ["lenet", "resnet18"], "zoo_repeats": 1, "shots": 2,
             "lab_epochs": 2, "lab_val": 60, "imb_epochs": 2, "ft_epochs": 2, "photos": 6},
    "default": {"zoo_size": 64, "zoo_models": ["lenet", "alexnet", "resnet18"], "zoo_repeats": 3, "shots": 5,
                "lab_epochs": 15, "lab_val": 200, "imb_epochs": 20, "ft_epochs": 8, "photos": 30},
    "gpu": {"zoo_size": 224, "zoo_models": ["lenet", "alexnet", "vgg11", "resnet18", "densenet121"],
            "zoo_repeats": 10, "shots": 5, "lab_epochs": 40, "lab_val": 1000, "imb_epochs": 40, "ft_epochs": 15,
            "photos": 60},
}

# --------------------------------------------------------------------------- 7.1 convolution

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


# --------------------------------------------------------------------------- 7.1 feature maps

FEATURE_CHECKPOINT = "ch05_mnist_cnn"   # the trained 28×28 digit CNN of chapter 5


@torch.no_grad()
def feature_maps(model: nn.Module, x: torch.Tensor) -> dict:
    """Every 4-D activation of ``model`` on one input x [1, D], caught with forward hooks.

    Returns {"layers": [{"name", "type", "maps" [C, H, W]}...] in forward order, "probs" [classes]}.
    """
    found: list[dict] = []
    hooks = [module.register_forward_hook(
        lambda mod, inp, out, name=name: found.append({"name": name, "type": type(mod).__name__,
                                                       "maps": out[0].detach().numpy().copy()})
        if out.ndim == 4 else None)
        for name, module in model.named_modules() if not list(module.children())]
    try:
        was_training = model.training
        probs = model.eval()(x).softmax(-1)[0].numpy()
        model.train(was_training)
    finally:
        for h in hooks:
            h.remove()
    return {"layers": found, "probs": probs}


# --------------------------------------------------------------------------- 7.2 architecture zoo

def _torchvision(name: str) -> Callable[[], nn.Module]:
    def build() -> nn.Module:
        import torchvision
        return getattr(torchvision.models, name)(weights=None)   # random weights: nothing downloaded
    return build


ZOO: dict[str, dict] = {   # min_size: smallest input side the network's pooling survives
    "lenet": {"build": lambda: nets.build("lenet5", {"in_channels": 3}), "min_size": 32, "year": 1998},
    "alexnet": {"build": _torchvision("alexnet"), "min_size": 63, "year": 2012},
    "vgg11": {"build": _torchvision("vgg11"), "min_size": 32, "year": 2014},
    "resnet18": {"build": _torchvision("resnet18"), "min_size": 32, "year": 2015},
    "densenet121": {"build": _torchvision("densenet121"), "min_size": 32, "year": 2016},
}
ZOO_SIZES = (32, 64, 96, 128, 160, 224)   # input sides offered (224 = ImageNet)


def count_parameters(model: nn.Module) -> dict:
    return {"total": sum(p.numel() for p in model.parameters()),
            "trainable": sum(p.numel() for p in model.parameters() if p.requires_grad)}


def count_flops(model: nn.Module, x: torch.Tensor) -> tuple[int, dict[str, int]]:
    """FLOPs of one forward pass (torch.utils.flop_counter: a multiply-add counts 2), total and
    per module (keys are module paths, e.g. "layer1.0")."""
    was_training = model.training
    model.eval()
    with torch.no_grad(), FlopCounterMode(display=False, depth=64) as counter:
        model(x)
    model.train(was_training)
    prefix = type(model).__name__ + "."
    per_module = {k[len(prefix):]: sum(v.values()) for k, v in counter.get_flop_counts().items()
                  if k.startswith(prefix)}
    return int(counter.get_total_flops()), per_module


def layer_table(model: nn.Module, x: torch.Tensor, depth: int = 2) -> list[dict]:
    """One row per module at ``depth`` (or a shallower leaf): output shape, parameters, FLOPs."""
    chosen = [(name, m) for name, m in model.named_modules()
              if name and (name.count(".") + 1 == depth or (name.count(".") + 1 < depth and not list(m.children())))]
    shapes: dict[str, tuple] = {}
    hooks = [m.register_forward_hook(lambda mod, inp, out, name=name: shapes.__setitem__(
        name, tuple(out.shape) if isinstance(out, torch.Tensor) else None)) for name, m in chosen]
    try:
        _, flops = count_flops(model, x)
    finally:
        for h in hooks:
            h.remove()
    return [{"layer": name, "type": type(m).__name__, "output": str(list(shapes.get(name) or [])),
             "params": sum(p.numel() for p in m.parameters()), "flops": flops.get(name, 0)}
            for name, m in chosen if name in shapes]


def time_forward(model: nn.Module, x: torch.Tensor, repeats: int = 3, device: str = "cpu") -> float:
    """Median wall time (ms) of a forward pass on ``device`` in eval mode without autograd,
    after one warm-up (GPU work is synchronised before each clock read)."""
    model, x = model.to(device).eval(), x.to(device)
    times = []
    with torch.no_grad():
        model(x)
        synchronize(device)
        for _ in range(max(1, repeats)):
            t0 = time.perf_counter()
            model(x)
            synchronize(device)
            times.append((time.perf_counter() - t0) * 1000)
    model.cpu()
    return statistics.median(times)


def analyse_architecture(name: str, size: int, repeats: int = 3, device: str = "cpu") -> dict:
    """Build zoo model ``name`` (random weights) and measure it on a [1, 3, size, size] input."""
    if name not in ZOO:
        raise HeroError("ch07.unknown_model", name=name, known=", ".join(ZOO))
    if not ZOO[name]["min_size"] <= size <= max(ZOO_SIZES):
        raise HeroError("ch07.bad_input_size", name=name, size=size, low=ZOO[name]["min_size"], high=max(ZOO_SIZES))
    torch.manual_seed(0)
    model = ZOO[name]["build"]().eval()
    x = torch.rand(1, 3, size, size)
    flops, _ = count_flops(model, x)
    return {"name": name, "year": ZOO[name]["year"], "params": count_parameters(model)["total"], "flops": flops,
            "ms": time_forward(model, x, repeats, device), "table": layer_table(model, x), "size": size,
            "device": str(device)}


def analyse_zoo(names: list[str], size: int, repeats: int, stop_event: threading.Event | None = None,
                emit: Emit | None = None, device: str = "cpu") -> list[dict]:
    """``analyse_architecture`` for each name in turn (a background job: VGG/DenseNet take seconds)."""
    emit = emit or (lambda event: None)
    results = []
    for i, name in enumerate(names):
        if stop_event is not None and stop_event.is_set():
            break
        emit({"kind": "model", "name": name, "index": i, "total": len(names)})
        results.append(analyse_architecture(name, max(size, ZOO[name]["min_size"]), repeats, device))
    emit({"kind": "end", "reason": "completed" if len(results) == len(names) else "stopped"})
    return results


# --------------------------------------------------------------------------- 7.3 transfer learning

BACKBONE_CHECKPOINT = "ch07_shapes_resnet"
SOURCE_TASK = "ch07_shapes"          # what the offline backbone was pretrained on
FREEZE_LEVELS = ("none", "some", "all")
IMAGE_SIZE = 32
IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


class TransferNet(nn.Module):
    """A backbone (named groups of layers, in forward order) + global pooling + a new linear head.

    x: flattened [B, 3·S²] or [B, 3, S, S] in [0, 1] → logits [B, n_classes]. Frozen groups have
    ``requires_grad=False`` *and* stay in eval mode, so their BatchNorm statistics do not drift
    either (``train()`` is overridden: ``fit`` calls it every epoch).
    """

    def __init__(self, groups: nn.ModuleDict, feat_dim: int, n_classes: int, image_size: int = IMAGE_SIZE,
                 mean: tuple | None = None, std: tuple | None = None):
        super().__init__()
        self.groups, self.image_size = groups, image_size
        self.head = nn.Linear(feat_dim, n_classes)
        self.frozen: tuple[str, ...] = ()
        self.register_buffer("mean", torch.tensor(mean or (0.0, 0.0, 0.0)).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(std or (1.0, 1.0, 1.0)).view(1, 3, 1, 1))

    def feature_map(self, x: torch.Tensor) -> torch.Tensor:
        """The last group's activation [B, F, h, w] (what Grad-CAM weighs)."""
        if x.ndim == 2:
            x = x.reshape(-1, 3, self.image_size, self.image_size)
        x = (x - self.mean) / self.std
        for group in self.groups.values():
            x = group(x)
        return x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.feature_map(x).mean((2, 3)))

    def train(self, mode: bool = True) -> "TransferNet":
        super().train(mode)
        for name in self.frozen:
            self.groups[name].eval()
        return self


def freeze(net: TransferNet, level: str) -> list[str]:
    """Freeze none / some (every group but the last) / all groups of the backbone; the head
    always trains. Returns the frozen group names."""
    if level not in FREEZE_LEVELS:
        raise HeroError("ch07.bad_freeze", level=level, known=", ".join(FREEZE_LEVELS))
    names = list(net.groups)
    frozen = {"none": [], "some": names[:-1], "all": names}[level]
    for name, group in net.groups.items():
        for p in group.parameters():
            p.requires_grad_(name not in frozen)
    net.frozen = tuple(frozen)
    net.train(net.training)
    return frozen


def from_tiny_resnet(model: nn.Module, n_classes: int) -> TransferNet:
    """Wrap a (copied) tiny_resnet's stem and stages as a backbone with a new head."""
    model = copy.deepcopy(model)
    groups = nn.ModuleDict({name: getattr(model, name) for name in model.GROUPS})
    return TransferNet(groups, model.config.widths[-1], n_classes, model.config.image_size)


def from_torchvision_resnet(model: nn.Module, n_classes: int) -> TransferNet:
    """Wrap torchvision's resnet18 (conv1…layer4) as a backbone; inputs are ImageNet-normalised."""
    stem = nn.Sequential(model.conv1, model.bn1, model.relu, model.maxpool)
    groups = nn.ModuleDict({"stem": stem, **{f"layer{i}": getattr(model, f"layer{i}") for i in range(1, 5)}})
    return TransferNet(groups, model.fc.in_features, n_classes, IMAGE_SIZE, IMAGENET_MEAN, IMAGENET_STD)


def imagenet_resnet18(timeout: float = 30.0, loader: Callable[[], nn.Module] | None = None) -> tuple[nn.Module | None, str]:
    """torchvision's ImageNet resnet18 (downloads ~45 MB once), or (None, why) when that fails.

    Runs in a thread with a timeout: with the network down, urllib can block far longer.
    """
    def default_loader() -> nn.Module:
        from torchvision.models import ResNet18_Weights, resnet18
        return resnet18(weights=ResNet18_Weights.IMAGENET1K_V1)

    box: dict = {}

    def work():
        try:
            box["model"] = (loader or default_loader)()
        except Exception as exc:   # every network/disk failure means the same thing here: fall back
            box["error"] = f"{type(exc).__name__}: {str(exc)[:120]}"

    thread = threading.Thread(target=work, daemon=True)
    thread.start()
    thread.join(timeout)
    if "model" in box:
        return box["model"], "imagenet"
    return None, box.get("error", f"timeout after {timeout:.0f} s")


@dataclass
class Backbone:
    model: nn.Module | None     # the pretrained network (None = train from scratch)
    kind: str                   # "shapes" (offline, this project's recipe) or "imagenet"
    note: str = ""              # why ImageNet was not used, when it was asked for


def pretrained_backbone(use_imagenet: bool = False, loader: Callable | None = None) -> Backbone:
    """ImageNet resnet18 when asked for and reachable; otherwise the offline shapes-pretrained net."""
    note = ""
    if use_imagenet:
        model, why = imagenet_resnet18(loader=loader)
        if model is not None:
            return Backbone(model, "imagenet")
        note = why
    return Backbone(weights.load(BACKBONE_CHECKPOINT).model, "shapes", note)


def transfer_net(backbone: Backbone, n_classes: int, seed: int = 0, scratch: bool = False) -> TransferNet:
    """A network for the target task: the pretrained backbone + a new head, or (``scratch``)
    the same architecture with fresh random weights."""
    torch.manual_seed(seed)   # the new head (and a scratch net) starts the same in every run
    if backbone.kind == "imagenet":
        return from_torchvision_resnet(_torchvision("resnet18")() if scratch else copy.deepcopy(backbone.model),
                                       n_classes)
    if scratch:
        recipe = weights.get_recipe(BACKBONE_CHECKPOINT)
        return from_tiny_resnet(nets.build(recipe.arch, recipe.config), n_classes)
    return from_tiny_resnet(backbone.model, n_classes)


def to_rgb32(grey: np.ndarray, side: int) -> np.ndarray:
    """Grey digits [N, side²] → [N, 3·32²]: zero-padded to 32×32 (as LeNet did) and repeated on 3 channels."""
    imgs = grey.reshape(-1, side, side)
    pad = (IMAGE_SIZE - side) // 2
    imgs = np.pad(imgs, ((0, 0), (pad, IMAGE_SIZE - side - pad), (pad, IMAGE_SIZE - side - pad)))
    return np.repeat(imgs[:, None], 3, axis=1).reshape(len(imgs), -1).astype(np.float32)


def few_shot_digits(shots: int, n_val: int, seed: int = 0) -> datasets.Split:
    """Target task: MNIST-5k digits, ``shots`` training images per class and a disjoint,
    balanced validation set of ``n_val`` images, as 32×32 RGB rows [N, 3072]."""
    if not 1 <= shots <= 100:
        raise HeroError("ch07.bad_shots", shots=shots, low=1, high=100)
    ds = datasets.load("mnist5k")
    rng = np.random.default_rng(seed)
    train_idx, val_idx = [], []
    for c in range(10):
        idx = rng.permutation(np.flatnonzero(ds.y == c))
        train_idx.append(idx[:shots])
        val_idx.append(idx[shots:shots + max(1, n_val // 10)])
    tr, va = np.concatenate(train_idx), np.concatenate(val_idx)
    X = to_rgb32(ds.X, 28)
    as_t = torch.from_numpy
    return datasets.Split(as_t(X[tr]), as_t(ds.y[tr]), as_t(X[va]), as_t(ds.y[va]))


@dataclass
class TransferSettings:
    shots: int = 5               # training images per digit class (few-shot)
    freeze: str = "all"          # none / some / all backbone groups frozen
    epochs: int = 20
    lr: float = 3e-3
    batch_size: int = 16
    n_val: int = 300
    seed: int = 0
    imagenet: bool = False       # ask for torchvision's ImageNet weights (online)


@dataclass
class TransferResult:
    histories: dict[str, list[dict]]        # "pretrained" / "scratch" → eval events
    final: dict[str, float]                 # run → final validation accuracy
    backbone: str                           # "shapes" or "imagenet"
    note: str = ""
    frozen: list[str] = field(default_factory=list)
    settings: dict = field(default_factory=dict)
    trainable: dict[str, int] = field(default_factory=dict)


def train_transfer(s: TransferSettings, stop_event: threading.Event | None = None, emit: Emit | None = None,
                   loader: Callable | None = None) -> TransferResult:
    """Pretrained backbone (+ freezing) vs the same architecture from scratch, on the same
    seed and few-shot split. Events are fit's, tagged with ``run``."""
    emit = emit or (lambda event: None)
    split = few_shot_digits(s.shots, s.n_val, s.seed)
    backbone = pretrained_backbone(s.imagenet, loader)
    histories, final, trainable, frozen = {}, {}, {}, []
    for run in ("pretrained", "scratch"):
        seed_everything(s.seed)
        net = transfer_net(backbone, 10, s.seed, scratch=run == "scratch")
        if run == "pretrained":
            frozen = freeze(net, s.freeze)
        trainable[run] = count_parameters(net)["trainable"]
        opt = make_optimizer("adam", [p for p in net.parameters() if p.requires_grad], s.lr)
        histories[run] = []
        for event in fit(net, (split.X_train, split.y_train), (split.X_val, split.y_val), optimizer=opt,
                         epochs=s.epochs, batch_size=s.batch_size, seed=s.seed, callbacks=[NaNGuard()],
                         stop_event=stop_event):
            if event["kind"] == "eval":
                histories[run].append(event)
            elif event["kind"] == "end":
                final[run] = event.get("val_acc", float("nan"))
            emit({**event, "run": run})
        if stop_event is not None and stop_event.is_set():
            break
    return TransferResult(histories, final, backbone.kind, backbone.note, frozen, asdict(s), trainable)


# --------------------------------------------------------------------------- 7.4 class imbalance

STRATEGIES = ("plain", "weighted", "resample")
MINORITY = (5, 6, 7, 8, 9)   # the digits made rare


def imbalanced_digits(minority_fraction: float, seed: int = 0) -> tuple[datasets.Split, np.ndarray]:
    """sklearn's 8×8 digits with the training images of digits 5–9 cut to ``minority_fraction``
    (at least 2 each); validation stays balanced so per-class recall is fair. Returns (split, counts [10])."""
    if not 0.01 <= minority_fraction <= 1.0:
        raise HeroError("ch07.bad_fraction", value=minority_fraction)
    split = datasets.split(datasets.load("digits"), 0.3, seed=seed)
    rng = np.random.default_rng(seed)
    y = split.y_train.numpy()
    keep = []
    for c in range(10):
        idx = np.flatnonzero(y == c)
        if c in MINORITY:
            idx = rng.choice(idx, max(2, int(round(len(idx) * minority_fraction))), replace=False)
        keep.append(idx)
    keep = torch.from_numpy(np.sort(np.concatenate(keep)))
    counts = np.bincount(y[keep.numpy()], minlength=10)
    return datasets.Split(split.X_train[keep], split.y_train[keep], split.X_val, split.y_val), counts


def class_weights(counts: np.ndarray) -> torch.Tensor:
    """Loss weight per class, N / (C · n_c): a rare class's mistakes cost proportionally more."""
    counts = np.maximum(np.asarray(counts, dtype=np.float64), 1)
    return torch.tensor(counts.sum() / (len(counts) * counts), dtype=torch.float32)


def resampling_loader(X: torch.Tensor, y: torch.Tensor, batch_size: int, seed: int = 0) -> torch.utils.data.DataLoader:
    """Batches drawn with ``WeightedRandomSampler`` (weight 1/n_c per sample): classes appear equally often."""
    counts = torch.bincount(y, minlength=int(y.max()) + 1).clamp(min=1).float()
    sampler = torch.utils.data.WeightedRandomSampler(1.0 / counts[y], num_samples=len(y), replacement=True,
                                                     generator=torch.Generator().manual_seed(seed))
    return torch.utils.data.DataLoader(torch.utils.data.TensorDataset(X, y), batch_size=batch_size, sampler=sampler)


@dataclass
class ImbalanceSettings:
    minority_fraction: float = 0.05   # share of digits 5–9 kept for training
    epochs: int = 25
    lr: float = 3e-3
    batch_size: int = 32
    seed: int = 0


def train_imbalance(s: ImbalanceSettings, stop_event: threading.Event | None = None,
                    emit: Emit | None = None) -> dict:
    """Train the same MLP three ways (plain CE, class-weighted CE, resampling) on the same seed.

    Returns {"counts" [10], "recall": {strategy: [10]}, "accuracy": {...}, "histories": {...}}.
    """
    emit = emit or (lambda event: None)
    split, counts = imbalanced_digits(s.minority_fraction, s.seed)
    out = {"counts": counts, "recall": {}, "accuracy": {}, "histories": {}, "settings": asdict(s)}
    for strategy in STRATEGIES:
        seed_everything(s.seed)
        model = nets.build("mlp", {"in_features": 64, "hidden": (64,), "out_features": 10})
        loss_fn = F.cross_entropy
        train: object = (split.X_train, split.y_train)
        if strategy == "weighted":
            w = class_weights(counts)
            loss_fn = lambda logits, target, w=w: F.cross_entropy(logits, target, weight=w)  # noqa: E731
        elif strategy == "resample":
            train = resampling_loader(split.X_train, split.y_train, s.batch_size, s.seed)
        opt = make_optimizer("adam", model.parameters(), s.lr)
        out["histories"][strategy] = []
        for event in fit(model, train, (split.X_val, split.y_val), optimizer=opt, loss_fn=loss_fn, epochs=s.epochs,
                         batch_size=s.batch_size, seed=s.seed, callbacks=[NaNGuard()], stop_event=stop_event):
            if event["kind"] == "eval":
                out["histories"][strategy].append(event)
            emit({**event, "run": strategy})
        conf = confusion(model, split.X_val, split.y_val, 10)
        out["recall"][strategy], out["accuracy"][strategy] = conf["recall"], conf["accuracy"]
        if stop_event is not None and stop_event.is_set():
            break
    return out


def recall_bars(recall: dict[str, np.ndarray], names: dict[str, str], title: str = "") -> go.Figure:
    """Grouped bars: per-class recall [10] for each strategy; the rare digits are shaded."""
    fig = go.Figure([go.Bar(x=[str(c) for c in range(10)], y=r, name=names.get(k, k),
                            marker_color=PALETTE[i]) for i, (k, r) in enumerate(recall.items())])
    fig.add_vrect(x0=MINORITY[0] - 0.5, x1=MINORITY[-1] + 0.5, fillcolor="#cccccc", opacity=0.25, line_width=0)
    return fig.update_layout(**{**LAYOUT, "title": title, "barmode": "group",
                                "yaxis": dict(range=[0, 1.05], tickformat=".0%"), "xaxis": dict(type="category")})


# --------------------------------------------------------------------------- 7.5 实战: your own images

MAX_FINETUNE_IMAGES = 600   # images per fine-tuning set (keeps a CPU run to about a minute)


def square_rgb(img: Image.Image, size: int) -> np.ndarray:
    """Centre-crop a PIL image to a square and resize: uint8 [size, size, 3]."""
    w, h = img.size
    side = min(w, h)
    box = ((w - side) // 2, (h - side) // 2, (w - side) // 2 + side, (h - side) // 2 + side)
    return np.asarray(img.convert("RGB").crop(box).resize((size, size), Image.Resampling.BILINEAR))


def image_row(data: bytes) -> tuple[np.ndarray, np.ndarray]:
    """Uploaded bytes (checked by ``core.uploads``) → (model input [3·32²] in [0, 1], display image uint8 [128, 128, 3])."""
    img = uploads.open_image(data)
    small = square_rgb(img, IMAGE_SIZE).astype(np.float32) / 255.0
    return small.transpose(2, 0, 1).reshape(-1), square_rgb(img, 128)


def folder_dataset(folder: uploads.ImageFolder) -> datasets.ArrayDataset:
    """A zip of class folders (already validated by ``read_image_zip``) → 32×32 RGB rows."""
    total = sum(len(v) for v in folder.images.values())
    if total > MAX_FINETUNE_IMAGES:
        raise HeroError("ch07.too_many_images", count=total, limit=MAX_FINETUNE_IMAGES)
    X, y = [], []
    for label, c in enumerate(folder.classes):
        for raw in folder.images[c]:
            X.append(image_row(raw)[0])
            y.append(label)
    return datasets.ArrayDataset(name="upload", X=np.stack(X), y=np.asarray(y, np.int64), classes=folder.classes,
                                 image_shape=(IMAGE_SIZE, IMAGE_SIZE), extra={"channels": 3},
                                 source=f"your zip: {total} images, {len(folder.classes)} classes")


def builtin_dataset(n_per_class: int) -> datasets.ArrayDataset:
    return datasets.load("ch07_photos", n_per_class=n_per_class)


@dataclass
class FinetuneSettings:
    epochs: int = 8
    freeze: str = "some"    # fine-tune the last stage and the head
    lr: float = 3e-3
    batch_size: int = 16
    seed: int = 0


@dataclass
class FinetuneResult:
    model: TransferNet
    classes: tuple[str, ...]
    history: list[dict]
    end: dict
    source: str

    @property
    def ok(self) -> bool:
        return bool(self.end) and self.end.get("reason") != "nan"


def finetune(ds: datasets.ArrayDataset, s: FinetuneSettings, stop_event: threading.Event | None = None,
             emit: Emit | None = None) -> FinetuneResult:
    """Fine-tune the offline pretrained backbone (new head, chosen groups frozen) on ``ds``."""
    emit = emit or (lambda event: None)
    seed_everything(s.seed)
    split = datasets.split(ds, 0.25, seed=s.seed)
    net = transfer_net(pretrained_backbone(False), len(ds.classes), s.seed)
    freeze(net, s.freeze)
    opt = make_optimizer("adam", [p for p in net.parameters() if p.requires_grad], s.lr)
    val = (split.X_val, split.y_val) if len(split.y_val) else None
    history, end = record(fit(net, (split.X_train, split.y_train), val, optimizer=opt, epochs=s.epochs,
                              batch_size=s.batch_size, seed=s.seed, callbacks=[NaNGuard()],
                              stop_event=stop_event), emit)
    return FinetuneResult(net.eval(), tuple(ds.classes), history, end, ds.source)


@torch.no_grad()
def predict_topk(model: nn.Module, row: np.ndarray, classes: tuple[str, ...], k: int = 3) -> list[tuple[str, float]]:
    """Top-k (class, probability) for one image row [3·32²]."""
    model.eval()
    probs = model(torch.as_tensor(row)[None]).softmax(-1)[0]
    top = probs.topk(min(k, len(classes)))
    return [(classes[int(i)], float(p)) for p, i in zip(top.values, top.indices)]


def _normalise(m: torch.Tensor) -> np.ndarray:
    """Scale a non-negative map to [0, 1] (all zeros stays all zeros)."""
    peak = float(m.max())
    return (m / peak if peak > 0 else m).numpy().astype(np.float32)


def grad_cam(model: TransferNet, row: np.ndarray, target: int | None = None) -> np.ndarray:
    """Grad-CAM (Selvaraju et al., 2017) for one image row → map [S, S] in [0, 1].

    1. forward to the last stage's activation A [1, F, h, w] and the class score y_c;
    2. α_f = mean over (h, w) of ∂y_c/∂A_f  (how much channel f pushes class c);
    3. cam = ReLU(Σ_f α_f A_f), upsampled to the input size and divided by its maximum.
    """
    model.eval()
    x = torch.as_tensor(row)[None].clone().requires_grad_(True)   # input grad keeps A in the graph when frozen
    A = model.feature_map(x)
    scores = model.head(A.mean((2, 3)))[0]
    c = int(scores.argmax()) if target is None else target
    (dA,) = torch.autograd.grad(scores[c], A)
    cam = F.relu((dA.mean((2, 3), keepdim=True) * A).sum(1, keepdim=True))
    cam = F.interpolate(cam, size=(model.image_size, model.image_size), mode="bilinear", align_corners=False)
    return _normalise(cam[0, 0].detach())


def saliency(model: TransferNet, row: np.ndarray, target: int | None = None) -> np.ndarray:
    """Vanilla gradient saliency: max over colour channels of |∂y_c/∂x| → map [S, S] in [0, 1]."""
    model.eval()
    x = torch.as_tensor(row)[None].clone().requires_grad_(True)
    scores = model(x)[0]
    c = int(scores.argmax()) if target is None else target
    (dx,) = torch.autograd.grad(scores[c], x)
    s = model.image_size
    return _normalise(dx.reshape(3, s, s).abs().amax(0))


def resize_map(m: np.ndarray, height: int, width: int) -> np.ndarray:
    """A [S, S] map resized (bilinear) to the display image's [height, width]."""
    t = F.interpolate(torch.as_tensor(m)[None, None], size=(height, width), mode="bilinear", align_corners=False)
    return t[0, 0].clamp(0, 1).numpy()


def overlay_figure(image: np.ndarray, heat: np.ndarray, title: str = "") -> go.Figure:
    """The image [H, W, 3] uint8 with a heatmap [H, W] in [0, 1] drawn semi-transparently over it."""
    fig = go.Figure([go.Image(z=image), go.Heatmap(z=heat, colorscale="Jet", opacity=0.45, zmin=0, zmax=1,
                                                   showscale=False, hoverinfo="skip")])
    fig.update_yaxes(autorange="reversed", scaleanchor="x", visible=False)
    fig.update_xaxes(visible=False)
    return fig.update_layout(**{**LAYOUT, "height": 300, "title": title, "margin": dict(l=5, r=5, t=40, b=5)})


def explain(model: TransferNet, data: bytes, classes: tuple[str, ...], k: int = 3) -> dict:
    """Uploaded image bytes → top-k, and Grad-CAM and saliency maps at the display image's shape."""
    row, shown = image_row(data)
    top = predict_topk(model, row, classes, k)
    target = classes.index(top[0][0])
    h, w = shown.shape[:2]
    return {"topk": top, "image": shown, "cam": resize_map(grad_cam(model, row, target), h, w),
            "saliency": resize_map(saliency(model, row, target), h, w)}


def image_bytes(row: np.ndarray, size: int = IMAGE_SIZE) -> bytes:
    """A dataset row [3·S²] in [0, 1] as PNG bytes (a built-in sample to classify)."""
    import io
    img = (row.reshape(3, size, size).transpose(1, 2, 0) * 255).round().astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, "PNG")
    return buf.getvalue()
