"""3.2 Dropout and BatchNorm: the same input in train vs eval mode."""
from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import torch
from torch import nn

from core.viz import PALETTE, style as _layout


# ---------------------------------------------------------------- Dropout / BatchNorm: train vs eval

def dropout_train_eval(x: torch.Tensor, p: float, seed: int = 0) -> dict:
    """The same input through ``nn.Dropout(p)`` twice in train mode and twice in eval mode.

    x: any shape. Train: each entry is zeroed with probability p, survivors scaled by 1/(1-p),
    so the expected value is unchanged. Eval: the identity.
    """
    drop = nn.Dropout(p)
    torch.manual_seed(seed)
    drop.train()
    a, b = drop(x), drop(x)
    drop.eval()
    e1, e2 = drop(x), drop(x)
    nonzero = x != 0
    return {"train_a": a, "train_b": b, "eval_a": e1, "eval_b": e2,
            "zero_fraction": float(((a == 0) & nonzero).sum() / max(int(nonzero.sum()), 1)),
            "scale": 1 / (1 - p) if p < 1 else float("inf"),
            "train_differ": not torch.equal(a, b), "eval_identity": torch.equal(e1, x) and torch.equal(e2, x)}


def batchnorm_train_eval(X: torch.Tensor, batch_size: int = 32, steps: int = 40, momentum: float = 0.1,
                         seed: int = 0, watch: int = 36) -> dict:
    """Feed ``steps`` random batches of X [N, F] through ``nn.BatchNorm1d(F)`` in train mode.

    Returns the trace of running_mean[watch] and running_var[watch] [steps + 1], the data's true
    mean/var of that feature, and one sample normalised inside two different batches (train:
    depends on the batch) vs twice in eval mode (uses running stats: identical).
    """
    gen = torch.Generator().manual_seed(seed)
    bn = nn.BatchNorm1d(X.shape[1], momentum=momentum)
    means, vars_ = [float(bn.running_mean[watch])], [float(bn.running_var[watch])]
    bn.train()
    with torch.no_grad():
        for _ in range(steps):
            bn(X[torch.randint(len(X), (batch_size,), generator=gen)])
            means.append(float(bn.running_mean[watch]))
            vars_.append(float(bn.running_var[watch]))
        sample = X[:1]
        others = [X[torch.randint(len(X), (batch_size - 1,), generator=gen)] for _ in range(2)]
        train_outs = [bn(torch.cat([sample, o]))[0] for o in others]
        bn.eval()
        eval_outs = [bn(torch.cat([sample, o]))[0] for o in others]
    return {"running_mean": np.array(means), "running_var": np.array(vars_),
            "data_mean": float(X[:, watch].mean()), "data_var": float(X[:, watch].var()),
            "train_outs": train_outs, "eval_outs": eval_outs, "module": bn, "sample": sample[0],
            "num_batches_tracked": int(bn.num_batches_tracked)}


def running_stats_figure(bn: dict, labels: tuple[str, str] = ("running_mean", "data mean")) -> go.Figure:
    steps = np.arange(len(bn["running_mean"]))
    fig = go.Figure([go.Scatter(x=steps, y=bn["running_mean"], name=labels[0], line=dict(color=PALETTE[0])),
                     go.Scatter(x=steps, y=[bn["data_mean"]] * len(steps), name=labels[1],
                                line=dict(color=PALETTE[1], dash="dash"))])
    return _layout(fig, height=280, xaxis=dict(title="step"))
