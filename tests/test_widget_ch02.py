"""Chapter 2 widget handlers called directly: finite differences vs autograd, gradcheck verdicts."""
import math

import numpy as np
import plotly.graph_objects as go

from widgets import ch02_autograd as w


def test_compare_reports_autograd_fd_sweep_and_gradcheck():
    summary, figure, verdict = w.compare("x*y + sin(x)", 1.0, 2.0, "x")
    assert f"{2 + math.cos(1.0):.9f}"[:9] in summary and "float32" in summary and "float64" in summary
    curves = {d.name: d for d in figure.data if d.name}          # (unnamed traces: the ε^(1/3) guide lines)
    assert isinstance(figure, go.Figure) and list(curves) == ["float32", "float64"]
    assert len(curves["float32"].x) == w.EPS_POINTS and figure.layout.xaxis.type == "log"
    err64 = np.asarray(curves["float64"].y)
    assert err64.min() < 1e-9 < err64[0]            # float64 central differences reach ~1e-10 at best
    assert verdict.startswith("✅") and "f = x*y + sin(x)" in verdict
    _, _, dy_verdict = w.compare("x*y + sin(x)", 1.0, 2.0, "y")
    assert dy_verdict.startswith("✅")


def test_compare_shows_translated_errors_for_bad_input():
    summary, figure, verdict = w.compare("__import__('os').system('x')", 1.0, 2.0, "x")
    assert figure is None and "not allowed" in summary and verdict == ""
    summary_zh, _, _ = w.compare("log(x)", -1.0, 2.0, "x", "zh")
    assert "请换一个点" in summary_zh


def test_gradcheck_on_custom_function_catches_the_wrong_backward():
    assert w.check_custom("none").startswith("✅")
    wrong = w.check_custom("wrong_derivative")
    assert wrong.startswith("❌") and "Jacobian mismatch" in wrong
    assert "未通过" in w.check_custom("forgot_grad_output", "zh")
    assert "wrong_derivative" in w.check_custom("bogus")           # the translated "pick one of" error
