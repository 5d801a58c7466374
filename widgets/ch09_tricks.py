"""Chapter 9 headline demo: tune a model of chapters 5, 7 or 8 (digit CNN, fine-tuned ResNet,
sentiment GRU) with the LR finder, weight decay, early stopping (and gradient clipping for the
RNN), logged to TensorBoard, against the recipe of its own chapter."""
from __future__ import annotations

import tempfile
from pathlib import Path

import gradio as gr
import pandas as pd

from core import viz
from core.device import detect
from core.lessons import ch09_tricks as lesson
from widgets.common import run_status, stream_job, translator

DEVICE = detect().kind
FOLDER = "ch09_tuning_tensorboard"


def tune(dataset: str, epochs: int, weight_decay: float, patience: int, lang: str = "en", finder_steps: int = 100,
         model: str = "digits_cnn", photos: int = 30, reviews: int = 4000):
    """Generator: stream (status, LR-finder figure, curves figure, table, TensorBoard zip path).
    ``model``: "digits_cnn" (on ``dataset``), "ch07_resnet" or "ch08_sentiment" (fresh, as their chapters start)."""
    t = translator(lang)
    names = {k: t(f"ch09.tune.{k}") for k in ("baseline", "tuned")}
    settings = lesson.TuneSettings(model=model, dataset=dataset, epochs=int(epochs), weight_decay=float(weight_decay),
                                   patience=int(patience), finder_steps=int(finder_steps), photos=int(photos),
                                   reviews=int(reviews), batch_size=32 if dataset == "digits" else 64, device=DEVICE)
    logdir = tempfile.mkdtemp(prefix="hero-ch09-widget-")
    for events, result, error in stream_job(lambda stop, emit: lesson.tune_digits(settings, logdir, stop, emit)):
        evals = [e for e in events if e["kind"] == "eval"]
        curves = viz.curves({names[k]: [e for e in evals if e["run"] == k] for k in names}, ["val_loss", "val_acc"],
                            title=t("ch09.tune.curves")) if evals else None
        if error is not None:
            yield run_status(lang, events, error=error), None, curves, None, None
            return
        if result is not None:
            finder = lesson.lr_finder_figure(result["finder"], {k: t(f"ch09.lr.{k}") for k in
                                                                ("raw", "smoothed", "steepest", "min_over_10")})
            table = pd.DataFrame(result["table"]).assign(run=lambda df: df["run"].map(names))
            acc = {r["run"]: r["val_acc"] for r in result["table"]}
            archive = Path(tempfile.mkdtemp(prefix="hero-ch09-zip-")) / f"{FOLDER}.zip"
            archive.write_bytes(lesson.zip_logdir(logdir, FOLDER))   # unzips to the folder the command opens
            status = t("ch09.tune.status_done", a=f"{acc.get('baseline', float('nan')):.1%}",
                       b=f"{acc.get('tuned', float('nan')):.1%}")
            yield run_status(lang, events, result, done_text=status), finder, curves, table.round(4), str(archive)
            return
        finds = [e for e in events if e["kind"] == "finder"]
        steps = [e for e in events if e["kind"] == "step"]
        status = run_status(lang, events)
        if steps:
            status = f"{names.get(steps[-1]['run'], steps[-1]['run'])} · {status}"
        if finds:
            suggested = f"{finds[-1]['steepest']:.2e}"
            status = f"{t('ch09.tune.finder', lr=suggested)}  \n{status}"
        yield status, None, curves, None, None


def build(lang: str = "en") -> gr.Blocks:
    t = translator(lang)
    with gr.Blocks(title=t("chapters.ch09.title")) as demo:
        gr.Markdown(f"## {t('ch09.tune.title')}\n{t('ch09.tune.intro')}")
        model = gr.Radio([(t(f"ch09.tune.model_{m}"), m) for m in lesson.TUNE_MODELS], value="digits_cnn",
                         label=t("ch09.tune.model"))
        with gr.Row():
            dataset = gr.Radio([(t("ch09.tune.digits"), "digits"), (t("ch09.tune.mnist5k"), "mnist5k")],
                               value="digits", label=t("ch09.tune.dataset"))
            epochs = gr.Slider(1, 60, value=25, step=1, label=t("ch09.tune.epochs"))
            weight_decay = gr.Dropdown([0.0, 1e-3, 1e-2, 5e-2, 1e-1], value=1e-2, label=t("ch09.tune.weight_decay"))
            patience = gr.Slider(1, 10, value=4, step=1, label=t("ch09.tune.patience"))
        button = gr.Button(t("ch09.tune.button"), variant="primary")
        status = gr.Markdown()
        with gr.Row():
            finder = gr.Plot(label=t("ch09.lr.chart"))
            curves = gr.Plot(label=t("ch09.tune.curves"))
        table = gr.Dataframe(label=t("ch09.tune.table"))
        logs = gr.File(label=t("ch09.tune.download"))
        gr.Markdown(f"`unzip {FOLDER}.zip && {lesson.tensorboard_command(FOLDER)}`")
        lang_box, steps = gr.State(lang), gr.State(100)
        button.click(tune, [dataset, epochs, weight_decay, patience, lang_box, steps, model],
                     [status, finder, curves, table, logs])
    return demo


if __name__ == "__main__":
    build().launch()
