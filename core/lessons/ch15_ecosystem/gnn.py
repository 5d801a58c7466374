"""15.4 Graph neural networks on Zachary's karate club (PyG's ``KarateClub``: 34 members, 78
friendships, four communities, one labelled member per community).

A GCN layer is ``H' = Â H W + b`` with Â the normalised adjacency (``core.nets.gcn``): every node
averages its neighbours' features, then a shared linear map. Written in plain torch, and with
``torch_geometric.nn.GCNConv``, which does the same with sparse message passing. Training sees
four labels; the other 30 members are classified from the graph alone.
"""
from __future__ import annotations

import functools
import threading
import time
from dataclasses import asdict, dataclass, field

import torch
from torch import nn
from torch.nn import functional as F

from core import nets
from core.device import seed_everything
from core.errors import Emit, check_range
from core.lessons import trainer
from core.lessons.ch15_ecosystem import PRESETS


@dataclass
class GNNSettings:
    conv: str = "plain"       # "plain" (dense Â in torch) or "pyg" (GCNConv)
    epochs: int = 200
    lr: float = 0.01
    frames: int = 40          # embedding snapshots kept for the animation
    seed: int = 0
    device: str = "cpu"


@dataclass
class GNNResult:
    model: nn.Module
    settings: dict
    frames: list[dict] = field(default_factory=list)   # epoch, loss, acc, emb [N, 2]
    graph: dict = field(default_factory=dict)          # edges [2, E], y [N], train [N] (NumPy)
    accuracy: float = 0.0          # on the 30 members whose labels training never saw
    seconds: float = 0.0


@functools.cache
def karate():
    """PyG's KarateClub graph (built from its bundled edge list: nothing is downloaded).
    x [34, 34] one-hot, edge_index [2, 156], y [34], train_mask [34]."""
    from torch_geometric.datasets import KarateClub
    return KarateClub()[0]


def build_gcn(conv: str) -> nn.Module:
    return nets.build("gcn", {"in_features": 34, "hidden": (4, 4, 2), "n_classes": 4, "conv": conv})


def train_gnn(s: GNNSettings, stop_event: threading.Event | None = None, emit: Emit | None = None) -> GNNResult:
    """Full-graph training (every step sees the whole graph; only the 4 train nodes give loss).
    Emits step events and ``frame`` events with the 2-D embedding. Model back on the CPU."""
    check_range("epochs", s.epochs, 1, 2000)
    emit = emit or (lambda event: None)
    data = karate()
    seed_everything(s.seed)
    device = torch.device(s.device)
    model = build_gcn(s.conv).to(device)
    x, edges, y, train = (data.x.to(device), data.edge_index.to(device), data.y.to(device),
                          data.train_mask.to(device))
    optimizer = torch.optim.Adam(model.parameters(), lr=s.lr)
    every = max(1, s.epochs // max(1, s.frames))
    result = GNNResult(model, asdict(s), graph={"edges": data.edge_index.numpy(), "y": data.y.numpy(),
                                               "train": data.train_mask.numpy()})
    started = time.perf_counter()
    for epoch in range(s.epochs):
        if stop_event is not None and stop_event.is_set():
            break
        # 1. embed every node  2. classify  3. loss on the labelled four only  4. step
        model.train()
        h = model.embed(x, edges)
        loss = F.cross_entropy(model.head(h)[train], y[train])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        emit({"kind": "step", "step": epoch + 1, "epoch": epoch, "loss": float(loss.detach()), "total_steps": s.epochs,
              "epochs": s.epochs})
        if epoch % every == 0 or epoch == s.epochs - 1:
            frame = snapshot(model, x, edges, y, train, epoch, float(loss.detach()))
            result.frames.append(frame)
            emit({"kind": "frame", **frame})
    result.model = model.cpu().eval()
    result.accuracy = result.frames[-1]["acc"] if result.frames else 0.0
    result.seconds = time.perf_counter() - started
    return result


@torch.no_grad()
def snapshot(model: nn.Module, x, edges, y, train, epoch: int, loss: float) -> dict:
    """The 2-D embedding [N, 2] and accuracy on the unlabelled members at this epoch."""
    model.eval()
    h = model.embed(x, edges)
    pred = model.head(h).argmax(1)
    acc = float((pred[~train] == y[~train]).float().mean())
    model.train()
    return {"epoch": epoch, "loss": loss, "acc": acc, "emb": h.cpu().numpy(), "pred": pred.cpu().numpy()}


def same_outputs(seed: int = 0) -> dict:
    """Plain and PyG GCN with one shared state_dict: max |difference| of their logits on the club."""
    data = karate()
    torch.manual_seed(seed)
    plain, pyg = build_gcn("plain").eval(), build_gcn("pyg").eval()
    pyg.load_state_dict(plain.state_dict())        # same names, same shapes: a straight copy
    with torch.no_grad():
        a, b = plain(data.x, data.edge_index), pyg(data.x, data.edge_index)
    return {"max_abs_diff": float((a - b).abs().max()), "n_params": sum(p.numel() for p in plain.parameters())}


@trainer("ch15_gnn")
def _check_gnn(device: str, preset: str) -> dict:
    P = PRESETS[preset]
    r = train_gnn(GNNSettings(conv="pyg", epochs=P["gnn_epochs"], frames=P["gnn_frames"], device=device))
    return {"acc": r.accuracy}
