"""7.5 实战: fine-tune a pretrained backbone (offline: this project's shapes-pretrained tiny
ResNet; online and chosen: torchvision's ImageNet ResNet-18) on your own images or the built-in
real photos, then explain a prediction (top-k, Grad-CAM and gradient saliency)."""
from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import plotly.graph_objects as go
import torch
from PIL import Image
from torch import nn
from torch.nn import functional as F

from core import data as datasets
from core import uploads
from core.device import seed_everything
from core.errors import Emit, HeroError
from core.lessons.ch07_vision.transfer import (IMAGE_SIZE, Backbone, TransferNet, freeze, pretrained_backbone,
                                              transfer_net)
from core.lessons import trainer
from core.lessons.ch07_vision.presets import PRESETS
from core.train import NaNGuard, amp_callbacks, finished_ok, fit, make_optimizer, record
from core.viz import LAYOUT


MAX_FINETUNE_IMAGES = 600   # images per fine-tuning set (keeps a CPU run to about a minute)
FINETUNE_SIZE = 64          # the 实战's input side: photos need more than 32² to show a cat's face


def square_rgb(img: Image.Image, size: int) -> np.ndarray:
    """Centre-crop a PIL image to a square and resize: uint8 [size, size, 3]."""
    w, h = img.size
    side = min(w, h)
    box = ((w - side) // 2, (h - side) // 2, (w - side) // 2 + side, (h - side) // 2 + side)
    return np.asarray(img.convert("RGB").crop(box).resize((size, size), Image.Resampling.BILINEAR))


def image_row(data: bytes, size: int = IMAGE_SIZE) -> tuple[np.ndarray, np.ndarray]:
    """Uploaded bytes (checked by ``core.uploads``: byte size, declared pixels) → (model input
    [3·size²] in [0, 1], display image uint8 [128, 128, 3])."""
    img = uploads.open_image(data)
    small = square_rgb(img, size).astype(np.float32) / 255.0
    return small.transpose(2, 0, 1).reshape(-1), square_rgb(img, 128)


def folder_dataset(folder: uploads.ImageFolder, size: int = FINETUNE_SIZE) -> datasets.ArrayDataset:
    """A zip of class folders (already validated by ``read_image_zip``) → size×size RGB rows."""
    total = sum(len(v) for v in folder.images.values())
    if total > MAX_FINETUNE_IMAGES:
        raise HeroError("ch07.too_many_images", count=total, limit=MAX_FINETUNE_IMAGES)
    X, y = [], []
    for label, c in enumerate(folder.classes):
        for raw in folder.images[c]:
            X.append(image_row(raw, size)[0])
            y.append(label)
    return datasets.ArrayDataset(name="upload", X=np.stack(X), y=np.asarray(y, np.int64), classes=folder.classes,
                                 image_shape=(size, size), extra={"channels": 3},
                                 source=f"your zip: {total} images, {len(folder.classes)} classes")


def builtin_dataset(n_per_class: int, size: int = FINETUNE_SIZE) -> datasets.ArrayDataset:
    """The built-in real photos (``core.data.photo_sets``): 5 classes, validation crops from other photos."""
    return datasets.load("ch07_photos", n_per_class=n_per_class, size=size)


def preview_rows(ds: datasets.ArrayDataset) -> list[int]:
    """Rows to show of a set: per class its first training row and (when the set has a split) its
    first validation row, so a visitor sees that validation comes from other photos."""
    mask = ds.extra.get("val_mask")
    rows = []
    for k in range(len(ds.classes)):
        of_class = ds.y == k
        for part in ([~mask, mask] if mask is not None else [np.ones_like(of_class)]):
            hits = np.flatnonzero(of_class & part)
            rows += [int(hits[0])] if len(hits) else []
    return rows[:12]


def preview_caption(ds: datasets.ArrayDataset, i: int, train_tag: str, val_tag: str) -> str:
    """"class · train|validation · photo" for row i (the photo's name when the set records it)."""
    parts = [ds.classes[int(ds.y[i])]]
    if (mask := ds.extra.get("val_mask")) is not None:
        parts.append(val_tag if mask[i] else train_tag)
    if photos := ds.extra.get("photos"):
        parts.append(photos[i])
    return " · ".join(parts)


def preview(ds: datasets.ArrayDataset, train_tag: str, val_tag: str) -> tuple[list[np.ndarray], list[str]]:
    """The ``preview_rows`` of a set as display images uint8 [S, S, 3] and their captions."""
    rows, side = preview_rows(ds), ds.image_shape[0]
    images = [(ds.X[i].reshape(3, side, side).transpose(1, 2, 0) * 255).round().astype(np.uint8) for i in rows]
    return images, [preview_caption(ds, i, train_tag, val_tag) for i in rows]


def sample_row(ds: datasets.ArrayDataset) -> np.ndarray:
    """A row [3·S²] to classify before anything is uploaded: the first validation crop (a photo
    the model never trained on) when the set has a split, else the first row."""
    mask = ds.extra.get("val_mask")
    return ds.X[int(np.flatnonzero(mask)[0])] if mask is not None and mask.any() else ds.X[0]


@dataclass
class FinetuneSettings:
    epochs: int = 8
    freeze: str = "none"    # fine-tune everything: photos are far from the shapes the backbone learnt
    lr: float = 3e-3
    batch_size: int = 16
    seed: int = 0
    imagenet: bool = False  # ask for torchvision's ImageNet resnet18 (online); falls back to the offline backbone
    device: str = "cpu"     # where the net and batches live ("cuda", "mps", "cpu")


@dataclass
class FinetuneResult:
    model: TransferNet
    classes: tuple[str, ...]
    history: list[dict]
    end: dict
    source: str
    backbone: str = "shapes"   # the backbone that really ran: "shapes" (offline) or "imagenet"
    note: str = ""             # why ImageNet weights were not used, when they were asked for
    per_class: dict = field(default_factory=dict)   # class → validation accuracy (recall)
    sample: np.ndarray | None = None   # a validation row [3·S²] to classify before anything is uploaded

    @property
    def ok(self) -> bool:
        return finished_ok(self.end)


def finetune(ds: datasets.ArrayDataset, s: FinetuneSettings, stop_event: threading.Event | None = None,
             emit: Emit | None = None, loader: Callable | None = None) -> FinetuneResult:
    """``finetune_on`` the chosen backbone: ImageNet resnet18 when ``s.imagenet`` and reachable
    (``loader`` replaces the download in tests), else the offline shipped one (with the reason)."""
    return finetune_on(ds, s, pretrained_backbone(s.imagenet, loader), stop_event, emit)


def photo_split(ds: datasets.ArrayDataset, seed: int = 0) -> datasets.Split:
    """The dataset's own split when it has one (``extra["val_mask"]``: the built-in photos keep
    validation crops from different photos), else a stratified 75/25 split (one row per upload)."""
    mask = ds.extra.get("val_mask")
    if mask is None:
        return datasets.split(ds, 0.25, seed=seed)
    tr, va = np.flatnonzero(~mask), np.flatnonzero(mask)
    tr = np.random.default_rng(seed).permutation(tr)
    as_t = torch.from_numpy
    return datasets.Split(as_t(ds.X[tr]), as_t(ds.y[tr]), as_t(ds.X[va]), as_t(ds.y[va]))


@torch.no_grad()
def per_class_accuracy(model: nn.Module, X: torch.Tensor, y: torch.Tensor, classes: tuple[str, ...]) -> dict:
    """Validation accuracy of each class (its recall): class → fraction of its rows predicted right."""
    if not len(y):
        return {}
    model.eval()
    pred = torch.cat([model(X[i:i + 256]).argmax(-1) for i in range(0, len(X), 256)])
    return {c: float((pred[y == k] == k).float().mean()) for k, c in enumerate(classes) if (y == k).any()}


def finetune_on(ds: datasets.ArrayDataset, s: FinetuneSettings, backbone: Backbone,
                stop_event: threading.Event | None = None, emit: Emit | None = None) -> FinetuneResult:
    """Fine-tune ``backbone`` (new head, chosen groups frozen) on ``ds`` (rows [N, 3·S²]);
    the result's model is on the CPU."""
    emit = emit or (lambda event: None)
    seed_everything(s.seed)
    split = photo_split(ds, s.seed)
    size = ds.image_shape[0] if ds.image_shape else IMAGE_SIZE
    net = transfer_net(backbone, len(ds.classes), s.seed, image_size=size).to(s.device)
    freeze(net, s.freeze)
    opt = make_optimizer("adam", [p for p in net.parameters() if p.requires_grad], s.lr)
    val = (split.X_val, split.y_val) if len(split.y_val) else None
    history, end = record(fit(net, (split.X_train, split.y_train), val, optimizer=opt, epochs=s.epochs,
                              batch_size=s.batch_size, seed=s.seed, device=s.device,
                              callbacks=[*amp_callbacks(s.device), NaNGuard()], stop_event=stop_event), emit)
    net = net.cpu().eval()
    per_class = per_class_accuracy(net, split.X_val, split.y_val, tuple(ds.classes)) if finished_ok(end) else {}
    return FinetuneResult(net, tuple(ds.classes), history, end, ds.source, backbone.kind, backbone.note, per_class,
                          sample_row(ds))


@trainer("ch07_finetune")
def _check_finetune(device: str, preset: str) -> dict:
    P = PRESETS[preset]
    r = finetune(builtin_dataset(P["photos"], P["photo_size"]), FinetuneSettings(epochs=P["ft_epochs"], device=device))
    return {"val_acc": r.end.get("val_acc", float("nan"))}


@torch.no_grad()
def predict_topk(model: nn.Module, row: np.ndarray, classes: tuple[str, ...], k: int = 3) -> list[tuple[str, float]]:
    """Top-k (class, probability) for one image row [3·S²]."""
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
    row, shown = image_row(data, model.image_size)
    top = predict_topk(model, row, classes, k)
    target = classes.index(top[0][0])
    h, w = shown.shape[:2]
    return {"topk": top, "image": shown, "cam": resize_map(grad_cam(model, row, target), h, w),
            "saliency": resize_map(saliency(model, row, target), h, w)}


def image_bytes(row: np.ndarray) -> bytes:
    """A dataset row [3·S²] in [0, 1] as PNG bytes (a built-in sample to classify)."""
    import io
    size = int(round((len(row) / 3) ** 0.5))
    img = (row.reshape(3, size, size).transpose(1, 2, 0) * 255).round().astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, "PNG")
    return buf.getvalue()
