"""1.5 Elementwise, @ and einsum: the same products three ways, and einsum as explicit loops."""
from __future__ import annotations

import itertools
import math
import string

import numpy as np
import torch

from core.errors import HeroError

from .limits import LOOP_BUDGET, _torch_error


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
