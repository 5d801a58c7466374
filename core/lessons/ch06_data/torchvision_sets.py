"""6.3 torchvision datasets: offline sets, online MNIST/FashionMNIST/CIFAR-10 with a clean fallback."""
from __future__ import annotations

import base64
import io
import math
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np
import plotly.graph_objects as go
import torch
from PIL import Image

from core import data as datasets
from core import viz, weights
from core.data.scenes import SCENE_CLASSES, scene_images
from core.errors import HeroError


OFFLINE_SETS = ("digits", "mnist5k", "scenes10")
ONLINE_SETS = ("mnist", "fashion_mnist", "cifar10")
FALLBACK = {"mnist": "mnist5k", "fashion_mnist": "mnist5k", "cifar10": "scenes10"}   # the offline stand-ins
TORCHVISION_NAMES = {"mnist": "MNIST", "fashion_mnist": "FashionMNIST", "cifar10": "CIFAR10"}
CIFAR_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")


@dataclass
class VisionSet:
    """Images as uint8 [N, H, W] (grey) or [N, H, W, 3], labels int64 [N]."""
    name: str
    images: np.ndarray
    labels: np.ndarray
    classes: tuple[str, ...]
    source: str
    notice: str | None = None                  # a locale key, e.g. "ch06.sets.fallback"
    notice_params: dict = field(default_factory=dict)
    full_counts: np.ndarray | None = None      # class counts over the whole set (online sets)


@lru_cache(maxsize=4)
def offline_scenes(n: int = 3000, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """The offline stand-in for CIFAR-10: ``scenes10``, 10 classes of procedural 32×32 colour
    pictures (sunset, night sky, sea, forest, mountain, house, car, flower, fish, balloons)
    drawn by ``core.data.scenes`` — generated, not photos. uint8 [n, 32, 32, 3], labels [n].
    """
    images, labels = scene_images(n, seed)
    images.setflags(write=False)   # cached and shared: nobody may change it in place
    labels.setflags(write=False)
    return images, labels


def load_offline(name: str, n: int) -> VisionSet:
    if name == "scenes10":
        images, labels = offline_scenes(n)
        return VisionSet(name, images.copy(), labels.copy(), SCENE_CLASSES,
                         "CIFAR-style procedural scenes: 10 classes of generated 32×32 colour pictures (not real photos)",
                         full_counts=np.bincount(labels, minlength=len(SCENE_CLASSES)))
    if name not in OFFLINE_SETS:
        raise HeroError("ch06.unknown_set", name=name)
    ds = datasets.load(name)
    images = (ds.X[:n].reshape(-1, *ds.image_shape) * 255).round().astype(np.uint8)
    return VisionSet(name, images, ds.y[:n], ds.classes, ds.source, full_counts=np.bincount(ds.y, minlength=10))


def _download(name: str, root: Path):
    """torchvision's own downloader (replaced by a failing stub in the tests)."""
    from torchvision import datasets as tv_datasets
    return getattr(tv_datasets, TORCHVISION_NAMES[name])(str(root), train=True, download=True)


def load_vision(name: str, n: int, online: bool = False) -> VisionSet:
    """An offline set, or an online torchvision set when allowed; a failed download falls
    back to the offline twin with a notice (``ch06.sets.fallback``)."""
    if name in OFFLINE_SETS:
        return load_offline(name, n)
    if name not in ONLINE_SETS:
        raise HeroError("ch06.unknown_set", name=name)
    if not online:
        out = load_offline(FALLBACK[name], n)
        out.notice, out.notice_params = "ch06.sets.offline_used", {"wanted": TORCHVISION_NAMES[name], "used": out.name}
        return out
    root = weights.cache_dir() / "datasets"
    try:
        tv = _download(name, root)
    except Exception as exc:   # no network, a proxy, a full disk: the offline twin still works
        out = load_offline(FALLBACK[name], n)
        out.notice = "ch06.sets.fallback"
        out.notice_params = {"wanted": TORCHVISION_NAMES[name], "used": out.name, "reason": type(exc).__name__}
        return out
    data = tv.data.numpy() if isinstance(tv.data, torch.Tensor) else np.asarray(tv.data)
    targets = np.asarray(tv.targets, dtype=np.int64)
    return VisionSet(name, data[:n].astype(np.uint8), targets[:n], tuple(tv.classes),
                     f"torchvision.datasets.{TORCHVISION_NAMES[name]} ({len(targets):,} images, {root})",
                     full_counts=np.bincount(targets, minlength=len(tv.classes)))


def _png_uri(img: np.ndarray) -> str:
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def mosaic(images: np.ndarray | list, cols: int = 8, cell: int = 100, gap: int = 4, label: int = 0) -> np.ndarray:
    """uint8 images [N, H, W] or [N, H, W, 3] of any sizes → one white-gapped RGB mosaic.

    Each image is scaled (nearest neighbour: pixels stay visible) to fit a cell × cell tile;
    ``label`` px of white are left above each row for titles.
    """
    n = len(images)
    cols = max(1, min(cols, n))
    rows = math.ceil(n / cols)
    out = np.full((rows * (cell + gap + label) + gap, cols * (cell + gap) + gap, 3), 255, np.uint8)
    for i, img in enumerate(images):
        img = np.asarray(img)
        img = img if img.ndim == 3 else np.repeat(img[..., None], 3, -1)
        pil = Image.fromarray(img)
        scale = cell / max(pil.size)
        pil = pil.resize((max(1, round(pil.width * scale)), max(1, round(pil.height * scale))),
                         Image.Resampling.NEAREST if scale >= 2 else Image.Resampling.BILINEAR)
        r, c = divmod(i, cols)
        top, left = gap + label + r * (cell + gap + label), gap + c * (cell + gap)
        out[top:top + pil.height, left:left + pil.width] = np.asarray(pil)
    return out


def rgb_grid(images: np.ndarray | list, titles: list[str] | None = None, cols: int = 8, title: str = "",
             cell: int = 100) -> go.Figure:
    """Images in a grid, drawn as ONE PNG-encoded mosaic (fast: no subplot per image), titles on top."""
    n = len(images)
    cols = max(1, min(cols, n))
    gap, label = 4, 18 if titles else 0
    tile = mosaic(images, cols, cell, gap, label)
    fig = go.Figure(go.Image(source=_png_uri(tile), hoverinfo="skip"))
    for i, text in enumerate(titles or []):
        r, c = divmod(i, cols)
        fig.add_annotation(x=gap + c * (cell + gap) + cell / 2, y=gap + label + r * (cell + gap + label), text=str(text),
                           showarrow=False, yanchor="bottom", font=dict(size=11))
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False, range=[tile.shape[0], 0])
    height = min(900, int(tile.shape[0] * min(1.0, 900 / tile.shape[1])) + 50)
    fig.update_layout(**{**viz.LAYOUT, "height": height, "margin": dict(l=5, r=5, t=40 if title else 10, b=5),
                         "title": title})
    return fig
