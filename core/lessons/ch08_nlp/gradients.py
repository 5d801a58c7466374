"""8.3 Gradients through time: ‖∂L/∂x_t‖ for RNN, LSTM and GRU when the loss reads only the last state."""
from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import torch
from torch import nn

from core.errors import HeroError

MAX_SEQ_STEPS = 200       # longest sequence the gradient-through-time demo accepts

CELLS = ("rnn", "lstm", "gru")


def gradient_through_time(cell: str, seq_len: int = 60, hidden: int = 32, weight_scale: float = 1.0,
                          nonlinearity: str = "tanh", seed: int = 0, forget_bias: float = 1.0) -> np.ndarray:
    """‖∂L/∂x_t‖ for every time step t of one sequence, where L reads only the LAST hidden state.

    x: [1, T, 16] random inputs; the recurrent weights are the default init times ``weight_scale``
    (> 1 pushes a ReLU RNN towards exploding gradients). The LSTM's forget gate and the GRU's update
    gate get ``forget_bias`` added to their bias (1.0, the usual trick "remember by default";
    PyTorch's own init is 0 on average). Returns float array [T]: small values at
    early t mean the loss can barely "see" early inputs — vanishing gradients.
    """
    if not 2 <= seq_len <= MAX_SEQ_STEPS:
        raise HeroError("ch08.bad_length", n=seq_len, max=MAX_SEQ_STEPS)
    torch.manual_seed(seed)
    if cell == "rnn":
        layer = nn.RNN(16, hidden, batch_first=True, nonlinearity=nonlinearity)
    else:
        layer = (nn.LSTM if cell == "lstm" else nn.GRU)(16, hidden, batch_first=True)
    with torch.no_grad():
        layer.weight_hh_l0.mul_(weight_scale)
        if cell != "rnn":   # LSTM gates i, f, g, o: the forget gate; GRU gates r, z, n: the update gate
            layer.bias_hh_l0[hidden:2 * hidden] += forget_bias
    x = torch.randn(1, seq_len, 16, generator=torch.Generator().manual_seed(seed + 1), requires_grad=True)
    out, _ = layer(x)
    readout = torch.randn(hidden, generator=torch.Generator().manual_seed(seed + 2))
    loss = out[0, -1] @ readout               # depends on earlier inputs only through the recurrence
    loss.backward()
    return x.grad[0].norm(dim=1).numpy()


def gradient_comparison(seq_len: int, weight_scale: float = 1.0, nonlinearity: str = "tanh", seed: int = 0,
                        forget_bias: float = 1.0) -> dict:
    """{cell: norms [T]} for RNN, LSTM and GRU on the same inputs, plus which keeps most gradient at t = 0."""
    norms = {c: gradient_through_time(c, seq_len, weight_scale=weight_scale, nonlinearity=nonlinearity, seed=seed,
                                      forget_bias=forget_bias)
             for c in CELLS}
    kept = {c: float(v[0] / max(v[-1], 1e-30)) for c, v in norms.items()}   # first step relative to the last
    return {"norms": norms, "kept": kept, "best": max(kept, key=kept.get)}


def gradient_figure(norms: dict[str, np.ndarray], title: str = "") -> go.Figure:
    fig = go.Figure()
    for cell, v in norms.items():
        fig.add_trace(go.Scatter(x=np.arange(len(v)), y=np.maximum(v, 1e-30), name=cell.upper(), mode="lines"))
    fig.update_layout(title=title, yaxis_type="log", height=360, xaxis_title="t", yaxis_title="‖∂L/∂x_t‖",
                      margin={"l": 10, "r": 10, "t": 40, "b": 10})
    return fig
