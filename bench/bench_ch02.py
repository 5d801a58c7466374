"""Chapter 2 benchmark: server time of every interactive call (median of repeats), default preset.

Run: taskset -c 0,1 .venv/bin/python bench/bench_ch02.py   (writes bench/results/ch02.json)
Budget: each widget's answer ≤ 0.3 s on 2 CPU cores.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.timing import median_time  # noqa: E402
from core.device import configure_threads  # noqa: E402
from core.lessons import ch02_autograd as lesson  # noqa: E402
from widgets import ch02_autograd as widget  # noqa: E402

P = lesson.PRESETS["default"]
EXPR, X, Y = lesson.EXAMPLES[0], 1.0, 2.0
LONG = "(1 - x)**2 + 100*(y - x**2)**2 + sigmoid(x*y) - log(1 + exp(x)) * tanh(y) + sqrt(x**2 + y**2)"




def descent(surface: str, lr: float, steps: int):
    d = lesson.gradient_descent(surface, X, Y, lr, steps)
    return lesson.descent_figure(surface, d, P["grid"])


def page_rerun():
    """Everything the page computes on one rerun with the default settings."""
    lesson.autograd_gradient(EXPR, X, Y)
    lesson.build_graph(EXPR, X, Y)
    descent(lesson.SURFACES["bowl"], 0.1, P["default_steps"])
    lesson.graph_figure(lesson.build_graph(EXPR, X, Y))
    lesson.tensor_table(EXPR, X, Y)
    lesson.graph_figure(lesson.build_graph(EXPR, X, Y))
    lesson.tensor_table(EXPR, X, Y)
    lesson.grad_control(EXPR, X, Y)
    lesson.eps_figure(lesson.eps_sweep(EXPR, X, Y, "x", P["eps_points"]))


CASES = {
    "graph + figure (x*y + sin(x))": lambda: lesson.graph_figure(lesson.build_graph(EXPR, X, Y)),
    "graph + figure (long, 24 ops)": lambda: lesson.graph_figure(lesson.build_graph(LONG, X, Y)),
    "parse (uncached, long)": lambda: lesson.parse.__wrapped__(LONG),
    "tensor table (2 backward passes)": lambda: lesson.tensor_table(EXPR, X, Y),
    "accumulate (5 calls)": lambda: lesson.accumulate(EXPR, X, Y, 5, False),
    "no_grad / detach table": lambda: lesson.grad_control(EXPR, X, Y),
    f"descent bowl {P['default_steps']} steps + contour": lambda: descent(lesson.SURFACES["bowl"], 0.1, P["default_steps"]),
    f"descent Rosenbrock {P['max_steps']} steps (max) + contour":
        lambda: descent(lesson.SURFACES["rosenbrock"], 0.001, P["max_steps"]),
    f"eps sweep ({P['eps_points']} eps × 2 dtypes) + figure":
        lambda: lesson.eps_figure(lesson.eps_sweep(EXPR, X, Y, "x", P["eps_points"])),
    "gradcheck on the expression": lambda: lesson.gradcheck_expression(EXPR, X, Y),
    "gradcheck on MySin (wrong backward)": lambda: lesson.gradcheck_custom("wrong_derivative"),
    "widget compare() end to end": lambda: widget.compare(EXPR, X, Y, "x"),
    "widget check_custom()": lambda: widget.check_custom("forgot_grad_output"),
    "page rerun: all core calls": page_rerun,
}


def main() -> None:
    threads = configure_threads()
    rows = [{"case": name, "median_s": round(median_time(fn), 4)} for name, fn in CASES.items()]
    width = max(len(r["case"]) for r in rows)
    print(f"ch02 autograd — default preset, torch threads = {threads}")
    for r in rows:
        flag = "" if r["median_s"] <= 0.3 else "  > 0.3 s budget"
        print(f"{r['case']:<{width}}  {r['median_s'] * 1000:8.1f} ms{flag}")
    out = ROOT / "bench" / "results" / "ch02.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"preset": "default", "threads": threads, "rows": rows}, indent=2))


if __name__ == "__main__":
    main()
