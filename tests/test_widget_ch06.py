"""Chapter 6 widget: the pipeline handler streams, then returns a batch grid, stats and curves."""
import gradio as gr
import numpy as np

from core.i18n import translate
from core.lessons import ch06_data as lesson
from widgets import ch06_data as w


def test_widget_builds_in_both_languages():
    for lang in ("en", "zh"):
        demo = w.build(lang)
        assert isinstance(demo, gr.Blocks) and demo.fns


def test_pipeline_handler_streams_and_finishes():
    outputs = list(w.run(False, 200, 1))
    assert len(outputs) >= 2 and outputs[0][0] == translate("en", "ch06.pipe.loading")   # streamed, not one shot
    status, grid, stats, curves = outputs[-1]
    assert status.startswith("Done: validation accuracy") and grid is not None and curves is not None
    images, _ = lesson.offline_scenes(200)
    mean, std = lesson.channel_stats(images[40:])                # stats of the training split only
    np.testing.assert_allclose(stats["mean"], np.round(mean, 4), atol=1e-4)
    np.testing.assert_allclose(stats["std"], np.round(std, 4), atol=1e-4)
    assert list(stats["channel"]) == ["R", "G", "B"]


def test_online_failure_falls_back_with_translated_notice(monkeypatch):
    def broken(name, root):
        raise ConnectionError("offline")
    from core.lessons.ch06_data import torchvision_sets
    monkeypatch.setattr(torchvision_sets, "_download", broken)
    status, grid, stats, _ = list(w.run(True, 200, 1, "zh"))[-1]
    assert translate("zh", "ch06.sets.fallback", wanted="CIFAR10", used="scenes10", reason="ConnectionError") in status
    assert "完成" in status and grid is not None and len(stats) == 3


def test_settings_are_capped():
    s = w.settings_for(False, 10**9, 99)
    assert s.n_images == 5000 and s.epochs == 5 and s.source == "scenes10"
