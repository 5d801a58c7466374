"""1.2–1.3 Creating tensors: every factory with dtype, and what the tensor looks like."""
from __future__ import annotations

import ast
import math
from dataclasses import dataclass

import numpy as np
import plotly.graph_objects as go
import torch

from core.errors import HeroError
from core.viz import PALETTE

from .limits import DTYPES, FACTORIES, GRID_SHOWN, MAX_ELEMENTS, MAX_LITERAL, MAX_TEXT, _layout, _torch_error
from .shapes import check_size


# --------------------------------------------------------------------------- 1.2–1.3 creation

def parse_literal(text: str) -> list | float | int | bool:
    """A nested list literal like ``[[1, 2], [3.5, -4]]`` (numbers, True/False only)."""
    if len(text) > 20 * MAX_TEXT:
        raise HeroError("ch01.too_long", max=20 * MAX_TEXT)
    try:
        node = ast.parse(text.strip(), mode="eval").body
    except SyntaxError:
        raise HeroError("ch01.bad_literal") from None
    count = [0]

    def build(n):
        if isinstance(n, (ast.List, ast.Tuple)):
            return [build(e) for e in n.elts]
        if isinstance(n, ast.UnaryOp) and isinstance(n.op, (ast.USub, ast.UAdd)):
            v = build(n.operand)
            if isinstance(v, list) or type(v) is bool:
                raise HeroError("ch01.bad_literal")
            return -v if isinstance(n.op, ast.USub) else v
        if isinstance(n, ast.Constant) and type(n.value) in (int, float, bool):
            count[0] += 1
            if count[0] > MAX_LITERAL or (type(n.value) is int and abs(n.value) > 2**62):
                raise HeroError("ch01.too_big", n=count[0], max=MAX_LITERAL)
            return n.value
        raise HeroError("ch01.bad_literal")

    return build(node)


@dataclass
class Created:
    tensor: torch.Tensor
    code: str            # the torch call that produced it, runnable as shown
    props: dict


def tensor_properties(x: torch.Tensor) -> dict:
    """The attributes section 1.3 is about, read from the tensor itself."""
    return {"dtype": str(x.dtype), "device": str(x.device), "shape": tuple(x.shape), "ndim": x.ndim,
            "numel": x.numel(), "stride": x.stride(), "is_contiguous": x.is_contiguous(),
            "element_size": x.element_size(), "nbytes": x.nbytes, "requires_grad": x.requires_grad,
            "is_leaf": x.is_leaf}


def create(factory: str, shape: tuple[int, ...], dtype: str = "float32", seed: int = 0,
           fill: float = 7.0, start: float = 0.0, end: float = 10.0, step: float = 1.0,
           data: str = "[[1, 2, 3], [4, 5, 6]]", requires_grad: bool = False) -> Created:
    """Run one factory (``torch.zeros(shape, dtype=...)`` …) and describe the tensor it made.

    ``shape`` is used by the shaped factories; ``arange`` is 1-D from start/end/step,
    ``linspace`` gives numel(shape) points reshaped to ``shape``, ``eye`` takes (n,) or (n, m).
    Torch's own errors (e.g. randn with an integer dtype) come back as HeroError ``ch01.torch_error``.
    """
    if factory not in FACTORIES or dtype not in DTYPES:
        raise HeroError("ch01.bad_choice", value=f"{factory}/{dtype}")
    dt = DTYPES[dtype]
    check_size(shape)
    dims = ", ".join(map(str, shape)) + ("," if len(shape) == 1 else "")
    kw = f"dtype=torch.{dtype}" + (", requires_grad=True" if requires_grad else "")
    gen = torch.Generator().manual_seed(seed)
    try:
        if factory == "tensor":
            values = parse_literal(data)
            x = torch.tensor(values, dtype=dt, requires_grad=requires_grad)
            code = f"x = torch.tensor({data.strip()}, {kw})"
        elif factory in ("zeros", "ones"):
            x = getattr(torch, factory)(shape, dtype=dt, requires_grad=requires_grad)
            code = f"x = torch.{factory}(({dims}), {kw})"
        elif factory == "full":
            x = torch.full(shape, fill, dtype=dt, requires_grad=requires_grad)
            code = f"x = torch.full(({dims}), {fill}, {kw})"
        elif factory == "arange":
            if step == 0 or (end - start) / step > MAX_ELEMENTS:
                raise HeroError("ch01.too_big", n="∞" if step == 0 else math.ceil((end - start) / step),
                                max=MAX_ELEMENTS)
            x = torch.arange(start, end, step, dtype=dt, requires_grad=requires_grad)
            code = f"x = torch.arange({start}, {end}, {step}, {kw})"
        elif factory == "linspace":
            x = torch.linspace(start, end, math.prod(shape), dtype=dt).reshape(shape)
            x.requires_grad_(requires_grad)
            code = f"x = torch.linspace({start}, {end}, {math.prod(shape)}, dtype=torch.{dtype}).reshape({dims})"
            code += ".requires_grad_()" if requires_grad else ""
        elif factory == "eye":
            if len(shape) > 2:
                raise HeroError("ch01.eye_dims", n=len(shape))
            x = torch.eye(*shape, dtype=dt, requires_grad=requires_grad)
            code = f"x = torch.eye({', '.join(map(str, shape))}, {kw})"
        elif factory == "randint":
            x = torch.randint(int(start), int(end), shape, generator=gen, dtype=dt)
            code = f"g = torch.Generator().manual_seed({seed})\nx = torch.randint({int(start)}, {int(end)}, ({dims}), generator=g, dtype=torch.{dtype})"
            if requires_grad:
                x.requires_grad_()
                code += ".requires_grad_()"
        else:  # rand / randn draw from a seeded generator so the same seed gives the same values
            x = getattr(torch, factory)(shape, generator=gen, dtype=dt, requires_grad=requires_grad)
            code = f"g = torch.Generator().manual_seed({seed})\nx = torch.{factory}(({dims}), generator=g, {kw})"
    except HeroError:
        raise
    except (RuntimeError, TypeError, ValueError, OverflowError) as exc:
        raise _torch_error(exc) from None
    if x.numel() > MAX_ELEMENTS:
        raise HeroError("ch01.too_big", n=x.numel(), max=MAX_ELEMENTS)
    return Created(tensor=x, code="import torch\n" + code + "\nprint(x.dtype, x.shape, x.stride(), x.is_contiguous())",
                   props=tensor_properties(x))


def as_grid(x: torch.Tensor, limit: int = GRID_SHOWN) -> tuple[np.ndarray, str]:
    """A 2-D float view of any tensor for a heatmap: 0-D/1-D become one row, ≥3-D show the slice
    ``x[0, ..., 0, :, :]``; at most ``limit``×``limit`` cells. Returns (array, which part shown)."""
    t = x.detach()
    prefix = ""
    if t.ndim == 0:
        t = t.reshape(1, 1)
    elif t.ndim == 1:
        t = t[None]
    while t.ndim > 2:
        t = t[0]
        prefix += "0, "
    shown = f"x[{prefix}:{limit}, :{limit}]" if prefix or max(t.shape) > limit else "x"
    return t[:limit, :limit].to(torch.float64).numpy(), shown


def grid_figure(values: np.ndarray, highlight: np.ndarray | None = None, title: str = "",
                fmt: str = ".3g") -> go.Figure:
    """Cells of a 2-D array [R, C] as a heatmap with their values written in; ``highlight`` [R, C]
    (bool) outlines the selected cells in PyTorch orange and greys the rest."""
    rows, cols = values.shape
    text = [[format(v, fmt) for v in row] for row in values] if values.size <= 400 else None
    if highlight is None:
        fig = go.Figure(go.Heatmap(z=values, text=text, texttemplate="%{text}" if text else None,
                                   colorscale="Blues", showscale=False, xgap=1, ygap=1))
    else:
        z = np.where(highlight, 1.0, 0.0)
        fig = go.Figure(go.Heatmap(z=z, text=text, texttemplate="%{text}" if text else None,
                                   colorscale=[[0, "#eeeeee"], [1, PALETTE[0]]], zmin=0, zmax=1,
                                   showscale=False, xgap=2, ygap=2))
    fig.update_yaxes(autorange="reversed", dtick=1, title="dim 0")
    fig.update_xaxes(dtick=1, side="top", title="dim 1")
    return _layout(fig, title, height=min(420, 90 + 32 * rows), margin=dict(l=50, r=10, t=60, b=10))
