"""The visitor's language in Streamlit, and ``t()`` to look strings up in it.

The language lives in ``st.session_state["lang"]``, set by the sidebar selector in
``app.py``, which mirrors it in the ``?lang=`` query parameter so it survives navigation
and reload. A page run on its own (AppTest) defaults to English.
"""
from __future__ import annotations

import streamlit as st

from core import i18n
from core.errors import HeroError

LANG_KEY = "lang"


def lang() -> str:
    return i18n.normalise(st.session_state.get(LANG_KEY))


def t(key: str, **params) -> str:
    return i18n.translate(lang(), key, **params)


def error_text(err: HeroError) -> str:
    return i18n.error_text(lang(), err)


def language_selector() -> str:
    """Sidebar English/中文 switch, mirrored in the URL as ``?lang=zh``.

    Runs in the entry point on every rerun: the first run of a session adopts ``?lang=``
    from the URL (a reload or a shared link), and each run writes it back, because
    Streamlit clears query parameters when the visitor changes page.
    """
    state = st.session_state
    if LANG_KEY not in state:
        state[LANG_KEY] = i18n.normalise(st.query_params.get("lang"))
    codes = list(i18n.LANGUAGES)
    # The widget has its own key; the choice is copied to a plain key, which (unlike widget
    # state) is kept even on a run where the selector is not drawn.
    st.sidebar.radio("Language / 语言", codes, index=codes.index(lang()), key=f"{LANG_KEY}_choice",
                     horizontal=True, format_func=i18n.LANGUAGES.get,
                     on_change=lambda: state.__setitem__(LANG_KEY, state[f"{LANG_KEY}_choice"]))
    if st.query_params.get("lang") != lang():
        st.query_params["lang"] = lang()
    return lang()
