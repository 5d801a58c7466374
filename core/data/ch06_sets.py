"""Chapter 6's Dataset classes, collate functions and the generated record file.

They live in an importable core module on purpose: a DataLoader with ``num_workers > 0``
and the ``spawn`` start method pickles the dataset, the collate function and the sampler,
and each worker re-imports them by module path. A class defined inside a page or a
notebook cell cannot be found by a spawned worker. This module imports only numpy and
torch, so a worker starts as fast as possible.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from torch.nn.utils.rnn import pad_sequence
from torch.utils.data import Dataset, IterableDataset, get_worker_info

# --------------------------------------------------------------------------- map-style


class DigitsDataset(Dataset):
    """A map-style dataset over flattened grey images: item i → (image [1, H, W] float32, label int).

    X: float32 [N, H·W] in [0, 1]; y: int64 [N]. ``transform`` (optional) maps the
    image tensor [1, H, W] to another tensor, e.g. a ``transforms.v2`` augmentation.
    """

    def __init__(self, X: np.ndarray, y: np.ndarray, image_shape: tuple[int, int],
                 transform: Callable | None = None):
        self.X = np.ascontiguousarray(X, dtype=np.float32)
        self.y = np.ascontiguousarray(y, dtype=np.int64)
        self.image_shape = tuple(image_shape)
        self.transform = transform

    def __len__(self) -> int:
        return len(self.y)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        if not -len(self) <= index < len(self):
            raise IndexError(index)           # lets `for x in ds` stop, like a list
        image = torch.tensor(self.X[index]).reshape(1, *self.image_shape)   # a copy: cached arrays are read-only
        if self.transform is not None:
            image = self.transform(image)
        return image, int(self.y[index])


class RGBImageDataset(Dataset):
    """Colour images kept as uint8 [N, H, W, 3] (4× smaller than float); item → (x, label).

    Without a transform x is uint8 [3, H, W]; the usual transform is a ``transforms.v2``
    pipeline ending in ``ToDtype(float32, scale=True)`` and ``Normalize``.
    """

    def __init__(self, images: np.ndarray, labels: np.ndarray, transform: Callable | None = None):
        self.images = np.ascontiguousarray(images, dtype=np.uint8)
        self.labels = np.ascontiguousarray(labels, dtype=np.int64)
        self.transform = transform

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        x = torch.from_numpy(self.images[index]).permute(2, 0, 1)   # HWC → CHW, as torchvision expects
        if self.transform is not None:
            x = self.transform(x)
        return x, int(self.labels[index])


class SequenceDataset(Dataset):
    """Variable-length token sequences: item i → (LongTensor [L_i], label int)."""

    def __init__(self, sequences: list[torch.Tensor], labels: list[int]):
        self.sequences, self.labels = sequences, labels

    def __len__(self) -> int:
        return len(self.sequences)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        return self.sequences[index], self.labels[index]


# --------------------------------------------------------------------------- collate functions


def dict_collate(batch: list[tuple[torch.Tensor, int]]) -> dict[str, torch.Tensor]:
    """A custom ``collate_fn``: a list of (x, label) → {"x": [B, ...], "y": [B]} (named fields)."""
    xs, ys = zip(*batch)
    return {"x": torch.stack(xs), "y": torch.tensor(ys, dtype=torch.long)}


def pad_collate(batch: list[tuple[torch.Tensor, int]], padding_value: int = 0) -> dict[str, torch.Tensor]:
    """Variable-length sequences → one padded batch.

    Returns tokens [B, T_max] (padded with ``padding_value``), mask [B, T_max] (True = real
    token), lengths [B] and labels [B]. T_max is the longest sequence *in this batch*.
    """
    seqs, labels = zip(*batch)
    lengths = torch.tensor([len(s) for s in seqs], dtype=torch.long)
    tokens = pad_sequence(list(seqs), batch_first=True, padding_value=padding_value)
    mask = torch.arange(tokens.shape[1])[None, :] < lengths[:, None]
    return {"tokens": tokens, "mask": mask, "lengths": lengths, "labels": torch.tensor(labels)}


# --------------------------------------------------------------------------- the large record file

# One row = 64 bytes: a row id (to prove each row is read once), a label and 12 features.
RECORD = np.dtype([("id", "<i8"), ("label", "<i8"), ("x", "<f4", (12,))])


def write_records(path: Path, n_rows: int, seed: int = 0, chunk_rows: int = 65_536) -> Path:
    """Write ``n_rows`` synthetic rows to a binary file, chunk by chunk (constant memory).

    Reuses an existing file of the right size (same seed → same bytes); writes to a
    temporary name first so a reader never sees half a file.
    """
    path = Path(path)
    if path.exists() and path.stat().st_size == n_rows * RECORD.itemsize:
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.{os.getpid()}.{id(path)}.tmp")
    rng = np.random.default_rng(seed)
    with open(tmp, "wb") as f:
        for start in range(0, n_rows, chunk_rows):
            n = min(chunk_rows, n_rows - start)
            rows = np.empty(n, dtype=RECORD)
            rows["id"] = np.arange(start, start + n)
            rows["label"] = rng.integers(0, 2, n)
            rows["x"] = rng.normal(0, 1, (n, 12)).astype(np.float32) + rows["label"][:, None] * 0.5
            rows.tofile(f)
    os.replace(tmp, path)
    return path


class RecordStream(IterableDataset):
    """Stream the rows of a record file without ever loading it whole.

    Reads ``chunk_rows`` rows at a time, so memory stays ~ chunk_rows × 64 bytes however
    large the file is. With ``batched=True`` it yields whole chunks ({"id" [n], "label" [n],
    "x" [n, 12]}; use ``DataLoader(batch_size=None)``), else one row at a time.

    Sharding: each DataLoader worker runs its own copy of ``__iter__``. ``shard=True``
    gives worker k of W the k-th contiguous slice of rows (from ``get_worker_info()``), so
    every row is read exactly once; ``shard=False`` shows the classic bug (each row W times).
    """

    def __init__(self, path: str | Path, chunk_rows: int = 4096, batched: bool = False,
                 shard: bool = True, limit_rows: int | None = None):
        self.path, self.chunk_rows, self.batched, self.shard = str(path), chunk_rows, batched, shard
        self.limit_rows = limit_rows

    def n_rows(self) -> int:
        total = os.path.getsize(self.path) // RECORD.itemsize
        return total if self.limit_rows is None else min(total, self.limit_rows)

    def shard_range(self) -> tuple[int, int, int]:
        """(first row, end row, worker id) this process should read."""
        n, info = self.n_rows(), get_worker_info()
        if info is None or not self.shard:
            return 0, n, 0 if info is None else info.id
        per = -(-n // info.num_workers)          # ceil: the last worker may get fewer rows
        return min(n, info.id * per), min(n, (info.id + 1) * per), info.id

    def __iter__(self):
        start, end, worker = self.shard_range()
        with open(self.path, "rb") as f:
            f.seek(start * RECORD.itemsize)
            for pos in range(start, end, self.chunk_rows):
                rows = np.fromfile(f, dtype=RECORD, count=min(self.chunk_rows, end - pos))
                chunk = {"id": torch.from_numpy(rows["id"].copy()), "label": torch.from_numpy(rows["label"].copy()),
                         "x": torch.from_numpy(rows["x"].copy()), "worker": torch.full((len(rows),), worker)}
                if self.batched:
                    yield chunk
                else:
                    for i in range(len(rows)):
                        yield {k: v[i] for k, v in chunk.items()}


def labels_of(dataset: Dataset) -> np.ndarray:
    """Class labels [N] of a dataset above without touching the images (for samplers)."""
    return np.asarray(getattr(dataset, "y", getattr(dataset, "labels", None)))
