"""1.6 Devices and timing: .to() semantics and matmul speed on the CPU and the accelerator."""
from __future__ import annotations

import threading
import time
from typing import Callable

import plotly.graph_objects as go
import torch

from core.device import matmul_gflops, synchronize
from core.errors import HeroError
from core.viz import PALETTE

from .limits import _layout


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
    for i, n in enumerate(sizes):
        emit({"kind": "progress", "done": i, "total": len(sizes), "text": f"n = {n}"})
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
