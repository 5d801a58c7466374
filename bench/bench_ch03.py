"""Chapter 3 benchmark: server time of each interactive widget's core call, and MLP training time.

    taskset -c 0,1 .venv/bin/python bench/bench_ch03.py

Goal: every interactive widget answers in ≤ 0.3 s (median of repeats) with the default preset.
Prints a table and writes bench/results/ch03.json.
"""
from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HERO_PRESET", "default")

import numpy as np  # noqa: E402
import torch  # noqa: E402

from bench.timing import median_time  # noqa: E402
from core import data  # noqa: E402
from core.device import configure_threads, preset  # noqa: E402
from core.lessons import ch03_nn as lesson  # noqa: E402

BUDGET_S = 0.3




def main() -> None:
    threads = configure_threads()
    P = lesson.PRESETS[preset()]
    mnist, digits = data.load("mnist5k"), data.load("digits")
    img, batch = mnist.X[0].reshape(28, 28), mnist.X[:32].reshape(-1, 28, 28)
    X = torch.tensor(mnist.X)
    x4 = torch.tensor(mnist.X[:4]).reshape(4, 1, 28, 28)
    mlp_settings = lesson.MLPSettings(dataset="mnist5k", depth=2, width=64, epochs=P["mlp_epochs"])
    rows = []
    for name in lesson.LAYERS:   # one widget change in 3.2 = explorer + digit effect + figure
        hp, shape = lesson.default_hp(name), lesson.LAYERS[name].default_shape
        rows.append((f"3.2 layer {name}", median_time(lambda: lesson.effect_figure(lesson.layer_on_digit(
            name, hp, img, "edges", batch)) and lesson.run_layer(name, hp, shape))))
    calls = {
        "3.1 module anatomy": lambda: lesson.module_anatomy(digits.X[0].reshape(8, 8)),
        "3.2 activation curves (6)": lambda: lesson.activation_figure(lesson.activation_curves(list(lesson.ACTIVATIONS))),
        "3.2 dropout train/eval": lambda: lesson.dropout_train_eval(torch.tensor(img), 0.5),
        "3.2 batchnorm running stats": lambda: lesson.batchnorm_train_eval(X, steps=P["bn_steps"], watch=406),
        "3.3 container build + summary": lambda: lesson.summarize(
            lesson.build_container("ModuleDict", lesson.DEFAULT_STACK, tuple(x4.shape)), x4),
        "3.4 all 7 inits (10 layers)": lambda: [lesson.init_activation_stats(i, "relu", width=P["init_width"],
                                                                             n=P["init_samples"]) for i in lesson.INITS],
        "3.5 parameter table": lambda: lesson.parameter_table(lesson.build_container("Sequential", lesson.DEFAULT_STACK,
                                                                                     tuple(x4.shape))),
        "3.6 build MLP + forward": lambda: lesson.mlp_forward(lesson.build_mlp(mlp_settings), "mnist5k"),
    }
    rows += [(label, median_time(fn)) for label, fn in calls.items()]
    start = time.perf_counter()
    run = lesson.train_mlp(mlp_settings)
    train_s = time.perf_counter() - start

    print(f"preset={preset()} threads={threads}")
    print(f"{'widget':40s} {'median s':>9s}  ok")
    for label, seconds in rows:
        print(f"{label:40s} {seconds:9.4f}  {'✓' if seconds <= BUDGET_S else '✗'}")
    print(f"{'3.6 MLP training (' + str(P['mlp_epochs']) + ' epochs, mnist5k)':40s} {train_s:9.2f}  "
          f"val_acc={run.end.get('val_acc', float('nan')):.3f}")
    out = ROOT / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "ch03.json").write_text(json.dumps({
        "preset": preset(), "threads": threads, "budget_s": BUDGET_S,
        "widgets": {label: round(s, 5) for label, s in rows},
        "all_within_budget": all(s <= BUDGET_S for _, s in rows),
        "mlp_training": {"seconds": round(train_s, 2), "epochs": P["mlp_epochs"], "dataset": "mnist5k",
                         "val_acc": run.end.get("val_acc")},
    }, indent=2))


if __name__ == "__main__":
    np.set_printoptions(precision=4)
    main()
