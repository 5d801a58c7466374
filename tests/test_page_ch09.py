"""Chapter 9 page through the real router (tiny preset): every main button, results rendered, errors translated."""
from core.i18n import translate
from core.lessons import ch09_tricks as lesson
from tests.conftest import click, finish_runs, open_page

PAGE = "pages/ch09_tricks.py"


def texts(app) -> str:
    return " ".join(str(e.value) for kind in ("markdown", "caption", "info", "error", "metric", "code")
                    for e in getattr(app, kind))


def shown_code(app) -> str:
    return " ".join(str(e.value) for e in app.code)


def test_page_trains_and_renders_every_section(app):
    open_page(app, PAGE)
    # background runs: overfitting lab, clipping, tuning (started together, adopted after)
    app.multiselect(key="ch09_variants").set_value(["none", "dropout"]).run()
    click(app, "start_ch09_overfit")
    click(app, "start_ch09_clip")
    click(app, "start_ch09_tune")
    finish_runs(app, timeout=240)
    lab = app.session_state["ch09_overfit"]
    assert set(lab) == {"none", "dropout"} and all(r["history"] for r in lab.values())
    frames = [d.value for d in app.dataframe]
    assert any("gap" in f.columns and len(f) == 2 for f in frames)          # the gap table
    clip = app.session_state["ch09_clip"]["runs"]
    assert clip["clip"]["steps"] and clip["no_clip"]["steps"]
    tuned = app.session_state["ch09_tune"]
    assert {r["run"] for r in tuned["table"]} == {"baseline", "tuned"}
    assert any("optimizer" in f.columns and "val_acc" in f.columns for f in frames)   # the tuning table
    # the tuned CNN is on the shelf, and the compare picker offers it beside the shipped one
    mine = app.session_state["_hero_shelf"].items("digits-classifier")
    assert [i.info for i in mine] == [{"image_size": 8}] and mine[0].chapter == "ch09"
    picker = app.selectbox(key="ch09_tune_pick")
    assert len(picker.options) == 2 and "validation accuracy" in texts(app)
    picker.set_value(picker.options[1]).run()
    assert not app.exception and "ch09 tuned CNN" in texts(app)
    # the debugging section's picker: hooks on every layer of the model the visitor trained
    app.selectbox(key="ch09_hooks_pick").set_value(picker.options[1]).run()
    click(app, "ch09_hooks_model_run")
    name, rows = app.session_state["ch09_hooks_model"]
    assert "ch09 tuned CNN" in name and [r["kind"] for r in rows][:1] == ["Conv2d"] and rows[-1]["kind"] == "Linear"
    # synchronous demos
    click(app, "ch09_lr_run")
    assert app.session_state["ch09_lr"]["steepest"] > 0
    click(app, "ch09_tb_run")
    tb = app.session_state["ch09_tb"]
    assert tb["graph"] and "epoch/val_acc" in tb["scalars"]
    assert tb["graph_nodes"] and "ch09_tb_graph" in [e.key for e in app.get("plotly_chart")]   # drawn
    assert translate("en", "ch09.tb.graph_caption").split("}")[1][:20] in texts(app)
    assert "unzip ch09_tensorboard.zip\ntensorboard --logdir ch09_tensorboard" in shown_code(app)
    assert app.selectbox(key="ch09_tb_tag").value.startswith(("grads/", "weights/"))
    click(app, "ch09_hooks_run")
    assert len(app.session_state["ch09_hooks"]["bad"]["stats"]) == 4
    click(app, "ch09_repro_run")
    assert app.session_state["ch09_repro"]["same_seed_identical"]
    app.selectbox(key="ch09_bug").set_value("shuffled_labels").run()
    click(app, "ch09_clinic_run")
    assert app.session_state["ch09_clinic"][0] == "shuffled_labels"
    shown = texts(app)
    for key in ("ch09.repro.deterministic", "ch09.bugs.shuffled_labels.diagnosis", "ch09.tb.command"):
        assert translate("en", key)[:30] in shown, key
    assert "--- buggy_shuffled_labels.py" in shown
    assert not app.exception


def test_clinic_answer_comes_from_the_runs_and_the_device_bug_is_a_device_error(app):
    open_page(app, PAGE)
    app.radio(key="radio_ch09_bug").set_value(translate("en", "ch09.bugs.shuffled_labels.label")).run()
    click(app, "commit_ch09_bug")
    app.selectbox(key="ch09_bug").set_value("wrong_device").run()
    click(app, "ch09_clinic_run")
    assert any("meta is not on the expected device cpu" in e.value for e in app.error)   # not a dtype error
    assert not app.warning and not app.success            # no answer before every script has run
    click(app, "start_ch09_clinic_all")
    finish_runs(app, timeout=120)
    runs = app.session_state["ch09_clinic_runs"]
    assert set(runs) == set(lesson.BUGS)
    answer = lesson.measured_answer(runs)
    expected = ", ".join(translate("en", f"ch09.bugs.{b}.label") for b in answer) or translate("en", "ch09.clinic.none")
    said = " ".join(e.value for e in [*app.warning, *app.success])
    assert f"**{expected}**" in said or (answer == ["shuffled_labels"] and "correct" in said)
    assert any("memorises" in d.value.columns and len(d.value) == len(lesson.BUGS) for d in app.dataframe)


def test_tune_the_ch08_model_lands_on_the_shelf(app):
    open_page(app, PAGE)
    app.radio(key="ch09_tune_model").set_value("ch08_sentiment").run()
    app.radio(key="ch09_tune_src").set_value("en").run()
    click(app, "start_ch09_tune")
    finish_runs(app, timeout=180)
    tuned = app.session_state["ch09_tune"]
    assert tuned["model"] == "ch08_sentiment" and tuned["runs"]["tuned"]["differs"]["grad_clip"] == 1.0
    mine = app.session_state["_hero_shelf"].items("sentiment")
    assert [i.chapter for i in mine] == ["ch09"] and mine[0].info["vocab"] == tuned["info"]["vocab"]
    # the visitor's tuned GRU is offered as the next start
    assert len(app.selectbox(key="ch09_tune_start_ch08_sentiment").options) == 2
    assert "tensorboard --logdir ch09_tuning_tensorboard" in shown_code(app)
    assert not app.exception


def test_bad_input_shows_translated_errors(app):
    open_page(app, PAGE)
    app.session_state["lang"] = "zh"
    app.run()
    # start LR above end LR → a translated error element, not an exception
    app.select_slider(key="ch09_lr_min").set_value(1.0)
    app.select_slider(key="ch09_lr_max").set_value(1e-3).run()
    click(app, "ch09_lr_run")
    assert any("起始学习率" in e.value for e in app.error)
    # a script with a float64 input: the real RuntimeError is caught and explained
    app.selectbox(key="ch09_bug").set_value("wrong_dtype").run()
    click(app, "ch09_clinic_run")
    assert any("dtype" in e.value and "PyTorch 的原话" in e.value for e in app.error)
    assert not app.exception
