"""Chapter 4 — loss functions and optimizers (widgets → core.lessons.ch04_loss_optim → figures)."""
import pandas as pd
import streamlit as st

from core import takehome, viz
from core.device import preset
from core.lessons import ch04_loss_optim as lesson
from ui import layout, runner, shelf
from ui.i18n import t

P = lesson.PRESETS[preset(layout.device_info())]
S = st.session_state
COLUMNS = {c: t(f"ch04.columns.{c}") for c in ("optimizer", "lr", "x", "y", "gap", "reached_at", "diverged_at", "run", "loss",
                                               "weight_decay", "val_acc", "train_loss", "end", "seconds", "logit",
                                               "grad_reference", "grad_bce", "grad_bce_logits")}
layout.chapter_header("ch04")

# 4.1 loss explorer ------------------------------------------------------------------------------
layout.section("ch04.losses", "4.1")
loss_labels = {name: t(f"ch04.losses.names.{name}") for name in lesson.LOSSES}
c1, c2, c3 = st.columns([2, 2, 1])
loss_name = c1.selectbox(t("ch04.losses.pick"), list(lesson.LOSSES), key="ch04_loss", format_func=loss_labels.get)
spec = lesson.LOSSES[loss_name]
if spec["target"] == "class":
    target = c2.radio(t("ch04.losses.target_class"), list(range(lesson.N_CLASSES)), horizontal=True, key="ch04_target_cls")
elif spec["target"] == "prob":
    target = c2.slider(t("ch04.losses.target_prob"), 0.0, 1.0, 1.0, 0.05, key="ch04_target_prob")
else:
    target = c2.slider(t("ch04.losses.target_value"), -3.0, 3.0, 0.0, 0.25, key="ch04_target_value")
delta = c3.slider("δ", 0.1, 3.0, 1.0, 0.1, key="ch04_delta", disabled=loss_name not in ("huber", "smooth_l1"))
overlay = c1.checkbox(t("ch04.losses.overlay"), value=spec["kind"] == "value", key="ch04_overlay")
same_kind = [n for n, s in lesson.LOSSES.items() if (s["kind"], s["target"]) == (spec["kind"], spec["target"])]
shown = same_kind if overlay else [loss_name]
curves = {loss_labels[n]: lesson.loss_curve(n, target, P["curve_points"], delta) for n in shown}
st.plotly_chart(lesson.loss_curve_figure(curves, loss_label=t("ch04.losses.loss"), grad_label=t("ch04.losses.grad"),
                                         x_label=t(f"ch04.losses.axis_{spec['kind']}")), key="ch04_loss_fig")
st.caption(t(f"ch04.losses.explain.{loss_name}", call=spec["torch"]))
layout.code_panel([lesson.loss_curve, lesson.loss_inputs, lesson.apply_loss], "ch04_loss_curve.py", "ch04_loss_code",
                  script=takehome.script(lesson.loss_curve, lesson.loss_inputs, lesson.apply_loss, filename="ch04_loss_curve.py",
                                         main=f"c = loss_curve({loss_name!r}, {target!r}, 11, {delta})\n"
                                              "for key, values in c.items():\n    print(key, values)"))

# BCE vs BCEWithLogits at extreme logits
layout.section("ch04.stability", "4.1")
bce_target = st.radio(t("ch04.stability.target"), [0.0, 1.0], horizontal=True, key="ch04_bce_target")
rows = lesson.bce_stability(target=bce_target)
names = {k: t(f"ch04.stability.{k}") for k in ("manual", "bce", "bce_logits", "loss_error", "grad_error")}
st.plotly_chart(lesson.stability_figure(rows, names), key="ch04_stab_fig")
table = pd.DataFrame(rows).rename(columns={**COLUMNS, **names, "reference": t("ch04.stability.reference")})
st.dataframe(table.style.format("{:.4g}", na_rep="NaN"), hide_index=True, key="ch04_stab_table")
st.markdown(t("ch04.stability.takeaway"))
layout.code_panel(lesson.bce_stability, "ch04_bce_stability.py", "ch04_stab_code", script=takehome.script(
    lesson.bce_stability, filename="ch04_bce_stability.py",
    main=f"for row in bce_stability(target={bce_target}):\n    print(row)"))

# a custom loss
layout.section("ch04.custom", "4.1")
c1, c2 = st.columns(2)
gamma = c1.slider(t("ch04.custom.gamma"), 0.0, 5.0, 2.0, 0.5, key="ch04_gamma")
quantile = c2.slider(t("ch04.custom.quantile"), 0.05, 0.95, 0.9, 0.05, key="ch04_q")
check = lesson.custom_loss_check(gamma, quantile)
st.plotly_chart(viz.curves({"BCEWithLogits": [{"z": z, "loss": v} for z, v in zip(check["z"], check["bce_curve"])],
                            f"focal γ={gamma:g}": [{"z": z, "loss": v} for z, v in zip(check["z"], check["focal_curve"])]},
                           ["loss"], labels={"loss": t("ch04.losses.loss"), "z": "logit z"}, x="z",
                           title=t("ch04.custom.curve")), key="ch04_focal_fig")
m1, m2, m3, m4 = st.columns(4)
m1.metric(t("ch04.custom.vs_torchvision"), f"{check['vs_torchvision']:.1e}")
m2.metric(t("ch04.custom.gamma0"), f"{check['gamma0_vs_bce']:.1e}")
m3.metric(t("ch04.custom.pinball_half"), f"{check['pinball_half_vs_l1']:.1e}")
m4.metric(t("ch04.custom.minimiser", q=f"{quantile:g}"), f"{check['pinball_minimiser']:.3f}",
          t("ch04.custom.np_quantile", value=f"{check['quantile']:.3f}"), delta_color="off")
layout.code_panel([lesson.focal_loss, lesson.pinball_loss, lesson.custom_loss_check], "ch04_custom_loss.py", "ch04_custom_code",
                  script=takehome.script(lesson.focal_loss, lesson.pinball_loss, lesson.custom_loss_check,
                                         filename="ch04_custom_loss.py", requires=["torchvision"],
                                         main=f"c = custom_loss_check({gamma}, {quantile})\n"
                                              "print({k: v for k, v in c.items() if not hasattr(v, '__len__')})"))

# 4.2 optimizer race ------------------------------------------------------------------------------
layout.section("ch04.race", "4.2")
done = S.get("ch04_race_result")
answer = None
if done is not None and done["surface"] == "rosenbrock":
    answer = done["winner"] or t("ch04.race.nobody")
layout.predict_then_run("ch04_rosen", t("ch04.race.question"), [*lesson.RACERS, t("ch04.race.nobody")], answer)
surface_labels = {s: t(f"ch04.race.surfaces.{s}") for s in lesson.SURFACES}
c1, c2, c3 = st.columns(3)
surface = c1.selectbox(t("ch04.race.surface"), list(lesson.SURFACES), key="ch04_surface", format_func=surface_labels.get)
racers = c1.multiselect(t("ch04.race.optimizers"), list(lesson.RACERS), default=list(lesson.RACERS), key="ch04_racers")
LRS = [1e-4, 3e-4, 1e-3, 1.5e-3, 3e-3, 5e-3, 0.01, 0.02, 0.025, 0.04, 0.05, 0.1, 0.3, 1.0, 3.0, 10.0]
surf = lesson.SURFACES[surface]
lr_sgd = c2.select_slider(t("ch04.race.lr_sgd"), LRS, value=surf.lr_sgd, key=f"ch04_lr_sgd_{surface}")
lr_adaptive = c2.select_slider(t("ch04.race.lr_adaptive"), LRS, value=surf.lr_adaptive, key=f"ch04_lr_ad_{surface}")
steps = c3.slider(t("ch04.race.steps"), 10, lesson.MAX_RACE_STEPS, P["race_steps"], 10, key="ch04_steps")


def race_job(stop, emit, args=(surface, tuple(racers), lr_sgd, lr_adaptive, steps)) -> dict:
    paths = lesson.race(*args, stop_event=stop, emit=emit)
    return {"surface": args[0], "paths": paths, "winner": lesson.race_winner(paths), "settings": args[2:]}


def draw_race(run: runner.Run) -> None:   # while it runs: every path so far, no frames (cheap to redraw)
    if run.active and (snaps := [e for e in run.of_kind("progress") if "paths" in e]):
        st.plotly_chart(lesson.race_figure(snaps[-1]["text"], snaps[-1]["paths"], P["grid"], 0, t("ch04.race.paths")),
                        key="ch04_race_live")


done = runner.section("ch04_race", race_job, button=t("ch04.race.button"), icon=":material/sports_score:",
                      render=draw_race, state_key="ch04_race_result", interval=0.3)
if done is not None:
    paths = done["paths"]
    if done.get("figure_lang") != t("ch04.race.play"):   # frames are slow to build: once per race and language
        done["figure"] = lesson.race_figure(done["surface"], paths, P["grid"], P["frames"], t("ch04.race.paths"),
                                            play=t("ch04.race.play"))
        done["figure_lang"] = t("ch04.race.play")
    st.plotly_chart(done["figure"], key="ch04_race_fig")
    c1, c2 = st.columns([3, 2])
    c1.plotly_chart(lesson.race_loss_figure(done["surface"], paths, t("ch04.race.loss"), t("ch04.race.gap")),
                    key="ch04_race_loss")
    c2.dataframe(pd.DataFrame(lesson.race_table(paths, done["surface"])).rename(columns=COLUMNS), hide_index=True,
                 key="ch04_race_table")
    if diverged := {n: p.diverged_at for n, p in paths.items() if p.diverged_at is not None}:
        st.warning(t("ch04.race.diverged", names=", ".join(f"{n} ({s})" for n, s in diverged.items())),
                   icon=":material/warning:")
    winner = done["winner"]
    st.markdown(t("ch04.race.winner", name=winner) if winner else t("ch04.race.no_winner"))
    layout.code_panel(lesson.race_script(done["surface"], {n: p.lr for n, p in paths.items()}, done["settings"][2]),
                      "ch04_race.py", "ch04_race_script")
layout.code_panel([lesson.optimizer_steps, lesson.race], "ch04_optimizer_race.py", "ch04_race_code", script=takehome.script(
    lesson.race, lesson.race_winner, filename="ch04_optimizer_race.py",
    main=f"paths = race({surface!r}, {racers!r}, {lr_sgd}, {lr_adaptive}, 20 if TINY else {steps})\n"
         "for name, p in paths.items():\n"
         "    print(name, 'final point', p.points[-1], 'loss', p.losses[-1], 'diverged at', p.diverged_at)\n"
         "print('first to a minimum:', race_winner(paths))"))

# Adam vs AdamW: where weight decay goes
layout.section("ch04.decay", "4.2")
c1, c2, c3 = st.columns(3)
d_lr = c1.select_slider(t("ch04.decay.lr"), [0.003, 0.01, 0.03, 0.05, 0.1, 0.3], value=0.05, key="ch04_decay_lr")
d_wd = c2.select_slider(t("ch04.decay.wd"), [0.0, 0.01, 0.05, 0.1, 0.3, 1.0], value=0.1, key="ch04_decay_wd")
d_steps = c3.slider(t("ch04.decay.steps"), 20, lesson.MAX_DECAY_STEPS, P["decay_steps"], 20, key="ch04_decay_steps")
decay = lesson.weight_decay_compare(d_lr, d_wd, d_steps)
st.plotly_chart(lesson.decay_figure(decay, {"norm": t("ch04.decay.norm"), "weights": t("ch04.decay.weights")}),
                key="ch04_decay_fig")
m1, m2, m3 = st.columns(3)
m1.metric(t("ch04.decay.final_norm", name="Adam"), f"{decay['adam']['norm'][-1]:.3f}")
m2.metric(t("ch04.decay.final_norm", name="AdamW"), f"{decay['adamw']['norm'][-1]:.3f}")
m3.metric(t("ch04.decay.max_diff"), f"{decay['max_weight_diff']:.2e}")
st.markdown(t("ch04.decay.same") if d_wd == 0 else t("ch04.decay.explain"))
layout.code_panel(lesson.weight_decay_compare, "ch04_weight_decay.py", "ch04_decay_code", script=takehome.script(
    lesson.weight_decay_compare, filename="ch04_weight_decay.py",
    main=f"d = weight_decay_compare({d_lr}, {d_wd}, {d_steps})\n"
         "print('Adam  |w|', d['adam']['norm'][-1])\nprint('AdamW |w|', d['adamw']['norm'][-1])\n"
         "print('largest weight difference', d['max_weight_diff'])"))

# 4.3 LR schedulers -------------------------------------------------------------------------------
layout.section("ch04.sched", "4.3")
sched_labels = {n: t(f"ch04.sched.names.{n}") for n in lesson.SCHEDULERS}
c1, c2, c3 = st.columns([3, 1, 1])
chosen = c1.multiselect(t("ch04.sched.pick"), list(lesson.SCHEDULERS), default=["step", "cosine", "onecycle", "plateau"],
                        key="ch04_scheds", format_func=sched_labels.get)
base_lr = c2.select_slider(t("ch04.sched.base_lr"), [0.001, 0.01, 0.1, 1.0], value=0.1, key="ch04_base_lr")
s_steps = c3.slider(t("ch04.sched.steps"), 10, lesson.MAX_SCHED_STEPS, P["sched_steps"], 10, key="ch04_sched_steps")
params = {}
for col, name in zip(st.columns(max(1, min(4, len(chosen)))) * 2, chosen):
    with col.expander(sched_labels[name], expanded=False):
        params[name] = {p: st.slider(p, lo, hi, d, step, key=f"ch04_sp_{name}_{p}")
                        for p, lo, hi, d, step in lesson.SCHEDULERS[name]}
if chosen:
    sched_curves = {sched_labels[n]: lesson.scheduler_curve(n, s_steps, base_lr, **params[n]) for n in chosen}
    st.plotly_chart(lesson.scheduler_figure(sched_curves, lr_label=t("ch04.sched.lr"), loss_label=t("ch04.sched.loss")),
                    key="ch04_sched_fig")
    layout.code_panel("\n\n".join(f"# {sched_labels[n]}\n" + lesson.scheduler_script(n, s_steps, base_lr, **params[n])
                                  for n in chosen), "ch04_schedulers.py", "ch04_sched_script")
else:
    st.info(t("ch04.sched.none"))
layout.code_panel([lesson.scheduler_curve, lesson.make_scheduler], "ch04_scheduler_curve.py", "ch04_sched_code",
                  script=takehome.script(lesson.scheduler_curve, lesson.make_scheduler, filename="ch04_scheduler_curve.py",
                                         main=f"for name, p in {params!r}.items():\n"
                                              f"    c = scheduler_curve(name, {s_steps}, {base_lr}, **p)\n"
                                              "    print(name, [round(v, 5) for v in c['lr'][:10]], '...')"))

# 4.4 实战: pick loss + optimizer for the ch03 MLP and compare runs -------------------------------
layout.section("ch04.practice", "4.4")
data_labels = {d: t(f"ch04.practice.data_{d}") for d in ("digits", "moons")}
c1, c2, c3 = st.columns(3)
dataset = c1.radio(t("ch04.practice.dataset"), list(data_labels), horizontal=True, key="ch04_data", format_func=data_labels.get)
epochs = c2.slider(t("ch04.practice.epochs"), 1, lesson.MAX_EPOCHS, P["practice_epochs"], key="ch04_epochs")
n_runs = c3.radio(t("ch04.practice.n_runs"), [2, 3], horizontal=True, key="ch04_n_runs")
practice_labels = {n: t(f"ch04.practice.losses.{n}") for n in lesson.PRACTICE_LOSSES}
DEFAULTS = [("cross_entropy", "adam", 0.003), ("cross_entropy", "sgd", 0.1), ("mse", "adam", 0.003)]
settings = []
for i, col in enumerate(st.columns(n_runs)):
    loss0, opt0, lr0 = DEFAULTS[i]
    col.markdown(f"**{t('ch04.practice.run', n=i + 1)}**")
    settings.append(lesson.PracticeRun(
        loss=col.selectbox(t("ch04.practice.loss"), list(lesson.PRACTICE_LOSSES), index=lesson.PRACTICE_LOSSES.index(loss0),
                           key=f"ch04_p_loss_{i}", format_func=practice_labels.get),
        optimizer=col.selectbox(t("ch04.practice.optimizer"), list(lesson.RACERS), index=lesson.RACERS.index(opt0),
                                key=f"ch04_p_opt_{i}"),
        lr=col.select_slider(t("ch04.practice.lr"), [1e-4, 3e-4, 1e-3, 3e-3, 0.01, 0.03, 0.1, 0.3, 1.0, 10.0, 100.0],
                             value=lr0, key=f"ch04_p_lr_{i}"),
        weight_decay=col.select_slider(t("ch04.practice.wd"), [0.0, 1e-4, 1e-3, 1e-2, 0.1], value=0.0, key=f"ch04_p_wd_{i}")))


def draw_practice(run: runner.Run) -> None:
    evals: dict[str, list] = {}
    for e in run.of_kind("eval"):
        evals.setdefault(e["run"], []).append(e)
    if evals:
        st.plotly_chart(viz.curves(evals, ["val_acc", "val_loss"], title=t("ch04.practice.curves")), key="ch04_live_curves")


def shelve_best(r: lesson.PracticeResult) -> None:
    if (best := r.best()) is not None:   # the best run's MLP, for later chapters
        name, run = best
        shelf.put("ch04", "mlp-digits" if dataset == "digits" else "mlp-toy", run["model"], f"ch04 {name}",
                  metric=f"val_acc {run['end']['val_acc']:.1%}",
                  info={"image_size": 8, "dataset": "digits"} if dataset == "digits" else {"task": "moons", "in_features": 2, "classes": 2})


result = runner.section("ch04_practice", lambda stop, emit, s=list(settings), d=dataset, e=epochs: lesson.compare_practice(
    s, d, e, stop_event=stop, emit=emit, device=layout.device()), button=t("ch04.practice.button"),
    icon=":material/compare_arrows:", render=draw_practice, state_key="ch04_practice_result", on_result=shelve_best)
if result is not None and result.runs:
    st.subheader(t("ch04.practice.results"))
    diffs = result.differences()
    st.markdown(t("ch04.practice.differs", settings=", ".join(diffs) or "—"))
    table = pd.DataFrame(result.table())
    table["end"] = [t("ch04.practice.nan") if r in ("nan", "diverged") else t(f"ch04.practice.end_{r}")
                    if r in ("completed", "stopped") else r for r in table["end"]]
    st.dataframe(table[["run", *diffs, "val_acc", "train_loss", "end", "seconds"]].rename(columns=COLUMNS), hide_index=True,
                 key="ch04_practice_table")
    if any(r["end"].get("reason") in ("nan", "diverged") for r in result.runs.values()):
        st.warning(t("ch04.practice.nan_explain"), icon=":material/warning:")
layout.code_panel([lesson.compare_practice, lesson.practice_loss], "ch04_compare_runs.py", "ch04_practice_code",
                  script=takehome.script(lesson.compare_practice, lesson.practice_loss, filename="ch04_compare_runs.py",
                                         main=lesson.practice_main(settings, dataset, epochs),
                                         registry_keys={"digits", "toy", "mlp"}, requires=["scikit-learn"]))
