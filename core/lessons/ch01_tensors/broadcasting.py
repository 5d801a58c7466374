"""1.5 Broadcasting: the rule step by step, checked against NumPy."""
from __future__ import annotations

import numpy as np
import torch


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
