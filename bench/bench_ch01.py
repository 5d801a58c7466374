"""Chapter 1 benchmark: server time of every interactive widget's core call (median of repeats,
figures included) and the timing demo with the default preset.

Run: taskset -c 0,1 .venv/bin/python bench/bench_ch01.py   → prints a table, writes bench/results/ch01.json
Goal: every interactive call ≤ 0.3 s on 2 cores. Each page section is an ``st.fragment``, so a widget
change reruns only its section (one of the calls below); the full page runs only on load/navigation.
"""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.timing import median_time  # noqa: E402
from core.device import configure_threads  # noqa: E402
from core.lessons import ch01_tensors as L  # noqa: E402

BUDGET_S = 0.3
P = L.PRESETS["default"]


def creation(shape):
    c = L.create("randn", shape)
    return L.grid_figure(L.as_grid(c.tensor)[0])


def index(text):
    lab = L.index_lab((10, 10), text)
    return L.grid_figure(lab["x"].numpy(), lab["selected"], fmt="d")


def regression(n):
    X, y, w = L.regression_data(n, 2.0, -1.0, 1.0)
    return L.regression_figure(X, y, w, L.solve_regression(X, y))


CALLS = {
    "numpy_bridge (n=10)": lambda: L.numpy_bridge(10, 3, 5.0),
    "create randn 4×6 + heatmap": lambda: creation((4, 6)),
    "create randn 1000×1000 (cap) + heatmap": lambda: creation((1000, 1000)),
    "index_lab x[1:, ::2] 10×10 + grid": lambda: index("x[1:, ::2]"),
    "index_lab mask (x > 2) & (x < 80)": lambda: index("x[(x > 2) & (x < 80)]"),
    "view_lab permute 4×4×4 + memory picture": lambda: L.memory_figure(
        L.view_lab((4, 4, 4), "permute", (2, 0, 1), (16, 4))[1]),
    "cat_stack (2,3)+(2,3)": lambda: L.cat_stack((2, 3), (2, 3), 0),
    "broadcast (3,1,5)×(4,5) and an error": lambda: (L.broadcast((3, 1, 5), (4, 5)), L.broadcast((3, 2), (4, 2))),
    "products 6×6×6 ik,kj->ij (loop)": lambda: L.products(6, 6, 6, "ik,kj->ij"),
    "device_moves": L.device_moves,
    "regression n=200 + figure": lambda: regression(200),
    "regression n=5000 (slider max) + figure": lambda: regression(5000),
}




def page_rerun(repeats: int = 3) -> float:
    """Server time of one full rerun of the chapter page (what a slider change costs), via AppTest."""
    import os
    os.environ.setdefault("HERO_PRESET", "default")
    from streamlit.testing.v1 import AppTest
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.run()
    at.switch_page("pages/ch01_tensors.py")
    return median_time(at.run, repeats)


def main() -> None:
    threads = configure_threads()
    rows = [{"call": name, "median_s": median_time(fn)} for name, fn in CALLS.items()]
    start = time.perf_counter()
    timing = L.timing_table(P["timing_sizes"], P["timing_repeats"])
    rows.append({"call": f"timing_table {P['timing_sizes']} (background run)", "median_s": time.perf_counter() - start})
    rows.append({"call": "full page run, first load (AppTest; info only)", "median_s": page_rerun()})
    print(f"torch threads: {threads}")
    print(f"{'call':50s} {'median s':>9s}  ok")
    for r in rows:
        r["within_budget"] = r["median_s"] <= BUDGET_S or "background" in r["call"] or "info only" in r["call"]
        print(f"{r['call']:50s} {r['median_s']:9.4f}  {'✓' if r['within_budget'] else '✗'}")
    print("cpu matmul GFLOP/s:", {t['n']: round(t['gflops'], 1) for t in timing})
    out = ROOT / "bench" / "results" / "ch01.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"threads": threads, "budget_s": BUDGET_S, "rows": rows, "timing": timing}, indent=2))


if __name__ == "__main__":
    main()
