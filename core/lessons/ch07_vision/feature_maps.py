"""7.1 Feature maps: every 4-D activation of the trained ch05 digit CNN, caught with forward hooks."""
from __future__ import annotations

import torch
from torch import nn

from core import data as datasets
from core import nets
from core.train import fit, make_optimizer, record


FEATURE_CHECKPOINT = "ch05_mnist_cnn"   # the trained 28×28 digit CNN of chapter 5


@torch.no_grad()
def feature_maps(model: nn.Module, x: torch.Tensor) -> dict:
    """Every 4-D activation of ``model`` on one input x [1, D], caught with forward hooks.

    Returns {"layers": [{"name", "type", "maps" [C, H, W]}...] in forward order, "probs" [classes]}.
    """
    found: list[dict] = []
    hooks = [module.register_forward_hook(
        lambda mod, inp, out, name=name: found.append({"name": name, "type": type(mod).__name__,
                                                       "maps": out[0].detach().numpy().copy()})
        if out.ndim == 4 else None)
        for name, module in model.named_modules() if not list(module.children())]
    try:
        was_training = model.training
        probs = model.eval()(x).softmax(-1)[0].numpy()
        model.train(was_training)
    finally:
        for h in hooks:
            h.remove()
    return {"layers": found, "probs": probs}


def quick_digit_cnn(epochs: int = 1, n_train: int = 2000, seed: int = 0) -> nn.Module:
    """A stand-in for the shipped ch05 MNIST CNN, trained here in seconds (for a take-home script)."""
    torch.manual_seed(seed)
    ds = datasets.load("mnist5k")
    X, y = torch.from_numpy(ds.X[:n_train].copy()), torch.from_numpy(ds.y[:n_train].copy()).long()
    model = nets.build("small_cnn", {"image_size": 28, "channels": 16, "n_classes": 10})
    record(fit(model, (X, y), None, optimizer=make_optimizer("adam", model.parameters(), 3e-3), epochs=epochs,
               batch_size=64, seed=seed))
    return model.eval()
