"""Chapter 4 widget handlers, called directly."""
import gradio as gr

from core.i18n import translate
from widgets import ch04_loss_optim as w


def test_build_both_languages():
    for lang in ("en", "zh"):
        demo = w.build(lang)
        assert isinstance(demo, gr.Blocks) and len(demo.fns) >= 2


def test_race_streams_paths_as_they_go(monkeypatch):
    """Issue 15.10: partial paths (no frames) while racing, then the animated race."""
    real = w.lesson.race

    def slow(*args, emit=None, **kwargs):      # a slow machine: every snapshot is seen by the poller
        import time
        return real(*args, emit=lambda e: (emit(e), time.sleep(0.02)), **kwargs)
    monkeypatch.setattr(w.lesson, "race", slow)
    outputs = list(w.run_race("bowl", 0.025, 0.1, 200))
    live = [o for o in outputs[:-1] if o[1] is None]
    assert live and not live[0][0].frames and len(live[0][0].data) == 2 + 6
    assert len(live[0][0].data[2].x) < 201 and outputs[-1][0].frames


def test_compare_streams_and_ends_with_a_table():
    outputs = list(w.compare("cross_entropy", "adam", 3e-3, "mse", "sgd", 3e-3, "digits", 2))
    assert len(outputs) >= 2                                   # streamed, not one shot
    message, figure, table = outputs[-1]
    assert figure is not None and len(table) == 2
    assert set(table["optimizer"]) == {"adam", "sgd"} and set(table["loss"]) == {"cross_entropy", "mse"}
    assert table["val_acc"].iloc[0] >= table["val_acc"].iloc[1]   # best run first
    assert "loss, optimizer" in message                        # the differing settings are listed


def test_compare_flags_an_exploding_run_in_chinese():
    *_, (message, _, table) = w.compare("cross_entropy", "adam", 3e-3, "cross_entropy", "sgd", 100.0, "moons", 1, "zh")
    assert "发散" in table["end"].tolist() and "学习率太高" in message


def test_race_handler_reports_winner_divergence_and_bad_input():
    outputs = list(w.run_race("himmelblau", 0.005, 0.1, 60))
    race_fig, loss_fig, summary = outputs[-1]
    assert race_fig.frames and len(loss_fig.data) == 6 and "First within" in summary
    _, _, summary = list(w.run_race("rosenbrock", 10.0, 0.1, 50))[-1]
    assert "Diverged" in summary and "sgd" in summary
    none, _, message = list(w.run_race("rosenbrock", 0.001, 0.1, 999999, "zh"))[-1]
    assert none is None and message == translate("zh", "errors.range", name="steps", value=999999, low=1, high=2000)


def test_race_streams_paths_as_they_go(monkeypatch):
    """Issue 15.10: partial paths (no frames) while racing, then the animated race."""
    real = w.lesson.race

    def slow(*args, emit=None, **kwargs):      # a slow machine: every snapshot is seen by the poller
        import time
        return real(*args, emit=lambda e: (emit(e), time.sleep(0.02)), **kwargs)
    monkeypatch.setattr(w.lesson, "race", slow)
    outputs = list(w.run_race("bowl", 0.025, 0.1, 200))
    live = [o for o in outputs[:-1] if o[1] is None]
    assert live and not live[0][0].frames and len(live[0][0].data) == 2 + 6
    assert len(live[0][0].data[2].x) < 201 and outputs[-1][0].frames


def test_compare_streams_the_shared_status_line_on_the_detected_device(monkeypatch):
    seen, real = [], w.lesson.compare_practice

    def spy(*args, **kwargs):
        seen.append(kwargs["device"])
        return real(*args, **kwargs)
    monkeypatch.setattr(w.lesson, "compare_practice", spy)
    outputs = list(w.compare("cross_entropy", "adam", 3e-3, "mse", "sgd", 3e-3, "digits", 2, "zh"))
    assert seen == [w.detect().kind]
    running = [m for m, _, table in outputs if table is None]
    assert any(" · 第 " in m and "损失" in m for m in running), running     # "<run> · 第 1/2 轮 · … 损失 …"
