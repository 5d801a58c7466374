"""Appendix — math refresher, best practices, the live error guide, resources, glossary and gallery search
(widgets → core.lessons.appendix → figures; snippets run in a child Python, never visitor text)."""
import pandas as pd
import streamlit as st
import torch

from core import takehome
from core.catalog import BY_ID as CHAPTERS
from core.errors import HeroError
from core.lessons.appendix import errors_guide as guide, glossary, practices, search
from core.lessons.appendix import math as amath
from ui import layout, runner
from ui.i18n import lang, t

S = st.session_state
layout.chapter_header("appendix")


def where_text(chapter_id: str, section: str) -> str:
    """"Chapter 3 §3.2", or "Chapter 11 §11.3 (in preparation)" while that page is not built."""
    ch = CHAPTERS[chapter_id]
    name = t("chapters.appendix.nav") if chapter_id == "appendix" else t("common.chapter", n=ch.number)
    return f"{name} §{section}" + ("" if ch.built else f" ({t('appendix.common.not_built')})")


def where(chapter_id: str, section: str) -> str:
    """The same as a Markdown link to the chapter's page when it is built (plain text otherwise)."""
    text, ch = where_text(chapter_id, section), CHAPTERS[chapter_id]
    return f"[{text}](/{ch.url_path}?lang={lang()})" if ch.built else text


# A.1 a matrix as a map of the plane ---------------------------------------------------------------
layout.section("appendix.matrix", "A.1")
PRESETS = {"identity": (1, 0, 0, 1), "stretch": (2, 1, 1, 2), "shear": (1, 1, 0, 1), "rotation": (0, -1, 1, 0),
           "reflection": (1, 0, 0, -1), "singular": (1, 2, 0.5, 1)}


def apply_preset() -> None:
    for name, value in zip("abcd", PRESETS[S.get("appendix_preset", "stretch")]):
        S[f"appendix_m{name}"] = float(value)


if "appendix_ma" not in S:     # the inputs' values live in the session (the preset menu sets them)
    apply_preset()
st.selectbox(t("appendix.matrix.preset"), list(PRESETS), index=1, key="appendix_preset", on_change=apply_preset,
             format_func={k: t(f"appendix.matrix.presets.{k}") for k in PRESETS}.get)
cols = st.columns(4)
entries = [cols[k].number_input(t(f"appendix.matrix.{n}"), -10.0, 10.0, step=0.1, key=f"appendix_m{n}")
           for k, n in enumerate("abcd")]
plane = amath.transform_plane(*entries)
labels = {k: t(f"appendix.matrix.{k}") for k in ("grid", "square", "image", "eigen")}
c1, c2 = st.columns([3, 1])
c1.plotly_chart(amath.transform_figure(plane, {**labels, "title": t("appendix.matrix.chart")}), key="appendix_plane")
c2.metric(t("appendix.matrix.det"), f"{plane['det']:.3g}")
c2.markdown(f"**{t('appendix.matrix.eigenvalues')}:** " + ", ".join(
    f"{v.real:.3g}" if abs(v.imag) < 1e-12 else f"{v.real:.3g}{v.imag:+.3g}i" for v in plane["eigenvalues"]))
if not plane["real_eigen"]:
    c2.info(t("appendix.matrix.complex"))
st.caption(t("appendix.matrix.explain"))
layout.code_panel(amath.transform_plane, "appendix_matrix.py", "appendix_matrix", script=takehome.script(
    amath.transform_plane, filename="appendix_matrix.py",
    main=f"r = transform_plane({entries[0]}, {entries[1]}, {entries[2]}, {entries[3]})\n"
         "print('det', r['det'], 'eigenvalues', r['eigenvalues'])"))

# A.2 derivatives ----------------------------------------------------------------------------------
layout.section("appendix.deriv", "A.2")
c1, c2 = st.columns([1, 2])
fname = c1.selectbox(t("appendix.deriv.function"), list(amath.FUNCTIONS), key="appendix_fn")
low, high = c2.slider(f"{t('appendix.deriv.low')} … {t('appendix.deriv.high')}", -10.0, 10.0, (-3.0, 3.0), 0.5,
                      key="appendix_range")
try:
    deriv = amath.derivative(fname, low, high)
    st.plotly_chart(amath.derivative_figure(deriv, {"autograd": t("appendix.deriv.autograd"), "analytic": t(
        "appendix.deriv.analytic"), "title": t("appendix.deriv.chart")}), key="appendix_deriv")
    st.metric(t("appendix.deriv.max_diff"), f"{deriv['max_abs_diff']:.2e}")
except HeroError as err:
    layout.show_error(err)
layout.code_panel(amath.derivative, "appendix_derivative.py", "appendix_deriv", script=takehome.script(
    amath.derivative, filename="appendix_derivative.py",
    main=f"r = derivative({fname!r}, {low}, {high})\nprint('max |autograd - formula|', r['max_abs_diff'])"))

# A.3 distributions --------------------------------------------------------------------------------
layout.section("appendix.dist", "A.3")
c1, c2, c3 = st.columns(3)
dname = c1.selectbox(t("appendix.dist.dist"), list(amath.DISTRIBUTIONS), key="appendix_dist",
                     format_func={k: t(f"appendix.dist.names.{k}") for k in amath.DISTRIBUTIONS}.get)
_, spec, _ = amath.DISTRIBUTIONS[dname]
values = [c2.slider(name, float(lo), float(hi), float(default), key=f"appendix_{dname}_{name}")
          for name, default, lo, hi in spec]
n = c3.select_slider(t("appendix.dist.n"), [100, 500, 2000, 10000, 50000], 2000, key="appendix_n")
bins = c3.slider(t("appendix.dist.bins"), 5, 100, 40, key="appendix_bins")
seed = c3.number_input(t("appendix.dist.seed"), 0, 10_000, 0, key="appendix_seed")
dsettings = amath.SampleSettings(dist=dname, p1=values[0], p2=values[1] if len(values) > 1 else 1.0, n=n,
                                 bins=bins, seed=int(seed))
try:
    drawn = amath.sample_distribution(dsettings)
    st.plotly_chart(amath.distribution_figure(drawn, {k: t(f"appendix.dist.{k}") for k in ("samples", "density")}
                                              | {"title": t("appendix.dist.chart")}), key="appendix_dist_fig")
    m1, m2, m3 = st.columns(3)
    m1.metric(t("appendix.dist.mean"), f"{drawn['sample_mean']:.3f} ({drawn['mean']:.3f})")
    m2.metric(t("appendix.dist.var"), f"{drawn['sample_var']:.3f} ({drawn['variance']:.3f})")
    m3.metric(t("appendix.dist.tv"), f"{amath.total_variation(drawn):.3f}")
except HeroError as err:
    layout.show_error(err)
layout.code_panel([amath.SampleSettings, amath.sample_distribution], "appendix_distributions.py", "appendix_dist",
                  script=takehome.script(amath.sample_distribution, amath.SampleSettings, amath.total_variation,
                                         filename="appendix_distributions.py",
                                         main=f"r = sample_distribution({dsettings!r})\n"
                                              "print('sample mean', r['sample_mean'], 'mean', r['mean'], "
                                              "'gap', total_variation(r))"))

# B. best practices --------------------------------------------------------------------------------
layout.section("appendix.practices", "B")
pid = st.selectbox(t("appendix.practices.pick"), list(practices.BY_ID), key="appendix_practice",
                   format_func={k: t(f"appendix.practices.{k}.title") for k in practices.BY_ID}.get)
practice = practices.BY_ID[pid]
st.markdown(f"**{t('appendix.practices.why')}:** {t(f'appendix.practices.{pid}.why')}")
if practice.see[0]:
    st.caption(t("appendix.guide.see", where=where(*practice.see)))
halves = st.columns(2)
halves[0].markdown(f":material/close: **{t('appendix.common.dont')}**")
halves[0].code(practice.dont, language="python")
halves[1].markdown(f":material/check: **{t('appendix.common.do')}**")
halves[1].code(practice.do, language="python")
if st.button(t("appendix.practices.run"), icon=":material/play_arrow:", key="appendix_practice_run"):
    with st.spinner(t("appendix.guide.running")):
        S["appendix_practice_out"] = (pid, practices.run_practices([pid])[pid])
if (kept := S.get("appendix_practice_out")) and kept[0] == pid:
    for col, run in zip(halves, kept[1]):
        col.code(run.stdout or f"{run.type}: {run.message}", language="text")
layout.code_panel(practices.takehome_script(pid), f"appendix_practice_{pid}.py", "appendix_practice")

# C. the error guide (beyond) ----------------------------------------------------------------------
layout.section("appendix.guide", "C")
guide.prewarm()     # a child Python imports torch while the visitor reads: the first run then takes < 1 s
titles = {e.id: t(f"appendix.errors.{e.id}.title") for e in guide.ENTRIES}
query = st.text_input(t("appendix.guide.search"), placeholder=t("appendix.guide.placeholder"), key="appendix_query")
found = [i for i, _ in guide.find_errors(query, titles, limit=len(guide.ENTRIES))] if query.strip() else []
if query.strip():
    st.caption(t("appendix.guide.count", n=len(found)) if found else t("appendix.guide.no_match"))
options = found or list(guide.BY_ID)
wanted = st.query_params.get("error")
if wanted in options and "appendix_entry" not in S:
    S["appendix_entry"] = wanted
if S.get("appendix_entry") not in options:
    S.pop("appendix_entry", None)
eid = st.selectbox(t("appendix.guide.pick"), options, key="appendix_entry", format_func=titles.get)
entry = guide.BY_ID[eid]
if entry.see[0]:
    st.caption(t("appendix.guide.see", where=where(*entry.see)))
c1, c2 = st.columns(2)
c1.markdown(f":material/bug_report: **{t('appendix.guide.broken')}**")
c1.code(entry.broken, language="python")
c2.markdown(f":material/check_circle: **{t('appendix.guide.fixed')}**")
c2.code(entry.fixed, language="python")


@st.cache_data(show_spinner=False, max_entries=64)
def entry_run(entry_id: str, torch_version: str) -> guide.EntryRun:
    """One live run per entry and torch version (the outcome depends on nothing else)."""
    return guide.run_entry(entry_id)


if st.button(t("appendix.guide.run"), type="primary", icon=":material/play_arrow:", key="appendix_run"):
    with st.spinner(t("appendix.guide.running")):
        S["appendix_result"] = entry_run(eid, torch.__version__)
if (done := S.get("appendix_result")) is not None and done.id == eid:
    broken, fixed = done.broken, done.fixed
    if broken.timed_out:
        st.warning(t("appendix.guide.timed_out"))
    elif broken.ok:
        st.warning(t("appendix.guide.no_error"))
    else:
        st.markdown(t("appendix.guide.raised", type=f"`{broken.module}.{broken.type}`"
                      if broken.module not in (None, "builtins") else f"`{broken.type}`"))
        st.code(broken.message, language="text", wrap_lines=True)
        with st.expander(t("appendix.guide.traceback"), icon=":material/list:"):
            st.code(broken.traceback, language="text")
    if done.as_documented:
        st.success(t("appendix.guide.documented", type=entry.error), icon=":material/verified:")
    else:
        st.error(t("appendix.guide.not_documented", version=torch.__version__, type=entry.error))
    if fixed.ok:
        st.markdown(t("appendix.guide.fixed_ok"))
        st.code(fixed.stdout or "(no output)", language="text")
    else:
        st.error(t("appendix.guide.fixed_failed", message=f"{fixed.type}: {fixed.message}"))
st.markdown(f"**{t('appendix.guide.cause')}.** {t(f'appendix.errors.{eid}.cause')}")
st.markdown(f"**{t('appendix.guide.fix')}.** {t(f'appendix.errors.{eid}.fix')}")
layout.code_panel(guide.takehome_script(eid), f"appendix_error_{eid}.py", "appendix_error")


def draw_all(run: runner.Run) -> None:
    if rows := run.of_kind("progress"):
        st.progress(rows[-1]["done"] / rows[-1]["total"], text=f"{rows[-1]['done']}/{rows[-1]['total']}")


checked = runner.section("appendix_all", lambda stop, emit: guide.check_all(stop, emit), button=t(
    "appendix.guide.run_all"), render=draw_all, primary=False, icon=":material/checklist:")
if checked:
    st.markdown(t("appendix.guide.run_all_done", ok=sum(r["as_documented"] for r in checked), n=len(checked),
                  version=torch.__version__, seconds=f"{sum(r['seconds'] for r in checked):.1f}"))
    st.dataframe(pd.DataFrame(checked).rename(columns={"id": t("appendix.guide.table_id"), "raised": t(
        "appendix.guide.table_type"), "as_documented": t("appendix.guide.table_ok")}), key="appendix_all_table")

# C.2 will it fit? (the out-of-memory entry, estimated live) ---------------------------------------
layout.section("appendix.oom", "C.2")
c1, c2, c3, c4, c5 = st.columns(5)
width = c1.select_slider(t("appendix.oom.width"), [256, 512, 1024, 2048, 4096, 8192, 16384], 4096, key="appendix_w")
depth = c2.slider(t("appendix.oom.depth"), 1, 48, 8, key="appendix_depth")
batch = c3.select_slider(t("appendix.oom.batch"), [1, 16, 64, 256, 1024, 4096, 16384, 65536], 256, key="appendix_b")
dtype = c4.selectbox(t("appendix.oom.dtype"), list(guide.DTYPE_BYTES), key="appendix_dtype")
optim = c5.selectbox(t("appendix.oom.optimizer"), list(guide.OPTIMIZER_STATES), index=2, key="appendix_optim")
need = guide.memory_estimate(width, depth, batch, dtype, optim)
dev = layout.device()
free = guide.free_memory("cuda" if dev == "cuda" else "cpu")
parts = ("weights", "grads", "optimizer", "activations", "total")
names = {"optimizer": t("appendix.oom.optimizer_states")} | {p: t(f"appendix.oom.{p}") for p in parts if p != "optimizer"}
st.dataframe(pd.DataFrame({t("appendix.oom.part"): [names[p] for p in parts],
                           t("appendix.oom.mib"): [round(need[p] / 2 ** 20, 1) for p in parts]}), key="appendix_oom_table",
             hide_index=True)
st.markdown(t("appendix.oom.free", device=dev, free=f"{free / 2 ** 30:.1f}", need=f"{need['total'] / 2 ** 30:.2f}"))
if need["total"] <= 0.5 * free:
    st.success(t("appendix.oom.fits"))
else:
    st.warning(t("appendix.oom.does_not_fit", batch=guide.largest_batch(width, depth, free, dtype, optim)))
layout.code_panel(guide.memory_estimate, "appendix_memory.py", "appendix_oom", script=takehome.script(
    guide.memory_estimate, guide.free_memory, guide.largest_batch, filename="appendix_memory.py",
    main=f"print(memory_estimate({width}, {depth}, {batch}, {dtype!r}, {optim!r}))\n"
         f"print('largest batch in half the free memory:', largest_batch({width}, {depth}, free_memory('cpu'), "
         f"{dtype!r}, {optim!r}))"))

# D. resources -------------------------------------------------------------------------------------
layout.section("appendix.resources", "D")
for col, kind in zip(st.columns(3), ("books", "courses", "communities")):
    col.markdown(f"#### {t(f'appendix.resources.{kind}')}")
    col.markdown("\n".join(f"- [{r.name}]({r.url}) — {t(f'appendix.resources.items.{r.id}')} "
                           f"_({t('appendix.resources.languages')}: {r.languages})_"
                           for r in practices.RESOURCES if r.kind == kind))

# E. glossary --------------------------------------------------------------------------------------
layout.section("appendix.glossary", "E")
term_query = st.text_input(t("appendix.glossary.search"), key="appendix_term")
terms = glossary.search_terms(term_query)
st.caption(t("appendix.glossary.count", shown=len(terms), total=len(glossary.TERMS)))
links = [glossary.link(term) for term in terms]
table = pd.DataFrame({t("appendix.glossary.en"): [x.en for x in terms], t("appendix.glossary.zh"): [x.zh for x in terms],
                      t("appendix.glossary.where"): [where_text(x.chapter, x.section) for x in terms],
                      t("appendix.glossary.link"): [k["url"] and f"{k['url']}?lang={lang()}" for k in links]})
st.dataframe(table, key="appendix_glossary", hide_index=True, column_config={
    t("appendix.glossary.link"): st.column_config.LinkColumn(display_text=t("appendix.glossary.link"))})

# F. search the whole gallery ----------------------------------------------------------------------
layout.section("appendix.search", "F")
gallery_query = st.text_input(t("appendix.search.label"), key="appendix_search")
if gallery_query.strip():
    hits = search.search(gallery_query, lang())
    st.markdown("\n".join(search.markdown_lines(hits, lang())) if hits else t("appendix.search.none"))
