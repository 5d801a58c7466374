"""Chapter 1 — tensors: creation, NumPy bridge, indexing, strides, cat/stack, broadcasting,
elementwise vs matmul vs einsum, CPU vs accelerator timing, and least-squares regression.

Plain functions returning data (and a few plotly figures); the Streamlit page and the Gradio
widget only draw them. Everything a visitor types is parsed with an ``ast`` whitelist (never
``eval``) and every size is bounded (see the caps below).
"""
from __future__ import annotations

import ast
import itertools
import math
import string
import threading
import time
from dataclasses import dataclass
from typing import Callable

import numpy as np
import plotly.graph_objects as go
import torch

from core.device import matmul_gflops, synchronize
from core.errors import HeroError
from core.viz import PALETTE, style

# Caps on anything a visitor can request.
MAX_ELEMENTS = 1_000_000     # largest tensor a visitor may create (4 MB of float32)
MAX_DIMS = 6                 # shapes have at most six dimensions
MAX_TEXT = 200               # longest index / shape / einsum expression accepted
INDEX_BOUND = 1_000          # |integers| inside an index expression (slice bounds included)
MAX_LITERAL = 10_000         # elements in a typed torch.tensor([...]) literal
GRID_SHOWN = 40              # heatmaps show at most a 40×40 corner (the table says so)
LOOP_BUDGET = 200_000        # iterations the explicit einsum loop may take
MAX_POINTS = 100_000         # regression sample size

PRESETS = {
    "tiny": {"timing_sizes": (32, 64), "timing_repeats": 1, "regression_n": 50},
    "default": {"timing_sizes": (64, 128, 256, 512), "timing_repeats": 3, "regression_n": 200},
    "gpu": {"timing_sizes": (128, 256, 512, 1024, 2048), "timing_repeats": 5, "regression_n": 500},
}

DTYPES = {"float32": torch.float32, "float64": torch.float64, "float16": torch.float16,
          "bfloat16": torch.bfloat16, "int64": torch.int64, "int32": torch.int32,
          "int8": torch.int8, "uint8": torch.uint8, "bool": torch.bool}
FACTORIES = ("tensor", "zeros", "ones", "full", "arange", "linspace", "eye", "rand", "randn", "randint")


def _layout(fig: go.Figure, title: str = "", **extra) -> go.Figure:
    """The gallery's look, without zero lines (they would cross the heatmaps)."""
    style(fig, title, **extra)
    fig.update_xaxes(zeroline=False)
    fig.update_yaxes(zeroline=False)
    return fig


def _torch_error(exc: Exception) -> HeroError:
    """Wrap a real torch error so the page can show its exact first line, translated around it."""
    return HeroError("ch01.torch_error", message=str(exc).strip().splitlines()[0][:300])


# --------------------------------------------------------------------------- shapes

def parse_ints(text: str, lo: int, hi: int, max_len: int = MAX_DIMS, allow_empty: bool = False) -> tuple[int, ...]:
    """Parse "3, 1, 5" / "(3,1,5)" / "3 x 1 x 5" into a tuple of ints in [lo, hi] (``ast``, no eval)."""
    text = (text or "").strip()
    if len(text) > MAX_TEXT:
        raise HeroError("ch01.too_long", max=MAX_TEXT)
    cleaned = text.replace("×", ",").replace("x", ",").replace(" ", ",").strip("()[]")
    parts = [p for p in cleaned.split(",") if p]
    if not parts:
        if allow_empty:
            return ()
        raise HeroError("ch01.bad_shape", text=text)
    values = []
    for part in parts:
        try:
            node = ast.parse(part, mode="eval").body
        except SyntaxError:
            raise HeroError("ch01.bad_shape", text=text) from None
        sign = 1
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            sign, node = -1, node.operand
        if not (isinstance(node, ast.Constant) and type(node.value) is int):
            raise HeroError("ch01.bad_shape", text=text)
        value = sign * node.value
        if not lo <= value <= hi:
            raise HeroError("ch01.shape_range", value=value, lo=lo, hi=hi)
        values.append(value)
    if len(values) > max_len:
        raise HeroError("ch01.too_many_dims", n=len(values), max=max_len)
    return tuple(values)


def parse_shape(text: str, allow_scalar: bool = False) -> tuple[int, ...]:
    """A shape: ints ≥ 1, at most MAX_DIMS of them (``()`` = a scalar when allowed)."""
    return parse_ints(text, 1, MAX_ELEMENTS, MAX_DIMS, allow_empty=allow_scalar)


def check_size(shape: tuple[int, ...]) -> int:
    n = math.prod(shape)
    if n > MAX_ELEMENTS:
        raise HeroError("ch01.too_big", n=n, max=MAX_ELEMENTS)
    return n


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


# --------------------------------------------------------------------------- 1.1 NumPy bridge

def numpy_bridge(n: int = 5, index: int = 0, value: float = 100.0) -> list[dict]:
    """Make tensors from a NumPy array (and arrays from a tensor) five ways, then mutate the
    source in place and see which ones changed: shared memory, shown by mutation.

    Returns one row per way: ``code``, ``shares`` (np.shares_memory), ``before``/``after``
    values of the derived object, ``changed``.
    """
    if not 1 <= n <= 20 or not -n <= index < n:
        raise HeroError("ch01.bridge_range", n=n)
    rows = []
    # 1. NumPy → torch: from_numpy / as_tensor share the buffer, torch.tensor copies it
    a = np.arange(n, dtype=np.float32)
    derived = {"torch.from_numpy(a)": torch.from_numpy(a), "torch.as_tensor(a)": torch.as_tensor(a),
               "torch.tensor(a)": torch.tensor(a)}
    before = {k: v.tolist() for k, v in derived.items()}
    a[index] = value                      # the mutation: change the NumPy array in place
    for code, t in derived.items():
        rows.append({"source": "a[{}] = {}".format(index, value), "code": code,
                     "shares": bool(np.shares_memory(a, t.numpy())), "before": before[code],
                     "after": t.tolist(), "changed": before[code] != t.tolist()})
    # 2. torch → NumPy: .numpy() shares, np.array(t) copies
    t = torch.arange(n, dtype=torch.float32)
    outs = {"t.numpy()": t.numpy(), "np.array(t)": np.array(t)}
    before = {k: v.tolist() for k, v in outs.items()}
    t[index] = value                      # the mutation: change the tensor in place
    for code, arr in outs.items():
        rows.append({"source": "t[{}] = {}".format(index, value), "code": code,
                     "shares": bool(np.shares_memory(t.numpy(), arr)), "before": before[code],
                     "after": arr.tolist(), "changed": before[code] != arr.tolist()})
    return rows


# --------------------------------------------------------------------------- 1.4 indexing lab

_CMP = {ast.Gt: torch.gt, ast.GtE: torch.ge, ast.Lt: torch.lt, ast.LtE: torch.le, ast.Eq: torch.eq,
        ast.NotEq: torch.ne}
_FLIP = {ast.Gt: ast.Lt, ast.GtE: ast.LtE, ast.Lt: ast.Gt, ast.LtE: ast.GtE, ast.Eq: ast.Eq, ast.NotEq: ast.NotEq}


@dataclass(frozen=True)
class Mask:
    """A boolean mask built from ``x`` itself: ``x > 5``, ``(x > 2) & (x < 8)``."""
    op: str                      # "cmp", "and", "or"
    args: tuple                  # cmp: (comparison function, number); and/or: (Mask, Mask)

    def evaluate(self, x: torch.Tensor) -> torch.Tensor:
        if self.op == "cmp":
            return self.args[0](x, self.args[1])
        a, b = (m.evaluate(x) for m in self.args)
        return a & b if self.op == "and" else a | b


def _int(node: ast.AST) -> int:
    sign = 1
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        sign, node = -1, node.operand
    if isinstance(node, ast.Constant) and type(node.value) is int:
        value = sign * node.value
        if abs(value) > INDEX_BOUND:
            raise HeroError("ch01.index_too_big", value=value, max=INDEX_BOUND)
        return value
    raise HeroError("ch01.index_not_allowed", what=node)   # parse_index shows the typed text


def _number(node: ast.AST) -> float | int:
    sign = 1
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        sign, node = -1, node.operand
    if isinstance(node, ast.Constant) and type(node.value) in (int, float) and abs(node.value) <= 1e12:
        return sign * node.value
    raise HeroError("ch01.index_not_allowed", what=node)   # parse_index shows the typed text


def _is_x(node: ast.AST) -> bool:
    return isinstance(node, ast.Name) and node.id == "x"


def _mask(node: ast.AST) -> Mask:
    if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.BitAnd, ast.BitOr)):
        return Mask("and" if isinstance(node.op, ast.BitAnd) else "or", (_mask(node.left), _mask(node.right)))
    if isinstance(node, ast.Compare) and len(node.ops) == 1 and type(node.ops[0]) in _CMP:
        left, right, op = node.left, node.comparators[0], type(node.ops[0])
        if _is_x(right) and not _is_x(left):       # "5 < x" is "x > 5"
            left, right, op = right, left, _FLIP[op]
        if _is_x(left):
            return Mask("cmp", (_CMP[op], _number(right)))
    raise HeroError("ch01.index_not_allowed", what=node)   # parse_index shows the typed text


def _item(node: ast.AST):
    """One entry of an index tuple."""
    if isinstance(node, ast.Slice):
        lower, upper, step = (None if n is None else _int(n) for n in (node.lower, node.upper, node.step))
        if step is not None and step <= 0:
            raise HeroError("ch01.index_step", step=step)   # torch has no negative steps: use torch.flip
        return slice(lower, upper, step)
    if isinstance(node, ast.Constant) and (node.value is None or node.value is Ellipsis):
        return node.value
    if isinstance(node, ast.List):
        if not node.elts or len(node.elts) > 100:
            raise HeroError("ch01.index_not_allowed", what=node)   # empty or longer than 100
        return [_int(e) for e in node.elts]
    if isinstance(node, (ast.Compare, ast.BinOp)):
        return _mask(node)
    return _int(node)


def parse_index(text: str) -> list[tuple]:
    """Parse ``x[1:, ::2]``, ``x[..., 0]``, ``x[x > 5]``, ``x[[0, 2]]``, ``x[:, None]`` (chains like
    ``x[1][2]`` too) into a list of index tuples, one per ``[...]``, without ever evaluating it.

    Allowed: the name ``x``, subscripts, slices, ints (|v| ≤ INDEX_BOUND, unary minus), ``...``,
    ``None``, lists of ints, and masks comparing ``x`` with a number (combined with ``&``/``|``).
    Anything else raises HeroError ``ch01.index_not_allowed`` naming the offending piece.
    """
    text = (text or "").strip()
    if len(text) > MAX_TEXT:
        raise HeroError("ch01.too_long", max=MAX_TEXT)
    try:
        node = ast.parse(text, mode="eval").body
    except SyntaxError:
        raise HeroError("ch01.index_syntax", text=text) from None
    chain = []
    try:
        while isinstance(node, ast.Subscript):
            items = node.slice.elts if isinstance(node.slice, ast.Tuple) else [node.slice]
            chain.append(tuple(_item(i) for i in items))
            node = node.value
        if not _is_x(node) or not chain or len(chain) > 4:   # only x, with one to four [...]
            raise HeroError("ch01.index_not_allowed", what=node)
    except HeroError as err:
        # name the offending piece exactly as typed (language-neutral, so both locales can show it)
        if isinstance(bad := err.params.get("what"), ast.AST):
            piece = ast.get_source_segment(text, bad) or type(bad).__name__
            raise HeroError(err.code, what=piece if len(piece) <= 40 else piece[:37] + "...") from None
        raise
    return chain[::-1]


def apply_index(x: torch.Tensor, chain: list[tuple]) -> torch.Tensor:
    """Apply a parsed index chain to ``x``; torch's own IndexError text comes back as HeroError."""
    out = x
    try:
        for items in chain:
            resolved = tuple(m.evaluate(x) if isinstance(m, Mask) else m for m in items)
            out = out[resolved[0] if len(resolved) == 1 else resolved]
    except (IndexError, RuntimeError, TypeError, ValueError) as exc:
        raise _torch_error(exc) from None
    return out


def index_lab(shape: tuple[int, int], text: str) -> dict:
    """x = arange(rows·cols).reshape(rows, cols); apply the typed index.

    Returns the result tensor, which cells of x it selected (bool [rows, cols]: the same index
    applied to a tensor of positions), and whether the result is a view sharing x's memory.
    """
    check_size(shape)
    x = torch.arange(math.prod(shape)).reshape(shape)
    chain = parse_index(text)
    result = apply_index(x, chain)
    positions = apply_index(torch.arange(x.numel()).reshape(shape), chain)   # which cells were read
    selected = torch.zeros(x.numel(), dtype=torch.bool)
    selected[positions.reshape(-1)] = True
    return {"x": x, "result": result, "selected": selected.reshape(shape).numpy(),
            "is_view": result.untyped_storage().data_ptr() == x.untyped_storage().data_ptr(),
            "shape": tuple(result.shape)}


# --------------------------------------------------------------------------- 1.4 strides and view

def contiguous_strides(shape: tuple[int, ...]) -> tuple[int, ...]:
    """Row-major strides: the last dim moves by 1 element, each earlier one by the product after it."""
    strides, acc = [], 1
    for size in reversed(shape):
        strides.append(acc)
        acc *= size
    return tuple(reversed(strides))


def is_contiguous(shape: tuple[int, ...], stride: tuple[int, ...]) -> bool:
    """Our own contiguity rule: strides equal the row-major ones, ignoring size-1 dims (their stride
    never matters). Empty tensors count as contiguous."""
    if 0 in shape:
        return True
    return all(s == e for n, s, e in zip(shape, stride, contiguous_strides(shape)) if n != 1)


def stride_facts(x: torch.Tensor) -> dict:
    """Shape, strides, storage offset and memory order vs logical order of a tensor."""
    storage = x.as_strided((x.untyped_storage().nbytes() // x.element_size(),), (1,), 0)  # the raw buffer
    return {"shape": tuple(x.shape), "stride": x.stride(), "offset": x.storage_offset(),
            "contiguous": is_contiguous(tuple(x.shape), x.stride()),
            "row_major_stride": contiguous_strides(tuple(x.shape)),
            "memory": storage.tolist(), "logical": x.reshape(-1).tolist()}


LAYOUT_OPS = ("none", "t", "transpose", "permute")


def view_lab(shape: tuple[int, ...], layout_op: str = "t", dims: tuple[int, ...] = (1, 0),
             target: tuple[int, ...] = (-1,), contiguous_first: bool = False) -> list[dict]:
    """x = arange(numel).reshape(shape) → optional t()/transpose/permute → optional contiguous()
    → view(target) and reshape(target). Each stage: code, stride facts, and ``error`` (torch's real
    RuntimeError text when ``view`` refuses) or ``shares`` (same memory as x)."""
    if math.prod(shape) > 4096:
        raise HeroError("ch01.too_big", n=math.prod(shape), max=4096)
    x = torch.arange(math.prod(shape)).reshape(shape)
    stages = [{"code": f"x = torch.arange({x.numel()}).reshape{tuple(shape)}", **stride_facts(x), "shares": True}]
    y = x
    try:
        if layout_op == "t":
            y, code = x.t(), "y = x.t()"
        elif layout_op == "transpose":
            y, code = x.transpose(*dims[:2]), f"y = x.transpose({dims[0]}, {dims[1]})"
        elif layout_op == "permute":
            y, code = x.permute(*dims), f"y = x.permute{tuple(dims)}"
        else:
            code = "y = x"
    except (RuntimeError, IndexError, TypeError) as exc:
        raise _torch_error(exc) from None
    stages.append({"code": code, **stride_facts(y), "shares": True})
    if contiguous_first:
        y = y.contiguous()
        stages.append({"code": "y = y.contiguous()", **stride_facts(y),
                       "shares": y.untyped_storage().data_ptr() == x.untyped_storage().data_ptr()})
    shape_txt = ", ".join(map(str, target))
    for method in ("view", "reshape"):
        code = f"z = y.{method}({shape_txt})"
        try:
            z = getattr(y, method)(*target)
        except RuntimeError as exc:
            stages.append({"code": code, "error": str(exc).strip().splitlines()[0]})
            continue
        stages.append({"code": code, **stride_facts(z),
                       "shares": z.untyped_storage().data_ptr() == x.untyped_storage().data_ptr()})
    return stages


def memory_figure(facts: dict, memory_label: str = "memory", logical_label: str = "logical") -> go.Figure:
    """Two strips of cells: the storage buffer in address order and the tensor read in row-major
    (logical) order. Where they differ, the tensor is not contiguous and ``view`` may fail."""
    mem, log = facts["memory"], facts["logical"]
    width = max(len(mem), len(log))
    pad = lambda v: list(v) + [None] * (width - len(v))  # noqa: E731
    z = [pad(mem), pad(log)]
    text = [[("" if v is None else str(v)) for v in row] for row in z]
    match = [[None if a is None else float(a == b) for a, b in zip(pad(mem), pad(log))]] * 2
    fig = go.Figure(go.Heatmap(z=match, text=text, texttemplate="%{text}", showscale=False, zmin=0, zmax=1,
                               colorscale=[[0, "#fdd0c4"], [1, "#d8e8f5"]], xgap=2, ygap=2,
                               y=[memory_label, logical_label]))
    fig.update_yaxes(autorange="reversed")
    fig.update_xaxes(visible=False)
    return _layout(fig, height=150, margin=dict(l=90, r=10, t=10, b=10))


# --------------------------------------------------------------------------- 1.4 cat vs stack

def cat_stack(a_shape: tuple[int, ...], b_shape: tuple[int, ...], dim: int) -> dict:
    """Run ``torch.cat([A, B], dim)`` and ``torch.stack([A, B], dim)`` on real tensors.

    Each entry: ``shape`` of the result, or ``error`` (torch's text) plus ``reason``, a code
    explaining the rule that was broken: cat needs equal sizes except along ``dim``; stack
    needs identical shapes and inserts a new dim (so ``dim`` may be one past the last).
    """
    check_size(a_shape)
    check_size(b_shape)
    a, b = torch.zeros(a_shape), torch.ones(b_shape)
    out = {}
    for name, fn, ndim in (("cat", torch.cat, len(a_shape)), ("stack", torch.stack, len(a_shape) + 1)):
        try:
            r = fn([a, b], dim=dim)
            out[name] = {"shape": tuple(r.shape), "values": r if r.numel() <= 60 else None}
        except (RuntimeError, IndexError) as exc:
            if not -ndim <= dim < ndim:
                reason = "dim_range"
            elif name == "cat" and len(a_shape) != len(b_shape):
                reason = "cat_ndim"
            elif name == "cat":
                reason = "cat_size"
            else:
                reason = "stack_shape"
            out[name] = {"error": str(exc).strip().splitlines()[0], "reason": reason}
    return out


# --------------------------------------------------------------------------- 1.5 broadcasting

def broadcast(a: tuple[int, ...], b: tuple[int, ...]) -> dict:
    """Line the two shapes up from the right and apply the rule dim by dim.

    Returns ``columns``: per aligned dim (leftmost first) {a, b (None = missing), rule, out},
    rule ∈ equal / stretch_a / stretch_b / missing_a / missing_b / mismatch; ``shape`` (the
    result) or ``error`` (the real message torch gives for ``A + B``) and ``bad_dim``.
    """
    n = max(len(a), len(b))
    pa, pb = (None,) * (n - len(a)) + tuple(a), (None,) * (n - len(b)) + tuple(b)
    columns, bad = [], None
    for i, (da, db) in enumerate(zip(pa, pb)):
        if da is None:
            rule, out = "missing_a", db
        elif db is None:
            rule, out = "missing_b", da
        elif da == db:
            rule, out = "equal", da
        elif da == 1:
            rule, out = "stretch_a", db
        elif db == 1:
            rule, out = "stretch_b", da
        else:
            rule, out = "mismatch", None
            bad = i - n if bad is None else bad
        columns.append({"dim": i - n, "a": da, "b": db, "rule": rule, "out": out})
    result = {"columns": columns, "shape": None, "error": None, "bad_dim": bad}
    try:   # the oracle: NumPy's own rule, computed without allocating anything
        result["numpy"] = tuple(np.broadcast_shapes(tuple(a), tuple(b)))
    except ValueError as exc:
        result["numpy"] = str(exc).strip().splitlines()[0]
    if bad is None:
        result["shape"] = tuple(c["out"] for c in columns)
    else:
        # the exact message: add two zero-stride expanded views (no memory is allocated)
        try:
            torch.zeros(()).expand(a) + torch.zeros(()).expand(b)
        except RuntimeError as exc:
            result["error"] = str(exc).strip().splitlines()[0]
    return result


# --------------------------------------------------------------------------- 1.5 elementwise / @ / einsum

EINSUM_CHARS = set(string.ascii_lowercase) | set(",->")


def parse_einsum(equation: str, shapes: list[tuple[int, ...]]) -> tuple[list[str], str, dict[str, int]]:
    """Check an equation like ``ik,kj->ij`` against the operand shapes (whitelisted characters:
    a–z, ``,``, ``->``; no ``...``). Returns (input terms, output term, size of each letter)."""
    eq = equation.replace(" ", "")
    if len(eq) > 60:
        raise HeroError("ch01.too_long", max=60)
    bad = sorted(set(eq) - EINSUM_CHARS)
    if bad or eq.count("->") > 1 or eq.replace("->", "").count("-") or eq.replace("->", "").count(">"):
        raise HeroError("ch01.einsum_chars", bad=" ".join(bad) or "-/>")
    lhs, arrow, rhs = eq.partition("->")
    terms = lhs.split(",")
    if len(terms) != len(shapes):
        raise HeroError("ch01.einsum_operands", n=len(terms), m=len(shapes))
    sizes: dict[str, int] = {}
    for term, shape, name in zip(terms, shapes, "AB"):
        if len(term) != len(shape):
            raise HeroError("ch01.einsum_rank", term=term or "''", name=name, ndim=len(shape))
        for letter, size in zip(term, shape):
            if sizes.setdefault(letter, size) != size:
                raise HeroError("ch01.einsum_size", letter=letter, a=sizes[letter], b=size)
    if not arrow:   # implicit mode (NumPy's rule): letters used once, in alphabetical order
        rhs = "".join(sorted(c for c in sizes if lhs.count(c) == 1))
    for letter in rhs:
        if letter not in sizes or rhs.count(letter) > 1:
            raise HeroError("ch01.einsum_output", letter=letter)
    return terms, rhs, sizes


def einsum_loop(equation: str, *operands: torch.Tensor) -> torch.Tensor:
    """einsum written as the explicit loop it means: for every assignment of every letter,
    multiply the addressed entries and add the product into the output cell."""
    terms, rhs, sizes = parse_einsum(equation, [tuple(o.shape) for o in operands])
    letters = sorted(sizes)
    if math.prod(sizes.values()) > LOOP_BUDGET:
        raise HeroError("ch01.too_big", n=math.prod(sizes.values()), max=LOOP_BUDGET)
    out = torch.zeros([sizes[c] for c in rhs], dtype=torch.float64)
    values = [o.to(torch.float64).tolist() for o in operands]
    for combo in itertools.product(*(range(sizes[c]) for c in letters)):
        at = dict(zip(letters, combo))
        prod = 1.0
        for term, v in zip(terms, values):
            for c in term:
                v = v[at[c]]
            prod *= v
        out[tuple(at[c] for c in rhs)] += prod
    return out


def matrix_text(x: torch.Tensor) -> str:
    """A small integer-valued matrix as compact aligned text (narrow columns have no room for tables)."""
    return np.array2string(x.numpy().astype(np.int64))


def products(m: int, k: int, n: int, equation: str, seed: int = 0) -> dict:
    """A [m, k] and B [k, n] (small random ints): ``A * A`` (elementwise), ``A @ B`` (matmul),
    ``A * B`` (elementwise: only if the shapes broadcast — shown as torch's error otherwise), and
    ``torch.einsum(equation, ...)`` checked against the explicit loop."""
    for v in (m, k, n):
        if not 1 <= v <= 12:
            raise HeroError("ch01.shape_range", value=v, lo=1, hi=12)
    g = torch.Generator().manual_seed(seed)
    A = torch.randint(-3, 4, (m, k), generator=g).float()
    B = torch.randint(-3, 4, (k, n), generator=g).float()
    out = {"A": A, "B": B, "A * A": A * A, "A @ B": A @ B}
    try:
        out["A * B"] = A * B
    except RuntimeError as exc:
        out["A * B"] = str(exc).strip().splitlines()[0]
    n_ops = equation.split("->")[0].count(",") + 1
    operands = (A, B)[:n_ops]            # one operand: A; two: A and B (a third is an error)
    terms, rhs, sizes = parse_einsum(equation, [tuple(o.shape) for o in operands])
    try:
        out["einsum"] = torch.einsum(equation.replace(" ", ""), *operands)
    except RuntimeError as exc:
        raise _torch_error(exc) from None
    out["loop"] = einsum_loop(equation, *operands)
    out["max_diff"] = float((out["einsum"].double() - out["loop"]).abs().max()) if out["loop"].numel() else 0.0
    return out


# --------------------------------------------------------------------------- 1.6 devices and timing

def accelerator() -> str | None:
    """The accelerator torch can use here ("cuda" / "mps"), or None on a CPU-only machine."""
    if torch.cuda.is_available():
        return "cuda"
    mps = getattr(torch.backends, "mps", None)
    return "mps" if mps and mps.is_available() else None


def device_moves() -> list[dict]:
    """What ``.to(...)`` really does: same object when nothing changes, a copy otherwise."""
    x = torch.randn(3, 4)
    rows = []
    targets = [("x.to('cpu')", "cpu"), ("x.to(torch.float32)", torch.float32),
               ("x.to(torch.float64)", torch.float64)]
    if (acc := accelerator()) is not None:
        targets.append((f"x.to('{acc}')", acc))
    for code, target in targets:
        y = x.to(target)
        rows.append({"code": code, "device": str(y.device), "dtype": str(y.dtype),
                     "same object": y is x,
                     "shares memory": y.device == x.device and y.data_ptr() == x.data_ptr()})
    return rows


def timing_table(sizes: tuple[int, ...], repeats: int = 3, stop: threading.Event | None = None,
                 emit: Callable[[dict], None] | None = None) -> list[dict]:
    """Time n×n float32 matmuls on the CPU and (if found) the accelerator, including the cost of
    ``.to(device)`` for the two inputs. One row per (device, n): ms per matmul and GFLOP/s."""
    emit = emit or (lambda e: None)
    devices = ["cpu"] + ([acc] if (acc := accelerator()) else [])
    rows = []
    for n in sizes:
        if n > 4096:
            raise HeroError("ch01.too_big", n=n * n, max=4096 * 4096)
        for dev in devices:
            if stop is not None and stop.is_set():
                return rows
            a = torch.randn(n, n)
            start = time.perf_counter()
            a.to(dev), a.to(dev)
            synchronize(dev)
            transfer = time.perf_counter() - start
            gflops = matmul_gflops(dev, n, repeats)
            row = {"device": dev, "n": n, "ms": 2 * n**3 / gflops / 1e6, "gflops": gflops,
                   "transfer_ms": 1e3 * transfer if dev != "cpu" else 0.0}
            rows.append(row)
            emit({"kind": "timing", **row})
    return rows


def timing_figure(rows: list[dict], title: str = "", x_title: str = "n", y_title: str = "GFLOP/s") -> go.Figure:
    fig = go.Figure()
    for i, dev in enumerate(dict.fromkeys(r["device"] for r in rows)):
        pts = [r for r in rows if r["device"] == dev]
        fig.add_trace(go.Scatter(x=[r["n"] for r in pts], y=[r["gflops"] for r in pts], mode="lines+markers",
                                 name=dev, line=dict(color=PALETTE[i])))
    return _layout(fig, title, xaxis=dict(title=x_title, type="log"), yaxis=dict(title=y_title))


# --------------------------------------------------------------------------- 1.7 实战 linear regression

def regression_data(n: int, slope: float, intercept: float, noise: float, seed: int = 0,
                    dtype: str = "float32") -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """x ~ U(-3, 3), X = [1, x] [n, 2] (the bias column makes the intercept a weight),
    y = X @ w_true + noise·ε [n]. Returns (X, y, w_true [2])."""
    if not 2 <= n <= MAX_POINTS:
        raise HeroError("ch01.regression_n", n=n, max=MAX_POINTS)
    if not (0 <= noise <= 100 and abs(slope) <= 1e3 and abs(intercept) <= 1e3):
        raise HeroError("ch01.regression_range")
    dt = DTYPES[dtype] if dtype in ("float32", "float64") else torch.float32
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(n, generator=g, dtype=torch.float64) * 6 - 3
    X = torch.stack([torch.ones(n, dtype=torch.float64), x], dim=1)      # 1. design matrix with bias column
    w_true = torch.tensor([intercept, slope], dtype=torch.float64)
    y = X @ w_true + noise * torch.randn(n, generator=g, dtype=torch.float64)   # 2. targets with noise
    return X.to(dt), y.to(dt), w_true


def solve_regression(X: torch.Tensor, y: torch.Tensor) -> dict:
    """Fit w in y ≈ X @ w three ways: ``torch.linalg.lstsq`` (QR-based), the normal equations
    (XᵀX) w = Xᵀy, and NumPy's ``np.linalg.lstsq`` as the oracle. Each → w [2], the MSE and
    the largest |w − w_numpy|."""
    w_lstsq = torch.linalg.lstsq(X, y[:, None]).solution[:, 0]               # 1. least squares
    w_normal = torch.linalg.solve(X.T @ X, X.T @ y)                          # 2. normal equations
    w_numpy = np.linalg.lstsq(X.double().numpy(), y.double().numpy(), rcond=None)[0]   # 3. oracle
    mse = lambda w: float(((X.double() @ torch.as_tensor(w).double() - y.double()) ** 2).mean())  # noqa: E731
    gap = lambda w: float(np.abs(np.asarray([float(v) for v in w]) - w_numpy).max())  # noqa: E731
    return {name: {"w": [float(v) for v in w], "mse": mse(w), "diff_vs_numpy": gap(w)}
            for name, w in (("torch.linalg.lstsq", w_lstsq), ("normal equations", w_normal),
                            ("numpy.linalg.lstsq", w_numpy))}


def regression_figure(X: torch.Tensor, y: torch.Tensor, w_true: torch.Tensor, fits: dict,
                      labels: dict[str, str] | None = None, max_points: int = 2000) -> go.Figure:
    """Scatter of (x, y) (first ``max_points``), the true line and each fitted line."""
    labels = labels or {}
    x = X[:, 1].double().numpy()
    fig = go.Figure(go.Scattergl(x=x[:max_points], y=y.double().numpy()[:max_points], mode="markers",
                                 name=labels.get("data", "data"), marker=dict(size=5, color="#9ab", opacity=0.6)))
    xs = np.array([-3.0, 3.0])
    fig.add_trace(go.Scatter(x=xs, y=float(w_true[0]) + float(w_true[1]) * xs, mode="lines",
                             name=labels.get("true", "true"), line=dict(color="#333", dash="dot")))
    for i, (name, fit) in enumerate(fits.items()):
        fig.add_trace(go.Scatter(x=xs, y=fit["w"][0] + fit["w"][1] * xs, mode="lines", name=name,
                                 line=dict(color=PALETTE[i], width=3 - i, dash=("solid", "dash", "dashdot")[i % 3])))
    return _layout(fig, xaxis=dict(title="x"), yaxis=dict(title="y"), height=360)


def regression_script(n: int, slope: float, intercept: float, noise: float, seed: int, dtype: str) -> str:
    """The 实战 as a standalone script for these settings."""
    return f'''import numpy as np
import torch

g = torch.Generator().manual_seed({seed})
x = torch.rand({n}, generator=g, dtype=torch.float64) * 6 - 3
X = torch.stack([torch.ones({n}, dtype=torch.float64), x], dim=1)   # [n, 2]: bias column + x
w_true = torch.tensor([{intercept}, {slope}], dtype=torch.float64)
y = X @ w_true + {noise} * torch.randn({n}, generator=g, dtype=torch.float64)
X, y = X.to(torch.{dtype}), y.to(torch.{dtype})

w_lstsq = torch.linalg.lstsq(X, y[:, None]).solution[:, 0]
w_normal = torch.linalg.solve(X.T @ X, X.T @ y)
w_numpy = np.linalg.lstsq(X.double().numpy(), y.double().numpy(), rcond=None)[0]
print("lstsq  ", w_lstsq.tolist())
print("normal ", w_normal.tolist())
print("numpy  ", w_numpy.tolist())
'''
