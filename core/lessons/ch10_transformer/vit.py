"""10.6 Vision Transformer: a digit cut into patches (the tokens), then a tiny ViT trained live."""
from __future__ import annotations

import threading
from dataclasses import asdict, dataclass
from typing import Callable

import numpy as np
import plotly.graph_objects as go
import torch

from core import data as datasets
from core.device import seed_everything
from core.errors import HeroError
from core.nets.vit import TinyViT, TinyViTConfig
from core.train import NaNGuard, amp_callbacks, finished_ok, fit, record
from core.viz import style

VIT_DATASETS = {"digits": 8, "mnist5k": 28}     # dataset → image side


def patchify(image: np.ndarray, patch: int) -> np.ndarray:
    """image [H, W] → patches [N, patch, patch] in reading order (row by row): the ViT's tokens."""
    H, W = image.shape
    if patch < 1 or H % patch or W % patch:
        raise HeroError("ch10.patch_divide", patch=patch, size=H)
    return image.reshape(H // patch, patch, W // patch, patch).transpose(0, 2, 1, 3).reshape(-1, patch, patch)


def patch_grid_figure(image: np.ndarray, patch: int, title: str = "") -> go.Figure:
    """The image with the patch grid drawn over it and each patch's token number."""
    H, W = image.shape
    fig = go.Figure(go.Heatmap(z=image, colorscale="gray_r", showscale=False, hoverinfo="skip"))
    for k in range(0, W + 1, patch):
        fig.add_shape(type="line", x0=k - 0.5, x1=k - 0.5, y0=-0.5, y1=H - 0.5, line=dict(color="#EE4C2C", width=2))
    for k in range(0, H + 1, patch):
        fig.add_shape(type="line", y0=k - 0.5, y1=k - 0.5, x0=-0.5, x1=W - 0.5, line=dict(color="#EE4C2C", width=2))
    n = 0
    for r in range(0, H, patch):
        for c in range(0, W, patch):
            fig.add_annotation(x=c - 0.5 + patch * 0.2, y=r - 0.5 + patch * 0.2, text=str(n), showarrow=False,
                               font=dict(color="#1f77b4", size=10))
            n += 1
    fig.update_yaxes(autorange="reversed", scaleanchor="x", visible=False)
    fig.update_xaxes(visible=False)
    return style(fig, title, height=320, width=340, margin=dict(l=5, r=5, t=40, b=5))


@dataclass
class ViTSettings:
    dataset: str = "digits"       # digits (8×8) | mnist5k (28×28)
    patch_size: int = 2
    dim: int = 64
    depth: int = 2
    heads: int = 4
    epochs: int = 15
    batch_size: int = 64
    lr: float = 2e-3
    limit: int = 0                # training images used (0: all of them)
    seed: int = 0
    device: str = "cpu"


@dataclass
class ViTResult:
    model: TinyViT
    history: list[dict]
    end: dict
    settings: dict

    @property
    def ok(self) -> bool:
        return finished_ok(self.end, self.history)


def train_vit(s: ViTSettings, stop_event: threading.Event | None = None,
              emit: Callable[[dict], None] | None = None) -> ViTResult:
    """Train a tiny ViT on real digits; eval events carry val_loss and val_acc."""
    if s.dataset not in VIT_DATASETS:
        raise HeroError("ch10.unknown_dataset", name=s.dataset)
    size = VIT_DATASETS[s.dataset]
    if s.patch_size < 1 or size % s.patch_size:
        raise HeroError("ch10.patch_divide", patch=s.patch_size, size=size)
    if s.heads < 1 or s.dim % s.heads:
        raise HeroError("ch10.heads_divide", heads=s.heads, width=s.dim)
    seed_everything(s.seed)
    split = datasets.split(datasets.load(s.dataset), 0.2, seed=s.seed)
    n = s.limit or len(split.y_train)
    X, y = split.X_train[:n], split.y_train[:n]
    model = TinyViT(TinyViTConfig(image_size=size, patch_size=s.patch_size, dim=s.dim, depth=s.depth,
                                  heads=s.heads, mlp_dim=2 * s.dim))
    optimizer = torch.optim.AdamW(model.parameters(), lr=s.lr, weight_decay=0.01)
    history, end = record(fit(model, (X, y), (split.X_val, split.y_val), optimizer=optimizer,
                              epochs=s.epochs, batch_size=s.batch_size, device=s.device, seed=s.seed,
                              callbacks=[*amp_callbacks(s.device), NaNGuard()], stop_event=stop_event), emit)
    return ViTResult(model.cpu().eval(), history, end, asdict(s))


@torch.no_grad()
def classify_image(model: TinyViT, image: np.ndarray) -> np.ndarray:
    """image [H, W] in [0, 1] → class probabilities [10]."""
    x = torch.tensor(np.asarray(image, dtype=np.float32)).view(1, 1, *image.shape)   # a copy: cached arrays are read-only
    return model.eval()(x).softmax(-1)[0].numpy()
