"""Serve every chapter's Gradio widget: all of them as tabs at ``/``, and each alone at ``/<id>``.

    python gradio_app.py            # http://127.0.0.1:7860/  (and /ch05, ...)
    python gradio_app.py --lang zh
    GRADIO_SERVER_NAME=0.0.0.0 GRADIO_SERVER_PORT=7861 python gradio_app.py
"""
from __future__ import annotations

import argparse
import importlib
import os

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import gradio as gr  # noqa: E402
from fastapi import FastAPI  # noqa: E402

from core.catalog import CHAPTERS  # noqa: E402
from core.device import configure_threads  # noqa: E402
from core.i18n import translate  # noqa: E402


def widget_modules() -> dict[str, object]:
    """Chapter id → widget module, for every chapter that has one."""
    return {c.id: importlib.import_module(c.widget_module) for c in CHAPTERS if c.widget_module}


def build_gallery(lang: str = "en", modules: dict[str, object] | None = None) -> gr.Blocks:
    """Every widget as one tab of one page."""
    modules = widget_modules() if modules is None else modules
    # Built outside the gallery: a Blocks created inside another's context is already part of it,
    # and render() would add it a second time (every tab showed its widget twice).
    demos = {chapter_id: module.build(lang) for chapter_id, module in modules.items()}
    with gr.Blocks(title="PyTorch Zero to Hero") as gallery:
        gr.Markdown(f"# {translate(lang, 'chapters.preface.title')}")
        for chapter_id, demo in demos.items():
            with gr.Tab(translate(lang, f"chapters.{chapter_id}.nav"), id=chapter_id):
                demo.render()
    return gallery


def build_app(lang: str = "en") -> FastAPI:
    app = FastAPI(title="PyTorch Zero to Hero widgets")
    modules = widget_modules()
    for chapter_id, module in modules.items():   # one route per widget, for embedding on its own
        app = gr.mount_gradio_app(app, module.build(lang), path=f"/{chapter_id}")
    return gr.mount_gradio_app(app, build_gallery(lang, modules), path="/")


if __name__ == "__main__":
    import uvicorn
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--lang", default="en", choices=["en", "zh"])
    # Gradio's own variables (Spaces and users set them) are the defaults; flags override them.
    parser.add_argument("--host", default=os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("GRADIO_SERVER_PORT", 7860)))
    args = parser.parse_args()
    configure_threads()
    uvicorn.run(build_app(args.lang), host=args.host, port=args.port)
