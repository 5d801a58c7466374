"""Chapter 7 benchmarks: server time of each interactive widget's core call, and training times.

    taskset -c 0,1 .venv/bin/python bench/bench_ch07.py      # mimic a 2-vCPU host

Interactive (goal ≤ 0.3 s each, median of repeats): conv demo, receptive field (formula +
autograd), feature maps of the ch05 CNN, Grad-CAM + saliency + top-k on an uploaded image.
Background jobs, default preset: architecture zoo, transfer lab (goal ≤ 60 s), class
imbalance (three runs), and the 7.5 实战 side by side: fine-tuning the offline backbone on the
built-in real photos (4 classes, validation photos never trained on) with each freeze level,
validation accuracy per class (chance = 25 %).

    .venv/bin/python bench/bench_ch07.py --views     # also: the page's first and repeat view in Chromium

``--views`` starts ``python -m ui.server`` on a free port and times, in headless Chromium, how long
the chapter-7 page takes until its title is drawn and until the script has settled — on a freshly
started server (first visitor) and again in new sessions (repeat views). Goal: drawn ≤ 2 s.
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
from core import catalog, data, weights  # noqa: E402
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


def page_views(repeats: int = 3) -> dict:
    """Seconds until the chapter-7 page's title is drawn and until its script settled, in headless
    Chromium: the first visitor of a fresh server, then ``repeats`` new sessions."""
    import socket
    import subprocess

    from playwright.sync_api import sync_playwright

    from core.i18n import translate
    args = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--no-first-run"]
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    server = subprocess.Popen([sys.executable, "-m", "ui.server", "--server.port", str(port), "--server.headless",
                               "true", "--server.fileWatcherType", "none"], cwd=ROOT,
                              env={**os.environ, "HERO_PRESET": "default"},
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    settled = "() => !document.querySelector('[data-testid=stStatusWidget]')"
    views = []
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=args)
            page = browser.new_page()
            for _ in range(600):   # the home page first: the server is up and routing
                try:
                    page.goto(url, timeout=2000)
                    break
                except Exception:
                    time.sleep(0.1)
            page.get_by_role("heading", name=translate("en", "chapters.preface.title")).wait_for(timeout=60_000)
            page.wait_for_function(settled, timeout=60_000)
            for i in range(1 + repeats):
                page = browser.new_page(viewport={"width": 1400, "height": 1000})
                t0 = time.perf_counter()
                page.goto(f"{url}/vision")
                page.get_by_role("heading", name=translate("en", "chapters.ch07.title")).wait_for(timeout=120_000)
                title = time.perf_counter() - t0
                # settled: the last section (7.5) is drawn and the script's status widget has gone
                page.get_by_role("heading", name=translate("en", "ch07.project.title")).wait_for(timeout=300_000)
                page.wait_for_function(settled, timeout=300_000)
                views.append({"view": "first" if i == 0 else f"repeat {i}", "title_s": round(title, 2),
                              "settled_s": round(time.perf_counter() - t0, 2)})
                print(views[-1], flush=True)
                page.close()
            browser.close()
    finally:
        server.terminate()
        server.wait(10)
    return {"views": views}


def main() -> None:
    threads = configure_threads()
    mnist = data.load("mnist5k")
    image = mnist.X[7].reshape(28, 28)
    cnn = weights.load(L.FEATURE_CHECKPOINT).model
    specs = L.parse_stack("3/1/1/1, 3/2/1/1, 3/1/1/1, 3/2/1/1")
    set_seconds, photos = timed(lambda: L.builtin_dataset(P["photos"], P["photo_size"]))
    finetunes = {level: timed(lambda lv=level: L.finetune(photos, L.FinetuneSettings(epochs=P["ft_epochs"], freeze=lv)))
                 for level in L.FREEZE_LEVELS}
    ft_seconds, ft = finetunes["none"]
    upload = L.image_bytes(L.sample_row(photos))
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
    jobs[f"build the photo set ({len(photos)} crops, {P['photo_size']}px)"] = set_seconds
    for level, (seconds, _) in finetunes.items():
        jobs[f"fine-tune real photos, freeze {level}"] = seconds
    results = {
        "threads": threads, "interactive_seconds": interactive, "job_seconds": jobs,
        "zoo": [{k: r[k] for k in ("name", "size", "params", "flops", "ms")} for r in zoo],
        "transfer_final_val_acc": tr.final,
        "imbalance_minority_recall": {k: round(float(v[list(L.MINORITY)].mean()), 3) for k, v in imb["recall"].items()},
        "finetune_val_acc": {level: r.end.get("val_acc") for level, (_, r) in finetunes.items()},
        "finetune_per_class": {level: {c: round(a, 3) for c, a in r.per_class.items()}
                               for level, (_, r) in finetunes.items()},
    }
    if "--views" in sys.argv:
        results["page_views_seconds"] = page_views()
    print(f"threads: {threads}")
    print(f"{'interactive call':45s} median s   (goal ≤ 0.3)")
    for k, v in interactive.items():
        print(f"{k:45s} {v:8.4f}")
    print(f"{'background job (default preset)':45s} seconds")
    for k, v in jobs.items():
        print(f"{k:45s} {v:8.2f}")
    print(json.dumps({k: results[k] for k in ("zoo", "transfer_final_val_acc", "imbalance_minority_recall",
                                               "finetune_val_acc", "finetune_per_class", "page_views_seconds")
                      if k in results}, indent=1))
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "ch07.json").write_text(json.dumps(results, indent=2) + "\n")
    card = catalog.record_measurement("ch07", ft_seconds, {
        "en": f"实战: fine-tune on the built-in real photos ({len(photos)} crops), default preset, nothing frozen",
        "zh": f"实战：在内置真实照片上微调（{len(photos)} 个裁剪），默认预设，不冻结"})
    print("home card:", "recorded in bench/cards.json" if card else "not recorded (machine loaded; HERO_RECORD_CARDS=1 forces)")


if __name__ == "__main__":
    main()
