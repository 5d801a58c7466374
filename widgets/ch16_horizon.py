"""Chapter 16 headline demo: an FGSM or PGD attack with budget ε on one validation digit against
the shipped digits CNN — the clean digit, the perturbation and the attacked digit side by side."""
from __future__ import annotations

import gradio as gr
import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from core import weights
from core.errors import HeroError
from core.lessons.ch16_horizon import adversarial as adv
from core.viz import style
from widgets.common import error_message, translator

_shipped: dict[str, object] = {}
N_DIGITS = 360


def _model():
    """The shipped 8×8 digits CNN, loaded once per process (attacks never change its weights)."""
    if "cnn" not in _shipped:
        _shipped["cnn"] = weights.load("ch05_digits_cnn").model.eval()
    return _shipped["cnn"]


def _figure(clean: np.ndarray, delta: np.ndarray, attacked: np.ndarray, title: str) -> go.Figure:
    fig = make_subplots(rows=1, cols=3, horizontal_spacing=0.03)
    bound = max(float(np.abs(delta).max()), 1e-6)
    for col, (img, scale, lo, hi) in enumerate(((clean, "gray_r", 0, 1), (delta, "RdBu_r", -bound, bound),
                                                (attacked, "gray_r", 0, 1)), start=1):
        fig.add_trace(go.Heatmap(z=img, colorscale=scale, zmin=lo, zmax=hi, showscale=False, hoverinfo="skip"),
                      row=1, col=col)
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False, autorange="reversed", scaleanchor="x")
    return style(fig, title, height=260)


def attack_digit(index: float, eps: float, method: str, lang: str = "en", pgd_steps: int = 10):
    """→ (status markdown, figure or None)."""
    t = translator(lang)
    try:
        adv.check_eps(eps)
        i = int(index)
        if not 0 <= i < N_DIGITS:
            raise HeroError("range", name=t("ch16.widget.index"), value=index, low=0, high=N_DIGITS - 1)
        model = _model()
        X, y, size = adv.flat_eval_set(model, i + 1)
        x, label = X[i:i + 1], y[i:i + 1]
        x_adv = adv.attack(model, x, label, float(eps), method, pgd_steps)
    except HeroError as err:
        return error_message(lang, err), None
    import torch
    with torch.no_grad():
        p_clean, p_adv = model(x).softmax(1)[0], model(x_adv).softmax(1)[0]
    status = t("ch16.widget.attacked", label=int(label), clean=int(p_clean.argmax()),
               conf_clean=f"{float(p_clean.max()):.0%}", adv=int(p_adv.argmax()), conf_adv=f"{float(p_adv.max()):.0%}",
               linf=f"{float((x_adv - x).abs().max()):.3f}")
    shape = (size, size)
    fig = _figure(x[0].reshape(shape).numpy(), (x_adv - x)[0].reshape(shape).numpy(), x_adv[0].reshape(shape).numpy(),
                  t("ch16.widget.figure"))
    return status, fig


def build(lang: str = "en") -> gr.Blocks:
    t = translator(lang)
    with gr.Blocks(title=t("chapters.ch16.title")) as demo:
        gr.Markdown(f"## {t('ch16.widget.title')}\n{t('ch16.widget.intro')}")
        with gr.Row():
            index = gr.Number(value=3, precision=0, label=t("ch16.widget.index"))
            eps = gr.Number(value=0.1, label=t("ch16.adv.eps"))
            method = gr.Radio([(t("ch16.adv.fgsm"), "fgsm"), (t("ch16.adv.pgd"), "pgd")], value="fgsm",
                              label=t("ch16.adv.method"))
        button = gr.Button(t("ch16.widget.run"), variant="primary")
        status = gr.Markdown()
        plot = gr.Plot(label=t("ch16.widget.figure"))
        lang_box = gr.State(lang)
        button.click(attack_digit, [index, eps, method, lang_box], [status, plot])
    return demo


if __name__ == "__main__":
    build().launch()
