"""Chapter 4 benchmark: server time of each interactive widget's core call, and the race /
compare-runs times with the default preset. Run: taskset -c 0,1 .venv/bin/python bench/bench_ch04.py

Targets: interactive widgets ≤ 0.3 s; the race and the compare-runs training ≤ 5 s.
"""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HERO_PRESET", "default")

from bench.timing import median_time  # noqa: E402
from core.device import configure_threads  # noqa: E402
from core.lessons import ch04_loss_optim as L  # noqa: E402

P = L.PRESETS["default"]




def main() -> None:
    threads = configure_threads()
    rows = []

    def measure(name: str, fn, budget: float, repeats: int = 5) -> None:
        seconds = median_time(fn, repeats)
        rows.append({"what": name, "seconds": round(seconds, 4), "budget_s": budget, "ok": seconds <= budget})

    measure("loss explorer: 4 regression curves", lambda: [L.loss_curve(n, 0.0, P["curve_points"]) for n in
                                                            ("mse", "l1", "huber", "smooth_l1")], 0.3)
    measure("loss explorer: cross-entropy curve", lambda: L.loss_curve("cross_entropy", 0, P["curve_points"]), 0.3)
    measure("BCE stability table", lambda: L.bce_stability(target=0.0), 0.3)
    measure("custom loss check (focal + pinball)", lambda: L.custom_loss_check(2.0, 0.9), 0.3)
    measure("Adam vs AdamW weight decay", lambda: L.weight_decay_compare(0.05, 0.1, P["decay_steps"]), 0.3)
    measure("4 schedulers", lambda: [L.scheduler_curve(n, P["sched_steps"], 0.1) for n in
                                     ("step", "cosine", "onecycle", "plateau")], 0.3)
    measure("all 8 schedulers", lambda: [L.scheduler_curve(n, P["sched_steps"], 0.1) for n in L.SCHEDULERS], 0.3)
    for surface in L.SURFACES:
        measure(f"race: 6 optimizers × {P['race_steps']} steps on {surface}",
                lambda s=surface: L.race(s, steps=P["race_steps"]), 5.0, repeats=2)
    paths = L.race("rosenbrock", steps=P["race_steps"])
    measure("race figure (contours + frames)", lambda: L.race_figure("rosenbrock", paths, P["grid"], P["frames"]), 0.3)
    settings = [L.PracticeRun("cross_entropy", "adam", 3e-3), L.PracticeRun("cross_entropy", "sgd", 0.1),
                L.PracticeRun("mse", "adam", 3e-3)]
    measure(f"compare runs: 2 settings × {P['practice_epochs']} epochs on digits",
            lambda: L.compare_practice(settings[:2], "digits", P["practice_epochs"]), 5.0, repeats=2)
    measure(f"compare runs: 3 settings × {P['practice_epochs']} epochs on digits",
            lambda: L.compare_practice(settings, "digits", P["practice_epochs"]), 5.0, repeats=2)
    accs = {name: r["end"].get("val_acc") for name, r in
            L.compare_practice(settings, "digits", P["practice_epochs"]).runs.items()}

    width = max(len(r["what"]) for r in rows)
    print(f"ch04 bench — torch threads {threads}, preset default")
    for r in rows:
        print(f"{r['what']:<{width}}  {r['seconds']:8.4f} s  (budget {r['budget_s']} s)  {'ok' if r['ok'] else 'OVER'}")
    for name, acc in accs.items():
        print(f"final val_acc  {name}: {acc:.3f}")
    out = ROOT / "bench" / "results" / "ch04.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"threads": threads, "rows": rows, "val_acc": accs,
                               "load_average": os.getloadavg()}, indent=2))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
