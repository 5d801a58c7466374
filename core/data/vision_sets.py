"""Colour image sets for chapter 7, all offline.

- ``ch07_shapes``: generated 32×32 RGB pictures of ten shapes and textures (circle, square,
  triangle, ring, cross, horizontal/vertical/diagonal stripes, checkerboard, dots) with random
  colours, sizes, positions and noise. The *source task* the transfer-learning backbone is
  pretrained on (recipe ``ch07_shapes_resnet``) — deliberately unlike the digits and photos
  it is later transferred to.
(The real photographs of the chapter-7 实战, ``ch07_photos``, are in ``core.data.photo_sets``.)

Rows are flattened channel-first images [N, 3·32·32] in [0, 1] (``image_shape`` = (32, 32),
``extra["channels"]`` = 3).
"""
from __future__ import annotations

import numpy as np

from core.data import ArrayDataset, register
from core.errors import HeroError

SHAPE_CLASSES = ("circle", "square", "triangle", "ring", "cross", "h_stripes", "v_stripes",
                 "diagonal", "checker", "dots")
SIZE = 32
MAX_PER_CLASS = 2000      # cap on generated images per class (memory: 2000·10·3·32²·4 B ≈ 245 MB)


def _shape_mask(kind: str, rng: np.random.Generator, size: int = SIZE) -> np.ndarray:
    """A bool mask [size, size] of one randomly placed, randomly sized shape or texture."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    r = rng.uniform(0.22, 0.4) * size
    cy, cx = rng.uniform(r * 0.8, size - r * 0.8, 2)
    dy, dx = yy - cy, xx - cx
    period = rng.uniform(4, 8)
    phase = rng.uniform(0, period)
    if kind == "circle":
        return dy**2 + dx**2 <= r**2
    if kind == "square":
        return (np.abs(dy) <= r * 0.85) & (np.abs(dx) <= r * 0.85)
    if kind == "triangle":      # apex up: inside when below the two slanted edges and above the base
        return (dy <= r * 0.8) & (dy >= -r + 2 * np.abs(dx))
    if kind == "ring":
        d = np.sqrt(dy**2 + dx**2)
        return (d <= r) & (d >= r * 0.6)
    if kind == "cross":
        t = r * 0.3
        return ((np.abs(dy) <= t) & (np.abs(dx) <= r)) | ((np.abs(dx) <= t) & (np.abs(dy) <= r))
    if kind == "h_stripes":
        return ((yy + phase) % period) < period / 2
    if kind == "v_stripes":
        return ((xx + phase) % period) < period / 2
    if kind == "diagonal":
        sign = rng.choice([-1.0, 1.0])
        return ((xx + sign * yy + phase) % period) < period / 2
    if kind == "checker":
        return (((yy + phase) // (period / 1.5)) + ((xx + phase) // (period / 1.5))) % 2 == 0
    if kind == "dots":
        return (((yy + phase) % period - period / 2) ** 2 + ((xx + phase) % period - period / 2) ** 2) \
            <= (period / 3.5) ** 2
    raise ValueError(kind)


def _colours(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """A foreground and a background colour that differ clearly (so the shape is visible)."""
    while True:
        fg, bg = rng.uniform(0, 1, 3), rng.uniform(0, 1, 3)
        if np.abs(fg - bg).sum() > 0.6:
            return fg, bg


@register("ch07_shapes")
def load_shapes(n_per_class: int = 300, seed: int = 0) -> ArrayDataset:
    if not 1 <= n_per_class <= MAX_PER_CLASS:
        raise HeroError("data.bad_size", low=1, high=MAX_PER_CLASS, value=n_per_class)
    rng = np.random.default_rng(seed)
    X = np.empty((n_per_class * len(SHAPE_CLASSES), 3, SIZE, SIZE), np.float32)
    y = np.repeat(np.arange(len(SHAPE_CLASSES)), n_per_class)
    for i, label in enumerate(y):
        mask = _shape_mask(SHAPE_CLASSES[label], rng)
        fg, bg = _colours(rng)
        img = np.where(mask[None], fg[:, None, None], bg[:, None, None])
        X[i] = np.clip(img + rng.normal(0, 0.05, img.shape), 0, 1)
    return ArrayDataset(name="ch07_shapes", X=X.reshape(len(y), -1), y=y.astype(np.int64), classes=SHAPE_CLASSES,
                        image_shape=(SIZE, SIZE), extra={"channels": 3},
                        source=f"generated shapes & textures (PyTorch Zero to Hero), {n_per_class} per class, seed {seed}")
