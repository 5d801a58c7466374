"""6.4 Variable sizes: padding collate with length buckets, and resize policies for images."""
from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import torch
from PIL import Image
from torch.utils.data import DataLoader
from torchvision.transforms import v2

from core import viz
from core.data.ch06_sets import SequenceDataset, pad_collate
from core.errors import HeroError
from core.lessons.ch06_data.transforms import _as_array, image_tensor


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
