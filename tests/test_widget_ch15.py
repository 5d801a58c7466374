"""Chapter 15 widget: Captum on the shipped digit CNN, built and called in-process, errors translated."""
import plotly.graph_objects as go

from core.i18n import translate


def test_widget_builds_and_explains_a_digit():
    import gradio as gr
    from widgets import ch15_ecosystem as w
    assert isinstance(w.build("zh"), gr.Blocks)
    figure, text = w.explain(4, "auto", 16, "en")
    assert isinstance(figure, go.Figure) and len(figure.data) == 4     # the digit + three methods
    assert text.startswith("Integrated Gradients") and "delta" in text
    figure, text = w.explain(4, "7", 16, "zh")
    assert "7" in figure.layout.title.text and "积分梯度" in text


def test_widget_bad_index_is_translated():
    from widgets import ch15_ecosystem as w
    figure, text = w.explain(999, "auto", 16, "en")
    assert figure is None
    assert text == translate("en", "errors.range", name="index", value=999, low=0, high=358)
