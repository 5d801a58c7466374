"""Chapter 14 benchmarks: real torch.distributed processes, figures side by side in one run.

    taskset -c 0,1 .venv/bin/python bench/bench_ch14.py      # mimic a 2-vCPU host

1. DDP (2 gloo ranks) vs one process on the concatenated batch: max abs gradient diff   (goal ≤ 1e-6)
2. 2-rank run: Train pressed (spawn) → first loss streamed back                        (goal ≤ 5 s)
3. all_reduce of 1 M float32 between 2 ranks: time and algorithm bandwidth              (reported)
4. DDP step time (2 ranks × batch b) vs one process on batch 2b                          (ratio reported)
5. 20 start/stop cycles: processes left behind                                          (goal 0)
"""
from __future__ import annotations

import json
import os
import statistics
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import psutil  # noqa: E402
import torch  # noqa: E402
from torch import nn  # noqa: E402

from core import dist as hero_dist  # noqa: E402
from core.lessons.ch14_distributed import collectives as coll  # noqa: E402
from core.lessons.ch14_distributed import ddp  # noqa: E402

RESULTS = ROOT / "bench" / "results"


def gradient_and_start(repeats: int = 3) -> dict:
    diffs, firsts, step_ms = [], [], []
    for _ in range(repeats):
        r = ddp.train_ddp(ddp.DDPSettings(world_size=2, steps=40, batch_per_rank=32))
        diffs.append(r["grad_max_abs_diff"])
        firsts.append(r["first_loss_seconds"])
        step_ms.append(1000 * r["loop_seconds"] / 40)
    return {"grad_max_abs_diff": max(diffs), "first_loss_s": [round(f, 2) for f in firsts],
            "first_loss_median_s": round(statistics.median(firsts), 2), "ddp_step_ms": round(statistics.median(step_ms), 3)}


def import_torch_s(repeats: int = 3) -> float:
    """Wall time of a fresh interpreter importing torch.distributed: the floor under "start → first
    loss" (every rank is such an interpreter), measured now, under the same machine load."""
    import subprocess
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-c", "import torch, torch.distributed, torch.nn.parallel"], check=True)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def single_process_step_ms(steps: int = 40, batch: int = 64) -> float:
    torch.set_num_threads(1)
    X, y = ddp.digits_tensors()
    model = ddp.build_mlp(128, 0)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    times = []
    for rep in range(3):
        t0 = time.perf_counter()
        for step in range(steps):
            idx = ddp.shard(len(y), step, 0, batch, 1, 0)
            loss = nn.functional.cross_entropy(model(X[idx]), y[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            float(loss.detach())
        times.append(time.perf_counter() - t0)
    return 1000 * statistics.median(times) / steps


def allreduce_1m() -> dict:
    r = coll.bandwidth(coll.BandwidthSettings(world_size=2, sizes=(1_000, 100_000, 1_000_000), repeats=10))
    row = r["rows"][-1]
    return {"seconds": round(row["seconds"], 5), "gb_per_s": round(row["gb_per_s"], 3),
            "alpha_us": round(r["fit"]["alpha_s"] * 1e6, 1), "beta_gb_per_s": round(r["fit"]["beta_bytes_per_s"] / 1e9, 3)}


def cycles(n: int = 20) -> dict:
    def ours():
        kids = []
        for p in psutil.Process().children(recursive=True):
            try:
                if p.status() != psutil.STATUS_ZOMBIE and "resource_tracker" not in " ".join(p.cmdline()):
                    kids.append(p.pid)
            except psutil.NoSuchProcess:
                pass
        return kids
    t0 = time.perf_counter()
    for i in range(n):
        stop = threading.Event()
        gang = hero_dist.Gang(ddp.faulty_rank, 2, ("hang",), timeout_s=30)
        threading.Timer(0.1 * (i % 5), stop.set).start()
        gang.run(stop)
    time.sleep(0.3)
    return {"cycles": n, "left_behind": len(ours()), "seconds": round(time.perf_counter() - t0, 1)}


def main() -> None:
    floor = import_torch_s()
    g = gradient_and_start()
    single = single_process_step_ms()
    report = {"load_average": os.getloadavg(),
              "import_torch_s": round(floor, 2), "ddp": g, "single_process_step_ms": round(single, 3),
              "ddp_vs_single_step_ratio": round(g["ddp_step_ms"] / single, 2),
              "allreduce_1m": allreduce_1m(), "cycles": cycles()}
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "ch14.json").write_text(json.dumps(report, indent=2))
    print(f"load average at the start: {report['load_average']}")
    print(f"DDP vs single-process gradient: max abs diff {g['grad_max_abs_diff']:.2e}  goal ≤ 1e-6")
    print(f"2 ranks, Train → first loss: median {g['first_loss_median_s']} s {g['first_loss_s']}  goal ≤ 5 s "
          f"(a fresh interpreter importing torch takes {report['import_torch_s']} s right now)")
    a = report["allreduce_1m"]
    print(f"all_reduce 1 M floats, 2 ranks: {a['seconds'] * 1e3:.2f} ms = {a['gb_per_s']} GB/s "
          f"(fit α {a['alpha_us']} µs, β {a['beta_gb_per_s']} GB/s)")
    print(f"step time: DDP 2×32 {g['ddp_step_ms']} ms vs one process ×64 {report['single_process_step_ms']} ms "
          f"= {report['ddp_vs_single_step_ratio']}×")
    c = report["cycles"]
    print(f"{c['cycles']} start/stop cycles in {c['seconds']} s: {c['left_behind']} process(es) left  goal 0")


if __name__ == "__main__":
    main()
