"""The one training loop of the gallery, written as a generator of metric dicts.

    for event in fit(model, (X_train, y_train), (X_val, y_val), optimizer=opt, epochs=5):
        ...  # draw a curve, update a progress bar, or ignore

Every chapter trains through ``fit``. It knows nothing about Streamlit or Gradio: the caller
decides what to do with each event, and extras (clipping, schedulers, early stopping, NaN
detection, logging) attach as callbacks. Events:

- ``{"kind": "step", "step", "epoch", "loss", "lr", "total_steps", "epochs"}`` after every
  optimiser step (``total_steps`` lets a progress bar say how far along the run is);
- ``{"kind": "eval", "step", "epoch", "train_loss", "val_loss", "val_acc", ...}`` after
  each evaluation (every ``eval_every`` steps, and at the end of each epoch);
- ``{"kind": "end", "reason", "step", "epoch", "seconds"}`` once, last. ``reason`` is
  ``completed``, ``stopped`` (the stop event was set), ``max_steps``, ``early_stop`` or ``nan``.
"""
from __future__ import annotations

import contextlib
import math
import threading
import time
from dataclasses import dataclass, field
from typing import Callable, Iterable, Iterator

import torch
from torch import nn
from torch.utils.data import DataLoader

TensorPair = tuple[torch.Tensor, torch.Tensor]

OPTIMIZERS = ("sgd", "momentum", "nesterov", "rmsprop", "adam", "adamw")


def make_optimizer(name: str, params: Iterable, lr: float, weight_decay: float = 0.0,
                   momentum: float = 0.9) -> torch.optim.Optimizer:
    """Optimiser by name; ``momentum``/``nesterov`` are SGD variants, as in the book's 4.2."""
    params = list(params)
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr, weight_decay=weight_decay)
    if name == "momentum":
        return torch.optim.SGD(params, lr=lr, momentum=momentum, weight_decay=weight_decay)
    if name == "nesterov":
        return torch.optim.SGD(params, lr=lr, momentum=momentum, nesterov=True, weight_decay=weight_decay)
    if name == "rmsprop":
        return torch.optim.RMSprop(params, lr=lr, weight_decay=weight_decay)
    if name == "adam":
        return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)
    if name == "adamw":
        return torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)
    raise ValueError(f"unknown optimizer {name!r}; choose from {OPTIMIZERS}")


@dataclass
class TrainState:
    """What callbacks can read and change while ``fit`` runs."""
    model: nn.Module
    optimizer: torch.optim.Optimizer
    step: int = 0
    epoch: int = 0
    loss: float = float("nan")                       # loss of the latest batch
    step_metrics: dict = field(default_factory=dict)  # extra numbers for this step's event
    last_eval: dict = field(default_factory=dict)
    stop_reason: str | None = None                    # set by a callback to end the run

    def stop(self, reason: str) -> None:
        self.stop_reason = self.stop_reason or reason


class Callback:
    """Hooks into ``fit``; override what you need. Set ``state.stop(reason)`` to end the run."""

    def on_train_start(self, state: TrainState) -> None: ...
    def after_backward(self, state: TrainState) -> None: ...   # gradients exist, step not taken
    def on_step_end(self, state: TrainState) -> None: ...
    def on_eval(self, state: TrainState, metrics: dict) -> None: ...
    def on_epoch_end(self, state: TrainState) -> None: ...

    def forward_context(self, state: TrainState):
        """A context manager wrapped around forward + loss (``torch.autocast``), or None."""
        return None


class Autocast(Callback):
    """Mixed precision: forward and loss under ``torch.autocast(device_type, dtype)``.

    bf16 needs no loss scaling (same exponent range as fp32), so this is all AMP takes on
    GPUs that support it; :func:`amp_callbacks` picks it for the detected device.
    """

    def __init__(self, device_type: str, dtype: torch.dtype = torch.bfloat16):
        self.device_type, self.dtype = device_type, dtype

    def forward_context(self, state):
        return torch.autocast(device_type=self.device_type, dtype=self.dtype)


def amp_callbacks(device: torch.device | str) -> list[Callback]:
    """``[Autocast(...)]`` where bf16 autocast pays off (CUDA with bf16), else ``[]``.

    CPU stays in fp32: bf16 on CPUs without AMX is slower, not faster. fp16 (older GPUs, MPS)
    would need a GradScaler, so those stay in fp32 too.
    """
    kind = torch.device(device).type
    if kind == "cuda" and torch.cuda.is_available() and torch.cuda.is_bf16_supported():
        return [Autocast("cuda", torch.bfloat16)]
    return []


class GradClip(Callback):
    """Clip the global gradient norm to ``max_norm``; records the norm before clipping."""

    def __init__(self, max_norm: float):
        self.max_norm = max_norm

    def after_backward(self, state: TrainState) -> None:
        norm = torch.nn.utils.clip_grad_norm_(state.model.parameters(), self.max_norm)
        state.step_metrics["grad_norm"] = float(norm)


class GradNorm(Callback):
    """Record the global gradient norm without changing it (for plots)."""

    def after_backward(self, state: TrainState) -> None:
        norms = [p.grad.detach().norm() for p in state.model.parameters() if p.grad is not None]
        state.step_metrics["grad_norm"] = float(torch.linalg.vector_norm(torch.stack(norms))) if norms else 0.0


class LRScheduler(Callback):
    """Advance a ``torch.optim.lr_scheduler`` every step or epoch.

    ``ReduceLROnPlateau`` is stepped after each evaluation with the ``monitor`` metric.
    """

    def __init__(self, scheduler, interval: str = "epoch", monitor: str = "val_loss"):
        self.scheduler, self.interval, self.monitor = scheduler, interval, monitor
        self.on_plateau = isinstance(scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau)

    def on_step_end(self, state):
        if self.interval == "step" and not self.on_plateau:
            self.scheduler.step()

    def on_epoch_end(self, state):
        if self.interval == "epoch" and not self.on_plateau:
            self.scheduler.step()

    def on_eval(self, state, metrics):
        if self.on_plateau and self.monitor in metrics:
            self.scheduler.step(metrics[self.monitor])


class EarlyStopping(Callback):
    """Stop when ``monitor`` has not improved by ``min_delta`` for ``patience`` evaluations,
    and put the best weights back into the model."""

    def __init__(self, monitor: str = "val_loss", patience: int = 3, mode: str = "min",
                 min_delta: float = 0.0, restore_best: bool = True):
        self.monitor, self.patience, self.mode = monitor, patience, mode
        self.min_delta, self.restore_best = min_delta, restore_best
        self.best = math.inf if mode == "min" else -math.inf
        self.best_state: dict | None = None
        self.bad_evals = 0

    def _improved(self, value: float) -> bool:
        if self.mode == "min":
            return value < self.best - self.min_delta
        return value > self.best + self.min_delta

    def on_eval(self, state, metrics):
        value = metrics.get(self.monitor)
        if value is None:
            return
        if self._improved(value):
            self.best, self.bad_evals = value, 0
            if self.restore_best:
                self.best_state = {k: v.detach().clone() for k, v in state.model.state_dict().items()}
        else:
            self.bad_evals += 1
            if self.bad_evals >= self.patience:
                if self.best_state is not None:
                    state.model.load_state_dict(self.best_state)
                state.stop("early_stop")


class NaNGuard(Callback):
    """End the run as soon as the loss stops being a finite number (LR too high, bad data)."""

    def on_step_end(self, state):
        if not math.isfinite(state.loss):
            state.stop("nan")


class History(Callback):
    """Keep every evaluation's metrics in a list (``fit``'s events carry them too)."""

    def __init__(self):
        self.evals: list[dict] = []

    def on_eval(self, state, metrics):
        self.evals.append(dict(metrics))


@torch.no_grad()
def evaluate(model: nn.Module, data: TensorPair | DataLoader, loss_fn: Callable,
             batch_size: int = 1024, device: torch.device | str = "cpu") -> dict:
    """Mean loss and accuracy of ``model`` over ``data``, in eval mode (restores the mode after)."""
    was_training = model.training
    model.eval()
    total_loss, correct, count, classifying = 0.0, 0, 0, False
    for xb, yb in _batches(data, batch_size, shuffle=False, generator=None):
        xb, yb = xb.to(device), yb.to(device)
        out = model(xb)
        total_loss += float(loss_fn(out, yb)) * len(yb)
        classifying = out.ndim == 2 and yb.dtype == torch.long  # logits [B, C] vs class ids [B]
        if classifying:
            correct += int((out.argmax(1) == yb).sum())
        count += len(yb)
    model.train(was_training)
    metrics = {"loss": total_loss / max(count, 1)}
    if classifying:
        metrics["acc"] = correct / max(count, 1)
    return metrics


def _batches(data: TensorPair | DataLoader, batch_size: int, shuffle: bool,
             generator: torch.Generator | None) -> Iterator[TensorPair]:
    """Yield (x, y) batches from a DataLoader, or by slicing in-memory tensors (much faster
    than a DataLoader for small tensors: no per-sample indexing or collation)."""
    if isinstance(data, DataLoader):
        yield from data
        return
    X, y = data
    n = len(y)
    order = torch.randperm(n, generator=generator) if shuffle else None
    for start in range(0, n, batch_size):
        if order is None:
            yield X[start:start + batch_size], y[start:start + batch_size]
        else:
            idx = order[start:start + batch_size]
            yield X[idx], y[idx]


def _total_steps(train, batch_size: int, epochs: int, max_steps: int | None) -> int | None:
    """Optimiser steps the run will take, or None when unknown (a streaming DataLoader)."""
    try:
        per_epoch = len(train) if isinstance(train, DataLoader) else math.ceil(len(train[1]) / batch_size)
    except TypeError:   # an IterableDataset has no length
        return max_steps
    return epochs * per_epoch if max_steps is None else min(max_steps, epochs * per_epoch)


def fit(model: nn.Module, train: TensorPair | DataLoader, val: TensorPair | DataLoader | None = None, *,
        optimizer: torch.optim.Optimizer, loss_fn: Callable = nn.functional.cross_entropy,
        epochs: int = 1, batch_size: int = 32, device: torch.device | str = "cpu", seed: int = 0,
        callbacks: Iterable[Callback] = (), stop_event: threading.Event | None = None,
        eval_every: int | None = None, max_steps: int | None = None) -> Iterator[dict]:
    """Train ``model`` in place, yielding metric events (see the module docstring).

    train/val: (X [N, ...], y [N]) tensors, or DataLoaders yielding such batches.
    The shuffle order depends only on ``seed``, so two runs with the same seed and
    settings produce the same curve (the basis of every "compare runs" demo).
    """
    callbacks = list(callbacks)
    state = TrainState(model=model, optimizer=optimizer)
    # Only callbacks that override these hooks are called per step (the loop stays within a few
    # per cent of a hand-written one: bench/bench_ch05.py).
    on_backward = [cb for cb in callbacks if type(cb).after_backward is not Callback.after_backward]
    on_step = [cb for cb in callbacks if type(cb).on_step_end is not Callback.on_step_end]
    contexts = [cb for cb in callbacks if type(cb).forward_context is not Callback.forward_context]
    total_steps = _total_steps(train, batch_size, epochs, max_steps)
    shuffle_gen = torch.Generator().manual_seed(seed)
    model.to(device).train()
    started = time.perf_counter()
    for cb in callbacks:
        cb.on_train_start(state)

    def run_eval() -> dict:
        metrics = {"kind": "eval", "step": state.step, "epoch": state.epoch}
        train_metrics = evaluate(model, train, loss_fn, device=device) if not isinstance(train, DataLoader) else {}
        metrics.update({f"train_{k}": v for k, v in train_metrics.items()})
        if val is not None:
            metrics.update({f"val_{k}": v for k, v in evaluate(model, val, loss_fn, device=device).items()})
        state.last_eval = metrics
        for cb in callbacks:
            cb.on_eval(state, metrics)
        return metrics

    def end(reason: str) -> dict:
        return {"kind": "end", "reason": reason, "step": state.step, "epoch": state.epoch,
                "seconds": time.perf_counter() - started, **{k: v for k, v in state.last_eval.items()
                                                             if k not in ("kind", "step", "epoch")}}

    for epoch in range(epochs):
        state.epoch = epoch
        for xb, yb in _batches(train, batch_size, shuffle=True, generator=shuffle_gen):
            if stop_event is not None and stop_event.is_set():
                yield end("stopped")
                return
            xb, yb = xb.to(device, non_blocking=True), yb.to(device, non_blocking=True)
            # 1. forward  2. loss  3. clear old gradients  4. backward  5. update
            if contexts:
                with contextlib.ExitStack() as stack:
                    for cb in contexts:
                        stack.enter_context(cb.forward_context(state))
                    loss = loss_fn(model(xb), yb)
            else:
                loss = loss_fn(model(xb), yb)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            state.step_metrics = {}
            for cb in on_backward:
                cb.after_backward(state)
            optimizer.step()
            state.step += 1
            state.loss = loss.item()
            for cb in on_step:
                cb.on_step_end(state)
            yield {"kind": "step", "step": state.step, "epoch": epoch, "loss": state.loss,
                   "lr": optimizer.param_groups[0]["lr"], "total_steps": total_steps, "epochs": epochs,
                   **state.step_metrics}
            if state.stop_reason:
                yield end(state.stop_reason)
                return
            if eval_every and state.step % eval_every == 0:
                yield run_eval()
                if state.stop_reason:
                    yield end(state.stop_reason)
                    return
            if max_steps is not None and state.step >= max_steps:
                if not (eval_every and state.step % eval_every == 0):
                    yield run_eval()
                yield end("max_steps")
                return
        for cb in callbacks:
            cb.on_epoch_end(state)
        if not (eval_every and state.step % eval_every == 0):
            yield run_eval()
        if state.stop_reason:
            yield end(state.stop_reason)
            return
    yield end("completed")


def record(events: Iterator[dict], emit: Callable[[dict], None] | None = None) -> tuple[list[dict], dict]:
    """Drain a ``fit`` generator, passing every event to ``emit`` (a live chart, a progress bar);
    return (the eval events in order, the final end event)."""
    history: list[dict] = []
    end: dict = {}
    for event in events:
        if event["kind"] == "eval":
            history.append(event)
        elif event["kind"] == "end":
            end = event
        if emit is not None:
            emit(event)
    return history, end


def finished_ok(end: dict, history: list | None = None) -> bool:
    """Whether a run left a usable model: it ended (completed, stopped by the learner, early stop…)
    with anything but a NaN loss — and, when ``history`` is given, evaluated at least once."""
    return bool(end) and end.get("reason") != "nan" and (history is None or bool(history))


def run_to_end(events: Iterator[dict]) -> dict:
    """Drain a ``fit`` generator and return its final ``end`` event (for scripts and tests)."""
    last: dict = {}
    for last in events:
        pass
    return last
