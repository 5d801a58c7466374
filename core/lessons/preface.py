"""Preface — environment check: what torch sees, and how fast this machine multiplies matrices."""
from __future__ import annotations

import platform

import torch

from core.device import DeviceInfo, detect, matmul_gflops


def environment_report(info: DeviceInfo) -> dict[str, str]:
    """Versions and hardware, as the book's 环境搭建 section asks the reader to check."""
    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "cuda (build)": torch.version.cuda or "—",
        "cuda available": str(torch.cuda.is_available()),
        "mps available": str(bool(getattr(torch.backends, "mps", None) and torch.backends.mps.is_available())),
        "device": f"{info.kind} — {info.name}",
        "threads": f"{info.threads} / quota {info.cpu_quota}",
    }


def matmul_benchmark(info: DeviceInfo, sizes: tuple[int, ...] = (128, 256, 512), repeats: int = 3) -> list[dict]:
    """GFLOP/s of square float32 matmuls on the CPU and, when present, the accelerator.

    Returns rows {"device", "n", "gflops"}; an n×n matmul costs 2·n³ floating-point operations.
    """
    devices = ["cpu"] + ([info.kind] if info.kind != "cpu" else [])
    return [{"device": dev, "n": n, "gflops": round(matmul_gflops(dev, n, repeats), 1)}
            for dev in devices for n in sizes]


def env_check_main(sizes: tuple[int, ...]) -> str:
    """The ``__main__`` of ``preface_env_check.py``: the same report and benchmark, printed."""
    return (f"info = detect()\nfor item, value in environment_report(info).items():\n    print(f'{{item:16}} {{value}}')\n"
            f"for row in matmul_benchmark(info, (64, 128) if TINY else {tuple(sizes)!r}):\n"
            "    print(f\"{row['device']:5} n={row['n']:5} {row['gflops']:8.1f} GFLOP/s\")")
