"""Which hardware runs the demos: accelerator detection, CPU thread budget, seeding, presets.

Order of preference is CUDA → MPS → CPU; ``HERO_DEVICE=cpu|cuda|mps`` overrides it.
Threads follow the CPU *quota* (cgroup limits, CPU affinity) rather than the host's core
count, because a 2-vCPU container on a 64-core host would otherwise start 64 threads
that fight over 2 cores.
"""
from __future__ import annotations

import math
import os
import random
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

PRESETS = ("tiny", "default", "gpu")


@dataclass(frozen=True)
class DeviceInfo:
    kind: str                  # "cuda", "mps" or "cpu": the torch device type the demos use
    name: str                  # human-readable device name (GPU model, or the CPU's)
    torch_version: str
    cuda_version: str | None   # CUDA runtime torch was built with, None for CPU-only builds
    memory_gb: float | None    # accelerator memory; None on CPU/MPS
    capability: str | None     # CUDA compute capability "8.0", None elsewhere
    bf16: bool                 # whether bfloat16 autocast is supported on this device
    threads: int               # torch intra-op threads actually in use
    cpu_quota: int             # CPUs this process may use (cgroup/affinity), not the host's count
    overridden: bool = False   # True when HERO_DEVICE chose the device

    @property
    def torch_device(self) -> torch.device:
        return torch.device(self.kind)


def _cgroup_cpu_limit() -> float | None:
    """CPU limit from cgroup v2 ``cpu.max`` or v1 ``cfs_quota_us``; None when unlimited."""
    v2 = Path("/sys/fs/cgroup/cpu.max")
    try:
        if v2.exists():
            quota, period = v2.read_text().split()[:2]
            if quota != "max":
                return int(quota) / int(period)
            return None
        q = Path("/sys/fs/cgroup/cpu/cpu.cfs_quota_us")
        p = Path("/sys/fs/cgroup/cpu/cpu.cfs_period_us")
        if q.exists() and p.exists():
            quota = int(q.read_text())
            if quota > 0:
                return quota / int(p.read_text())
    except (OSError, ValueError):
        pass
    return None


def cpu_quota() -> int:
    """Number of CPUs this process may really use: min(affinity, cgroup quota), at least 1."""
    try:
        available = len(os.sched_getaffinity(0))
    except AttributeError:  # macOS / Windows have no sched_getaffinity
        available = os.cpu_count() or 1
    limit = _cgroup_cpu_limit()
    if limit is not None:
        available = min(available, max(1, math.ceil(limit)))
    return max(1, available)


def configure_threads(threads: int | None = None) -> int:
    """Set torch's intra-op threads: ``HERO_THREADS``, else ``threads``, else the CPU quota.

    A server that trains several models at once passes quota // concurrent runs: more
    threads than cores makes OpenMP threads spin against each other, and small models
    then train 10–40× slower (measured on 2 busy cores).
    """
    wanted = int(os.environ.get("HERO_THREADS", 0)) or (threads or cpu_quota())
    if torch.get_num_threads() != wanted:
        torch.set_num_threads(wanted)
    return torch.get_num_threads()


def _mps_available() -> bool:
    mps = getattr(torch.backends, "mps", None)
    return bool(mps and mps.is_available())


def detect() -> DeviceInfo:
    """Find the best device (or the one ``HERO_DEVICE`` names) and describe it.

    Reports the torch thread count in force; ``configure_threads`` is what sets it.
    """
    quota = cpu_quota()
    threads = torch.get_num_threads()
    wanted = os.environ.get("HERO_DEVICE", "").strip().lower()
    if wanted == "cuda" and not torch.cuda.is_available():
        wanted = ""  # asked for CUDA on a machine without it: fall back to auto-detection
    if wanted == "mps" and not _mps_available():
        wanted = ""
    kind = wanted or ("cuda" if torch.cuda.is_available() else "mps" if _mps_available() else "cpu")
    common = dict(torch_version=torch.__version__, cuda_version=torch.version.cuda,
                  threads=threads, cpu_quota=quota, overridden=bool(wanted))
    if kind == "cuda":
        props = torch.cuda.get_device_properties(0)
        return DeviceInfo(kind="cuda", name=props.name, memory_gb=round(props.total_memory / 2**30, 1),
                          capability=f"{props.major}.{props.minor}",
                          bf16=torch.cuda.is_bf16_supported(), **common)
    if kind == "mps":
        return DeviceInfo(kind="mps", name="Apple GPU (MPS)", memory_gb=None, capability=None,
                          bf16=False, **common)
    return DeviceInfo(kind="cpu", name=_cpu_name(), memory_gb=None, capability=None,
                      bf16=True, **common)  # CPU autocast supports bf16 (slow on old CPUs, but correct)


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    import platform
    return platform.processor() or platform.machine() or "CPU"


def preset(info: DeviceInfo | None = None) -> str:
    """The demo size to use: ``HERO_PRESET`` if set, else ``gpu`` on CUDA, else ``default``."""
    forced = os.environ.get("HERO_PRESET", "").strip().lower()
    if forced in PRESETS:
        return forced
    info = info or detect()
    return "gpu" if info.kind == "cuda" else "default"


def autocast_dtype(info: DeviceInfo) -> torch.dtype | None:
    """Reduced-precision dtype for ``torch.autocast`` on this device, or None to stay in fp32.

    CPU stays fp32 by default: bf16 autocast on CPUs without AMX is slower, not faster.
    """
    if info.kind == "cuda":
        return torch.bfloat16 if info.bf16 else torch.float16
    if info.kind == "mps":
        return torch.float16
    return None


def seed_everything(seed: int) -> torch.Generator:
    """Seed Python, NumPy and torch (all devices); return a CPU generator seeded the same."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)


def synchronize(device: torch.device | str) -> None:
    """Wait for queued kernels so wall-clock timings measure the work, not the launch."""
    kind = torch.device(device).type
    if kind == "cuda":
        torch.cuda.synchronize()
    elif kind == "mps":
        torch.mps.synchronize()


def matmul_gflops(device: torch.device | str, n: int = 512, repeats: int = 5,
                  dtype: torch.dtype = torch.float32) -> float:
    """Measured GFLOP/s of an n×n @ n×n matmul on ``device`` (best of ``repeats``).

    A matmul does 2·n³ floating-point operations; we time after a warm-up and take the
    fastest repeat, which is the least disturbed by other processes on a shared machine.
    """
    a = torch.randn(n, n, device=device, dtype=dtype)
    b = torch.randn(n, n, device=device, dtype=dtype)
    a @ b  # warm-up: first call pays for kernel selection / allocation
    synchronize(device)
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        a @ b
        synchronize(device)
        best = min(best, time.perf_counter() - start)
    return 2 * n**3 / max(best, 1e-9) / 1e9
