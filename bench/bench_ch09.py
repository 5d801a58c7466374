"""Chapter 9 benchmark: server time of each interactive call (median of repeats) and training
times with the default preset. Run: taskset -c 0,1 .venv/bin/python bench/bench_ch09.py"""
from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.timing import median_time, once  # noqa: E402
from core.device import configure_threads  # noqa: E402
from core.lessons import ch09_tricks as lesson  # noqa: E402

P = lesson.PRESETS["default"]






def main() -> None:
    threads = configure_threads()
    logdir = tempfile.mkdtemp(prefix="bench-ch09-")
    split = lesson.digits_split()
    d = lesson.clinic_data()
    tb_run = lesson.tensorboard_demo(logdir, "bench", epochs=P["tb_epochs"])
    rows = {
        "clinic pair (no_zero_grad)": median_time(lambda: lesson.run_clinic("no_zero_grad", d, P["clinic_steps"])),
        "clinic pair (shuffled_labels)": median_time(lambda: lesson.run_clinic("shuffled_labels", d, P["clinic_steps"])),
        "clinic diff": median_time(lambda: lesson.bug_diff("eval_mode")),
        "hooks: compare_inits": median_time(lambda: lesson.compare_inits("tiny", P["hook_depth"], steps=P["clinic_steps"])),
        "reproducibility (4 runs)": median_time(lambda: lesson.reproducibility(0, 1, P["repro_steps"])),
        "read TensorBoard events": median_time(lambda: lesson.read_events(tb_run["run_dir"])),
        "zip TensorBoard logs": median_time(lambda: lesson.zip_logdir(logdir)),
        "LR finder (small_cnn, 100 steps)": median_time(lambda: lesson.lr_finder(
            lesson.finder_model("small_cnn"), split.X_train, split.y_train, 1e-5, 1.0, P["finder_steps"]), 3),
        "TensorBoard demo (train + log)": median_time(lambda: lesson.tensorboard_demo(
            logdir, "bench2", epochs=P["tb_epochs"]), 3),
    }
    training = {
        "overfitting lab (6 runs)": once(lambda: lesson.run_overfit_lab(lesson.OverfitSettings(
            per_class=P["per_class"], epochs=P["overfit_epochs"]))),
        "clipping (2 runs)": once(lambda: lesson.run_clipping(lesson.ClipSettings(epochs=P["clip_epochs"]))),
        "tuning 实战 (finder + 2 runs)": once(lambda: lesson.tune_digits(lesson.TuneSettings(
            epochs=P["tune_epochs"], finder_steps=P["finder_steps"]), tempfile.mkdtemp(dir=logdir))),
    }
    print(f"torch threads: {threads}")
    print(f"{'interactive call':40s} {'median s':>9s}")
    for name, s in rows.items():
        print(f"{name:40s} {s:9.3f}")
    print(f"{'training (default preset)':40s} {'s':>9s}")
    for name, s in training.items():
        print(f"{name:40s} {s:9.1f}")
    out = ROOT / "bench" / "results" / "ch09.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps({"threads": threads, "interactive_s": rows, "training_s": training}, indent=2))


if __name__ == "__main__":
    main()
