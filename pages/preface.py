"""Preface (home): the gallery of chapters, the learning path, and the environment check."""
import pandas as pd
import streamlit as st

from core.catalog import CHAPTERS
from core.device import preset
from core.lessons import preface
from core.lessons.appendix import search as gallery_search
from core import takehome, viz
from ui import layout
from ui.i18n import lang, t

layout.chapter_header("preface")


def card_figure(m) -> tuple[str, str | None]:
    """A card's measured longest run (bench/cards.json): (how long, when, where) and what ran (its tooltip)."""
    if m is None:
        return t("home.cards.not_measured"), None
    secs = t("home.cards.seconds", n=f"{m.seconds:g}") if m.seconds < 60 else \
        t("home.cards.minutes", m=int(m.seconds // 60), s=round(m.seconds % 60))
    mach = m.machine
    where = t("home.cards.cpu", cores=mach.get("cores", "?")) if mach.get("device", "cpu") == "cpu" else \
        t("home.cards.gpu", name=mach.get("name", mach["device"]))
    load = mach.get("load")
    if load is not None:
        where += " · " + (t(f"home.cards.{load}") if load in ("quiet", "low") else t("home.cards.load", load=load))
    return t("home.cards.measured", seconds=secs, date=m.date, machine=where), m.what.get(lang(), m.what["en"])


st.subheader(t("home.path_title"))
st.markdown(" → ".join(f"**{t(f'parts.p{p}')}**" for p in (1, 2, 3, 4)))

# gallery search: chapter sections, glossary terms and error-guide entries, each a link
query = st.text_input(t("appendix.search.home_label"), key="home_search", icon=":material/search:")
if query.strip():
    hits = gallery_search.search(query, lang())
    st.markdown("\n".join(gallery_search.markdown_lines(hits, lang())) if hits else t("appendix.search.none"))

for part in (1, 2, 3, 4, 5):
    chapters = [c for c in CHAPTERS if c.part == part]
    st.markdown(f"#### {t(f'parts.p{part}')}")
    for row_start in range(0, len(chapters), 4):
        cols = st.columns(4)
        for col, ch in zip(cols, chapters[row_start:row_start + 4]):
            with col.container(border=True, height=215):
                runs = " · ".join(t(f"home.runs.{r}") for r in ch.runs)
                if ch.built:
                    st.page_link(ch.page, label=t(f"chapters.{ch.id}.nav"), icon=":material/play_circle:")
                else:
                    st.markdown(f"**{t(f'chapters.{ch.id}.nav')}**")
                st.caption(t(f"chapters.{ch.id}.blurb"))
                if ch.built:
                    figure, what = card_figure(ch.measured)
                    st.caption(runs)
                    st.caption(figure, help=what)
                else:
                    st.caption(f":material/construction: {t('home.in_preparation')}")

layout.section("home.env")
info = layout.device_info()
st.markdown(layout.device_markdown(info))
st.table(pd.DataFrame(preface.environment_report(info).items(), columns=[t("home.env.item"), t("home.env.value")]))
sizes = (64, 128) if preset(info) == "tiny" else (128, 256, 512, 1024)
if st.button(t("home.env.run_bench"), icon=":material/speed:", key="bench"):
    with st.spinner(t("home.env.running")):
        st.session_state["preface_bench"] = preface.matmul_benchmark(info, sizes)
if rows := st.session_state.get("preface_bench"):
    frame = pd.DataFrame(rows)
    st.plotly_chart(viz.curves({d: [{"n": r["n"], "gflops": r["gflops"]} for r in rows if r["device"] == d]
                                for d in frame["device"].unique()}, ["gflops"], x="n",
                               labels={"gflops": "GFLOP/s", "n": "n (n×n @ n×n)"}), key="bench_chart")
    if info.kind == "cpu":
        st.info(t("home.env.cpu_only"))
layout.code_panel([preface.matmul_benchmark, preface.environment_report], "preface_env_check.py", "preface",
                  script=takehome.script(preface.matmul_benchmark, preface.environment_report, preface.detect,
                                         filename="preface_env_check.py", main=preface.env_check_main(sizes)))
