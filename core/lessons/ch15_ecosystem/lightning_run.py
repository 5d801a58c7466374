"""15.1 The ch05 digits CNN as a ``pytorch_lightning.LightningModule``, trained by ``pl.Trainer``
beside the gallery's own loop (``core.train.fit``): same seed, same initial weights, the same
batches in the same order, so the two curves can be laid on top of each other.

What moves into Lightning: the loop (forward → loss → zero_grad → backward → step), device
placement, mixed precision, validation scheduling and logging. What stays yours: the model,
``training_step`` (the loss), ``configure_optimizers``. Progress leaves the Trainer through a
``pl.Callback`` that turns Lightning's hooks into the gallery's step/eval events.
"""
from __future__ import annotations

import csv
import functools
import logging
import math
import os
import tempfile
import threading
import time
import warnings
from dataclasses import asdict, dataclass, field

import torch
from torch import nn
from torch.nn import functional as F
from torch.utils.data import DataLoader, Dataset, Sampler

from core import data as datasets
from core import nets
from core.device import seed_everything
from core.errors import Emit
from core.lessons import trainer
from core.lessons.ch15_ecosystem import PRESETS
from core.train import NaNGuard, amp_callbacks, finished_ok, fit, record


@dataclass
class LitSettings:
    epochs: int = 10
    lr: float = 3e-3
    batch_size: int = 32
    channels: int = 16            # filters of the CNN's first conv (Optuna tunes it in 15.3)
    dropout: float = 0.1
    seed: int = 0                 # one seed for the weights and the batch order of both loops
    val_fraction: float = 0.2
    device: str = "cpu"           # "cuda", "mps" or "cpu": the Trainer's accelerator follows it


@dataclass
class LitResult:
    """One finished (or stopped) run of either loop."""
    model: nn.Module
    settings: dict
    framework: str                                      # "plain" (core.train.fit) or "lightning"
    history: list[dict] = field(default_factory=list)   # eval events: epoch, val_loss, val_acc, train_loss
    end: dict = field(default_factory=dict)
    logged: list[dict] = field(default_factory=list)    # Lightning only: the rows its CSVLogger wrote

    @property
    def ok(self) -> bool:
        return finished_ok(self.end, self.history)


def digits_split(s: LitSettings) -> datasets.Split:
    """sklearn's 1,797 real 8×8 digits, the ch05 stratified split: X [N, 64] in [0, 1], y [N]."""
    return datasets.split(datasets.load("digits"), s.val_fraction, seed=s.seed)


def build_cnn(s: LitSettings) -> nn.Module:
    """The ch05 small CNN (x [B, 64] → logits [B, 10]), built right after seeding."""
    return nets.build("small_cnn", {"image_size": 8, "channels": s.channels, "n_classes": 10, "dropout": s.dropout})


class TensorBatches(Dataset):
    """(X, y) tensors indexed a whole batch at a time (``__getitems__``): no per-sample collation."""

    def __init__(self, X: torch.Tensor, y: torch.Tensor):
        self.X, self.y = X, y

    def __len__(self) -> int:
        return len(self.y)

    def __getitem__(self, i):
        return self.X[i], self.y[i]

    def __getitems__(self, idx):
        idx = torch.as_tensor(idx)
        return self.X[idx], self.y[idx]


class FitOrder(Sampler):
    """The batches ``core.train.fit`` draws: one ``torch.randperm`` per epoch from a generator seeded
    once, cut into ``batch_size`` slices — so Lightning sees exactly the same batches."""

    def __init__(self, n: int, batch_size: int, seed: int):
        self.n, self.batch_size = n, batch_size
        self.gen = torch.Generator().manual_seed(seed)

    def __len__(self) -> int:
        return math.ceil(self.n / self.batch_size)

    def __iter__(self):
        order = torch.randperm(self.n, generator=self.gen)
        for start in range(0, self.n, self.batch_size):
            yield order[start:start + self.batch_size].tolist()


def keep_batch(batch):
    """collate_fn: ``TensorBatches.__getitems__`` already returns the stacked (x [B, 64], y [B])."""
    return batch


@functools.cache
def lit_digits_class():
    """The LightningModule class (built on first use, so importing this file does not load Lightning)."""
    import pytorch_lightning as pl

    class LitDigits(pl.LightningModule):
        """Any classifier x → logits [B, C]; the Trainer owns the loop, this class owns the loss."""

        def __init__(self, model: nn.Module, lr: float):
            super().__init__()
            self.model, self.lr = model, lr
            self.val_metrics: dict = {}
            self._val_sums = torch.zeros(3)     # loss sum, correct, count over one validation pass
            self._train_sums = torch.zeros(2)   # loss sum, batches over one epoch

        def forward(self, x):
            return self.model(x)

        def training_step(self, batch, batch_idx):
            x, y = batch
            loss = F.cross_entropy(self.model(x), y)
            self.log("train_loss", loss, on_step=False, on_epoch=True, batch_size=len(y))   # → the logger
            self._train_sums += torch.tensor([float(loss.detach()), 1.0])
            return loss   # Lightning calls zero_grad, backward and step around this

        def validation_step(self, batch, batch_idx):
            x, y = batch
            logits = self.model(x).float()
            loss = F.cross_entropy(logits, y, reduction="sum")
            self._val_sums += torch.tensor([float(loss), float((logits.argmax(1) == y).sum()), len(y)])

        def on_validation_epoch_end(self):
            loss, correct, count = self._val_sums.tolist()
            train_loss, batches = self._train_sums.tolist()
            self.val_metrics = {"val_loss": loss / max(count, 1), "val_acc": correct / max(count, 1),
                                "train_loss": train_loss / batches if batches else float("nan")}
            self.log_dict({k: v for k, v in self.val_metrics.items() if k != "train_loss"})
            self._val_sums.zero_()
            self._train_sums.zero_()

        def configure_optimizers(self):
            return torch.optim.Adam(self.parameters(), lr=self.lr)

    return LitDigits


def stream_callback(stop_event: threading.Event | None, emit: Emit, total_steps: int, epochs: int):
    """A ``pl.Callback`` that emits the gallery's step/eval events and stops when asked."""
    import pytorch_lightning as pl

    class StreamEvents(pl.Callback):
        def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
            emit({"kind": "step", "step": trainer.global_step, "epoch": trainer.current_epoch,
                  "loss": float(outputs["loss"]), "lr": trainer.optimizers[0].param_groups[0]["lr"],
                  "total_steps": total_steps, "epochs": epochs})
            if stop_event is not None and stop_event.is_set():
                trainer.should_stop = True     # Lightning validates once more, then leaves fit()

        def on_validation_end(self, trainer, pl_module):   # after the module's epoch-end hook
            emit({"kind": "eval", "step": trainer.global_step, "epoch": trainer.current_epoch,
                  **pl_module.val_metrics})

    return StreamEvents()


def lightning_accelerator(device: str) -> tuple[str, str]:
    """(accelerator, precision) for ``pl.Trainer`` on this device: bf16-mixed exactly where the
    plain loop uses bf16 autocast (``core.train.amp_callbacks``)."""
    kind = torch.device(device).type
    accelerator = {"cuda": "gpu", "mps": "mps"}.get(kind, "cpu")
    return accelerator, "bf16-mixed" if amp_callbacks(device) else "32-true"


def train_lightning(s: LitSettings, stop_event: threading.Event | None = None, emit: Emit | None = None,
                    split: datasets.Split | None = None, callbacks: tuple = ()) -> LitResult:
    """Train the CNN with ``pl.Trainer`` on ``s.device``; events go to ``emit``; ``callbacks`` are
    more ``pl.Callback``s (15.3's Optuna pruning). Model back on the CPU."""
    import pytorch_lightning as pl
    emit = emit or (lambda event: None)
    split = split or digits_split(s)
    seed_everything(s.seed)
    model = build_cnn(s)
    module = lit_digits_class()(model, s.lr)
    train = DataLoader(TensorBatches(split.X_train, split.y_train),
                       batch_sampler=FitOrder(len(split.y_train), s.batch_size, s.seed), collate_fn=keep_batch)
    val = DataLoader(TensorBatches(split.X_val, split.y_val), batch_size=1024, collate_fn=keep_batch)
    total = s.epochs * len(train.batch_sampler)
    accelerator, precision = lightning_accelerator(s.device)
    logging.getLogger("pytorch_lightning").setLevel(logging.WARNING)   # no "GPU available: …" banner
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as logs, warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*(num_workers|does not have many workers|LeafSpec).*")
        from pytorch_lightning.loggers import CSVLogger
        logger = CSVLogger(logs, name="ch15")                      # a temp dir: nothing left behind
        run = pl.Trainer(max_epochs=s.epochs, accelerator=accelerator, devices=1, precision=precision,
                         logger=logger, enable_checkpointing=False, enable_progress_bar=False,
                         enable_model_summary=False, num_sanity_val_steps=0, use_distributed_sampler=False,
                         log_every_n_steps=1,
                         callbacks=[stream_callback(stop_event, emit, total, s.epochs), *callbacks])
        run.fit(module, train, val)
        logger.finalize("success")
        path = os.path.join(logger.log_dir, "metrics.csv")
        logged = list(csv.DictReader(open(path, encoding="utf-8"))) if os.path.exists(path) else []
    stopped = stop_event is not None and stop_event.is_set()
    history = [{"kind": "eval", "epoch": int(float(r["epoch"])), "step": int(float(r["step"])),
                "val_loss": float(r["val_loss"]), "val_acc": float(r["val_acc"])}
               for r in logged if r.get("val_loss")]
    end = {"kind": "end", "reason": "stopped" if stopped else "completed", "step": run.global_step,
           "epoch": min(run.current_epoch, s.epochs - 1), "seconds": time.perf_counter() - started, **module.val_metrics}
    emit(end)
    return LitResult(model.cpu().eval(), asdict(s), "lightning", history, end, logged)


def train_plain(s: LitSettings, stop_event: threading.Event | None = None, emit: Emit | None = None,
                split: datasets.Split | None = None) -> LitResult:
    """The same run through the gallery's own loop, ``core.train.fit`` (ch05). Model back on the CPU."""
    split = split or digits_split(s)
    seed_everything(s.seed)
    model = build_cnn(s)
    device = torch.device(s.device)
    optimizer = torch.optim.Adam(model.parameters(), lr=s.lr)
    history, end = record(fit(model, (split.X_train, split.y_train), (split.X_val, split.y_val),
                              optimizer=optimizer, epochs=s.epochs, batch_size=s.batch_size, seed=s.seed,
                              device=device, callbacks=[*amp_callbacks(device), NaNGuard()],
                              stop_event=stop_event), emit)
    return LitResult(model.cpu().eval(), asdict(s), "plain", history, end)


def compare_loops(s: LitSettings, stop_event: threading.Event | None = None, emit: Emit | None = None) -> dict:
    """Both loops, one after the other, on the same split: {"plain": LitResult, "lightning": LitResult}.

    Events carry ``run`` ("plain" / "lightning"); steps count on across both runs so one progress
    bar covers the whole job.
    """
    emit = emit or (lambda event: None)
    split = digits_split(s)
    per_run = s.epochs * math.ceil(len(split.y_train) / s.batch_size)
    out: dict = {}
    for i, (name, train) in enumerate((("plain", train_plain), ("lightning", train_lightning))):
        def tagged(event, name=name, offset=i * per_run):
            if event["kind"] == "step":
                event = {**event, "step": event["step"] + offset, "total_steps": 2 * per_run}
            emit({**event, "run": name})
        out[name] = train(s, stop_event, tagged, split=split)
        if stop_event is not None and stop_event.is_set():
            break
    return out


@trainer("ch15_lightning")
def _check_lightning(device: str, preset: str) -> dict:
    r = train_lightning(LitSettings(epochs=PRESETS[preset]["lit_epochs"], device=device))
    return {"val_acc": r.end["val_acc"]}
