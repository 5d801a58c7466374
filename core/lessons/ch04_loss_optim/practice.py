"""4.4 实战: choose a loss and an optimizer, compare runs on the same MLP and data."""
from __future__ import annotations

import math
import threading
from dataclasses import asdict, dataclass, field
from typing import Callable

import torch
from torch import nn
from torch.nn import functional as F

from core import data as datasets
from core import nets
from core.device import seed_everything
from core.errors import Emit, HeroError, check_range
from core.lessons import trainer
from core.train import Callback, NaNGuard, amp_callbacks, evaluate, fit, make_optimizer

from .limits import MAX_EPOCHS, MAX_LR, PRESETS


# =========================================================================== 4.4 实战: choose loss + optimizer

PRACTICE_LOSSES = ("cross_entropy", "nll", "label_smoothing", "focal", "mse")


def practice_loss(name: str) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    """loss_fn(logits [B, C], labels [B]) -> scalar, for the MLP's raw logits."""
    if name == "cross_entropy":
        return F.cross_entropy
    if name == "nll":
        return lambda out, y: F.nll_loss(F.log_softmax(out, 1), y)  # = cross_entropy, in two steps
    if name == "label_smoothing":
        return lambda out, y: F.cross_entropy(out, y, label_smoothing=0.1)
    if name == "focal":
        def multiclass_focal(out, y, gamma=2.0):
            logp = F.log_softmax(out, 1).gather(1, y[:, None]).squeeze(1)
            return (-(1 - logp.exp()) ** gamma * logp).mean()
        return multiclass_focal
    if name == "mse":   # regression loss on probabilities vs one-hot: works, but learns slower
        return lambda out, y: F.mse_loss(out.softmax(1), F.one_hot(y, out.shape[1]).to(out.dtype))
    raise HeroError("ch04.unknown_loss", name=name, known=", ".join(PRACTICE_LOSSES))


@dataclass
class PracticeRun:
    """One setting of the 实战 comparison."""
    loss: str = "cross_entropy"
    optimizer: str = "adam"
    lr: float = 3e-3
    weight_decay: float = 0.0

    @property
    def name(self) -> str:
        wd = f" wd={self.weight_decay:g}" if self.weight_decay else ""
        return f"{self.loss} + {self.optimizer} lr={self.lr:g}{wd}"


@dataclass
class PracticeResult:
    runs: dict[str, dict] = field(default_factory=dict)   # name → {"settings", "history", "end"}

    def table(self) -> list[dict]:
        """Final accuracy per run, best first, with the settings that produced it."""
        rows = [{"run": name, **r["settings"], "val_acc": r["end"].get("val_acc"),
                 "train_loss": r["end"].get("train_loss"), "end": r["end"].get("reason"),
                 "seconds": r["end"].get("seconds")} for name, r in self.runs.items()]
        return sorted(rows, key=lambda r: -(r["val_acc"] if r["val_acc"] is not None and math.isfinite(r["val_acc"]) else -1))

    def best(self) -> tuple[str, dict] | None:
        """(name, run) of the run with the best final validation accuracy (None before any run)."""
        usable = [(n, r) for n, r in self.runs.items() if r.get("model") is not None
                  and r["end"].get("reason") not in ("nan", "diverged") and r["end"].get("val_acc") is not None]
        return max(usable, key=lambda nr: nr[1]["end"]["val_acc"], default=None)

    def differences(self) -> dict[str, list]:
        """The settings that differ between runs (setting → one value per run)."""
        settings = [r["settings"] for r in self.runs.values()]
        return {k: [s[k] for s in settings] for k in (settings[0] if settings else {})
                if len({str(s[k]) for s in settings}) > 1}


class Divergence(Callback):
    """End a run whose batch loss became NaN/inf or ``factor`` times its starting loss.

    A classifier rarely produces NaN even at lr = 100 (cross-entropy's gradient is bounded);
    it just jumps to huge weights and chance accuracy. The exploding loss is the sign to catch.
    """

    def __init__(self, start_loss: float, factor: float = 10.0):
        self.limit = factor * start_loss

    def on_step_end(self, state):
        if not math.isfinite(state.loss) or state.loss > self.limit:
            state.stop("diverged")


def practice_model(in_features: int, n_classes: int) -> nn.Module:
    """The ch03 MLP: in → 64 → ReLU → 64 → ReLU → classes (logits)."""
    return nets.build("mlp", {"in_features": in_features, "hidden": (64, 64), "out_features": n_classes})


def practice_data(dataset: str = "digits", seed: int = 0) -> datasets.Split:
    """Real 8×8 digits (pixels scaled to [0, 1]) or the 2-D moons toy set."""
    if dataset == "digits":
        ds = datasets.load("digits")
    elif dataset == "moons":
        ds = datasets.load("toy", kind="moons", n=600, noise=0.2, seed=seed)
    else:
        raise HeroError("data.unknown", name=dataset, known="digits, moons")
    split = datasets.split(ds, 0.2, seed=seed)
    scale = max(float(split.X_train.abs().max()), 1.0) if dataset == "digits" else 1.0
    return datasets.Split(split.X_train / scale, split.y_train, split.X_val / scale, split.y_val)


def compare_practice(settings: list[PracticeRun], dataset: str = "digits", epochs: int = 12,
                     batch_size: int = 64, seed: int = 0, stop_event: threading.Event | None = None,
                     emit: Emit | None = None, device: str = "cpu") -> PracticeResult:
    """Train the same MLP (same seed: same initial weights, same batches) once per setting, on ``device``.

    Every event of ``core.train.fit`` is passed to ``emit`` tagged with ``run`` (the setting's
    name). A run whose loss turns NaN ends early (reason "nan"); the others still train.
    Each run keeps its trained model (back on the CPU) under ``"model"``.
    """
    emit = emit or (lambda event: None)
    if not 1 <= len(settings) <= 4:
        raise HeroError("ch04.bad_runs", value=len(settings), low=1, high=4)
    check_range("epochs", epochs, 1, MAX_EPOCHS)
    for s in settings:
        check_range("lr", s.lr, 1e-6, MAX_LR)
        check_range("weight_decay", s.weight_decay, 0.0, 10.0)
    split = practice_data(dataset, seed)
    n_classes = int(split.y_train.max()) + 1
    result = PracticeResult()
    for s in settings:
        if stop_event is not None and stop_event.is_set():
            break
        name = s.name if s.name not in result.runs else f"{s.name} #{len(result.runs) + 1}"
        # 1. same seed → identical initial weights for every setting: only loss/optimizer differ
        seed_everything(seed)
        model = practice_model(split.X_train.shape[1], n_classes).to(device)
        optimizer = make_optimizer(s.optimizer, model.parameters(), s.lr, weight_decay=s.weight_decay)
        run = {"settings": asdict(s), "history": [], "end": {}}
        result.runs[name] = run
        loss_fn = practice_loss(s.loss)
        start_loss = evaluate(model, (split.X_train, split.y_train), loss_fn, device=device)["loss"]
        # 2. the gallery's one training loop, stopping a run whose loss explodes
        for event in fit(model, (split.X_train, split.y_train), (split.X_val, split.y_val), optimizer=optimizer,
                         loss_fn=loss_fn, epochs=epochs, batch_size=batch_size, seed=seed, device=device,
                         callbacks=[*amp_callbacks(device), NaNGuard(), Divergence(start_loss)], stop_event=stop_event):
            if event["kind"] == "eval":
                run["history"].append(event)
            elif event["kind"] == "end":
                run["end"] = event
            emit({**event, "run": name})
        run["model"] = model.cpu().eval()
    return result

@trainer("ch04_practice")
def _check_practice(device: str, preset: str) -> dict:
    result = compare_practice([PracticeRun(), PracticeRun(optimizer="sgd", lr=0.1)],
                              epochs=PRESETS[preset]["practice_epochs"], device=device)
    return {name: r["end"]["val_acc"] for name, r in result.runs.items()}


def practice_main(settings: list[PracticeRun], dataset: str, epochs: int) -> str:
    """The ``__main__`` of the compare-runs take-home script: these runs, then the table."""
    return (f"runs = {settings!r}\ndevice = 'cuda' if torch.cuda.is_available() else 'cpu'\n"
            f"result = compare_practice(runs, {dataset!r}, 1 if TINY else {epochs}, device=device)\n"
            "for row in result.table():\n    print(row)")
