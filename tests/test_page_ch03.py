"""Chapter 3 page through the real router: every main button, results drawn, bad shapes explained."""
import torch

from core.i18n import translate
from tests.conftest import click, finish_runs, open_page

PAGE = "pages/ch03_nn.py"


def texts(app) -> str:
    return " ".join([m.value for m in app.markdown] + [c.value for c in app.caption] + [c.value for c in app.code])


def summary_table(app):
    """The container summary: the first table with summary columns (the MLP's comes later)."""
    return next(d.value for d in app.dataframe if {"type", "output", "params"} <= set(d.value.columns))


def test_page_renders_every_section(app):
    open_page(app, PAGE)
    headers = " ".join(h.value for h in app.header)
    for key in ("module", "layers", "containers", "init", "params", "mlp"):
        assert translate("en", f"ch03.{key}.title") in headers
    metrics = {m.label: m.value for m in app.metric}
    assert metrics[translate("en", "ch03.layers.out_shape")] == "[1, 8, 26, 26]"     # default Conv2d(1, 8, 3)
    assert metrics[translate("en", "ch03.layers.n_params")] == "80"
    assert not app.error
    assert len(app.get("plotly_chart")) >= 8


def test_quiz_answers_from_the_real_layers(app):
    open_page(app, PAGE)
    app.radio(key="radio_ch03_q_linear").set_value("2080").run()
    click(app, "commit_ch03_q_linear")
    click(app, "ch03_quiz_run")
    assert any("2080" in s.value and "correct" in s.value for s in app.success)


def test_bad_shape_shows_translated_error(app):
    open_page(app, PAGE)
    app.selectbox(key="ch03_layer").set_value("Linear").run()
    app.number_input(key="ch03_hp_Linear_in_features").set_value(64).run()
    app.text_input(key="ch03_shape_Linear").set_value("1, 28").run()
    assert not app.exception
    errors = [e.value for e in app.error]
    assert any("in_features=64" in e and "28" in e for e in errors), errors
    assert any("mat1 and mat2" in c.value for c in app.code)          # PyTorch's own words shown too
    app.text_input(key="ch03_shape_Linear").set_value("one, two").run()
    assert any("whole numbers" in e.value for e in app.error)
    app.session_state["lang"] = "zh"
    app.run()
    assert any("整数" in e.value for e in app.error)


def test_every_layer_renders(app):
    open_page(app, PAGE)
    from core.lessons.ch03_nn import LAYERS
    for name in LAYERS:
        app.selectbox(key="ch03_layer").set_value(name).run()
        assert not app.exception, name
        assert not app.error, (name, [e.value for e in app.error])


def test_container_builder_buttons_and_shape_error(app):
    open_page(app, PAGE)
    click(app, "ch03_add")                                  # default block: Linear(32) at the end
    rows = summary_table(app)
    assert list(rows["type"])[-1] == "Linear" and list(rows["output"])[-1] == "[4, 32]"
    click(app, "ch03_pop")
    for kind in ("ModuleList", "ModuleDict"):
        app.radio(key="ch03_container").set_value(kind).run()
        assert kind in " ".join(c.value for c in app.code)
    app.selectbox(key="ch03_block").set_value("Conv2d").run()
    click(app, "ch03_add")                                  # Conv2d after Linear: a 2-D input
    assert any("Conv2d" in e.value and "2-D" in e.value for e in app.error)
    click(app, "ch03_reset")
    assert not app.error


def test_mlp_trains_and_is_adopted(app):
    open_page(app, PAGE)
    assert translate("en", "ch03.mlp.untrained") in texts(app)
    click(app, "start_ch03_mlp")
    finish_runs(app)
    result = app.session_state["ch03_mlp_result"]
    assert result.ok
    # the trained MLP is on the visitor's shelf, a private CPU copy that gives the same logits
    item = app.session_state["_hero_shelf"].items("mlp-digits")[-1]
    assert item.chapter == "ch03" and item.info == {"image_size": 8, "dataset": "digits"}
    assert item.metric == f"val_acc {result.end['val_acc']:.1%}" and item.model is not result.model
    x = torch.rand(4, 64)
    torch.testing.assert_close(item.model(x), result.model.eval()(x))
    assert any(translate("en", "ch03.mlp.val_acc", acc="")[:10] in s.value for s in app.success)
    assert translate("en", "ch03.mlp.trained") in texts(app)


def test_page_in_chinese(app):
    open_page(app, PAGE)
    app.session_state["lang"] = "zh"
    app.run()
    assert not app.exception
    assert translate("zh", "ch03.mlp.title") in " ".join(h.value for h in app.header)


def test_mlp_runs_pinned_and_overlaid_with_a_script_that_trains_both(app):
    """Issue 15.7: keep runs, overlay their curves; same data and seed, so only the setting differs."""
    from ui.layout import SERVED_SCRIPTS
    open_page(app, PAGE)
    click(app, "start_ch03_mlp")
    finish_runs(app)
    click(app, "ch03_mlp_pin")
    app.selectbox(key="ch03_mlp_act").set_value("tanh").run()
    click(app, "start_ch03_mlp")
    finish_runs(app)
    click(app, "ch03_mlp_pin")
    pins = app.session_state["ch03_mlp_pins"]
    assert [p["settings"]["activation"] for p in pins] == ["relu", "tanh"]
    assert {p["settings"]["seed"] for p in pins} == {0} and pins[0]["history"] != pins[1]["history"]
    assert any(s.value == translate("en", "compare.title") for s in app.subheader)
    script = SERVED_SCRIPTS["ch03_mlp.py"]
    assert "runs = [MLPSettings(" in script and "activation='relu'" in script and "activation='tanh'" in script
