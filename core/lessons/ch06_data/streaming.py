"""6.1 Streaming: an IterableDataset over a big file in constant memory, sharded across workers."""
from __future__ import annotations

import tempfile
import threading
import time
import tracemalloc
from pathlib import Path

import numpy as np
import plotly.graph_objects as go
from torch.utils.data import DataLoader

from core import viz
from core.data.ch06_sets import RECORD, RecordStream, write_records
from core.errors import Emit, HeroError
from core.lessons.ch06_data.presets import MAX_WORKERS, SPAWN, STREAM_SIZES_MB


_TRACE_LOCK = threading.Lock()   # tracemalloc is process-wide: one measurement at a time


def record_file(size_mb: int, seed: int = 0) -> Path:
    """Path of the generated record file of ``size_mb`` MB (shared temp dir, reused)."""
    if size_mb not in STREAM_SIZES_MB:
        raise HeroError("ch06.bad_file_size", size=size_mb, allowed=", ".join(map(str, STREAM_SIZES_MB)))
    return Path(tempfile.gettempdir()) / "hero-ch06" / f"records_{size_mb}mb_seed{seed}.bin"


def rows_for(size_mb: int) -> int:
    return size_mb * 2**20 // RECORD.itemsize


def stream_with_memory(path: Path, chunk_rows: int = 4096, stop: threading.Event | None = None) -> dict:
    """Stream every row of ``path`` through a RecordStream while tracing allocations.

    Returns rows read, seconds, and ``trace``: (MB read so far, MB of Python/NumPy memory in
    use) after each chunk, plus ``peak_mb``. Constant memory = a flat trace.
    """
    stream = RecordStream(path, chunk_rows=chunk_rows, batched=True)
    loader = DataLoader(stream, batch_size=None)          # chunks are already batches
    trace, rows, total = [], 0, 0.0
    with _TRACE_LOCK:
        tracemalloc.start()
        base = tracemalloc.get_traced_memory()[0]
        started = time.perf_counter()
        try:
            for chunk in loader:
                rows += len(chunk["id"])
                total += float(chunk["x"].sum())           # touch the data, as training would
                current, _ = tracemalloc.get_traced_memory()
                trace.append((rows * RECORD.itemsize / 2**20, (current - base) / 2**20))
                if stop is not None and stop.is_set():
                    break
            seconds = time.perf_counter() - started
            peak = (tracemalloc.get_traced_memory()[1] - base) / 2**20
        finally:
            tracemalloc.stop()
    return {"rows": rows, "seconds": seconds, "trace": trace, "peak_mb": peak}


def read_all_peak(path: Path) -> float:
    """Peak MB allocated by the naive way: load the whole file into one array."""
    with _TRACE_LOCK:
        tracemalloc.start()
        try:
            rows = np.fromfile(path, dtype=RECORD)
            float(rows["x"].sum())
            peak = tracemalloc.get_traced_memory()[1] / 2**20
            del rows
        finally:
            tracemalloc.stop()
    return peak


def shard_check(path: Path, num_workers: int, shard: bool = True, chunk_rows: int = 4096) -> dict:
    """Read the file with ``num_workers`` spawned workers; count how often each row id arrives.

    ``each_once`` is True when every row id 0..N-1 was seen exactly once.
    """
    if not 0 <= num_workers <= MAX_WORKERS:
        raise HeroError("ch06.bad_workers", value=num_workers, limit=MAX_WORKERS)
    stream = RecordStream(path, chunk_rows=chunk_rows, batched=True, shard=shard)
    n = stream.n_rows()
    loader = DataLoader(stream, batch_size=None, num_workers=num_workers,
                        multiprocessing_context=SPAWN if num_workers else None)
    seen = np.zeros(n, dtype=np.int64)
    per_worker: dict[int, int] = {}
    started = time.perf_counter()
    for chunk in loader:
        np.add.at(seen, chunk["id"].numpy(), 1)
        w = int(chunk["worker"][0])
        per_worker[w] = per_worker.get(w, 0) + len(chunk["id"])
    return {"rows": n, "read": int(seen.sum()), "each_once": bool((seen == 1).all()),
            "duplicates": int((seen > 1).sum()), "missing": int((seen == 0).sum()),
            "per_worker": dict(sorted(per_worker.items())), "seconds": time.perf_counter() - started,
            "num_workers": num_workers, "shard": shard}


def streaming_demo(size_mb: int, num_workers: int, naive: bool, stop: threading.Event | None = None,
                   emit: Emit | None = None, seed: int = 0) -> dict:
    """The whole 6.1 streaming demo: write the file, stream it, compare, check sharding."""
    emit = emit or (lambda event: None)
    path = record_file(size_mb, seed)
    # 1. generate the big file (once; reused by later runs and visitors)
    emit({"kind": "stage", "stage": "write"})
    emit({"kind": "progress", "done": 0, "total": 4, "text": "write"})
    started = time.perf_counter()
    write_records(path, rows_for(size_mb), seed)
    result = {"file_mb": path.stat().st_size / 2**20, "rows": rows_for(size_mb),
              "write_s": time.perf_counter() - started}
    # 2. stream it chunk by chunk, tracing memory; 3. the naive full load for contrast
    emit({"kind": "stage", "stage": "stream"})
    emit({"kind": "progress", "done": 1, "total": 4, "text": "stream"})
    result["stream"] = stream_with_memory(path, stop=stop)
    emit({"kind": "stage", "stage": "read_all"})
    emit({"kind": "progress", "done": 2, "total": 4, "text": "read_all"})
    result["read_all_peak_mb"] = read_all_peak(path)
    # 4. workers: sharded by get_worker_info (each row once) and, optionally, not sharded
    emit({"kind": "stage", "stage": "workers"})
    emit({"kind": "progress", "done": 3, "total": 4, "text": "workers"})
    result["sharded"] = shard_check(path, num_workers, shard=True)
    if naive and num_workers > 1:
        result["naive"] = shard_check(path, num_workers, shard=False)
    return result


def memory_figure(result: dict, labels: dict[str, str]) -> go.Figure:
    """Memory in use while streaming (flat) vs MB read (rising), and the full-load peak."""
    mb_read, in_use = zip(*result["stream"]["trace"]) if result["stream"]["trace"] else ((0,), (0,))
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=mb_read, y=mb_read, name=labels["read"], line=dict(color="#9ecae1", dash="dot")))
    fig.add_trace(go.Scatter(x=mb_read, y=in_use, name=labels["stream"], line=dict(color=viz.PALETTE[0])))
    fig.add_trace(go.Scatter(x=[mb_read[-1]], y=[result["read_all_peak_mb"]], name=labels["read_all"],
                             mode="markers", marker=dict(size=12, symbol="x", color=viz.PALETTE[1])))
    fig.update_layout(**viz.LAYOUT, xaxis_title=labels["x"], yaxis_title=labels["y"])
    return fig
