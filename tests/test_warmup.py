"""The server's background import warm-up (ui/warmup.py): what it imports exists, it reports
failures instead of raising, and app.py starts it once a page is drawn, only when enabled."""
import importlib.util
import os
import sys
import threading

import pytest

from ui import warmup


def test_every_listed_module_exists():
    """A library renamed or dropped from requirements would silently stop being warmed."""
    missing = [name for name in warmup.MODULES if importlib.util.find_spec(name) is None]
    assert not missing


def test_run_imports_and_reports_failures_without_raising():
    sys.modules.pop("colorsys", None)
    out = warmup.run(["colorsys", "no_such_library_hero"])
    assert out["imported"] == ["colorsys"] and "colorsys" in sys.modules
    assert list(out["failed"]) == ["no_such_library_hero"] and "ModuleNotFoundError" in out["failed"]["no_such_library_hero"]


@pytest.fixture
def fresh_warmup(monkeypatch):
    monkeypatch.setattr(warmup, "_thread", None)
    monkeypatch.setattr(warmup, "MODULES", ("colorsys",))
    monkeypatch.setattr(warmup, "done", threading.Event())
    monkeypatch.setattr(warmup, "report", {})
    return warmup


def _run_gallery():
    from streamlit.testing.v1 import AppTest
    from tests.conftest import ROOT
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.run()
    assert not at.exception
    return at


def test_app_leaves_warmup_off_unless_enabled(monkeypatch, fresh_warmup):
    monkeypatch.delenv("HERO_WARMUP", raising=False)
    _run_gallery()
    assert fresh_warmup._thread is None


def test_app_starts_warmup_once_after_drawing_when_enabled(monkeypatch, fresh_warmup):
    monkeypatch.setenv("HERO_WARMUP", "1")
    at = _run_gallery()
    assert at.title                              # the page was drawn first
    first = fresh_warmup._thread
    assert first is not None and fresh_warmup.done.wait(30)
    assert fresh_warmup.report["imported"] == ["colorsys"] and not fresh_warmup.report["failed"]
    _run_gallery()                                # a second visitor
    assert fresh_warmup._thread is first          # once per process


def test_server_entry_enables_warmup(monkeypatch):
    from streamlit.runtime.pages_manager import PagesManager
    from streamlit.web import cli
    from ui import server
    monkeypatch.setattr(PagesManager, "uses_pages_directory", PagesManager.uses_pages_directory)  # restored after
    monkeypatch.delenv("HERO_WARMUP", raising=False)
    monkeypatch.setattr(cli, "main", lambda: None)
    monkeypatch.setattr(sys, "argv", ["ui.server"])
    server.main([])
    assert os.environ["HERO_WARMUP"] == "1"
    monkeypatch.delenv("HERO_WARMUP")
