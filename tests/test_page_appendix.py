"""Appendix page through the real router (tiny preset): every button, the error guide live, bad input translated."""
from core.i18n import translate
from core.lessons.appendix import errors_guide
from tests.conftest import click, finish_runs, open_page

PAGE = "pages/appendix.py"


def texts(app) -> str:
    return " ".join(str(e.value) for kind in ("markdown", "caption", "info", "error", "success", "warning", "metric",
                                              "code") for e in getattr(app, kind))


def test_math_sections_and_practices(app):
    open_page(app, PAGE)
    assert app.metric[0].value == "3"                          # det [[2, 1], [1, 2]]
    app.selectbox(key="appendix_preset").set_value("rotation").run()
    assert app.session_state["appendix_ma"] == 0.0 and app.session_state["appendix_mb"] == -1.0
    assert translate("en", "appendix.matrix.complex") in texts(app)
    app.number_input(key="appendix_md").set_value(3.0).run()   # edit one entry: det 0·3 − (−1)·1 = 1
    assert app.metric[0].value == "1"
    app.selectbox(key="appendix_fn").set_value("tanh(x)").run()
    app.selectbox(key="appendix_dist").set_value("poisson").run()
    assert not app.exception and not app.error
    app.selectbox(key="appendix_practice").set_value("zero_grad").run()
    click(app, "appendix_practice_run")
    shown = texts(app)
    assert "2 grad 24.0" in shown and "2 grad 8.0" in shown   # the don't accumulates, the do does not


def test_error_guide_search_run_and_check_all(app):
    open_page(app, PAGE)
    app.text_input(key="appendix_query").set_value("mat1 and mat2 shapes cannot be multiplied (64x784 and 28x10)").run()
    assert app.selectbox(key="appendix_entry").value == "linear_shape"
    click(app, "appendix_run")
    shown = texts(app)
    assert "mat1 and mat2 shapes cannot be multiplied (4x5 and 3x2)" in shown        # the real message
    assert translate("en", "appendix.errors.linear_shape.cause")[:40] in shown
    assert "torch.Size([4, 2])" in shown                                             # the fixed script's output
    assert any("RuntimeError" in s.value for s in app.success)
    click(app, "start_appendix_all")
    finish_runs(app, timeout=300)
    rows = app.session_state["appendix_all_result"]
    assert len(rows) == len(errors_guide.ENTRIES) and all(r["as_documented"] for r in rows)


def test_chinese_guide_glossary_memory_and_bad_input(app):
    app.sidebar.radio(key="lang_choice").set_value("zh").run()
    open_page(app, PAGE)
    # the device entry, found by keyword: the real torch message, the Chinese cause and fix
    app.text_input(key="appendix_query").set_value("meta device").run()
    assert app.selectbox(key="appendix_entry").value == "device_mismatch"
    click(app, "appendix_run")
    shown = texts(app)
    assert "is not on the expected device" in shown or "Expected all tensors" in shown
    assert translate("zh", "appendix.errors.device_mismatch.fix")[:20] in shown
    app.text_input(key="appendix_term").set_value("梯度").run()
    table = next(d.value for d in app.dataframe if "English" in d.value.columns)
    assert "gradient" in list(table.iloc[:, 0]) and all("梯度" in z for z in table.iloc[:, 1])
    app.text_input(key="appendix_search").set_value("dataloader").run()
    assert "[数据加载器](/data?lang=zh)" in texts(app)
    # an estimate that cannot fit says so with the largest batch that does
    app.select_slider(key="appendix_w").set_value(16384)
    app.slider(key="appendix_depth").set_value(48)
    app.select_slider(key="appendix_b").set_value(65536).run()
    assert app.warning and "最大批大小" in app.warning[0].value
    # an empty derivative interval: a translated error, not an exception
    app.slider(key="appendix_range").set_value((2.0, 2.0)).run()
    assert any("区间为空" in e.value for e in app.error)
    assert not app.exception
