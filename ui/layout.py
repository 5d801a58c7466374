"""Page furniture: chapter header, sections, the code panel, errors and the device panel."""
from __future__ import annotations

import inspect
from typing import Callable

import streamlit as st

from core import device as hero_device
from core.catalog import BY_ID
from core.errors import HeroError
from ui.i18n import error_text, t


def chapter_header(chapter_id: str) -> None:
    ch = BY_ID[chapter_id]
    kicker = t(f"parts.p{ch.part}") if ch.part else ""
    if 1 <= ch.number <= 16:
        kicker = f"{kicker} · {t('common.chapter', n=ch.number)}"
    st.caption(kicker)
    st.title(t(f"chapters.{chapter_id}.title"))
    st.markdown(t(f"chapters.{chapter_id}.blurb"))


def section(key: str, number: str | None = None) -> None:
    """A book section: heading plus its short explanation (``<key>.title`` / ``<key>.intro``)."""
    title = t(f"{key}.title")
    st.header(f"{number} {title}" if number else title, divider="gray")
    st.markdown(t(f"{key}.intro"))


# Every take-home script a page has offered in this process, by file name: the take-home test
# opens each page, then runs every script collected here from an empty folder.
SERVED_SCRIPTS: dict[str, str] = {}


def code_panel(code: str | Callable | list, filename: str, key: str, expanded: bool = False,
               label: str | None = None, script: str | None = None) -> None:
    """Show the code that produced a result, with a download as ``filename``.

    ``code`` is source text, a function (its real source is shown via ``inspect``), or a list
    of functions shown one after another. ``script`` is the standalone file to download
    (``core.takehome.script(...)``: the same functions with everything they use copied in, and
    the page's settings as its ``__main__``); without it, ``code`` must itself be a complete
    script. ``label`` tells two panels of one section apart.
    """
    items = code if isinstance(code, list) else [code]
    text = "\n\n".join(item if isinstance(item, str) else inspect.getsource(item) for item in items)
    download = script if script is not None else text
    SERVED_SCRIPTS[filename] = download
    title = t("common.code_that_ran") + (f" · {label}" if label else "")
    with st.expander(title, expanded=expanded, icon=":material/code:"):
        st.code(text, language="python")
        if script is not None and script != text:
            st.caption(t("common.excerpt_note"))
        st.download_button(t("common.download_py"), download, file_name=filename, mime="text/x-python",
                           key=f"dl_{key}", icon=":material/download:")


def show_error(err: HeroError) -> None:
    st.error(error_text(err), icon=":material/error:")


def tried(fn: Callable, *args, **kwargs):
    """``fn(...)``, or None after showing its translated error (bad input never becomes a traceback)."""
    try:
        return fn(*args, **kwargs)
    except HeroError as err:
        show_error(err)
        return None


def device() -> str:
    """The torch device type every run on this page uses ("cuda", "mps" or "cpu"): lessons take
    it as their settings' ``device`` field."""
    return device_info().kind


@st.cache_resource(show_spinner=False)
def device_info() -> hero_device.DeviceInfo:
    return hero_device.detect()


def navigation_links(groups: dict[str, list]) -> None:
    """The gallery's menu in the sidebar: one link per built page, grouped by the book's parts."""
    with st.sidebar:
        for part, pages in groups.items():
            st.caption(part)
            for page in pages:
                st.page_link(page, label=page.title)


def device_panel() -> None:
    """Sidebar summary of the hardware found (and the preset it implies)."""
    info = device_info()
    with st.sidebar.expander(t("device.title"), icon=":material/memory:"):
        st.markdown(device_markdown(info))


def device_markdown(info: hero_device.DeviceInfo) -> str:
    lines = [f"**{t('device.found')}:** `{info.kind}` — {info.name}",
             f"**torch:** {info.torch_version}",
             f"**CUDA:** {info.cuda_version or t('device.no_cuda')}"]
    if info.kind == "cuda":
        lines.append(f"**{t('device.memory')}:** {info.memory_gb} GiB · bf16: {'✓' if info.bf16 else '✗'}"
                     f" · sm {info.capability}")
    lines.append(f"**{t('device.threads')}:** {info.threads} ({t('device.quota', n=info.cpu_quota)})")
    lines.append(f"**{t('device.preset')}:** `{hero_device.preset(info)}`")
    if info.overridden:
        lines.append(t("device.overridden"))
    return "  \n".join(lines)


def predict_then_run(key: str, question: str, options: list[str], answer: str | None) -> str | None:
    """A "predict, then run" box: the learner commits to a guess before the result is shown.

    Returns the committed guess (or None until committed). When ``answer`` is known, says
    whether the guess was right.
    """
    state_key = f"guess_{key}"
    with st.container(border=True):
        st.markdown(f":material/psychology: **{t('common.predict')}** {question}")
        if state_key not in st.session_state:
            choice = st.radio(t("common.your_guess"), options, key=f"radio_{key}", index=None, horizontal=True)
            if st.button(t("common.commit_guess"), key=f"commit_{key}", disabled=choice is None):
                st.session_state[state_key] = choice
                st.rerun()
            return None
        guess = st.session_state[state_key]
        if answer is None:
            st.info(t("common.guess_locked", guess=guess))
        elif guess == answer:
            st.success(t("common.guess_right", guess=guess))
        else:
            st.warning(t("common.guess_wrong", guess=guess, answer=answer))
        if st.button(t("common.guess_again"), key=f"reset_{key}"):
            del st.session_state[state_key]
            st.rerun()
        return guess
