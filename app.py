"""PyTorch Zero to Hero — the gallery's entry point: language, device panel and page routing only."""
import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")           # never wait on the Hub unless a page opts in
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import streamlit as st  # noqa: E402

from core.catalog import CHAPTERS, ROOT  # noqa: E402
from core.device import configure_threads  # noqa: E402
from ui import layout, runner, shelf, warmup  # noqa: E402
from ui.i18n import language_selector, t  # noqa: E402


def main() -> None:
    # The icon is a file we ship: a :material/...: page icon is fetched from a font CDN on every load.
    st.set_page_config(page_title="PyTorch Zero to Hero", page_icon=str(ROOT / "static" / "favicon.png"),
                       layout="wide")
    # the page's own tensors count as one more consumer beside the runs training now
    configure_threads(runner.thread_share(runner.SCHEDULER.busy_slots() + 1))
    language_selector()

    groups: dict[str, list] = {}
    for chapter in CHAPTERS:
        if not chapter.built:
            continue
        page = st.Page(chapter.page, title=t(f"chapters.{chapter.id}.nav"), url_path=chapter.url_path,
                       default=chapter.id == "preface")
        groups.setdefault(t(f"parts.p{chapter.part}"), []).append(page)

    # Hidden built-in menu, our own links: with client.showSidebarNavigation off, a fresh server never
    # flashes the raw pages/ file list before this first run (.streamlit/config.toml, ui/server.py).
    navigation = st.navigation(groups, position="hidden")
    layout.navigation_links(groups)
    runner.adopt_finished()   # finished runs' results are kept before any page draws
    layout.device_panel()
    shelf.sidebar()
    navigation.run()
    warmup.start_once()       # the visitor's page is drawn: import what the other pages need (ui/warmup.py)


# A spawned DataLoader worker (ch06) re-imports the running script as __mp_main__: it must not draw.
if __name__ != "__mp_main__":
    main()
