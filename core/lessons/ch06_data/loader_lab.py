"""6.2 The DataLoader lab: workers (spawned), batch size, collate, samplers, pinned memory, measured."""
from __future__ import annotations

import threading
import time
from dataclasses import asdict, dataclass

import numpy as np
import plotly.graph_objects as go
import torch
from torch.utils.data import DataLoader, RandomSampler, SequentialSampler, WeightedRandomSampler
from torchvision.transforms import v2

from core import viz
from core.data.ch06_sets import DigitsDataset, dict_collate
from core.errors import Emit, HeroError
from core.lessons.ch06_data.dataset_basics import digits_dataset
from core.lessons.ch06_data.presets import MAX_WORKERS, SPAWN


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
    device: str = "cpu"          # where each batch is copied, as training would ("cuda": pin_memory pays off)


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
            for v in (batch.values() if isinstance(batch, dict) else batch):
                v.to(s.device, non_blocking=s.pin_memory)   # the copy a training step makes (async when pinned)
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
    for i, value in enumerate(SWEEPS[sweep]):
        if stop is not None and stop.is_set():
            break
        emit({"kind": "progress", "done": i, "total": len(SWEEPS[sweep]), "text": f"{sweep}={value}"})
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
