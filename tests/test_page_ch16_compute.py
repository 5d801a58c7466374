"""Chapter 16's compute sections (16.5 scaling-law lab, 16.6 hardware and torch.compile) in the real
page through the router, tiny preset: every button of ui/ch16_compute.py pressed, results drawn.
The compile button runs a real inductor compile of a tiny MLP (≈ 20–60 s on a busy 2-core box)."""
from pathlib import Path

import pytest

from core.i18n import translate
from tests.conftest import click, finish_runs, open_page

PAGE = "pages/ch16_horizon.py"
ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.skipif(not (ROOT / PAGE).exists(), reason="pages/ch16_horizon.py is not built yet")


def texts(app) -> str:
    return " ".join(str(e.value) for kind in ("markdown", "caption", "info", "error", "success", "warning", "code")
                    for e in getattr(app, kind))


def test_scaling_lab_and_matmul(app):
    open_page(app, PAGE)
    assert translate("en", "ch16.scaling.title") in " ".join(h.value for h in app.header)
    assert any(d.value.shape[0] == 3 for d in app.dataframe)           # the tiny ladder: 3 models listed
    click(app, "start_ch16_scaling")
    click(app, "start_ch16_hw_matmul")
    finish_runs(app, timeout=240)
    r = app.session_state["ch16_scaling_result"]
    assert len(r.points) == 3 and r.fit is not None
    shown = texts(app)
    assert f"{r.fit['alpha']:.3f}" in shown and r.best["name"] in shown
    mm = app.session_state["ch16_hw_matmul_result"]
    assert {row["dtype"] for row in mm} == {"float64", "float32", "bfloat16", "float16"}
    # the seconds budget: the same lab on the clock
    app.radio(key="ch16_scaling_budget").set_value("seconds").run()
    app.number_input(key="ch16_scaling_seconds").set_value(0.3).run()
    app.slider(key="ch16_scaling_sizes").set_value(2).run()
    click(app, "start_ch16_scaling")
    finish_runs(app, timeout=240)
    r = app.session_state["ch16_scaling_result"]
    assert r.settings["budget"] == "seconds" and len(r.points) == 2


def test_compile_and_graph_breaks(app):
    open_page(app, PAGE)
    assert any(translate("en", "ch16.hw.col.autocast") in d.value.columns for d in app.dataframe)
    click(app, "start_ch16_hw_explain")
    click(app, "start_ch16_hw_compile")
    finish_runs(app, timeout=240)
    rows = {row["function"]: row for row in app.session_state["ch16_hw_explain_result"]}
    assert rows["scale_clean"]["breaks"] == 0 and rows["scale_with_break"]["breaks"] == 1
    r = app.session_state["ch16_hw_compile_result"]
    assert r["settings"]["backend"] == "inductor" and r["compile_s"] > 0 and r["max_abs_diff"] < 1e-4
    shown = texts(app)
    assert translate("en", "ch16.hw.no_breaks") in shown and "Tensor.item()" in shown
    assert any(m.label == translate("en", "ch16.hw.speedup") for m in app.metric)
