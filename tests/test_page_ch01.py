"""Chapter 1 page through the real router: every section renders, buttons work, bad input is explained."""
from core.i18n import translate
from tests.conftest import click, finish_runs, open_page

PAGE = "pages/ch01_tensors.py"


def texts(app) -> str:
    return " ".join([m.value for m in app.markdown] + [c.value for c in app.caption] +
                    [s.value for s in app.success] + [e.value for e in app.error] + [i.value for i in app.info])


def test_page_renders_every_section_and_buttons_work(app):
    open_page(app, PAGE)
    headers = [h.value for h in app.header]
    for key in ("bridge", "create", "index", "view", "catstack", "broadcast", "products", "device", "regression"):
        assert any(translate("en", f"ch01.{key}.title") in h for h in headers), key
    assert "`A + B` has shape `(3, 4, 5)`." in texts(app)                    # broadcasting (3,1,5) with (4,5)
    assert "view size is not compatible" in texts(app)                      # view after t() fails, real text
    assert "Result shape: `(3, 3)`" in texts(app)                           # x[1:, ::2] on 4×6
    # the only errors on a fresh page are the two the lessons mean to show: view after t(), and A * B
    assert len(app.error) == 2 and "must match" in app.error[1].value

    # NumPy bridge: mutation shows which objects share memory
    click(app, "ch01_mutate")
    rows = {r["code"]: r for r in app.session_state["ch01_bridge"]}
    assert rows["torch.from_numpy(a)"]["changed"] and not rows["torch.tensor(a)"]["changed"]

    # timing runs in the background and its rows are adopted into the session
    click(app, "start_ch01_timing")
    finish_runs(app)
    timing = app.session_state["ch01_timing"]
    assert {r["device"] for r in timing} >= {"cpu"} and all(r["gflops"] > 0 for r in timing)

    # predict-then-run: commit a guess about view after t()
    app.radio(key="radio_ch01_view").set_value(translate("en", "ch01.view.guess_error")).run()
    click(app, "commit_ch01_view")
    assert any("correct" in s.value for s in app.success)


def test_bad_inputs_show_translated_errors_not_exceptions(app):
    open_page(app, PAGE)
    n_errors = len(app.error)
    app.text_input(key="ch01_index_expr").set_value("x.__class__").run()
    assert not app.exception
    assert any("`x.__class__`" in e.value and "Allowed" in e.value for e in app.error)
    app.text_input(key="ch01_index_expr").set_value("__import__('os').system('true')").run()
    assert not app.exception and any("`__import__('os').system('true')`" in e.value for e in app.error)
    app.text_input(key="ch01_shape").set_value("1000, 1000, 2").run()
    assert not app.exception and any("limit is 1000000" in e.value for e in app.error)
    app.text_input(key="ch01_bc_a").set_value("3, 2").set_value("3, 2").run()
    app.text_input(key="ch01_bc_b").set_value("4, 2").run()
    assert any("must match" in e.value for e in app.error)
    app.text_input(key="ch01_einsum").set_value("ik,kj->ij; import os").run()
    assert not app.exception and any("a–z" in e.value for e in app.error)
    assert len(app.error) > n_errors

    app.session_state["lang"] = "zh"
    app.run()
    assert not app.exception
    zh_errors = " ".join(e.value for e in app.error)
    assert "einsum 方程只能使用字母" in zh_errors and "必须一致" not in zh_errors
    assert translate("zh", "ch01.regression.title") in " ".join(h.value for h in app.header)
