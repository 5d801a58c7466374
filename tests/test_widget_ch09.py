"""Chapter 9 widget: the tuning generator streams, then returns figures, a table and the TensorBoard zip."""
import zipfile

import torch

from widgets import ch09_tricks as w


def test_tune_streams_and_returns_results():
    torch.set_num_threads(1)
    outputs = list(w.tune("digits", 2, 0.01, 2, "en", finder_steps=20))
    assert len(outputs) > 2                                  # streamed, not one shot
    status, finder, curves, table, archive = outputs[-1]
    assert "baseline" in status and finder is not None and curves is not None
    assert list(table["run"]) == ["baseline", "tuned"] and table["val_acc"].between(0, 1).all()
    names = zipfile.ZipFile(archive).namelist()
    assert any(n.startswith(f"{w.FOLDER}/baseline/events.out.tfevents") for n in names)
    assert any(n.startswith(f"{w.FOLDER}/tuned/events.out.tfevents") for n in names)


def test_tune_the_ch08_model_and_open_the_zip_with_the_command(tmp_path):
    torch.set_num_threads(1)
    *_, (status, finder, curves, table, archive) = w.tune("digits", 1, 0.01, 2, "en", finder_steps=10,
                                                          model="ch08_sentiment", reviews=300)
    assert list(table["grad_clip"]) == [0.0, 1.0]
    zipfile.ZipFile(archive).extractall(tmp_path)
    runs = w.lesson.read_logdir(tmp_path / w.lesson.tensorboard_command(w.FOLDER).split("--logdir ")[1])
    assert set(runs) == {"baseline", "tuned"} and runs["tuned"]["graph"]


def test_tune_reports_bad_settings_translated():
    status, *_ = list(w.tune("digits", 0, 0.01, 2, "zh", finder_steps=20))[-1]
    assert "epochs" in status and "之间" in status
