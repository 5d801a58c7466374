"""Chapter 5 headline demo: train a digit classifier live, then draw a digit and see its prediction."""
from __future__ import annotations

import gradio as gr
import numpy as np
import torch

from core import data as datasets
from core import viz, weights
from core.errors import HeroError
from core.device import detect
from core.lessons import ch05_training as lesson
from widgets.common import error_message, run_status, stream_job, translator


def predict(drawing, dataset: str, state: dict | None, lang: str = "en"):
    """Sketchpad value → ({class: probability}, preprocessed image figure)."""
    t = translator(lang)
    image = drawing.get("composite") if isinstance(drawing, dict) else drawing
    if image is None:
        return {}, None, t("ch05.digits.empty_canvas")
    size = datasets.load(dataset).image_shape[0]
    try:
        pixels = lesson.preprocess_drawing(np.asarray(image), size)
    except HeroError as err:
        return {}, None, error_message(lang, err)
    if pixels is None:
        return {}, None, t("ch05.digits.empty_canvas")
    model = _model_for(dataset, state)
    probs = lesson.predict_proba(model, torch.from_numpy(pixels)[None])[0]
    figure = viz.image_grid(pixels.reshape(1, size, size), [t("ch05.digits.model_sees")], cols=1)
    message = t("ch05.digits.prediction", digit=int(probs.argmax()), p=f"{probs.max():.0%}")
    return {str(i): float(p) for i, p in enumerate(probs)}, figure, message


_shipped: dict[str, torch.nn.Module] = {}


def _model_for(dataset: str, state: dict | None) -> torch.nn.Module:
    """The visitor's own trained model if any, else the shipped one (loaded once, never trained)."""
    if state and dataset in state:
        return state[dataset]
    if dataset not in _shipped:
        _shipped[dataset] = weights.load(lesson.DIGIT_CHECKPOINTS[dataset]).model
    return _shipped[dataset]


def confusion_figure(model: torch.nn.Module, dataset: str, lang: str = "en"):
    """The validation-split confusion matrix of ``model`` (the same split every digits run holds out)."""
    t = translator(lang)
    conf = lesson.digits_confusion(model, dataset)
    return viz.confusion_heatmap(conf["matrix"], [str(i) for i in range(10)],
                                 t("ch05.digits.confusion", acc=f"{conf['accuracy']:.1%}"),
                                 x_label=t("ch05.eval.predicted"), y_label=t("ch05.eval.true"))


def train(dataset: str, epochs: int, state: dict | None, lang: str = "en"):
    """Generator: stream (status, curves figure, confusion figure, state) while a model trains on
    this machine's device; the confusion matrix comes with the finished model."""
    t = translator(lang)
    state = dict(state or {})
    settings = lesson.digits_settings(dataset, int(epochs), device=detect().kind)
    for events, result, error in stream_job(lambda stop, emit: lesson.train_digits(settings, stop, emit)):
        evals = [e for e in events if e["kind"] == "eval"]
        figure = viz.curves({dataset: evals}, ["val_loss", "val_acc"]) if evals else None
        done, matrix = "", None
        if result is not None:
            if result.ok:
                state[dataset] = result.model
                matrix = confusion_figure(result.model, dataset, lang)
            done = t("ch05.digits.using", source=t("ch05.digits.source_trained"),
                     acc=f"{result.end.get('val_acc', float('nan')):.1%}")
        yield run_status(lang, events, result, error, done_text=done), figure, matrix, state
        if error is not None or result is not None:
            return


def baselines(dataset: str, lang: str = "en", mlp_iter: int = 200):
    """Generator: the scikit-learn baselines on the same split (status line, then a table)."""
    t = translator(lang)
    for events, result, error in stream_job(lambda stop, emit: lesson.train_baselines(dataset, mlp_iter=mlp_iter,
                                                                                       stop_event=stop, emit=emit)):
        if result is None and error is None:
            yield run_status(lang, events)
            continue
        if error is not None:
            yield error_message(lang, error)
            return
        rows = [f"| {t('ch05.digits.model')} | {t('ch05.eval.accuracy')} | {t('ch05.digits.seconds')} |", "|---|---|---|"]
        rows += [f"| {t(f'ch05.digits.baseline_{n}')} | {b['val_acc']:.1%} | {b['seconds']:.2f} |" for n, b in result.items()]
        yield "\n".join(rows) + "\n\n" + t("ch05.digits.why_kernel")
        return


def build(lang: str = "en") -> gr.Blocks:
    t = translator(lang)
    with gr.Blocks(title=t("chapters.ch05.title")) as demo:
        gr.Markdown(f"## {t('ch05.digits.title')}\n{t('ch05.digits.intro')}")
        state = gr.State({})
        with gr.Row():
            dataset = gr.Radio(["digits", "mnist5k"], value="digits", label=t("ch05.digits.dataset"))
            epochs = gr.Slider(1, 40, value=lesson.PRESETS["default"]["digits_epochs"], step=1,
                               label=t("ch05.model.epochs"))
            train_button = gr.Button(t("ch05.digits.train"), variant="primary")
            baseline_button = gr.Button(t("ch05.digits.baselines"))
        status = gr.Markdown()
        with gr.Row():
            curves = gr.Plot(label=t("ch05.train.loss"))
            matrix = gr.Plot(label=t("ch05.eval.title"))
        baseline_table = gr.Markdown()
        with gr.Row():
            pad = gr.Sketchpad(label=t("ch05.digits.draw"), type="numpy", canvas_size=(280, 280),
                               brush=gr.Brush(default_size=18, colors=["#000000"], color_mode="fixed"))
            with gr.Column():
                label = gr.Label(num_top_classes=3, label=t("ch05.eval.predicted"))
                seen = gr.Plot(label=t("ch05.digits.model_sees"))
                message = gr.Markdown()
        lang_box = gr.State(lang)
        train_button.click(train, [dataset, epochs, state, lang_box], [status, curves, matrix, state])
        baseline_button.click(baselines, [dataset, lang_box], [baseline_table])
        pad.change(predict, [pad, dataset, state, lang_box], [label, seen, message])
    return demo


if __name__ == "__main__":
    build().launch()
