"""9.1–9.2 Overfitting lab: one big MLP on 100 real digits, trained plain and with each regulariser
(weight decay, dropout, BatchNorm, augmentation, early stopping) on the same data, seed and batches."""
from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from core import data as datasets
from core import nets
from core.device import seed_everything
from core.errors import Emit, HeroError, check_range
from core.lessons import trainer
from core.lessons.ch09_tricks.presets import MAX_EPOCHS, MAX_PER_CLASS, PRESETS
from core.train import Callback, EarlyStopping, NaNGuard, amp_callbacks, fit, make_optimizer


VARIANTS = ("none", "weight_decay", "dropout", "batchnorm", "augment", "early_stop")


class RandomShift(nn.Module):
    """Augmentation as a layer: in training mode, shift each image by up to ``max_shift`` pixels.

    x: [B, size²] → [B, size²]. Identity in eval mode, so evaluation sees clean images.
    Uses the global torch RNG, so a seeded run draws the same shifts every time.
    """

    def __init__(self, size: int, max_shift: int = 1):
        super().__init__()
        self.size, self.max_shift = size, max_shift

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.max_shift == 0:
            return x
        k, s = self.max_shift, self.size
        img = F.pad(x.reshape(-1, 1, s, s), (k, k, k, k))        # zero border to shift into
        # drawn on the CPU generator (the same shifts on every device), then moved to the images
        dy, dx = torch.randint(0, 2 * k + 1, (2, len(x))).to(x.device)
        span = torch.arange(s, device=x.device)
        rows = (dy[:, None] + span)[:, :, None]                   # [B, s, 1] source rows
        cols = (dx[:, None] + span)[:, None, :]                   # [B, 1, s] source cols
        return img[torch.arange(len(x), device=x.device)[:, None, None], 0, rows, cols].reshape(len(x), -1)


@dataclass
class OverfitSettings:
    per_class: int = 10            # training images per digit: small data is what makes a big net overfit
    width: int = 256               # hidden width: far more capacity than 100 images need
    depth: int = 2
    epochs: int = 40
    lr: float = 3e-3
    batch_size: int = 32
    weight_decay: float = 1e-2     # L2 strength of the "weight_decay" run (Adam adds wd·θ to the gradient)
    dropout: float = 0.5           # drop probability of the "dropout" run
    max_shift: int = 1             # pixels of random shift in the "augment" run
    patience: int = 5              # evaluations without val-loss improvement before "early_stop" stops
    seed: int = 0
    variants: tuple[str, ...] = VARIANTS
    device: str = "cpu"            # where the models and batches live ("cuda", "mps", "cpu")


def overfit_split(per_class: int, seed: int = 0) -> datasets.Split:
    """Real 8×8 digits: ``per_class`` training images per class, every other image for validation.

    X_train [10·per_class, 64], X_val [1797 − 10·per_class, 64] (float32 in [0, 1]).
    """
    check_range("per_class", per_class, 2, MAX_PER_CLASS)
    ds = datasets.load("digits")
    rng = np.random.default_rng(seed)
    train_idx = np.concatenate([rng.permutation(np.flatnonzero(ds.y == c))[:per_class] for c in range(10)])
    val_mask = np.ones(len(ds.y), bool)
    val_mask[train_idx] = False
    train_idx = rng.permutation(train_idx)
    as_x = lambda a: torch.from_numpy(np.ascontiguousarray(a, np.float32))  # noqa: E731
    as_y = lambda a: torch.from_numpy(np.ascontiguousarray(a, np.int64))    # noqa: E731
    return datasets.Split(as_x(ds.X[train_idx]), as_y(ds.y[train_idx]), as_x(ds.X[val_mask]), as_y(ds.y[val_mask]))


def variant_setup(s: OverfitSettings, variant: str) -> tuple[nn.Module, torch.optim.Optimizer, list[Callback], dict]:
    """Model, optimiser, callbacks and the settings that differ from the plain run, for one variant."""
    config = {"in_features": 64, "width": s.width, "depth": s.depth, "out_features": 10}
    differs: dict = {}
    if variant == "dropout":
        config["dropout"] = differs["dropout"] = s.dropout
    if variant == "batchnorm":
        config["batchnorm"] = differs["batchnorm"] = True
    model = nets.build("deep_mlp", config)
    if variant == "augment":
        model = nn.Sequential(RandomShift(8, s.max_shift), model)   # shifts only in train mode
        differs["random_shift_px"] = s.max_shift
    model.to(s.device)
    wd = s.weight_decay if variant == "weight_decay" else 0.0
    if wd:
        differs["weight_decay"] = wd
    optimizer = make_optimizer("adam", model.parameters(), s.lr, weight_decay=wd)
    callbacks: list[Callback] = [*amp_callbacks(s.device), NaNGuard()]
    if variant == "early_stop":
        callbacks.append(EarlyStopping("val_loss", patience=s.patience))
        differs["early_stopping_patience"] = s.patience
    return model, optimizer, callbacks, differs


def run_overfit_lab(s: OverfitSettings, stop_event: threading.Event | None = None,
                    emit: Emit | None = None) -> dict:
    """Train one run per variant on the same data, seed and shuffle order.

    Every event is forwarded to ``emit`` tagged with ``"run": variant``. Returns
    {variant: {"differs": settings that differ from "none", "history": eval events, "end": end event}}.
    """
    emit = emit or (lambda event: None)
    check_range("epochs", s.epochs, 1, MAX_EPOCHS)
    split = overfit_split(s.per_class, s.seed)
    results: dict[str, dict] = {}
    for variant in s.variants:
        if variant not in VARIANTS:
            raise HeroError("ch09.unknown_variant", name=variant)
        if stop_event is not None and stop_event.is_set():
            break
        seed_everything(s.seed)                     # 1. same initial weights for every variant ...
        model, optimizer, callbacks, differs = variant_setup(s, variant)
        run = results[variant] = {"differs": differs, "history": [], "end": {}}
        for event in fit(model, (split.X_train, split.y_train), (split.X_val, split.y_val),  # 2. ... same batches
                         optimizer=optimizer, epochs=s.epochs, batch_size=s.batch_size, seed=s.seed,
                         device=s.device, callbacks=callbacks, stop_event=stop_event):
            if event["kind"] == "eval":
                run["history"].append(event)
            elif event["kind"] == "end":
                run["end"] = event
            emit({**event, "run": variant})
    return results


@trainer("ch09_overfit")
def _check_overfit(device: str, preset: str) -> dict:
    P = PRESETS[preset]
    lab = run_overfit_lab(OverfitSettings(per_class=P["per_class"], epochs=P["overfit_epochs"],
                                          variants=("none", "augment", "early_stop"), device=device))
    return {f"{v}_val_acc": r["history"][-1]["val_acc"] for v, r in lab.items()}


def gap_table(results: dict) -> list[dict]:
    """One row per run: final train/val accuracy, the generalisation gap, and losses.

    With early stopping the "final" numbers are those of the restored best epoch (re-evaluated).
    """
    rows = []
    for name, run in results.items():
        last = run["history"][-1] if run["history"] else {}
        if run["end"].get("reason") == "early_stop" and run["history"]:
            last = min(run["history"], key=lambda e: e["val_loss"])   # the weights EarlyStopping put back
        rows.append({"run": name, "epochs": len(run["history"]),
                     "train_acc": last.get("train_acc", float("nan")), "val_acc": last.get("val_acc", float("nan")),
                     "gap": last.get("train_acc", float("nan")) - last.get("val_acc", float("nan")),
                     "train_loss": last.get("train_loss", float("nan")), "val_loss": last.get("val_loss", float("nan"))})
    return rows
