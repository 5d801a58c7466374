"""Chapter 6 headline demo: a CIFAR-10-style pipeline (Dataset + transforms.v2 + DataLoader)
feeding one epoch of a small CNN. Offline it uses the CIFAR-style procedural scenes (``scenes10``:
10 classes of generated 32×32 colour pictures, not photos); with downloads allowed, the real
torchvision CIFAR-10."""
from __future__ import annotations

import gradio as gr
import pandas as pd

from core import viz
from core.device import detect
from core.lessons import ch06_data as lesson
from widgets.common import run_status, stream_job, translator

DEVICE = detect().kind


def settings_for(online: bool, n_images: int, epochs: int) -> lesson.PipelineSettings:
    return lesson.PipelineSettings("cifar10" if online else "scenes10", bool(online),
                                   max(200, min(5000, int(n_images))), epochs=max(1, min(5, int(epochs))), device=DEVICE)


def batch_outputs(result: lesson.PipelineResult, t) -> tuple:
    """(batch grid figure, per-channel stats table) of a finished pipeline."""
    names = [t(f"ch06.scenes.{c}") if result.source == "scenes10" else c for c in result.classes]
    grid = lesson.rgb_grid(result.batch_images, [names[y] for y in result.batch_labels], cols=8, cell=75,
                           title=t("ch06.pipe.batch", shape=str(result.batch_shape)))
    stats = pd.DataFrame({"channel": ["R", "G", "B"], "mean": result.mean, "std": result.std}).round(4)
    return grid, stats


def run(online: bool, n_images: int, epochs: int, lang: str = "en"):
    """Generator: stream (status, batch grid, stats table, curves) while the pipeline trains."""
    t = translator(lang)
    s = settings_for(online, n_images, epochs)
    yield t("ch06.pipe.loading"), None, None, None
    for events, result, error in stream_job(lambda stop, emit: lesson.run_pipeline(s, stop, emit)):
        evals = [e for e in events if e["kind"] == "eval"]
        curves = viz.curves({t("ch06.pipe.run"): evals}, ["val_loss", "val_acc"], x="step") if evals else None
        if error is not None:
            yield run_status(lang, events, error=error), None, None, curves
            return
        if result is not None:
            grid, stats = batch_outputs(result, t)
            status = t("ch06.pipe.done", acc=f"{result.end.get('val_acc', float('nan')):.1%}",
                       steps=result.end.get("step", 0), seconds=f"{result.end.get('seconds', 0):.1f}")
            if result.notice:
                status = t(result.notice, **result.notice_params) + "\n\n" + status
            yield run_status(lang, events, result, done_text=status), grid, stats, curves
            return
        steps = [e for e in events if e["kind"] == "step"]
        yield run_status(lang, events) if steps else t("ch06.pipe.loading"), None, None, curves


def build(lang: str = "en") -> gr.Blocks:
    t = translator(lang)
    with gr.Blocks(title=t("chapters.ch06.title")) as demo:
        gr.Markdown(f"## {t('ch06.pipe.title')}\n{t('ch06.pipe.intro')}")
        with gr.Row():
            online = gr.Checkbox(False, label=t("ch06.sets.online"), info=t("ch06.sets.online_help"))
            n_images = gr.Slider(200, 5000, value=3000, step=100, label=t("ch06.pipe.images"))
            epochs = gr.Slider(1, 5, value=1, step=1, label=t("ch06.pipe.epochs"))
        button = gr.Button(t("ch06.pipe.button"), variant="primary")
        status = gr.Markdown()
        with gr.Row():
            grid = gr.Plot(label=t("ch06.pipe.run"))
            stats = gr.Dataframe(label=t("ch06.pipe.stats"))
        curves = gr.Plot(label=t("ch06.pipe.acc"))
        lang_box = gr.State(lang)
        button.click(run, [online, n_images, epochs, lang_box], [status, grid, stats, curves])
    return demo


if __name__ == "__main__":
    build().launch()
