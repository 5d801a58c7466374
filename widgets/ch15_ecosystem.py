"""Chapter 15 headline demo: Captum explains the shipped ch05 digit CNN (Saliency, Integrated Gradients,
Occlusion) on any validation digit, with the Integrated Gradients completeness check."""
from __future__ import annotations

import gradio as gr

from core import weights
from core.errors import HeroError
from core.lessons.ch15_ecosystem import attributions as attr
from core.lessons.ch15_ecosystem import figures as fig
from widgets.common import error_message, translator

_model: dict = {}


def _shipped():
    """The shipped 8×8 CNN, loaded once (attributions never train it)."""
    if "m" not in _model:
        _model["m"] = weights.load("ch05_digits_cnn").model.eval()
    return _model["m"]


def explain(index: float, target: str, steps: float, lang: str = "en"):
    """(attribution figure, markdown with prediction and the completeness check); errors translated."""
    t = translator(lang)
    try:
        s = attr.DigitAttrSettings(index=int(index), target=-1 if target in ("", "auto", None) else int(target),
                                   ig_steps=int(steps))
        out = attr.explain_validation_digit(_shipped(), s)
    except (HeroError, ValueError) as err:
        return None, error_message(lang, err if isinstance(err, HeroError) else HeroError("range", name="index",
                                                                                     value=index, low=0, high=358))
    titles = {"image": t("ch15.captum.digit", label=out["label"]), **{m: t(f"ch15.captum.{m}") for m in attr.METHODS}}
    figure = fig.attribution_maps(out, titles, t("ch15.captum.chart", target=out["target"],
                                                 p=f"{out['probs'][out['target']]:.0%}"))
    text = t("ch15.widget.result", ig_sum=f"{out['ig_sum']:.4f}", gap=f"{out['output_gap']:.4f}",
             delta=f"{out['ig_delta']:.1e}")
    return figure, text


def build(lang: str = "en") -> gr.Blocks:
    t = translator(lang)
    with gr.Blocks(title=t("chapters.ch15.title")) as demo:
        gr.Markdown(f"## {t('ch15.captum.title')}\n{t('ch15.widget.intro')}\n\n{t('ch15.captum.insights')}")
        with gr.Row():
            index = gr.Slider(0, 358, value=0, step=1, label=t("ch15.captum.index"))
            target = gr.Dropdown(["auto", *map(str, range(10))], value="auto", label=t("ch15.widget.target"))
            steps = gr.Slider(4, 128, value=32, step=4, label=t("ch15.captum.steps"))
        button = gr.Button(t("ch15.widget.explain"), variant="primary")
        plot = gr.Plot()
        result = gr.Markdown()
        button.click(lambda i, c, s: explain(i, c, s, lang), [index, target, steps], [plot, result])
    return demo


if __name__ == "__main__":
    build().launch()
