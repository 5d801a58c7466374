"""Chapter 16.5–16.6 benchmarks: the compute sections' figures side by side in one run.

    taskset -c 0,1 .venv/bin/python bench/bench_ch16_compute.py      # mimic a 2-vCPU host
    HERO_BENCH_QUICK=1 ...                                             # the tiny preset (a smoke run)

1. torch.compile (inductor) on the default MLP: cold compile time (dynamo reset, fresh inductor
   cache dir), warm compile time (same process, on-disk cache), eager vs compiled ms and speedup
   (timed in turns)                                                         (goal: compile ≤ 60 s, speedup reported)
2. matmul GFLOP/s per dtype (float64 / float32 / bfloat16 / float16), and each as a ratio to float32
3. scaling lab, default preset (6 models, same tokens): total time and the fitted exponent α
                                                                            (goal: ≤ 120 s on 2 cores)
Each figure is printed as it comes; everything lands in bench/results/ch16_compute.json with the
load average at the start and the end (timings on a shared machine are only comparable side by side).
"""
from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# A fresh inductor cache, so the first compile is really cold (set before torch imports inductor).
os.environ.setdefault("TORCHINDUCTOR_CACHE_DIR", tempfile.mkdtemp(prefix="hero-inductor-"))

import torch  # noqa: E402

from core.device import configure_threads  # noqa: E402
from core.lessons.ch16_horizon import hardware as hw, scaling  # noqa: E402

RESULTS = ROOT / "bench" / "results"
PRESET = "tiny" if os.environ.get("HERO_BENCH_QUICK") == "1" else "default"


def compile_figures() -> dict:
    P = hw.PRESETS[PRESET]
    s = hw.CompileSettings(width=P["width"], depth=P["depth"], batch=P["batch"], repeats=P["repeats"])
    cold = hw.compile_speed(s)
    print(f"torch.compile cold: compile {cold['compile_s']:.1f} s (cache misses {cold['cache_misses']}), "
          f"eager {cold['eager_ms']:.3f} ms vs compiled {cold['compiled_ms']:.3f} ms → {cold['speedup']:.2f}×  "
          f"[{cold['params']:,} params, batch {s.batch}]  goal: compile ≤ 60 s", flush=True)
    warm = hw.compile_speed(s)
    print(f"torch.compile warm (on-disk cache, hits {warm['cache_hits']}): compile {warm['compile_s']:.1f} s, "
          f"speedup {warm['speedup']:.2f}×", flush=True)
    one = hw.compile_speed(hw.CompileSettings(width=P["width"], depth=P["depth"], batch=1, repeats=P["repeats"]))
    print(f"torch.compile batch 1 (launch-bound): eager {one['eager_ms']:.3f} ms vs compiled {one['compiled_ms']:.3f} ms "
          f"→ {one['speedup']:.2f}×", flush=True)
    drop = lambda r: {k: v for k, v in r.items() if k != "settings"}
    return {"cold": drop(cold), "warm": drop(warm), "batch1": drop(one), "settings": cold["settings"]}


def matmul_figures() -> list[dict]:
    P = hw.PRESETS[PRESET]
    rows = hw.matmul_speeds(hw.MatmulSettings(n=P["matmul_n"], repeats=P["matmul_repeats"]))
    fp32 = next(r["gflops"] for r in rows if r["dtype"] == "float32")
    for r in rows:
        r["vs_fp32"] = r["gflops"] / fp32
        print(f"matmul {r['n']}×{r['n']} {r['dtype']:>9}: {r['gflops']:8.2f} GFLOP/s  ({r['vs_fp32']:.2f}× float32)", flush=True)
    return rows


def scaling_figures() -> dict:
    s = scaling.ScalingSettings(**scaling.PRESETS[PRESET])
    started = time.perf_counter()
    r = scaling.scaling_lab(s)
    total = time.perf_counter() - started
    for p in r.points:
        print(f"  {p['name']:>8} N={p['params']:>8,}  val loss {p['val_loss']:.3f}  {p['seconds']:.1f} s", flush=True)
    f = r.fit
    print(f"scaling lab ({PRESET}, {len(r.points)} models, same tokens): {total:.1f} s total  goal ≤ 120 s; "
          f"fit L = {f['a']:.3g}·N^-{f['alpha']:.3f} + {f['c']:.3f} (R² {f['r2']:.3f}), pure power law α = {f['alpha0']:.3f}",
          flush=True)
    return {"total_s": total, "fit": f, "points": [{k: v for k, v in p.items() if k != "curve"} for p in r.points]}


def main() -> None:
    configure_threads()
    report = {"preset": PRESET, "load_average_start": os.getloadavg(), "threads": torch.get_num_threads(),
              "torch": torch.__version__}
    print(f"load average at the start: {report['load_average_start']}, torch threads {report['threads']}", flush=True)
    report["compile"] = compile_figures()
    report["matmul"] = matmul_figures()
    report["scaling"] = scaling_figures()
    report["load_average_end"] = os.getloadavg()
    print(f"load average at the end: {report['load_average_end']}")
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "ch16_compute.json").write_text(json.dumps(report, indent=2, default=float))


if __name__ == "__main__":
    main()
