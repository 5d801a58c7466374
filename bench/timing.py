"""Timing helpers shared by the benchmark scripts."""
from __future__ import annotations

import statistics
import time
from typing import Callable


def median_time(fn: Callable[[], object], repeats: int = 7, warmup: bool = True) -> float:
    """Median wall time of ``fn()`` over ``repeats`` calls, after one warm-up call
    (imports, caches and first allocations are not what a visitor waits for on a rerun)."""
    if warmup:
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def once(fn: Callable[[], object]) -> float:
    """Wall time of a single call."""
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start
