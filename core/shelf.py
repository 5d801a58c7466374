"""The model shelf: every model a visitor trains, kept for later chapters and for download.

A ``Shelf`` belongs to one visitor (the Streamlit session or a Gradio ``gr.State``), holds at
most ``capacity`` models and lets the oldest unpinned one go first. Later chapters ask for
models of a *kind* — ``"digits-classifier"`` (images [B, 1, H, W] in [0, 1] → 10 logits),
``"char-gpt"``, ... — and offer them beside the shipped checkpoint.

A shelf item downloads as a zip of ``<name>.safetensors`` (weights, with architecture and
config in its metadata) and ``<name>.json`` (the same config, readable), which the chapter's
take-home scripts load.
"""
from __future__ import annotations

import io
import json
import re
import time
import zipfile
from dataclasses import dataclass, field
from typing import Callable

from torch import nn

from core import nets, weights
from core.errors import HeroError

CAPACITY = 12


@dataclass
class ShelfItem:
    name: str                  # unique on the shelf, e.g. "ch05 digits CNN #2"
    chapter: str               # "ch05": where it was trained
    kind: str                  # what it is for (see module docstring); later chapters filter on it
    model: nn.Module
    metric: str = ""           # e.g. "val_acc 97.8 %", shown as it is
    info: dict = field(default_factory=dict)     # what a user of the model needs (classes, image size, vocab…)
    created: float = field(default_factory=time.time)
    pinned: bool = False
    # Models that are not registered nets (a Hugging Face model…) provide their own files.
    files: Callable[[], dict[str, bytes]] | None = None

    @property
    def slug(self) -> str:
        return re.sub(r"[^A-Za-z0-9]+", "_", self.name).strip("_").lower() or "model"


class Shelf:
    def __init__(self, capacity: int = CAPACITY):
        self.capacity = capacity
        self._items: list[ShelfItem] = []

    def put(self, item: ShelfItem) -> ShelfItem | None:
        """Add ``item`` (a same-named one is replaced); return the item evicted to make room."""
        self._items = [i for i in self._items if i.name != item.name]
        self._items.append(item)
        if len(self._items) <= self.capacity:
            return None
        for old in self._items:              # oldest first
            if not old.pinned and old is not item:
                self._items.remove(old)
                return old
        self._items.remove(item)             # everything else is pinned: the new one cannot stay
        return item

    def items(self, kind: str | None = None) -> list[ShelfItem]:
        return [i for i in self._items if kind is None or i.kind == kind]

    def get(self, name: str) -> ShelfItem | None:
        return next((i for i in self._items if i.name == name), None)

    def unique_name(self, base: str) -> str:
        """``base`` if free, else ``base #2``, ``base #3``…"""
        names = {i.name for i in self._items}
        if base not in names:
            return base
        n = 2
        while f"{base} #{n}" in names:
            n += 1
        return f"{base} #{n}"

    def pin(self, name: str, pinned: bool = True) -> None:
        if (item := self.get(name)) is not None:
            item.pinned = pinned

    def remove(self, name: str) -> None:
        self._items = [i for i in self._items if i.name != name]

    def __len__(self) -> int:
        return len(self._items)


def describe(item: ShelfItem) -> dict:
    """The JSON config that travels with the weights."""
    meta = {"name": item.name, "chapter": item.chapter, "kind": item.kind, "metric": item.metric,
            "info": item.info, "created": time.strftime("%Y-%m-%d %H:%M", time.localtime(item.created))}
    if item.files is None:
        meta.update(arch=nets.arch_name(item.model), config=nets.config_dict(item.model))
    return meta


def package(item: ShelfItem) -> bytes:
    """Zip of ``<slug>.safetensors`` + ``<slug>.json`` (or the item's own files)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        meta = describe(item)
        zf.writestr(f"{item.slug}.json", json.dumps(meta, indent=2, ensure_ascii=False, default=str))
        if item.files is not None:
            for fname, data in item.files().items():
                zf.writestr(fname, data)
        else:
            zf.writestr(f"{item.slug}.safetensors",
                        weights.checkpoint_bytes(item.model, kind=item.kind, info=item.info, metric_text=item.metric))
    return buffer.getvalue()


def read_package(data: bytes) -> tuple[nn.Module, dict]:
    """A model and its JSON description back from :func:`package`'s zip (untrusted input:
    safetensors only, sizes checked by ``weights.read_checkpoint``)."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            names = zf.namelist()
            js = next(n for n in names if n.endswith(".json"))
            st = next(n for n in names if n.endswith(".safetensors"))
            if zf.getinfo(st).file_size > weights.MAX_UPLOAD_BYTES:
                raise HeroError("upload.zip_too_big", limit_mb=weights.MAX_UPLOAD_BYTES // 2**20)
            meta = json.loads(zf.read(js))
            model = weights.model_from_checkpoint(weights.read_checkpoint(zf.read(st)))
    except (zipfile.BadZipFile, StopIteration, KeyError, json.JSONDecodeError) as exc:
        raise HeroError("shelf.bad_package", detail=type(exc).__name__) from None
    return model.eval(), meta
