"""Chapter 7 benchmarks: server time of each interactive widget's core call, and training times.

    taskset -c 0,1 .venv/bin/python bench/bench_ch07.py      # mimic a 2-vCPU host

Interactive (goal ≤ 0.3 s each, median of repeats): conv demo, receptive field (formula +
autograd), feature maps of the ch05 CNN, Grad-CAM + saliency + top-k on an uploaded image.
Background jobs, default preset: architecture zoo, transfer lab (goal ≤ 60 s), class
imbalance (three runs), fine-tuning on the built-in photo crops.
"""
from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch  # noqa: E402

from bench.timing import median_time  # noqa: E402
from core import data, weights  # noqa: E402
from core.device import configure_threads  # noqa: E402
from core.lessons import ch07_vision as L  # noqa: E402

RESULTS = ROOT / "bench" / "results"
P = L.PRESETS["default"]


def median_seconds(fn, repeats: int = 7) -> float:
    return round(median_time(fn, repeats), 4)


def timed(fn) -> tuple[float, object]:
    t0 = time.perf_counter()
    out = fn()
    return round(time.perf_counter() - t0, 2), out


def main() -> None:
    threads = configure_threads()
    mnist = data.load("mnist5k")
    image = mnist.X[7].reshape(28, 28)
    cnn = weights.load(L.FEATURE_CHECKPOINT).model
    specs = L.parse_stack("3/1/1/1, 3/2/1/1, 3/1/1/1, 3/2/1/1")
    photos = L.builtin_dataset(P["photos"])
    ft_seconds, ft = timed(lambda: L.finetune(photos, L.FinetuneSettings(epochs=P["ft_epochs"])))
    upload = L.image_bytes(photos.X[0])
    interactive = {
        "conv_demo": median_seconds(lambda: L.conv_demo(image, "edge_x", 3, 2, 1, 1)),
        "receptive_field+autograd": median_seconds(lambda: (L.receptive_field(specs),
                                                            L.measured_receptive_field(specs, 28))),
        "feature_maps": median_seconds(lambda: L.feature_maps(cnn, torch.from_numpy(mnist.X[7:8].copy()))),
        "explain (top-k + Grad-CAM + saliency)": median_seconds(lambda: L.explain(ft.model, upload, ft.classes)),
    }
    jobs = {}
    jobs["zoo " + "+".join(P["zoo_models"]) + f" @ {P['zoo_size']}px"], zoo = timed(
        lambda: L.analyse_zoo(P["zoo_models"], P["zoo_size"], P["zoo_repeats"]))
    tr_s, tr = timed(lambda: L.train_transfer(L.TransferSettings(shots=P["shots"], epochs=P["lab_epochs"],
                                                                  n_val=P["lab_val"])))
    jobs["transfer lab (pretrained + scratch)"] = tr_s
    imb_s, imb = timed(lambda: L.train_imbalance(L.ImbalanceSettings(epochs=P["imb_epochs"])))
    jobs["class imbalance (3 runs)"] = imb_s
    jobs["fine-tune built-in photos"] = ft_seconds
    results = {
        "threads": threads, "interactive_seconds": interactive, "job_seconds": jobs,
        "zoo": [{k: r[k] for k in ("name", "size", "params", "flops", "ms")} for r in zoo],
        "transfer_final_val_acc": tr.final,
        "imbalance_minority_recall": {k: round(float(v[list(L.MINORITY)].mean()), 3) for k, v in imb["recall"].items()},
        "finetune_val_acc": ft.end.get("val_acc"),
    }
    print(f"threads: {threads}")
    print(f"{'interactive call':45s} median s   (goal ≤ 0.3)")
    for k, v in interactive.items():
        print(f"{k:45s} {v:8.4f}")
    print(f"{'background job (default preset)':45s} seconds")
    for k, v in jobs.items():
        print(f"{k:45s} {v:8.2f}")
    print(json.dumps({k: results[k] for k in ("zoo", "transfer_final_val_acc", "imbalance_minority_recall",
                                               "finetune_val_acc")}, indent=1))
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "ch07.json").write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
