"""Chapter 6 page through the real router: every main button, the offline fallback, bad uploads."""
import io

from PIL import Image

from core import data as datasets
from core.i18n import translate
from core.lessons import ch06_data as lesson
from tests.conftest import click, finish_runs, open_page

PAGE = "pages/ch06_data.py"


def errors(at):
    return [e.value for e in at.error]


def test_page_sections_and_every_button(app):
    open_page(app, PAGE)
    assert not errors(app)
    # 6.1 inspector: the item shown is ds[index]
    app.number_input(key="ch06_index").set_value(7).run()
    y7 = int(datasets.load("digits").y[7])
    assert any("`ds[7]`" in m.value and f"**{y7}**" in m.value for m in app.markdown)
    # 6.1 streaming (no workers in tests: spawned workers are covered in test_ch06_data)
    app.slider(key="ch06_stream_workers").set_value(0).run()
    app.select_slider(key="ch06_stream_mb").set_value(8).run()   # big enough to dwarf other threads' noise
    click(app, "start_ch06_stream")
    runs = finish_runs(app)
    assert runs["ch06_stream"].status == "done"
    res = app.session_state["ch06_stream_result"]
    assert res["sharded"]["each_once"] and res["stream"]["peak_mb"] < res["read_all_peak_mb"]
    assert any(m.label == translate("en", "ch06.stream.peak") for m in app.metric)
    # 6.2 lab: sweep batch sizes (fast), bars and table drawn
    app.selectbox(key="ch06_lab_sweep").set_value("batch_size").run()
    click(app, "start_ch06_lab")
    runs = finish_runs(app)
    assert runs["ch06_lab"].status == "done"
    lab = app.session_state["ch06_lab_result"]
    assert [r["setting"] for r in lab] == [f"batch_size={b}" for b in lesson.SWEEPS["batch_size"]]
    assert all(r["samples"] == lesson.PRESETS["tiny"]["lab_items"] for r in lab)
    # 6.5 pipeline: trains and shows the batch, stats and accuracy
    click(app, "start_ch06_pipe")
    runs = finish_runs(app)
    assert runs["ch06_pipe"].status == "done"
    assert any(m.label == translate("en", "ch06.pipe.acc") for m in app.metric)
    assert app.session_state["ch06_pipe_result"].batch_shape[1:] == (3, 32, 32)
    # the pipeline's CNN is on the visitor's shelf with its classes and normalisation
    (item,) = app.session_state["_hero_shelf"].items("image-classifier")
    assert item.chapter == "ch06" and item.info["classes"] == list(app.session_state["ch06_pipe_result"].classes)
    assert item.info["mean"] == app.session_state["ch06_pipe_result"].mean and item.info["image_size"] == 32
    assert not app.exception and not errors(app)


def test_predict_then_run_on_workers(app):
    open_page(app, PAGE)
    app.radio(key="radio_ch06_workers").set_value(translate("en", "ch06.lab.guess_no")).run()
    click(app, "commit_ch06_workers")
    app.session_state["ch06_lab_result"] = [{"setting": "num_workers=0", "samples_per_s": 5000.0},
                                            {"setting": "num_workers=2", "samples_per_s": 900.0}]
    app.run()
    assert any("You predicted" in s.value for s in app.success)


def test_online_download_falls_back_offline(app, monkeypatch):
    def broken(root, train=True, download=False):
        raise OSError("no network")
    # torchvision's own dataset class fails (the lesson's _download stays, so the take-home
    # script of this section can still be generated from it)
    import torchvision.datasets
    monkeypatch.setattr(torchvision.datasets, "CIFAR10", broken)
    open_page(app, PAGE)
    app.radio(key="ch06_set").set_value("cifar10").run()
    notice = translate("en", "ch06.sets.offline_used", wanted="CIFAR10", used="scenes10")
    assert notice in [i.value for i in app.info]                 # not opted in: offline, said so
    app.checkbox(key="ch06_online").check().run()
    click(app, "start_ch06_download")
    finish_runs(app)
    fallback = translate("en", "ch06.sets.fallback", wanted="CIFAR10", used="scenes10", reason="OSError")
    assert fallback in [i.value for i in app.info]
    app.session_state["lang"] = "zh"
    app.run()
    assert translate("zh", "ch06.sets.fallback", wanted="CIFAR10", used="scenes10", reason="OSError") \
        in [i.value for i in app.info]


def upload(at, name, data):
    at.file_uploader(key="ch06_upload").set_value((name, data, "application/octet-stream")).run()
    assert not at.exception, [e.value for e in at.exception]


def test_transforms_upload_good_and_bad(app):
    open_page(app, PAGE)
    app.radio(key="ch06_photo").set_value("upload").run()
    buf = io.BytesIO()
    Image.new("RGB", (300, 200), (10, 200, 30)).save(buf, format="PNG")
    upload(app, "green.png", buf.getvalue())
    assert not errors(app)
    col = translate("en", "ch06.tf.col_mean")
    norm = next(d.value for d in app.dataframe if col in d.value.columns)
    assert abs(float(norm[col].iloc[1]) - 200 / 255) < 1e-3        # G mean of the uploaded image
    upload(app, "notes.txt", b"just text")
    assert translate("en", "errors.upload.not_image") in errors(app)
    upload(app, "huge.png", b"\0" * (11 * 2**20))
    assert any("MB" in e for e in errors(app))
    app.session_state["lang"] = "zh"
    app.run()
    assert translate("zh", "errors.upload.too_large", size_mb=11.0, limit_mb=10.0) in errors(app)


def test_procedural_scenes_are_shown_with_translated_class_names(app):
    open_page(app, PAGE)
    app.radio(key="ch06_set").set_value("scenes10").run()
    assert not app.exception
    app.session_state["lang"] = "zh"
    app.run()
    grid = next(c for c in app.get("plotly_chart") if c.key == "ch06_set_grid")
    spec = grid.proto.spec
    assert "日落" in spec and "气球" in spec and "night_sky" not in spec
    assert translate("zh", "ch06.scenes.sunset") == "日落"
