"""Server start → home rendered in Chromium (cold), every page's first view, and server memory.

    taskset -c 0,1 .venv/bin/python bench/bench_server.py

Goal: home rendered ≤ 5 s after the server starts (`python -m ui.server`, what run.sh and the
Dockerfile run). The server then imports the libraries the chapters need in the background
(``ui/warmup.py``); the bench waits for that, as a visitor reading the home page would, and
reports how long it took. Then a visitor opens every built page twice — first view (the server's first
visit of that page: imports, caches filled) and repeat view — timing until its title is drawn
and until the script run has settled (goal ≤ 2 s each); then trains the ch05 toy model and
digits classifier; the server's RSS is reported after that. The load average is printed: on a
busy machine the figures are slower than a visitor would see.
"""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from playwright.sync_api import sync_playwright  # noqa: E402

from core.catalog import built_chapters  # noqa: E402
from core.i18n import translate  # noqa: E402

GOAL_S = 2.0     # a chapter page drawn and settled within 2 s of opening it
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]


def rss_mb(pid: int) -> tuple[float, float]:
    """(current, peak) resident memory of a process in MB, from /proc."""
    fields = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line)
    kb = lambda key: int(fields[key].split()[0])  # noqa: E731
    return kb("VmRSS") / 1024, kb("VmHWM") / 1024


def view(page, url: str, chapter) -> dict:
    """Open ``chapter``'s page: seconds until its title is drawn, and until the script run has
    settled (Streamlit's running indicator gone)."""
    t0 = time.perf_counter()
    page.goto(f"{url}/{chapter.url_path}")
    page.get_by_role("heading", name=translate("en", f"chapters.{chapter.id}.title")).wait_for(timeout=120_000)
    drawn = time.perf_counter() - t0
    page.wait_for_timeout(150)    # the status widget appears a moment after the first delta
    page.wait_for_function("() => !document.querySelector('[data-testid=stStatusWidget]')", timeout=180_000)
    return {"title_s": round(drawn, 2), "settled_s": round(time.perf_counter() - t0, 2)}


def wait_for_warmup(log: Path, timeout: float = 300.0) -> float | None:
    """Seconds until the server's log says its import warm-up finished (None: it never did)."""
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < timeout:
        if "hero warm-up:" in log.read_text(errors="replace"):
            return round(time.perf_counter() - t0, 2)
        time.sleep(0.2)
    return None


def main() -> None:
    load_before = round(os.getloadavg()[0], 1)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        log = tempfile.NamedTemporaryFile("w+", suffix=".log", prefix="hero-server-")
        started = time.perf_counter()
        server = subprocess.Popen([sys.executable, "-m", "ui.server",
                                   "--server.port", str(port), "--server.headless", "true",
                                   "--server.fileWatcherType", "none"], cwd=ROOT,
                                  env={**os.environ, "HERO_PRESET": "default"},
                                  stdout=subprocess.DEVNULL, stderr=log)
        try:
            while True:
                try:
                    page.goto(url, timeout=2000)
                    break
                except Exception:
                    time.sleep(0.1)
            page.get_by_role("heading", name=translate("en", "chapters.preface.title")).wait_for(timeout=60_000)
            cold = time.perf_counter() - started
            warmup_s = wait_for_warmup(Path(log.name))
            print(f"  home rendered {cold:.2f} s after start; warm-up imports done {warmup_s} s after that", flush=True)
            views, failed = {}, {}
            for chapter in built_chapters():
                if chapter.id == "preface":
                    continue
                try:
                    views[chapter.id] = {"first": view(page, url, chapter), "repeat": view(page, url, chapter)}
                except Exception as exc:      # a page that never draws its title is reported, not fatal
                    print(f"  {chapter.id}: {type(exc).__name__}: {str(exc)[:200]}", flush=True)
                    failed[chapter.id] = f"{type(exc).__name__}: {str(exc)[:200]}"
                    continue
                print(f"  {chapter.id}: first view title {views[chapter.id]['first']['title_s']} s, settled "
                      f"{views[chapter.id]['first']['settled_s']} s; repeat view settled "
                      f"{views[chapter.id]['repeat']['settled_s']} s", flush=True)
            after_pages = rss_mb(server.pid)[0]
            current = peak = None
            try:       # a visitor trains on ch05 too: the server's memory after a real run
                page.goto(f"{url}/training-loop")
                page.get_by_role("button", name=translate("en", "ch05.train.button"), exact=True).click(timeout=60_000)
                page.get_by_role("button", name=translate("en", "ch05.compare.pin")).wait_for(timeout=180_000)
                page.get_by_role("button", name=translate("en", "ch05.digits.train")).click()
                page.wait_for_timeout(1000)
                # the model-in-use caption and the baseline table both name the source: wait for the first
                page.get_by_text(translate("en", "ch05.digits.source_trained"), exact=False).first.wait_for(timeout=180_000)
                current, peak = rss_mb(server.pid)
            except Exception as exc:
                print(f"  ch05 training visit: {type(exc).__name__}: {str(exc)[:200]}", flush=True)
        finally:
            server.terminate()
            try:
                server.wait(20)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait(20)
            browser.close()
            log.close()
    report = {"home_cold_s": round(cold, 2), "warmup_after_home_s": warmup_s, "views": views, "failed": failed, "load_before": load_before,
              "load_after": round(os.getloadavg()[0], 1), "rss_after_every_page_mb": round(after_pages),
              "rss_mb": current and round(current), "peak_rss_mb": peak and round(peak)}
    (ROOT / "bench" / "results").mkdir(parents=True, exist_ok=True)
    (ROOT / "bench" / "results" / "server.json").write_text(json.dumps(report, indent=2))
    print(f"\n{'page':10} {'first: title':>13} {'settled':>8} {'repeat: title':>14} {'settled':>8}")
    for cid, v in views.items():
        slow = "  > 2 s" if v["first"]["settled_s"] > GOAL_S else ""
        print(f"{cid:10} {v['first']['title_s']:13.2f} {v['first']['settled_s']:8.2f} {v['repeat']['title_s']:14.2f} "
              f"{v['repeat']['settled_s']:8.2f}{slow}")
    slow = [cid for cid, v in views.items() if v["first"]["settled_s"] > GOAL_S]
    if failed:
        print(f"pages that did not draw: {', '.join(failed)}")
    print(f"first view settled > {GOAL_S} s (goal ≤ {GOAL_S} s): {', '.join(slow) or 'none'}")
    print(f"1-minute load average: {report['load_before']} before, {report['load_after']} after (quiet ≈ 0–1)")
    print(f"server start → home rendered: {report['home_cold_s']} s  goal ≤ 5 s; background import warm-up "
          f"finished {report['warmup_after_home_s']} s later (pages were opened after it)")
    print(f"server RSS after visiting every page: {report['rss_after_every_page_mb']} MB; after ch05 training too: "
          f"{report['rss_mb']} MB (peak {report['peak_rss_mb']} MB)")


if __name__ == "__main__":
    main()
