"""Chapter 6 benchmark: server time of each interactive call (median of repeats) and the
background jobs with the default preset. Run: taskset -c 0,1 .venv/bin/python bench/bench_ch06.py
(--quick skips the 100 MB streaming job and the worker sweep). Writes bench/results/ch06.json."""
from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.timing import median_time, once  # noqa: E402
from core.lessons import ch06_data as lesson  # noqa: E402

P = lesson.PRESETS["default"]
BUDGET_S = 0.3






def main() -> None:
    quick = "--quick" in sys.argv
    img = lesson.sample_photo("china", P["photo_side"])
    augs = ["RandomResizedCrop", "RandomHorizontalFlip", "ColorJitter"]
    ds = lesson.digits_dataset("digits")
    seqs = lesson.random_sequences(P["seq_n"], 3, 20)
    interactive = {
        "6.1 inspect_item (digits)": lambda: lesson.inspect_item(lesson.digits_dataset("mnist5k"), 7),
        "6.2 sampler_counts (5,000 draws)": lambda: lesson.sampler_counts(lesson.imbalanced_labels(ds.y), 5000),
        "6.3 load_vision digits": lambda: lesson.load_vision("digits", P["online_n"]),
        "6.3 load_vision cifar_twin": lambda: lesson.load_vision("cifar_twin", P["online_n"]),
        "6.3 rgb_grid 32 samples": lambda: lesson.rgb_grid(lesson.load_vision("cifar_twin", 32).images, cols=8),
        "6.3 apply_each (3 augs)": lambda: lesson.apply_each(img, augs, 0, 128),
        "6.3 apply_each (all 7)": lambda: lesson.apply_each(img, list(lesson.AUGMENTATIONS), 0, 128),
        "6.3 random_draws (8, 3 augs)": lambda: lesson.random_draws(img, augs, P["draws"], 0),
        "6.3 normalize_stats": lambda: lesson.normalize_stats(lesson.image_tensor(img)),
        "6.4 padded_batches ×2": lambda: (lesson.padded_batches(seqs, 4, True), lesson.padded_batches(seqs, 4, False)),
        "6.4 resize_policy ×3": lambda: [lesson.resize_policy(img, p, 128) for p in lesson.RESIZE_POLICIES],
    }
    rows = [{"call": name, "median_s": median_time(fn)} for name, fn in interactive.items()]
    jobs = {"6.5 run_pipeline (3,000 images, 1 epoch)":
            lambda: lesson.run_pipeline(lesson.PipelineSettings(n_images=P["twin_n"], epochs=P["epochs"])),
            "6.2 run_lab batch_size sweep (digits)":
            lambda: lesson.run_lab(lesson.LabSettings(n_items=P["lab_items"], epochs=P["lab_epochs"]), "batch_size")}
    if not quick:
        jobs["6.1 streaming_demo (100 MB, 2 workers, naive too)"] = lambda: lesson.streaming_demo(P["stream_mb"], 2, True)
        jobs["6.2 run_lab num_workers sweep (digits)"] = \
            lambda: lesson.run_lab(lesson.LabSettings(n_items=P["lab_items"], epochs=P["lab_epochs"]), "num_workers")
    job_rows = [{"job": name, "seconds": once(fn)} for name, fn in jobs.items()]
    print(f"{'interactive call':45s} {'median s':>9s}  budget {BUDGET_S} s")
    for r in rows:
        print(f"{r['call']:45s} {r['median_s']:9.3f}  {'ok' if r['median_s'] <= BUDGET_S else 'OVER'}")
    print(f"{'page rerun (sum of the calls above)':45s} {sum(r['median_s'] for r in rows):9.3f}")
    for r in job_rows:
        print(f"{r['job']:45s} {r['seconds']:9.2f}")
    out = ROOT / "bench" / "results" / "ch06.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"interactive": rows, "jobs": job_rows, "quick": quick}, indent=2))


if __name__ == "__main__":
    main()
