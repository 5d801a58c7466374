"""14.1 why distribute (scaling calculator) and 14.7 memory per device — closed-form, no processes.

Scaling model (data parallel, fixed per-worker batch, so an epoch has ``steps_1 / N`` steps):

    epoch(N) = T1·s + T1·(1 − s)/N + (steps_1 / N) · allreduce(N)
    allreduce(N) = 2(N − 1)·α + 2(N − 1)/N · bytes / β          (ring all-reduce of the gradients)

``s`` is the serial share (Amdahl: data loading in one process, logging, checkpointing); Amdahl's
bound is ``1 / (s + (1 − s)/N)``, which communication only lowers.

Memory model (ZeRO paper, Rajbhandari et al. 2020; activations from Korthikanti et al. 2022):
Ψ parameters, bytes per parameter for weights / gradients / optimizer state (mixed-precision Adam:
2 + 2 + 12; fp32 Adam: 4 + 4 + 8), N devices.
"""
from __future__ import annotations

from dataclasses import dataclass

from core.errors import check_range


@dataclass
class ScalingSettings:
    epoch_seconds_1: float = 600.0     # one worker's epoch time: what we try to divide
    serial_share: float = 0.05         # Amdahl's serial part (data loading, logging) that N workers cannot split
    steps_per_epoch_1: int = 1000      # optimizer steps in one worker's epoch (N workers do 1/N of them)
    params_millions: float = 25.0      # gradient size to all-reduce each step (ResNet-50 ≈ 25 M)
    bandwidth_gbps: float = 10.0       # link bandwidth β in GB/s (NVLink ≈ 300, 100 Gb Ethernet ≈ 12)
    latency_us: float = 10.0           # per-message latency α in µs
    grad_bytes: int = 4                # bytes per gradient element (fp32 = 4, bf16 = 2)
    max_workers: int = 64


def allreduce_seconds(n: int, nbytes: float, bandwidth_gbps: float, latency_us: float) -> float:
    """Ring all-reduce time for ``nbytes`` among ``n`` workers (0 for one worker)."""
    if n <= 1:
        return 0.0
    return 2 * (n - 1) * latency_us * 1e-6 + 2 * (n - 1) / n * nbytes / (bandwidth_gbps * 1e9)


def scaling_table(s: ScalingSettings) -> list[dict]:
    """One row per worker count N = 1, 2, 4, …: epoch time, its compute/serial/communication parts,
    speedup, Amdahl's bound and the communication share of the epoch."""
    check_range("serial_share", s.serial_share, 0.0, 1.0)
    check_range("max_workers", s.max_workers, 1, 4096)
    check_range("bandwidth_gbps", s.bandwidth_gbps, 1e-3, 1e4)
    nbytes = s.params_millions * 1e6 * s.grad_bytes
    rows, n = [], 1
    while n <= s.max_workers:
        serial = s.epoch_seconds_1 * s.serial_share
        compute = s.epoch_seconds_1 * (1 - s.serial_share) / n
        comm = s.steps_per_epoch_1 / n * allreduce_seconds(n, nbytes, s.bandwidth_gbps, s.latency_us)
        epoch = serial + compute + comm
        rows.append({"workers": n, "epoch_s": epoch, "serial_s": serial, "compute_s": compute, "comm_s": comm,
                     "speedup": s.epoch_seconds_1 / epoch,
                     "amdahl": 1 / (s.serial_share + (1 - s.serial_share) / n),
                     "comm_share": comm / epoch, "efficiency": s.epoch_seconds_1 / epoch / n})
        n *= 2
    return rows


# Real model shapes (published configs): parameters, layers, hidden size, heads, sequence length.
MODELS = {
    "GPT-2 small (124 M)": dict(params=124e6, layers=12, hidden=768, heads=12, seq=1024),
    "GPT-2 XL (1.5 B)": dict(params=1.558e9, layers=48, hidden=1600, heads=25, seq=1024),
    "Llama 2 7B": dict(params=6.74e9, layers=32, hidden=4096, heads=32, seq=4096),
    "Llama 2 13B": dict(params=13.0e9, layers=40, hidden=5120, heads=40, seq=4096),
    "Llama 2 70B": dict(params=69.0e9, layers=80, hidden=8192, heads=64, seq=4096),
}
PRECISIONS = {  # bytes per parameter: weights, gradients, optimizer state (Adam m, v [+ fp32 master copy])
    "mixed_adam": (2, 2, 12),
    "fp32_adam": (4, 4, 8),
    "bf16_sgd": (2, 2, 0),
}
STRATEGIES = ("dp", "zero1", "zero2", "zero3", "tp", "pp")


@dataclass
class MemorySettings:
    model: str = "Llama 2 7B"          # one of MODELS
    precision: str = "mixed_adam"      # one of PRECISIONS
    devices: int = 8                   # N: data-parallel ranks, tensor-parallel degree or pipeline stages
    micro_batch: int = 1               # sequences per device per forward
    activations: bool = True           # add activation memory (no recomputation)


def activation_bytes_per_layer(seq: int, batch: int, hidden: int, heads: int, tp: int = 1) -> float:
    """Korthikanti et al. (2022), 16-bit activations without recomputation, per transformer layer:
    ``s·b·h·(34 + 5·a·s/h)``; with tensor parallel degree t (no sequence parallel):
    ``s·b·h·(10 + 24/t + 5·a·s/(h·t))``."""
    return seq * batch * hidden * (10 + 24 / tp + 5 * heads * seq / (hidden * tp))


def memory_per_device(s: MemorySettings) -> list[dict]:
    """GiB per device for each strategy: weights, gradients, optimizer state, activations, total."""
    check_range("devices", s.devices, 1, 4096)
    m, (p, g, k) = MODELS[s.model], PRECISIONS[s.precision]
    psi, n = m["params"], s.devices
    shards = {  # (weights, gradients, optimizer) divisor per strategy
        "dp": (1, 1, 1), "zero1": (1, 1, n), "zero2": (1, n, n), "zero3": (n, n, n), "tp": (n, n, n), "pp": (n, n, n)}
    rows = []
    for name in STRATEGIES:
        dw, dg, dk = shards[name]
        if not s.activations:
            act = 0.0
        elif name == "tp":
            act = m["layers"] * activation_bytes_per_layer(m["seq"], s.micro_batch, m["hidden"], m["heads"], tp=n)
        else:
            # PP: each stage holds layers/N, but with 1F1B the first stage keeps N micro-batches in flight
            act = m["layers"] * activation_bytes_per_layer(m["seq"], s.micro_batch, m["hidden"], m["heads"])
        parts = {"weights": p * psi / dw, "gradients": g * psi / dg, "optimizer": k * psi / dk, "activations": act}
        gib = {key: value / 2**30 for key, value in parts.items()}
        rows.append({"strategy": name, **gib, "total": sum(gib.values())})
    return rows
