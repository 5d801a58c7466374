"""8.4 LSTM gates step by step: nn.LSTM recomputed from its weights, gate by gate, over a sentence."""
from __future__ import annotations

import plotly.graph_objects as go
import torch
from torch import nn

from core.errors import HeroError
from core.lessons.ch08_nlp.tokens import Vocab, build_vocab, clean_text, tokenize

GATES = ("input", "forget", "cell", "output")


def lstm_gates(lstm: nn.LSTM, x: torch.Tensor) -> dict:
    """Recompute a one-layer, batch_first nn.LSTM step by step from its weights.

    x [T, E] (one sequence). For each t (PyTorch's gate order i, f, g, o):
        z = W_ih x_t + b_ih + W_hh h + b_hh;  i, f, o = σ(·), g = tanh(·)
        c = f ⊙ c + i ⊙ g;   h = o ⊙ tanh(c)
    Returns each gate [T, H], h [T, H], c [T, H] and ``max_diff`` against nn.LSTM's own outputs.
    """
    H = lstm.hidden_size
    W_ih, W_hh, b = lstm.weight_ih_l0, lstm.weight_hh_l0, lstm.bias_ih_l0 + lstm.bias_hh_l0
    h, c = W_hh.new_zeros(H), W_hh.new_zeros(H)     # on the LSTM's device
    rows = {g: [] for g in GATES}
    hs, cs = [], []
    with torch.no_grad():
        for x_t in x:
            z = W_ih @ x_t + W_hh @ h + b
            i, f, g, o = z.chunk(4)
            i, f, g, o = torch.sigmoid(i), torch.sigmoid(f), torch.tanh(g), torch.sigmoid(o)
            c = f * c + i * g
            h = o * torch.tanh(c)
            for name, v in zip(GATES, (i, f, g, o)):
                rows[name].append(v)
            hs.append(h)
            cs.append(c)
        ref, (h_n, c_n) = lstm(x.unsqueeze(0))
    h_all, c_all = torch.stack(hs), torch.stack(cs)
    return {**{g: torch.stack(v).numpy() for g, v in rows.items()}, "h": h_all.numpy(), "c": c_all.numpy(),
            "max_diff": float(max((h_all - ref[0]).abs().max(), (c_all[-1] - c_n[0, 0]).abs().max()))}


def gate_demo(text: str, model: nn.Module | None = None, vocab: Vocab | None = None, seed: int = 0,
              max_tokens: int = 30) -> dict:
    """Gates over a sentence. With a trained LSTM sentiment model (+ its vocab) its own embeddings and
    LSTM are used; otherwise a freshly seeded embedding + LSTM (hidden 16) shows the mechanics."""
    text, _ = clean_text(text, 400)
    tokens = tokenize(text)[:max_tokens]
    if not tokens:
        raise HeroError("ch08.no_tokens")
    if model is not None and vocab is not None and isinstance(getattr(model, "rnn", None), nn.LSTM):
        ids = torch.tensor(vocab.encode(tokens))
        emb, lstm, trained = model.embedding, model.rnn, True
    else:
        torch.manual_seed(seed)
        vocab = build_vocab([tokens])
        ids = torch.tensor(vocab.encode(tokens))
        emb, lstm, trained = nn.Embedding(len(vocab), 16), nn.LSTM(16, 16, batch_first=True), False
    with torch.no_grad():
        gates = lstm_gates(lstm, emb(ids))
    return {"tokens": tokens, "trained": trained, **gates}


def gates_figure(gates: dict, tokens: list[str], units: int = 16) -> go.Figure:
    from plotly.subplots import make_subplots
    fig = make_subplots(rows=2, cols=2, subplot_titles=[g for g in GATES], vertical_spacing=0.18)
    labels = [f"{i}:{t}" for i, t in enumerate(tokens)]
    for k, g in enumerate(GATES):
        z = gates[g][:, :units].T                         # [units, T]
        fig.add_trace(go.Heatmap(z=z, x=labels, zmin=-1 if g == "cell" else 0, zmax=1,
                                 colorscale="RdBu" if g == "cell" else "Viridis", showscale=k == 0),
                      row=k // 2 + 1, col=k % 2 + 1)
    fig.update_layout(height=520, margin={"l": 10, "r": 10, "t": 40, "b": 10})
    return fig
