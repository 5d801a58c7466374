"""Every chapter's Gradio widget builds; gradio_app serves each on its own route and as a tab."""
import importlib

import gradio as gr
import numpy as np
import pytest
from fastapi.testclient import TestClient

from core.catalog import CHAPTERS

WIDGETS = [c for c in CHAPTERS if c.widget_module]


@pytest.mark.parametrize("chapter", WIDGETS, ids=lambda c: c.id)
@pytest.mark.parametrize("lang", ["en", "zh"])
def test_widget_builds(chapter, lang):
    module = importlib.import_module(chapter.widget_module)
    demo = module.build(lang)
    assert isinstance(demo, gr.Blocks)
    assert demo.fns, "a widget with no event handlers does nothing"


def test_gradio_app_routes():
    import gradio_app
    client = TestClient(gradio_app.build_app())
    assert client.get("/").status_code == 200
    for chapter in WIDGETS:
        assert client.get(f"/{chapter.id}/").status_code == 200, chapter.id


def test_gallery_tab_holds_its_widget_once():
    """Each tab of the gallery has exactly one child: the chapter's widget (it was rendered twice)."""
    import gradio_app
    modules = gradio_app.widget_modules()
    gallery = gradio_app.build_gallery("en", modules)
    tabs = [c for c in gallery.config["layout"]["children"] if "children" in c]
    tab_items = [t for group in tabs for t in group["children"]]
    assert len(tab_items) == len(WIDGETS) == len(modules)

    def ids(node):
        yield node["id"]
        for child in node.get("children", []):
            yield from ids(child)

    for tab, module in zip(tab_items, modules.values()):
        alone = module.build("en").config["layout"]["children"]
        seen = list(ids(tab))
        assert len(seen) == len(set(seen)), f"{module.__name__}: a component appears twice in its tab"
        assert len(tab["children"]) == len(alone), f"{module.__name__}: {len(tab['children'])} vs {len(alone)}"


def test_gradio_app_honours_gradio_environment(monkeypatch):
    import runpy
    import sys
    import uvicorn
    seen = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, host, port: seen.update(host=host, port=port))
    monkeypatch.setenv("GRADIO_SERVER_NAME", "0.0.0.0")
    monkeypatch.setenv("GRADIO_SERVER_PORT", "7999")
    monkeypatch.setattr(sys, "argv", ["gradio_app.py"])
    import gradio_app
    monkeypatch.setattr(gradio_app, "build_app", lambda lang: None)
    runpy.run_path(gradio_app.__file__, run_name="__main__")
    assert seen == {"host": "0.0.0.0", "port": 7999}


def test_ch05_widget_predicts_a_drawn_digit_and_trains():
    from widgets import ch05_digits as w
    canvas = np.full((280, 280, 4), 255, np.uint8)       # Gradio's sketchpad: black ink on white
    canvas[50:230, 130:150, :3] = 0                       # a vertical stroke: "1"
    probs, figure, message = w.predict({"composite": canvas}, "digits", {})
    assert max(probs, key=probs.get) == "1" and abs(sum(probs.values()) - 1) < 1e-5
    assert figure is not None and "1" in message
    empty, _, hint = w.predict({"composite": np.full((280, 280, 4), 255, np.uint8)}, "digits", {}, "zh")
    assert empty == {} and "画布" in hint
    outputs = list(w.train("digits", 2, {}))
    status, curves, matrix, state = outputs[-1]
    assert "digits" in state and curves is not None and len(outputs) > 2   # streamed, not one shot
    assert matrix is not None                                               # the confusion matrix of the finished model
    trained_probs, _, _ = w.predict({"composite": canvas}, "digits", state)
    assert set(trained_probs) == {str(i) for i in range(10)}
