"""Cached models are shared by every visitor: each page must get its own copy."""
import torch

from ui import cache


def test_checkpoint_copies_are_private():
    a, loaded = cache.checkpoint("ch05_digits_cnn")
    b, _ = cache.checkpoint("ch05_digits_cnn")
    assert a is not b and a is not loaded.model
    x = torch.rand(3, 64)
    reference = loaded.model(x).detach().clone()
    with torch.no_grad():
        for p in a.parameters():
            p.add_(1.0)                      # one visitor fine-tunes "their" model
    a.train()
    assert torch.equal(loaded.model(x), reference) and torch.equal(b(x), reference)
    assert not loaded.model.training


def test_cached_dataset_is_read_only():
    ds = cache.dataset("digits")
    try:
        ds.X[0, 0] = 5.0
        raised = False
    except ValueError:
        raised = True
    assert raised
