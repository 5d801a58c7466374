"""Chapter 2 — Autograd: a typed expression in x, y → its real computation graph, its gradients,
leaf vs non-leaf, accumulation, no_grad/detach, gradient descent, and finite-difference checks.

Plain functions returning data; the Streamlit page and the Gradio widget only draw it.
Typed expressions are parsed with an ``ast`` whitelist and evaluated with torch functions —
never ``eval``/``exec`` — so nothing a visitor types can reach Python itself.
"""
from __future__ import annotations

import ast
import math
import warnings
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Callable

import numpy as np
import plotly.graph_objects as go
import torch
from torch.autograd.gradcheck import GradcheckError

from core.errors import HeroError
from core.viz import LAYOUT, PALETTE

FIG_LAYOUT = {**LAYOUT, "font": dict(size=12)}   # the gallery's layout, slightly smaller text for graphs

# Sizes per preset: tiny keeps tests fast, default answers in ≤ 0.3 s on 2 CPU cores.
PRESETS = {
    "tiny": {"grid": 30, "eps_points": 13, "max_steps": 60, "default_steps": 30},
    "default": {"grid": 70, "eps_points": 29, "max_steps": 200, "default_steps": 60},
    "gpu": {"grid": 90, "eps_points": 29, "max_steps": 500, "default_steps": 60},
}

# --- 1. the safe expression language ------------------------------------------------------------
FUNCTIONS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "sin": torch.sin, "cos": torch.cos, "exp": torch.exp, "log": torch.log, "tanh": torch.tanh,
    "relu": torch.relu, "sigmoid": torch.sigmoid, "sqrt": torch.sqrt, "abs": torch.abs,
}
CONSTANTS = {"pi": math.pi, "e": math.e}
VARIABLES = ("x", "y")
BINARY = {ast.Add: torch.add, ast.Sub: torch.sub, ast.Mult: torch.mul, ast.Div: torch.div, ast.Pow: torch.pow}
MAX_LENGTH = 200        # characters: enough for any textbook function, too short for abuse
MAX_DEPTH = 16          # nesting depth of the syntax tree (parentheses, calls, operators)
MAX_OPS = 40            # operators + function calls: bounds the graph drawn and the work done
MAX_CONSTANT = 1e6      # |number| typed
MAX_POINT = 1e3         # |x|, |y| accepted
ALLOWED = "x, y, pi, e, 1.5, + - * / ** ( ), " + ", ".join(FUNCTIONS)
EXAMPLES = ("x*y + sin(x)", "x**2 + 2*y**2", "sigmoid(x*y)", "exp(-(x**2 + y**2))", "log(1 + exp(x)) - tanh(y)",
            "sqrt(x**2 + y**2)", "relu(x - y) * cos(y)", "(1 - x)**2 + 100*(y - x**2)**2")


@dataclass(frozen=True)
class Expr:
    """A validated expression: ``f(x, y)`` runs it with real torch ops on any broadcastable tensors."""
    text: str
    tree: ast.expr = field(repr=False)

    def __call__(self, x: torch.Tensor, y: torch.Tensor, record: list | None = None) -> torch.Tensor:
        return _run(self.tree, {"x": x, "y": y}, x.dtype, record)


def _normalise(text: str) -> str:
    # Typographic operators a learner may paste; ^ is read as power (in Python it would be XOR).
    for a, b in (("×", "*"), ("·", "*"), ("÷", "/"), ("−", "-"), ("^", "**")):
        text = text.replace(a, b)
    return text.strip()


def _fragment(node: ast.AST) -> str:
    try:
        text = ast.unparse(node)
    except Exception:  # unparse of an odd node: the node type still says what was rejected
        text = type(node).__name__
    return text if len(text) <= 40 else text[:37] + "..."


def _check(node: ast.AST, depth: int) -> None:
    """Reject anything outside the whitelist; raise a HeroError naming the offending fragment."""
    if depth > MAX_DEPTH:
        raise HeroError("ch02.too_deep", max=MAX_DEPTH)
    if isinstance(node, ast.BinOp) and type(node.op) in BINARY:
        _check(node.left, depth + 1)
        _check(node.right, depth + 1)
    elif isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        _check(node.operand, depth + 1)
    elif isinstance(node, ast.Constant) and type(node.value) in (int, float):   # bool/str/complex fail
        if not abs(node.value) <= MAX_CONSTANT:
            raise HeroError("ch02.too_big", value=_fragment(node), max=f"{MAX_CONSTANT:g}")
    elif isinstance(node, ast.Name):
        if node.id in FUNCTIONS:   # "sin" typed without its argument
            raise HeroError("ch02.bad_call", name=node.id)
        if node.id not in VARIABLES and node.id not in CONSTANTS:
            raise HeroError("ch02.bad_name", name=_fragment(node), allowed=ALLOWED)
    elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
        if node.func.id not in FUNCTIONS:
            raise HeroError("ch02.bad_function", name=_fragment(node.func), functions=", ".join(FUNCTIONS))
        if len(node.args) != 1 or node.keywords or isinstance(node.args[0], ast.Starred):
            raise HeroError("ch02.bad_call", name=node.func.id)
        _check(node.args[0], depth + 1)
    else:   # attribute access, subscripts, lambdas, comprehensions, comparisons, strings, ...
        raise HeroError("ch02.not_allowed", fragment=_fragment(node), allowed=ALLOWED)


@lru_cache(maxsize=256)
def parse(text: str) -> Expr:
    """Text → validated ``Expr``. Bounded length, depth and size; HeroError on anything else."""
    text = _normalise(str(text))
    if not text:
        raise HeroError("ch02.empty")
    if len(text) > MAX_LENGTH:
        raise HeroError("ch02.too_long", n=len(text), max=MAX_LENGTH)
    # Cheap pre-check before the Python parser sees deeply nested brackets.
    level = deepest = 0
    for ch in text:
        level += ch in "([{"
        level -= ch in ")]}"
        deepest = max(deepest, level)
    if deepest > MAX_DEPTH:
        raise HeroError("ch02.too_deep", max=MAX_DEPTH)
    try:
        tree = ast.parse(text, mode="eval").body
    except SyntaxError as err:
        raise HeroError("ch02.syntax", col=err.offset or 0) from None
    except (ValueError, RecursionError, MemoryError):   # null bytes, pathological input
        raise HeroError("ch02.syntax", col=0) from None
    _check(tree, 1)
    n_ops = sum(isinstance(n, (ast.BinOp, ast.UnaryOp, ast.Call)) for n in ast.walk(tree))
    if n_ops > MAX_OPS:
        raise HeroError("ch02.too_many_ops", n=n_ops, max=MAX_OPS)
    return Expr(text, tree)


def _run(node: ast.expr, env: dict, dtype: torch.dtype, record: list | None) -> torch.Tensor:
    """Evaluate a validated tree with torch functions; ``record`` collects (tensor, source) per op."""
    if isinstance(node, ast.Constant):
        return torch.tensor(float(node.value), dtype=dtype)       # a constant: no grad, no graph node
    if isinstance(node, ast.Name):
        return env[node.id] if node.id in env else torch.tensor(CONSTANTS[node.id], dtype=dtype)
    if isinstance(node, ast.UnaryOp):
        inner = _run(node.operand, env, dtype, record)
        out = inner if isinstance(node.op, ast.UAdd) else torch.neg(inner)
    elif isinstance(node, ast.Call):
        out = FUNCTIONS[node.func.id](_run(node.args[0], env, dtype, record))
    else:
        left, right = _run(node.left, env, dtype, record), _run(node.right, env, dtype, record)
        if isinstance(node.op, ast.Pow) and not right.requires_grad and right.dim() == 0:
            out = torch.pow(left, right.item())   # x**2 with a number exponent → PowBackward0, as in plain PyTorch
        else:
            out = BINARY[type(node.op)](left, right)
    if record is not None and out.grad_fn is not None:
        record.append((out, ast.unparse(node)))
    return out


# --- 2. the computation graph, read from the real grad_fn chain ----------------------------------
@dataclass
class Node:
    """One node of the autograd graph: a grad_fn (or AccumulateGrad for a leaf)."""
    index: int
    name: str                # grad_fn class name, e.g. "MulBackward0", "AccumulateGrad"
    source: str              # the sub-expression this node computes ("x" for a leaf)
    value: float             # forward value of the tensor it produced
    grad: float | None       # d out / d (this tensor), from retain_grad() + backward()
    is_leaf: bool
    layer: int = 0           # longest path from a leaf: leaves 0, the output last


@dataclass
class Graph:
    expression: str
    output: float
    nodes: list[Node]
    edges: list[tuple[int, int]]          # (input node, consumer node): data flows along the edge
    leaf_grads: dict[str, float | None]   # x.grad, y.grad after backward()


def _leaves(x: float, y: float, requires: tuple[str, ...], dtype=torch.float64) -> dict[str, torch.Tensor]:
    for v in (x, y):
        if not (math.isfinite(v) and abs(v) <= MAX_POINT):
            raise HeroError("ch02.bad_point", max=f"{MAX_POINT:g}")
    return {n: torch.tensor(float(v), dtype=dtype, requires_grad=n in requires) for n, v in (("x", x), ("y", y))}


def _forward(expr: Expr, leaves: dict, record: list | None = None) -> torch.Tensor:
    out = expr(leaves["x"], leaves["y"], record)
    if not torch.isfinite(out).all():
        raise HeroError("ch02.not_finite", value=f"{out.item()}")
    if not out.requires_grad:
        raise HeroError("ch02.no_graph")
    return out


def build_graph(text: str, x: float, y: float, requires: tuple[str, ...] = VARIABLES) -> Graph:
    """Run f(x, y) on leaf tensors, call backward(), and read the graph back from ``out.grad_fn``.

    Nodes are the grad_fn objects reached through ``next_functions`` (AccumulateGrad for leaves);
    every intermediate tensor called ``retain_grad()`` so its ``.grad`` = d out / d tensor.
    """
    expr = parse(text)
    leaves = _leaves(x, y, requires)
    record: list[tuple[torch.Tensor, str]] = []
    out = _forward(expr, leaves, record)
    # 1. keep the gradient of every intermediate (non-leaf tensors drop .grad by default)
    for tensor, _ in record:
        tensor.retain_grad()
    out.backward()
    by_fn = {id(t.grad_fn): (t, src) for t, src in record}
    leaf_name = {id(t): n for n, t in leaves.items()}
    # 2. walk grad_fn → next_functions, numbering each distinct node once
    nodes: dict[int, Node] = {}
    edges: list[tuple[int, int]] = []
    inputs: dict[int, list[int]] = {}

    def visit(fn) -> int:
        if id(fn) in nodes:
            return nodes[id(fn)].index
        if type(fn).__name__ == "AccumulateGrad":
            leaf = fn.variable
            node = Node(len(nodes), "AccumulateGrad", leaf_name.get(id(leaf), "?"), leaf.item(),
                        None if leaf.grad is None else leaf.grad.item(), True)
        else:
            tensor, src = by_fn[id(fn)]
            node = Node(len(nodes), type(fn).__name__, src, tensor.item(),
                        None if tensor.grad is None else tensor.grad.item(), False)
        nodes[id(fn)] = node
        inputs[node.index] = [visit(nxt) for nxt, _ in fn.next_functions if nxt is not None]
        edges.extend((i, node.index) for i in inputs[node.index])
        return node.index

    if out.grad_fn is None:   # the expression is just "x": the output *is* the leaf
        leaf = next(t for t in leaves.values() if t is out)
        nodes[0] = Node(0, "AccumulateGrad", leaf_name[id(leaf)], leaf.item(), leaf.grad.item(), True)
        inputs[0] = []
    else:
        visit(out.grad_fn)
    ordered = sorted(nodes.values(), key=lambda n: n.index)

    # 3. layers for drawing: longest path from a leaf (leaves 0, the output last)
    def layer(i: int) -> int:
        ordered[i].layer = max((layer(j) + 1 for j in inputs[i]), default=0)
        return ordered[i].layer

    layer(0)
    return Graph(expr.text, out.item(), ordered, edges,
                 {n: None if t.grad is None else t.grad.item() for n, t in leaves.items()})


def graph_figure(graph: Graph, value_label: str = "value", grad_label: str = "grad",
                 detail: bool = True) -> go.Figure:
    """Layered drawing of the graph: leaves on the left, the output on the right, arrows = data flow.

    ``detail=False`` labels nodes with their name and sub-expression only (for narrow columns).
    """
    by_layer: dict[int, list[Node]] = {}
    for node in graph.nodes:
        by_layer.setdefault(node.layer, []).append(node)
    pos: dict[int, tuple[float, float]] = {}
    for layer in sorted(by_layer):
        members = by_layer[layer]
        if layer > 0:   # order a layer by where its inputs sit: fewer crossing arrows
            members.sort(key=lambda n: -np.mean([pos[a][1] for a, b in graph.edges if b == n.index] or [0]))
        for i, node in enumerate(members):
            pos[node.index] = (float(layer), (len(members) - 1) / 2 - i)
    # Edges: one line trace, an arrow marker at the consumer end (one trace is far cheaper than annotations).
    ex, ey, sizes = [], [], []
    for a, b in graph.edges:
        (x0, y0), (x1, y1) = pos[a], pos[b]
        shrink = 0.07 / max(1e-9, math.hypot(x1 - x0, y1 - y0))    # stop short of the node marker
        ex += [x0, x1 - (x1 - x0) * shrink, None]
        ey += [y0, y1 - (y1 - y0) * shrink, None]
        sizes += [0, 11, 0]
    fig = go.Figure(go.Scatter(x=ex, y=ey, mode="lines+markers", line=dict(color="#999", width=1.5),
                               marker=dict(symbol="arrow", angleref="previous", size=sizes, color="#999"),
                               hoverinfo="skip", showlegend=False))
    out_layer = max(by_layer)
    colours = ["#2ca02c" if n.is_leaf else PALETTE[0] if n.layer == out_layer else "#1f77b4" for n in graph.nodes]
    fmt = lambda v: "None" if v is None else f"{v:.4g}"  # noqa: E731
    fig.add_trace(go.Scatter(
        x=[pos[n.index][0] for n in graph.nodes], y=[pos[n.index][1] for n in graph.nodes], mode="markers+text",
        marker=dict(size=18, color=colours, symbol=["square" if n.is_leaf else "circle" for n in graph.nodes]),
        text=[f"<b>{n.name}</b><br>{n.source if len(n.source) <= 18 else n.source[:16] + '…'}"
              + (f"<br>{value_label}={fmt(n.value)} · {grad_label}={fmt(n.grad)}" if detail else "")
              for n in graph.nodes],
        textposition="top center",
        textfont=dict(size=11), hovertext=[f"{n.name}: {n.source}" for n in graph.nodes], hoverinfo="text",
        showlegend=False, cliponaxis=False))
    tallest = max(len(m) for m in by_layer.values())
    return fig.update_layout(
        **{**FIG_LAYOUT, "height": max(300, 110 * tallest + 120), "margin": dict(l=70, r=70, t=30, b=30)},
        xaxis=dict(visible=False, range=[-0.5, out_layer + 0.5]),
        yaxis=dict(visible=False, range=[-(tallest - 1) / 2 - 0.4, (tallest - 1) / 2 + 0.9]))


# --- 3. leaf vs non-leaf, .grad and retain_grad ----------------------------------------------------
def tensor_table(text: str, x: float, y: float, requires: tuple[str, ...] = VARIABLES) -> list[dict]:
    """One row per tensor (x, y, every intermediate): is_leaf, requires_grad, grad_fn, and ``.grad``
    after ``backward()`` both without and with ``retain_grad()`` on the intermediates."""
    expr = parse(text)
    rows = []
    for retain in (False, True):
        leaves = _leaves(x, y, requires)
        record: list[tuple[torch.Tensor, str]] = []
        out = _forward(expr, leaves, record)
        if retain:
            for tensor, _ in record:
                tensor.retain_grad()
        out.backward()
        tensors = [(n, t) for n, t in leaves.items()] + [(src, t) for t, src in record]
        with warnings.catch_warnings():   # reading .grad of a non-leaf warns; showing None is the lesson
            warnings.simplefilter("ignore")
            grads = [None if t.grad is None else t.grad.item() for _, t in tensors]
        if not retain:
            rows = [{"tensor": n, "is_leaf": t.is_leaf, "requires_grad": t.requires_grad,
                     "grad_fn": None if t.grad_fn is None else type(t.grad_fn).__name__, "grad": g}
                    for (n, t), g in zip(tensors, grads)]
        else:
            for row, g in zip(rows, grads):
                row["grad_retained"] = g
    return rows


# --- 4. gradient accumulation -----------------------------------------------------------------------
def accumulate(text: str, x: float, y: float, calls: int, zero_grad: bool) -> list[dict]:
    """Run forward + backward ``calls`` times on the same leaves; x.grad/y.grad after each call.

    Without zeroing, backward() *adds* into ``.grad``: after two calls it holds twice the gradient.
    """
    expr = parse(text)
    calls = max(1, min(int(calls), 10))   # capped: a handful of calls shows the pattern
    leaves = _leaves(x, y, VARIABLES)
    rows = []
    for call in range(1, calls + 1):
        if zero_grad:
            for leaf in leaves.values():
                leaf.grad = None          # what optimizer.zero_grad() does (set_to_none=True)
        out = _forward(expr, leaves)      # a fresh graph each call, as in a training loop
        out.backward()
        rows.append({"call": call, **{f"{n}.grad": t.grad.item() for n, t in leaves.items()}})
    return rows


# --- 5. torch.no_grad() and .detach() ---------------------------------------------------------------
def grad_control(text: str, x: float, y: float) -> list[dict]:
    """The same expression computed normally, under ``torch.no_grad()``, and with ``x.detach()``.

    Reports requires_grad / grad_fn of the output and x.grad, y.grad after trying backward();
    ``error`` holds PyTorch's own message when backward() is impossible (no graph recorded).
    """
    expr = parse(text)
    rows = []
    for mode in ("normal", "no_grad", "detach_x"):
        leaves = _leaves(x, y, VARIABLES)
        if mode == "no_grad":
            with torch.no_grad():
                out = expr(leaves["x"], leaves["y"])
        elif mode == "detach_x":
            out = expr(leaves["x"].detach(), leaves["y"])   # the graph is cut at x
        else:
            out = expr(leaves["x"], leaves["y"])
        error = None
        try:
            out.backward()
        except RuntimeError as err:
            error = str(err).splitlines()[0]
        rows.append({"mode": mode, "value": out.item(), "requires_grad": out.requires_grad,
                     "grad_fn": None if out.grad_fn is None else type(out.grad_fn).__name__,
                     "x.grad": None if leaves["x"].grad is None else leaves["x"].grad.item(),
                     "y.grad": None if leaves["y"].grad is None else leaves["y"].grad.item(), "error": error})
    return rows


# --- 6. gradient descent on a 2-D surface ----------------------------------------------------------
SURFACES = {"bowl": "x**2 + 2*y**2", "rosenbrock": "(1 - x)**2 + 100*(y - x**2)**2", "saddle": "x**2 - y**2",
            "wavy": "sin(x) * cos(y) + 0.1*(x**2 + y**2)"}


@dataclass
class Descent:
    path: np.ndarray         # [steps + 1, 2] visited (x, y)
    values: np.ndarray       # [steps + 1] f along the path
    diverged: bool           # stopped early: f or the point became non-finite / left |x|,|y| ≤ 1e6


def gradient_descent(text: str, x0: float, y0: float, lr: float, steps: int) -> Descent:
    """Plain gradient descent with autograd: p -= lr * p.grad, then zero the grad."""
    expr = parse(text)
    steps = max(0, min(int(steps), 1000))
    _leaves(x0, y0, ())
    x = torch.tensor(float(x0), dtype=torch.float64, requires_grad=True)
    y = torch.tensor(float(y0), dtype=torch.float64, requires_grad=True)
    path, values, diverged = [], [], False
    for step in range(steps + 1):
        f = expr(x, y)
        path.append((x.item(), y.item()))
        values.append(f.item())
        if not math.isfinite(values[-1]) or max(abs(path[-1][0]), abs(path[-1][1])) > 1e6:
            diverged = True
            break
        if step == steps:
            break
        f.backward()                      # 1. gradient of f at (x, y) lands in x.grad, y.grad
        with torch.no_grad():             # 2. the update itself must not be recorded
            for p in (x, y):
                if p.grad is not None:    # (a variable f does not use gets no gradient)
                    p -= lr * p.grad
                p.grad = None             # 3. zero it, or the next step would add to it
    return Descent(np.asarray(path), np.asarray(values), diverged)


def surface_grid(text: str, xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
    """f on a grid [len(ys), len(xs)], evaluated in one vectorised call (no graph needed)."""
    expr = parse(text)
    X, Y = np.meshgrid(xs, ys)
    with torch.no_grad():
        z = expr(torch.from_numpy(X), torch.from_numpy(Y)).numpy()
    z = np.broadcast_to(z, X.shape).astype(float)
    return np.where(np.isfinite(z), z, np.nan)


def descent_history(descent: Descent) -> list[dict]:
    """The walk as one event per step ({"step", "f", "x", "y"}), the shape compare-runs overlays."""
    return [{"step": i, "f": float(v), "x": float(p[0]), "y": float(p[1])}
            for i, (p, v) in enumerate(zip(descent.path, descent.values))]


def descent_figure(text: str, descent: Descent, resolution: int = 70, title: str = "",
                   others: dict[str, Descent] | None = None, name: str = "path") -> go.Figure:
    """Contour of log(1 + f − min f) with the descent path drawn on top; ``others`` (name →
    Descent on the same surface, e.g. pinned runs at other learning rates) are overlaid."""
    others = others or {}
    finite = np.concatenate([d.path for d in (descent, *others.values())])
    finite = finite[np.isfinite(finite).all(1)]
    lo = np.clip(np.minimum(finite.min(0), -2.0), -20, 20)
    hi = np.clip(np.maximum(finite.max(0), 2.0), -20, 20)
    pad = 0.1 * (hi - lo)
    xs = np.linspace(lo[0] - pad[0], hi[0] + pad[0], resolution)
    ys = np.linspace(lo[1] - pad[1], hi[1] + pad[1], resolution)
    z = surface_grid(text, xs, ys)
    shown = np.log1p(z - np.nanmin(z)) if np.isfinite(z).any() else z   # log: Rosenbrock's valley stays visible
    fig = go.Figure(go.Contour(x=xs, y=ys, z=shown, colorscale="Viridis", ncontours=25, showscale=False,
                               hoverinfo="skip"))
    for i, (label, d) in enumerate(others.items(), start=1):
        fig.add_trace(go.Scatter(x=d.path[:, 0], y=d.path[:, 1], mode="lines+markers", name=label,
                                 line=dict(color=PALETTE[i % len(PALETTE)], width=2, dash="dot"), marker=dict(size=3)))
    fig.add_trace(go.Scatter(x=descent.path[:, 0], y=descent.path[:, 1], mode="lines+markers", name=name,
                             line=dict(color=PALETTE[0], width=2), marker=dict(size=4)))
    fig.add_trace(go.Scatter(x=descent.path[:1, 0], y=descent.path[:1, 1], mode="markers", name="start",
                             marker=dict(size=11, color="white", line=dict(width=2, color=PALETTE[0])), showlegend=False))
    return fig.update_layout(**{**FIG_LAYOUT, "title": title, "height": 400, "showlegend": bool(others)},
                             xaxis=dict(title="x", range=[xs[0], xs[-1]]),
                             yaxis=dict(title="y", range=[ys[0], ys[-1]]))


# --- 7. 实战: autograd vs finite differences, gradcheck ---------------------------------------------
def autograd_gradient(text: str, x: float, y: float, dtype: torch.dtype = torch.float64) -> dict[str, float]:
    """∂f/∂x and ∂f/∂y by autograd (``torch.autograd.grad``)."""
    expr = parse(text)
    leaves = _leaves(x, y, VARIABLES, dtype)
    out = _forward(expr, leaves)
    gx, gy = torch.autograd.grad(out, [leaves["x"], leaves["y"]], allow_unused=True)
    return {"x": 0.0 if gx is None else gx.item(), "y": 0.0 if gy is None else gy.item()}


def central_difference(text: str, x: float, y: float, wrt: str, eps: float,
                       dtype: torch.dtype = torch.float64) -> float:
    """(f(p + eps·e) − f(p − eps·e)) / (2·eps), computed entirely in ``dtype``."""
    expr = parse(text)
    point = {"x": torch.tensor(x, dtype=dtype), "y": torch.tensor(y, dtype=dtype)}
    h = torch.tensor(eps, dtype=dtype)
    plus, minus = dict(point), dict(point)
    plus[wrt], minus[wrt] = point[wrt] + h, point[wrt] - h
    with torch.no_grad():
        diff = (expr(plus["x"], plus["y"]) - expr(minus["x"], minus["y"])) / (2 * h)
    return diff.item()


def eps_sweep(text: str, x: float, y: float, wrt: str = "x", points: int = 29) -> dict:
    """Error |FD − autograd(float64)| for eps from 1e-1 down to 1e-15, in float32 and float64.

    Truncation error ~ eps² falls as eps shrinks; round-off ~ machine_eps / eps rises: the best
    eps sits near machine_eps^(1/3) (≈ 6e-6 in float64, ≈ 5e-3 in float32).
    """
    if wrt not in VARIABLES:
        raise HeroError("ch02.bad_name", name=wrt, allowed="x, y")
    exact = autograd_gradient(text, x, y)[wrt]
    eps = np.logspace(-1, -15, max(3, min(int(points), 57)))
    result = {"eps": eps, "exact": exact, "wrt": wrt}
    for name, dtype in (("float32", torch.float32), ("float64", torch.float64)):
        fd = np.array([central_difference(text, x, y, wrt, float(e), dtype) for e in eps])
        err = np.abs(fd - exact)
        result[name] = {"fd": fd, "error": err, "best_eps": float(eps[np.nanargmin(err)]) if np.isfinite(err).any()
                        else float("nan"), "theory_eps": torch.finfo(dtype).eps ** (1 / 3)}
    return result


def eps_figure(sweep: dict, title: str = "", x_title: str = "eps", y_title: str = "error") -> go.Figure:
    """Log-log error vs eps, eps shrinking left to right: truncation error falls, then round-off rises."""
    fig = go.Figure()
    for i, name in enumerate(("float32", "float64")):
        err = np.maximum(sweep[name]["error"], 1e-18)   # an exact 0 cannot sit on a log axis
        fig.add_trace(go.Scatter(x=sweep["eps"], y=err, mode="lines+markers", name=name,
                                 line=dict(color=PALETTE[i])))
        # machine_eps^(1/3): where theory puts the bottom of the V (a plain trace: add_vline is slow)
        fig.add_trace(go.Scatter(x=[sweep[name]["theory_eps"]] * 2, y=[1e-18, 1], mode="lines", showlegend=False,
                                 line=dict(color=PALETTE[i], dash="dot", width=1), hoverinfo="skip"))
    return fig.update_layout(**{**FIG_LAYOUT, "title": title, "height": 360},
                             xaxis=dict(type="log", title=x_title, autorange="reversed"),
                             yaxis=dict(type="log", title=y_title, exponentformat="power"))


def gradcheck_expression(text: str, x: float, y: float) -> dict:
    """``torch.autograd.gradcheck`` on f at (x, y) in float64: analytic vs numerical Jacobian."""
    expr = parse(text)
    leaves = _leaves(x, y, VARIABLES)
    _forward(expr, leaves)
    return _gradcheck(lambda a, b: expr(a, b), (leaves["x"], leaves["y"]))


def _gradcheck(fn: Callable, inputs: tuple) -> dict:
    try:
        passed = torch.autograd.gradcheck(fn, inputs, eps=1e-6, atol=1e-5, rtol=1e-3)
        return {"passed": bool(passed), "message": ""}
    except GradcheckError as err:
        return {"passed": False, "message": str(err)[:700]}


MISTAKES = ("none", "wrong_derivative", "forgot_grad_output")


class MySin(torch.autograd.Function):
    """sin with a hand-written backward — and optionally a classic mistake in it."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, mistake: str = "none") -> torch.Tensor:
        ctx.save_for_backward(x)
        ctx.mistake = mistake
        return torch.sin(x)

    @staticmethod
    def backward(ctx, grad_output: torch.Tensor):
        (x,) = ctx.saved_tensors
        if ctx.mistake == "wrong_derivative":
            return grad_output * -torch.cos(x), None      # sign slip: d sin = +cos
        if ctx.mistake == "forgot_grad_output":
            return torch.cos(x), None                     # chain rule dropped: ignores the upstream grad
        return grad_output * torch.cos(x), None           # correct: vector-Jacobian product


def gradcheck_custom(mistake: str = "none", seed: int = 0) -> dict:
    """gradcheck on ``MySin`` over a random float64 vector [4]; catches a wrong backward."""
    if mistake not in MISTAKES:
        raise HeroError("ch02.bad_mistake", choices=", ".join(MISTAKES))
    x = torch.randn(4, dtype=torch.float64, generator=torch.Generator().manual_seed(seed), requires_grad=True)
    return _gradcheck(lambda t: MySin.apply(t, mistake), (x,))


# --- code panels: runnable snippets generated from the widget state --------------------------------
class _ToTorch(ast.NodeTransformer):
    """sin(x) → torch.sin(x), pi → math.pi: the typed expression as plain PyTorch code."""

    def visit_Call(self, node: ast.Call) -> ast.AST:
        self.generic_visit(node)
        node.func = ast.Attribute(ast.Name("torch", ast.Load()), node.func.id, ast.Load())
        return node

    def visit_Name(self, node: ast.Name) -> ast.AST:
        return ast.Attribute(ast.Name("math", ast.Load()), node.id, ast.Load()) if node.id in CONSTANTS else node


def graph_snippet(text: str, x: float, y: float) -> str:
    """A runnable script reproducing the graph demo for the current expression and point."""
    import copy
    body = ast.unparse(_ToTorch().visit(copy.deepcopy(parse(text).tree)))
    return (f"import math\nimport torch\n\nx = torch.tensor({float(x)!r}, dtype=torch.float64, requires_grad=True)\n"
            f"y = torch.tensor({float(y)!r}, dtype=torch.float64, requires_grad=True)\nout = {body}\n"
            "print(out.grad_fn, out.grad_fn.next_functions)\nout.backward()\nprint(x.grad, y.grad)\n")
