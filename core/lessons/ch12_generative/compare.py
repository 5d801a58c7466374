"""12.6 beyond: GAN, VAE and DDPM side by side on the same data (MNIST-5k), judged the same way.

Every generator gives ``n`` samples at 28×28; the gallery's classifier scores them with
:func:`evaluation.score`; the table adds each model's training time and sampling time.
"""
from __future__ import annotations

import time
from typing import Callable

import numpy as np

from core.lessons.ch12_generative import evaluation


def real_sample(n: int = 64, seed: int = 0) -> np.ndarray:
    """n real digits [n, 28, 28]: the reference row of the table (what a perfect generator scores)."""
    from core import data
    ds = data.load("mnist5k")
    idx = np.random.default_rng(seed + 1).permutation(len(ds.y))[:n]
    return ds.X[idx].reshape(-1, 28, 28)


def compare(generators: dict[str, tuple[Callable[[int], np.ndarray], float | None]], n: int = 64) -> list[dict]:
    """generators: name → (sample(n) → images [n, 28, 28] in [0, 1], training seconds or None).

    Returns one row per generator: confidence, confident share, coverage, Fréchet distance,
    training and sampling seconds, plus the samples (for drawing)."""
    rows = []
    for name, (draw, train_seconds) in generators.items():
        started = time.perf_counter()
        images = np.asarray(draw(n), dtype=np.float32)
        seconds = time.perf_counter() - started
        verdict = evaluation.score(images)
        rows.append({"model": name, "confidence": verdict["confidence"], "confident": verdict["confident"],
                     "coverage": verdict["coverage"], "frechet": verdict["frechet"],
                     "train_s": train_seconds, "sample_s": seconds, "histogram": verdict["histogram"],
                     "images": images})
    return rows
