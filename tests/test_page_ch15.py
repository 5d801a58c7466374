"""Chapter 15 page through the real router (tiny preset): every run started and drawn, the Lightning
model on the shelf, attributions shown, the study's SQLite offered, and a too-large budget translated."""
from core.i18n import translate
from tests.conftest import click, finish_runs, open_page

PAGE = "pages/ch15_ecosystem.py"


def texts(app) -> str:
    return " ".join(str(e.value) for kind in ("markdown", "caption", "info", "error", "warning", "metric", "success")
                    for e in getattr(app, kind))


def press(app, key):
    click(app, key)
    return finish_runs(app, timeout=400)


def test_every_section_runs(app):
    open_page(app, PAGE)
    assert "Captum Insights" in texts(app)                 # removed in 0.9: the page says so
    assert any(c.key == "ch15_captum_maps" for c in app.get("plotly_chart"))
    # 15.1 both loops, the Lightning model on the shelf
    press(app, "start_ch15_lit")
    runs = app.session_state["ch15_lit_result"]
    assert set(runs) == {"plain", "lightning"} and all(r.ok for r in runs.values())
    assert [i.kind for i in app.session_state["_hero_shelf"].items()] == ["digits-classifier"]
    # 15.2 tokens: a quick sentiment model, then its attributions
    press(app, "start_ch15_sent")
    assert translate("en", "ch15.tokens.result").split("=")[0].strip() in texts(app)
    # 15.3 the study, its figures and the best-vs-worst comparison
    press(app, "start_ch15_study")
    study = app.session_state["ch15_study_result"]
    assert study.storage.startswith(b"SQLite format 3") and len(study.trials) >= 1
    # 15.4 GCN and the equality check
    press(app, "start_ch15_gnn")
    assert app.session_state["ch15_gnn_result"].frames
    click(app, "ch15_gnn_same")
    assert app.session_state["ch15_gnn_same_out"]["max_abs_diff"] < 1e-5
    assert not app.exception


def test_too_large_budget_is_translated(app):
    open_page(app, PAGE)
    app.number_input(key="ch15_trials").set_value(200).run()
    app.number_input(key="ch15_tepochs").set_value(100).run()
    assert "20000" in " ".join(str(e.value) for e in app.error)
    assert app.button(key="start_ch15_study").disabled
    assert not app.exception
