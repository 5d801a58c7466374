"""12.5 Judging generated digits with the gallery's own classifier (the ch05 ``small_cnn``).

There is no ground truth for "a good sample", so we borrow a judge: a classifier trained on
real digits. Three numbers, each blind to something:

- **confidence**: how sure the judge is (a sharp but always-"1" generator scores high);
- **class coverage**: how many of the 10 classes appear among confident samples (mode collapse shows here);
- **Fréchet distance** on the judge's penultimate features (FID's recipe, with our CNN instead of
  Inception): distance between two Gaussians fitted to real and generated features — low only
  when samples are both realistic and as varied as the real ones.
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np
import torch
from torch import nn

JUDGES = {28: "ch05_mnist_cnn", 8: "ch05_digits_cnn"}
CONFIDENT = 0.9   # a sample "counts" as a digit when the judge gives it ≥ 90 %


@lru_cache(maxsize=2)
def _shipped_judge(image_size: int) -> nn.Module:
    from core import weights
    return weights.load(JUDGES[image_size], allow_train=True).model.eval()


def judge(image_size: int = 28) -> nn.Module:
    """The shipped digit classifier for ``image_size`` (28 or 8); shared, so never train it."""
    return _shipped_judge(image_size)


@torch.no_grad()
def penultimate(classifier: nn.Module, images: np.ndarray | torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    """(features [N, F], probabilities [N, 10]) of ``classifier`` on images [N, H, W] in [0, 1].

    The features are what enters the last Linear layer, read with a forward hook on it, so the
    net is not changed (for ``small_cnn``: the flattened 4×4 pooled maps, F = 2·channels·16).
    """
    x = torch.as_tensor(np.asarray(images, dtype=np.float32))
    last = [m for m in classifier.modules() if isinstance(m, nn.Linear)][-1]
    captured: list[torch.Tensor] = []
    handle = last.register_forward_hook(lambda module, inputs, output: captured.append(inputs[0].detach()))
    try:
        was_training = classifier.training
        classifier.eval()
        probs = torch.cat([torch.softmax(classifier(chunk), dim=1) for chunk in x.split(512)])
        classifier.train(was_training)
    finally:
        handle.remove()
    return torch.cat(captured).double().numpy(), probs.numpy()


def _sqrtm_psd(a: np.ndarray) -> np.ndarray:
    """Square root of a symmetric positive semi-definite matrix via its eigen-decomposition."""
    w, v = np.linalg.eigh((a + a.T) / 2)
    return (v * np.sqrt(np.clip(w, 0, None))) @ v.T


def frechet_distance(feats_a: np.ndarray, feats_b: np.ndarray) -> float:
    """‖μa − μb‖² + Tr(Σa + Σb − 2 (Σa Σb)^½) between Gaussians fitted to two feature sets [N, F].

    Tr((Σa Σb)^½) is computed as Tr((√Σa Σb √Σa)^½): the same eigenvalues, but a symmetric
    matrix, so no complex round-off (the reason FID code carries ``.real``).
    """
    a, b = np.asarray(feats_a, dtype=np.float64), np.asarray(feats_b, dtype=np.float64)
    mu_a, mu_b = a.mean(0), b.mean(0)
    cov_a, cov_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    root_a = _sqrtm_psd(cov_a)
    cross = np.linalg.eigvalsh(root_a @ cov_b @ root_a)
    trace_sqrt = np.sqrt(np.clip(cross, 0, None)).sum()
    return float(((mu_a - mu_b) ** 2).sum() + np.trace(cov_a) + np.trace(cov_b) - 2 * trace_sqrt)


@lru_cache(maxsize=2)
def real_features(image_size: int = 28, n: int = 1000) -> np.ndarray:
    """Judge features of ``n`` real digits (a fixed, class-balanced sample of the dataset)."""
    from core import data as hero_data
    ds = hero_data.load("mnist5k" if image_size == 28 else "digits")
    idx = np.random.default_rng(0).permutation(len(ds.y))[:n]
    feats, _ = penultimate(judge(image_size), ds.X[idx].reshape(-1, image_size, image_size))
    feats.setflags(write=False)
    return feats


def score(images: np.ndarray, classifier: nn.Module | None = None, real: np.ndarray | None = None) -> dict:
    """Judge generated images [N, H, W] in [0, 1].

    Returns mean confidence, the share of samples with confidence ≥ 0.9 ("confident"), the number
    of classes among confident samples ("coverage", 0–10), the class histogram and the Fréchet
    distance to real digits' features (needs ≥ 2 samples).
    """
    images = np.asarray(images, dtype=np.float32)
    size = images.shape[-1]
    classifier = classifier or judge(size)
    feats, probs = penultimate(classifier, images)
    conf, pred = probs.max(1), probs.argmax(1)
    sure = conf >= CONFIDENT
    real = real if real is not None else real_features(size)
    fd = frechet_distance(real, feats) if len(images) >= 2 else float("nan")
    return {"confidence": float(conf.mean()), "confident": float(sure.mean()),
            "coverage": int(len(np.unique(pred[sure]))), "histogram": np.bincount(pred[sure], minlength=10).tolist(),
            "predictions": pred.tolist(), "confidences": conf.tolist(), "frechet": fd, "n": len(images)}
