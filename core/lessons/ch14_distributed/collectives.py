"""14.4 collectives playground: each collective executed for real between spawned ranks, and
all_reduce time vs tensor size with a latency–bandwidth (α–β) fit.

Rank ``r`` starts from ``rank_tensor(r, size, seed)`` (small integers, so sums read exactly);
``collective_rank`` runs one collective and returns the tensor before and after on that rank.
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass

import numpy as np
import torch
import torch.distributed as dist

from core import dist as hero_dist
from core.errors import Emit, HeroError, check_range

OPS = ("all_reduce_sum", "all_reduce_max", "broadcast", "all_gather", "reduce_scatter")


@dataclass
class CollectiveSettings:
    op: str = "all_reduce_sum"   # one of OPS
    world_size: int = 2          # ranks taking part
    size: int = 4                # elements per rank (reduce_scatter: a multiple of world_size)
    src: int = 0                 # broadcast: the rank whose tensor everyone receives
    seed: int = 0                # what each rank's tensor holds
    device: str = "cpu"


def rank_tensor(rank: int, size: int, seed: int) -> torch.Tensor:
    """Rank ``rank``'s starting tensor ``[size]``: integers 0..9 drawn from ``seed`` and the rank."""
    gen = torch.Generator().manual_seed(seed * 1000 + rank)
    return torch.randint(0, 10, (size,), generator=gen).float()


def collective_rank(ctx, s: CollectiveSettings) -> dict:
    """Run ``s.op`` on this rank's tensor; ``before`` and ``after`` as lists, and how long it took."""
    device = torch.device(ctx.device)
    x = rank_tensor(ctx.rank, s.size, s.seed).to(device)
    before = x.tolist()
    dist.barrier()
    t0 = time.perf_counter()
    if s.op == "all_reduce_sum":
        dist.all_reduce(x, op=dist.ReduceOp.SUM)          # every rank: Σ_r x_r
        after = x
    elif s.op == "all_reduce_max":
        dist.all_reduce(x, op=dist.ReduceOp.MAX)          # every rank: elementwise max_r x_r
        after = x
    elif s.op == "broadcast":
        dist.broadcast(x, src=s.src)                       # every rank: x_src
        after = x
    elif s.op == "all_gather":
        parts = [torch.empty_like(x) for _ in range(ctx.world_size)]
        dist.all_gather(parts, x)                          # every rank: [x_0, x_1, …]
        after = torch.cat(parts)
    elif s.op == "reduce_scatter":
        after = torch.empty(s.size // ctx.world_size, device=device)
        dist.reduce_scatter(after, list(x.chunk(ctx.world_size)))   # rank r: chunk r of Σ_q x_q
    else:
        raise HeroError("ch14.unknown_op", op=s.op)
    return {"before": before, "after": after.cpu().tolist(), "seconds": time.perf_counter() - t0}


def expected(s: CollectiveSettings) -> list[list[float]]:
    """The oracle in NumPy: what each rank must hold after ``s.op``."""
    xs = np.stack([rank_tensor(r, s.size, s.seed).numpy() for r in range(s.world_size)])
    if s.op == "all_reduce_sum":
        return [xs.sum(0).tolist()] * s.world_size
    if s.op == "all_reduce_max":
        return [xs.max(0).tolist()] * s.world_size
    if s.op == "broadcast":
        return [xs[s.src].tolist()] * s.world_size
    if s.op == "all_gather":
        return [xs.reshape(-1).tolist()] * s.world_size
    return [list(c) for c in np.split(xs.sum(0), s.world_size)]


def _free_bytes() -> int:
    import psutil
    return psutil.virtual_memory().available


def check_memory(size: int, world_size: int, copies: int = 3) -> None:
    """Refuse a tensor that would not fit: each rank holds ``copies`` float32 buffers of ``size``
    (its tensor, the result, gloo's staging), and an all_gather ``world_size`` more."""
    need = 4 * size * world_size * (copies + world_size)
    free = _free_bytes()
    if need > free // 2:
        raise HeroError("ch14.too_large", size=size, need_mb=round(need / 2**20), free_mb=round(free / 2**20))


def run_collective(s: CollectiveSettings, stop: threading.Event | None = None, emit: Emit | None = None) -> dict:
    """Spawn the ranks, run the collective, return each rank's tensor before/after and the oracle."""
    if s.op not in OPS:
        raise HeroError("ch14.unknown_op", op=s.op)
    hero_dist.check_world_size(s.world_size)
    check_range("size", s.size, 1, 2**31)
    check_range("src", s.src, 0, s.world_size - 1)
    if s.op == "reduce_scatter" and s.size % s.world_size:
        raise HeroError("ch14.scatter_size", size=s.size, world=s.world_size)
    check_memory(s.size, s.world_size)
    emit = emit or (lambda e: None)
    emit({"kind": "progress", "done": 0, "total": 1, "text": f"starting {s.world_size} ranks"})
    results = hero_dist.run_ranks(collective_rank, s.world_size, (s,), stop=stop, emit=emit, device=s.device)
    if results is None:
        return None
    emit({"kind": "progress", "done": 1, "total": 1, "text": s.op})
    return {"op": s.op, "world_size": s.world_size, "before": [r["before"] for r in results],
            "after": [r["after"] for r in results], "expected": expected(s),
            "seconds": max(r["seconds"] for r in results)}


# --- all_reduce time vs size -------------------------------------------------------------------------

@dataclass
class BandwidthSettings:
    world_size: int = 2
    sizes: tuple[int, ...] = (1_000, 10_000, 100_000, 1_000_000, 4_000_000)   # float32 elements
    repeats: int = 5           # timed all_reduces per size (the median is kept)
    device: str = "cpu"


def allreduce_timing_rank(ctx, s: BandwidthSettings) -> list[dict]:
    """Median seconds of one all_reduce per size (one warm-up, a barrier before each timing)."""
    device = torch.device(ctx.device)
    rows = []
    for i, n in enumerate(s.sizes):
        x = torch.ones(n, device=device)
        dist.all_reduce(x)
        times = []
        for _ in range(s.repeats):
            dist.barrier()
            t0 = time.perf_counter()
            dist.all_reduce(x)
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            times.append(time.perf_counter() - t0)
        rows.append({"numel": n, "bytes": 4 * n, "seconds": float(np.median(times))})
        ctx.emit({"kind": "progress", "done": i + 1, "total": len(s.sizes), "text": f"{n:,} floats"})
    return rows


def alpha_beta_fit(rows: list[dict], world_size: int) -> dict:
    """Least-squares fit ``t = α + bytes_on_wire / β`` with ring all-reduce's
    ``bytes_on_wire = 2(N − 1)/N · bytes``; returns α (s), β (bytes/s) and the fitted times."""
    factor = 2 * (world_size - 1) / world_size if world_size > 1 else 1.0
    x = np.array([factor * r["bytes"] for r in rows], dtype=float)
    t = np.array([r["seconds"] for r in rows], dtype=float)
    slope, alpha = np.polyfit(x, t, 1)
    slope = max(slope, 1e-15)
    return {"alpha_s": float(max(alpha, 0.0)), "beta_bytes_per_s": float(1 / slope),
            "fitted": (np.maximum(alpha, 0.0) + x * slope).tolist()}


def bandwidth(s: BandwidthSettings, stop: threading.Event | None = None, emit: Emit | None = None) -> dict:
    """all_reduce time for each size among ``s.world_size`` ranks, the α–β fit, and the
    algorithm bandwidth (bytes / time) at each size."""
    hero_dist.check_world_size(s.world_size)
    if s.world_size < 2:
        raise HeroError("ch14.need_two", n=s.world_size)
    check_range("repeats", s.repeats, 1, 100)
    check_memory(max(s.sizes), s.world_size, copies=2)
    results = hero_dist.run_ranks(allreduce_timing_rank, s.world_size, (s,), stop=stop, emit=emit,
                                  device=s.device)
    if results is None:
        return None
    rows = [max(rs, key=lambda r: r["seconds"]) for rs in zip(*results)]   # the slowest rank decides
    for row in rows:
        row["gb_per_s"] = row["bytes"] / row["seconds"] / 1e9
    return {"rows": rows, "fit": alpha_beta_fit(rows, s.world_size), "world_size": s.world_size}
