"""Chapter 2 page through the real router: every main button, bad input as translated errors."""
import re

from core.i18n import translate
from tests.conftest import click, open_page

PAGE = "pages/ch02_autograd.py"


def frame_with(app, column: str):
    """The first dataframe having ``column`` (AppTest does not expose dataframe keys)."""
    return next(d.value for d in app.dataframe if column in d.value.columns)


def shows_error(app, code: str, lang: str = "en") -> bool:
    """An error element carries the translated message of errors.ch02.<code> (params filled in)."""
    pieces = [p for p in re.split(r"\{\w+\}", translate(lang, f"errors.ch02.{code}")) if p.strip()]
    return any(all(p in e.value for p in pieces) for e in app.error)


def test_page_renders_every_section_and_buttons(app):
    open_page(app, PAGE)
    keys = {c.proto.id for c in app.get("plotly_chart")}
    assert len(keys) >= 3     # descent, graph, requires-graph, eps plot
    # the graph table lists the real grad_fn chain of the default expression x*y + sin(x)
    graph = frame_with(app, translate("en", "ch02.graph.source"))
    assert sorted(graph["grad_fn"]) == sorted(["AddBackward0", "MulBackward0", "SinBackward0",
                                               "AccumulateGrad", "AccumulateGrad"])
    assert not app.error

    click(app, "ch02_backward")
    table = frame_with(app, translate("en", "ch02.backward.plain"))
    non_leaf = table[table["is_leaf"] == False]  # noqa: E712
    assert (non_leaf.iloc[:, 2] == "None").all() and (non_leaf.iloc[:, 3] != "None").all()

    app.slider(key="ch02_calls").set_value(3).run()
    click(app, "ch02_accumulate")
    assert list(frame_with(app, "call")["call"]) == [1, 2, 3]
    grads = [r["x.grad"] for r in app.session_state["ch02_acc"]["rows"]]
    assert grads == [grads[0], 2 * grads[0], 3 * grads[0]] and grads[0] != 0

    app.radio(key="ch02_mistake").set_value("wrong_derivative").run()
    click(app, "ch02_gradcheck")
    assert any("passed" in s.value for s in app.success)           # the typed expression passes
    assert any("FAILED" in e.value for e in app.error)             # the wrong backward is caught


def test_predict_then_run_reveals_the_doubling(app):
    open_page(app, PAGE)
    app.radio(key="radio_ch02_accum").set_value(translate("en", "ch02.accum.opt_double")).run()
    click(app, "commit_ch02_accum")
    click(app, "ch02_accumulate")
    assert any(translate("en", "ch02.accum.opt_double") in s.value for s in app.success)


def test_malicious_and_bad_expressions_show_translated_errors(app):
    open_page(app, PAGE)
    for bad, code in (("__import__('os').system('x')", "not_allowed"), ("x.__class__", "not_allowed"),
                      ("open('f')", "bad_function"), ("x +", "syntax"), ("(" * 40 + "x" + ")" * 40, "too_deep")):
        app.text_input(key="ch02_expr").set_value(bad).run()
        assert not app.exception, bad
        assert shows_error(app, code), (bad, [e.value for e in app.error])
        # the rest of the page keeps working on the last valid expression
        assert "AccumulateGrad" in list(frame_with(app, translate("en", "ch02.graph.source"))["grad_fn"])
    app.session_state["lang"] = "zh"
    app.run()
    assert not app.exception and shows_error(app, "too_deep", "zh")


def test_non_finite_point_and_no_graph_are_errors_not_exceptions(app):
    open_page(app, PAGE)
    app.text_input(key="ch02_expr").set_value("log(x - 5)").run()
    assert not app.exception and shows_error(app, "not_finite")
    app.text_input(key="ch02_expr").set_value("x*y").run()
    app.checkbox(key="ch02_req_x").uncheck().run()
    app.checkbox(key="ch02_req_y").uncheck().run()
    assert not app.exception
    assert shows_error(app, "no_graph")


def test_descent_at_two_learning_rates_is_overlaid(app):
    """Issue 15.7: pin a walk, change the learning rate, pin again: both paths on one contour,
    their f-per-step curves overlaid, and the take-home script runs both learning rates."""
    open_page(app, PAGE)
    app.radio(key="ch02_surface").set_value("bowl").run()
    click(app, "ch02_descent_pin")
    app.select_slider(key="ch02_lr").set_value(0.01).run()
    click(app, "ch02_descent_pin")
    app.run()      # the pin lands below the contour: the next run draws it there
    pins = app.session_state["ch02_descent_pins"]
    assert [p["settings"]["lr"] for p in pins] == [0.1, 0.01]
    assert any(s.value == translate("en", "compare.title") for s in app.subheader)
    fig = next(c for c in app.get("plotly_chart") if '"#1 lr=0.1"' in c.proto.spec)      # the contour, overlaid
    assert '"#2 lr=0.01"' in fig.proto.spec and '"lr=0.01"' in fig.proto.spec
    # the two walks really differ: the larger rate gets closer to the minimum in the same steps
    f_end = {p["settings"]["lr"]: p["history"][-1]["f"] for p in pins}
    assert f_end[0.1] < f_end[0.01]
    from ui.layout import SERVED_SCRIPTS
    assert "for lr in [0.01, 0.1]:" in SERVED_SCRIPTS["ch02_gradient_descent.py"]
