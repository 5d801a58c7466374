"""``scenes10``: a CIFAR-style procedural set — 10 classes of small colour pictures drawn with PIL.

Not CIFAR-10 and not real photos: every image is generated here, deterministically from a seed,
so chapter 6's pipeline has a 10-class, 32×32 RGB set offline whose classes *look like different
things* (as CIFAR-10's do) rather than tinted digits. Each class is a little scene with random
placement, size, colours, a random mirror and pixel noise:

sunset · night sky · sea · forest · mountain · house · car · flower · fish · balloons

Drawn at 64×64 and downsampled to 32×32 (anti-aliased edges, like a photo shrunk to CIFAR size).
``scene_images(n, seed)`` → uint8 [n, 32, 32, 3] and labels int64 [n] (classes in turn, so any
prefix is balanced); the registered loader returns the usual flattened ``ArrayDataset``.
"""
from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw

from core.data import ArrayDataset, register
from core.errors import HeroError

SCENE_CLASSES = ("sunset", "night_sky", "sea", "forest", "mountain", "house", "car", "flower", "fish", "balloons")
SIZE, CANVAS = 32, 64
MAX_IMAGES = 20_000


def _jitter(rng: np.random.Generator, rgb: tuple[int, int, int], amount: int = 30) -> tuple[int, ...]:
    """A colour near ``rgb`` (each channel ± amount)."""
    return tuple(int(np.clip(c + rng.integers(-amount, amount + 1), 0, 255)) for c in rgb)


def _gradient(top: tuple, bottom: tuple, height: int = CANVAS) -> Image.Image:
    """A vertical colour gradient [CANVAS, CANVAS] from ``top`` to ``bottom``."""
    t = np.linspace(0, 1, height)[:, None, None]
    rows = (1 - t) * np.array(top) + t * np.array(bottom)
    return Image.fromarray(np.repeat(rows, CANVAS, axis=1).astype(np.uint8))


def _draw(kind: str, rng: np.random.Generator) -> Image.Image:
    """One 64×64 picture of ``kind``."""
    u = lambda lo, hi: float(rng.uniform(lo, hi))   # noqa: E731
    C = CANVAS
    if kind == "sunset":
        img = _gradient(_jitter(rng, (250, 140, 60)), _jitter(rng, (120, 40, 110)))
        d = ImageDraw.Draw(img)
        r, x, y = u(7, 13), u(14, 50), u(28, 42)
        d.ellipse([x - r, y - r, x + r, y + r], fill=_jitter(rng, (255, 210, 80), 20))
        d.rectangle([0, u(42, 50), C, C], fill=_jitter(rng, (40, 20, 40), 15))
    elif kind == "night_sky":
        img = _gradient(_jitter(rng, (10, 15, 50), 10), _jitter(rng, (25, 35, 90), 15))
        d = ImageDraw.Draw(img)
        for _ in range(int(rng.integers(12, 30))):
            x, y, s = u(0, C), u(0, C * 0.8), u(0.5, 1.5)
            d.ellipse([x - s, y - s, x + s, y + s], fill=_jitter(rng, (240, 240, 210), 15))
        r, x, y = u(6, 10), u(12, 52), u(8, 26)
        d.ellipse([x - r, y - r, x + r, y + r], fill=(235, 235, 200))
        d.ellipse([x - r + r * 0.6, y - r - 1, x + r + r * 0.6, y + r - 1], fill=img.getpixel((2, int(y))))   # crescent
    elif kind == "sea":
        horizon = u(20, 34)
        img = _gradient(_jitter(rng, (140, 200, 245)), _jitter(rng, (200, 230, 250)))
        d = ImageDraw.Draw(img)
        d.rectangle([0, horizon, C, C], fill=_jitter(rng, (20, 90, 160)))
        phase, period = u(0, 6.3), u(8, 14)
        for row in np.arange(horizon + 4, C, u(5, 8)):
            pts = [(x, row + 1.5 * np.sin(x / period * 6.28 + phase + row)) for x in range(0, C + 1, 2)]
            d.line(pts, fill=_jitter(rng, (200, 230, 255), 20), width=1)
        x = u(10, 44)                                                                       # a sail on the horizon
        d.polygon([(x, horizon - u(8, 14)), (x, horizon), (x + u(6, 10), horizon)], fill=(250, 250, 245))
    elif kind == "forest":
        img = _gradient(_jitter(rng, (150, 200, 240)), _jitter(rng, (210, 230, 240)))
        d = ImageDraw.Draw(img)
        ground = u(46, 54)
        d.rectangle([0, ground, C, C], fill=_jitter(rng, (70, 120, 40)))
        for _ in range(int(rng.integers(4, 8))):
            x, h, w = u(0, C), u(22, 40), u(8, 14)
            d.rectangle([x - 1.5, ground - 6, x + 1.5, ground + 2], fill=(90, 60, 30))
            d.polygon([(x, ground - h), (x - w / 2, ground - 4), (x + w / 2, ground - 4)],
                      fill=_jitter(rng, (30, 110, 40)))
    elif kind == "mountain":
        img = _gradient(_jitter(rng, (120, 170, 230)), _jitter(rng, (220, 230, 240)))
        d = ImageDraw.Draw(img)
        for _ in range(int(rng.integers(1, 3))):
            x, h, w = u(14, 50), u(28, 44), u(24, 40)
            top, base = (x, C - h), C - 4
            d.polygon([top, (x - w, base), (x + w, base)], fill=_jitter(rng, (110, 105, 115), 20))
            k = u(0.25, 0.35)   # snow cap: the top k of the triangle
            d.polygon([top, (x - w * k, top[1] + (base - top[1]) * k), (x + w * k, top[1] + (base - top[1]) * k)],
                      fill=(250, 250, 250))
        d.rectangle([0, C - 6, C, C], fill=_jitter(rng, (90, 120, 70)))
    elif kind == "house":
        img = _gradient(_jitter(rng, (150, 200, 240)), _jitter(rng, (210, 230, 240)))
        d = ImageDraw.Draw(img)
        d.rectangle([0, 52, C, C], fill=_jitter(rng, (90, 140, 60)))
        x, w, h = u(10, 24), u(26, 38), u(18, 26)
        wall = _jitter(rng, (220, 190, 150), 40)
        d.rectangle([x, 52 - h, x + w, 52], fill=wall)
        d.polygon([(x - 3, 52 - h), (x + w + 3, 52 - h), (x + w / 2, 52 - h - u(10, 16))],
                  fill=_jitter(rng, (170, 50, 40)))
        d.rectangle([x + w * 0.4, 52 - h * 0.55, x + w * 0.6, 52], fill=(90, 55, 30))                      # door
        d.rectangle([x + w * 0.1, 52 - h * 0.8, x + w * 0.3, 52 - h * 0.55], fill=(170, 210, 240))      # window
    elif kind == "car":
        img = _gradient(_jitter(rng, (170, 200, 230)), _jitter(rng, (220, 225, 230)))
        d = ImageDraw.Draw(img)
        d.rectangle([0, 46, C, C], fill=_jitter(rng, (70, 70, 75), 15))
        x, w = u(4, 16), u(36, 46)
        body = tuple(int(c) for c in rng.integers(30, 256, 3))
        d.rectangle([x, 32, x + w, 46], fill=body)
        d.polygon([(x + w * 0.2, 32), (x + w * 0.35, 22), (x + w * 0.7, 22), (x + w * 0.85, 32)], fill=body)
        d.polygon([(x + w * 0.3, 31), (x + w * 0.4, 24), (x + w * 0.65, 24), (x + w * 0.75, 31)], fill=(180, 210, 235))
        for wx in (x + w * 0.22, x + w * 0.78):
            d.ellipse([wx - 6, 40, wx + 6, 52], fill=(25, 25, 25))
            d.ellipse([wx - 2.5, 43.5, wx + 2.5, 48.5], fill=(160, 160, 160))
    elif kind == "flower":
        img = _gradient(_jitter(rng, (120, 170, 90)), _jitter(rng, (60, 110, 50)))
        d = ImageDraw.Draw(img)
        x, y, r = u(22, 42), u(20, 34), u(6, 10)
        d.line([(x, y), (x + u(-4, 4), C)], fill=(40, 120, 40), width=3)
        petal = tuple(int(c) for c in rng.choice([(240, 60, 90), (250, 200, 40), (180, 80, 220), (250, 250, 250),
                                                  (250, 120, 40)]))
        n = int(rng.integers(5, 9))
        for a in np.linspace(0, 2 * np.pi, n, endpoint=False) + u(0, 1):
            px, py = x + 1.3 * r * np.cos(a), y + 1.3 * r * np.sin(a)
            d.ellipse([px - r * 0.8, py - r * 0.8, px + r * 0.8, py + r * 0.8], fill=_jitter(rng, petal, 15))
        d.ellipse([x - r * 0.6, y - r * 0.6, x + r * 0.6, y + r * 0.6], fill=(250, 210, 50))
    elif kind == "fish":
        img = _gradient(_jitter(rng, (40, 140, 190)), _jitter(rng, (10, 60, 120)))
        d = ImageDraw.Draw(img)
        for _ in range(int(rng.integers(2, 6))):                                                     # bubbles
            bx, by, br = u(0, C), u(0, C), u(1, 2.5)
            d.ellipse([bx - br, by - br, bx + br, by + br], outline=(200, 230, 250))
        x, y, w, h = u(24, 40), u(22, 42), u(14, 20), u(8, 12)
        colour = tuple(int(c) for c in rng.choice([(250, 140, 30), (250, 220, 40), (230, 60, 60), (200, 200, 210)]))
        d.polygon([(x - w * 0.8, y), (x - w * 1.4, y - h * 0.8), (x - w * 1.4, y + h * 0.8)],
                  fill=_jitter(rng, colour, 20))
        d.ellipse([x - w, y - h, x + w, y + h], fill=_jitter(rng, colour, 20))
        d.ellipse([x + w * 0.45, y - h * 0.35, x + w * 0.45 + 3, y - h * 0.35 + 3], fill=(10, 10, 10))
    elif kind == "balloons":
        img = _gradient(_jitter(rng, (110, 180, 245)), _jitter(rng, (200, 225, 250)))
        d = ImageDraw.Draw(img)
        for _ in range(int(rng.integers(2, 5))):
            x, y, r = u(10, 54), u(10, 34), u(5, 8)
            d.line([(x, y + r * 1.2), (x + u(-5, 5), y + r * 1.2 + u(12, 22))], fill=(80, 80, 80), width=1)
            d.ellipse([x - r, y - r * 1.2, x + r, y + r * 1.2], fill=tuple(int(c) for c in rng.integers(40, 256, 3)))
    else:
        raise ValueError(kind)
    return img


def scene_images(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """n pictures, classes in turn (0, 1, …, 9, 0, …): uint8 [n, 32, 32, 3] and labels int64 [n]."""
    if not 1 <= n <= MAX_IMAGES:
        raise HeroError("data.bad_size", low=1, high=MAX_IMAGES, value=n)
    rng = np.random.default_rng(seed)
    labels = np.arange(n, dtype=np.int64) % len(SCENE_CLASSES)
    images = np.empty((n, SIZE, SIZE, 3), np.uint8)
    for i, label in enumerate(labels):
        img = _draw(SCENE_CLASSES[label], rng)
        if rng.random() < 0.5:
            img = img.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
        small = np.asarray(img.resize((SIZE, SIZE), Image.Resampling.BILINEAR), np.float32)
        images[i] = np.clip(small + rng.normal(0, 6, small.shape), 0, 255).round().astype(np.uint8)
    return images, labels


@register("scenes10")
def load_scenes(n: int = 2000, seed: int = 0) -> ArrayDataset:
    images, labels = scene_images(n, seed)
    X = images.transpose(0, 3, 1, 2).reshape(n, -1).astype(np.float32) / 255.0
    return ArrayDataset(name="scenes10", X=X, y=labels, classes=SCENE_CLASSES, image_shape=(SIZE, SIZE),
                        extra={"channels": 3},
                        source=f"CIFAR-style procedural scenes (generated by PyTorch Zero to Hero, not real photos): "
                               f"{n} images, 10 classes, seed {seed}")
