"""Untrusted uploads: images and zip archives checked before anything is decoded or extracted.

Every limit is checked on the cheapest information first: byte size, then the image
header's declared size (a decompression bomb is a small file declaring a huge image),
then the archive's directory (names and declared sizes) before reading any member.
"""
from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass
from pathlib import PurePosixPath

import numpy as np
from PIL import Image

from core.errors import HeroError

MAX_IMAGE_BYTES = 10 * 2**20        # 10 MB per uploaded image
MAX_IMAGE_PIXELS = 25_000_000       # 25 MP: a 5000×5000 photo; more is refused before decoding
IMAGE_FORMATS = {"PNG", "JPEG", "GIF", "BMP", "WEBP"}
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".gif", ".bmp", ".webp"}
MAX_ZIP_BYTES = 50 * 2**20          # the archive itself
MAX_ZIP_UNPACKED = 200 * 2**20      # sum of declared member sizes
MAX_ZIP_MEMBERS = 5_000


def open_image(data: bytes, max_bytes: int = MAX_IMAGE_BYTES, max_pixels: int = MAX_IMAGE_PIXELS,
               mode: str = "RGB") -> Image.Image:
    """Decode an uploaded image safely; returns a loaded PIL image in ``mode``.

    Raises HeroError: ``upload.too_large`` (bytes), ``upload.not_image`` (unknown/corrupt or
    not an allowed format), ``upload.too_many_pixels`` (declared size over the cap).
    """
    if len(data) > max_bytes:
        raise HeroError("upload.too_large", size_mb=round(len(data) / 2**20, 1), limit_mb=round(max_bytes / 2**20, 1))
    try:
        img = Image.open(io.BytesIO(data))   # lazy: reads the header only
    except Image.DecompressionBombError:     # PIL's own guard, for sizes far beyond ours
        raise HeroError("upload.too_many_pixels", width="?", height="?", limit=max_pixels) from None
    except Exception:
        raise HeroError("upload.not_image") from None
    if img.format not in IMAGE_FORMATS:
        raise HeroError("upload.not_image")
    width, height = img.size
    if width * height > max_pixels:
        raise HeroError("upload.too_many_pixels", width=width, height=height, limit=max_pixels)
    try:
        img.load()
    except Exception:   # truncated or corrupt data, or PIL's own bomb guard
        raise HeroError("upload.not_image") from None
    return img.convert(mode)


def image_array(data: bytes, size: tuple[int, int] | None = None, mode: str = "RGB") -> np.ndarray:
    """Uploaded image → uint8 array [H, W, C] (or [H, W] for mode "L"), optionally resized."""
    img = open_image(data, mode=mode)
    if size is not None:
        img = img.resize(size, Image.Resampling.BILINEAR)
    return np.asarray(img)


@dataclass(frozen=True)
class ImageFolder:
    """Images grouped by class, read from an archive of ``class_name/image.png`` files."""
    classes: tuple[str, ...]
    images: dict[str, list[bytes]]   # class → raw (validated) image bytes


def read_image_zip(data: bytes, min_classes: int = 2, min_per_class: int = 1,
                   max_bytes: int = MAX_ZIP_BYTES, max_unpacked: int = MAX_ZIP_UNPACKED) -> ImageFolder:
    """Read a zip of class folders in memory (nothing is written to disk).

    Rejected: not a zip, too big (packed or declared unpacked), too many members, member
    names that are absolute or climb out with ``..`` (path traversal), links, encrypted
    members, fewer than ``min_classes`` classes with at least ``min_per_class`` images.
    Non-image files (``__MACOSX``, ``.DS_Store``, readme) are ignored.
    """
    if len(data) > max_bytes:
        raise HeroError("upload.too_large", size_mb=round(len(data) / 2**20, 1), limit_mb=round(max_bytes / 2**20, 1))
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile:
        raise HeroError("upload.not_zip") from None
    infos = archive.infolist()
    if len(infos) > MAX_ZIP_MEMBERS:
        raise HeroError("upload.zip_too_many", count=len(infos), limit=MAX_ZIP_MEMBERS)
    if sum(i.file_size for i in infos) > max_unpacked:
        raise HeroError("upload.zip_too_big", limit_mb=round(max_unpacked / 2**20))
    images: dict[str, list[bytes]] = {}
    for info in infos:
        name = info.filename.replace("\\", "/")
        path = PurePosixPath(name)
        if name.startswith("/") or ".." in path.parts or (len(name) > 1 and name[1] == ":"):
            raise HeroError("upload.zip_unsafe_path", name=name[:80])
        if (info.external_attr >> 16) & 0o170000 == 0o120000:   # a symbolic link
            raise HeroError("upload.zip_unsafe_path", name=name[:80])
        if info.flag_bits & 0x1:
            raise HeroError("upload.zip_encrypted")
        if info.is_dir() or path.suffix.lower() not in IMAGE_SUFFIXES or "__MACOSX" in path.parts \
                or path.name.startswith("."):
            continue
        if len(path.parts) < 2:
            raise HeroError("upload.zip_layout")
        label = path.parts[-2]
        raw = archive.read(info)
        open_image(raw)   # validates format and pixel count now, with a clear message per file
        images.setdefault(label, []).append(raw)
    usable = {k: v for k, v in images.items() if len(v) >= min_per_class}
    if len(usable) < min_classes:
        raise HeroError("upload.zip_classes", found=len(usable), needed=min_classes, per_class=min_per_class)
    classes = tuple(sorted(usable))
    return ImageFolder(classes=classes, images={c: usable[c] for c in classes})
