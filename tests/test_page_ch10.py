"""Chapter 10 page through the real router: every button pressed, runs finished, bad input translated."""
from core.i18n import translate
from tests.conftest import click, finish_runs, open_page

PAGE = "pages/ch10_transformer.py"


def errors(app) -> list[str]:
    return [e.value for e in app.error]


def markdown(app) -> str:
    return " ".join(m.value for m in app.markdown) + " ".join(c.value for c in app.caption)


def test_attention_shapes_cost_and_their_bad_input(app):
    open_page(app, PAGE)
    assert not errors(app)
    diffs = [d.value for d in app.dataframe if "max |difference|" in d.value.columns][0]
    assert len(diffs) == 4 and all(float(v) < 1e-6 for v in diffs["max |difference|"])
    app.selectbox(key="ch10_tw_heads").set_value(3).run()              # 3 heads do not divide width 16
    app.selectbox(key="ch10_nhead").set_value(3).run()                 # nor d_model 64
    assert sum("3 heads do not divide" in e for e in errors(app)) == 2
    click(app, "ch10_cost_run")
    assert any("max |difference|" in c.value for c in app.caption)
    app.text_input(key="ch10_sentence").set_value("  ").run()
    assert translate("en", "errors.ch10.empty_sentence") in errors(app)
    app.session_state["lang"] = "zh"                                   # last: AppTest keeps labels, not values
    app.run()
    assert not app.exception and translate("zh", "errors.ch10.empty_sentence") in errors(app)


def test_generation_cache_ablation_and_bad_prompts(app):
    open_page(app, PAGE)
    click(app, "ch10_gen_run")
    steps = [d.value for d in app.dataframe if "Chosen" in d.value.columns][0]
    assert len(steps) == app.slider(key="ch10_n_new").value and steps.iloc[:, -1].str.contains("▶").all()
    app.text_area(key="ch10_prompt").set_value("").run()
    click(app, "ch10_gen_run")
    assert translate("en", "errors.ch10.empty_prompt") in errors(app)
    app.text_area(key="ch10_prompt").set_value("naïve ☕ code").run()
    click(app, "ch10_gen_run")
    assert any("'ï'" in w.value and "'☕'" in w.value for w in app.warning)
    app.text_area(key="ch10_prompt").set_value("x" * 600).run()
    click(app, "ch10_gen_run")
    assert any("longer than the context" in i.value for i in app.info)
    click(app, "ch10_cache_run")
    assert any("tok/s" in str(m.value) for m in app.metric)
    click(app, "ch10_ablate_run")
    assert any("Loss without layer 0 head 0" in m.label for m in app.metric)


def test_training_runs_shelf_checkpoints_and_kept_model(app):
    open_page(app, PAGE)
    assert translate("en", "ch10.beyond.train_first") in [i.value for i in app.info]
    # one at a time, as a visitor would
    # before the lower section sees its click
    for key in ("start_ch10_gpt", "start_ch10_vit", "start_ch10_tr", "start_ch10_pos"):
        click(app, key)
        finish_runs(app, timeout=300)
    S = app.session_state
    assert S["ch10_gpt_result"].ok and S["ch10_vit_result"].ok and S["ch10_tr_result"].ok
    assert set(S["ch10_pos_result"]) == {"learned", "sinusoidal", "rope", "none"}
    kinds = {i.kind for i in S["_hero_shelf"].items()}
    assert {"char-gpt", "vit-digits"} <= kinds
    assert "Output:" in markdown(app) and any("Positions" in d.value.columns for d in app.dataframe)
    # the checkpoint scrubber redraws the maps for an earlier step
    app.select_slider(key="ch10_ckpt").set_value(0).run()
    assert not app.exception and any("previous-token score" in d.value.columns for d in app.dataframe)
    # a head count that does not divide the width: explained, no run, the trained model stays
    trained = S["ch10_gpt_result"]
    app.selectbox(key="ch10_g_heads").set_value(3).run()
    assert any("3 heads do not divide the width 16" in e for e in errors(app))
    assert app.button(key="start_ch10_gpt").disabled
    app.run()
    assert app.session_state["ch10_gpt_result"] is trained
    # a translation with an unknown word
    app.text_input(key="ch10_tr_input").set_value("three zzzq").run()
    assert not app.exception


def test_minilm_head_view(app):
    open_page(app, PAGE)
    app.toggle(key="ch10_minilm_on").set_value(True).run()
    assert not app.exception and not errors(app)
    app.text_input(key="ch10_minilm_text").set_value("   ").run()
    assert translate("en", "errors.ch10.empty_sentence") in errors(app)
