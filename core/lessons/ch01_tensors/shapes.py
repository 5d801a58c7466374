"""Shapes typed by a visitor: parsed safely and size-checked."""
from __future__ import annotations

import ast
import math

from core.errors import HeroError

from .limits import MAX_DIMS, MAX_ELEMENTS, MAX_TEXT


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
