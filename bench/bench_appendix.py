"""Appendix benchmark: time to run every error entry (one child Python for all, and per entry as the page
does it), search latency (error guide, glossary, gallery), and the math widgets' server time.
Goal: interactive calls < 0.3 s (principle 3). Run: taskset -c 0,1 .venv/bin/python bench/bench_appendix.py"""
from __future__ import annotations

import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.timing import median_time, once  # noqa: E402
from core.device import configure_threads  # noqa: E402
from core.lessons.appendix import errors_guide as guide, glossary, search  # noqa: E402
from core.lessons.appendix import math as amath  # noqa: E402

GOAL_S = 0.3


def main() -> None:
    threads = configure_threads()
    # 1. every entry, broken + fixed, in one child process (the "Run every entry" button, one chunk)
    start = time.perf_counter()
    runs = guide.run_entries()
    all_s = time.perf_counter() - start
    documented = sum(r.as_documented for r in runs)
    per_entry = {r.id: round(r.broken.seconds + r.fixed.seconds, 3) for r in runs}
    # 2. one entry as the page runs it: a warmed-up spare harness takes the job (give it time to warm up)
    single = {}
    for i in ("linear_shape", "device_mismatch", "dataloader_pickle"):
        time.sleep(20)
        single[i] = once(lambda i=i: guide.run_entry(i))
    # 3. search latency, with the live messages known (as after a first run) and in both languages
    queries = {"pasted message": ("mat1 and mat2 shapes cannot be multiplied (64x784 and 28x10)", "en"),
               "keyword": ("dataloader", "en"), "chinese word": ("梯度", "zh")}
    find = {k: median_time(lambda q=q: guide.find_errors(q), 21) for k, (q, _) in queries.items()}
    gallery = {k: median_time(lambda q=q, lang=lang: search.search(q, lang), 11) for k, (q, lang) in queries.items()}
    terms = median_time(lambda: glossary.search_terms("grad"), 21)
    def rank(r) -> int:
        """1 when the entry has the top score for its own live message (ties count: two entries whose
        messages are the same words up to numbers are both first), else its position."""
        hits = guide.find_errors(r.broken.message, limit=len(runs))
        ids = [h for h, _ in hits]
        if r.id not in ids:
            return 99
        return 1 if dict(hits)[r.id] == hits[0][1] else ids.index(r.id) + 1
    ranks = [rank(r) for r in runs]
    # 4. math widgets (each rerun of the page recomputes them)
    math_s = {"matrix map": median_time(lambda: amath.transform_plane(2, 1, 1, 2)),
              "derivative (201 points)": median_time(lambda: amath.derivative("x sin(x)")),
              "sampler (50,000 draws)": median_time(lambda: amath.sample_distribution(
                  amath.SampleSettings(dist="gamma", p1=2.0, p2=1.0, n=50_000)))}
    print(f"torch threads: {threads}")
    print(f"every entry (broken + fixed, {len(runs)} entries, one child Python): {all_s:.1f} s; "
          f"{documented}/{len(runs)} as documented")
    slowest = sorted(per_entry.items(), key=lambda kv: -kv[1])[:3]
    print(f"  inside the child: median {statistics.median(per_entry.values()):.3f} s per entry; slowest "
          + ", ".join(f"{k} {v:.2f} s" for k, v in slowest))
    for k, v in single.items():
        print(f"one entry as the page runs it ({k}): {v:.2f} s")
    print(f"pasting an entry's real message ranks it first (or tied first): {sum(r == 1 for r in ranks)}/{len(ranks)}"
          f" (worst rank {max(ranks)})")
    print(f"{'search':32s} {'median ms':>10s} {'goal ms':>8s}")
    for k, v in find.items():
        print(f"{'error guide: ' + k:32s} {v * 1e3:10.2f} {GOAL_S * 1e3:8.0f}")
    for k, v in gallery.items():
        print(f"{'gallery: ' + k:32s} {v * 1e3:10.2f} {GOAL_S * 1e3:8.0f}")
    print(f"{'glossary: grad':32s} {terms * 1e3:10.2f} {GOAL_S * 1e3:8.0f}")
    for k, v in math_s.items():
        print(f"{'math: ' + k:32s} {v * 1e3:10.2f} {GOAL_S * 1e3:8.0f}")
    out = ROOT / "bench" / "results" / "appendix.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps({"threads": threads, "all_entries_s": all_s, "as_documented": documented,
                               "entries": len(runs), "per_entry_s": per_entry, "single_entry_s": single,
                               "message_rank_first": sum(r == 1 for r in ranks), "find_errors_s": find,
                               "gallery_search_s": gallery, "glossary_s": terms, "math_s": math_s,
                               "goal_s": GOAL_S}, indent=2))


if __name__ == "__main__":
    main()
