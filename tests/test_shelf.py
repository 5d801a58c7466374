"""The model shelf: bounded, oldest unpinned model leaves first, packages round-trip safely."""
from __future__ import annotations

import io
import json
import zipfile

import pytest
import torch

from core import nets
from core.errors import HeroError
from core.shelf import Shelf, ShelfItem, package, read_package


def _item(name, pinned=False):
    return ShelfItem(name=name, chapter="ch05", kind="digits-classifier",
                     model=nets.build("small_cnn", {"image_size": 8}), metric="val_acc 97 %", pinned=pinned)


def test_bounded_oldest_unpinned_leaves_first():
    shelf = Shelf(capacity=3)
    a, b, c = _item("a", pinned=True), _item("b"), _item("c")
    for item in (a, b, c):
        assert shelf.put(item) is None
    evicted = shelf.put(_item("d"))
    assert evicted is b and [i.name for i in shelf.items()] == ["a", "c", "d"]
    shelf.pin("c")
    shelf.pin("d")
    refused = shelf.put(_item("e"))          # everything else pinned: the newcomer cannot stay
    assert refused.name == "e" and len(shelf) == 3
    assert shelf.unique_name("a") == "a #2" and shelf.unique_name("z") == "z"
    assert [i.name for i in shelf.items("digits-classifier")] == ["a", "c", "d"] and shelf.items("char-gpt") == []


def test_package_round_trip_gives_identical_predictions():
    item = _item("ch05 digits CNN")
    torch.manual_seed(0)
    x = torch.rand(5, 64)
    data = package(item)
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        names = sorted(zf.namelist())
        meta = json.loads(zf.read("ch05_digits_cnn.json"))
    assert names == ["ch05_digits_cnn.json", "ch05_digits_cnn.safetensors"]
    assert meta["arch"] == "small_cnn" and meta["config"]["image_size"] == 8 and meta["kind"] == "digits-classifier"
    model, meta2 = read_package(data)
    with torch.no_grad():
        torch.testing.assert_close(model(x), item.model.eval()(x), rtol=0, atol=0)
    assert meta2["name"] == "ch05 digits CNN"


def test_bad_package_is_refused_with_a_message():
    with pytest.raises(HeroError) as e:
        read_package(b"not a zip")
    assert e.value.code == "shelf.bad_package"
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("x.json", "{}")
        zf.writestr("x.safetensors", b"\x00" * 16)     # not safetensors
    with pytest.raises(HeroError):
        read_package(buf.getvalue())


def shelf_app():
    import sys
    from pathlib import Path
    sys.path.insert(0, str(Path.cwd()))
    import streamlit as st

    from core import nets
    from ui import shelf
    if st.button("train", key="train"):
        shelf.put("ch05", "digits-classifier", nets.build("small_cnn", {"image_size": 8}), "ch05 digits CNN",
                  metric="val_acc 97 %", info={"image_size": 8})
    shelf.sidebar()
    label, model = shelf.picker("pick", "digits-classifier", shipped={"shipped": lambda: nets.build("mlp", {})})
    st.write(f"picked={label}|{type(model).__name__}")


def test_shelf_in_the_app_put_sidebar_and_picker():
    from streamlit.testing.v1 import AppTest
    at = AppTest.from_function(shelf_app, default_timeout=60)
    at.run()
    assert not at.exception
    assert at.selectbox(key="pick").options == ["shipped"]
    at.button(key="train").click().run()
    at.button(key="train").click().run()          # a second one gets a unique name
    assert not at.exception
    options = at.selectbox(key="pick").options
    assert options[0] == "shipped" and len(options) == 3 and "ch05 digits CNN #2" in options[2]
    at.selectbox(key="pick").set_value(options[1]).run()
    assert "picked=" + options[1] + "|SmallCNN" in " ".join(m.value for m in at.markdown)
    shelf = at.session_state["_hero_shelf"]
    assert len(shelf) == 2 and shelf.items()[0].model is not None
