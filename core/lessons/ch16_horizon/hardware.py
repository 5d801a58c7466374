"""16.6 Hardware and PyTorch 2: which accelerator back-ends this torch build knows, which autocast
dtypes this device really supports (found by trying, not by a table), matmul speed per dtype,
``torch.compile`` timed live (compile time, then eager vs compiled steady state), and graph breaks
shown with ``torch._dynamo.explain`` on a function with a deliberate break and one without.

``torch.compile`` needs a C++ compiler (g++) for its CPU code and ~10–30 s for the first call of a
small model on a 2-core CPU: the page runs it in the background and says so.
"""
from __future__ import annotations

import statistics
import threading
import time
import warnings
from dataclasses import asdict, dataclass
from typing import Callable

import torch
from torch import nn

from core.device import matmul_gflops, synchronize
from core.errors import HeroError, check_range
from core.export import CAPTURE_LOCK

DTYPES = {"float64": torch.float64, "float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}
AUTOCAST_DTYPES = ("bfloat16", "float16")
BACKENDS = ("inductor", "aot_eager", "eager")   # inductor writes C++/Triton kernels; the other two only trace

PRESETS = {
    "tiny": {"matmul_n": 64, "matmul_repeats": 2, "width": 32, "depth": 1, "batch": 8, "repeats": 5},
    "default": {"matmul_n": 512, "matmul_repeats": 5, "width": 256, "depth": 2, "batch": 64, "repeats": 50},
    "gpu": {"matmul_n": 4096, "matmul_repeats": 10, "width": 1024, "depth": 4, "batch": 256, "repeats": 100},
}


# --------------------------------------------------------------------------- what this torch knows

def accelerators() -> list[dict]:
    """Every accelerator back-end this torch build knows of: built in?, usable now?, devices."""
    rows = []
    cuda_built = torch.backends.cuda.is_built()
    rows.append({"backend": "cuda" + (" (ROCm)" if getattr(torch.version, "hip", None) else ""),
                 "built": cuda_built, "available": torch.cuda.is_available(),
                 "devices": torch.cuda.device_count() if torch.cuda.is_available() else 0,
                 "name": torch.cuda.get_device_name(0) if torch.cuda.is_available() else ""})
    mps = getattr(torch.backends, "mps", None)
    rows.append({"backend": "mps", "built": bool(mps and mps.is_built()), "available": bool(mps and mps.is_available()),
                 "devices": 1 if mps and mps.is_available() else 0, "name": "Apple GPU" if mps and mps.is_available() else ""})
    xpu = getattr(torch, "xpu", None)
    xpu_ok = bool(xpu and xpu.is_available())
    rows.append({"backend": "xpu", "built": bool(xpu and getattr(xpu, "_is_compiled", lambda: False)()),
                 "available": xpu_ok, "devices": xpu.device_count() if xpu_ok else 0,
                 "name": xpu.get_device_name(0) if xpu_ok else ""})
    import importlib.util
    xla = importlib.util.find_spec("torch_xla") is not None        # TPUs reach PyTorch through torch_xla
    rows.append({"backend": "xla (TPU)", "built": xla, "available": xla, "devices": 0, "name": ""})
    current = torch.accelerator.current_accelerator() if torch.accelerator.is_available() else None
    for row in rows:
        row["current"] = current is not None and row["backend"].startswith(current.type)
    return rows


def autocast_support(device: str = "cpu") -> list[dict]:
    """For bf16 and fp16: does ``torch.autocast(device, dtype)`` really run a Linear in that dtype here?

    Tried, not looked up: autocast that a device cannot honour warns and runs in fp32 (or raises),
    so the output dtype says what happened. Also whether a plain matmul works in the dtype.
    """
    kind = torch.device(device).type
    layer = nn.Linear(16, 16).to(device)
    x = torch.randn(4, 16, device=device)
    rows = []
    for name in AUTOCAST_DTYPES:
        dtype = DTYPES[name]
        row = {"device": kind, "dtype": name, "autocast": False, "output": "", "matmul": False, "note": ""}
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                with torch.no_grad(), torch.autocast(device_type=kind, dtype=dtype):
                    y = layer(x)
            row["output"] = str(y.dtype).replace("torch.", "")
            row["autocast"] = y.dtype == dtype
            row["note"] = "; ".join(str(w.message) for w in caught)[:200]
        except (RuntimeError, TypeError, ValueError) as exc:
            row["note"] = f"{type(exc).__name__}: {exc}"[:200]
        try:
            a = torch.randn(8, 8, device=device, dtype=dtype)
            row["matmul"] = bool(torch.isfinite(a @ a).all())
        except (RuntimeError, TypeError) as exc:
            row["note"] = (row["note"] + f" {type(exc).__name__}: {exc}").strip()[:200]
        rows.append(row)
    return rows


@dataclass
class MatmulSettings:
    n: int = 512                   # square matrices n×n: 2n³ FLOPs per product
    repeats: int = 5               # best of this many (the least disturbed by other processes)
    dtypes: tuple[str, ...] = ("float64", "float32", "bfloat16", "float16")
    device: str = "cpu"


def matmul_speeds(s: MatmulSettings, stop_event: threading.Event | None = None,
                  emit: Callable[[dict], None] | None = None) -> list[dict]:
    """Measured GFLOP/s of an n×n matmul per dtype on ``s.device`` (and on the CPU beside an accelerator)."""
    check_range("n", s.n, 16, 16384)
    emit = emit or (lambda e: None)
    devices = [s.device] if torch.device(s.device).type == "cpu" else [s.device, "cpu"]
    jobs = [(d, name) for d in devices for name in s.dtypes]
    rows = []
    for i, (device, name) in enumerate(jobs):
        if stop_event is not None and stop_event.is_set():
            break
        emit({"kind": "progress", "done": i, "total": len(jobs), "text": f"{device} · {name} · {s.n}×{s.n}"})
        n = s.n if torch.device(device).type == torch.device(s.device).type else min(s.n, 1024)   # the CPU beside a GPU: smaller
        try:
            gflops = matmul_gflops(device, n=n, repeats=s.repeats, dtype=DTYPES[name])
        except RuntimeError as exc:       # a dtype without kernels on this device
            gflops, note = float("nan"), f"{type(exc).__name__}: {exc}"[:120]
        else:
            note = ""
        rows.append({"device": torch.device(device).type, "dtype": name, "n": n, "gflops": gflops, "note": note})
    emit({"kind": "progress", "done": len(jobs), "total": len(jobs), "text": "✓"})
    return rows


# --------------------------------------------------------------------------- torch.compile, timed

@dataclass
class CompileSettings:
    width: int = 256               # hidden width of the MLP blocks
    depth: int = 2                 # blocks of Linear → GELU → Linear → LayerNorm (elementwise ops inductor fuses)
    batch: int = 64
    repeats: int = 50              # timed calls each for eager and compiled (median reported)
    backend: str = "inductor"      # "inductor" (generates kernels), "aot_eager" or "eager" (trace only, no codegen)
    mode: str = "default"          # "default", "reduce-overhead" (CUDA graphs on GPU), "max-autotune"
    seed: int = 0
    device: str = "cpu"


def small_model(s: CompileSettings) -> nn.Sequential:
    """A stack of MLP blocks: matmuls separated by GELU and LayerNorm, the pattern compilers fuse. x [B, width] → [B, width]."""
    torch.manual_seed(s.seed)
    layers: list[nn.Module] = []
    for _ in range(s.depth):
        layers += [nn.Linear(s.width, 4 * s.width), nn.GELU(), nn.Linear(4 * s.width, s.width), nn.LayerNorm(s.width)]
    return nn.Sequential(*layers)


def paired_ms(fns: tuple[Callable[[], object], ...], repeats: int, device: str, warmup: int = 3) -> list[float]:
    """Median wall-clock milliseconds of each of ``fns``, timed in turns (a, b, a, b, …) after a
    warm-up, waiting for the device after each call: on a shared machine both see the same load."""
    for _ in range(warmup):
        for fn in fns:
            fn()
    synchronize(device)
    times: list[list[float]] = [[] for _ in fns]
    for _ in range(repeats):
        for fn, mine in zip(fns, times):
            start = time.perf_counter()
            fn()
            synchronize(device)
            mine.append((time.perf_counter() - start) * 1000)
    return [statistics.median(mine) for mine in times]


def _cache_counters() -> dict:
    from torch._dynamo.utils import counters
    return {k: int(counters["inductor"].get(k, 0)) for k in ("fxgraph_cache_hit", "fxgraph_cache_miss")}


def compile_speed(s: CompileSettings, stop_event: threading.Event | None = None,
                  emit: Callable[[dict], None] | None = None) -> dict:
    """Compile a small model with ``torch.compile`` and time it against eager, on ``s.device``.

    1. compile: ``torch.compile`` is lazy, so the first call pays for tracing (dynamo), graph
    lowering and code generation — that call's time is the compile time; 2. steady state: median
    ms per forward (inference) of eager and compiled, timed in turns; 3. the outputs must agree.
    """
    if s.backend not in BACKENDS:
        raise HeroError("ch16.hw.bad_backend", backend=s.backend, choices=", ".join(BACKENDS))
    check_range("width", s.width, 4, 8192)
    check_range("repeats", s.repeats, 1, 1000)
    emit = emit or (lambda e: None)
    model = small_model(s).to(s.device).eval()
    x = torch.randn(s.batch, s.width, device=s.device)
    emit({"kind": "progress", "done": 0, "total": 2, "text": f"torch.compile({s.backend}) … compiling"})
    before = _cache_counters()
    # torch.compile installs process-wide tracing state: one capture at a time across all visitors.
    # reset() forgets earlier compilations, so this run really compiles (inductor's on-disk cache may still hit).
    with CAPTURE_LOCK:
        torch._dynamo.reset()
        compiled = torch.compile(model, backend=s.backend, mode=None if s.backend != "inductor" else s.mode)
        start = time.perf_counter()
        with torch.no_grad():
            out = compiled(x)
        synchronize(s.device)
        compile_s = time.perf_counter() - start
    after = _cache_counters()
    if stop_event is not None and stop_event.is_set():
        return {}
    emit({"kind": "progress", "done": 1, "total": 2, "text": f"eager ⇄ torch.compile({s.backend}) · {s.repeats}×"})
    with torch.no_grad():
        expected = model(x)
        eager_ms, compiled_ms = paired_ms((lambda: model(x), lambda: compiled(x)), s.repeats, s.device)
    emit({"kind": "progress", "done": 2, "total": 2, "text": "✓"})
    params = sum(p.numel() for p in model.parameters())
    return {"eager_ms": eager_ms, "compiled_ms": compiled_ms, "speedup": eager_ms / compiled_ms,
            "compile_s": compile_s, "break_even_calls": compile_s * 1000 / max(eager_ms - compiled_ms, 1e-9)
            if eager_ms > compiled_ms else float("inf"),
            "max_abs_diff": float((out.float() - expected.float()).abs().max()), "params": params,
            "cache_hits": after["fxgraph_cache_hit"] - before["fxgraph_cache_hit"],
            "cache_misses": after["fxgraph_cache_miss"] - before["fxgraph_cache_miss"], "settings": asdict(s)}


# --------------------------------------------------------------------------- graph breaks

def scale_clean(x: torch.Tensor) -> torch.Tensor:
    """Normalise, squash and rescale x [B, D]: every step is a tensor op, so dynamo captures one graph."""
    x = (x - x.mean(-1, keepdim=True)) / (x.std(-1, keepdim=True) + 1e-5)
    x = torch.tanh(x) * 2.0
    big = x.abs().amax() > 1.5                 # stays a tensor: no Python bool needed
    return torch.where(big, x / 2.0, x) + 1.0


def scale_with_break(x: torch.Tensor) -> torch.Tensor:
    """The same computation, but ``.item()`` turns a tensor into a Python number and an ``if`` branches
    on it: dynamo cannot trace a value it does not know yet, so the graph breaks there."""
    x = (x - x.mean(-1, keepdim=True)) / (x.std(-1, keepdim=True) + 1e-5)
    x = torch.tanh(x) * 2.0
    if x.abs().amax().item() > 1.5:            # graph break: Tensor.item() → Python control flow
        x = x / 2.0
    return x + 1.0


def graph_breaks(functions: tuple[Callable, ...] = (scale_clean, scale_with_break), batch: int = 4,
                 width: int = 8, emit: Callable[[dict], None] | None = None) -> list[dict]:
    """``torch._dynamo.explain`` on each function with x [batch, width]: graphs, breaks and why.

    explain traces with a recording backend (no code generation), so it takes a second, not a compile.
    """
    x = torch.randn(batch, width, generator=torch.Generator().manual_seed(0))
    emit = emit or (lambda e: None)
    rows = []
    for i, fn in enumerate(functions):
        emit({"kind": "progress", "done": i, "total": len(functions), "text": f"torch._dynamo.explain({fn.__name__})"})
        with CAPTURE_LOCK:
            report = torch._dynamo.explain(fn)(x)
        rows.append({"function": fn.__name__, "graphs": report.graph_count, "breaks": report.graph_break_count,
                     "ops": report.op_count,
                     "reasons": [_reason_text(r) for r in report.break_reasons],
                     "ops_per_graph": [[getattr(op, "__name__", str(op)) for op in ops] for ops in (report.ops_per_graph or [])],
                     "same_result": bool(torch.allclose(fn(x), scale_clean(x)))})
    emit({"kind": "progress", "done": len(functions), "total": len(functions), "text": "✓"})
    return rows


def _reason_text(reason) -> str:
    """A break reason as one line: dynamo's message and the user line it stopped at."""
    first = str(reason.reason).strip().splitlines()[0] if str(reason.reason).strip() else ""
    where = ""
    if reason.user_stack:
        frame = reason.user_stack[-1]
        where = f" — {frame.name}(), line {frame.lineno}: {(frame.line or '').strip()}"
    return f"{first}{where}"[:300]
