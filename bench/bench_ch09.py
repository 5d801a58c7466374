"""Chapter 9 benchmark: server time of each interactive call (median of repeats), training times
with the default preset (the 实战 for each of the three models), and the page's first and repeat
view in Chromium beside chapter 3's (same server, same load: the ratio is what to read).
Run: taskset -c 0,1 .venv/bin/python bench/bench_ch09.py [--no-browser]"""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.timing import median_time, once  # noqa: E402
from core.device import configure_threads  # noqa: E402
from core.lessons import ch09_tricks as lesson  # noqa: E402

P = lesson.PRESETS["default"]
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]


def page_views(pages: dict[str, str], views: int = 3) -> dict[str, list[dict]]:
    """A fresh ``python -m ui.server``; each page opened ``views`` times in turn (the first is the
    first view after the server started): seconds until its title shows and until the script settles."""
    from playwright.sync_api import sync_playwright
    from core.i18n import translate
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    server = subprocess.Popen([sys.executable, "-m", "ui.server", "--server.port", str(port), "--server.address",
                               "127.0.0.1", "--server.headless", "true", "--server.fileWatcherType", "none"],
                              cwd=ROOT, env={**os.environ, "HERO_PRESET": "default"},
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    out: dict[str, list[dict]] = {cid: [] for cid in pages}
    try:
        while True:
            try:
                if urllib.request.urlopen(f"{url}/_stcore/health", timeout=1).status == 200:
                    break
            except OSError:
                time.sleep(0.3)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(url)
            page.get_by_role("heading", name=translate("en", "chapters.preface.title")).wait_for(timeout=120_000)
            for _ in range(views):
                for cid, path in pages.items():
                    t0 = time.perf_counter()
                    page.goto(f"{url}/{path}")
                    page.get_by_role("heading", name=translate("en", f"chapters.{cid}.title")).wait_for(timeout=120_000)
                    title = time.perf_counter() - t0
                    page.wait_for_timeout(200)
                    page.wait_for_function("() => !document.querySelector('[data-testid=stStatusWidget]')",
                                           timeout=180_000)
                    out[cid].append({"title_s": round(title, 2), "settled_s": round(time.perf_counter() - t0, 2)})
            browser.close()
    finally:
        server.terminate()
        server.wait(30)
    return out


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
        "graph figure from the GraphDef": median_time(lambda: lesson.graph_figure(
            lesson.read_graph(tb_run["run_dir"]))),
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
        "clinic: run all 8 scripts": once(lambda: lesson.run_every_bug(d, P["clinic_steps"])),
        **{f"tuning 实战 {m} (finder + 2 runs)": once(lambda m=m: lesson.tune_digits(lesson.TuneSettings(
            model=m, epochs=P[f"tune_epochs_{m}"], finder_steps=P["finder_steps"], photos=P["tune_photos"],
            reviews=P["tune_reviews"], patience=4 if m == "digits_cnn" else 2), tempfile.mkdtemp(dir=logdir)))
           for m in lesson.TUNE_MODELS},
    }
    print(f"torch threads: {threads}")
    print(f"{'interactive call':40s} {'median s':>9s}")
    for name, s in rows.items():
        print(f"{name:40s} {s:9.3f}")
    print(f"{'training (default preset)':40s} {'s':>9s}")
    for name, s in training.items():
        print(f"{name:40s} {s:9.1f}")
    views = {} if "--no-browser" in sys.argv else page_views({"ch09": "tricks", "ch03": "nn"})
    load = os.getloadavg()[0]
    for cid, rows_ in views.items():
        print(f"{cid} views (title s / settled s): " + ", ".join(f"{v['title_s']}/{v['settled_s']}" for v in rows_))
    print(f"load average while measuring: {load:.1f}")
    out = ROOT / "bench" / "results" / "ch09.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps({"threads": threads, "interactive_s": rows, "training_s": training,
                               "page_views": views, "load_average": load}, indent=2))


if __name__ == "__main__":
    main()
