"""7.3 Transfer learning: a pretrained backbone (offline: this project's shapes-pretrained tiny ResNet;
online opt-in: torchvision's ImageNet resnet18) with freezing, vs the same net from scratch, few-shot."""
from __future__ import annotations

import copy
import threading
from dataclasses import asdict, dataclass, field
from typing import Callable

import numpy as np
import torch
from torch import nn

from core import data as datasets
from core import nets, weights
from core.data import split as split_data   # the take-home inliner binds one ``datasets`` namespace per module
from core.device import seed_everything
from core.errors import Emit, HeroError
from core.lessons.ch07_vision.architectures import _torchvision, count_parameters
from core.lessons import trainer
from core.lessons.ch07_vision.presets import PRESETS
from core.train import NaNGuard, amp_callbacks, fit, make_optimizer, record


BACKBONE_CHECKPOINT = "ch07_shapes_resnet"
SOURCE_TASK = "ch07_shapes"          # what the offline backbone was pretrained on
FREEZE_LEVELS = ("none", "some", "all")
IMAGE_SIZE = 32
IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
# The shipped backbone's architecture (the recipe in core/recipes/ch07.py; a test keeps them equal)
SHAPES_CONFIG = {"in_channels": 3, "image_size": 32, "widths": [16, 32, 64], "n_classes": 10}


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


def from_tiny_resnet(model: nn.Module, n_classes: int, image_size: int | None = None) -> TransferNet:
    """Wrap a (copied) tiny_resnet's stem and stages as a backbone with a new head. Its convs and
    global pooling take any input size: ``image_size`` (default: the pretraining size) only says
    how flattened rows are reshaped."""
    model = copy.deepcopy(model)
    groups = nn.ModuleDict({name: getattr(model, name) for name in model.GROUPS})
    return TransferNet(groups, model.config.widths[-1], n_classes, image_size or model.config.image_size)


def from_torchvision_resnet(model: nn.Module, n_classes: int, image_size: int = IMAGE_SIZE) -> TransferNet:
    """Wrap torchvision's resnet18 (conv1…layer4) as a backbone; inputs are ImageNet-normalised."""
    stem = nn.Sequential(model.conv1, model.bn1, model.relu, model.maxpool)
    groups = nn.ModuleDict({"stem": stem, **{f"layer{i}": getattr(model, f"layer{i}") for i in range(1, 5)}})
    return TransferNet(groups, model.fc.in_features, n_classes, image_size, IMAGENET_MEAN, IMAGENET_STD)


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


def pretrain_shapes_backbone(n_per_class: int = 300, epochs: int = 6, seed: int = 0, device: str = "cpu") -> Backbone:
    """The shipped backbone's recipe, run here: a tiny ResNet trained on the generated shapes and
    textures task (10 classes, 32×32 RGB), for a take-home script that has no ``models/`` folder."""
    seed_everything(seed)
    ds = datasets.load(SOURCE_TASK, n_per_class=n_per_class, seed=seed)
    split = split_data(ds, 0.2, seed=seed)
    model = nets.build("tiny_resnet", SHAPES_CONFIG).to(device)
    opt = make_optimizer("adam", model.parameters(), 3e-3)
    record(fit(model, (split.X_train, split.y_train), (split.X_val, split.y_val), optimizer=opt, epochs=epochs,
               batch_size=64, seed=seed, device=device, callbacks=[*amp_callbacks(device), NaNGuard()]))
    return Backbone(model.cpu().eval(), "shapes")


def transfer_net(backbone: Backbone, n_classes: int, seed: int = 0, scratch: bool = False,
                 image_size: int = IMAGE_SIZE) -> TransferNet:
    """A network for the target task (inputs image_size², default 32²): the pretrained backbone +
    a new head, or (``scratch``) the same architecture with fresh random weights."""
    torch.manual_seed(seed)   # the new head (and a scratch net) starts the same in every run
    if backbone.kind == "imagenet":
        return from_torchvision_resnet(_torchvision("resnet18")() if scratch else copy.deepcopy(backbone.model),
                                       n_classes, image_size)
    if scratch:   # the same architecture, freshly initialised
        return from_tiny_resnet(type(backbone.model)(copy.deepcopy(backbone.model.config)), n_classes, image_size)
    return from_tiny_resnet(backbone.model, n_classes, image_size)


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
    device: str = "cpu"          # where the nets and batches live ("cuda", "mps", "cpu")


@dataclass
class TransferResult:
    histories: dict[str, list[dict]]        # "pretrained" / "scratch" → eval events
    final: dict[str, float]                 # run → final validation accuracy
    backbone: str                           # "shapes" or "imagenet"
    note: str = ""
    frozen: list[str] = field(default_factory=list)
    settings: dict = field(default_factory=dict)
    trainable: dict[str, int] = field(default_factory=dict)
    model: nn.Module | None = None          # the trained pretrained-backbone net (on the CPU)


def train_transfer(s: TransferSettings, stop_event: threading.Event | None = None, emit: Emit | None = None,
                   loader: Callable | None = None) -> TransferResult:
    """``transfer_runs`` with the shipped (or, when asked and reachable, ImageNet) backbone."""
    return transfer_runs(s, pretrained_backbone(s.imagenet, loader), stop_event, emit)


def transfer_runs(s: TransferSettings, backbone: Backbone, stop_event: threading.Event | None = None,
                  emit: Emit | None = None) -> TransferResult:
    """Pretrained backbone (+ freezing) vs the same architecture from scratch, on the same
    seed and few-shot split. Events are fit's, tagged with ``run``."""
    emit = emit or (lambda event: None)
    split = few_shot_digits(s.shots, s.n_val, s.seed)
    histories, final, trainable, frozen, kept = {}, {}, {}, [], None
    for run in ("pretrained", "scratch"):
        seed_everything(s.seed)
        net = transfer_net(backbone, 10, s.seed, scratch=run == "scratch").to(s.device)
        if run == "pretrained":
            frozen, kept = freeze(net, s.freeze), net
        trainable[run] = count_parameters(net)["trainable"]
        opt = make_optimizer("adam", [p for p in net.parameters() if p.requires_grad], s.lr)
        histories[run] = []
        for event in fit(net, (split.X_train, split.y_train), (split.X_val, split.y_val), optimizer=opt,
                         epochs=s.epochs, batch_size=s.batch_size, seed=s.seed, device=s.device,
                         callbacks=[*amp_callbacks(s.device), NaNGuard()], stop_event=stop_event):
            if event["kind"] == "eval":
                histories[run].append(event)
            elif event["kind"] == "end":
                final[run] = event.get("val_acc", float("nan"))
            emit({**event, "run": run})
        if stop_event is not None and stop_event.is_set():
            break
    return TransferResult(histories, final, backbone.kind, backbone.note, frozen, asdict(s), trainable,
                          kept.cpu().eval() if kept is not None else None)


@trainer("ch07_transfer")
def _check_transfer(device: str, preset: str) -> dict:
    P = PRESETS[preset]
    r = train_transfer(TransferSettings(shots=P["shots"], epochs=P["lab_epochs"], n_val=P["lab_val"], device=device))
    return {f"{k}_val_acc": v for k, v in r.final.items()}


def classifier_files(net: nn.Module, name: str, info: dict) -> dict[str, bytes]:
    """A trained ``TransferNet`` (not a registered net: a backbone plus a new head) as
    ``<name>.safetensors``, its layout and ``info`` (classes, image size) in the metadata."""
    import json

    from safetensors.torch import save
    state = {k: v.detach().cpu().contiguous().clone() for k, v in net.state_dict().items()}
    meta = {"model": "TransferNet", "groups": json.dumps(list(net.groups)), "image_size": str(net.image_size),
            **{k: json.dumps(v) for k, v in info.items()}}
    return {f"{name}.safetensors": save(state, metadata=meta)}
