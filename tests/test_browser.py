"""Real browser against a real ``streamlit run``: pages load, training completes, language sticks.

Playwright drives Debian's Chromium (never ``playwright install``). Screenshots of every
page land in tests/artifacts/ for a person to look at.
"""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

from core.catalog import built_chapters
from core.i18n import translate
from tests.conftest import ARTIFACTS, ROOT

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
if not os.path.exists(CHROMIUM):
    if os.environ.get("HERO_REQUIRE_BROWSER"):
        raise RuntimeError("HERO_REQUIRE_BROWSER is set but chromium is not installed")
    pytest.skip("Debian chromium not installed", allow_module_level=True)

from playwright.sync_api import expect, sync_playwright  # noqa: E402

expect.set_options(timeout=60_000)   # a shared 2-core machine can take a while to render a page
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(port: int) -> subprocess.Popen:
    """The gallery as a visitor gets it: ``python -m ui.server`` (what run.sh and the Dockerfile run)."""
    # No import warm-up (tests/test_warmup.py covers it): here it would only compete for the cores.
    env = {**os.environ, "HERO_PRESET": "tiny", "PYTHONPATH": str(ROOT), "HERO_WARMUP": "0"}
    proc = subprocess.Popen([sys.executable, "-m", "ui.server", "--server.port", str(port),
                             "--server.address", "127.0.0.1"],   # the rest from .streamlit/config.toml
                            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if urllib.request.urlopen(f"{url}/_stcore/health", timeout=1).status == 200:
                return proc
        except OSError:
            time.sleep(0.3)
    proc.kill()
    raise RuntimeError("streamlit did not start:\n" + proc.stdout.read().decode()[-3000:])


def stop_server(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:   # a busy server (training threads) may ignore SIGTERM for a while
        proc.kill()
        proc.wait(timeout=20)


@pytest.fixture(scope="module")
def server():
    port = free_port()
    proc = start_server(port)
    yield f"http://127.0.0.1:{port}"
    stop_server(proc)


@pytest.fixture(scope="module")
def browser(server):
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        # Warm-up visit to the home page: Streamlit learns the st.navigation pages on the first
        # session's run; a deep link opened before that reports "Page not found".
        warm = b.new_page()
        warm.goto(f"{server}/?lang=en")
        warm.get_by_role("heading", name=translate("en", "chapters.preface.title")).wait_for(timeout=60_000)
        warm.close()
        yield b
        b.close()


def is_local(url: str) -> bool:
    from urllib.parse import urlparse
    parsed = urlparse(url)
    return parsed.scheme in ("data", "blob", "about", "chrome-extension") or parsed.hostname in ("127.0.0.1", "localhost")


@pytest.fixture
def page(browser):
    """A fresh tab that records every request; a request leaving 127.0.0.1 fails the test
    (offline means no request leaves the machine, the browser's included)."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    pg = context.new_page()
    pg.set_default_timeout(60_000)
    outside: list[str] = []
    pg.on("request", lambda request: None if is_local(request.url) else outside.append(request.url))
    yield pg
    context.close()
    assert not outside, f"requests left the machine: {sorted(set(outside))[:10]}"


def screenshot(page, name: str) -> None:
    """Whole-page screenshot: Streamlit scrolls inside stMain, so grow the viewport to fit it."""
    page.wait_for_function("() => !document.querySelector('[data-testid=\"stSkeleton\"]')", timeout=60_000)
    measure = "document.querySelector('[data-testid=\"stMain\"]').scrollHeight"
    height = 0
    for _ in range(10):   # charts keep growing the page as they render: resize until it stops
        new = page.evaluate(measure)
        if new == height:
            break
        height = new
        page.set_viewport_size({"width": 1400, "height": min(max(1000, height), 16000)})
        page.wait_for_timeout(700)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"))


def wait_idle(page) -> None:
    """Streamlit shows a running indicator while a script runs: let it appear, then wait until it is gone."""
    try:
        page.wait_for_selector('[data-testid="stStatusWidget"]', timeout=3_000)
    except Exception:   # the run may have finished before we looked
        pass
    page.wait_for_function("() => !document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=120_000)


def assert_no_exception(page) -> None:
    assert page.locator('[data-testid="stException"]').count() == 0, \
        page.locator('[data-testid="stException"]').first.inner_text()
    assert page.get_by_role("dialog").count() == 0, page.get_by_role("dialog").first.inner_text()


@pytest.mark.parametrize("chapter", built_chapters(), ids=lambda c: c.id)
def test_page_renders(server, page, chapter):
    path = "" if chapter.id == "preface" else chapter.url_path
    page.goto(f"{server}/{path}?lang=en")
    expect(page.get_by_role("heading", name=translate("en", f"chapters.{chapter.id}.title"))).to_be_visible()
    wait_idle(page)
    assert_no_exception(page)
    screenshot(page, chapter.id)


def test_language_survives_navigation_and_reload(server, page):
    page.goto(f"{server}/?lang=zh")
    expect(page.get_by_role("heading", name=translate("zh", "chapters.preface.title"))).to_be_visible()
    page.get_by_role("link", name=translate("zh", "chapters.ch05.nav")).first.click()
    expect(page.get_by_role("heading", name=translate("zh", "chapters.ch05.title"))).to_be_visible()
    page.wait_for_url("**lang=zh**")
    page.reload()
    expect(page.get_by_role("heading", name=translate("zh", "chapters.ch05.title"))).to_be_visible()
    assert_no_exception(page)


def test_ch05_training_run_completes(server, page):
    page.on("pageerror", lambda exc: print("page error:", exc))
    page.goto(f"{server}/training-loop?lang=en")
    expect(page.get_by_role("heading", name=translate("en", "chapters.ch05.title"))).to_be_visible()
    wait_idle(page)
    page.get_by_role("button", name=translate("en", "ch05.train.button"), exact=True).click()
    # the evaluation section replaces its "train first" hint with a metric once the run is adopted
    expect(page.get_by_role("button", name=translate("en", "ch05.compare.pin"))).to_be_visible(timeout=90_000)
    expect(page.get_by_test_id("stMetric").filter(has_text=translate("en", "ch05.eval.accuracy"))).to_be_visible()
    wait_idle(page)
    assert_no_exception(page)
    screenshot(page, "ch05_trained")


def test_ch05_draw_a_digit_on_the_canvas(server, page):
    page.goto(f"{server}/training-loop?lang=en")
    expect(page.get_by_role("heading", name=translate("en", "ch05.digits.title"), exact=False)).to_be_visible()
    wait_idle(page)
    upper = page.locator("canvas.upper-canvas")   # a components-v2 element: Playwright pierces its shadow DOM
    prediction = page.get_by_text("The model says", exact=False)
    for _attempt in range(3):   # the page may still be laying out: re-measure the canvas and try again
        upper.scroll_into_view_if_needed()
        page.wait_for_timeout(1000)
        box = upper.bounding_box()
        # A stroke registers only when paced like a person: hover, press, several small moves, release.
        x = box["x"] + box["width"] / 2
        page.mouse.move(x, box["y"] + 30)
        page.wait_for_timeout(100)
        page.mouse.down()
        for i in range(1, 16):
            page.mouse.move(x, box["y"] + 30 + i * (box["height"] - 60) / 15)
            page.wait_for_timeout(30)
        page.mouse.up()
        try:
            expect(prediction).to_be_visible(timeout=20_000)
            break
        except AssertionError:
            continue
    else:
        screenshot(page, "ch05_drawn_FAILED")
    expect(prediction).to_be_visible()
    assert_no_exception(page)
    screenshot(page, "ch05_drawn")


def test_cold_server_deep_link_opens_its_page_without_raw_file_list(browser):
    """A freshly started server whose first visitor arrives by a chapter link: the page opens
    cleanly (no "Page not found" dialog), and the sidebar never lists raw file names."""
    port = free_port()
    proc = start_server(port)
    try:
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        pg = context.new_page()
        raw_names: list[str] = []
        pg.goto(f"http://127.0.0.1:{port}/training-loop?lang=zh")
        deadline = time.monotonic() + 60
        heading = pg.get_by_role("heading", name=translate("zh", "chapters.ch05.title"))
        while time.monotonic() < deadline:   # watch the sidebar while the page comes up
            nav = pg.locator('[data-testid="stSidebarNav"]')
            if nav.count():
                text = nav.first.inner_text()
                if "ch05 training loop" in text or "ch01 tensors" in text:
                    raw_names.append(text)
            if heading.count() and heading.first.is_visible():
                break
            pg.wait_for_timeout(100)
        expect(heading).to_be_visible()
        wait_idle(pg)
        assert not raw_names, raw_names[0][:300]
        assert pg.get_by_role("dialog").count() == 0, pg.get_by_role("dialog").first.inner_text()
        assert "training-loop" in pg.url and "lang=zh" in pg.url
        assert pg.locator('[data-testid="stSidebarNav"]').count() == 0   # the built-in (raw) menu stays hidden
        links = pg.locator('[data-testid="stSidebar"] [data-testid="stPageLink-NavLink"]')
        assert links.filter(has_text=translate("zh", "chapters.ch05.nav")).count() == 1
        context.close()
    finally:
        stop_server(proc)


def test_gradio_gallery_shows_each_widget_once(browser):
    """Every tab of the Gradio gallery holds its chapter's widget exactly once."""
    port = free_port()
    env = {**os.environ, "HERO_PRESET": "tiny", "PYTHONPATH": str(ROOT), "GRADIO_SERVER_PORT": str(port),
           "GRADIO_SERVER_NAME": "127.0.0.1"}
    proc = subprocess.Popen([sys.executable, str(ROOT / "gradio_app.py")], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        url = f"http://127.0.0.1:{port}/"
        deadline = time.monotonic() + 300     # it builds every widget first: slow on a busy 2-core machine
        while time.monotonic() < deadline:
            try:
                if urllib.request.urlopen(url, timeout=1).status == 200:
                    break
            except OSError:
                time.sleep(0.5)
        else:
            raise RuntimeError("gradio did not start (GRADIO_SERVER_PORT honoured?):\n"
                               + proc.stdout.read1(5000).decode(errors="replace"))
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        pg = context.new_page()
        outside: list[str] = []
        pg.on("request", lambda r: None if is_local(r.url) else outside.append(r.url))
        pg.goto(url)
        from core.catalog import CHAPTERS
        widget_chapters = [c for c in CHAPTERS if c.built and c.widget_module]
        tabs = pg.get_by_role("tab")
        expect(tabs.first).to_be_visible(timeout=60_000)
        # Gradio folds tabs that do not fit into a menu; the in-process test counts all of them
        # (tests/test_widgets.py), this one clicks the visible ones in a real browser.
        visible = [i for i in range(tabs.count()) if tabs.nth(i).is_visible()]
        assert 1 <= len(visible) <= len(widget_chapters)
        for i in visible:
            chapter = widget_chapters[i]
            tabs.nth(i).click()
            pg.wait_for_timeout(300)
            panel = pg.locator('[role="tabpanel"]:visible').first
            text = panel.inner_text().strip()
            head = text.splitlines()[0].strip() if text else ""
            # a widget rendered twice repeats its opening text inside the same tab
            assert head and text.count(head) == 1, f"{chapter.id}: its widget appears {text.count(head)} times"
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        pg.screenshot(path=str(ARTIFACTS / "gradio_gallery.png"))
        context.close()
        assert not outside, f"the Gradio gallery fetched from outside: {sorted(set(outside))[:10]}"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
