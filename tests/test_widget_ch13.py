"""Chapter 13 widget: export gives a real .onnx that matches eager; the race streams and returns a table."""
import numpy as np
import torch

from core import export, weights
from widgets import ch13_deployment as w


def test_build_does_not_launch():
    demo = w.build("zh")
    assert demo is not None


def test_export_writes_an_onnx_file_that_matches_eager():
    torch.set_num_threads(1)
    status, figure, path = w.export_model("digits8", "en", eval_n=32, repeats=2)
    assert "max |ONNX Runtime − eager|" in status and figure is not None
    data = open(path, "rb").read()
    export.check_onnx(data)
    model = weights.load("ch05_digits_cnn").model.eval()
    x = torch.rand(5, 1, 8, 8)
    with torch.no_grad():
        ref = model(x).numpy()
    assert np.abs(export.ort_predict(export.ort_session(data), x.numpy()) - ref).max() <= 1e-5


def test_compare_streams_then_gives_every_runtime():
    outputs = list(w.compare("digits8", "zh", batches=(1, 4), repeats=2, eval_n=32))
    assert len(outputs) >= 2
    status, figure, table = outputs[-1]
    assert "比赛完成" in status and figure is not None
    assert set(table[table.columns[0]]) == {"eager", "torch.export", "onnxruntime", "onnxruntime-int8", "torch-int8"}


def test_unknown_model_is_a_translated_message():
    status, figure, path = w.export_model("nope", "en")
    assert "Unknown model" in status and path is None
