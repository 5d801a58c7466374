"""Architectures by name. Each lives in its own file with a ``@dataclass`` config.

``build("mlp", {"in_features": 2, ...})`` returns a fresh module; checkpoints store the
name and config so a file can be rebuilt into exactly the model that wrote it, and
dropdowns and tests loop over ``REGISTRY`` so a new architecture is tested for free.

A new architecture is a new file in this package whose module class is decorated with
``@register("name", ConfigClass)``; every module here is imported at start-up.
"""
from __future__ import annotations

import dataclasses
import importlib
import pkgutil
from typing import Any, Callable

from torch import nn

from core.errors import HeroError

REGISTRY: dict[str, tuple[type, type[nn.Module]]] = {}
# name -> example(config) returning the positional arguments of one forward call (tests loop over it)
EXAMPLES: dict[str, Callable[[Any], tuple]] = {}


def register(name: str, config_cls: type, example: Callable[[Any], tuple] | None = None):
    """Class decorator: make ``nn.Module`` subclass buildable as ``build(name, config)``.

    ``example(config)`` returns a tuple of forward arguments for a model built from ``config``
    (e.g. ``lambda c: (torch.randn(2, c.in_features),)``); the registry tests build every
    architecture with its default config, forward the example, and round-trip a checkpoint.
    """
    def deco(module_cls: type[nn.Module]) -> type[nn.Module]:
        REGISTRY[name] = (config_cls, module_cls)
        if example is not None:
            EXAMPLES[name] = example
        return module_cls
    return deco


def build(arch: str, config: dict[str, Any] | Any) -> nn.Module:
    """A freshly initialised module of architecture ``arch`` from a config dict or dataclass."""
    if arch not in REGISTRY:
        raise HeroError("nets.unknown", name=arch, known=", ".join(sorted(REGISTRY)))
    config_cls, module_cls = REGISTRY[arch]
    if not isinstance(config, config_cls):
        names = {f.name for f in dataclasses.fields(config_cls)}
        unknown = set(config) - names
        if unknown:
            raise HeroError("nets.bad_config", name=arch, fields=", ".join(sorted(unknown)))
        config = config_cls(**config)
    return module_cls(config)


def config_dict(model: nn.Module) -> dict[str, Any]:
    """The JSON-serialisable config the model was built from (tuples become lists)."""
    return {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(model.config).items()}


def arch_name(model: nn.Module) -> str:
    for name, (_, cls) in REGISTRY.items():
        if type(model) is cls:
            return name
    raise HeroError("nets.unknown", name=type(model).__name__, known=", ".join(sorted(REGISTRY)))


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


for _module in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_module.name}")
