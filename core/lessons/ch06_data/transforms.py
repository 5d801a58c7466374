"""6.3 transforms.v2: each augmentation on a real photo, random draws, normalisation statistics."""
from __future__ import annotations

import threading
from functools import lru_cache

import numpy as np
import torch
from PIL import Image
from torch import nn
from torchvision.transforms import v2

from core import uploads
from core.errors import HeroError


PHOTOS = ("china", "flower")
_RNG_LOCK = threading.Lock()   # v2 draws from torch's global RNG: seed + apply must not interleave


@lru_cache(maxsize=8)
def sample_photo(name: str, max_side: int = 256) -> Image.Image:
    """One of scikit-learn's two sample photos (china.jpg, flower.jpg), downscaled."""
    from sklearn.datasets import load_sample_image
    if name not in PHOTOS:
        raise HeroError("ch06.unknown_photo", name=name)
    img = Image.fromarray(load_sample_image(f"{name}.jpg"))
    img.thumbnail((max_side, max_side))
    return img


def uploaded_photo(data: bytes, max_side: int = 256) -> Image.Image:
    """An uploaded image, checked by ``core.uploads`` (10 MB, 25 MP, image formats only)."""
    img = uploads.open_image(data)
    img.thumbnail((max_side, max_side))
    return img


def augmentation(name: str, size: int) -> nn.Module:
    """One ``transforms.v2`` augmentation by name, with typical parameters."""
    table = {
        "RandomResizedCrop": lambda: v2.RandomResizedCrop(size, scale=(0.3, 1.0), antialias=True),
        "RandomHorizontalFlip": lambda: v2.RandomHorizontalFlip(p=0.5),
        "RandomRotation": lambda: v2.RandomRotation(degrees=30),
        "ColorJitter": lambda: v2.ColorJitter(brightness=0.4, contrast=0.4, saturation=0.4),  # hue: 10× slower
        "GaussianBlur": lambda: v2.GaussianBlur(kernel_size=9, sigma=(0.5, 3.0)),
        "RandomErasing": lambda: v2.Compose([v2.ToDtype(torch.float32, scale=True), v2.RandomErasing(p=1.0),
                                             v2.ToDtype(torch.uint8, scale=True)]),
        "RandomGrayscale": lambda: v2.RandomGrayscale(p=0.5),
    }
    if name not in table:
        raise HeroError("ch06.unknown_transform", name=name)
    return table[name]()


AUGMENTATIONS = ("RandomResizedCrop", "RandomHorizontalFlip", "RandomRotation", "ColorJitter", "GaussianBlur",
                 "RandomErasing", "RandomGrayscale")


def image_tensor(img: Image.Image) -> torch.Tensor:
    """PIL image → uint8 tensor [3, H, W], the layout transforms.v2 works on."""
    return v2.functional.pil_to_tensor(img)          # uint8 [3, H, W]


def _as_array(x: torch.Tensor) -> np.ndarray:
    return x.permute(1, 2, 0).numpy()               # [H, W, 3] for display


def apply_each(img: Image.Image, names: list[str], seed: int, size: int) -> list[tuple[str, np.ndarray]]:
    """Each augmentation alone on the same image and seed: uint8 [H, W, 3] per name."""
    x = image_tensor(img)
    out = []
    with _RNG_LOCK:
        for name in names:
            torch.manual_seed(seed)
            out.append((name, _as_array(augmentation(name, size)(x))))
    return out


def pipeline(names: list[str], size: int) -> v2.Compose:
    """The selected augmentations in order, ending at a fixed size [3, size, size]."""
    steps = [augmentation(n, size) for n in names]
    if "RandomResizedCrop" not in names:
        steps.append(v2.Resize((size, size), antialias=True))
    return v2.Compose(steps)


def random_draws(img: Image.Image, names: list[str], n: int, seed: int, size: int = 128) -> np.ndarray:
    """``n`` draws of the composed pipeline: uint8 [n, size, size, 3]; same seed → same grid."""
    if not 1 <= n <= 32:
        raise HeroError("ch06.bad_draws", value=n)
    transform, x = pipeline(names, size), image_tensor(img)
    with _RNG_LOCK:
        torch.manual_seed(seed)
        return np.stack([_as_array(transform(x)) for _ in range(n)])


def normalize_stats(images: torch.Tensor) -> dict:
    """Per-channel mean/std of uint8 images [..., 3, H, W] scaled to [0, 1], and the same
    stats after ``v2.Normalize(mean, std)`` (≈ 0 and 1: the point of normalising)."""
    x = v2.functional.to_dtype(images, torch.float32, scale=True).reshape(-1, 3, *images.shape[-2:])
    mean = x.mean(dim=(0, 2, 3))
    std = x.std(dim=(0, 2, 3), correction=0)
    after = v2.Normalize(mean.tolist(), std.clamp_min(1e-6).tolist())(x)   # a flat channel has std 0
    return {"mean": mean.tolist(), "std": std.tolist(), "after_mean": after.mean(dim=(0, 2, 3)).tolist(),
            "after_std": after.std(dim=(0, 2, 3), correction=0).tolist()}
