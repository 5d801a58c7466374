"""PyTorch Zero to Hero — the gallery's entry point: language, device panel and page routing only."""
import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")           # never wait on the Hub unless a page opts in
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import streamlit as st  # noqa: E402

from core.catalog import CHAPTERS  # noqa: E402
from core.device import configure_threads  # noqa: E402
from ui import layout, runner, shelf  # noqa: E402
from ui.i18n import language_selector, t  # noqa: E402

st.set_page_config(page_title="PyTorch Zero to Hero", page_icon=":material/local_fire_department:",
                   layout="wide")
configure_threads(runner.THREADS_PER_RUN)
language_selector()

groups: dict[str, list] = {}
for chapter in CHAPTERS:
    if not chapter.built:
        continue
    page = st.Page(chapter.page, title=t(f"chapters.{chapter.id}.nav"), url_path=chapter.url_path,
                   default=chapter.id == "preface")
    groups.setdefault(t(f"parts.p{chapter.part}"), []).append(page)

navigation = st.navigation(groups)
layout.device_panel()
shelf.sidebar()
navigation.run()
