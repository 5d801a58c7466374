"""Chapter 3 headline demo: build an MLP (depth, width, activation, dropout), see its tree, run and train it."""
from __future__ import annotations

import gradio as gr
import pandas as pd
import torch

from core import data as datasets
from core import viz
from core.device import detect
from core.errors import HeroError
from core.lessons import ch03_nn as lesson
from widgets.common import error_message, run_status, stream_job, translator

ACTIVATIONS = ["relu", "tanh", "sigmoid", "gelu", "leaky_relu"]


def _settings(dataset, depth, width, activation, dropout, epochs=8) -> lesson.MLPSettings:
    return lesson.MLPSettings(dataset=dataset, depth=int(depth), width=int(width), activation=activation,
                              dropout=float(dropout), epochs=int(epochs), device=detect().kind)


def build_mlp(dataset: str, depth: int, width: int, activation: str, dropout: float, lang: str = "en"):
    """Settings → (module tree, summary table, message with parameter count and forward result, probs figure)."""
    t = translator(lang)
    try:
        model = lesson.build_mlp(_settings(dataset, depth, width, activation, dropout))
    except HeroError as err:
        return "", None, error_message(lang, err), None
    ds = datasets.load(dataset)
    summary = lesson.summarize(model, torch.tensor(ds.X[:4]))
    table = pd.DataFrame([{**r, "output": str(list(r["output"]))} for r in summary["rows"]])
    forward = lesson.mlp_forward(model, dataset)
    message = t("ch03.mlp.forward", total=f"{summary['total']:,}", inp=list(forward["input_shape"]),
                out=list(forward["output_shape"]), acc=f"{forward['accuracy']:.0%}", which=t("ch03.mlp.untrained"))
    figure = viz.probability_bars(forward["probs"], ds.classes, t("ch03.mlp.probs", label=forward["label"]))
    return summary["tree"], table, message, figure


def train(dataset: str, depth: int, width: int, activation: str, dropout: float, epochs: int, lang: str = "en",
          kept: list | None = None):
    """Generator: stream (status, curves figure, kept runs) while the MLP trains with core.train.fit.

    ``kept``: earlier finished runs ({"name", "history"}), overlaid on this run's curves (compare
    runs: same split, same seed); a finished run joins them."""
    t = translator(lang)
    kept = list(kept or [])
    try:
        settings = _settings(dataset, depth, width, activation, dropout, epochs)
        lesson.build_mlp(settings)             # refuse bad settings before starting a thread
    except HeroError as err:
        yield error_message(lang, err), None, kept
        return
    name = f"#{len(kept) + 1} {dataset} {depth}×{width} {activation} dropout={dropout}"
    for events, result, error in stream_job(lambda stop, emit: lesson.train_mlp(settings, stop, emit)):
        evals = [e for e in events if e["kind"] == "eval"]
        runs = {k["name"]: k["history"] for k in kept}
        figure = viz.curves({**runs, name: evals}, ["val_loss", "val_acc"]) if evals else None
        done = ""
        if result is not None:
            if result.ok:
                kept = kept + [{"name": name, "history": result.history}]
            done = (t("ch03.mlp.val_acc", acc=f"{result.end.get('val_acc', float('nan')):.1%}") + "  \n" +
                    t("ch03.mlp.kept", n=len(kept)))
        yield run_status(lang, events, result, error, done_text=done), figure, kept
        if error is not None or result is not None:
            return


def build(lang: str = "en") -> gr.Blocks:
    t = translator(lang)
    with gr.Blocks(title=t("chapters.ch03.title")) as demo:
        gr.Markdown(f"## {t('ch03.mlp.title')}\n{t('ch03.mlp.intro')}")
        lang_box = gr.State(lang)
        with gr.Row():
            dataset = gr.Radio(["digits", "mnist5k"], value="digits", label=t("ch03.data.dataset"))
            depth = gr.Slider(0, 6, value=2, step=1, label=t("ch03.mlp.depth"))
            width = gr.Slider(8, 512, value=64, step=8, label=t("ch03.mlp.width"))
            activation = gr.Dropdown(ACTIVATIONS, value="relu", label=t("ch03.mlp.activation"))
            dropout = gr.Slider(0.0, 0.8, value=0.0, step=0.1, label="Dropout")
        with gr.Row():
            build_button = gr.Button(t("ch03.mlp.build"))
            epochs = gr.Slider(1, 20, value=8, step=1, label="Epochs")
            train_button = gr.Button(t("ch03.mlp.train"), variant="primary")
            clear_button = gr.Button(t("ch03.mlp.clear_runs"))
        message = gr.Markdown()
        with gr.Row():
            tree = gr.Code(label=t("ch03.mlp.tree"), language=None)
            table = gr.Dataframe(label=t("ch03.mlp.summary"))
        probs = gr.Plot()
        status = gr.Markdown()
        curves = gr.Plot()
        inputs = [dataset, depth, width, activation, dropout]
        for trigger in (build_button.click, demo.load):
            trigger(build_mlp, inputs + [lang_box], [tree, table, message, probs])
        kept = gr.State([])
        train_button.click(train, inputs + [epochs, lang_box, kept], [status, curves, kept])
        clear_button.click(lambda: ([], None), None, [kept, curves])
    return demo


if __name__ == "__main__":
    build().launch()
