"""Chapter 13 headline demo: pick a digits model, export it to ONNX (parity checked, file to
download), then race eager PyTorch against torch.export, ONNX Runtime and INT8."""
from __future__ import annotations

import tempfile
from pathlib import Path

import gradio as gr
import pandas as pd
import torch

from core import weights
from core.errors import HeroError
from core.lessons import ch13_deployment as lesson
from widgets.common import error_message, run_status, stream_job, translator

MODELS = {"digits8": "ch05_digits_cnn", "mnist28": "ch05_mnist_cnn"}
_shipped: dict[str, torch.nn.Module] = {}


def _model(choice: str) -> torch.nn.Module:
    """The shipped checkpoint (loaded once per process; exporting and racing never change it)."""
    if choice not in MODELS:
        raise HeroError("ch13.unknown_model", name=choice, known=", ".join(MODELS))
    if choice not in _shipped:
        _shipped[choice] = weights.load(MODELS[choice]).model.eval()
    return _shipped[choice]


def export_model(choice: str, lang: str = "en", eval_n: int = 360, repeats: int = 30):
    """→ (status markdown, ONNX graph figure, path of model.onnx for download)."""
    t = translator(lang)
    try:
        model = _model(choice)
        result = lesson.onnx_demo(model, lesson.image_size_of(model), eval_n, repeats)
    except HeroError as err:
        return error_message(lang, err), None, None
    path = Path(tempfile.mkdtemp(prefix="hero-ch13-widget-")) / "model.onnx"
    path.write_bytes(result["bytes"])
    status = t("ch13.widget.exported", diff=f"{result['parity']['max_abs_diff']:.1e}",
               speedup=f"{result['speedup']:.2f}", kb=f"{len(result['bytes']) / 1024:.1f}", version=result["version"])
    return status, lesson.onnx_graph_figure(result["nodes"], t("ch13.onnx.graph")), str(path)


def compare(choice: str, lang: str = "en", batches: tuple[int, ...] = (1, 16, 64), repeats: int = 30, eval_n: int = 360):
    """Generator: stream (status, latency figure, table) while the runtimes race."""
    t = translator(lang)
    try:
        model = _model(choice)
        settings = lesson.RaceSettings(image_size=lesson.image_size_of(model), batches=tuple(batches),
                                       repeats=int(repeats), eval_n=int(eval_n))
    except HeroError as err:
        yield error_message(lang, err), None, None
        return
    for events, result, error in stream_job(lambda stop, emit: lesson.race(model, settings, stop, emit)):
        if error is not None or result is None:
            yield run_status(lang, events, None, error), None, None
            if error is not None:
                return
            continue
        table = pd.DataFrame(result["rows"]).assign(size_kb=lambda d: (d.size_bytes / 1024).round(1))
        table = table[["runtime", "batch", "p50_ms", "p95_ms", "speedup", "size_kb", "accuracy_change"]]
        yield (t("ch13.widget.raced", n=len(result["rows"])),
               lesson.race_figure(result["rows"], t("ch13.race.figure")),
               table.rename(columns={c: t(f"ch13.race.col_{c}") for c in table.columns}))


def build(lang: str = "en") -> gr.Blocks:
    t = translator(lang)
    with gr.Blocks(title=t("chapters.ch13.title")) as demo:
        gr.Markdown(f"## {t('ch13.widget.title')}\n{t('ch13.widget.intro')}")
        choice = gr.Radio([(t("ch13.model.shipped8"), "digits8"), (t("ch13.model.shipped28"), "mnist28")],
                          value="digits8", label=t("ch13.widget.model"))
        with gr.Row():
            export_button = gr.Button(t("ch13.onnx.run"), variant="primary")
            race_button = gr.Button(t("ch13.race.run"))
        status = gr.Markdown()
        with gr.Row():
            graph = gr.Plot(label=t("ch13.onnx.graph"))
            latency = gr.Plot(label=t("ch13.race.figure"))
        onnx_file = gr.File(label=t("ch13.onnx.download"))
        table = gr.Dataframe(label=t("ch13.race.title"))
        lang_box = gr.State(lang)
        export_button.click(export_model, [choice, lang_box], [status, graph, onnx_file])
        race_button.click(compare, [choice, lang_box], [status, latency, table])
    return demo


if __name__ == "__main__":
    build().launch()
