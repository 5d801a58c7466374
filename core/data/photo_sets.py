"""``ch07_photos``: a small built-in set of REAL photographs in four classes, for the chapter-7 实战.

What it is, honestly: 15 photographs that ship inside installed packages, sorted by hand into
four classes (cat, person, texture, medical: microscope and eye-fundus images). Each class has
its own *training* photos and different *validation* photos —
no validation crop ever comes from a photo the model trained on — so validation accuracy
measures generalisation to unseen photos, not memorised pixels. It is tiny (2–3 training
photos per class): the point is to watch transfer learning work — and fail — on real
pictures, not to build a production classifier.

Rows are random square crops (50–100 % of the short side, random mirror; a quarter of the
training crops turned grey so colour alone cannot give the class away, since some photos are
grey) resized to ``size``×``size``; flattened channel-first [N, 3·size²] in [0, 1]
(``image_shape`` = (size, size), ``extra["channels"]`` = 3). ``extra["val_mask"]`` (bool [N])
marks the validation rows and ``extra["photos"]`` names each row's source photo.

Sources and licences (files read straight from the installed wheels; nothing is downloaded):
- scikit-image (``skimage/data``, BSD-3 package): astronaut.png (NASA, public domain),
  camera.png (CC0, Lav Varshney), chelsea.png (CC0, Stefan van der Walt), brick.png and
  gravel.png (CC0Textures, CC0), grass.png (CC0), ihc.png ("no known copyright restrictions"),
  retina.jpg (Wikimedia, CC0), cell.png (CC0), microaneurysms.png (CC0, Andreas Maier).
- matplotlib (``mpl-data/sample_data``): grace_hopper.jpg (US Navy photo, public domain).
- gradio (``media_assets/images``, ``test_data``; Apache-2.0 package — the photos' own
  provenance is not documented there): cheetah.jpg, cheetah1.jpg, lion.jpg, cheetah2.jpg.
"""
from __future__ import annotations

import importlib.util
from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import Image

from core.data import ArrayDataset, register
from core.errors import HeroError

PHOTO_CLASSES = ("cat", "person", "texture", "medical")
# class → (training photos, validation photos), each (package, path inside the package)
PHOTOS: dict[str, tuple[tuple[tuple[str, str], ...], tuple[tuple[str, str], ...]]] = {
    "cat": ((("gradio", "media_assets/images/cheetah.jpg"), ("gradio", "media_assets/images/cheetah1.jpg"),
             ("gradio", "media_assets/images/lion.jpg")),
            (("gradio", "test_data/cheetah2.jpg"), ("skimage", "data/chelsea.png"))),
    "person": ((("skimage", "data/astronaut.png"), ("skimage", "data/camera.png")),
               (("matplotlib", "mpl-data/sample_data/grace_hopper.jpg"),)),
    "texture": ((("skimage", "data/brick.png"), ("skimage", "data/gravel.png")),
                (("skimage", "data/grass.png"),)),
    "medical": ((("skimage", "data/ihc.png"), ("skimage", "data/retina.jpg")),
                (("skimage", "data/cell.png"), ("skimage", "data/microaneurysms.png"))),
}
MAX_CROPS = 500          # crops per class and split (memory: 500·4·2·3·96²·4 B ≈ 440 MB at the largest size)
SIZES = (32, 48, 64, 96)
GREY_FRACTION = 0.25     # training crops shown in grey (camera, brick, gravel… are grey photos)


def photo_path(package: str, rel: str) -> Path:
    """Where an installed package keeps a data file (found without importing the package)."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise HeroError("data.missing_package", name=package)
    return Path(list(spec.submodule_search_locations)[0]) / rel


PHOTO_SIDE = 240         # photos shrunk once to this short side: crops (≤ 96²) need no more, 4–30× cheaper


@lru_cache(maxsize=32)
def load_photo(package: str, rel: str) -> np.ndarray:
    """One source photo as uint8 [H, W, 3] (grey photos repeated on 3 channels), its short side
    shrunk to ``PHOTO_SIDE``. Cached: decoded once per process."""
    with Image.open(photo_path(package, rel)) as img:
        img = img.convert("RGB")
        scale = PHOTO_SIDE / min(img.size)
        if scale < 1:
            img = img.resize((round(img.width * scale), round(img.height * scale)), Image.Resampling.BILINEAR,
                             reducing_gap=2.0)
        return np.asarray(img)


def random_crops(photo: np.ndarray, n: int, rng: np.random.Generator, size: int, grey: float = 0.0) -> np.ndarray:
    """n random square windows (50–100 % of the short side, random mirror, a ``grey`` fraction
    turned grey) of photo [H, W, 3] uint8, resized to size×size → float32 [n, 3, size, size] in [0, 1]."""
    h, w = photo.shape[:2]
    short = min(h, w)
    out = np.empty((n, 3, size, size), np.float32)
    for i in range(n):
        side = int(rng.integers(short // 2, short + 1))
        top, left = int(rng.integers(0, h - side + 1)), int(rng.integers(0, w - side + 1))
        crop = Image.fromarray(photo[top:top + side, left:left + side]).resize((size, size), Image.Resampling.BILINEAR)
        a = np.asarray(crop, np.float32) / 255.0
        if rng.random() < 0.5:
            a = a[:, ::-1]
        if rng.random() < grey:
            a = np.repeat(a @ np.array([0.299, 0.587, 0.114], np.float32), 3).reshape(a.shape)
        out[i] = a.transpose(2, 0, 1)
    return out


def _spread(n: int, parts: int) -> list[int]:
    """n crops shared out over ``parts`` photos as evenly as possible (each gets ≥ 1)."""
    return [max(1, n // parts + (k < n % parts)) for k in range(parts)]


@register("ch07_photos")
def load_photos(n_per_class: int = 40, n_val_per_class: int | None = None, size: int = 64,
                seed: int = 0) -> ArrayDataset:
    """``n_per_class`` training crops (from each class's training photos) and
    ``n_val_per_class`` validation crops (default n/2, from its *other* photos) per class."""
    n_val = max(1, n_per_class // 2) if n_val_per_class is None else n_val_per_class
    for value in (n_per_class, n_val):
        if not 1 <= value <= MAX_CROPS:
            raise HeroError("data.bad_size", low=1, high=MAX_CROPS, value=value)
    if size not in SIZES:
        raise HeroError("data.bad_size", low=min(SIZES), high=max(SIZES), value=size)
    rng = np.random.default_rng(seed)
    X, y, val, names = [], [], [], []
    for label, cls in enumerate(PHOTO_CLASSES):
        for is_val, (photos, n) in enumerate(zip(PHOTOS[cls], (n_per_class, n_val))):
            for (package, rel), k in zip(photos, _spread(n, len(photos))):
                X.append(random_crops(load_photo(package, rel), k, rng, size, 0.0 if is_val else GREY_FRACTION))
                y += [label] * k
                val += [bool(is_val)] * k
                names += [Path(rel).name] * k
    X = np.concatenate(X).reshape(len(y), -1)
    n_photos = sum(len(p) for pair in PHOTOS.values() for p in pair)
    return ArrayDataset(name="ch07_photos", X=X, y=np.asarray(y, np.int64), classes=PHOTO_CLASSES,
                        image_shape=(size, size),
                        extra={"channels": 3, "val_mask": np.asarray(val), "photos": tuple(names)},
                        source=f"{n_photos} real photos shipped with scikit-image, matplotlib and gradio, "
                               f"{len(PHOTO_CLASSES)} classes; {n_per_class} training crops per class from its "
                               f"training photos, {n_val} validation crops from different photos; {size}×{size}")
