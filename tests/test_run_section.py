"""``runner.section``: one call gives a page button → progress → kept result → translated error."""
from __future__ import annotations

import time

from streamlit.testing.v1 import AppTest


def section_app():
    import sys
    from pathlib import Path
    sys.path.insert(0, str(Path.cwd()))   # AppTest runs this body as a script; the tests run from the repo
    import streamlit as st

    from core.errors import HeroError
    from ui import runner

    mode = st.session_state.get("mode", "ok")

    def job(stop, emit):
        for i in range(3):
            emit({"kind": "step", "step": i + 1, "total_steps": 3, "epoch": 0, "epochs": 1, "loss": 1.0 / (i + 1)})
        if mode == "error":
            raise HeroError("range", name="lr", value=5, low=0, high=1)
        return {"mode": mode, "value": 42 if mode == "ok" else float("nan")}

    calls = st.session_state.setdefault("on_result_calls", [])
    result = runner.section("demo", job, button="Train", accept=lambda r: r["value"] == r["value"],
                            on_result=lambda r: calls.append(r["mode"]))
    st.write(f"result={result}")


def _finish(at):
    runs = at.session_state["_hero_runs"]
    deadline = time.monotonic() + 30
    while any(r.active for r in runs.values()) and time.monotonic() < deadline:
        time.sleep(0.05)
    at.run()
    at.run()


def test_section_keeps_result_refuses_nan_and_translates_errors():
    at = AppTest.from_function(section_app, default_timeout=60)
    at.session_state["mode"] = "ok"
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    at.button(key="start_demo").click().run()
    _finish(at)
    assert not at.exception, [e.value for e in at.exception]
    assert at.session_state["demo_result"] == {"mode": "ok", "value": 42}
    assert list(at.session_state["on_result_calls"]) == ["ok"]
    # a NaN result is refused: the previous one stays, on_result is not called, the page says so
    at.session_state["mode"] = "nan"
    at.button(key="start_demo").click().run()
    _finish(at)
    assert at.session_state["demo_result"]["value"] == 42
    assert list(at.session_state["on_result_calls"]) == ["ok"]
    assert any("previous one is kept" in i.value for i in at.info)
    # a learner-caused error is shown translated, not as a traceback
    at.session_state["mode"] = "error"
    at.button(key="start_demo").click().run()
    _finish(at)
    assert not at.exception
    assert any("lr must be between 0 and 1" in e.value for e in at.error), [e.value for e in at.error]


def two_sections_app():
    import sys
    from pathlib import Path
    sys.path.insert(0, str(Path.cwd()))

    from ui import runner
    runner.section("a", lambda stop, emit: "A", button="Train A")
    runner.section("b", lambda stop, emit: "B", button="Train B")


def test_a_click_is_not_lost_when_another_run_finishes_in_the_same_rerun():
    at = AppTest.from_function(two_sections_app, default_timeout=60)
    at.run()
    at.button(key="start_a").click().run()
    run_a = at.session_state["_hero_runs"]["a"]
    deadline = time.monotonic() + 30
    while run_a.active and time.monotonic() < deadline:
        time.sleep(0.05)
    # run a finished in the background; the next rerun both adopts it and carries the click on b
    at.button(key="start_b").click().run()
    assert "b" in at.session_state["_hero_runs"], "the click on Train B was dropped"
    _finish(at)
    assert at.session_state["a_result"] == "A" and at.session_state["b_result"] == "B"
