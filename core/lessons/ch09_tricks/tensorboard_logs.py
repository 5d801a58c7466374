"""9.5 TensorBoard: a ``fit`` callback writing real event files, read back with TensorBoard's own reader."""
from __future__ import annotations

import io
import shutil
import threading
import warnings
import zipfile
from pathlib import Path

import numpy as np
import plotly.graph_objects as go
import torch
from torch import nn

from core import data as datasets
from core import nets
from core.device import seed_everything
from core.errors import Emit, check_range
from core.lessons import trainer
from core.lessons.ch09_tricks.lr_finder import digits_split
from core.lessons.ch09_tricks.presets import PRESETS
from core.lessons.ch09_tricks.tb_graph import graph_nodes
from core.train import Callback, amp_callbacks, fit, make_optimizer
from core.viz import PALETTE, style as _layout


class TensorBoardLogger(Callback):
    """Write what ``fit`` sees to TensorBoard: per-step loss/LR, per-eval metrics, and per-epoch
    histograms of every weight and its gradient (the gradients of the epoch's last step)."""

    def __init__(self, writer):
        self.writer = writer
        self.grads: dict[str, torch.Tensor] = {}
        self.logged: list[tuple[str, int, float]] = []    # (tag, step, value) of every scalar written

    def scalar(self, tag: str, value: float, step: int) -> None:
        self.writer.add_scalar(tag, value, step)
        self.logged.append((tag, step, float(value)))

    def after_backward(self, state):
        self.grads = {n: p.grad.detach().clone() for n, p in state.model.named_parameters() if p.grad is not None}

    def on_step_end(self, state):
        self.scalar("train/loss_step", state.loss, state.step)
        self.scalar("train/lr", state.optimizer.param_groups[0]["lr"], state.step)

    def on_eval(self, state, metrics):
        for key in ("train_loss", "val_loss", "train_acc", "val_acc"):
            if key in metrics:
                self.scalar(f"epoch/{key}", metrics[key], state.step)

    def on_epoch_end(self, state):
        for name, p in state.model.named_parameters():
            self.writer.add_histogram(f"weights/{name}", p.detach().float().cpu(), state.epoch)
            if name in self.grads:
                self.writer.add_histogram(f"grads/{name}", self.grads[name].float().cpu(), state.epoch)


def train_with_tensorboard(logdir: str | Path, run_name: str, model: nn.Module, split: datasets.Split,
                           optimizer: torch.optim.Optimizer, epochs: int, batch_size: int = 32, seed: int = 0,
                           callbacks: list[Callback] = (), stop_event: threading.Event | None = None,
                           emit: Emit | None = None, device: str = "cpu") -> dict:
    """``fit`` with a ``SummaryWriter`` attached, writing event files into ``logdir/run_name``.

    Also logs the model graph (``add_graph`` traces one forward pass). Returns the eval
    history, the end event, the run directory and every scalar written (tag, step, value).
    """
    from torch.utils.tensorboard import SummaryWriter
    emit = emit or (lambda event: None)
    run_dir = Path(logdir) / run_name
    writer = SummaryWriter(log_dir=str(run_dir))
    try:
        was_training = model.training
        model.eval()
        with warnings.catch_warnings():   # add_graph traces with torch.jit.trace, deprecated but working
            warnings.simplefilter("ignore", FutureWarning)
            writer.add_graph(model.to(device), split.X_train[:2].to(device))   # 1. the computation graph
        model.train(was_training)
        logger = TensorBoardLogger(writer)                           # 2. scalars + histograms while training
        history, end = [], {}
        for event in fit(model, (split.X_train, split.y_train), (split.X_val, split.y_val), optimizer=optimizer,
                         epochs=epochs, batch_size=batch_size, seed=seed, device=device,
                         callbacks=[*amp_callbacks(device), *callbacks, logger],
                         stop_event=stop_event):
            if event["kind"] == "eval":
                history.append(event)
            elif event["kind"] == "end":
                end = event
            emit({**event, "run": run_name})
    finally:
        writer.close()                                               # 3. flush the event file to disk
    return {"history": history, "end": end, "run_dir": str(run_dir), "logged": logger.logged}


def tensorboard_demo(logdir: str | Path, run_name: str = "mlp", epochs: int = 5, lr: float = 3e-3,
                     seed: int = 0, device: str = "cpu") -> dict:
    """A small MLP on 8×8 digits trained for ``epochs`` with TensorBoard logging (see above)."""
    check_range("epochs", epochs, 1, 50)
    seed_everything(seed)
    model = nets.build("mlp", {"in_features": 64, "hidden": (64, 32), "out_features": 10})
    split = digits_split(seed)
    return train_with_tensorboard(logdir, run_name, model, split, make_optimizer("adam", model.parameters(), lr),
                                  epochs, seed=seed, device=device)


@trainer("ch09_tensorboard")
def _check_tensorboard(device: str, preset: str) -> dict:
    import tempfile
    with tempfile.TemporaryDirectory() as logdir:
        r = tensorboard_demo(logdir, epochs=PRESETS[preset]["tb_epochs"], device=device)
        return {"val_acc": r["end"]["val_acc"], "scalars": len(r["logged"])}


def read_events(run_dir: str | Path) -> dict:
    """Read a run's event files back with TensorBoard's own ``EventAccumulator``.

    Returns {"scalars": {tag: {"steps", "values"}}, "histograms": {tag: [{"step", "limits",
    "counts", "min", "max"}]}, "graph": bool, "graph_nodes": [``graph_nodes`` of the GraphDef
    ``add_graph`` wrote], "files": [event file names]}.
    """
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    acc = EventAccumulator(str(run_dir), size_guidance={"scalars": 0, "histograms": 0})   # 0 = keep everything
    acc.Reload()
    tags = acc.Tags()
    scalars = {tag: {"steps": [e.step for e in acc.Scalars(tag)], "values": [e.value for e in acc.Scalars(tag)]}
               for tag in tags["scalars"]}
    histograms = {tag: [{"step": e.step, "limits": list(e.histogram_value.bucket_limit),
                         "counts": list(e.histogram_value.bucket), "min": e.histogram_value.min,
                         "max": e.histogram_value.max} for e in acc.Histograms(tag)]
                  for tag in tags["histograms"]}
    has_graph = bool(tags.get("graph"))
    return {"scalars": scalars, "histograms": histograms, "graph": has_graph,
            "graph_nodes": graph_nodes(acc.Graph()) if has_graph else [],
            "files": sorted(p.name for p in Path(run_dir).glob("events.out.tfevents.*"))}


def read_logdir(logdir: str | Path) -> dict[str, dict]:
    """What ``tensorboard --logdir logdir`` finds: every run folder below ``logdir`` (TensorBoard's
    ``EventMultiplexer``) → ``read_events`` of it. Keys are run names relative to ``logdir``."""
    from tensorboard.backend.event_processing.event_multiplexer import EventMultiplexer
    runs = EventMultiplexer().AddRunsFromDirectory(str(logdir)).Runs()
    return {run: read_events(Path(logdir) / run) for run in sorted(runs)}


def tensorboard_command(folder: str) -> str:
    """The command that opens an unzipped ``zip_logdir(..., folder)`` archive."""
    return f"tensorboard --logdir {folder}"


def zip_logdir(logdir: str | Path, folder: str = "") -> bytes:
    """Every file under ``logdir`` as a zip, below ``folder/`` when given (so that unzipping it
    makes the folder ``tensorboard_command(folder)`` opens), for download."""
    logdir = Path(logdir)
    prefix = f"{folder.strip('/')}/" if folder else ""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(logdir.rglob("*")):
            if path.is_file():
                zf.write(path, prefix + path.relative_to(logdir).as_posix())
    return buffer.getvalue()


def prune_runs(logdir: str | Path, keep: int = 4) -> None:
    """Keep a visitor's temp dir bounded: delete all but the ``keep`` newest run folders."""
    runs = sorted((p for p in Path(logdir).iterdir() if p.is_dir()), key=lambda p: p.stat().st_mtime)
    for old in runs[:-keep] if keep > 0 else runs:
        shutil.rmtree(old, ignore_errors=True)


def scalars_figure(scalars: dict, tags: list[str], title: str = "") -> go.Figure:
    fig = go.Figure()
    for i, tag in enumerate(tags):
        if tag in scalars:
            fig.add_trace(go.Scatter(x=scalars[tag]["steps"], y=scalars[tag]["values"], mode="lines+markers"
                                     if len(scalars[tag]["steps"]) < 30 else "lines", name=tag,
                                     line=dict(color=PALETTE[i % len(PALETTE)])))
    return _layout(fig, title, xaxis=dict(title="step"))


def histogram_figure(events: list[dict], title: str = "") -> go.Figure:
    """TensorBoard-style histogram view: one outline per epoch, later epochs darker."""
    fig = go.Figure()
    for i, h in enumerate(events):
        limits = np.asarray(h["limits"], float)
        lower = np.r_[h["min"], limits[:-1]]
        centres = (lower + np.minimum(limits, h["max"])) / 2
        shade = 0.25 + 0.75 * (i + 1) / len(events)
        fig.add_trace(go.Scatter(x=centres, y=h["counts"], mode="lines", name=f"epoch {h['step']}",
                                 line=dict(color=f"rgba(238,76,44,{shade:.2f})")))
    return _layout(fig, title, xaxis=dict(title="value"), yaxis=dict(title="count"))
