"""Chapter 1 Gradio widget: the regression handler against NumPy, errors as messages, both languages."""
import numpy as np
import plotly.graph_objects as go

from core.lessons import ch01_tensors as lesson
from widgets import ch01_tensors as w


def test_solve_returns_figure_table_and_script_matching_numpy():
    figure, table, script = w.solve(300, 2.0, -1.0, 0.5, 4, "float64")
    assert isinstance(figure, go.Figure) and len(figure.data) == 5        # data, true line, three fits
    X, y, _ = lesson.regression_data(300, 2.0, -1.0, 0.5, 4, "float64")
    ref = np.linalg.lstsq(X.numpy(), y.numpy(), rcond=None)[0]
    assert f"{ref[1]:.5f}" in table and f"{ref[0]:.5f}" in table
    assert "`X` has shape `(300, 2)`" in table
    assert "torch.linalg.lstsq(X, y[:, None])" in script and "manual_seed(4)" in script
    fitted = figure.data[2]                                                 # lstsq line at x = -3 and 3
    np.testing.assert_allclose(fitted.y, ref[0] + ref[1] * np.array([-3.0, 3.0]), atol=1e-8)


def test_solve_bad_input_is_a_translated_message():
    figure, message, script = w.solve(10**7, 1.0, 0.0, 1.0, 0, "float32", lang="zh")
    assert figure is None and script == "" and "n 必须在" in message
    _, message, _ = w.solve(1, 1.0, 0.0, 1.0, 0, "float32")
    assert "n must be between 2" in message


def test_build_in_both_languages_wires_the_button():
    for lang in ("en", "zh"):
        demo = w.build(lang)
        assert len(demo.fns) >= 2
