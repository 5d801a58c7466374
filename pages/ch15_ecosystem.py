"""Chapter 15 — the ecosystem: Lightning, Captum, Optuna, PyG (widgets → core.lessons.ch15_ecosystem → figures)."""
import pandas as pd
import streamlit as st

from core import viz
from core.device import preset
from core.errors import HeroError
from core.lessons import ch15_ecosystem as pkg
from core.lessons.ch08_nlp.sentiment import coloured_tokens_html
from core.lessons.ch08_nlp.tokens import Vocab
from core.lessons.ch15_ecosystem import attributions as attr
from core.lessons.ch15_ecosystem import chooser, gnn
from core.lessons.ch15_ecosystem import figures as fig
from core.lessons.ch15_ecosystem import lightning_run as lit
from core.lessons.ch15_ecosystem import scripts as scr
from core.lessons.ch15_ecosystem import study as opt
from ui import cache, layout, runner, shelf
from ui.i18n import t

P = pkg.PRESETS[preset(layout.device_info())]
DEVICE = layout.device()
S = st.session_state
layout.chapter_header("ch15")
SHIPPED = {t("ch15.captum.shipped"): lambda: cache.checkpoint("ch05_digits_cnn")[0]}
RUN_NAMES = {"plain": t("ch15.lit.plain"), "lightning": "Lightning"}

# 15.1 Lightning --------------------------------------------------------------------------------------
layout.section("ch15.lit", "15.1")
c1, c2, c3 = st.columns(3)
ls = lit.LitSettings(epochs=c1.slider(t("ch15.lit.epochs"), 1, 30, P["lit_epochs"], key="ch15_lit_epochs"),
                     lr=c2.select_slider(t("ch15.lit.lr"), [1e-3, 3e-3, 1e-2], 3e-3, key="ch15_lit_lr"),
                     batch_size=c3.select_slider(t("ch15.lit.batch"), [16, 32, 64], 32, key="ch15_lit_batch"),
                     device=DEVICE)


def by_run(run: runner.Run) -> dict:
    runs: dict = {}
    for e in run.of_kind("eval"):
        runs.setdefault(RUN_NAMES[e["run"]], []).append(e)
    return runs


def draw_lit(run: runner.Run) -> None:
    if run.active and (runs := by_run(run)):      # once finished, the overlay below takes over
        st.plotly_chart(viz.curves(runs, ["val_loss", "val_acc"]), key=f"ch15_lit_live_{len(run.events)}")


def shelve_lit(r: dict) -> None:
    if "lightning" in r and r["lightning"].ok:
        shelf.put("ch15", "digits-classifier", r["lightning"].model, "ch15 Lightning CNN 8×8",
                  metric=f"val_acc {r['lightning'].end.get('val_acc', 0):.1%}", info={"image_size": 8})


lr_ = runner.section("ch15_lit", lambda stop, emit, s=ls: lit.compare_loops(s, stop, emit), button=t("ch15.lit.run"),
                     render=draw_lit, on_result=shelve_lit, accept=lambda r: all(v.ok for v in r.values()))
if lr_ is not None:
    st.plotly_chart(viz.curves({RUN_NAMES[k]: v.history for k, v in lr_.items()}, ["val_loss", "val_acc"],
                               title=t("ch15.lit.curves")), key="ch15_lit_curves")
    cols = st.columns(len(lr_) + 1)
    for col, (k, v) in zip(cols, lr_.items()):
        col.metric(RUN_NAMES[k], f"{v.end.get('val_acc', 0):.1%}", f"{v.end['seconds']:.1f} s", delta_color="off",
                   delta_arrow="off")
    if len(lr_) == 2:
        cols[-1].metric(t("ch15.lit.ratio"), f"{lr_['lightning'].end['seconds'] / lr_['plain'].end['seconds']:.2f}×")
        with st.expander(t("ch15.lit.logged"), icon=":material/table_view:"):
            st.dataframe(pd.DataFrame(lr_["lightning"].logged), key="ch15_lit_logged")
c1, c2 = st.columns(2)
with c1:
    layout.code_panel([lit.lit_digits_class, lit.stream_callback, lit.train_lightning], "ch15_lightning.py",
                      "ch15_lit_code", label="Lightning", script=scr.lightning_script(ls))
with c2:
    layout.code_panel(lit.train_plain, "ch15_lightning.py", "ch15_plain_code", label=t("ch15.lit.plain"),
                      script=scr.lightning_script(ls))     # one download runs both loops side by side

# 15.2 Captum ---------------------------------------------------------------------------------------
layout.section("ch15.captum", "15.2")
st.info(t("ch15.captum.insights"), icon=":material/info:")
c1, c2, c3 = st.columns(3)
with c1:
    picked, model = shelf.picker("ch15_captum_pick", "digits-classifier", shipped=SHIPPED)
ds = attr.DigitAttrSettings(index=int(c2.number_input(t("ch15.captum.index"), 0, 358, 0, key="ch15_captum_index")),
                            ig_steps=c3.select_slider(t("ch15.captum.steps"), [8, 16, 32, 64, 128], P["ig_steps"],
                                                      key="ch15_captum_steps"), device=DEVICE)
try:
    with st.spinner(t("ch15.captum.loading")):     # the first call imports Captum (seconds on 2 cores)
        ex = attr.explain_validation_digit(model, ds)
    st.plotly_chart(fig.attribution_maps(ex, {"image": t("ch15.captum.digit", label=ex["label"]),
                                              **{m: t(f"ch15.captum.{m}") for m in attr.METHODS}},
                                         t("ch15.captum.chart", target=ex["target"], p=f"{ex['probs'][ex['target']]:.0%}")),
                    key="ch15_captum_maps")
    c1, c2, c3 = st.columns(3)
    c1.metric(t("ch15.captum.ig_sum"), f"{ex['ig_sum']:.4f}")
    c2.metric(t("ch15.captum.gap"), f"{ex['output_gap']:.4f}")
    c3.metric(t("ch15.captum.delta"), f"{ex['ig_delta']:.1e}")
except HeroError as err:
    layout.show_error(err)
layout.code_panel(attr.explain_digit, "ch15_captum_digits.py", "ch15_captum_code", script=scr.captum_script(ds))

st.subheader(t("ch15.tokens.title"))
st.markdown(t("ch15.tokens.intro"))
own = shelf.current().items("sentiment")
sent = runner.section("ch15_sent", lambda stop, emit: attr.quick_sentiment(P["sent_limit"], P["sent_epochs"], DEVICE,
                                                                           stop, emit),
                      button=t("ch15.tokens.train"), primary=not own, accept=lambda r: r.ok)
choices = {i.name: (i.model, Vocab(i.info["vocab"]), i.info.get("max_len", 64), i.info.get("source", "en")) for i in own}
if sent is not None:
    choices[t("ch15.tokens.quick", acc=f"{sent.end.get('val_acc', 0):.0%}")] = (sent.model, sent.vocab, 40, "en")
if choices:
    c1, c2 = st.columns([1, 2])
    name = c1.selectbox(t("ch15.tokens.model"), list(choices), key="ch15_tokens_model")
    smodel, vocab, max_len, source = choices[name]
    text = c2.text_input(t("ch15.tokens.text"), attr.EXAMPLE_REVIEWS["zh" if source == "zh" else "en"],
                         key="ch15_tokens_text")
    try:
        ta = attr.token_attributions(smodel, vocab, text, max_len, ig_steps=P["ig_steps"])
        st.markdown(coloured_tokens_html(ta["tokens"], attr.normalised(ta["scores"]), zh=source == "zh"),
                    unsafe_allow_html=True)
        st.caption(t("ch15.tokens.result", p=f"{ta['p_pos']:.0%}", delta=f"{ta['delta']:.1e}",
                     unknown=sum(not k for k in ta["known"])))
    except HeroError as err:
        layout.show_error(err)
else:
    st.caption(t("ch15.tokens.none"))
layout.code_panel(attr.token_attributions, "ch15_captum_tokens.py", "ch15_tokens_code", script=scr.tokens_script(P))

# 15.3 Optuna ---------------------------------------------------------------------------------------
layout.section("ch15.optuna", "15.3")
c1, c2 = st.columns(2)
so = opt.StudySettings(n_trials=int(c1.number_input(t("ch15.optuna.trials"), 1, 200, P["trials"], key="ch15_trials")),
                       epochs=int(c2.number_input(t("ch15.optuna.epochs"), 1, 100, P["trial_epochs"], key="ch15_tepochs")),
                       device=DEVICE)
try:
    budget = opt.check_budget(so)
    st.caption(t("ch15.optuna.budget", budget=budget, limit=opt.MAX_TRIAL_EPOCHS.get(DEVICE.split(":")[0], 80)))
except HeroError as err:
    budget = None
    layout.show_error(err)
T_LABELS = {"epoch": t("ch15.optuna.epoch"), "val_acc": "val_acc", "title": t("ch15.optuna.live")}


def draw_study(run: runner.Run) -> None:
    states = {e["number"]: e["state"] for e in run.of_kind("trial")}
    if run.active and (epochs := run.of_kind("trial_epoch")):
        st.plotly_chart(fig.trial_curves(epochs, states, T_LABELS), key=f"ch15_trials_live_{len(run.events)}")


study = runner.section("ch15_study", lambda stop, emit, s=so: opt.run_study(s, stop, emit), button=t("ch15.optuna.run"),
                       render=draw_study, disabled=budget is None)
if study is not None:
    st.plotly_chart(fig.trial_curves([{"trial": tr["number"], "epoch": i, "val_acc": v} for tr in study.trials
                                      for i, v in enumerate(tr["curve"])], {tr["number"]: tr["state"] for tr in study.trials},
                                     T_LABELS), key="ch15_trials_done")
    st.dataframe(pd.DataFrame([{"#": tr["number"], t("ch15.optuna.state"): t(f"ch15.optuna.{tr['state']}"),
                                "val_acc": tr["value"], **tr["params"], "s": round(tr["seconds"], 1)}
                               for tr in study.trials]), key="ch15_trials_table", hide_index=True)
    st.markdown(t("ch15.optuna.result", n=len(study.trials), pruned=sum(tr["state"] == "pruned" for tr in study.trials),
                  rate=f"{opt.trials_per_minute(study):.1f}", best=study.best))
    st.download_button(t("ch15.optuna.download"), study.storage, "ch15_study.db", "application/vnd.sqlite3",
                       key="ch15_study_db", icon=":material/download:")
    figs = opt.figures(study.study)
    tabs = st.tabs([t(f"ch15.optuna.fig.{k}") for k in ("history", "parallel", "importance", "contour", "intermediate")])
    for tab, k in zip(tabs, ("history", "parallel", "importance", "contour", "intermediate")):
        with tab:
            if figs.get(k) is not None:
                st.plotly_chart(figs[k], key=f"ch15_optuna_{k}")
            else:
                st.caption(t("ch15.optuna.cannot", why=figs.get(f"{k}_why", "")))
    # beyond: what the best and the worst trial's models look at
    st.subheader(t("ch15.beyond.title"))
    st.markdown(t("ch15.beyond.intro"))
    if study.best is not None and len(study.models) == 2:
        names = {t("ch15.beyond.best", n=study.best): study.models[study.best],
                 t("ch15.beyond.worst", n=study.worst): study.models[study.worst]}
        cmp = attr.compare_models(names, n=6, ig_steps=P["ig_steps"])
        st.plotly_chart(fig.model_comparison(cmp, {"digits": t("ch15.beyond.digits")}), key="ch15_beyond_maps")
        st.caption(t("ch15.beyond.read"))
    else:
        st.caption(t("ch15.beyond.need_two"))
layout.code_panel([opt.suggest, opt.pruning_callback, opt.run_study], "ch15_optuna.py", "ch15_optuna_code",
                  script=scr.optuna_script(so))

# 15.4 GNN ------------------------------------------------------------------------------------------
layout.section("ch15.gnn", "15.4")
c1, c2 = st.columns(2)
convs = {"plain": t("ch15.gnn.plain"), "pyg": "torch_geometric GCNConv"}
gs = gnn.GNNSettings(conv=c1.radio(t("ch15.gnn.conv"), list(convs), format_func=convs.get, horizontal=True,
                                   key="ch15_gnn_conv"),
                     epochs=c2.slider(t("ch15.gnn.epochs"), 10, 400, P["gnn_epochs"], 10, key="ch15_gnn_epochs"),
                     frames=P["gnn_frames"], device=DEVICE)
G_LABELS = {"frame": t("ch15.gnn.frame"), "play": t("ch15.gnn.play"), "epoch": t("ch15.optuna.epoch")}
gr_ = runner.section("ch15_gnn", lambda stop, emit, s=gs: gnn.train_gnn(s, stop, emit), button=t("ch15.gnn.run"))
if gr_ is not None and gr_.frames:
    st.plotly_chart(fig.graph_animation(gr_.frames, gr_.graph, G_LABELS), key="ch15_gnn_anim")
    st.markdown(t("ch15.gnn.result", acc=f"{gr_.accuracy:.0%}", conv=convs[gr_.settings["conv"]],
                  seconds=f"{gr_.seconds:.1f}"))
if st.button(t("ch15.gnn.check"), key="ch15_gnn_same", icon=":material/compare_arrows:"):
    S["ch15_gnn_same_out"] = gnn.same_outputs()
if (same := S.get("ch15_gnn_same_out")) is not None:
    st.success(t("ch15.gnn.same", diff=f"{same['max_abs_diff']:.1e}", n=same["n_params"]))
layout.code_panel([gnn.train_gnn, gnn.same_outputs], "ch15_gnn.py", "ch15_gnn_code", script=scr.gnn_script(gs))

# 15.5 chooser --------------------------------------------------------------------------------------
layout.section("ch15.chooser", "15.5")
rows = chooser.chooser_rows()
st.dataframe(pd.DataFrame([{t("ch15.chooser.library"): r["name"], t("ch15.chooser.job"): t(f"ch15.chooser.jobs.{r['job']}"),
                            t("ch15.chooser.here"): (f"✓ {r['version']}" if r["installed"] else "—"),
                            t("ch15.chooser.chapter"): r["chapter"], "pip": r["pip"]} for r in rows]),
             key="ch15_chooser", hide_index=True, height=36 * (len(rows) + 1) + 4)
st.markdown(t("ch15.chooser.advice"))
layout.code_panel(chooser.chooser_rows, "ch15_chooser.py", "ch15_chooser_code", script=scr.chooser_script())
