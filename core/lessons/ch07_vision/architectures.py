"""7.2 The architecture zoo: parameters, FLOPs (torch's FlopCounterMode), layer tables and timing."""
from __future__ import annotations

import statistics
import threading
import time
from typing import Callable

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from core import nets
from core.device import synchronize
from core.errors import Emit, HeroError


def _torchvision(name: str) -> Callable[[], nn.Module]:
    def build() -> nn.Module:
        import torchvision
        return getattr(torchvision.models, name)(weights=None)   # random weights: nothing downloaded
    return build


ZOO: dict[str, dict] = {   # min_size: smallest input side the network's pooling survives
    "lenet": {"build": lambda: nets.build("lenet5", {"in_channels": 3}), "min_size": 32, "year": 1998},
    "alexnet": {"build": _torchvision("alexnet"), "min_size": 63, "year": 2012},
    "vgg11": {"build": _torchvision("vgg11"), "min_size": 32, "year": 2014},
    "resnet18": {"build": _torchvision("resnet18"), "min_size": 32, "year": 2015},
    "densenet121": {"build": _torchvision("densenet121"), "min_size": 32, "year": 2016},
}
ZOO_SIZES = (32, 64, 96, 128, 160, 224)   # input sides offered (224 = ImageNet)


def count_parameters(model: nn.Module) -> dict:
    return {"total": sum(p.numel() for p in model.parameters()),
            "trainable": sum(p.numel() for p in model.parameters() if p.requires_grad)}


def count_flops(model: nn.Module, x: torch.Tensor) -> tuple[int, dict[str, int]]:
    """FLOPs of one forward pass (torch.utils.flop_counter: a multiply-add counts 2), total and
    per module (keys are module paths, e.g. "layer1.0")."""
    was_training = model.training
    model.eval()
    with torch.no_grad(), FlopCounterMode(display=False, depth=64) as counter:
        model(x)
    model.train(was_training)
    prefix = type(model).__name__ + "."
    per_module = {k[len(prefix):]: sum(v.values()) for k, v in counter.get_flop_counts().items()
                  if k.startswith(prefix)}
    return int(counter.get_total_flops()), per_module


def layer_table(model: nn.Module, x: torch.Tensor, depth: int = 2) -> list[dict]:
    """One row per module at ``depth`` (or a shallower leaf): output shape, parameters, FLOPs."""
    chosen = [(name, m) for name, m in model.named_modules()
              if name and (name.count(".") + 1 == depth or (name.count(".") + 1 < depth and not list(m.children())))]
    shapes: dict[str, tuple] = {}
    hooks = [m.register_forward_hook(lambda mod, inp, out, name=name: shapes.__setitem__(
        name, tuple(out.shape) if isinstance(out, torch.Tensor) else None)) for name, m in chosen]
    try:
        _, flops = count_flops(model, x)
    finally:
        for h in hooks:
            h.remove()
    return [{"layer": name, "type": type(m).__name__, "output": str(list(shapes.get(name) or [])),
             "params": sum(p.numel() for p in m.parameters()), "flops": flops.get(name, 0)}
            for name, m in chosen if name in shapes]


def time_forward(model: nn.Module, x: torch.Tensor, repeats: int = 3, device: str = "cpu") -> float:
    """Median wall time (ms) of a forward pass on ``device`` in eval mode without autograd,
    after one warm-up (GPU work is synchronised before each clock read)."""
    model, x = model.to(device).eval(), x.to(device)
    times = []
    with torch.no_grad():
        model(x)
        synchronize(device)
        for _ in range(max(1, repeats)):
            t0 = time.perf_counter()
            model(x)
            synchronize(device)
            times.append((time.perf_counter() - t0) * 1000)
    model.cpu()
    return statistics.median(times)


def analyse_architecture(name: str, size: int, repeats: int = 3, device: str = "cpu") -> dict:
    """Build zoo model ``name`` (random weights) and measure it on a [1, 3, size, size] input."""
    if name not in ZOO:
        raise HeroError("ch07.unknown_model", name=name, known=", ".join(ZOO))
    if not ZOO[name]["min_size"] <= size <= max(ZOO_SIZES):
        raise HeroError("ch07.bad_input_size", name=name, size=size, low=ZOO[name]["min_size"], high=max(ZOO_SIZES))
    torch.manual_seed(0)
    model = ZOO[name]["build"]().eval()
    x = torch.rand(1, 3, size, size)
    flops, _ = count_flops(model, x)
    return {"name": name, "year": ZOO[name]["year"], "params": count_parameters(model)["total"], "flops": flops,
            "ms": time_forward(model, x, repeats, device), "table": layer_table(model, x), "size": size,
            "device": str(device)}


def analyse_zoo(names: list[str], size: int, repeats: int, stop_event: threading.Event | None = None,
                emit: Emit | None = None, device: str = "cpu") -> list[dict]:
    """``analyse_architecture`` for each name in turn (a background job: VGG/DenseNet take seconds)."""
    emit = emit or (lambda event: None)
    results = []
    for i, name in enumerate(names):
        if stop_event is not None and stop_event.is_set():
            break
        emit({"kind": "model", "name": name, "index": i, "total": len(names)})
        emit({"kind": "progress", "done": i, "total": len(names), "text": name})   # the run's progress bar
        results.append(analyse_architecture(name, max(size, ZOO[name]["min_size"]), repeats, device))
    emit({"kind": "end", "reason": "completed" if len(results) == len(names) else "stopped"})
    return results
