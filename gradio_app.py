"""Serve every chapter's Gradio widget: all of them as tabs at ``/``, and each alone at ``/<id>``.

    python gradio_app.py            # http://127.0.0.1:7860/  (and /ch05, ...)
    python gradio_app.py --lang zh
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


def build_app(lang: str = "en") -> FastAPI:
    app = FastAPI(title="PyTorch Zero to Hero widgets")
    modules = widget_modules()
    with gr.Blocks(title="PyTorch Zero to Hero") as gallery:
        gr.Markdown(f"# {translate(lang, 'chapters.preface.title')}")
        for chapter_id, module in modules.items():
            with gr.Tab(translate(lang, f"chapters.{chapter_id}.nav")):
                module.build(lang).render()
    for chapter_id, module in modules.items():   # one route per widget, for embedding on its own
        app = gr.mount_gradio_app(app, module.build(lang), path=f"/{chapter_id}")
    return gr.mount_gradio_app(app, gallery, path="/")


if __name__ == "__main__":
    import uvicorn
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--lang", default="en", choices=["en", "zh"])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=7860)
    args = parser.parse_args()
    configure_threads()
    uvicorn.run(build_app(args.lang), host=args.host, port=args.port)
