"""Chapter 5 page through the real router: every main button, and every kind of bad input."""
import io
import os

import torch

from core import nets
from core.i18n import translate
from tests.conftest import click, finish_runs, open_page

PAGE = "pages/ch05_training_loop.py"


def errors(at):
    return [e.value for e in at.error]


def train_toy(at):
    click(at, "start_ch05_toy")
    runs = finish_runs(at)
    assert runs["ch05_toy"].status == "done"
    return runs["ch05_toy"]


def test_train_step_mode_eval_pin_and_compare(app):
    open_page(app, PAGE)
    assert not errors(app)
    run = train_toy(app)
    result = app.session_state["ch05_result"]
    assert result is run.result and result.ok
    shelved = app.session_state["_hero_shelf"].items("mlp-toy")
    assert len(shelved) == 1 and shelved[0].info == {"task": "moons", "in_features": 2, "classes": 2}
    assert shelved[0].metric == f"val_acc {result.end['val_acc']:.1%}"
    assert any(m.label == translate("en", "ch05.eval.accuracy") for m in app.metric)
    # step mode walks the five lines
    for _ in range(4):
        click(app, "ch05_step_next")
    assert app.session_state["ch05_stage"] == 4
    assert any(c.value == "optimizer.step()" for c in app.code)
    # compare runs: pin, train a different setting, pin, overlay
    click(app, "ch05_pin")
    app.select_slider(key="ch05_lr").set_value(0.3).run()
    train_toy(app)
    click(app, "ch05_pin")
    assert len(app.session_state["ch05_pins"]) == 2
    assert any(s.value == translate("en", "compare.title") for s in app.subheader)
    click(app, "ch05_unpin")
    assert app.session_state["ch05_pins"] == []


def test_predict_then_run(app):
    open_page(app, PAGE)
    app.radio(key="radio_ch05_acc").set_value(translate("en", "ch05.train.guess_high")).run()
    click(app, "commit_ch05_acc")
    assert app.session_state["guess_ch05_acc"] == translate("en", "ch05.train.guess_high")
    train_toy(app)
    verdicts = [s.value for s in app.success] + [w.value for w in app.warning]
    assert any("You predicted" in v for v in verdicts)


def test_nan_learning_rate_keeps_previous_model(app):
    open_page(app, PAGE)
    train_toy(app)
    good = app.session_state["ch05_result"]
    app.select_slider(key="ch05_lr").set_value(10000.0).run()
    app.selectbox(key="ch05_opt").set_value("sgd").run()
    app.slider(key="ch05_epochs").set_value(20).run()
    click(app, "start_ch05_toy")
    runs = finish_runs(app)
    assert runs["ch05_toy"].end["reason"] == "nan"
    assert app.session_state["ch05_result"] is good
    assert translate("en", "runner.nan") in errors(app)
    assert any(translate("en", "runner.kept_previous") == i.value for i in app.info)


def test_train_twice_is_refused_while_running(app):
    open_page(app, PAGE)
    app.slider(key="ch05_epochs").set_value(200).run()
    app.slider(key="ch05_points").set_value(2000).run()
    click(app, "start_ch05_toy")
    first = app.session_state["_hero_runs"]["ch05_toy"]
    click(app, "start_ch05_toy")
    assert app.session_state["_hero_runs"]["ch05_toy"] is first
    assert translate("en", "runner.already_running") in [w.value for w in app.warning]
    # switching page mid-run: the run keeps going and its result is there on return
    open_page(app, "pages/preface.py")
    assert first.active or first.status == "done"
    first.stop()   # the Stop button lives in the polling fragment, which AppTest does not tick
    open_page(app, PAGE)
    finish_runs(app)
    assert first.status == "stopped"
    assert app.session_state["ch05_result"] is first.result      # a stopped run still leaves its model


def upload(at, name, data):
    at.file_uploader(key="ch05_upload").set_value((name, data, "application/octet-stream")).run()
    assert not at.exception, [e.value for e in at.exception]


def test_save_load_round_trip_and_bad_files(app):
    open_page(app, PAGE)
    train_toy(app)
    blob = next(b for b in app.get("download_button") if b.proto.label == translate("en", "ch05.save.download"))
    from core.lessons import ch05_training as lesson
    model = app.session_state["ch05_result"].model
    good = lesson.export_checkpoint(model)
    upload(app, "model.safetensors", good)
    assert any(m.label == translate("en", "ch05.save.max_diff") and m.value == "0.00e+00" for m in app.metric)
    assert blob is not None
    # the download is the shelf's package (safetensors + JSON config): it loads back the same model
    from core import shelf as core_shelf
    package = core_shelf.package(app.session_state["_hero_shelf"].items("mlp-toy")[-1])
    upload(app, "ch05_moons_mlp.zip", package)
    assert [m.value for m in app.metric if m.label == translate("en", "ch05.save.max_diff")] == ["0.00e+00"]

    class Exploit:
        def __reduce__(self):
            return (os.system, ("echo pwned > /tmp/hero_ch05_pwned",))
    buf = io.BytesIO()
    torch.save({"w": Exploit()}, buf)
    upload(app, "evil.pt", buf.getvalue())
    assert translate("en", "errors.weights.unsafe_pickle") in errors(app)
    assert not os.path.exists("/tmp/hero_ch05_pwned")

    upload(app, "notes.txt", b"just some text")
    assert translate("en", "errors.weights.not_safetensors") in errors(app)

    other = lesson.export_checkpoint(nets.build("mlp", {"in_features": 2, "hidden": (3,), "out_features": 2}))
    upload(app, "other.safetensors", other)
    assert any(e.startswith(translate("en", "errors.weights.wrong_arch", detail="")) for e in errors(app))

    upload(app, "huge.safetensors", b"\0" * (21 * 2**20))
    assert any("MB" in e for e in errors(app))
    assert app.session_state["ch05_result"].model is model           # nothing the visitor made was lost


def test_digits_cached_model_train_and_empty_canvas(app):
    open_page(app, PAGE)
    digit_models = app.session_state["ch05_digit_models"]
    assert digit_models["digits"]["source"] == "shipped" and digit_models["digits"]["acc"] >= 0.97
    assert translate("en", "ch05.digits.empty_canvas") in [i.value for i in app.info]
    click(app, "start_ch05_digits_digits")
    runs = finish_runs(app)
    assert runs["ch05_digits_digits"].status == "done"
    assert app.session_state["ch05_digit_models"]["digits"]["source"] == "trained"
    # the trained model is on the visitor's shelf, as a digits classifier for later chapters
    item = app.session_state["_hero_shelf"].items("digits-classifier")[-1]
    assert item.chapter == "ch05" and item.info == {"image_size": 8, "dataset": "digits"}
    assert item.model is not runs["ch05_digits_digits"].result.model                  # a private copy
    x = torch.rand(3, 1, 8, 8)
    torch.testing.assert_close(item.model(x), runs["ch05_digits_digits"].result.model(x))
    app.radio(key="ch05_ds").set_value("mnist5k").run()
    assert not app.exception
    assert app.session_state["ch05_digit_models"]["mnist5k"]["source"] == "shipped"


def test_chinese_page_has_no_english_leftovers(app):
    app.session_state["lang"] = "zh"
    open_page(app, PAGE)
    headers = [h.value for h in app.header]
    assert "5.1 数据准备" in headers and all("Data" != h for h in headers)


def test_step_mode_new_batch_draws_a_new_seeded_model_and_batch(app):
    """Issue 15.4: each press gives a new model and batch, from a seed shown on the page."""
    open_page(app, PAGE)
    first, loss0 = list(app.session_state["ch05_step_batch"]), app.session_state["ch05_stages"][1]["loss"]
    click(app, "ch05_step_next")
    click(app, "ch05_step_new")
    assert app.number_input(key="ch05_step_seed").value == 1 and app.session_state["ch05_stage"] == 0
    second = list(app.session_state["ch05_step_batch"])
    click(app, "ch05_step_new")
    assert app.number_input(key="ch05_step_seed").value == 2
    assert len({tuple(first), tuple(second), tuple(app.session_state["ch05_step_batch"])}) == 3
    app.number_input(key="ch05_step_seed").set_value(0).run()               # back to seed 0: the same walk
    assert app.session_state["ch05_step_batch"] == first
    assert app.session_state["ch05_stages"][1]["loss"] == loss0


def test_digits_baselines_and_confusion_matrix(app):
    open_page(app, PAGE)
    charts = [c.key for c in app.get("plotly_chart")]
    assert "ch05_digit_cm" in charts                         # the model in use, on the validation split
    click(app, "start_ch05_baselines_digits")
    runs = finish_runs(app)
    assert runs["ch05_baselines_digits"].status == "done"
    table = next(d.value for d in app.dataframe if translate("en", "ch05.digits.model") in d.value.columns)
    names = list(table[translate("en", "ch05.digits.model")])
    assert translate("en", "ch05.digits.baseline_svc") in names and translate("en", "ch05.digits.baseline_mlp") in names
    assert any(translate("en", "ch05.digits.why_kernel")[:40] in m.value for m in app.markdown)
