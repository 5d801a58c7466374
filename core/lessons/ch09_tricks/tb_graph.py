"""9.5 The model graph TensorBoard shows: the GraphDef that ``SummaryWriter.add_graph`` wrote into
the event file, read back and drawn as a node-link figure (operations left → right in data-flow order)."""
from __future__ import annotations

from pathlib import Path

import plotly.graph_objects as go

from core.viz import PALETTE, style as _layout

# Nodes TensorBoard folds into their module: constants and the attribute reads of weights/biases.
HIDDEN_OPS = ("prim::Constant", "prim::GetAttr", "prim::ListConstruct", "prim::TupleConstruct",
              "prim::TupleUnpack", "prim::NumToTensor")


def read_graph(run_dir: str | Path) -> list[dict]:
    """The GraphDef in a run's event files (read with TensorBoard's ``EventAccumulator``) as
    ``graph_nodes``; empty when no graph was logged."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    acc = EventAccumulator(str(run_dir), size_guidance={"scalars": 1, "histograms": 1})
    acc.Reload()
    return graph_nodes(acc.Graph()) if acc.Tags().get("graph") else []


def graph_nodes(graph_def) -> list[dict]:
    """A ``GraphDef`` proto (what ``add_graph`` writes) → one dict per node: {"name" (the traced
    scope path, e.g. ``MLP/Sequential[net]/Linear[0]/input.3``), "op" (``aten::linear``,
    ``IO Node``, …), "inputs" [names], "shape" [sizes of its first output] or None, "module"
    (the innermost module, e.g. ``Linear[0]``)}."""
    nodes = []
    for node in graph_def.node:
        shapes = node.attr["_output_shapes"].list.shape if "_output_shapes" in node.attr else []
        shape = [d.size for d in shapes[0].dim] if shapes else None
        parts = [p for p in node.name.split("/")[:-1] if p]   # the scope path without the value's own name
        module = next((p for p in reversed(parts) if "[" in p), parts[-1] if parts else node.name)
        nodes.append({"name": node.name, "op": node.op, "inputs": list(node.input), "shape": shape,
                      "module": module})
    return nodes


def visible_graph(nodes: list[dict]) -> tuple[list[dict], list[tuple[int, int]]]:
    """Drop constants and weight reads (TensorBoard hides them inside the module box too) and give
    each remaining node a column: its longest distance from the inputs. Returns (nodes with "x",
    "y" and "label", edges as index pairs)."""
    shown = [n for n in nodes if n["op"] not in HIDDEN_OPS]
    index = {n["name"]: i for i, n in enumerate(shown)}
    edges = [(index[src], i) for i, n in enumerate(shown) for src in n["inputs"] if src in index]
    depth = [0] * len(shown)
    for _ in range(len(shown)):                       # longest path, relaxed until stable (DAG: ≤ n rounds)
        changed = False
        for a, b in edges:
            if depth[b] < depth[a] + 1:
                depth[b], changed = depth[a] + 1, True
        if not changed:
            break
    rows: dict[int, int] = {}
    out = []
    for n, x in zip(shown, depth):
        y = rows[x] = rows.get(x, -1) + 1
        op = n["op"].split("::")[-1]
        if n["op"] == "IO Node":
            label = n["name"].split("/")[0]            # "input" / "output"
        else:
            label = f"{n['module']}: {op}"             # e.g. "Linear[0]: linear"
        out.append({**n, "x": x, "y": y, "label": label})
    return out, edges


def graph_figure(nodes: list[dict], title: str = "") -> go.Figure:
    """A node-link drawing of ``read_graph`` nodes: one column per step of the data flow, arrows
    from each input to its consumer, hover text with the full scope name, op and output shape."""
    shown, edges = visible_graph(nodes)
    fig = go.Figure()
    for a, b in edges:
        fig.add_annotation(x=shown[b]["x"], y=-shown[b]["y"], ax=shown[a]["x"], ay=-shown[a]["y"], xref="x",
                           yref="y", axref="x", ayref="y", showarrow=True, arrowhead=3, arrowsize=1.2,
                           arrowwidth=1.2, arrowcolor="#9aa0a6", standoff=14, startstandoff=14, text="")
    kinds = sorted({n["op"] for n in shown})
    for k, op in enumerate(kinds):
        group = [n for n in shown if n["op"] == op]
        fig.add_trace(go.Scatter(
            x=[n["x"] for n in group], y=[-n["y"] for n in group], mode="markers+text", name=op,
            text=[n["label"] for n in group], textposition="top center",
            marker=dict(size=22, symbol="square" if op == "IO Node" else "circle",
                        color=PALETTE[k % len(PALETTE)], line=dict(width=1, color="white")),
            hovertext=[f"{n['name']}<br>{n['op']}<br>shape {n['shape']}" for n in group], hoverinfo="text"))
    height = 260 + 60 * max((n["y"] for n in shown), default=0)
    return _layout(fig, title, height=height, xaxis=dict(visible=False), yaxis=dict(visible=False),
                   legend=dict(orientation="h"))
