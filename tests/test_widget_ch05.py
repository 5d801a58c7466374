"""Chapter 5 widget: training streams the shared status line, on the detected device."""
import numpy as np

from core.i18n import translate


def test_train_status_is_the_shared_run_status_and_uses_the_device(monkeypatch):
    from widgets import ch05_digits as w
    seen = []
    real = w.lesson.train_digits

    def spy(settings, stop=None, emit=None):
        seen.append(settings.device)
        return real(settings, stop, emit)
    monkeypatch.setattr(w.lesson, "train_digits", spy)
    outputs = list(w.train("digits", 2, {}, "zh"))
    assert seen == [w.detect().kind]
    progress = [o[0] for o in outputs[:-1]]
    # the shared line (widgets.common.run_status): "第 1/2 轮 · 第 s/t 步 · 损失 …"
    assert any(p.startswith("第 1/2 轮 · 第 ") and "损失" in p for p in progress), progress
    status, curves, matrix, state = outputs[-1]
    assert "digits" in state and translate("zh", "ch05.digits.source_trained") in status
    z = np.array(matrix.data[0].z)                      # the validation split's confusion matrix
    assert z.shape == (10, 10) and z.sum() == 359


def test_train_error_is_translated(monkeypatch):
    from core.errors import HeroError
    from widgets import ch05_digits as w

    def broken(settings, stop=None, emit=None):
        raise HeroError("range", name="epochs", value=0, low=1, high=40)
    monkeypatch.setattr(w.lesson, "train_digits", broken)
    status, curves, matrix, state = list(w.train("digits", 0, {}, "en"))[-1]
    assert status == translate("en", "errors.range", name="epochs", value=0, low=1, high=40)
    assert "digits" not in state


def test_bad_drawing_message_is_translated():
    from widgets import ch05_digits as w
    probs, figure, message = w.predict({"composite": np.zeros((4, 4, 3), np.uint8)}, "digits", {}, "en")
    assert probs == {} and message == translate("en", "errors.ch05.bad_drawing")


def test_baselines_table_and_explanation():
    from widgets import ch05_digits as w
    table = list(w.baselines("digits", "zh", mlp_iter=5))[-1]
    assert translate("zh", "ch05.digits.baseline_svc") in table and translate("zh", "ch05.digits.baseline_mlp") in table
    assert translate("zh", "ch05.digits.why_kernel") in table
