"""Start the Streamlit gallery: ``python -m ui.server [streamlit options]``.

What ``./run.sh app``, the Dockerfile and the browser tests run. It is ``streamlit run app.py``
with one difference: Streamlit treats an app with a ``pages/`` folder as an old-style multipage
app until the first ``st.navigation`` call *in the process*. On a freshly started server the
first visitor therefore got the raw file list for a moment and, arriving by a deep link such
as ``/training-loop``, a "Page not found" dialog. The gallery always routes with
``st.navigation``, so it says so before the first session starts. Plain ``streamlit run app.py``
still works (``client.showSidebarNavigation = false`` hides the raw list there too).

It also turns on the import warm-up (``HERO_WARMUP=1``, ``ui/warmup.py``): once the first visitor's
page is drawn, the libraries other pages need are imported in the background, so a chapter's first
view does not wait for them. ``HERO_WARMUP=0`` turns it off.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

APP = Path(__file__).resolve().parent.parent / "app.py"


def main(argv: list[str] | None = None) -> None:
    from streamlit.runtime.pages_manager import PagesManager
    from streamlit.web import cli

    os.environ.setdefault("HERO_WARMUP", "1")
    PagesManager.uses_pages_directory = False   # app.py routes with st.navigation from its first run
    sys.argv = ["streamlit", "run", str(APP), *(sys.argv[1:] if argv is None else argv)]
    cli.main()


if __name__ == "__main__":
    main()
