"""14.5 model parallel and a two-stage pipeline across two processes, with ``send``/``recv``.

The model is split in two: rank 0 holds the first half (stage 0), rank 1 the second half and
the loss (stage 1). A batch is cut into ``micro_batches`` pieces and run GPipe-style:

    1. stage 0: forward micro-batch m, isend its activations [mb, width] to rank 1 (all m)
    2. stage 1: recv activations m, forward, loss/M, backward, isend d loss/d activations back
    3. stage 0: recv the gradient of m, backward through its half
    4. both: optimizer step on their own parameters

With one micro-batch this is plain model parallelism: one stage always waits for the other.
Every span is timestamped with ``time.time()`` (one clock for all processes of a machine), so the
bubble is drawn from measurements; GPipe's ideal bubble share is (p − 1)/(m + p − 1).
``torch.distributed.pipelining`` is not used: it hangs with gloo on CPU (DESIGN.md).
"""
from __future__ import annotations

import threading
import time
from dataclasses import asdict, dataclass

import torch
import torch.distributed as dist
from torch import nn

from core import dist as hero_dist
from core.errors import Emit, HeroError, check_range


@dataclass
class PipeSettings:
    micro_batches: int = 4     # pieces of the batch in flight (1 = naive model parallel)
    batch: int = 256           # rows per optimizer step, split into micro-batches
    width: int = 512           # hidden width: big enough that each stage's compute is visible
    layers_per_stage: int = 3  # Linear+ReLU blocks on each of the two ranks
    steps: int = 2             # optimizer steps (each one full pipeline flush)
    lr: float = 0.01
    seed: int = 0
    device: str = "cpu"


def build_stages(s: PipeSettings) -> tuple[nn.Module, nn.Module]:
    """The whole model [batch, 64] → [batch, 10], cut in two halves (same weights on every rank)."""
    torch.manual_seed(s.seed)
    first = [nn.Linear(64, s.width), nn.ReLU()]
    for _ in range(s.layers_per_stage - 1):
        first += [nn.Linear(s.width, s.width), nn.ReLU()]
    second: list[nn.Module] = []
    for _ in range(s.layers_per_stage):
        second += [nn.Linear(s.width, s.width), nn.ReLU()]
    return nn.Sequential(*first), nn.Sequential(*second, nn.Linear(s.width, 10))


def pipe_data(s: PipeSettings) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(s.seed + 1)
    return torch.rand(s.batch * s.steps, 64, generator=gen), torch.randint(0, 10, (s.batch * s.steps,), generator=gen)


def pipeline_rank(ctx, s: PipeSettings) -> dict:
    """One stage of the pipeline. Returns its spans (phase, micro-batch, start, end), the loss of
    each step (stage 1) and its gradients after the first step's backward."""
    device = torch.device(ctx.device)
    stage = build_stages(s)[ctx.rank].to(device)
    opt = torch.optim.SGD(stage.parameters(), lr=s.lr)
    X, y = (t.to(device) for t in pipe_data(s))
    mb = s.batch // s.micro_batches
    spans, losses, first_grads = [], [], None
    dist.barrier()
    for step in range(s.steps):
        xs = X[step * s.batch:(step + 1) * s.batch].split(mb)
        ys = y[step * s.batch:(step + 1) * s.batch].split(mb)
        opt.zero_grad(set_to_none=True)
        if ctx.rank == 0:
            outs, sends = [], []
            for m, xm in enumerate(xs):                       # 1. all forwards, activations sent on
                t0 = time.time()
                a = stage(xm)
                spans.append({"phase": "forward", "micro": m, "step": step, "start": t0, "end": time.time()})
                sends.append(dist.isend(a.detach().contiguous(), dst=1))
                outs.append(a)
            for m, a in enumerate(outs):                      # 3. backward as the gradients return
                g = torch.empty_like(a)
                dist.recv(g, src=1)
                t0 = time.time()
                a.backward(g)
                spans.append({"phase": "backward", "micro": m, "step": step, "start": t0, "end": time.time()})
            for w in sends:
                w.wait()
        else:
            total, sends = 0.0, []
            for m, ym in enumerate(ys):                       # 2. recv, forward, loss, backward, send grad
                a = torch.empty(len(ym), s.width, device=device)
                dist.recv(a, src=0)
                a.requires_grad_(True)
                t0 = time.time()
                loss = nn.functional.cross_entropy(stage(a), ym) / s.micro_batches
                t1 = time.time()
                loss.backward()
                spans += [{"phase": "forward", "micro": m, "step": step, "start": t0, "end": t1},
                          {"phase": "backward", "micro": m, "step": step, "start": t1, "end": time.time()}]
                sends.append(dist.isend(a.grad.contiguous(), dst=0))
                total += float(loss.detach())
            for w in sends:
                w.wait()
            losses.append(total)
        if step == 0:
            first_grads = torch.cat([p.grad.reshape(-1).cpu() for p in stage.parameters()])
        opt.step()                                            # 4. each rank updates its own half
        ctx.emit({"kind": "progress", "done": step + 1, "total": s.steps, "text": f"step {step + 1}"})
    return {"spans": spans, "losses": losses, "first_grads": first_grads}


def single_process_grads(s: PipeSettings) -> torch.Tensor:
    """The oracle: the same two halves in one process, the whole first batch at once."""
    first, second = build_stages(s)
    X, y = pipe_data(s)
    nn.functional.cross_entropy(second(first(X[:s.batch])), y[:s.batch]).backward()
    return torch.cat([p.grad.reshape(-1) for m in (first, second) for p in m.parameters()])


def bubble_share(spans: list[dict], ranks: int = 2) -> float:
    """Measured idle share of the pipeline: 1 − busy time / (ranks × span of the run)."""
    start, end = min(x["start"] for x in spans), max(x["end"] for x in spans)
    busy = sum(x["end"] - x["start"] for x in spans)
    return max(0.0, 1 - busy / (ranks * (end - start)))


def run_pipeline(s: PipeSettings, stop: threading.Event | None = None, emit: Emit | None = None) -> dict:
    """Two ranks, one per stage. Returns the spans of both ranks (seconds from the first start),
    the measured and the ideal bubble share, and the gradient difference against one process."""
    check_range("micro_batches", s.micro_batches, 1, 64)
    if s.batch % s.micro_batches:
        raise HeroError("ch14.micro_split", batch=s.batch, micro=s.micro_batches)
    results = hero_dist.run_ranks(pipeline_rank, 2, (s,), stop=stop, emit=emit, device=s.device)
    if results is None:
        return None
    t0 = min(x["start"] for r in results for x in r["spans"])
    spans = [{"rank": rank, **x, "start": x["start"] - t0, "end": x["end"] - t0}
             for rank, r in enumerate(results) for x in r["spans"]]
    grads = torch.cat([results[0]["first_grads"], results[1]["first_grads"]])
    first_step = [x for x in spans if x["step"] == 0]
    return {"settings": asdict(s), "spans": spans, "losses": results[1]["losses"],
            "bubble_measured": bubble_share(first_step), "bubble_ideal": 1 / (s.micro_batches + 1),
            "grad_max_abs_diff": float((grads - single_process_grads(s)).abs().max())}
