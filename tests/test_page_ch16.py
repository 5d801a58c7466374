"""Chapter 16 page (16.1–16.4, 16.7) through the real router: every button pressed, runs finished,
results on the shelf, bad input translated (16.5/16.6 have their own test_page_ch16_compute.py)."""
from core.i18n import translate
from tests.conftest import click, finish_runs, open_page

PAGE = "pages/ch16_horizon.py"


def errors(app) -> list[str]:
    return [e.value for e in app.error]


def shelf_kinds(app) -> list[str]:
    return [item.kind for item in app.session_state["_hero_shelf"].items()]


def test_clip_trains_then_classifies_and_refuses_unknown_prompts(app):
    open_page(app, PAGE)
    assert not errors(app)
    assert translate("en", "ch16.clip.train_first") in [i.value for i in app.info]
    click(app, "start_ch16_clip")
    finish_runs(app)
    assert "clip-tiny" in shelf_kinds(app)
    assert any(m.label == translate("en", "ch16.clip.zs_acc") for m in app.metric)
    app.text_input(key="ch16_clip_query").set_value("banana split").run()
    wanted = translate("en", "errors.ch16.clip_no_words", prompt="banana split")
    assert wanted in errors(app)
    app.text_input(key="ch16_clip_query").set_value("the digit seven please").run()
    assert any("please" in w.value for w in app.warning) and not errors(app)
    app.session_state["lang"] = "zh"
    app.text_input(key="ch16_clip_query").set_value("香蕉").run()
    assert not app.exception and translate("zh", "errors.ch16.clip_no_words", prompt="香蕉") in errors(app)


def test_reinforce_trains_replays_and_shelves_the_policy(app):
    open_page(app, PAGE)
    click(app, "start_ch16_rl")
    finish_runs(app)
    assert "cartpole-policy" in shelf_kinds(app)
    charts = [c for c in app.get("plotly_chart")]
    assert len(charts) >= 3      # reward curve, before, after (and other sections' figures)


def test_attacks_curve_adversarial_training_and_bad_eps(app):
    open_page(app, PAGE)
    assert not errors(app)
    click(app, "start_ch16_curve")
    click(app, "start_ch16_advtrain")
    finish_runs(app, timeout=300)
    assert any(translate("en", "ch16.adv.col_clean") in d.value.columns for d in app.dataframe)
    assert shelf_kinds(app).count("digits-classifier") == 1
    app.number_input(key="ch16_adv_eps").set_value(1.5).run()
    assert translate("en", "errors.range", name="ε", value=1.5, low=0.0, high=1.0) in errors(app)
    app.number_input(key="ch16_adv_train_eps").set_value(-0.1).run()
    assert app.button(key="start_ch16_advtrain").disabled


def test_fairness_parity_button_closes_the_selection_gap(app):
    open_page(app, PAGE)
    gap = lambda: [m.value for m in app.metric if m.label == translate("en", "ch16.fair.dp_gap")][0]  # noqa: E731
    before = float(gap().rstrip("%"))
    click(app, "ch16_fair_parity")
    assert not app.toggle(key="ch16_shared").value
    assert float(gap().rstrip("%")) < min(before, 1.0)
