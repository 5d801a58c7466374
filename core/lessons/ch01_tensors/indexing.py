"""1.4 The indexing lab: typed index expressions parsed with an AST whitelist, then run for real."""
from __future__ import annotations

import ast
import math
from dataclasses import dataclass

import torch

from core.errors import HeroError

from .limits import INDEX_BOUND, MAX_TEXT, _torch_error
from .shapes import check_size


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
