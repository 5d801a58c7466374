"""The model shelf in the Streamlit app: the visitor's own trained models, in the sidebar.

    shelf.put("ch05", "digits-classifier", model, "ch05 digits CNN", metric="val_acc 97.8 %")
    source, model = shelf.picker("ch13_model", "digits-classifier",
                                 shipped={"shipped digits CNN": lambda: cache.checkpoint("ch05_digits_cnn")[0]})

The shelf lives in ``st.session_state``: one per visitor, never shared (core.shelf.Shelf).
"""
from __future__ import annotations

import copy
from typing import Callable

import streamlit as st
from torch import nn

from core import shelf as core_shelf
from core.shelf import ShelfItem
from ui.i18n import t


def current() -> core_shelf.Shelf:
    return st.session_state.setdefault("_hero_shelf", core_shelf.Shelf())


def put(chapter: str, kind: str, model: nn.Module, name: str, metric: str = "", info: dict | None = None,
        files: Callable[[], dict[str, bytes]] | None = None) -> ShelfItem:
    """Put a private copy of ``model`` (CPU, eval mode) on the visitor's shelf under a unique name."""
    sh = current()
    private = copy.deepcopy(model).cpu().eval()
    item = ShelfItem(name=sh.unique_name(name), chapter=chapter, kind=kind, model=private, metric=metric,
                     info=dict(info or {}), files=files)
    evicted = sh.put(item)
    if evicted is item:
        st.toast(t("shelf.full_pinned", name=item.name), icon=":material/inventory_2:")
    elif evicted is not None:
        st.toast(t("shelf.evicted", name=evicted.name, capacity=sh.capacity), icon=":material/inventory_2:")
    else:
        st.toast(t("shelf.added", name=item.name), icon=":material/inventory_2:")
    return item


@st.cache_data(show_spinner=False, max_entries=64)
def _package_bytes(_item_id: int, _created: float, _item: ShelfItem) -> bytes:  # noqa: ARG001
    return core_shelf.package(_item)


def sidebar() -> None:
    """The shelf in the sidebar: each model with its chapter, metric, time, pin and download."""
    items = current().items()
    with st.sidebar.expander(t("shelf.title", n=len(items)), icon=":material/inventory_2:"):
        if not items:
            st.caption(t("shelf.empty"))
        for item in reversed(items):
            st.markdown(f"**{item.name}**  \n{item.chapter} · {item.metric}")
            c1, c2 = st.columns(2)
            c1.download_button(t("shelf.download"), _package_bytes(id(item), item.created, item),
                               file_name=f"{item.slug}.zip", mime="application/zip",
                               key=f"shelf_dl_{id(item)}", icon=":material/download:")
            pinned = c2.toggle(t("shelf.pin"), value=item.pinned, key=f"shelf_pin_{id(item)}")
            if pinned != item.pinned:
                item.pinned = pinned


def picker(key: str, kind: str, shipped: dict[str, Callable[[], nn.Module]],
           label: str | None = None) -> tuple[str, nn.Module]:
    """Choose a model of ``kind``: the shipped ones first, then the visitor's own from the shelf.

    Returns (the option chosen, a private copy of the model the page may change freely).
    """
    own = current().items(kind)
    options = list(shipped) + [t("shelf.yours", name=i.name, metric=i.metric) for i in own]
    choice = st.selectbox(label or t("shelf.pick"), options, key=key,
                          help=t("shelf.pick_help") if not own else None)
    if choice in shipped:
        return choice, shipped[choice]()
    item = own[options.index(choice) - len(shipped)]
    return choice, copy.deepcopy(item.model)
