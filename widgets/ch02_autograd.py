"""Chapter 2 headline demo: autograd vs finite differences (error vs eps) and gradcheck, run for real."""
from __future__ import annotations

import gradio as gr

from core.errors import HeroError
from core.lessons import ch02_autograd as lesson
from widgets.common import error_message, translator

EPS_POINTS = 29   # the sweep 1e-1 … 1e-15 at half-decade steps


def compare(text: str, x: float, y: float, wrt: str, lang: str = "en"):
    """(expression, point, variable) → (summary markdown, error-vs-eps figure, gradcheck markdown)."""
    t = translator(lang)
    try:
        sweep = lesson.eps_sweep(text, float(x), float(y), wrt, EPS_POINTS)
        check = lesson.gradcheck_expression(text, float(x), float(y))
    except HeroError as err:
        return f"**{error_message(lang, err)}**", None, ""
    rows = [f"| dtype | {t('ch02.check.best_eps')} | {t('ch02.check.theory_eps')} | {t('ch02.check.min_error')} |",
            "|---|---|---|---|"]
    rows += [f"| {name} | {sweep[name]['best_eps']:.0e} | {sweep[name]['theory_eps']:.0e} | "
             f"{sweep[name]['error'].min():.1e} |" for name in ("float32", "float64")]
    summary = f"{t('ch02.check.autograd', wrt=wrt)}: **{sweep['exact']:.10g}**\n\n" + "\n".join(rows)
    figure = lesson.eps_figure(sweep, t("ch02.check.plot_title", wrt=wrt), t("ch02.check.eps"), t("ch02.check.error"))
    return summary, figure, _verdict(t, f"f = {lesson.parse(text).text}", check)


def check_custom(mistake: str, lang: str = "en") -> str:
    """gradcheck on the hand-written ``MySin`` with the chosen mistake (or none)."""
    t = translator(lang)
    try:
        result = lesson.gradcheck_custom(mistake)
    except HeroError as err:
        return f"**{error_message(lang, err)}**"
    return _verdict(t, f"MySin ({t(f'ch02.check.mistake_{mistake}')})", result)


def _verdict(t, name: str, result: dict) -> str:
    if result["passed"]:
        return f"✅ {t('ch02.check.passed', name=name)}"
    return f"❌ {t('ch02.check.failed', name=name)}\n\n```\n{result['message']}\n```"


def build(lang: str = "en") -> gr.Blocks:
    t = translator(lang)
    with gr.Blocks(title=t("chapters.ch02.title")) as demo:
        gr.Markdown(f"## {t('ch02.check.title')}\n{t('ch02.check.intro')}")
        lang_box = gr.State(lang)
        with gr.Row():
            text = gr.Textbox(lesson.EXAMPLES[0], label=t("ch02.why.expression"), max_length=lesson.MAX_LENGTH,
                              info=t("ch02.why.allowed", allowed=lesson.ALLOWED), scale=3)
            x = gr.Number(1.0, label="x", minimum=-10, maximum=10)
            y = gr.Number(2.0, label="y", minimum=-10, maximum=10)
            wrt = gr.Radio(list(lesson.VARIABLES), value="x", label=t("ch02.check.wrt"))
        run = gr.Button(t("ch02.check.compare"), variant="primary")
        with gr.Row():
            plot = gr.Plot(label=t("ch02.check.error"))
            with gr.Column():
                summary = gr.Markdown()
                verdict = gr.Markdown()
        gr.Markdown(t("ch02.check.explain"))
        with gr.Row():
            mistake = gr.Radio([(t(f"ch02.check.mistake_{m}"), m) for m in lesson.MISTAKES], value="wrong_derivative", label=t("ch02.check.mistake"))
            check = gr.Button(t("ch02.check.button"))
        custom = gr.Markdown()
        run.click(compare, [text, x, y, wrt, lang_box], [summary, plot, verdict])
        text.submit(compare, [text, x, y, wrt, lang_box], [summary, plot, verdict])
        check.click(check_custom, [mistake, lang_box], custom)
        demo.load(compare, [text, x, y, wrt, lang_box], [summary, plot, verdict])
    return demo


if __name__ == "__main__":
    build().launch()
