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
    assert any(n.startswith("baseline/events.out.tfevents") for n in names)
    assert any(n.startswith("tuned/events.out.tfevents") for n in names)


def test_tune_reports_bad_settings_translated():
    status, *_ = list(w.tune("digits", 0, 0.01, 2, "zh", finder_steps=20))[-1]
    assert "epochs" in status and "之间" in status
