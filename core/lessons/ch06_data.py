"""Chapter 6 — data: Dataset, streaming IterableDataset, DataLoader, torchvision datasets and
transforms, variable-size inputs, and a CIFAR-10-style pipeline feeding one epoch of training.

Plain functions returning data; the Streamlit page and the Gradio widget only draw them.
The Dataset classes and collate functions themselves live in ``core.data.ch06_sets`` so
spawned DataLoader workers can import them.
"""
from __future__ import annotations

import base64
import io
import math
import tempfile
import threading
import time
import tracemalloc
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Callable

import numpy as np
import plotly.graph_objects as go
import torch
from PIL import Image
from torch import nn
from torch.utils.data import DataLoader, RandomSampler, SequentialSampler, WeightedRandomSampler
from torchvision.transforms import v2

from core import data as datasets
from core import uploads, viz, weights
from core.data.ch06_sets import (RECORD, DigitsDataset, RGBImageDataset, RecordStream, SequenceDataset,
                                 dict_collate, pad_collate, write_records)
from core.device import seed_everything
from core.errors import HeroError
from core.train import NaNGuard, fit, make_optimizer, record

Emit = Callable[[dict], None]

# Sizes per preset: tiny keeps tests fast, default is what a 2-core CPU visitor gets.
PRESETS = {
    "tiny": {"stream_mb": 1, "lab_items": 256, "lab_epochs": 1, "show": 16, "online_n": 500, "draws": 4,
             "photo_side": 128, "naive_shard": False, "twin_n": 300, "epochs": 1, "seq_n": 16},
    "default": {"stream_mb": 100, "lab_items": 1797, "lab_epochs": 2, "show": 32, "online_n": 5000, "draws": 8,
                "photo_side": 224, "naive_shard": True, "twin_n": 2000, "epochs": 1, "seq_n": 64},
    "gpu": {"stream_mb": 200, "lab_items": 5000, "lab_epochs": 2, "show": 32, "online_n": 10000, "draws": 12,
            "photo_side": 320, "naive_shard": True, "twin_n": 5000, "epochs": 2, "seq_n": 128},
}
STREAM_SIZES_MB = (1, 8, 32, 64, 100, 200)   # the file sizes a visitor may ask for (cap: 200 MB)
MAX_WORKERS = 4                              # DataLoader workers a visitor may request
SPAWN = "spawn"   # the server is multi-threaded: fork would copy locks held by other threads


# --------------------------------------------------------------------------- 6.1 Dataset


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


# --------------------------------------------------------------------------- 6.1 streaming

_TRACE_LOCK = threading.Lock()   # tracemalloc is process-wide: one measurement at a time


def record_file(size_mb: int, seed: int = 0) -> Path:
    """Path of the generated record file of ``size_mb`` MB (shared temp dir, reused)."""
    if size_mb not in STREAM_SIZES_MB:
        raise HeroError("ch06.bad_file_size", size=size_mb, allowed=", ".join(map(str, STREAM_SIZES_MB)))
    return Path(tempfile.gettempdir()) / "hero-ch06" / f"records_{size_mb}mb_seed{seed}.bin"


def rows_for(size_mb: int) -> int:
    return size_mb * 2**20 // RECORD.itemsize


def stream_with_memory(path: Path, chunk_rows: int = 4096, stop: threading.Event | None = None) -> dict:
    """Stream every row of ``path`` through a RecordStream while tracing allocations.

    Returns rows read, seconds, and ``trace``: (MB read so far, MB of Python/NumPy memory in
    use) after each chunk, plus ``peak_mb``. Constant memory = a flat trace.
    """
    stream = RecordStream(path, chunk_rows=chunk_rows, batched=True)
    loader = DataLoader(stream, batch_size=None)          # chunks are already batches
    trace, rows, total = [], 0, 0.0
    with _TRACE_LOCK:
        tracemalloc.start()
        base = tracemalloc.get_traced_memory()[0]
        started = time.perf_counter()
        try:
            for chunk in loader:
                rows += len(chunk["id"])
                total += float(chunk["x"].sum())           # touch the data, as training would
                current, _ = tracemalloc.get_traced_memory()
                trace.append((rows * RECORD.itemsize / 2**20, (current - base) / 2**20))
                if stop is not None and stop.is_set():
                    break
            seconds = time.perf_counter() - started
            peak = (tracemalloc.get_traced_memory()[1] - base) / 2**20
        finally:
            tracemalloc.stop()
    return {"rows": rows, "seconds": seconds, "trace": trace, "peak_mb": peak}


def read_all_peak(path: Path) -> float:
    """Peak MB allocated by the naive way: load the whole file into one array."""
    with _TRACE_LOCK:
        tracemalloc.start()
        try:
            rows = np.fromfile(path, dtype=RECORD)
            float(rows["x"].sum())
            peak = tracemalloc.get_traced_memory()[1] / 2**20
            del rows
        finally:
            tracemalloc.stop()
    return peak


def shard_check(path: Path, num_workers: int, shard: bool = True, chunk_rows: int = 4096) -> dict:
    """Read the file with ``num_workers`` spawned workers; count how often each row id arrives.

    ``each_once`` is True when every row id 0..N-1 was seen exactly once.
    """
    if not 0 <= num_workers <= MAX_WORKERS:
        raise HeroError("ch06.bad_workers", value=num_workers, limit=MAX_WORKERS)
    stream = RecordStream(path, chunk_rows=chunk_rows, batched=True, shard=shard)
    n = stream.n_rows()
    loader = DataLoader(stream, batch_size=None, num_workers=num_workers,
                        multiprocessing_context=SPAWN if num_workers else None)
    seen = np.zeros(n, dtype=np.int64)
    per_worker: dict[int, int] = {}
    started = time.perf_counter()
    for chunk in loader:
        np.add.at(seen, chunk["id"].numpy(), 1)
        w = int(chunk["worker"][0])
        per_worker[w] = per_worker.get(w, 0) + len(chunk["id"])
    return {"rows": n, "read": int(seen.sum()), "each_once": bool((seen == 1).all()),
            "duplicates": int((seen > 1).sum()), "missing": int((seen == 0).sum()),
            "per_worker": dict(sorted(per_worker.items())), "seconds": time.perf_counter() - started,
            "num_workers": num_workers, "shard": shard}


def streaming_demo(size_mb: int, num_workers: int, naive: bool, stop: threading.Event | None = None,
                   emit: Emit | None = None, seed: int = 0) -> dict:
    """The whole 6.1 streaming demo: write the file, stream it, compare, check sharding."""
    emit = emit or (lambda event: None)
    path = record_file(size_mb, seed)
    # 1. generate the big file (once; reused by later runs and visitors)
    emit({"kind": "stage", "stage": "write"})
    started = time.perf_counter()
    write_records(path, rows_for(size_mb), seed)
    result = {"file_mb": path.stat().st_size / 2**20, "rows": rows_for(size_mb),
              "write_s": time.perf_counter() - started}
    # 2. stream it chunk by chunk, tracing memory; 3. the naive full load for contrast
    emit({"kind": "stage", "stage": "stream"})
    result["stream"] = stream_with_memory(path, stop=stop)
    emit({"kind": "stage", "stage": "read_all"})
    result["read_all_peak_mb"] = read_all_peak(path)
    # 4. workers: sharded by get_worker_info (each row once) and, optionally, not sharded
    emit({"kind": "stage", "stage": "workers"})
    result["sharded"] = shard_check(path, num_workers, shard=True)
    if naive and num_workers > 1:
        result["naive"] = shard_check(path, num_workers, shard=False)
    return result


def memory_figure(result: dict, labels: dict[str, str]) -> go.Figure:
    """Memory in use while streaming (flat) vs MB read (rising), and the full-load peak."""
    mb_read, in_use = zip(*result["stream"]["trace"]) if result["stream"]["trace"] else ((0,), (0,))
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=mb_read, y=mb_read, name=labels["read"], line=dict(color="#9ecae1", dash="dot")))
    fig.add_trace(go.Scatter(x=mb_read, y=in_use, name=labels["stream"], line=dict(color=viz.PALETTE[0])))
    fig.add_trace(go.Scatter(x=[mb_read[-1]], y=[result["read_all_peak_mb"]], name=labels["read_all"],
                             mode="markers", marker=dict(size=12, symbol="x", color=viz.PALETTE[1])))
    fig.update_layout(**viz.LAYOUT, xaxis_title=labels["x"], yaxis_title=labels["y"])
    return fig


# --------------------------------------------------------------------------- 6.2 DataLoader lab


@dataclass
class LabSettings:
    dataset: str = "digits"      # "digits" (8×8) or "mnist5k" (28×28)
    n_items: int = 1797          # first N images (capped by the dataset size)
    batch_size: int = 64
    shuffle: bool = True
    drop_last: bool = False
    num_workers: int = 0         # 0 = load in the main process
    pin_memory: bool = False     # page-locked batches: only matters when copying to a CUDA GPU
    collate: str = "default"     # "default" (tuple of stacked tensors) or "dict" (custom collate_fn)
    sampler: str = "auto"        # "auto" (from shuffle), "sequential", "random", "weighted"
    augment: bool = False        # a real per-item transform (RandomAffine): work for the workers
    epochs: int = 1
    seed: int = 0


SWEEPS = {"num_workers": [0, 1, 2], "batch_size": [1, 16, 64, 256], "collate": ["default", "dict"],
          "sampler": ["sequential", "random", "weighted"], "pin_memory": [False, True],
          "augment": [False, True]}


def lab_dataset(s: LabSettings) -> DigitsDataset:
    transform = v2.RandomAffine(degrees=15, translate=(0.1, 0.1)) if s.augment else None
    return digits_dataset(s.dataset, transform, limit=s.n_items)


def balanced_weights(labels: np.ndarray) -> torch.Tensor:
    """Per-sample weights 1 / count(class): every class is then drawn equally often."""
    counts = np.bincount(labels)
    return torch.as_tensor(1.0 / counts[labels], dtype=torch.double)


def make_loader(ds, s: LabSettings) -> DataLoader:
    """The DataLoader these settings describe (spawned workers, seeded shuffling)."""
    if s.batch_size < 1 or s.batch_size > 4096:
        raise HeroError("ch06.bad_batch", value=s.batch_size)
    if not 0 <= s.num_workers <= MAX_WORKERS:
        raise HeroError("ch06.bad_workers", value=s.num_workers, limit=MAX_WORKERS)
    generator = torch.Generator().manual_seed(s.seed)
    sampler = {"sequential": lambda: SequentialSampler(ds),
               "random": lambda: RandomSampler(ds, generator=generator),
               "weighted": lambda: WeightedRandomSampler(balanced_weights(np.asarray(ds.y)), len(ds),
                                                         replacement=True, generator=generator),
               }.get(s.sampler, lambda: None)()
    return DataLoader(ds, batch_size=s.batch_size, shuffle=s.shuffle if sampler is None else None,
                      sampler=sampler, drop_last=s.drop_last, num_workers=s.num_workers,
                      pin_memory=s.pin_memory and torch.cuda.is_available(),
                      collate_fn=dict_collate if s.collate == "dict" else None, generator=generator,
                      multiprocessing_context=SPAWN if s.num_workers else None)


def measure_loader(s: LabSettings, stop: threading.Event | None = None) -> dict:
    """Iterate ``s.epochs`` epochs; wall time includes worker start-up, as a real run would."""
    ds = lab_dataset(s)
    started = time.perf_counter()
    loader = make_loader(ds, s)
    first, samples, batches, sizes, counts = None, 0, 0, [], np.zeros(10, dtype=np.int64)
    for _ in range(s.epochs):
        for batch in loader:
            y = batch["y"] if isinstance(batch, dict) else batch[1]
            first = first if first is not None else time.perf_counter() - started
            samples, batches = samples + len(y), batches + 1
            sizes.append(len(y))
            np.add.at(counts, y.numpy(), 1)
            if stop is not None and stop.is_set():
                break
    seconds = time.perf_counter() - started
    return {"samples": samples, "batches": batches, "seconds": seconds, "first_batch_s": first or 0.0,
            "samples_per_s": samples / max(seconds, 1e-9), "last_batch": sizes[-1] if sizes else 0,
            "class_counts": counts.tolist()}


def run_lab(base: LabSettings, sweep: str, stop: threading.Event | None = None, emit: Emit | None = None) -> list[dict]:
    """Measure samples/s for each value of ``sweep`` (other settings from ``base``)."""
    if sweep not in SWEEPS:
        raise HeroError("ch06.bad_sweep", name=sweep)
    emit = emit or (lambda event: None)
    rows = []
    for value in SWEEPS[sweep]:
        if stop is not None and stop.is_set():
            break
        s = LabSettings(**{**asdict(base), sweep: value})
        row = {"setting": f"{sweep}={value}", **measure_loader(s, stop)}
        rows.append(row)
        emit({"kind": "lab", **row})
    return rows


def sampler_counts(labels: np.ndarray, n_draws: int, seed: int = 0) -> dict:
    """Class counts of ``n_draws`` indices from RandomSampler vs WeightedRandomSampler(1/count)."""
    generator = torch.Generator().manual_seed(seed)
    n_classes = int(labels.max()) + 1
    plain = torch.randint(len(labels), (n_draws,), generator=generator).numpy()
    weighted = np.fromiter(WeightedRandomSampler(balanced_weights(labels), n_draws, generator=generator), int)
    return {"data": np.bincount(labels, minlength=n_classes), "random": np.bincount(labels[plain], minlength=n_classes),
            "weighted": np.bincount(labels[weighted], minlength=n_classes)}


def imbalanced_labels(labels: np.ndarray, seed: int = 0) -> np.ndarray:
    """Keep a fraction (c + 1) / 10 of class c: a deliberately imbalanced label set."""
    rng = np.random.default_rng(seed)
    keep = rng.random(len(labels)) < (labels + 1) / 10
    return labels[keep]


def grouped_bars(groups: dict[str, np.ndarray], classes: list[str], title: str = "") -> go.Figure:
    fig = go.Figure([go.Bar(name=name, x=classes, y=list(v), marker_color=viz.PALETTE[i])
                     for i, (name, v) in enumerate(groups.items())])
    fig.update_layout(**viz.LAYOUT, barmode="group", title=title, xaxis=dict(type="category"))
    return fig


# --------------------------------------------------------------------------- 6.3 torchvision datasets

OFFLINE_SETS = ("digits", "mnist5k", "cifar_twin")
ONLINE_SETS = ("mnist", "fashion_mnist", "cifar10")
FALLBACK = {"mnist": "mnist5k", "fashion_mnist": "mnist5k", "cifar10": "cifar_twin"}
TORCHVISION_NAMES = {"mnist": "MNIST", "fashion_mnist": "FashionMNIST", "cifar10": "CIFAR10"}
CIFAR_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")


@dataclass
class VisionSet:
    """Images as uint8 [N, H, W] (grey) or [N, H, W, 3], labels int64 [N]."""
    name: str
    images: np.ndarray
    labels: np.ndarray
    classes: tuple[str, ...]
    source: str
    notice: str | None = None                  # a locale key, e.g. "ch06.sets.fallback"
    notice_params: dict = field(default_factory=dict)
    full_counts: np.ndarray | None = None      # class counts over the whole set (online sets)


@lru_cache(maxsize=4)
def cifar_twin(n: int = 3000, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """The offline CIFAR-10 twin: MNIST-5k digits as colour 32×32 images.

    Each 28×28 digit is padded to 32×32, its ink tinted with a random bright colour on a
    random dark background: uint8 [n, 32, 32, 3] and labels [n] (10 classes, like CIFAR-10).
    """
    ds = datasets.load("mnist5k")
    n = min(n, len(ds))
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(ds))[:n]
    ink = np.pad(ds.X[order].reshape(n, 28, 28), ((0, 0), (2, 2), (2, 2)))[..., None]   # [n, 32, 32, 1]
    fg = rng.uniform(0.5, 1.0, (n, 1, 1, 3))
    bg = rng.uniform(0.0, 0.35, (n, 1, 1, 3))
    images = ((ink * fg + (1 - ink) * bg) * 255).round().astype(np.uint8)
    labels = ds.y[order].astype(np.int64)
    images.setflags(write=False)   # cached and shared: nobody may change it in place
    labels.setflags(write=False)
    return images, labels


def load_offline(name: str, n: int) -> VisionSet:
    if name == "cifar_twin":
        images, labels = cifar_twin(n)
        return VisionSet(name, images.copy(), labels.copy(), tuple(str(i) for i in range(10)),
                         "MNIST-5k digits as tinted 32×32 RGB images (offline CIFAR-10 twin)")
    if name not in OFFLINE_SETS:
        raise HeroError("ch06.unknown_set", name=name)
    ds = datasets.load(name)
    images = (ds.X[:n].reshape(-1, *ds.image_shape) * 255).round().astype(np.uint8)
    return VisionSet(name, images, ds.y[:n], ds.classes, ds.source, full_counts=np.bincount(ds.y, minlength=10))


def _download(name: str, root: Path):
    """torchvision's own downloader (replaced by a failing stub in the tests)."""
    from torchvision import datasets as tv_datasets
    return getattr(tv_datasets, TORCHVISION_NAMES[name])(str(root), train=True, download=True)


def load_vision(name: str, n: int, online: bool = False) -> VisionSet:
    """An offline set, or an online torchvision set when allowed; a failed download falls
    back to the offline twin with a notice (``ch06.sets.fallback``)."""
    if name in OFFLINE_SETS:
        return load_offline(name, n)
    if name not in ONLINE_SETS:
        raise HeroError("ch06.unknown_set", name=name)
    if not online:
        out = load_offline(FALLBACK[name], n)
        out.notice, out.notice_params = "ch06.sets.offline_used", {"wanted": TORCHVISION_NAMES[name], "used": out.name}
        return out
    root = weights.cache_dir() / "datasets"
    try:
        tv = _download(name, root)
    except Exception as exc:   # no network, a proxy, a full disk: the offline twin still works
        out = load_offline(FALLBACK[name], n)
        out.notice = "ch06.sets.fallback"
        out.notice_params = {"wanted": TORCHVISION_NAMES[name], "used": out.name, "reason": type(exc).__name__}
        return out
    data = tv.data.numpy() if isinstance(tv.data, torch.Tensor) else np.asarray(tv.data)
    targets = np.asarray(tv.targets, dtype=np.int64)
    return VisionSet(name, data[:n].astype(np.uint8), targets[:n], tuple(tv.classes),
                     f"torchvision.datasets.{TORCHVISION_NAMES[name]} ({len(targets):,} images, {root})",
                     full_counts=np.bincount(targets, minlength=len(tv.classes)))


def _png_uri(img: np.ndarray) -> str:
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def mosaic(images: np.ndarray | list, cols: int = 8, cell: int = 100, gap: int = 4, label: int = 0) -> np.ndarray:
    """uint8 images [N, H, W] or [N, H, W, 3] of any sizes → one white-gapped RGB mosaic.

    Each image is scaled (nearest neighbour: pixels stay visible) to fit a cell × cell tile;
    ``label`` px of white are left above each row for titles.
    """
    n = len(images)
    cols = max(1, min(cols, n))
    rows = math.ceil(n / cols)
    out = np.full((rows * (cell + gap + label) + gap, cols * (cell + gap) + gap, 3), 255, np.uint8)
    for i, img in enumerate(images):
        img = np.asarray(img)
        img = img if img.ndim == 3 else np.repeat(img[..., None], 3, -1)
        pil = Image.fromarray(img)
        scale = cell / max(pil.size)
        pil = pil.resize((max(1, round(pil.width * scale)), max(1, round(pil.height * scale))),
                         Image.Resampling.NEAREST if scale >= 2 else Image.Resampling.BILINEAR)
        r, c = divmod(i, cols)
        top, left = gap + label + r * (cell + gap + label), gap + c * (cell + gap)
        out[top:top + pil.height, left:left + pil.width] = np.asarray(pil)
    return out


def rgb_grid(images: np.ndarray | list, titles: list[str] | None = None, cols: int = 8, title: str = "",
             cell: int = 100) -> go.Figure:
    """Images in a grid, drawn as ONE PNG-encoded mosaic (fast: no subplot per image), titles on top."""
    n = len(images)
    cols = max(1, min(cols, n))
    gap, label = 4, 18 if titles else 0
    tile = mosaic(images, cols, cell, gap, label)
    fig = go.Figure(go.Image(source=_png_uri(tile), hoverinfo="skip"))
    for i, text in enumerate(titles or []):
        r, c = divmod(i, cols)
        fig.add_annotation(x=gap + c * (cell + gap) + cell / 2, y=gap + label + r * (cell + gap + label), text=str(text),
                           showarrow=False, yanchor="bottom", font=dict(size=11))
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False, range=[tile.shape[0], 0])
    height = min(900, int(tile.shape[0] * min(1.0, 900 / tile.shape[1])) + 50)
    fig.update_layout(**{**viz.LAYOUT, "height": height, "margin": dict(l=5, r=5, t=40 if title else 10, b=5),
                         "title": title})
    return fig


# --------------------------------------------------------------------------- 6.3 transforms.v2

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


# --------------------------------------------------------------------------- 6.4 variable sizes


def random_sequences(n: int, min_len: int, max_len: int, seed: int = 0, vocab: int = 50) -> SequenceDataset:
    """``n`` token sequences with lengths in [min_len, max_len] (ids 1..vocab-1; 0 = padding)."""
    if not (1 <= min_len <= max_len <= 512 and 1 <= n <= 4096):
        raise HeroError("ch06.bad_lengths", low=min_len, high=max_len)
    g = torch.Generator().manual_seed(seed)
    lengths = torch.randint(min_len, max_len + 1, (n,), generator=g)
    seqs = [torch.randint(1, vocab, (int(L),), generator=g) for L in lengths]
    return SequenceDataset(seqs, [int(L) % 2 for L in lengths])


def length_buckets(lengths: list[int], batch_size: int, seed: int = 0) -> list[list[int]]:
    """A batch_sampler: indices sorted by length, cut into batches, batch order shuffled."""
    order = sorted(range(len(lengths)), key=lengths.__getitem__)
    batches = [order[i:i + batch_size] for i in range(0, len(order), batch_size)]
    perm = torch.randperm(len(batches), generator=torch.Generator().manual_seed(seed)).tolist()
    return [batches[i] for i in perm]


def padded_batches(ds: SequenceDataset, batch_size: int, bucket: bool, seed: int = 0) -> dict:
    """One epoch through a DataLoader with ``pad_collate``; the share of padding tokens.

    Bucketing by length puts similar lengths together, so less compute is spent on padding.
    """
    g = torch.Generator().manual_seed(seed)
    if bucket:
        loader = DataLoader(ds, batch_sampler=length_buckets([len(s) for s in ds.sequences], batch_size, seed),
                            collate_fn=pad_collate)
    else:
        loader = DataLoader(ds, batch_size=batch_size, shuffle=True, generator=g, collate_fn=pad_collate)
    batches = list(loader)
    real = sum(int(b["mask"].sum()) for b in batches)
    total = sum(b["mask"].numel() for b in batches)
    return {"batches": batches, "padding": 1 - real / total}


def padding_figure(batch: dict, title: str = "") -> go.Figure:
    """Heatmap of a padded batch: token ids, padding (mask False) shown blank."""
    z = batch["tokens"].float().masked_fill(~batch["mask"], float("nan")).numpy()
    fig = go.Figure(go.Heatmap(z=z, colorscale="Blues", showscale=False, xgap=1, ygap=1))
    fig.update_layout(**{**viz.LAYOUT, "title": title, "height": max(160, 22 * len(z) + 70)},
                      yaxis=dict(autorange="reversed", title="batch index"), xaxis=dict(title="position"))
    return fig


RESIZE_POLICIES = ("resize", "center_crop", "letterbox")


def resize_policy(img: Image.Image, policy: str, size: int) -> np.ndarray:
    """Fit an image of any shape into [size, size]: uint8 [size, size, 3].

    resize: stretch (aspect ratio lost); center_crop: shorter side → size, crop the
    middle (edges lost); letterbox: longer side → size, pad with black (nothing lost).
    """
    x = image_tensor(img)
    h, w = x.shape[-2:]
    if policy == "resize":
        y = v2.functional.resize(x, [size, size], antialias=True)
    elif policy == "center_crop":
        y = v2.functional.center_crop(v2.functional.resize(x, size, antialias=True), [size, size])
    elif policy == "letterbox":
        scale = size / max(h, w)
        nh, nw = max(1, round(h * scale)), max(1, round(w * scale))
        y = v2.functional.resize(x, [nh, nw], antialias=True)
        top, left = (size - nh) // 2, (size - nw) // 2
        y = v2.functional.pad(y, [left, top, size - nw - left, size - nh - top], fill=0)
    else:
        raise HeroError("ch06.unknown_policy", name=policy)
    return _as_array(y)


# --------------------------------------------------------------------------- 6.5 实战: CIFAR-10-style pipeline


@dataclass
class PipelineSettings:
    source: str = "cifar10"      # "cifar10" (online, opt-in) or its offline twin "cifar_twin"
    online: bool = False         # download allowed (the learner ticked the box)
    n_images: int = 3000         # images used (train + validation)
    batch_size: int = 64
    epochs: int = 1
    lr: float = 3e-3
    num_workers: int = 0         # 0 in the page; the DataLoader lab measures workers
    seed: int = 0


@dataclass
class PipelineResult:
    source: str
    notice: str | None
    notice_params: dict
    classes: tuple[str, ...]
    mean: list[float]
    std: list[float]
    batch_shape: tuple[int, ...]
    batch_images: np.ndarray        # uint8 [B, 32, 32, 3]: the first training batch, de-normalised
    batch_labels: list[int]
    history: list[dict] = field(default_factory=list)
    end: dict = field(default_factory=dict)


def channel_stats(images: np.ndarray) -> tuple[list[float], list[float]]:
    """Per-channel mean and std of uint8 images [N, H, W, 3], in [0, 1] units (for Normalize)."""
    x = torch.from_numpy(np.array(images, dtype=np.float32)).div_(255)   # np.array copies: input may be read-only
    return x.mean(dim=(0, 1, 2)).tolist(), x.std(dim=(0, 1, 2), correction=0).clamp_min(1e-6).tolist()


def pipeline_transforms(mean: list[float], std: list[float], flip: bool) -> tuple[v2.Compose, v2.Compose]:
    """Train (augmenting) and eval transforms for uint8 [3, 32, 32] → normalised float."""
    augment = [v2.RandomCrop(32, padding=4), v2.RandomHorizontalFlip() if flip else v2.RandomRotation(10)]
    tail = [v2.ToDtype(torch.float32, scale=True), v2.Normalize(mean, std)]
    return v2.Compose(augment + tail), v2.Compose(tail)


def tiny_cnn(n_classes: int = 10) -> nn.Sequential:
    """A small CNN for [B, 3, 32, 32]: enough to show the pipeline feeds training."""
    return nn.Sequential(nn.Conv2d(3, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1),
                         nn.Flatten(), nn.Linear(64, n_classes))


def run_pipeline(s: PipelineSettings, stop: threading.Event | None = None, emit: Emit | None = None) -> PipelineResult:
    """Dataset + transforms.v2 + DataLoader, then one (or a few) epochs of a tiny CNN."""
    emit = emit or (lambda event: None)
    seed_everything(s.seed)
    # 1. data: CIFAR-10 when online and allowed, else the offline twin
    data = load_vision(s.source, s.n_images, online=s.online)
    n_val = max(1, len(data.labels) // 5)
    train_x, val_x = data.images[n_val:], data.images[:n_val]
    # 2. normalisation stats from the training images only (no peeking at validation)
    mean, std = channel_stats(train_x)
    train_tf, eval_tf = pipeline_transforms(mean, std, flip=data.name == "cifar10")  # flipping a digit changes it
    train_ds = RGBImageDataset(train_x, data.labels[n_val:], train_tf)
    val_ds = RGBImageDataset(val_x, data.labels[:n_val], eval_tf)
    # 3. loaders: shuffled, seeded batches for training; in order for validation
    g = torch.Generator().manual_seed(s.seed)
    ctx = SPAWN if s.num_workers else None
    train_dl = DataLoader(train_ds, batch_size=s.batch_size, shuffle=True, generator=g, drop_last=True,
                          num_workers=s.num_workers, multiprocessing_context=ctx)
    val_dl = DataLoader(val_ds, batch_size=256)
    xb, yb = next(iter(DataLoader(train_ds, batch_size=min(16, s.batch_size), shuffle=True,
                                  generator=torch.Generator().manual_seed(s.seed))))
    shown = (xb * torch.tensor(std)[:, None, None] + torch.tensor(mean)[:, None, None]).clamp(0, 1)
    result = PipelineResult(data.name, data.notice, data.notice_params, data.classes, mean, std,
                            (s.batch_size, *xb.shape[1:]), (shown * 255).round().byte().permute(0, 2, 3, 1).numpy(),
                            yb.tolist())
    emit({"kind": "batch", "shape": result.batch_shape})
    # 4. train: the loaders go straight into the gallery's one training loop
    model = tiny_cnn(len(data.classes))
    optimizer = make_optimizer("adam", model.parameters(), s.lr)
    result.history, result.end = record(fit(
        model, train_dl, val_dl, optimizer=optimizer, epochs=s.epochs, seed=s.seed, callbacks=[NaNGuard()],
        stop_event=stop, eval_every=max(1, len(train_dl) // 3)), emit)
    return result
