"""The computation behind each chapter's demos, one module (or package) per chapter.

Every lesson function that trains, generates or serves a model is also registered here as a
*trainer check*: ``@trainer("ch05_digits")`` on a small function ``check(device, preset)`` that
runs it once with that preset's sizes on that device and returns a dict of what it measured
(e.g. ``{"val_acc": 0.97}``). ``tests/test_trainers.py`` runs every check on every device present
(CPU always, CUDA/MPS when found) with the tiny preset, and ``scripts/gpu_check.py`` times each on
CPU vs GPU — so a lesson that forgets to put its model on ``settings.device`` shows up there.
"""
from __future__ import annotations

import importlib
import pkgutil
from typing import Callable

TRAINERS: dict[str, Callable[[str, str], dict]] = {}


def trainer(name: str):
    """Register ``check(device: str, preset: str) -> dict`` under ``name`` (unique)."""
    def deco(fn: Callable[[str, str], dict]) -> Callable[[str, str], dict]:
        if name in TRAINERS and TRAINERS[name] is not fn:
            raise ValueError(f"trainer check {name!r} registered twice")
        TRAINERS[name] = fn
        return fn
    return deco


def load_all() -> dict[str, Callable[[str, str], dict]]:
    """Import every lesson module (and sub-module of lesson packages) so their checks register."""
    for info in pkgutil.walk_packages(__path__, prefix=f"{__name__}."):
        importlib.import_module(info.name)
    return TRAINERS
