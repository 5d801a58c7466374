"""9.6 Hooks: per-layer activation and gradient statistics, healthy vs badly initialised deep nets."""
from __future__ import annotations

import plotly.graph_objects as go
import torch
import torch.nn.functional as F
from torch import nn

from core import data as datasets
from core import nets
from core.device import seed_everything
from core.errors import check_range
from core.lessons.ch09_tricks.presets import MAX_DEPTH
from core.lessons.ch09_tricks.clinic import batches, clinic_data
from core.viz import PALETTE, style as _layout


def hook_model(init: str, depth: int, activation: str = "relu", seed: int = 0) -> nn.Module:
    check_range("depth", depth, 1, MAX_DEPTH)
    seed_everything(seed)
    return nets.build("deep_mlp", {"in_features": 64, "width": 64, "depth": depth, "out_features": 10,
                                   "activation": activation, "init": init})


def layer_statistics(model: nn.Module, X: torch.Tensor, y: torch.Tensor) -> list[dict]:
    """Per hidden block of a ``deep_mlp``, measured with hooks during one forward + backward pass.

    X [B, 64], y [B]. Forward hooks keep each block's output a [B, W]; full backward hooks keep
    dL/da [B, W]. Rows: act_mean, act_std of a; dead_frac = fraction of units that are ≤ 0 for the
    whole batch (a ReLU that never fires gets no gradient); act_grad = mean |dL/da|;
    weight_grad = mean |dL/dW| of the block's Linear.
    """
    acts: dict[int, torch.Tensor] = {}
    grads: dict[int, torch.Tensor] = {}
    handles = []
    for i, block in enumerate(model.blocks):
        handles.append(block.register_forward_hook(lambda m, inp, out, i=i: acts.__setitem__(i, out.detach())))
        handles.append(block.register_full_backward_hook(
            lambda m, grad_in, grad_out, i=i: grads.__setitem__(i, grad_out[0].detach())))
    try:
        model.zero_grad(set_to_none=True)
        # an input that requires grad lets the first block's full backward hook fire normally
        F.cross_entropy(model(X.detach().requires_grad_(True)), y).backward()
    finally:
        for h in handles:                 # hooks left behind would slow down every later call
            h.remove()
    rows = []
    for i, block in enumerate(model.blocks):
        a = acts[i]
        rows.append({"layer": i + 1, "act_mean": float(a.mean()), "act_std": float(a.std()),
                     "dead_frac": float((a <= 0).all(0).float().mean()),
                     "act_grad": float(grads[i].abs().mean()),
                     "weight_grad": float(block[0].weight.grad.abs().mean())})
    return rows


def compare_inits(bad_init: str, depth: int, activation: str = "relu", steps: int = 60, seed: int = 0) -> dict:
    """Healthy (Kaiming) vs ``bad_init`` deep net: layer statistics at init and a short training run."""
    d = clinic_data(seed)
    X, y = d.X_train[:256], d.y_train[:256]
    out = {}
    for name, init in (("healthy", "kaiming"), ("bad", bad_init)):
        model = hook_model(init, depth, activation, seed)
        stats = layer_statistics(model, X, y)
        opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
        losses = []
        for xb, yb in batches(d, steps, seed):
            loss = F.cross_entropy(model(xb), yb)
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(loss.item())
        out[name] = {"init": init, "stats": stats, "losses": losses}
    return out


def layer_stats_figure(result: dict, metric: str, names: dict[str, str], title: str = "",
                       log_y: bool = False) -> go.Figure:
    fig = go.Figure()
    for i, key in enumerate(("healthy", "bad")):
        rows = result[key]["stats"]
        fig.add_trace(go.Bar(x=[f"L{r['layer']}" for r in rows], y=[max(r[metric], 1e-30) if log_y else r[metric]
                                                                    for r in rows],
                             name=names[key], marker_color=PALETTE[i]))
    return _layout(fig, title, barmode="group", yaxis=dict(type="log" if log_y else "linear"), height=280)


def model_layer_statistics(model: nn.Module, X: torch.Tensor, y: torch.Tensor) -> list[dict]:
    """Hooks on every Linear / Conv2d of *any* classifier (a shipped or shelved one), in eval mode.

    X [B, ...] as the model takes it, y [B]; both go to the model's device. A forward hook keeps
    each layer's output a (before its activation) and asks autograd to keep dL/da. Rows: name,
    kind, act_mean, act_std, dead_frac (units ≤ 0 for the whole batch: a ReLU after them never
    fires), act_grad = mean |dL/da|, weight_grad = mean |dL/dW|.
    """
    layers = [(name, m) for name, m in model.named_modules() if isinstance(m, (nn.Linear, nn.Conv2d))]
    outs: dict[str, torch.Tensor] = {}

    def keep(name: str):
        def hook(module, inputs, out):
            out.retain_grad()               # dL/da is kept on the tensor itself
            outs[name] = out
        return hook

    handles = [m.register_forward_hook(keep(name)) for name, m in layers]
    was_training = model.training
    model.eval()
    try:
        model.zero_grad(set_to_none=True)
        device = next(model.parameters()).device
        F.cross_entropy(model(X.to(device)), y.to(device)).backward()
    finally:
        for h in handles:
            h.remove()
        model.train(was_training)
    rows = []
    for i, (name, m) in enumerate(layers):
        a, g = outs[name].detach().float(), outs[name].grad.float()
        rows.append({"layer": i + 1, "name": name, "kind": type(m).__name__, "act_mean": float(a.mean()),
                     "act_std": float(a.std()), "dead_frac": float((a <= 0).all(0).float().mean()),
                     "act_grad": float(g.abs().mean()), "weight_grad": float(m.weight.grad.abs().mean())})
    return rows


def model_stats_figure(rows: list[dict], metrics: tuple[str, ...], title: str = "") -> go.Figure:
    """Grouped bars: one group per layer, one bar per statistic (log scale: they span decades)."""
    fig = go.Figure()
    for i, metric in enumerate(metrics):
        fig.add_trace(go.Bar(x=[f"{r['layer']}: {r['name']}" for r in rows], y=[max(r[metric], 1e-30) for r in rows],
                             name=metric, marker_color=PALETTE[i % len(PALETTE)]))
    return _layout(fig, title, barmode="group", yaxis=dict(type="log"), height=300)


def inspect_classifier(model: nn.Module, device: str = "cpu", n: int = 256) -> list[dict]:
    """``model_layer_statistics`` of a digit classifier on a fixed batch: the last ``n`` images of
    the digits set that matches its ``config.image_size`` (8 → sklearn digits, 28 → MNIST-5k)."""
    size = getattr(getattr(model, "config", None), "image_size", 8)
    ds = datasets.load("mnist5k" if size == 28 else "digits")
    X, y = torch.from_numpy(ds.X[-n:].copy()), torch.from_numpy(ds.y[-n:].copy()).long()
    return model_layer_statistics(model.to(device), X, y)
