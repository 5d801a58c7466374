"""Chapter 7 headline demo: fine-tune a pretrained backbone (offline tiny ResNet, or ImageNet
ResNet-18 when online and chosen) on your images (a zip of class folders, or the built-in real
photos: 4 classes, validation photos disjoint from training), then classify an image with top-k
and Grad-CAM."""
from __future__ import annotations

from pathlib import Path

import gradio as gr

from core import uploads, viz
from core.device import detect, preset
from core.errors import HeroError
from core.lessons import ch07_vision as lesson
from widgets.common import error_message, run_status, stream_job, translator

P = lesson.PRESETS[preset()]
DEVICE = detect().kind


def load_set(source: str, zip_path: str | None):
    """The fine-tuning set: the built-in real photos, or an uploaded zip checked by core.uploads."""
    if source == "upload":
        if not zip_path:
            raise HeroError("upload.zip_classes", found=0, needed=2, per_class=2)
        return lesson.folder_dataset(uploads.read_image_zip(Path(zip_path).read_bytes(), min_per_class=2),
                                     P["photo_size"])
    return lesson.builtin_dataset(P["photos"], P["photo_size"])


def train(source: str, zip_path: str | None, epochs: int, freeze: str, imagenet: bool, state: dict | None,
          lang: str = "en"):
    """Generator: stream (status, curves figure, state) while the backbone is fine-tuned."""
    t = translator(lang)
    state = dict(state or {})
    try:
        ds = load_set(source, zip_path)
    except HeroError as err:
        yield error_message(lang, err), None, state
        return
    settings = lesson.FinetuneSettings(epochs=int(epochs), freeze=freeze, imagenet=bool(imagenet), device=DEVICE)
    for events, result, error in stream_job(lambda stop, emit: lesson.finetune(ds, settings, stop, emit)):
        evals = [e for e in events if e["kind"] == "eval"]
        figure = viz.curves({"fine-tune": evals}, ["train_loss", "val_acc"]) if evals else None
        if error is not None:
            yield run_status(lang, events, error=error), figure, state
            return
        if result is not None:
            if result.ok:
                state["model"], state["classes"] = result.model, result.classes
            done = t("ch07.widget.status_done", classes=", ".join(result.classes),
                     acc=f"{result.end.get('val_acc', float('nan')):.1%}",
                     backbone=t(f"ch07.project.backbone_{result.backbone}"))
            if result.note:
                done += "\n\n" + t("ch07.transfer.fallback", why=result.note)
            yield run_status(lang, events, result, done_text=done), figure, state
            return
        yield run_status(lang, events), figure, state


def classify(image_path: str | None, state: dict | None, lang: str = "en"):
    """Image file → ({class: p} top-k, Grad-CAM figure, saliency figure, message)."""
    t = translator(lang)
    if not state or "model" not in state:
        return {}, None, None, error_message(lang, HeroError("ch07.no_model"))
    if not image_path:
        return {}, None, None, ""
    try:
        result = lesson.explain(state["model"], Path(image_path).read_bytes(), state["classes"], k=3)
    except HeroError as err:
        return {}, None, None, error_message(lang, err)
    label, p = result["topk"][0]
    return ({name: prob for name, prob in result["topk"]},
            lesson.overlay_figure(result["image"], result["cam"], "Grad-CAM"),
            lesson.overlay_figure(result["image"], result["saliency"], t("ch07.project.saliency")),
            t("ch07.widget.prediction", label=label, p=f"{p:.0%}"))


def build(lang: str = "en") -> gr.Blocks:
    t = translator(lang)
    with gr.Blocks(title=t("chapters.ch07.title")) as demo:
        gr.Markdown(f"## {t('ch07.widget.title')}\n{t('ch07.project.intro')}\n\n{t('ch07.project.builtin_about')}")
        state, lang_box = gr.State({}), gr.State(lang)
        with gr.Row():
            source = gr.Radio([(t("ch07.project.builtin"), "builtin"), (t("ch07.project.upload"), "upload")],
                              value="builtin", label=t("ch07.project.set"))
            archive = gr.File(label=t("ch07.project.zip"), file_types=[".zip"], type="filepath")
        with gr.Row():
            epochs = gr.Slider(1, 40, value=P["ft_epochs"], step=1, label=t("ch07.transfer.epochs"))
            freeze = gr.Radio([(t(f"ch07.transfer.freeze_{v}"), v) for v in lesson.FREEZE_LEVELS], value="none",
                              label=t("ch07.transfer.freeze"))
            imagenet = gr.Checkbox(False, label=t("ch07.project.imagenet"))
            train_button = gr.Button(t("ch07.project.train"), variant="primary")
        status = gr.Markdown()
        curves = gr.Plot()
        with gr.Row():
            image = gr.Image(type="filepath", label=t("ch07.project.image"))
            label = gr.Label(num_top_classes=3, label=t("ch07.project.topk"))
        with gr.Row():
            cam = gr.Plot(label="Grad-CAM")
            sal = gr.Plot(label=t("ch07.project.saliency"))
        message = gr.Markdown()
        train_button.click(train, [source, archive, epochs, freeze, imagenet, state, lang_box], [status, curves, state])
        image.change(classify, [image, state, lang_box], [label, cam, sal, message])
    return demo


if __name__ == "__main__":
    build().launch()
