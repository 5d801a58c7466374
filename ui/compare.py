"""Compare runs: pin finished runs and overlay their curves (ch02, ch03, ch05 and any page).

A run to pin is ``{"name": str, "settings": dict, "history": [event dicts]}``; pinned runs live
in ``st.session_state[f"{key}_pins"]``. Two or more pinned runs draw one chart of every run's
curves (``core.viz.curves``) and a table of the settings that differ between them.
"""
from __future__ import annotations

import pandas as pd
import streamlit as st

from core import viz
from ui.i18n import t


def pinned_runs(key: str, candidate: dict | None, metrics: list[str], x: str = "epoch",
                labels: dict[str, str] | None = None) -> list[dict]:
    """The pin button (for ``candidate``, the run on screen; None = nothing to pin), the overlay
    and the clear button. Returns the pinned runs, oldest first."""
    pins = st.session_state.setdefault(f"{key}_pins", [])
    if candidate is not None and st.button(t("compare.pin"), icon=":material/push_pin:", key=f"{key}_pin"):
        pins.append({**candidate, "name": f"#{len(pins) + 1} {candidate['name']}"})
    if len(pins) >= 2:
        st.subheader(t("compare.title"))
        st.plotly_chart(viz.curves({p["name"]: p["history"] for p in pins}, metrics, labels, x=x), key=f"{key}_cmp")
        table = pd.DataFrame([p["settings"] for p in pins], index=[p["name"] for p in pins])
        varying = [c for c in table.columns if table[c].astype(str).nunique() > 1]
        st.dataframe(table[varying] if varying else table, key=f"{key}_cmp_table")
        if st.button(t("compare.clear"), key=f"{key}_unpin"):
            pins.clear()
            st.rerun()
    elif pins:
        st.caption(t("compare.one_pinned", name=pins[0]["name"]))
    return pins
