"""Test setup: offline, tiny preset, a private weights cache, and the repo on sys.path."""
from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# Before anything imports transformers/gradio/streamlit: no network, small demos.
os.environ.update({
    "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "GRADIO_ANALYTICS_ENABLED": "False",
    "HERO_PRESET": "tiny", "HERO_CACHE": tempfile.mkdtemp(prefix="hero-cache-"),
    "STREAMLIT_BROWSER_GATHER_USAGE_STATS": "false",
})

import pytest  # noqa: E402
from hypothesis import settings as hypothesis_settings  # noqa: E402

# Same examples on every run (CI must not find a new edge case by chance), no per-example deadline
# (a shared 2-core machine is slow at random moments).
hypothesis_settings.register_profile("hero", derandomize=True, deadline=None)
hypothesis_settings.load_profile("hero")

ARTIFACTS = ROOT / "tests" / "artifacts"


@pytest.fixture
def one_thread():
    """Two intra-op threads on a shared 2-core box oversubscribe badly: modules that train a lot
    use one (``pytestmark = pytest.mark.usefixtures("one_thread")``)."""
    import torch
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture
def app():
    """An AppTest of the whole gallery (app.py). Use ``open_page(app, "pages/chNN_x.py")``."""
    from streamlit.testing.v1 import AppTest
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def open_page(at, page: str):
    """Navigate the AppTest to ``page`` (path relative to the repo root) and run it."""
    at.switch_page(page)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def click(at, key: str):
    """Press the button with ``key``, rerun, and fail on any exception element."""
    at.button(key=key).click().run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def finish_runs(at, timeout: float = 120.0):
    """Wait for every background training run of this AppTest session, then rerun twice
    (once for the run to be adopted, once to draw the adopted result)."""
    runs = at.session_state["_hero_runs"] if "_hero_runs" in at.session_state else {}
    deadline = time.monotonic() + timeout
    for run in runs.values():
        while run.active and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not run.active, f"run {run.key} did not finish in {timeout}s"
    at.run()
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return runs


def device_reaching_fit(monkeypatch, module, call) -> dict:
    """Run ``call()`` with ``module.fit`` replaced by a spy that stops at the first call; return the
    device ``fit`` was given and the device the model's parameters were on then."""
    seen = {}

    class Reached(Exception):
        pass

    def fake_fit(model, *args, device="cpu", **kwargs):
        seen.update(fit=str(device), model=next(model.parameters()).device.type)
        raise Reached
        yield

    monkeypatch.setattr(module, "fit", fake_fit)
    with pytest.raises(Reached):
        call()
    return seen
