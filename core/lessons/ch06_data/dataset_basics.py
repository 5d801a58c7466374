"""6.1 Dataset: ``__len__`` / ``__getitem__`` on real digits, one item inspected."""
from __future__ import annotations

from typing import Callable

from core import data as datasets
from core.data.ch06_sets import DigitsDataset
from core.errors import HeroError


def digits_dataset(name: str = "digits", transform: Callable | None = None, limit: int | None = None) -> DigitsDataset:
    """The real digits (``digits`` 8×8 or ``mnist5k`` 28×28) as a map-style Dataset."""
    ds = datasets.load(name)
    n = len(ds) if limit is None else min(limit, len(ds))
    return DigitsDataset(ds.X[:n], ds.y[:n], ds.image_shape, transform)


def inspect_item(ds: DigitsDataset, index: int) -> dict:
    """``ds[index]`` and what it is: the image [H, W], its label, shape, dtype and value range."""
    if not 0 <= index < len(ds):
        raise HeroError("ch06.bad_index", index=index, n=len(ds))
    x, label = ds[index]
    return {"index": index, "len": len(ds), "label": label, "shape": tuple(x.shape), "dtype": str(x.dtype),
            "min": float(x.min()), "max": float(x.max()), "image": x[0].numpy()}
