"""3.3 Containers: Sequential, ModuleList and ModuleDict built from a stack of blocks, with a hook summary."""
from __future__ import annotations

import torch
from torch import nn

from core.errors import HeroError

from .layers import build_layer, run_layer
from .limits import MAX_BLOCKS


# =========================================================================== 3.3 containers

BLOCKS = {  # block type → (its one setting, default); in-sizes are inferred from the incoming shape
    "Flatten": (None, None), "Linear": ("out_features", 32), "Conv2d": ("out_channels", 8),
    "MaxPool2d": ("kernel_size", 2), "AvgPool2d": ("kernel_size", 2), "AdaptiveAvgPool2d": ("output_size", 4),
    "BatchNorm1d": (None, None), "BatchNorm2d": (None, None), "ReLU": (None, None), "Tanh": (None, None),
    "GELU": (None, None), "Sigmoid": (None, None), "Dropout": ("p", 0.2),
}
CONTAINERS = ("Sequential", "ModuleList", "ModuleDict")
DEFAULT_STACK = [{"type": "Flatten"}, {"type": "Linear", "arg": 32}, {"type": "BatchNorm1d"},
                 {"type": "ReLU"}, {"type": "Dropout", "arg": 0.2}, {"type": "Linear", "arg": 10}]


class ListNet(nn.Module):
    """nn.ModuleList registers the layers; *we* write the loop in forward."""

    def __init__(self, layers: list[nn.Module]):
        super().__init__()
        self.layers = nn.ModuleList(layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer in self.layers:
            x = layer(x)
        return x


class DictNet(nn.Module):
    """nn.ModuleDict: layers looked up by name (kept in insertion order)."""

    def __init__(self, layers: dict[str, nn.Module]):
        super().__init__()
        self.blocks = nn.ModuleDict(layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for name in self.blocks:
            x = self.blocks[name](x)
        return x


def _block_hp(block: dict, shape: tuple) -> tuple[str, dict]:
    """Explorer settings for a builder block, with in-sizes taken from the incoming ``shape``."""
    kind, arg = block["type"], block.get("arg", BLOCKS[block["type"]][1])
    ch = shape[1] if len(shape) > 1 else shape[-1]
    if kind == "Linear":
        return kind, {"in_features": shape[-1], "out_features": int(arg)}
    if kind == "Conv2d":
        return kind, {"in_channels": ch, "out_channels": int(arg), "kernel_size": 3, "padding": 1}
    if kind in ("MaxPool2d", "AvgPool2d"):
        return kind, {"kernel_size": int(arg), "stride": int(arg)}
    if kind == "AdaptiveAvgPool2d":
        return kind, {"output_h": int(arg), "output_w": int(arg)}
    if kind in ("BatchNorm1d", "BatchNorm2d"):
        return kind, {"num_features": ch}
    if kind == "Dropout":
        return kind, {"p": float(arg)}
    return kind, {}


def build_container(kind: str, blocks: list[dict], in_shape: tuple[int, ...], seed: int = 0) -> nn.Module:
    """Build the blocks into a Sequential, a ModuleList-based or a ModuleDict-based module.

    Each block's input size comes from running a real tensor of ``in_shape`` through the layers
    built so far; a block that cannot take that input raises the explained HeroError.
    """
    if not blocks:
        raise HeroError("ch03.empty_stack")
    if len(blocks) > MAX_BLOCKS:
        raise HeroError("ch03.too_many_blocks", limit=MAX_BLOCKS)
    torch.manual_seed(seed)
    x = torch.randn(in_shape)
    layers = []
    with torch.no_grad():
        for i, block in enumerate(blocks):
            if block["type"] == "Flatten":
                layer = nn.Flatten()
            else:
                name, hp = _block_hp(block, tuple(x.shape))
                try:
                    report = run_layer(name, hp, tuple(x.shape))
                except HeroError as err:
                    err.params["position"] = i + 1
                    raise
                layer = build_layer(name, report.hp)
            layers.append(layer.eval())
            x = layer(x)
    if kind == "Sequential":
        return nn.Sequential(*layers)
    if kind == "ModuleList":
        return ListNet(layers)
    return DictNet({f"{type(layer).__name__.lower()}{i}": layer for i, layer in enumerate(layers)})


def summarize(model: nn.Module, x: torch.Tensor) -> dict:
    """A torchinfo-like summary computed with forward hooks on every leaf module.

    Returns rows (name, type, output shape, own parameter count) in call order, the total
    and trainable counts, the final output shape, and ``str(model)`` (the module tree).
    """
    rows, handles = [], []
    for name, module in model.named_modules():
        if next(module.children(), None) is None:    # leaves do the work; containers only route
            def hook(mod, inp, out, name=name):
                out = out[0] if isinstance(out, tuple) else out
                rows.append({"name": name, "type": type(mod).__name__, "output": tuple(out.shape),
                             "params": sum(p.numel() for p in mod.parameters(recurse=False))})
            handles.append(module.register_forward_hook(hook))
    was_training = model.training
    try:
        model.eval()
        with torch.no_grad():
            y = model(x)
    finally:
        for handle in handles:
            handle.remove()
        model.train(was_training)
    return {"rows": rows, "total": sum(p.numel() for p in model.parameters()),
            "trainable": sum(p.numel() for p in model.parameters() if p.requires_grad),
            "output": tuple(y.shape), "input": tuple(x.shape), "tree": str(model)}


def container_snippet(kind: str, model: nn.Module, in_shape: tuple[int, ...] | None = None) -> str:
    """Runnable code that builds the same container (and, given ``in_shape``, prints it and the
    output shape of one forward pass)."""
    layers = list(model.children())[0] if kind != "Sequential" else model
    lines = [f"    nn.{m!r}," for m in (layers.values() if kind == "ModuleDict" else layers)]
    tail = "" if in_shape is None else f"print(model)\nprint(model(torch.randn{tuple(in_shape)!r}).shape)\n"
    if kind == "Sequential":
        return "import torch\nfrom torch import nn\n\nmodel = nn.Sequential(\n" + "\n".join(lines) + "\n)\n" + tail
    if kind == "ModuleList":
        return ("import torch\nfrom torch import nn\n\n\nclass Net(nn.Module):\n    def __init__(self):\n"
                "        super().__init__()\n        self.layers = nn.ModuleList([\n"
                + "\n".join("    " * 2 + ln for ln in lines) + "\n        ])\n\n"
                "    def forward(self, x):\n        for layer in self.layers:\n            x = layer(x)\n"
                "        return x\n\n\nmodel = Net()\n" + tail)
    items = "\n".join(f'            "{n}": nn.{m!r},' for n, m in layers.items())
    return ("import torch\nfrom torch import nn\n\n\nclass Net(nn.Module):\n    def __init__(self):\n"
            "        super().__init__()\n        self.blocks = nn.ModuleDict({\n" + items + "\n        })\n\n"
            "    def forward(self, x):\n        for name in self.blocks:\n            x = self.blocks[name](x)\n"
            "        return x\n\n\nmodel = Net()\n" + tail)
