"""3.6 实战: the MLP on real handwritten digits."""
from __future__ import annotations

import threading
from dataclasses import asdict, dataclass, field

import torch
from torch import nn

from core.data import load as load_dataset
from core.data import split as split_dataset
from core import nets
from core.device import seed_everything
from core.errors import Emit, HeroError
from core.lessons import trainer
from core.train import NaNGuard, amp_callbacks, finished_ok, fit, make_optimizer, record

from .limits import PRESETS


# =========================================================================== 3.6 实战: an MLP

@dataclass
class MLPSettings:
    dataset: str = "digits"        # "digits" (8×8) or "mnist5k" (28×28)
    depth: int = 2                 # hidden layers, 0–6
    width: int = 64                # neurons per hidden layer, 1–512
    activation: str = "relu"
    dropout: float = 0.0
    epochs: int = 8
    lr: float = 3e-3
    batch_size: int = 64
    seed: int = 0
    max_steps: int | None = None   # the tiny preset stops early so tests stay fast
    device: str = "cpu"            # where model and batches live ("cuda", "mps", "cpu")


def build_mlp(s: MLPSettings) -> nn.Module:
    """The book's MLP (core.nets "mlp") sized for the chosen digit images."""
    if not (0 <= s.depth <= 6 and 1 <= s.width <= 512 and 0.0 <= s.dropout < 1.0):
        raise HeroError("ch03.bad_mlp", depth=s.depth, width=s.width, dropout=s.dropout)
    side = load_dataset(s.dataset).image_shape[0]
    torch.manual_seed(s.seed)
    return nets.build("mlp", {"in_features": side * side, "hidden": (s.width,) * s.depth, "out_features": 10,
                              "activation": s.activation, "dropout": s.dropout})


@torch.no_grad()
def mlp_forward(model: nn.Module, dataset: str, n: int = 256) -> dict:
    """Untrained (or trained) forward pass on the first n real digits, in eval mode.

    Returns input/output shapes, probabilities of the first image [10], and accuracy on the n.
    """
    ds = load_dataset(dataset)
    X, y = torch.tensor(ds.X[:n]), torch.tensor(ds.y[:n])
    was_training = model.training
    model.eval()
    logits = model(X.to(next(model.parameters()).device)).float().cpu()   # computed where the model is
    model.train(was_training)
    probs = logits.softmax(-1)
    return {"input_shape": tuple(X.shape), "output_shape": tuple(logits.shape), "probs": probs[0].numpy(),
            "label": int(y[0]), "accuracy": float((logits.argmax(1) == y).float().mean()),
            "image": ds.X[0].reshape(ds.image_shape)}


@dataclass
class MLPRun:
    model: nn.Module
    settings: MLPSettings
    history: list[dict] = field(default_factory=list)
    end: dict = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return finished_ok(self.end)


def train_mlp(s: MLPSettings, stop_event: threading.Event | None = None, emit: Emit | None = None) -> MLPRun:
    """A few seconds of training with core.train.fit (Adam, cross-entropy) on ``s.device``; events
    go to ``emit``. The trained model comes back on the CPU, in eval mode."""
    emit = emit or (lambda event: None)
    seed_everything(s.seed)
    split = split_dataset(load_dataset(s.dataset), 0.2, seed=s.seed)
    device = torch.device(s.device)
    model = build_mlp(s).to(device)
    run = MLPRun(model=model, settings=s)
    run.history, run.end = record(fit(
        model, (split.X_train, split.y_train), (split.X_val, split.y_val),
        optimizer=make_optimizer("adam", model.parameters(), s.lr), epochs=s.epochs, batch_size=s.batch_size,
        seed=s.seed, device=device, callbacks=[*amp_callbacks(device), NaNGuard()], stop_event=stop_event,
        max_steps=s.max_steps), emit)
    run.model = model.cpu().eval()
    return run


@trainer("ch03_mlp")
def _check_mlp(device: str, preset: str) -> dict:
    p = PRESETS[preset]
    run = train_mlp(MLPSettings(epochs=p["mlp_epochs"], max_steps=p["mlp_max_steps"], device=device))
    return {"val_acc": run.end["val_acc"]}


def mlp_main(s: MLPSettings, compare: tuple[MLPSettings, ...] = ()) -> str:
    """The ``__main__`` of the MLP take-home script: these settings, trained, then the forward pass;
    with ``compare`` (the pinned runs), every one of them is trained too, on the same split with
    the same seed, and their validation curves are printed side by side."""
    def make(x: MLPSettings) -> str:
        fields = ", ".join(f"{k}={v!r}" for k, v in asdict(x).items() if k != "device")
        return f"MLPSettings({fields}, device='cuda' if torch.cuda.is_available() else 'cpu')"
    text = (f"s = {make(s)}\n"
            "if TINY:\n    s.epochs, s.max_steps = 1, 20\n"
            "run = train_mlp(s)\nprint(run.model)\nprint({k: v for k, v in run.end.items() if k != 'kind'})\n"
            "f = mlp_forward(run.model, s.dataset)\n"
            "print(f\"accuracy on the first {f['input_shape'][0]} digits: {f['accuracy']:.1%}\")")
    if compare:
        text += ("\n# compare runs: the same data split and seed, only the settings differ\n"
                 f"runs = [{', '.join(make(x) for x in compare)}]\n"
                 "for r in runs:\n    if TINY:\n        r.epochs, r.max_steps = 1, 20\n"
                 "    done = train_mlp(r)\n"
                 "    curve = ' '.join(f\"{e['val_acc']:.3f}\" for e in done.history)\n"
                 "    print(f'{r.depth}x{r.width} {r.activation} dropout={r.dropout}: val_acc per epoch {curve}')")
    return text
