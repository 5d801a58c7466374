"""Deterministic 2-D toy classification sets (the TensorFlow Playground family).

Each generator returns ``ArrayDataset`` with X float32 [n, 2] in roughly [-1.5, 1.5]² and
y int64 [n]. The same (kind, n, noise, seed) always gives the same points.
"""
from __future__ import annotations

import numpy as np

from core.data import ArrayDataset, register
from core.errors import HeroError

TOY_KINDS = ("moons", "circles", "spirals", "xor", "blobs")
MAX_POINTS = 20_000  # keeps a visitor's request bounded in memory and plotting time


def _moons(n, rng):
    half = n // 2
    t_out = rng.uniform(0, np.pi, n - half)
    t_in = rng.uniform(0, np.pi, half)
    outer = np.c_[np.cos(t_out), np.sin(t_out)]
    inner = np.c_[1 - np.cos(t_in), 0.5 - np.sin(t_in)]
    X = np.r_[outer, inner] - [0.5, 0.25]
    return X, np.r_[np.zeros(n - half), np.ones(half)]


def _circles(n, rng):
    half = n // 2
    t = rng.uniform(0, 2 * np.pi, n)
    r = np.r_[np.full(n - half, 1.0), np.full(half, 0.45)]
    return np.c_[r * np.cos(t), r * np.sin(t)], np.r_[np.zeros(n - half), np.ones(half)]


def _spirals(n, rng):
    half = n // 2
    pts, labels = [], []
    for label, count in ((0, n - half), (1, half)):
        t = np.sqrt(rng.uniform(0, 1, count)) * 3 * np.pi  # sqrt: even density along the arm
        angle = t + label * np.pi
        r = t / (3 * np.pi) * 1.3
        pts.append(np.c_[r * np.cos(angle), r * np.sin(angle)])
        labels.append(np.full(count, label))
    return np.concatenate(pts), np.concatenate(labels)


def _xor(n, rng):
    X = rng.uniform(-1, 1, (n, 2))
    X += np.sign(X) * 0.05  # a small gap around the axes so the classes are separable
    return X, ((X[:, 0] > 0) ^ (X[:, 1] > 0)).astype(np.int64)


def _blobs(n, rng, k=3):
    centres = np.array([[np.cos(a), np.sin(a)] for a in 2 * np.pi * np.arange(k) / k]) * 0.9
    y = np.arange(n) % k
    return centres[y] + rng.normal(0, 0.25, (n, 2)), y


GENERATORS = {"moons": _moons, "circles": _circles, "spirals": _spirals, "xor": _xor, "blobs": _blobs}


@register("toy")
def make_toy(kind: str = "moons", n: int = 400, noise: float = 0.1, seed: int = 0) -> ArrayDataset:
    """Generate ``n`` points of a 2-D toy set with Gaussian ``noise`` (std, in data units)."""
    if kind not in GENERATORS:
        raise HeroError("data.unknown", name=kind, known=", ".join(TOY_KINDS))
    if not 10 <= n <= MAX_POINTS:
        raise HeroError("data.bad_size", value=n, low=10, high=MAX_POINTS)
    if not 0.0 <= noise <= 1.0:
        raise HeroError("data.bad_noise", value=noise)
    rng = np.random.default_rng(seed)
    X, y = GENERATORS[kind](n, rng)
    X = X + rng.normal(0, noise, X.shape)
    classes = tuple(f"class {i}" for i in range(int(y.max()) + 1))
    return ArrayDataset(name=kind, X=X.astype(np.float32), y=y.astype(np.int64), classes=classes,
                        source="generated")
