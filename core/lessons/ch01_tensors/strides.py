"""1.4 Strides, view and contiguous: the memory layout behind a tensor."""
from __future__ import annotations

import math

import plotly.graph_objects as go
import torch

from core.errors import HeroError

from .limits import _layout, _torch_error


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


def view_script(stages: list[dict]) -> str:
    """The lab's lines as a script that runs: a line that failed in the lab runs inside
    try/except and prints torch's own error, as the page does."""
    lines = ["import torch"]
    for stage in stages:
        if "error" in stage:
            return "\n".join(lines + ["try:", f"    {stage['code']}", "    print(z.shape, z.stride())",
                                      "except RuntimeError as err:", "    print('RuntimeError:', err)"]) + "\n"
        lines.append(stage["code"])
    return "\n".join(lines) + "\nprint(z.shape, z.stride())\n"
