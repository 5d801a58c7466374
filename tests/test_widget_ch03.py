"""Chapter 3 widget: its handlers called directly, outputs checked against the real model."""
import gradio as gr
import torch

from core import nets
from widgets import ch03_nn as w


def test_build_mlp_shows_tree_summary_and_forward():
    tree, table, message, figure = w.build_mlp("digits", 2, 32, "tanh", 0.2)
    model = nets.build("mlp", {"in_features": 64, "hidden": (32, 32), "out_features": 10, "activation": "tanh",
                               "dropout": 0.2})
    assert tree == str(model)
    assert table["params"].sum() == sum(p.numel() for p in model.parameters())
    assert list(table["output"])[-1] == "[4, 10]"
    assert f"{sum(p.numel() for p in model.parameters()):,}" in message and "[256, 10]" in message
    assert figure is not None
    _, table28, message28, _ = w.build_mlp("mnist5k", 0, 8, "relu", 0.0, "zh")
    assert table28["params"].sum() == 784 * 10 + 10 and "参数" in message28


def test_bad_settings_give_a_translated_message():
    tree, table, message, figure = w.build_mlp("digits", 9, 32, "relu", 0.0)
    assert tree == "" and table is None and "0–6" in message
    assert "0–6" in list(w.train("digits", 9, 32, "relu", 0.0, 1))[-1][0]


def test_train_streams_and_reports_accuracy():
    torch.set_num_threads(1)
    outputs = list(w.train("digits", 1, 32, "relu", 0.0, 2))
    status, figure, kept = outputs[-1]
    assert len(outputs) >= 2 and figure is not None
    assert "Validation accuracy" in status
    accuracy = float(status.splitlines()[0].split(":")[-1].strip(" .%")) / 100
    assert accuracy > 0.5


def test_widget_builds_in_both_languages():
    for lang in ("en", "zh"):
        demo = w.build(lang)
        assert isinstance(demo, gr.Blocks) and len(demo.fns) >= 3


def test_train_progress_is_the_shared_status_line_on_the_detected_device(monkeypatch):
    from core.i18n import translate
    seen, real = [], w.lesson.train_mlp

    def spy(settings, stop=None, emit=None):
        seen.append(settings.device)
        return real(settings, stop, emit)
    monkeypatch.setattr(w.lesson, "train_mlp", spy)
    outputs = list(w.train("digits", 1, 32, "relu", 0.0, 2, "zh"))
    assert seen == [w.detect().kind]
    running = [status for status, _, _ in outputs[:-1]]
    assert all(s.startswith("第 ") and "损失" in s or s == translate("zh", "runner.running", seconds="0")
               for s in running), running
    assert outputs[-1][0].startswith(translate("zh", "ch03.mlp.val_acc", acc="")[:4])


def test_runs_are_kept_and_overlaid_for_comparison():
    """Issue 15.7: a second run's curves are drawn over the first (same split and seed)."""
    torch.set_num_threads(1)
    *_, (status, figure, kept) = w.train("digits", 1, 16, "relu", 0.0, 1)
    *_, (status, figure, kept) = w.train("digits", 1, 16, "tanh", 0.0, 1, "en", kept)
    assert [k["name"].split()[0] for k in kept] == ["#1", "#2"] and "2" in status
    names = {trace.name for trace in figure.data}
    assert any("relu" in n for n in names) and any("tanh" in n for n in names)
    again = list(w.train("digits", 1, 16, "relu", 0.0, 1))[-1][2]
    assert again[0]["history"] == kept[0]["history"]          # same seed, same curve
