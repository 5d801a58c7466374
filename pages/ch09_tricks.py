"""Chapter 9 — training tricks and debugging (widgets → core.lessons.ch09_tricks → figures)."""
import os
import tempfile

import pandas as pd
import streamlit as st

from core import viz
from core.device import preset
from core.errors import HeroError
from core.lessons import ch09_tricks as lesson
from ui import cache, layout, runner, shelf
from ui.i18n import t

P = lesson.PRESETS[preset(layout.device_info())]
DEVICE = layout.device()
S = st.session_state
layout.chapter_header("ch09")
if "ch09_logdir" not in S:   # this visitor's own TensorBoard folders: 9.5's runs, and the 实战's apart
    S["ch09_logdir"] = tempfile.mkdtemp(prefix="hero-ch09-tb-")
    S["ch09_tune_logdir"] = tempfile.mkdtemp(prefix="hero-ch09-tune-")


def which_run(run: runner.Run, names: dict) -> None:
    """Several runs share one section: say which one the progress bar above is counting."""
    if run.active and (steps := run.of_kind("step")):
        e = steps[-1]
        st.caption(t("ch09.common.progress", run=names.get(e.get("run"), e.get("run")), epoch=e["epoch"] + 1,
                     step=e["step"], loss=f"{e['loss']:.4f}"))



# 9.1–9.2 regularisation and overfitting ------------------------------------------------------
layout.section("ch09.overfit", "9.1–9.2")
vlabels = {v: t(f"ch09.variant.{v}") for v in lesson.VARIANTS}
c1, c2, c3, c4 = st.columns(4)
per_class = c1.slider(t("ch09.overfit.per_class"), 5, 50, P["per_class"], 5, key="ch09_per_class")
o_epochs = c2.slider(t("ch09.overfit.epochs"), 1, 100, P["overfit_epochs"], key="ch09_o_epochs")
wd = c3.select_slider(t("ch09.overfit.weight_decay"), [1e-4, 1e-3, 1e-2, 3e-2, 1e-1], 1e-2, key="ch09_wd")
dropout = c4.select_slider(t("ch09.overfit.dropout"), [0.2, 0.3, 0.5, 0.7], 0.5, key="ch09_dropout")
variants = st.multiselect(t("ch09.overfit.variants"), list(lesson.VARIANTS), list(lesson.VARIANTS),
                          format_func=vlabels.get, key="ch09_variants")
osettings = lesson.OverfitSettings(per_class=per_class, epochs=o_epochs, weight_decay=wd, dropout=dropout,
                                   variants=tuple(variants) or ("none",), device=DEVICE)
lab = S.get("ch09_overfit")
rows = lesson.gap_table(lab) if lab else []
smallest = min(rows, key=lambda r: r["gap"]) if rows else None
layout.predict_then_run("ch09_gap", t("ch09.overfit.question"), [vlabels[v] for v in lesson.VARIANTS],
                        vlabels[smallest["run"]] if smallest else None)
def overfit_figures(evals_by_run: dict, key: str) -> None:
    named = {vlabels[k]: v for k, v in evals_by_run.items() if v}
    if named:
        c1, c2 = st.columns(2)
        c1.plotly_chart(viz.curves(named, ["train_loss", "val_loss"], title=t("ch09.overfit.loss")), key=f"{key}_l")
        c2.plotly_chart(viz.curves(named, ["train_acc", "val_acc"], title=t("ch09.overfit.acc")), key=f"{key}_a")


def draw_overfit(run: runner.Run) -> None:
    which_run(run, vlabels)
    if run.active:
        evals = run.of_kind("eval")
        overfit_figures({v: [e for e in evals if e["run"] == v] for v in lesson.VARIANTS}, "ch09_o_live")


lab = runner.section("ch09_overfit", lambda stop, emit, s=osettings: lesson.run_overfit_lab(s, stop, emit),
                     button=t("ch09.overfit.button"), render=draw_overfit, state_key="ch09_overfit")
if lab:
    overfit_figures({k: r["history"] for k, r in lab.items()}, "ch09_o_done")
    st.markdown(f"**{t('ch09.overfit.table')}**")
    table = pd.DataFrame(rows).assign(run=lambda df: df["run"].map(vlabels)).set_index("run")
    st.dataframe(table.style.format("{:.3f}", subset=["train_acc", "val_acc", "gap", "train_loss", "val_loss"]),
                 key="ch09_gap_table")
    best = max(rows, key=lambda r: r["val_acc"])
    st.markdown(t("ch09.overfit.smallest_gap", run=vlabels[smallest["run"]], gap=f"{smallest['gap']:.1%}",
                  best=vlabels[best["run"]], acc=f"{best['val_acc']:.1%}"))
    st.caption(t("ch09.common.differs") + ": " + "; ".join(f"{vlabels[k]}: " + (", ".join(
        f"`{n}={v}`" for n, v in r["differs"].items()) or "—") for k, r in lab.items()))
    st.caption(t("ch09.overfit.explain"))
layout.code_panel([lesson.RandomShift, lesson.variant_setup, lesson.run_overfit_lab], "ch09_overfit.py", "ch09_o",
                  script=lesson.overfit_script(osettings))

# 9.3 LR finder ---------------------------------------------------------------------------------
layout.section("ch09.lr", "9.3")
c1, c2, c3 = st.columns(3)
arch = c1.selectbox(t("ch09.lr.arch"), ["small_cnn", "mlp"], key="ch09_lr_arch")
lr_opt = c1.selectbox(t("ch09.lr.optimizer"), ["adam", "sgd", "momentum"], key="ch09_lr_opt")
flabels = {k: t(f"ch09.lr.{k}") for k in ("raw", "smoothed", "steepest", "min_over_10")}
lr_range = [1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1.0, 10.0]
lr_min = c2.select_slider(t("ch09.lr.lr_min"), lr_range, 1e-5, key="ch09_lr_min")
lr_max = c2.select_slider(t("ch09.lr.lr_max"), lr_range, 1.0, key="ch09_lr_max")
lr_steps = c3.slider(t("ch09.lr.steps"), 20, 300, P["finder_steps"], 10, key="ch09_lr_steps")
if c3.button(t("ch09.lr.button"), icon=":material/search:", key="ch09_lr_run"):
    split = lesson.digits_split()
    try:
        S["ch09_lr"] = lesson.lr_finder(lesson.finder_model(arch), split.X_train, split.y_train, lr_min, lr_max,
                                        lr_steps, lr_opt, device=DEVICE)
    except HeroError as err:
        layout.show_error(err)
if (finder := S.get("ch09_lr")) is not None:
    st.plotly_chart(lesson.lr_finder_figure(finder, {**flabels, "title": t("ch09.lr.chart")}), key="ch09_lr_fig")
    c1, c2, c3 = st.columns(3)
    c1.metric(t("ch09.lr.steepest"), f"{finder['steepest']:.2e}")
    c2.metric(t("ch09.lr.min_over_10"), f"{finder['min_over_10']:.2e}")
    c3.metric(t("ch09.lr.min_lr"), f"{finder['min_lr']:.2e}")
    if finder["stopped_early"]:
        st.caption(t("ch09.lr.stopped_early", n=len(finder["lrs"]), total=len(finder["schedule"])))
    st.markdown(t("ch09.lr.explain"))
layout.code_panel([lesson.lr_schedule, lesson.lr_finder], "ch09_lr_finder.py", "ch09_lr",
                  script=lesson.lr_finder_script(arch, lr_min, lr_max, lr_steps, lr_opt))

# 9.4 gradient clipping ---------------------------------------------------------------------------
layout.section("ch09.clip", "9.4")
c1, c2, c3 = st.columns(3)
cdepth = c1.slider(t("ch09.clip.depth"), 2, 12, 8, key="ch09_clip_depth")
clr = c2.select_slider(t("ch09.clip.lr"), [0.05, 0.1, 0.2, 0.5, 1.0], 0.5, key="ch09_clip_lr")
max_norm = c3.select_slider(t("ch09.clip.max_norm"), [0.1, 0.25, 0.5, 1.0, 2.0, 5.0], 1.0, key="ch09_max_norm")
csettings = lesson.ClipSettings(depth=cdepth, lr=clr, max_norm=max_norm, epochs=P["clip_epochs"], device=DEVICE)
clabels = {k: t(f"ch09.clip.{k}") for k in ("no_clip", "clip")}


def clip_figures(steps_by_run: dict, s: lesson.ClipSettings, key: str) -> None:
    named = {clabels[k]: v for k, v in steps_by_run.items() if v}
    c1, c2, c3 = st.columns(3)
    c1.plotly_chart(lesson.step_figure(named, "grad_norm", t("ch09.clip.grad_norm"), threshold=s.max_norm,
                                       threshold_label=t("ch09.clip.threshold")), key=f"{key}_g")
    c2.plotly_chart(lesson.step_figure(named, "loss", t("ch09.clip.loss")), key=f"{key}_l")
    c3.plotly_chart(lesson.step_figure(named, "update_norm", t("ch09.clip.update"), threshold=s.lr * s.max_norm,
                                       threshold_label=t("ch09.clip.bound")), key=f"{key}_u")


def draw_clip(run: runner.Run) -> None:
    which_run(run, clabels)
    if run.active:
        steps = run.of_kind("step")
        clip_figures({k: [e for e in steps if e["run"] == k] for k in clabels}, csettings, "ch09_c_live")


clipped = runner.section("ch09_clip", lambda stop, emit, s=csettings: lesson.run_clipping(s, stop, emit),
                         button=t("ch09.clip.button"), render=draw_clip, state_key="ch09_clip",
                         icon=":material/content_cut:")
if clipped is not None and set(clipped["runs"]) == set(clabels):   # not a stopped run
    clip_figures({k: r["steps"] for k, r in clipped["runs"].items()}, clipped["settings"], "ch09_c_done")
    cs = clipped["runs"]["clip"]["steps"]
    c1, c2 = st.columns(2)
    c1.metric(t("ch09.clip.max_pre"), f"{max((e['grad_norm'] for e in cs), default=0):.3g}")
    c2.metric(t("ch09.clip.max_update"), f"{max((e['update_norm'] for e in cs), default=0):.3g}")
    acc = {k: r["history"][-1]["val_acc"] if r["history"] else float("nan") for k, r in clipped["runs"].items()}
    st.caption(t("ch09.clip.final_acc", a=f"{acc['no_clip']:.1%}", b=f"{acc['clip']:.1%}"))
layout.code_panel([lesson.UpdateNorm, lesson.run_clipping], "ch09_clipping.py", "ch09_clip",
                  script=lesson.clipping_script(csettings))

# 9.5 TensorBoard ----------------------------------------------------------------------------------
layout.section("ch09.tb", "9.5")
tb_epochs = st.slider(t("ch09.tb.epochs"), 1, 20, P["tb_epochs"], key="ch09_tb_epochs")
if st.button(t("ch09.tb.button"), icon=":material/monitoring:", key="ch09_tb_run"):
    lesson.prune_runs(S["ch09_logdir"], keep=3)
    n = S["ch09_tb_count"] = S.get("ch09_tb_count", 0) + 1
    done = lesson.tensorboard_demo(S["ch09_logdir"], f"mlp_run{n}", epochs=tb_epochs, device=DEVICE)
    S["ch09_tb"] = lesson.read_events(done["run_dir"])
if (tb := S.get("ch09_tb")) is not None:
    st.caption(t("ch09.tb.files", n=len(tb["files"]), scalars=len(tb["scalars"]), hists=len(tb["histograms"]),
                 graph=t("ch09.tb.yes") if tb["graph"] else t("ch09.tb.no")))
    c1, c2 = st.columns(2)
    c1.plotly_chart(lesson.scalars_figure(tb["scalars"], ["epoch/train_loss", "epoch/val_loss", "epoch/val_acc"],
                                          t("ch09.tb.scalars")), key="ch09_tb_scalars")
    c2.plotly_chart(lesson.scalars_figure(tb["scalars"], ["train/loss_step"], t("ch09.tb.step_loss")),
                    key="ch09_tb_steps")
    if tb["graph_nodes"]:
        st.plotly_chart(lesson.graph_figure(tb["graph_nodes"], t("ch09.tb.graph")), key="ch09_tb_graph")
        st.caption(t("ch09.tb.graph_caption", n=len(tb["graph_nodes"]), shown=len(lesson.visible_graph(tb["graph_nodes"])[0])))
    tag = st.selectbox(t("ch09.tb.hist_tag"), sorted(tb["histograms"]), key="ch09_tb_tag")
    if tag:
        st.plotly_chart(lesson.histogram_figure(tb["histograms"][tag], f"{t('ch09.tb.histograms')}: {tag}"),
                        key="ch09_tb_hist")
    st.download_button(t("ch09.tb.download"), lambda d=S["ch09_logdir"]: lesson.zip_logdir(d, "ch09_tensorboard"),
                       file_name="ch09_tensorboard.zip", icon=":material/download:", key="ch09_tb_zip")
    st.markdown(t("ch09.tb.command"))
    st.code(f"pip install tensorboard\nunzip ch09_tensorboard.zip\n{lesson.tensorboard_command('ch09_tensorboard')}",
            language="bash")
layout.code_panel([lesson.TensorBoardLogger, lesson.train_with_tensorboard, lesson.read_events, lesson.graph_nodes],
                  "ch09_tensorboard.py", "ch09_tb", script=lesson.tensorboard_script(tb_epochs))

# 9.6 debugging clinic -----------------------------------------------------------------------------
layout.section("ch09.clinic", "9.6")
blabels = {b: t(f"ch09.bugs.{b}.label") for b in lesson.BUGS}
measured = S.setdefault("ch09_clinic_runs", {})          # every bug this visitor ran: {bug: buggy + fixed}
answer = lesson.measured_answer(measured)                 # None until every bug has been run
guess = S.get("guess_ch09_bug")
layout.predict_then_run("ch09_bug", t("ch09.clinic.question"), list(blabels.values()), None if answer is None else (
    guess if guess in [blabels[b] for b in answer] else ", ".join(blabels[b] for b in answer) or t("ch09.clinic.none")))
if answer is None:
    st.caption(t("ch09.clinic.answer_pending", done=len(measured), total=len(blabels)))
c1, c2 = st.columns([3, 1])
bug = c1.selectbox(t("ch09.clinic.bug"), list(blabels), format_func=blabels.get, key="ch09_bug")
if c2.button(t("ch09.clinic.button"), type="primary", icon=":material/bug_report:", key="ch09_clinic_run"):
    S["ch09_clinic"] = (bug, lesson.run_clinic(bug, lesson.clinic_data(), P["clinic_steps"], device=DEVICE))
    measured[bug] = S["ch09_clinic"][1]
every = runner.section("ch09_clinic_all", lambda stop, emit, steps=P["clinic_steps"]: lesson.run_every_bug(
    lesson.clinic_data(), steps, device=DEVICE, stop_event=stop, emit=emit), button=t("ch09.clinic.run_all"),
    state_key="ch09_clinic_all", on_result=lambda r: S.setdefault("ch09_clinic_runs", {}).update(r),
    icon=":material/playlist_play:", primary=False)
if (clinic := S.get("ch09_clinic")) is None and every and bug in every:
    clinic = (bug, every[bug])
if clinic is not None:
    ran, res = clinic
    names = {k: t(f"ch09.clinic.{k}") for k in ("buggy", "fixed")}
    st.plotly_chart(lesson.clinic_figure(res, names, {k: t(f"ch09.clinic.{k}") for k in ("loss", "grad_norm", "val_acc")}),
                    key="ch09_clinic_fig")
    for k in ("buggy", "fixed"):
        if res[k]["error"] is not None:
            layout.show_error(res[k]["error"])
        elif res[k]["losses"]:
            st.caption(t("ch09.clinic.summary", name=names[k], loss=f"{res[k]['losses'][-1]:.3g}",
                         acc=f"{res[k]['val_acc'][-1]:.1%}" if res[k]["val_acc"] else "—"))
    with st.expander(t("ch09.clinic.reveal"), icon=":material/medical_services:"):
        st.markdown(f"**{t('ch09.clinic.diagnosis')}: {blabels[ran]}** — {t(f'ch09.bugs.{ran}.diagnosis')}")
        if ran == "wrong_device":
            where = lesson.bug_device(DEVICE)
            st.caption(t("ch09.clinic.meta_note") if where == "meta" else t("ch09.clinic.gpu_note", device=where))
        st.code(lesson.bug_diff(ran), language="diff")
    layout.code_panel(list(lesson.BUGS[ran]), f"ch09_clinic_{ran}.py", "ch09_clinic",
                      script=lesson.clinic_script(ran, P["clinic_steps"]))
if measured:
    st.markdown(f"**{t('ch09.clinic.measured')}**")
    st.dataframe(lesson.symptom_table(measured, blabels), key="ch09_clinic_table")
    st.caption(t("ch09.clinic.rule"))

# 9.6 hooks ----------------------------------------------------------------------------------------
layout.section("ch09.hooks", "9.6")
ilabels = {i: t(f"ch09.init.{i}") for i in ("tiny", "large", "default")}
c1, c2, c3 = st.columns(3)
bad_init = c1.selectbox(t("ch09.hooks.bad_init"), list(ilabels), format_func=ilabels.get, key="ch09_bad_init")
activation = c2.selectbox(t("ch09.hooks.activation"), ["relu", "tanh", "sigmoid"], key="ch09_hook_act")
hdepth = c3.slider(t("ch09.hooks.depth"), 2, 16, P["hook_depth"], key="ch09_hook_depth")
if st.button(t("ch09.hooks.button"), icon=":material/monitor_heart:", key="ch09_hooks_run"):
    S["ch09_hooks"] = lesson.compare_inits(bad_init, hdepth, activation, steps=P["clinic_steps"])
if (hooks := S.get("ch09_hooks")) is not None:
    hnames = {"healthy": t("ch09.hooks.healthy"), "bad": f"{t('ch09.hooks.bad')}: {ilabels.get(hooks['bad']['init'])}"}
    c1, c2 = st.columns(2)
    c1.plotly_chart(lesson.layer_stats_figure(hooks, "act_std", hnames, t("ch09.hooks.act_std")), key="ch09_h_std")
    c2.plotly_chart(lesson.layer_stats_figure(hooks, "act_grad", hnames, t("ch09.hooks.act_grad"), log_y=True),
                    key="ch09_h_grad")
    c1.plotly_chart(lesson.layer_stats_figure(hooks, "dead_frac", hnames, t("ch09.hooks.dead")), key="ch09_h_dead")
    c2.plotly_chart(lesson.lines_figure({hnames[k]: hooks[k]["losses"] for k in hnames}, t("ch09.hooks.losses")),
                    key="ch09_h_loss")
layout.code_panel([lesson.layer_statistics, lesson.compare_inits], "ch09_hooks.py", "ch09_hooks",
                  script=lesson.hooks_script(bad_init, hdepth, activation, P["clinic_steps"]))
st.markdown(f"**{t('ch09.hooks.model_title')}**")
c1, c2 = st.columns([3, 1])
with c1:
    picked, pmodel = shelf.picker("ch09_hooks_pick", "digits-classifier",
                                  shipped={t("ch09.tune.shipped"): lambda: cache.checkpoint("ch05_digits_cnn")[0]})
if c2.button(t("ch09.hooks.model_button"), icon=":material/monitor_heart:", key="ch09_hooks_model_run"):
    S["ch09_hooks_model"] = (picked, lesson.inspect_classifier(pmodel, DEVICE))
if (inspected := S.get("ch09_hooks_model")) is not None:
    st.plotly_chart(lesson.model_stats_figure(inspected[1], ("act_std", "act_grad", "weight_grad"), inspected[0]),
                    key="ch09_hooks_model_fig")
    st.caption(t("ch09.hooks.model_caption"))

# 9.7 reproducibility -------------------------------------------------------------------------------
layout.section("ch09.repro", "9.7")
c1, c2 = st.columns(2)
seed_a = c1.number_input(t("ch09.repro.seed_a"), 0, 2**31 - 1, 0, key="ch09_seed_a")
seed_b = c2.number_input(t("ch09.repro.seed_b"), 0, 2**31 - 1, 1, key="ch09_seed_b")
if st.button(t("ch09.repro.button"), icon=":material/replay:", key="ch09_repro_run"):
    S["ch09_repro"] = lesson.reproducibility(int(seed_a), int(seed_b), P["repro_steps"])
if (repro := S.get("ch09_repro")) is not None:
    rnames = {k: t(f"ch09.repro.{k}") for k in ("a1", "a2", "b", "unseeded")}
    st.plotly_chart(lesson.lines_figure({rnames[k]: v for k, v in repro["runs"].items()}, dashes=(rnames["a2"],)),
                    key="ch09_repro_fig")
    key = "identical" if repro["same_seed_identical"] else "not_identical"
    st.markdown(t(f"ch09.repro.{key}", diff=f"{repro['same_seed_diff']:.3g}") + " " + t(
        "ch09.repro.other", diff=f"{repro['other_seed_diff']:.3g}", unseeded=f"{repro['unseeded_diff']:.3g}"))
st.info(t("ch09.repro.deterministic"), icon=":material/info:")
layout.code_panel([lesson.repro_run, lesson.reproducibility], "ch09_repro.py", "ch09_repro",
                  script=lesson.repro_script(int(seed_a), int(seed_b), P["repro_steps"]))

# 9.8 实战: tune the ch05 / ch07 / ch08 models ---------------------------------------------------------
layout.section("ch09.tune", "9.8")
mlabels = {m: t(f"ch09.tune.model_{m}") for m in lesson.TUNE_MODELS}
tmodel = st.radio(t("ch09.tune.model"), list(mlabels), format_func=mlabels.get, horizontal=True, key="ch09_tune_model")
kind = lesson.SHELF_KINDS[tmodel]
c1, c2, c3, c4 = st.columns(4)
start, start_info, tdataset, tsource = None, None, "digits", "zh"
if tmodel == "digits_cnn":
    dlabels = {d: t(f"ch09.tune.{d}") for d in ("digits", "mnist5k")}
    tdataset = c1.radio(t("ch09.tune.dataset"), list(dlabels), format_func=dlabels.get, key="ch09_tune_ds")
else:
    with c1:   # a model from the visitor's shelf, or the chapter's own starting point
        picked_start, start = shelf.picker(f"ch09_tune_start_{tmodel}", kind, label=t("ch09.tune.start"),
                                           shipped={t(f"ch09.tune.fresh_{tmodel}"): lambda: None})
    start_info = next((i.info for i in shelf.current().items(kind)
                       if t("shelf.yours", name=i.name, metric=i.metric) == picked_start), None)
    if tmodel == "ch08_sentiment" and start is None:
        tsource = c1.radio(t("ch08.sent.source"), ["zh", "en"], key="ch09_tune_src",
                           format_func=lambda k: t(f"ch08.sent.source_{k}"))
tepochs = c2.slider(t("ch09.tune.epochs"), 1, 60, P[f"tune_epochs_{tmodel}"], key=f"ch09_tune_epochs_{tmodel}")
twd = c3.select_slider(t("ch09.tune.weight_decay"), [0.0, 1e-3, 1e-2, 5e-2, 1e-1], 1e-2, key="ch09_tune_wd")
tpat = c4.slider(t("ch09.tune.patience"), 1, 10, 4 if tmodel == "digits_cnn" else 2, key=f"ch09_tune_pat_{tmodel}")
tsettings = lesson.TuneSettings(model=tmodel, dataset=tdataset, epochs=tepochs, weight_decay=twd, patience=tpat,
                                finder_steps=P["finder_steps"], batch_size=32 if tdataset == "digits" else 64,
                                photos=P["tune_photos"], source=tsource, reviews=P["tune_reviews"], device=DEVICE)
st.caption(t(f"ch09.tune.recipe_{tmodel}"))
tnames = {k: t(f"ch09.tune.{k}") for k in ("baseline", "tuned")}


def tune_job(stop, emit, s=tsettings, start=start, info=start_info, logdir=S["ch09_tune_logdir"]):   # no st.* here
    os.makedirs(logdir, exist_ok=True)
    lesson.prune_runs(logdir, keep=2)   # this visitor's last runs only
    return lesson.tune_digits(s, tempfile.mkdtemp(prefix="tune-", dir=logdir), stop, emit, start, info)


def shelve_tuned(r: dict) -> None:
    if (run := r["runs"].get("tuned")) is None:
        return
    model, info = r.get("model", "digits_cnn"), r.get("info", {"image_size": r["image_size"]})
    metric = f"val_acc {lesson.best_val(run)['val_acc']:.1%}"
    name = {"digits_cnn": f"ch09 tuned CNN {r['image_size']}×{r['image_size']}", "ch07_resnet": "ch09 tuned ResNet",
            "ch08_sentiment": f"ch09 tuned {str(info.get('cell', 'gru')).upper()} sentiment"}[model]
    shelf.put("ch09", lesson.SHELF_KINDS[model], run["model"], name, metric=metric, info=info,
              files=lesson.shelf_files(run["model"], model, info))


def draw_tune(run: runner.Run) -> None:
    which_run(run, tnames)
    if finds := run.of_kind("finder"):
        st.caption(t("ch09.tune.finder", lr=f"{finds[-1]['steepest']:.2e}"))
    evals = run.of_kind("eval")
    if run.active and evals:
        st.plotly_chart(viz.curves({tnames[k]: [e for e in evals if e["run"] == k] for k in tnames},
                                   ["val_loss", "val_acc"], title=t("ch09.tune.curves")), key="ch09_tune_live")


tuned = runner.section("ch09_tune", tune_job, button=t("ch09.tune.button"), render=draw_tune, state_key="ch09_tune",
                       on_result=shelve_tuned, icon=":material/tune:")
if tuned is not None:
    st.caption(t("ch09.tune.ran", model=mlabels.get(tuned.get("model", "digits_cnn")), data=tuned.get("note", "")))
    c1, c2 = st.columns(2)
    c1.plotly_chart(lesson.lr_finder_figure(tuned["finder"], flabels), key="ch09_tune_finder")
    c2.plotly_chart(viz.curves({tnames[k]: r["history"] for k, r in tuned["runs"].items()}, ["val_loss", "val_acc"],
                               title=t("ch09.tune.curves")), key="ch09_tune_curves")
    st.markdown(f"**{t('ch09.tune.table')}**")
    st.dataframe(pd.DataFrame(tuned["table"]).assign(run=lambda df: df["run"].map(tnames)).set_index("run"),
                 key="ch09_tune_table")
    st.download_button(t("ch09.tune.download"), lambda d=tuned["logdir"]: lesson.zip_logdir(d, "ch09_tuning_tensorboard"),
                       file_name="ch09_tuning_tensorboard.zip", icon=":material/download:", key="ch09_tune_zip")
    st.code(f"unzip ch09_tuning_tensorboard.zip\n{lesson.tensorboard_command('ch09_tuning_tensorboard')}",
            language="bash")
    if tuned.get("model", "digits_cnn") == "digits_cnn":
        size = tuned["image_size"]
        c1, c2 = st.columns([2, 3])
        with c1:
            shipped = "ch05_digits_cnn" if size == 8 else "ch05_mnist_cnn"
            picked, pmodel = shelf.picker("ch09_tune_pick", "digits-classifier", label=t("ch09.tune.compare"),
                                          shipped={t("ch09.tune.shipped"): lambda: cache.checkpoint(shipped)[0]})
        try:
            score = lesson.score_classifier(pmodel, tuned["dataset"], device=DEVICE)
            c2.markdown(t("ch09.tune.picked", model=picked, acc=f"{score['val_acc']:.1%}", loss=f"{score['val_loss']:.3f}"))
        except RuntimeError:   # a classifier of other images: its reshape or first layer refuses these
            c2.warning(t("ch09.tune.mismatch", size=size), icon=":material/warning:")
layout.code_panel([lesson.lr_finder, lesson.run_tuning], "ch09_tune.py", "ch09_tune",
                  script=lesson.tune_script(tsettings))
