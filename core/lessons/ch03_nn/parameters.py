"""3.5 Parameters, buffers and the state_dict."""
from __future__ import annotations

from torch import nn


# =========================================================================== 3.5 parameters

def parameter_table(model: nn.Module) -> list[dict]:
    """Every parameter and buffer: name, kind, shape, numel, requires_grad, mean and std."""
    rows = []
    for kind, items in (("parameter", model.named_parameters()), ("buffer", model.named_buffers())):
        for name, t in items:
            values = t.detach().double()
            rows.append({"name": name, "kind": kind, "shape": str(tuple(t.shape)), "numel": t.numel(),
                         "dtype": str(t.dtype).replace("torch.", ""),
                         "requires_grad": bool(t.requires_grad),
                         "mean": float(values.mean()) if t.numel() and t.is_floating_point() else float(values.sum()),
                         "std": float(values.std()) if t.numel() > 1 and t.is_floating_point() else 0.0})
    return rows


def state_dict_summary(model: nn.Module) -> dict:
    """What ``parameters()``, ``named_parameters()`` and ``state_dict()`` each contain."""
    sd = model.state_dict()
    names = [n for n, _ in model.named_parameters()]
    return {"n_tensors_parameters": len(list(model.parameters())), "n_params": sum(p.numel() for p in model.parameters()),
            "state_dict_keys": list(sd), "buffer_keys": [k for k in sd if k not in names],
            "state_dict_numel": sum(v.numel() for v in sd.values())}
