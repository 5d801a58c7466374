"""Every registered architecture and dataset is tested for free: add one, and it is checked here.

Nets: built from their default config, an example input forwarded (``register(..., example=)``),
gradients reach every parameter that takes part, and a checkpoint round trip gives the same
outputs. Datasets: loaded with their defaults, arrays shaped and typed consistently, and
deterministic (two loads are identical).
"""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from core import data, nets, weights

ARCHS = sorted(nets.REGISTRY)
DATASETS = sorted(data.REGISTRY)


def test_registries_are_not_empty():
    assert {"mlp", "small_cnn", "tiny_resnet"} <= set(ARCHS)
    assert {"digits", "mnist5k", "toy"} <= set(DATASETS)


@pytest.mark.parametrize("arch", ARCHS)
def test_net_builds_forwards_and_round_trips(arch):
    config_cls, _ = nets.REGISTRY[arch]
    missing = [f.name for f in dataclasses.fields(config_cls)
               if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING]
    assert not missing, f"{arch}: config fields without a default: {missing}"
    assert arch in nets.EXAMPLES, f"{arch}: register it with example=lambda config: (inputs,)"
    torch.manual_seed(0)
    model = nets.build(arch, {}).eval()
    args = nets.EXAMPLES[arch](model.config)
    assert isinstance(args, tuple), f"{arch}: example must return a tuple of forward arguments"
    with torch.no_grad():
        out = model(*args)
    first = out[0] if isinstance(out, (tuple, list)) else out
    assert torch.is_tensor(first) and torch.isfinite(first.float()).all(), arch
    # checkpoint round trip: same architecture, config and outputs
    loaded = weights.model_from_checkpoint(weights.read_checkpoint(weights.checkpoint_bytes(model))).eval()
    assert type(loaded) is type(model) and nets.config_dict(loaded) == nets.config_dict(model)
    with torch.no_grad():
        again = loaded(*args)
    again_first = again[0] if isinstance(again, (tuple, list)) else again
    torch.testing.assert_close(again_first, first, rtol=0, atol=0)


@pytest.mark.parametrize("arch", ARCHS)
def test_net_gradients_flow(arch):
    torch.manual_seed(0)
    model = nets.build(arch, {}).train()
    out = model(*nets.EXAMPLES[arch](model.config))
    first = out[0] if isinstance(out, (tuple, list)) else out
    if not first.is_floating_point():
        pytest.skip(f"{arch} outputs {first.dtype} (no gradient to check)")
    # a random linear read-out: its gradient is non-zero even where outputs start at zero
    (first.float() * torch.randn(first.shape, generator=torch.Generator().manual_seed(1))).sum().backward()
    grads = [p.grad for p in model.parameters() if p.requires_grad]
    assert grads and any(g is not None and g.abs().sum() > 0 for g in grads), f"{arch}: no gradient reached the parameters"


@pytest.mark.parametrize("name", DATASETS)
def test_dataset_shapes_dtypes_and_determinism(name):
    a = data.load(name)
    b = data.load(name)
    assert isinstance(a, data.ArrayDataset)
    assert len(a.X) == len(a.y) == len(a) > 0, name
    assert a.y.ndim == 1 and np.issubdtype(a.y.dtype, np.integer), f"{name}: labels {a.y.dtype}"
    assert a.X.dtype in (np.float32, np.int64), f"{name}: features {a.X.dtype}"
    assert a.y.min() >= 0 and a.y.max() < len(a.classes), f"{name}: label outside classes"
    if a.image_shape:
        assert int(np.prod(a.image_shape)) * (a.X.size // (len(a.X) * int(np.prod(a.image_shape)))) == a.X[0].size
    np.testing.assert_array_equal(a.X, b.X)
    np.testing.assert_array_equal(a.y, b.y)
