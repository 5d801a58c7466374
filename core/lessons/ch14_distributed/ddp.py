"""14.3 live DDP between real processes, 14.5 gradient accumulation with ``no_sync``, and the
beyond: a per-rank compute vs all-reduce timeline from a DDP communication hook.

Every ``*_rank`` function runs inside a spawned rank (``core.dist.Gang``): it is given a
``core.dist.Context`` (rank, world size, ``emit``) and the same arguments on every rank.
Sharding is by index arithmetic: step ``k`` draws one global batch of ``batch_per_rank × world``
rows from a generator seeded ``seed + k``, and rank ``r`` takes rows ``[r·b, (r+1)·b)``. So the
union of the ranks' batches is exactly the batch one process would use — which is why DDP's
averaged gradient equals the single-process gradient on the concatenated batch.
"""
from __future__ import annotations

import threading
import time
from dataclasses import asdict, dataclass

import torch
import torch.distributed as dist
from torch import nn

from core import dist as hero_dist
from core.errors import Emit, check_range


@dataclass
class DDPSettings:
    world_size: int = 2        # processes (ranks); each takes one shard of every global batch
    steps: int = 30            # optimizer steps
    batch_per_rank: int = 32   # rows per rank per step: the global batch is batch_per_rank × world_size
    hidden: int = 128          # width of the MLP's hidden layers (64 → hidden → hidden → 10)
    lr: float = 0.1            # SGD learning rate, the same on every rank
    seed: int = 0              # same seed on every rank: same initial weights, same global batches
    bucket_cap_mb: float = 25.0  # DDP gradient bucket size (smaller → more, earlier all-reduces)
    device: str = "cpu"


def digits_tensors() -> tuple[torch.Tensor, torch.Tensor]:
    """The 1,797 real 8×8 digits (scikit-learn's copy of UCI optdigits) as ``X [N, 64]`` floats in
    [0, 1] and ``y [N]`` labels."""
    from sklearn.datasets import load_digits
    bunch = load_digits()
    return torch.from_numpy((bunch.data / 16.0).astype("float32")), torch.from_numpy(bunch.target.astype("int64"))


def build_mlp(hidden: int, seed: int, layers: int = 2) -> nn.Module:
    """64 → hidden (× ``layers``) → 10, initialised from ``seed`` (identical on every rank)."""
    torch.manual_seed(seed)
    sizes = [64] + [hidden] * layers
    blocks: list[nn.Module] = []
    for a, b in zip(sizes, sizes[1:]):
        blocks += [nn.Linear(a, b), nn.ReLU()]
    return nn.Sequential(*blocks, nn.Linear(sizes[-1], 10))


def shard(n_rows: int, step: int, seed: int, batch_per_rank: int, world: int, rank: int) -> torch.Tensor:
    """Row indices of rank ``rank``'s part of global batch ``step`` (the global batch is the
    first ``batch_per_rank × world`` rows of a permutation seeded ``seed + step``)."""
    order = torch.randperm(n_rows, generator=torch.Generator().manual_seed(seed + step))
    glob = order[: batch_per_rank * world]
    return glob[rank * batch_per_rank:(rank + 1) * batch_per_rank]


def flat_grads(model: nn.Module) -> torch.Tensor:
    return torch.cat([p.grad.detach().reshape(-1).cpu() for p in model.parameters()])


def ddp_train_rank(ctx, s: DDPSettings, X: torch.Tensor, y: torch.Tensor) -> dict:
    """One rank of the live DDP run (torchrun-compatible: the group comes from RANK/WORLD_SIZE/
    MASTER_ADDR/MASTER_PORT). Emits a ``step`` event per step; returns rank 0's gradients after
    the first backward (already averaged by DDP) and the time spent in the loop."""
    from torch.nn.parallel import DistributedDataParallel as DDP
    device = torch.device(ctx.device)
    model = build_mlp(s.hidden, s.seed).to(device)
    ddp = DDP(model, device_ids=[device.index] if device.type == "cuda" else None, bucket_cap_mb=s.bucket_cap_mb)
    opt = torch.optim.SGD(ddp.parameters(), lr=s.lr)
    X, y = X.to(device), y.to(device)
    first_grads, started = None, time.perf_counter()
    for step in range(s.steps):
        idx = shard(len(y), step, s.seed, s.batch_per_rank, ctx.world_size, ctx.rank).to(device)
        loss = nn.functional.cross_entropy(ddp(X[idx]), y[idx])
        opt.zero_grad(set_to_none=True)
        loss.backward()                 # DDP all-reduces (averages) the gradient buckets here
        if step == 0 and ctx.rank == 0:
            first_grads = flat_grads(model)
        opt.step()
        ctx.emit({"kind": "step", "step": step + 1, "total_steps": s.steps, "epoch": 0, "epochs": 1,
                  "loss": float(loss.detach()), "t": time.time()})
    return {"first_grads": first_grads, "seconds": time.perf_counter() - started,
            "samples": s.steps * s.batch_per_rank}


def single_process_grads(s: DDPSettings, X: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """The oracle: one process, same initial weights, the whole global batch of step 0."""
    model = build_mlp(s.hidden, s.seed)
    idx = torch.cat([shard(len(y), 0, s.seed, s.batch_per_rank, s.world_size, r) for r in range(s.world_size)])
    nn.functional.cross_entropy(model(X[idx]), y[idx]).backward()
    return flat_grads(model)


def _check(s: DDPSettings) -> None:
    hero_dist.check_world_size(s.world_size)
    check_range("steps", s.steps, 1, 10_000)
    check_range("batch_per_rank", s.batch_per_rank, 1, 512)


def train_ddp(s: DDPSettings, stop: threading.Event | None = None, emit: Emit | None = None) -> dict:
    """Spawn ``s.world_size`` ranks, stream their per-rank losses, and compare DDP's first
    gradient with one process on the concatenated batch. Returns losses by rank, the max abs
    gradient difference, the start-up time (spawn → first loss) and throughput."""
    _check(s)
    emit = emit or (lambda e: None)
    X, y = digits_tensors()
    losses: dict[int, list[float]] = {r: [] for r in range(s.world_size)}
    first: list[float] = []
    started = time.monotonic()

    def relay(event: dict) -> None:
        if event.get("kind") == "step":
            losses[event["rank"]].append(event["loss"])
            if not first:
                first.append(time.monotonic() - started)
        emit(event)

    results = hero_dist.run_ranks(ddp_train_rank, s.world_size, (s, X, y), stop=stop, emit=relay,
                                  device=s.device)
    if results is None:
        return None
    reference = single_process_grads(s, X, y)
    diff = float((results[0]["first_grads"] - reference).abs().max())
    seconds = max(r["seconds"] for r in results)
    out = {"settings": asdict(s), "losses": losses, "grad_max_abs_diff": diff,
           "n_params": int(reference.numel()), "first_loss_seconds": first[0] if first else None,
           "total_seconds": time.monotonic() - started, "loop_seconds": seconds,
           "samples_per_s": s.world_size * results[0]["samples"] / seconds}
    emit({"kind": "end", **{k: v for k, v in out.items() if k != "losses"}})
    return out


def throughput(s: DDPSettings, world_sizes: list[int], stop: threading.Event | None = None,
               emit: Emit | None = None) -> list[dict]:
    """Samples per second of the same per-rank work at each world size (weak scaling: each rank
    keeps its batch, so N ranks process N× the rows per step). Spawn time is excluded."""
    for n in world_sizes:
        hero_dist.check_world_size(n)
    emit = emit or (lambda e: None)
    X, y = digits_tensors()
    rows = []
    for i, n in enumerate(world_sizes):
        emit({"kind": "progress", "done": i, "total": len(world_sizes), "text": f"world size {n}"})
        one = DDPSettings(**{**asdict(s), "world_size": n})
        results = hero_dist.run_ranks(ddp_train_rank, n, (one, X, y), stop=stop, device=s.device)
        if results is None:
            return None
        seconds = max(r["seconds"] for r in results)
        rows.append({"world_size": n, "seconds": seconds, "samples_per_s": n * results[0]["samples"] / seconds,
                     "step_ms": 1000 * seconds / s.steps})
    base = rows[0]["samples_per_s"]
    for row in rows:
        row["speedup"] = row["samples_per_s"] / base
    emit({"kind": "progress", "done": len(world_sizes), "total": len(world_sizes), "text": "done"})
    return rows


# --- 14.5 accumulation with no_sync, and the comm-hook timeline ------------------------------------

@dataclass
class CommSettings:
    world_size: int = 2
    micro_steps: int = 8       # backward passes in total
    accumulate: int = 4        # micro-steps per optimizer step (all-reduce only on the last with no_sync)
    hidden: int = 256          # wide enough that the gradient spans several buckets
    layers: int = 4            # hidden layers: one bucket each with the small bucket cap below
    batch_per_rank: int = 32
    bucket_cap_mb: float = 0.3  # small buckets so the timeline shows several all-reduces per backward
    lr: float = 0.05
    seed: int = 0
    device: str = "cpu"


def _timed_allreduce_hook(state: list, bucket):
    """A DDP communication hook: the default average-all-reduce, with its start and end recorded.

    bucket: ``dist.GradBucket`` (a flat buffer of several parameters' gradients). Returns the
    future DDP waits on; its callback stamps the moment the all-reduce finished."""
    start = time.time()
    buffer = bucket.buffer()
    buffer.div_(dist.get_world_size())
    fut = dist.all_reduce(buffer, async_op=True).get_future()

    def finished(f):
        state.append({"bucket": bucket.index(), "start": start, "end": time.time(),
                      "numel": buffer.numel(), "phase": "allreduce"})
        return f.value()[0]
    return fut.then(finished)


def _accumulate(ctx, s: CommSettings, X: torch.Tensor, y: torch.Tensor, use_no_sync: bool) -> dict:
    from torch.nn.parallel import DistributedDataParallel as DDP
    import contextlib
    device = torch.device(ctx.device)
    model = build_mlp(s.hidden, s.seed, layers=s.layers).to(device)
    ddp = DDP(model, device_ids=[device.index] if device.type == "cuda" else None, bucket_cap_mb=s.bucket_cap_mb)
    records: list[dict] = []
    ddp.register_comm_hook(records, _timed_allreduce_hook)
    opt = torch.optim.SGD(ddp.parameters(), lr=s.lr)
    X, y = X.to(device), y.to(device)
    spans: list[dict] = []
    dist.barrier()
    for micro in range(s.micro_steps):
        idx = shard(len(y), micro, s.seed, s.batch_per_rank, ctx.world_size, ctx.rank).to(device)
        last = (micro + 1) % s.accumulate == 0
        sync = contextlib.nullcontext() if (last or not use_no_sync) else ddp.no_sync()
        with sync:
            t0 = time.time()
            loss = nn.functional.cross_entropy(ddp(X[idx]), y[idx]) / s.accumulate
            t1 = time.time()
            loss.backward()
            t2 = time.time()
        spans += [{"phase": "forward", "start": t0, "end": t1, "micro": micro},
                  {"phase": "backward", "start": t1, "end": t2, "micro": micro}]
        if last:
            t3 = time.time()
            opt.step()
            opt.zero_grad(set_to_none=True)
            spans.append({"phase": "step", "start": t3, "end": time.time(), "micro": micro})
    weights = torch.cat([p.detach().reshape(-1).cpu() for p in model.parameters()])
    return {"allreduce": records, "spans": spans, "weights": weights}


def ddp_comm_rank(ctx, s: CommSettings, X: torch.Tensor, y: torch.Tensor) -> dict:
    """Gradient accumulation over ``s.micro_steps`` backward passes, stepping every ``s.accumulate``,
    run twice in the same process group: every backward all-reduces (``every_step``), then the
    first ``accumulate − 1`` backward passes of each step skip it inside ``ddp.no_sync()``.
    Each run returns the hook's records (count, time), the compute spans and the final weights."""
    out = {}
    for i, use in enumerate((False, True)):
        out["no_sync" if use else "every_step"] = _accumulate(ctx, s, X, y, use)
        ctx.emit({"kind": "progress", "done": i + 1, "total": 2, "text": "no_sync" if use else "every step"})
    return out


def accumulation(s: CommSettings, stop: threading.Event | None = None, emit: Emit | None = None) -> dict:
    """The same accumulation run twice, with and without ``no_sync``: all-reduce calls and time
    per rank, the per-rank timelines, and the max weight difference between the two (≈ 0)."""
    hero_dist.check_world_size(s.world_size)
    check_range("accumulate", s.accumulate, 1, s.micro_steps)
    emit = emit or (lambda e: None)
    X, y = digits_tensors()
    out: dict = {"settings": asdict(s)}
    results_by_rank = hero_dist.run_ranks(ddp_comm_rank, s.world_size, (s, X, y), stop=stop, emit=emit,
                                          device=s.device)
    if results_by_rank is None:
        return None
    for name in ("every_step", "no_sync"):
        results = [r[name] for r in results_by_rank]
        t0 = min(e["start"] for r in results for e in r["spans"])
        out[name] = {"calls": [len(r["allreduce"]) for r in results],
                     "allreduce_ms": [1000 * sum(a["end"] - a["start"] for a in r["allreduce"]) for r in results],
                     "timeline": [{"rank": rank, **e, "start": e["start"] - t0, "end": e["end"] - t0}
                                  for rank, r in enumerate(results) for e in r["spans"] + r["allreduce"]],
                     "weights": results[0]["weights"]}
    out["weight_max_abs_diff"] = float((out["no_sync"]["weights"] - out["every_step"]["weights"]).abs().max())
    for name in ("no_sync", "every_step"):
        del out[name]["weights"]
    return out



def faulty_rank(ctx, mode: str, fail_rank: int = 1) -> dict:
    """A rank that fails on purpose after one good all_reduce, to show what the parent reports:
    ``raise`` (an exception), ``exit`` (the process dies with code 3), ``hang`` (never answers:
    the survivors' next collective runs into the process group's timeout)."""
    import os
    x = torch.ones(4)
    dist.all_reduce(x)
    if ctx.rank == fail_rank:
        if mode == "raise":
            raise RuntimeError("rank failed on purpose")
        if mode == "exit":
            os._exit(3)
        if mode == "hang":
            time.sleep(3600)
    dist.all_reduce(x)          # the survivors wait here for the missing rank
    return {"sum": x.tolist()}
