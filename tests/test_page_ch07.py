"""Chapter 7 page through the real router: every main button, and bad input as translated errors."""
import io
import struct
import zipfile
import zlib

from PIL import Image

from core.i18n import translate
from tests.conftest import click, finish_runs, open_page

PAGE = "pages/ch07_vision.py"


def errors(at):
    return [e.value for e in at.error]


def chart_keys(at):
    return {c.key for c in at.get("plotly_chart")} if hasattr(at, "get") else set()


def png(colour, size=(40, 30)):
    buf = io.BytesIO()
    Image.new("RGB", size, colour).save(buf, "PNG")
    return buf.getvalue()


def bomb_png(side=50_000):
    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
    comp = zlib.compressobj(9)
    idat = b"".join(comp.compress(b"\0" * (side // 8 + 1)) for _ in range(50)) + comp.flush()
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0))
            + chunk(b"IDAT", idat) + chunk(b"IEND", b""))


def make_zip(members):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, data in members.items():
            z.writestr(name, data)
    return buf.getvalue()


def test_convolution_receptive_field_and_feature_maps(app):
    open_page(app, PAGE)
    assert not errors(app)
    text = " ".join(m.value for m in app.markdown)
    assert "⌊(28 + 2·1 − 1·(3−1) − 1) / 1⌋ + 1 = 28" in text and "**28×28**" in text
    app.slider(key="ch07_s").set_value(2).run()
    app.slider(key="ch07_d").set_value(2).run()
    assert "⌊(28 + 2·1 − 2·(3−1) − 1) / 2⌋ + 1 = 13" in " ".join(m.value for m in app.markdown)
    assert "Conv2d(1, 1, kernel_size=(3, 3), stride=(2, 2), padding=(1, 1), dilation=(2, 2), bias=False)" in \
        [c.value for c in app.code]
    # receptive field of the default stack 3/1, 3/2, 3/1, 3/2: 1 + 2·1 + 2·1 + 2·2 + 2·2 = 13
    assert any("**13×13**" in m.value for m in app.markdown)
    app.text_input(key="ch07_stack").set_value("3/x").run()
    assert translate("en", "errors.ch07.bad_stack", part="3/x") in errors(app)
    app.text_input(key="ch07_stack").set_value("7/4, 7/4, 7/4").run()
    assert translate("en", "errors.ch07.stack_too_deep", layer=2, n=28) in errors(app)
    app.text_input(key="ch07_stack").set_value("5/1/2").run()
    assert not errors(app)
    # feature maps: choose the second conv layer
    app.selectbox(key="ch07_fm_layer").set_value(3).run()
    assert not app.exception


def test_zoo_transfer_and_imbalance_buttons(app):
    open_page(app, PAGE)
    click(app, "start_ch07_zoo")
    runs = finish_runs(app)
    assert runs["ch07_zoo"].status == "done"
    zoo = app.session_state["ch07_zoo"]
    assert [r["name"] for r in zoo] == ["lenet", "resnet18"] and all(r["flops"] > 0 for r in zoo)
    assert len(app.dataframe) >= 3   # rf table, summary, layer table
    # predict, then run: 5 images per class with the frozen backbone
    app.radio(key="radio_ch07_transfer").set_value(translate("en", "ch07.transfer.guess_pre")).run()
    click(app, "commit_ch07_transfer")
    app.select_slider(key="ch07_shots").set_value(5).run()
    click(app, "start_ch07_transfer")
    runs = finish_runs(app)
    assert runs["ch07_transfer"].status == "done"
    tr = app.session_state["ch07_transfer"]
    assert set(tr.final) == {"pretrained", "scratch"} and tr.backbone == "shapes"
    assert [i.info["classes"] for i in app.session_state["_hero_shelf"].items("image-classifier")] == \
        [[str(c) for c in range(10)]]
    assert {m.label for m in app.metric} >= {translate("en", "ch07.transfer.pretrained"),
                                             translate("en", "ch07.transfer.scratch")}
    verdicts = [s.value for s in app.success] + [w.value for w in app.warning]
    assert any("You predicted" in v for v in verdicts)
    click(app, "start_ch07_imb")
    runs = finish_runs(app)
    assert runs["ch07_imb"].status == "done"
    imb = app.session_state["ch07_imb"]
    assert set(imb["recall"]) == {"plain", "weighted", "resample"} and imb["counts"][5:].max() < imb["counts"][:5].min()


def test_finetune_classify_and_bad_uploads(app, monkeypatch):
    from core.data.photo_sets import PHOTO_CLASSES
    open_page(app, PAGE)
    from core.data.photo_sets import PHOTOS
    n_photos = sum(len(split) for pair in PHOTOS.values() for split in pair)
    assert any(f"{n_photos} real photographs" in m.value for m in app.markdown)   # the prose says what the set is
    click(app, "start_ch07_ft")
    runs = finish_runs(app)
    assert runs["ch07_ft"].status == "done"
    ft = app.session_state["ch07_ft"]
    assert ft.classes == PHOTO_CLASSES and len(ft.classes) >= 4 and ft.backbone == "shapes"
    # the fine-tuned classifier is on the shelf with its classes and image size, and downloads as safetensors
    (item,) = app.session_state["_hero_shelf"].items("image-classifier")
    assert item.info["classes"] == list(PHOTO_CLASSES) and item.info["image_size"] == 32
    assert item.info["backbone"] == "shapes"
    from core import shelf as core_shelf
    import io, zipfile
    names = zipfile.ZipFile(io.BytesIO(core_shelf.package(item))).namelist()
    assert any(n.endswith(".safetensors") for n in names) and any(n.endswith(".json") for n in names)
    ready = translate("en", "ch07.project.ready", classes=", ".join(PHOTO_CLASSES), acc=f"{ft.end['val_acc']:.1%}",
                      backbone=translate("en", "ch07.project.backbone_shapes"))
    assert ready in [s.value for s in app.success]
    assert "ch07_ft_per_class" in chart_keys(app) and "ch07_cam" in chart_keys(app)
    assert not errors(app)
    # ImageNet weights chosen but unreachable: the run falls back to the offline backbone and says so
    from core.lessons.ch07_vision import transfer
    monkeypatch.setattr(transfer, "imagenet_resnet18", lambda timeout=30.0, loader=None: (None, "URLError: offline"))
    app.checkbox(key="ch07_ft_imagenet").check().run()
    click(app, "start_ch07_ft")
    finish_runs(app)
    assert app.session_state["ch07_ft"].backbone == "shapes"
    assert translate("en", "ch07.transfer.fallback", why="URLError: offline") in [w.value for w in app.warning]
    # an uploaded image is classified; a decompression bomb is refused, translated
    app.file_uploader(key="ch07_photo").set_value(("red.png", png((220, 40, 40)), "image/png")).run()
    assert not errors(app) and not app.exception
    app.file_uploader(key="ch07_photo").set_value(("bomb.png", bomb_png(6000), "image/png")).run()
    assert translate("en", "errors.upload.too_many_pixels", width=6000, height=6000, limit=25000000) in errors(app)
    app.file_uploader(key="ch07_photo").set_value(("red.png", png((220, 40, 40)), "image/png")).run()
    assert not errors(app)
    # a malicious zip (path traversal) is refused on the upload path, in Chinese too
    app.radio(key="ch07_set").set_value("upload").run()
    evil = make_zip({"cats/a.png": png((0, 0, 0)), "../../etc/evil.png": png((1, 1, 1))})
    app.file_uploader(key="ch07_zip").set_value(("evil.zip", evil, "application/zip")).run()
    assert translate("en", "errors.upload.zip_unsafe_path", name="../../etc/evil.png") in errors(app)
    app.session_state["lang"] = "zh"
    app.run()
    assert translate("zh", "errors.upload.zip_unsafe_path", name="../../etc/evil.png") in errors(app)
    # a good zip trains a new model on the visitor's classes
    app.session_state["lang"] = "en"
    good = make_zip({f"{c}/{i}.png": png(rgb) for c, rgb in (("red", (230, 20, 20)), ("blue", (20, 20, 230)))
                     for i in range(3)})
    app.file_uploader(key="ch07_zip").set_value(("good.zip", good, "application/zip")).run()
    assert not errors(app)
    click(app, "start_ch07_ft")
    finish_runs(app)
    assert app.session_state["ch07_ft"].classes == ("blue", "red")
