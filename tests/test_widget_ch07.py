"""Chapter 7 widget: its handlers called directly (fine-tune stream, classify, bad uploads)."""
import io
import zipfile

import numpy as np
from PIL import Image

from core.i18n import translate
from widgets import ch07_vision as w


def png_file(tmp_path, name, colour, size=(48, 36)):
    path = tmp_path / name
    Image.new("RGB", size, colour).save(path, "PNG")
    return str(path)


def test_finetune_streams_then_classifies_with_grad_cam(tmp_path):
    from core.data.photo_sets import PHOTO_CLASSES
    outputs = list(w.train("builtin", None, 2, "some", False, {}))
    status, curves, state = outputs[-1]
    assert len(outputs) >= 2 and curves is not None                  # streamed
    assert state["classes"] == PHOTO_CLASSES and "model" in state
    assert status.startswith("Fine-tuned the offline shapes-pretrained tiny ResNet on cat, person")
    label, cam, sal, message = w.classify(png_file(tmp_path, "x.png", (30, 120, 30)), state)
    assert len(label) == 3 and set(label) <= set(PHOTO_CLASSES) and sum(label.values()) <= 1 + 1e-5
    heat = np.asarray(cam.data[1].z)
    assert heat.shape == (128, 128) and np.isfinite(heat).all() and 0 <= heat.min() and heat.max() <= 1
    assert sal is not None and "**" in message


def test_classify_before_training_and_bad_files(tmp_path):
    empty = w.classify(png_file(tmp_path, "x.png", (0, 0, 0)), {}, "zh")
    assert empty[0] == {} and empty[3] == translate("zh", "errors.ch07.no_model")
    bad = tmp_path / "not.png"
    bad.write_bytes(b"definitely not an image")
    _, _, state = list(w.train("builtin", None, 1, "all", False, {}))[-1]
    result = w.classify(str(bad), state)
    assert result[0] == {} and result[3] == translate("en", "errors.upload.not_image")


def test_uploaded_zip_traversal_refused_and_good_zip_trains(tmp_path):
    def zipped(members):
        path = tmp_path / f"{len(members)}.zip"
        with zipfile.ZipFile(path, "w") as z:
            for name, colour in members.items():
                buf = io.BytesIO()
                Image.new("RGB", (20, 20), colour).save(buf, "PNG")
                z.writestr(name, buf.getvalue())
        return str(path)
    evil = zipped({"a/1.png": (0, 0, 0), "../x/2.png": (9, 9, 9)})
    missing = list(w.train("upload", None, 1, "some", False, {}, "zh"))
    assert missing[-1][0] == translate("zh", "errors.upload.zip_classes", found=0, needed=2, per_class=2)
    refused = list(w.train("upload", evil, 1, "some", False, {}))
    assert refused[-1][0] == translate("en", "errors.upload.zip_unsafe_path", name="../x/2.png")
    assert refused[-1][2] == {}
    colours = (("red", (230, 10, 10)), ("blue", (10, 10, 230)))
    good = zipped({f"{c}/{i}.png": rgb for c, rgb in colours for i in range(3)})
    status, figure, state = list(w.train("upload", good, 2, "none", False, {}))[-1]
    assert state["classes"] == ("blue", "red")


def test_imagenet_choice_falls_back_with_a_translated_note(monkeypatch):
    from core.lessons.ch07_vision import transfer
    monkeypatch.setattr(transfer, "imagenet_resnet18", lambda timeout=30.0, loader=None: (None, "URLError: offline"))
    status, _, state = list(w.train("builtin", None, 1, "all", True, {}, "zh"))[-1]
    assert translate("zh", "ch07.transfer.fallback", why="URLError: offline") in status and "model" in state
