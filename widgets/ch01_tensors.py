"""Chapter 1 headline demo (实战): linear-regression data as tensors, solved with torch.linalg.lstsq."""
from __future__ import annotations

import gradio as gr

from core.errors import HeroError
from core.lessons import ch01_tensors as lesson
from widgets.common import error_message, translator


def solve(n: float, slope: float, intercept: float, noise: float, seed: float, dtype: str, lang: str = "en"):
    """Sliders → (figure, markdown comparing lstsq / normal equations / NumPy, runnable script)."""
    t = translator(lang)
    try:
        X, y, w_true = lesson.regression_data(int(n), float(slope), float(intercept), float(noise), int(seed), dtype)
    except HeroError as err:
        return None, error_message(lang, err), ""
    fits = lesson.solve_regression(X, y)
    figure = lesson.regression_figure(X, y, w_true, fits, {"data": t("ch01.regression.data"),
                                                           "true": t("ch01.regression.true")})
    lines = [t("ch01.regression.shapes", X=tuple(X.shape), y=tuple(y.shape)), "",
             "| | w0 (b) | w1 (slope) | MSE | \\|Δ numpy\\| |", "|---|---|---|---|---|",
             f"| true | {float(w_true[0]):.5f} | {float(w_true[1]):.5f} | | |"]
    lines += [f"| {name} | {f['w'][0]:.5f} | {f['w'][1]:.5f} | {f['mse']:.5f} | {f['diff_vs_numpy']:.1e} |"
              for name, f in fits.items()]
    lines += ["", t("ch01.regression.compare")]
    script = lesson.regression_script(int(n), float(slope), float(intercept), float(noise), int(seed), dtype)
    return figure, "\n".join(lines), script


def build(lang: str = "en") -> gr.Blocks:
    t = translator(lang)
    with gr.Blocks(title=t("chapters.ch01.title")) as demo:
        gr.Markdown(f"## {t('ch01.regression.title')}\n{t('ch01.regression.intro')}")
        with gr.Row():
            n = gr.Slider(10, 5000, value=200, step=10, label=t("ch01.regression.n"))
            noise = gr.Slider(0.0, 5.0, value=1.0, step=0.1, label=t("ch01.regression.noise"))
            slope = gr.Slider(-5.0, 5.0, value=2.0, step=0.1, label=t("ch01.regression.slope"))
            intercept = gr.Slider(-5.0, 5.0, value=-1.0, step=0.1, label=t("ch01.regression.intercept"))
        with gr.Row():
            seed = gr.Number(0, precision=0, minimum=0, maximum=10_000, label="seed")
            dtype = gr.Radio(["float32", "float64"], value="float32", label="dtype")
            button = gr.Button(t("ch01.regression.button"), variant="primary")
        with gr.Row():
            plot = gr.Plot()
            table = gr.Markdown()
        code = gr.Code(language="python", label=t("common.code_that_ran"))
        lang_box = gr.State(lang)
        inputs = [n, slope, intercept, noise, seed, dtype, lang_box]
        button.click(solve, inputs, [plot, table, code])
        demo.load(solve, inputs, [plot, table, code])
    return demo


if __name__ == "__main__":
    build().launch()
