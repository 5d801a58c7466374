"""Chapter 15 benchmarks, side by side in one run (the machine's load is printed with them).

    taskset -c 0,1 .venv/bin/python bench/bench_ch15.py      # mimic a 2-vCPU host

1. Lightning vs the plain loop (core.train.fit): same CNN, seed, batches and epochs, alternated
   ``repeats`` times in one process — seconds each and the ratio (goal ≤ 1.5×: Lightning's hooks and
   logging cost something on 8×8 digits, where a step takes about a millisecond)
2. The Optuna study (8 trials × 4 epochs, MedianPruner, the page's default): trials per minute, pruned share
3. Captum on one digit (Saliency + IG 32 steps + Occlusion): milliseconds per explanation (goal ≤ 300 ms)
4. GCN on the karate club, 200 epochs: plain torch vs GCNConv seconds, and accuracy
"""
from __future__ import annotations

import json
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from core import catalog, weights  # noqa: E402
from core.device import configure_threads  # noqa: E402
from core.lessons.ch15_ecosystem import attributions as attr  # noqa: E402
from core.lessons.ch15_ecosystem import gnn  # noqa: E402
from core.lessons.ch15_ecosystem import lightning_run as lit  # noqa: E402
from core.lessons.ch15_ecosystem import study as opt  # noqa: E402
from bench.timing import median_time  # noqa: E402

RESULTS = ROOT / "bench" / "results"
TINY = os.environ.get("HERO_TINY") == "1"


def lightning_vs_plain(epochs: int = 10, repeats: int = 2) -> dict:
    s = lit.LitSettings(epochs=1 if TINY else epochs)
    split = lit.digits_split(s)
    lit.train_lightning(lit.LitSettings(epochs=1), split=split)   # warm-up: Lightning's imports and first Trainer
    plain, light, acc = [], [], {}
    for _ in range(repeats):
        p = lit.train_plain(s, split=split)
        q = lit.train_lightning(s, split=split)
        plain.append(p.end["seconds"])
        light.append(q.end["seconds"])
        acc = {"plain": round(p.end["val_acc"], 4), "lightning": round(q.end["val_acc"], 4)}
    ps, ls = statistics.median(plain), statistics.median(light)
    return {"epochs": s.epochs, "plain_s": round(ps, 2), "lightning_s": round(ls, 2), "ratio": round(ls / ps, 2),
            "val_acc": acc, "all_plain_s": [round(x, 2) for x in plain], "all_lightning_s": [round(x, 2) for x in light]}


def optuna_rate(trials: int = 8, epochs: int = 4) -> dict:
    r = opt.run_study(opt.StudySettings(n_trials=2 if TINY else trials, epochs=1 if TINY else epochs))
    pruned = sum(t["state"] == "pruned" for t in r.trials)
    return {"trials": len(r.trials), "epochs_per_trial": r.settings["epochs"], "seconds": round(r.seconds, 1),
            "trials_per_minute": round(opt.trials_per_minute(r), 2), "pruned": pruned,
            "best_val_acc": round(max(t["value"] or 0 for t in r.trials), 4), "sqlite_bytes": len(r.storage)}


def captum_ms() -> dict:
    model = weights.load("ch05_digits_cnn").model.eval()
    s = attr.DigitAttrSettings(index=0, ig_steps=32)
    return {"explain_ms": round(1000 * median_time(lambda: attr.explain_validation_digit(model, s), repeats=7), 1)}


def gcn_side_by_side(epochs: int = 200) -> dict:
    gnn.karate()
    out = {}
    for conv in ("plain", "pyg"):
        start = time.perf_counter()
        r = gnn.train_gnn(gnn.GNNSettings(conv=conv, epochs=20 if TINY else epochs))
        out[conv] = {"seconds": round(time.perf_counter() - start, 2), "acc": round(r.accuracy, 3)}
    out["same_outputs_max_diff"] = gnn.same_outputs()["max_abs_diff"]
    return out


def main() -> None:
    threads = configure_threads()
    load = os.getloadavg()[0]
    print(f"ch15 bench: {threads} thread(s), load {load:.1f} on {os.cpu_count()} cores")
    report = {"threads": threads, "load_start": round(load, 1)}
    report["lightning_vs_plain"] = lv = lightning_vs_plain()
    print(f"Lightning vs plain loop ({lv['epochs']} epochs, same batches): {lv['lightning_s']} s vs {lv['plain_s']} s "
          f"= {lv['ratio']}×  goal ≤ 1.5×  (val_acc {lv['val_acc']})")
    report["optuna"] = o = optuna_rate()
    print(f"Optuna: {o['trials']} trials × {o['epochs_per_trial']} epochs in {o['seconds']} s = "
          f"{o['trials_per_minute']} trials/min, {o['pruned']} pruned, best {o['best_val_acc']:.1%}")
    report["captum"] = c = captum_ms()
    print(f"Captum (Saliency + IG 32 + Occlusion) on one digit: {c['explain_ms']} ms  goal ≤ 300 ms")
    report["gcn"] = g = gcn_side_by_side()
    print(f"GCN 200 epochs: plain {g['plain']['seconds']} s (acc {g['plain']['acc']:.0%}), GCNConv "
          f"{g['pyg']['seconds']} s (acc {g['pyg']['acc']:.0%}), shared-weight diff {g['same_outputs_max_diff']:.1e}")
    report["load_end"] = round(os.getloadavg()[0], 1)
    print(f"load at the end: {report['load_end']}")
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "ch15.json").write_text(json.dumps(report, indent=2))
    if not TINY:
        card = catalog.record_measurement("ch15", o["seconds"], {
            "en": f"Optuna study tuning a Lightning run, {o['trials']} trials × {o['epochs_per_trial']} epochs",
            "zh": f"Optuna 调参 Lightning 训练，{o['trials']} 次试验 × {o['epochs_per_trial']} 轮"})
        print("home card:", "recorded in bench/cards.json" if card else "not recorded (machine loaded; HERO_RECORD_CARDS=1 forces)")


if __name__ == "__main__":
    main()
