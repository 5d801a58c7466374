"""A graph convolutional network (Kipf & Welling, 2017) for node classification, in plain torch or
with torch_geometric's ``GCNConv`` — the same parameters under the same names, so one state_dict
loads into either and both give the same outputs (tests/test_ch15_ecosystem.py)."""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from core.nets import register


def normalized_adjacency(edge_index: torch.Tensor, n_nodes: int) -> torch.Tensor:
    """Â = D^-1/2 (A + I) D^-1/2 as a dense [N, N] matrix, from edge_index [2, E] (both directions listed).

    Self-loops let a node keep its own features; the symmetric normalisation keeps high-degree
    nodes from blowing up the scale. Entry (i, j) weighs what node j sends to node i.
    """
    a = torch.zeros(n_nodes, n_nodes, device=edge_index.device)
    a[edge_index[1], edge_index[0]] = 1.0                      # message j → i lands in row i
    a = a + torch.eye(n_nodes, device=edge_index.device)
    d = a.sum(1).rsqrt()
    return d[:, None] * a * d[None, :]


class DenseGCNLayer(nn.Module):
    """H' = Â (H W) + b — GCNConv written out (weight in ``lin``, bias apart, as PyG names them)."""

    def __init__(self, in_features: int, out_features: int):
        super().__init__()
        self.lin = nn.Linear(in_features, out_features, bias=False)
        self.bias = nn.Parameter(torch.zeros(out_features))

    def forward(self, h: torch.Tensor, a_hat: torch.Tensor) -> torch.Tensor:
        return a_hat @ self.lin(h) + self.bias


@dataclass
class GCNConfig:
    in_features: int = 34          # karate club: one-hot node ids (no other node features exist)
    hidden: tuple[int, ...] = (4, 4, 2)   # the last width is the embedding drawn in 15.4 (2-D)
    n_classes: int = 4             # PyG's KarateClub: four communities
    conv: str = "plain"            # "plain" (DenseGCNLayer) or "pyg" (torch_geometric.nn.GCNConv)


@register("gcn", GCNConfig, example=lambda c: (torch.eye(5, c.in_features),
                                               torch.tensor([[0, 1, 1, 2, 3, 4], [1, 0, 2, 1, 4, 3]])))
class GCN(nn.Module):
    """x [N, F], edge_index [2, E] → logits [N, n_classes]; ``embed`` gives the last hidden layer [N, hidden[-1]]."""

    def __init__(self, config: GCNConfig):
        super().__init__()
        self.config = config
        widths = (config.in_features, *config.hidden)
        if config.conv == "pyg":
            from torch_geometric.nn import GCNConv   # heavy: only when asked for
            self.convs = nn.ModuleList(GCNConv(i, o) for i, o in zip(widths[:-1], widths[1:]))
        else:
            self.convs = nn.ModuleList(DenseGCNLayer(i, o) for i, o in zip(widths[:-1], widths[1:]))
        self.head = nn.Linear(widths[-1], config.n_classes)

    def embed(self, x: torch.Tensor, edge_index: torch.Tensor) -> torch.Tensor:
        if self.config.conv == "pyg":
            step = lambda conv, h: conv(h, edge_index)            # PyG normalises (and caches nothing) per call
        else:
            a_hat = normalized_adjacency(edge_index, x.shape[0])
            step = lambda conv, h: conv(h, a_hat)
        h = x
        for conv in self.convs:
            h = torch.tanh(step(conv, h))      # tanh, as in PyG's karate-club example
        return h

    def forward(self, x: torch.Tensor, edge_index: torch.Tensor) -> torch.Tensor:
        return self.head(self.embed(x, edge_index))
