"""1.1 The NumPy bridge: from_numpy / .numpy() share memory, torch.tensor copies."""
from __future__ import annotations

import numpy as np
import torch

from core.errors import HeroError


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
