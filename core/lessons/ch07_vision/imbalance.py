"""7.4 Small data and class imbalance: plain vs class-weighted loss vs resampling, per-class recall."""
from __future__ import annotations

import threading
from dataclasses import asdict, dataclass

import numpy as np
import plotly.graph_objects as go
import torch
from torch.nn import functional as F

from core import data as datasets
from core import nets
from core.device import seed_everything
from core.errors import Emit, HeroError
from core.lessons.ch05_training import confusion
from core.lessons import trainer
from core.lessons.ch07_vision.presets import PRESETS
from core.train import NaNGuard, amp_callbacks, fit, make_optimizer
from core.viz import LAYOUT, PALETTE


STRATEGIES = ("plain", "weighted", "resample")
MINORITY = (5, 6, 7, 8, 9)   # the digits made rare


def imbalanced_digits(minority_fraction: float, seed: int = 0) -> tuple[datasets.Split, np.ndarray]:
    """sklearn's 8×8 digits with the training images of digits 5–9 cut to ``minority_fraction``
    (at least 2 each); validation stays balanced so per-class recall is fair. Returns (split, counts [10])."""
    if not 0.01 <= minority_fraction <= 1.0:
        raise HeroError("ch07.bad_fraction", value=minority_fraction)
    split = datasets.split(datasets.load("digits"), 0.3, seed=seed)
    rng = np.random.default_rng(seed)
    y = split.y_train.numpy()
    keep = []
    for c in range(10):
        idx = np.flatnonzero(y == c)
        if c in MINORITY:
            idx = rng.choice(idx, max(2, int(round(len(idx) * minority_fraction))), replace=False)
        keep.append(idx)
    keep = torch.from_numpy(np.sort(np.concatenate(keep)))
    counts = np.bincount(y[keep.numpy()], minlength=10)
    return datasets.Split(split.X_train[keep], split.y_train[keep], split.X_val, split.y_val), counts


def class_weights(counts: np.ndarray) -> torch.Tensor:
    """Loss weight per class, N / (C · n_c): a rare class's mistakes cost proportionally more."""
    counts = np.maximum(np.asarray(counts, dtype=np.float64), 1)
    return torch.tensor(counts.sum() / (len(counts) * counts), dtype=torch.float32)


def resampling_loader(X: torch.Tensor, y: torch.Tensor, batch_size: int, seed: int = 0) -> torch.utils.data.DataLoader:
    """Batches drawn with ``WeightedRandomSampler`` (weight 1/n_c per sample): classes appear equally often."""
    counts = torch.bincount(y, minlength=int(y.max()) + 1).clamp(min=1).float()
    sampler = torch.utils.data.WeightedRandomSampler(1.0 / counts[y], num_samples=len(y), replacement=True,
                                                     generator=torch.Generator().manual_seed(seed))
    return torch.utils.data.DataLoader(torch.utils.data.TensorDataset(X, y), batch_size=batch_size, sampler=sampler)


@dataclass
class ImbalanceSettings:
    minority_fraction: float = 0.05   # share of digits 5–9 kept for training
    epochs: int = 25
    lr: float = 3e-3
    batch_size: int = 32
    seed: int = 0
    device: str = "cpu"               # where the models and batches live ("cuda", "mps", "cpu")


def train_imbalance(s: ImbalanceSettings, stop_event: threading.Event | None = None,
                    emit: Emit | None = None) -> dict:
    """Train the same MLP three ways (plain CE, class-weighted CE, resampling) on the same seed.

    Returns {"counts" [10], "recall": {strategy: [10]}, "accuracy": {...}, "histories": {...}}.
    """
    emit = emit or (lambda event: None)
    split, counts = imbalanced_digits(s.minority_fraction, s.seed)
    out = {"counts": counts, "recall": {}, "accuracy": {}, "histories": {}, "settings": asdict(s)}
    for strategy in STRATEGIES:
        seed_everything(s.seed)
        model = nets.build("mlp", {"in_features": 64, "hidden": (64,), "out_features": 10}).to(s.device)
        loss_fn = F.cross_entropy
        train: object = (split.X_train, split.y_train)
        if strategy == "weighted":
            w = class_weights(counts).to(s.device)
            loss_fn = lambda logits, target, w=w: F.cross_entropy(logits, target, weight=w)  # noqa: E731
        elif strategy == "resample":
            train = resampling_loader(split.X_train, split.y_train, s.batch_size, s.seed)
        opt = make_optimizer("adam", model.parameters(), s.lr)
        out["histories"][strategy] = []
        for event in fit(model, train, (split.X_val, split.y_val), optimizer=opt, loss_fn=loss_fn, epochs=s.epochs,
                         batch_size=s.batch_size, seed=s.seed, device=s.device,
                         callbacks=[*amp_callbacks(s.device), NaNGuard()], stop_event=stop_event):
            if event["kind"] == "eval":
                out["histories"][strategy].append(event)
            emit({**event, "run": strategy})
        conf = confusion(model.cpu(), split.X_val, split.y_val, 10)   # counted on the CPU
        out["recall"][strategy], out["accuracy"][strategy] = conf["recall"], conf["accuracy"]
        if stop_event is not None and stop_event.is_set():
            break
    return out


@trainer("ch07_imbalance")
def _check_imbalance(device: str, preset: str) -> dict:
    r = train_imbalance(ImbalanceSettings(epochs=PRESETS[preset]["imb_epochs"], device=device))
    return {f"{k}_accuracy": v for k, v in r["accuracy"].items()}


def recall_bars(recall: dict[str, np.ndarray], names: dict[str, str], title: str = "") -> go.Figure:
    """Grouped bars: per-class recall [10] for each strategy; the rare digits are shaded."""
    fig = go.Figure([go.Bar(x=[str(c) for c in range(10)], y=r, name=names.get(k, k),
                            marker_color=PALETTE[i]) for i, (k, r) in enumerate(recall.items())])
    fig.add_vrect(x0=MINORITY[0] - 0.5, x1=MINORITY[-1] + 0.5, fillcolor="#cccccc", opacity=0.25, line_width=0)
    return fig.update_layout(**{**LAYOUT, "title": title, "barmode": "group",
                                "yaxis": dict(range=[0, 1.05], tickformat=".0%"), "xaxis": dict(type="category")})
