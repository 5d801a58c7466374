"""6.5 实战: a CIFAR-10-style pipeline (Dataset + transforms.v2 + DataLoader) feeding a tiny CNN."""
from __future__ import annotations

import threading
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader
from torchvision.transforms import v2

from core.data.ch06_sets import RGBImageDataset
from core.device import seed_everything
from core.errors import Emit
from core.lessons import trainer
from core.lessons.ch06_data.presets import PRESETS, SPAWN
from core.lessons.ch06_data.torchvision_sets import load_vision
from core.train import NaNGuard, amp_callbacks, fit, make_optimizer, record


@dataclass
class PipelineSettings:
    source: str = "cifar10"      # "cifar10" (online, opt-in) or its offline stand-in "scenes10" (procedural)
    online: bool = False         # download allowed (the learner ticked the box)
    n_images: int = 3000         # images used (train + validation)
    batch_size: int = 64
    epochs: int = 1
    lr: float = 3e-3
    num_workers: int = 0         # 0 in the page; the DataLoader lab measures workers
    seed: int = 0
    device: str = "cpu"          # where the CNN and batches live ("cuda", "mps", "cpu")


@dataclass
class PipelineResult:
    source: str
    notice: str | None
    notice_params: dict
    classes: tuple[str, ...]
    mean: list[float]
    std: list[float]
    batch_shape: tuple[int, ...]
    batch_images: np.ndarray        # uint8 [B, 32, 32, 3]: the first training batch, de-normalised
    batch_labels: list[int]
    history: list[dict] = field(default_factory=list)
    end: dict = field(default_factory=dict)
    model: nn.Module | None = None  # the trained CNN, on the CPU (inputs normalised with mean/std)


def channel_stats(images: np.ndarray) -> tuple[list[float], list[float]]:
    """Per-channel mean and std of uint8 images [N, H, W, 3], in [0, 1] units (for Normalize)."""
    x = torch.from_numpy(np.array(images, dtype=np.float32)).div_(255)   # np.array copies: input may be read-only
    return x.mean(dim=(0, 1, 2)).tolist(), x.std(dim=(0, 1, 2), correction=0).clamp_min(1e-6).tolist()


def pipeline_transforms(mean: list[float], std: list[float], flip: bool) -> tuple[v2.Compose, v2.Compose]:
    """Train (augmenting) and eval transforms for uint8 [3, 32, 32] → normalised float."""
    augment = [v2.RandomCrop(32, padding=4), v2.RandomHorizontalFlip() if flip else v2.RandomRotation(10)]
    tail = [v2.ToDtype(torch.float32, scale=True), v2.Normalize(mean, std)]
    return v2.Compose(augment + tail), v2.Compose(tail)


def tiny_cnn(n_classes: int = 10) -> nn.Sequential:
    """A small CNN for [B, 3, 32, 32]: enough to show the pipeline feeds training."""
    return nn.Sequential(nn.Conv2d(3, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1),
                         nn.Flatten(), nn.Linear(64, n_classes))


def run_pipeline(s: PipelineSettings, stop: threading.Event | None = None, emit: Emit | None = None) -> PipelineResult:
    """Dataset + transforms.v2 + DataLoader, then one (or a few) epochs of a tiny CNN."""
    emit = emit or (lambda event: None)
    seed_everything(s.seed)
    # 1. data: CIFAR-10 when online and allowed, else the offline procedural scenes
    data = load_vision(s.source, s.n_images, online=s.online)
    n_val = max(1, len(data.labels) // 5)
    train_x, val_x = data.images[n_val:], data.images[:n_val]
    # 2. normalisation stats from the training images only (no peeking at validation)
    mean, std = channel_stats(train_x)
    # a mirrored scene is still the same scene; a mirrored digit is not (the digit fallback is never flipped)
    train_tf, eval_tf = pipeline_transforms(mean, std, flip=data.name in ("cifar10", "scenes10"))
    train_ds = RGBImageDataset(train_x, data.labels[n_val:], train_tf)
    val_ds = RGBImageDataset(val_x, data.labels[:n_val], eval_tf)
    # 3. loaders: shuffled, seeded batches for training; in order for validation
    g = torch.Generator().manual_seed(s.seed)
    ctx = SPAWN if s.num_workers else None
    pin = torch.device(s.device).type == "cuda"   # page-locked batches copy to the GPU asynchronously
    train_dl = DataLoader(train_ds, batch_size=s.batch_size, shuffle=True, generator=g, drop_last=True,
                          num_workers=s.num_workers, multiprocessing_context=ctx, pin_memory=pin)
    val_dl = DataLoader(val_ds, batch_size=256)
    xb, yb = next(iter(DataLoader(train_ds, batch_size=min(16, s.batch_size), shuffle=True,
                                  generator=torch.Generator().manual_seed(s.seed))))
    shown = (xb * torch.tensor(std)[:, None, None] + torch.tensor(mean)[:, None, None]).clamp(0, 1)
    result = PipelineResult(data.name, data.notice, data.notice_params, data.classes, mean, std,
                            (s.batch_size, *xb.shape[1:]), (shown * 255).round().byte().permute(0, 2, 3, 1).numpy(),
                            yb.tolist())
    emit({"kind": "batch", "shape": result.batch_shape})
    # 4. train: the loaders go straight into the gallery's one training loop
    model = tiny_cnn(len(data.classes)).to(s.device)
    optimizer = make_optimizer("adam", model.parameters(), s.lr)
    result.history, result.end = record(fit(
        model, train_dl, val_dl, optimizer=optimizer, epochs=s.epochs, seed=s.seed, device=s.device,
        callbacks=[*amp_callbacks(s.device), NaNGuard()], stop_event=stop, eval_every=max(1, len(train_dl) // 3)), emit)
    result.model = model.cpu().eval()
    return result


@trainer("ch06_pipeline")
def _check_pipeline(device: str, preset: str) -> dict:
    P = PRESETS[preset]
    r = run_pipeline(PipelineSettings(source="scenes10", n_images=P["twin_n"], epochs=P["epochs"], device=device))
    return {"val_acc": r.end["val_acc"], "steps": r.end["step"]}


def model_files(model: nn.Module, name: str, info: dict) -> dict[str, bytes]:
    """The pipeline's CNN (an ``nn.Sequential``, not a registered net) as ``<name>.safetensors`` with
    ``info`` (classes, image size, normalisation) in its metadata."""
    import json

    from safetensors.torch import save
    state = {k: v.detach().cpu().contiguous().clone() for k, v in model.state_dict().items()}
    meta = {"model": "tiny_cnn", **{k: json.dumps(v) for k, v in info.items()}}
    return {f"{name}.safetensors": save(state, metadata=meta)}
