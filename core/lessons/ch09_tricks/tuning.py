"""9.8 实战: tune the chapter 5 digit CNN — LR finder, AdamW + weight decay, early stopping — vs its baseline,
both logged to TensorBoard."""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from core import data as datasets
from core import nets
from core.device import seed_everything
from core.errors import Emit, check_range
from core.lessons import trainer
from core.lessons.ch09_tricks.presets import MAX_EPOCHS, PRESETS
from core.lessons.ch09_tricks.lr_finder import lr_finder
from core.lessons.ch09_tricks.tensorboard_logs import train_with_tensorboard
from core.train import EarlyStopping, NaNGuard, evaluate, make_optimizer


@dataclass
class TuneSettings:
    dataset: str = "digits"          # "digits" (8×8) or "mnist5k" (28×28)
    epochs: int = 25                 # the baseline trains all of them; the tuned run may stop early
    baseline_lr: float = 3e-3        # ch05's default for this CNN
    weight_decay: float = 1e-2       # AdamW's decoupled weight decay in the tuned run
    patience: int = 4                # early-stopping patience (evaluations) in the tuned run
    finder_steps: int = 100
    batch_size: int = 32
    seed: int = 0
    device: str = "cpu"              # where the models and batches live ("cuda", "mps", "cpu")


def tune_model(image_size: int) -> nn.Module:
    """The chapter 5 digit CNN (same config as its shipped checkpoint), freshly initialised."""
    return nets.build("small_cnn", {"image_size": image_size, "channels": 16, "n_classes": 10})


def tune_digits(s: TuneSettings, logdir: str | Path, stop_event: threading.Event | None = None,
                emit: Emit | None = None) -> dict:
    """Baseline vs tuned training of the ch05 digit CNN, both logged to TensorBoard under ``logdir``.

    1. LR finder on a fresh CNN → suggested LR (steepest descent);
    2. baseline: Adam at ``baseline_lr`` for all epochs;
    3. tuned: AdamW at the suggested LR + weight decay + early stopping (best weights restored).
    Same seed (initial weights and batches) for both. Returns {"finder", "runs": {name: {history,
    end, differs, run_dir, model (back on the CPU)}}, "table"}. Emits ``fit`` events tagged with
    ``"run"``, a ``finder`` event, and ``progress`` events (the LR finder, then each run).
    """
    emit = emit or (lambda event: None)
    check_range("epochs", s.epochs, 1, MAX_EPOCHS)
    check_range("weight_decay", s.weight_decay, 0.0, 1.0)
    check_range("patience", s.patience, 1, 50)
    ds = datasets.load(s.dataset)
    split = datasets.split(ds, 0.2, seed=s.seed)
    size = ds.image_shape[0]
    # 1. LR finder
    emit({"kind": "progress", "done": 0, "total": 3, "text": "LR finder"})
    seed_everything(s.seed)
    finder = lr_finder(tune_model(size), split.X_train, split.y_train, 1e-5, 1.0, s.finder_steps,
                       "adam", s.batch_size, s.seed, device=s.device)
    emit({"kind": "finder", "steepest": finder["steepest"], "min_over_10": finder["min_over_10"]})
    tuned_lr = finder["steepest"]
    runs = {}
    plans = {"baseline": ("adam", s.baseline_lr, 0.0, []),
             "tuned": ("adamw", tuned_lr, s.weight_decay, [EarlyStopping("val_loss", patience=s.patience)])}
    for i, (name, (opt_name, lr, wd, callbacks)) in enumerate(plans.items()):
        if stop_event is not None and stop_event.is_set():
            break
        emit({"kind": "progress", "done": i + 1, "total": 3, "text": name})
        seed_everything(s.seed)                                  # same initial weights for both runs
        model = tune_model(size).to(s.device)
        optimizer = make_optimizer(opt_name, model.parameters(), lr, weight_decay=wd)
        run = train_with_tensorboard(logdir, name, model, split, optimizer, s.epochs, s.batch_size, s.seed,
                                     [NaNGuard(), *callbacks], stop_event, emit, device=s.device)
        run["differs"] = {"optimizer": opt_name, "lr": float(lr), "weight_decay": wd,
                          "early_stopping": bool(callbacks)}
        run["model"] = model.cpu().eval()
        runs[name] = run
    table = [{"run": name, **r["differs"], "epochs": len(r["history"]),
              "val_acc": best_val(r)["val_acc"], "val_loss": best_val(r)["val_loss"],
              "seconds": r["end"].get("seconds", float("nan"))} for name, r in runs.items()]
    return {"finder": finder, "runs": runs, "table": table, "logdir": str(logdir), "dataset": s.dataset,
            "image_size": size}


def best_val(run: dict) -> dict:
    """The eval whose weights the run ends with (the best one when early stopping restored it)."""
    if not run["history"]:
        return {"val_acc": float("nan"), "val_loss": float("nan")}
    if run["end"].get("reason") == "early_stop":
        return min(run["history"], key=lambda e: e["val_loss"])
    return run["history"][-1]


@trainer("ch09_tune")
def _check_tune(device: str, preset: str) -> dict:
    import tempfile
    P = PRESETS[preset]
    with tempfile.TemporaryDirectory() as logdir:
        r = tune_digits(TuneSettings(epochs=P["tune_epochs"], finder_steps=max(10, P["finder_steps"]),
                                     device=device), logdir)
    return {f"{row['run']}_val_acc": row["val_acc"] for row in r["table"]}


def score_classifier(model: nn.Module, dataset: str = "digits", seed: int = 0, device: str = "cpu") -> dict:
    """Any digit classifier (input [B, 1, s, s] or [B, s²] floats in [0, 1] → 10 logits) on the
    validation split the tuning runs use: {"val_acc", "val_loss", "seconds"}."""
    ds = datasets.load(dataset)
    split = datasets.split(ds, 0.2, seed=seed)
    started = time.perf_counter()
    model = model.to(device).eval()
    with torch.no_grad():
        metrics = evaluate(model, (split.X_val, split.y_val), nn.functional.cross_entropy, device=device)
    return {"val_acc": metrics["acc"], "val_loss": metrics["loss"], "seconds": time.perf_counter() - started}
