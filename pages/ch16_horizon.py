"""Chapter 16 — Horizon: tiny CLIP, REINFORCE on CartPole, adversarial examples, fairness, then the
compute sections (ui.ch16_compute) and where the field goes (widgets → core.lessons.ch16_horizon → figures)."""
import pandas as pd
import streamlit as st

from core import takehome, viz
from core.device import preset
from core.lessons.ch16_horizon import adversarial as adv, clip, fairness as fair, rl
from ui import cache, ch16_compute, layout, runner, shelf
from ui.i18n import t

KIND = preset(layout.device_info())
PC, PR, PA = clip.PRESETS[KIND], rl.PRESETS[KIND], adv.PRESETS[KIND]
DEV = layout.device()
S = st.session_state
layout.chapter_header("ch16")


@st.cache_resource(show_spinner=False)
def clip_split():
    return clip.digit_split(0)


# 16.1 multimodal: a tiny CLIP ------------------------------------------------------------------------
layout.section("ch16.clip", "16.1")
c1, c2, c3 = st.columns(3)
clip_steps = c1.slider(t("ch16.clip.steps"), 10, 5000, PC["steps"], 10, key="ch16_clip_steps")
clip_batch = c2.select_slider(t("ch16.clip.batch"), [8, 16, 32, 64, 128, 256], PC["batch_size"], key="ch16_clip_batch")
clip_lr = c3.select_slider(t("ch16.clip.lr"), [3e-4, 1e-3, 3e-3, 1e-2], 3e-3, key="ch16_clip_lr")
clip_settings = clip.CLIPSettings(steps=clip_steps, batch_size=clip_batch, lr=clip_lr, eval_every=PC["eval_every"],
                                  device=DEV)
clip_labels = {"loss": t("ch16.clip.loss"), "zero_shot": t("ch16.clip.zero_shot"), "step": t("ch16.common.step")}


def draw_clip(run: runner.Run) -> None:
    if rows := run.of_kind("clip"):
        st.plotly_chart(viz.curves({"": rows}, ["loss", "zero_shot"], clip_labels, x="step"), key="ch16_clip_live")


def shelve_clip(r: clip.CLIPRun) -> None:
    shelf.put("ch16", "clip-tiny", r.model, "ch16 tiny CLIP", metric=f"zero-shot {r.zero_shot['en']:.0%}",
              info={"vocab": clip.VOCAB, "image_size": 8})


clip_run = runner.section("ch16_clip", lambda stop, emit, s=clip_settings: clip.train_clip(s, stop, emit),
                          button=t("ch16.clip.train"), render=draw_clip, on_result=shelve_clip)
if clip_run is None:
    st.info(t("ch16.clip.train_first"), icon=":material/info:")
else:
    parts = clip_split()
    cols = st.columns(4)
    cols[0].metric(t("ch16.clip.seconds"), f"{clip_run.seconds:.1f} s")
    for col, lang in zip(cols[1:], clip.DIGIT_WORDS):
        col.metric(t("ch16.clip.zs_lang", language=t(f"ch16.clip.lang.{lang}")), f"{clip_run.zero_shot[lang]:.1%}")
    st.plotly_chart(viz.curves({"": clip_run.history}, ["loss", "zero_shot"], clip_labels, x="step"),
                    key="ch16_clip_curves")
    st.subheader(t("ch16.clip.zs_title"))
    c1, c2 = st.columns([1, 2])
    words = c1.radio(t("ch16.clip.words"), list(clip.DIGIT_WORDS), horizontal=True, key="ch16_clip_words",
                     format_func=lambda k: t(f"ch16.clip.lang.{k}"))
    template = c2.text_input(t("ch16.clip.template"), clip.DEFAULT_TEMPLATE[words], key=f"ch16_clip_template_{words}")
    prompts = clip.class_prompts(words, template)
    if (zs := layout.tried(clip.zero_shot, clip_run.model, parts.X_val, parts.y_val, prompts)) is not None:
        st.metric(t("ch16.clip.zs_acc"), f"{zs['acc']:.1%}")
        Xs, ys = clip.one_per_class(parts.X_val, parts.y_val)
        sim = clip.zero_shot(clip_run.model, Xs, ys, prompts)["similarity"]
        st.plotly_chart(clip.similarity_figure(sim, ys.numpy(), prompts, t("ch16.clip.matrix")), key="ch16_clip_matrix")
    query = st.text_input(t("ch16.clip.query"), "数字七", key="ch16_clip_query")
    if (found := layout.tried(clip.retrieve, clip_run.model, parts.X_val, query)) is not None:
        if found["dropped"]:
            st.warning(t("ch16.clip.dropped", words=", ".join(found["dropped"])))
        st.plotly_chart(viz.image_grid(parts.X_val[found["index"]].reshape(-1, 8, 8).numpy(),
                                       [f"{s:.2f}" for s in found["score"]], cols=8, title=t("ch16.clip.found")),
                        key="ch16_clip_found")
layout.code_panel([clip.clip_loss, clip.train_clip, clip.zero_shot], "ch16_clip.py", "ch16_clip_code",
                  script=takehome.script(clip.train_clip, clip.CLIPSettings, clip.zero_shot, clip.class_prompts,
                                         clip.digit_split, filename="ch16_clip.py", requires=("scikit-learn",),
                                         main=f"r = train_clip(CLIPSettings(steps=20 if TINY else {clip_steps}, "
                                              f"batch_size={clip_batch}, lr={clip_lr}))\nprint(r.zero_shot)\n"
                                              "parts = digit_split(0)\nprint(zero_shot(r.model, parts.X_val, "
                                              "parts.y_val, class_prompts('zh'))['acc'])"))

# 16.2 reinforcement learning: REINFORCE on CartPole ---------------------------------------------------
layout.section("ch16.rl", "16.2")
c1, c2, c3 = st.columns(3)
episodes = c1.slider(t("ch16.rl.episodes"), 1, 3000, PR["episodes"], key="ch16_rl_episodes")
rl_lr = c2.select_slider(t("ch16.rl.lr"), [1e-3, 3e-3, 1e-2, 3e-2], 1e-2, key="ch16_rl_lr")
stop_solved = c3.toggle(t("ch16.rl.stop_solved", solved=rl.SOLVED, window=rl.WINDOW), True, key="ch16_rl_stop")
rl_settings = rl.RLSettings(episodes=episodes, lr=rl_lr, stop_at_solved=stop_solved, device=DEV)
rl_labels = {k: t(f"ch16.rl.{k}", solved=rl.SOLVED, window=rl.WINDOW) for k in ("reward", "mean", "solved", "episode")}


def draw_rl(run: runner.Run) -> None:
    if eps := run.of_kind("episode"):
        st.plotly_chart(rl.reward_figure([e["reward"] for e in eps], rl_labels, t("ch16.rl.curve")), key="ch16_rl_live")


def shelve_policy(r: rl.RLRun) -> None:
    shelf.put("ch16", "cartpole-policy", r.policy, "ch16 CartPole policy",
              metric=f"mean reward {sum(r.rewards[-rl.WINDOW:]) / max(len(r.rewards[-rl.WINDOW:]), 1):.0f}")


rl_run = runner.section("ch16_rl", lambda stop, emit, s=rl_settings: rl.train_reinforce(s, stop, emit),
                        button=t("ch16.rl.train"), render=draw_rl, on_result=shelve_policy)
if rl_run is None:
    st.info(t("ch16.rl.train_first"), icon=":material/info:")
else:
    st.plotly_chart(rl.reward_figure(rl_run.rewards, rl_labels, t("ch16.rl.curve")), key="ch16_rl_curve")
    st.caption(t("ch16.rl.solved_at", n=rl_run.solved_at, seconds=f"{rl_run.seconds:.0f}") if rl_run.solved_at
               else t("ch16.rl.not_solved", n=len(rl_run.rewards), seconds=f"{rl_run.seconds:.0f}"))
    seed = st.number_input(t("ch16.rl.seed"), 0, 10_000, 0, key="ch16_rl_seed")
    replays = S.setdefault("ch16_rl_replays", {})
    if replays.get("for") != (id(rl_run), seed):
        replays.clear()
        replays.update({"for": (id(rl_run), seed), "before": rl.replay(rl_run.initial, int(seed)),
                        "after": rl.replay(rl_run.policy, int(seed))})
    cols = st.columns(2)
    for col, which in zip(cols, ("before", "after")):
        ep = replays[which]
        col.plotly_chart(rl.episode_figure(ep["states"], t(f"ch16.rl.{which}", reward=f"{ep['reward']:.0f}"),
                                           t("ch16.rl.frame")), key=f"ch16_rl_{which}")
rl_main = (f"r = train_reinforce(RLSettings(episodes=5 if TINY else {episodes}, lr={rl_lr}, "
           f"stop_at_solved={stop_solved}))\nprint('episodes', len(r.rewards), 'solved at', r.solved_at)")
layout.code_panel([rl.discounted_returns, rl.reinforce_loss, rl.run_episode, rl.train_reinforce], "ch16_reinforce.py",
                  "ch16_rl_code", script=takehome.script(rl.train_reinforce, rl.RLSettings, main=rl_main,
                                                          filename="ch16_reinforce.py", requires=("gymnasium",)))

# 16.3 trustworthy AI: adversarial examples -------------------------------------------------------------
layout.section("ch16.adv", "16.3")
adv_label, adv_model = shelf.picker("ch16_adv_pick", "digits-classifier",
                                    {t("ch16.adv.shipped"): lambda: cache.checkpoint("ch05_digits_cnn")[0]},
                                    label=t("ch16.adv.pick"))
c1, c2, c3 = st.columns(3)
eps = c1.number_input(t("ch16.adv.eps"), value=0.1, step=0.02, format="%.3f", key="ch16_adv_eps")
method = c2.radio(t("ch16.adv.method"), adv.METHODS, horizontal=True, key="ch16_adv_method",
                  format_func=lambda m: t(f"ch16.adv.{m}"))
pgd_steps = c3.slider(t("ch16.adv.pgd_steps"), 1, 40, PA["pgd_steps"], key="ch16_adv_pgd_steps")
adv_labels = {k: t(f"ch16.adv.{k}") for k in ("fgsm", "pgd", "acc", "label")}
if (ex := layout.tried(adv.examples, adv_model, eps, method, 8, pgd_steps, DEV)) is not None:
    flipped = int((ex["pred_adv"] != ex["label"]).sum())
    st.plotly_chart(adv.examples_figure(ex, adv_labels, t("ch16.adv.examples", eps=f"{eps:g}", flipped=flipped,
                                                          linf=f"{ex['linf']:.3f}")), key="ch16_adv_examples")
    st.caption(t("ch16.adv.examples_note"))
eps_max = st.slider(t("ch16.adv.eps_max"), 0.05, 1.0, 0.3, 0.05, key="ch16_adv_eps_max")
curve_settings = adv.AttackSettings(eps_max=eps_max, eps_points=PA["eps_points"], pgd_steps=pgd_steps,
                                    eval_n=PA["eval_n"], device=DEV)


def draw_curve(run: runner.Run) -> None:
    if rows := run.of_kind("eps"):
        st.plotly_chart(adv.curve_figure(rows, adv_labels, t("ch16.adv.curve")), key="ch16_adv_live")


curve = runner.section("ch16_curve", lambda stop, emit, m=adv_model, s=curve_settings: {
                           "rows": adv.accuracy_curve(m, s, stop, emit), "model": adv_label},
                       button=t("ch16.adv.run_curve"), render=draw_curve)
if curve is not None:
    st.plotly_chart(adv.curve_figure(curve["rows"], adv_labels, t("ch16.adv.curve_for", name=curve["model"])),
                    key="ch16_adv_curve")
st.subheader(t("ch16.adv.train_title"))
c1, c2 = st.columns(2)
train_eps = c1.number_input(t("ch16.adv.train_eps"), value=0.1, step=0.02, format="%.3f", key="ch16_adv_train_eps")
train_method = c2.radio(t("ch16.adv.train_method"), adv.METHODS, horizontal=True, key="ch16_adv_train_method",
                        format_func=lambda m: t(f"ch16.adv.{m}"))
train_settings = adv.AdvTrainSettings(eps=train_eps, method=train_method, epochs=PA["epochs"], pgd_steps=pgd_steps,
                                      eval_n=PA["eval_n"], train_n=PA["train_n"], device=DEV)
bad_train = layout.tried(adv.check_eps, train_eps) is None


def shelve_robust(r: dict) -> None:
    row = r["rows"][-1]
    shelf.put("ch16", "digits-classifier", r["models"]["robust"], f"ch16 robust CNN ε={r['eps']:g}",
              metric=f"val_acc {row['clean']:.1%} · PGD {row['pgd']:.1%}", info={"image_size": 8})


robust = runner.section("ch16_advtrain", lambda stop, emit, s=train_settings: adv.adversarial_training(s, stop, emit),
                        button=t("ch16.adv.train"), on_result=shelve_robust, disabled=bad_train)
if robust is not None:
    table = pd.DataFrame(robust["rows"]).assign(model=lambda d: d.model.map(lambda m: t(f"ch16.adv.model_{m}")))
    st.dataframe(table.rename(columns={c: t(f"ch16.adv.col_{c}", eps=f"{robust['eps']:g}") for c in table.columns}),
                 hide_index=True, key="ch16_adv_table")
    st.caption(t("ch16.adv.train_note"))
layout.code_panel([adv.fgsm, adv.pgd, adv.train_digits_cnn], "ch16_adversarial.py", "ch16_adv_code",
                  script=takehome.script(adv.adversarial_training, adv.AdvTrainSettings, filename="ch16_adversarial.py",
                                         requires=("scikit-learn",),
                                         main=f"s = AdvTrainSettings(eps={train_eps if not bad_train else 0.1}, "
                                              f"method={train_method!r}, epochs=1 if TINY else {PA['epochs']}, "
                                              f"pgd_steps=2 if TINY else {pgd_steps}, eval_n=40 if TINY else 360, "
                                              "train_n=128 if TINY else 0)\n"
                                              "for row in adversarial_training(s)['rows']:\n    print(row)"))

# 16.4 fairness ------------------------------------------------------------------------------------------
layout.section("ch16.fair", "16.4")
fair_data = fair.generate(fair.FairnessData())


def match_parity() -> None:
    S["ch16_thr_b"] = round(fair.parity_threshold(fair_data, S.get("ch16_thr_a", 0.5)), 2)
    S["ch16_shared"] = False


c1, c2, c3 = st.columns(3)
shared = c1.toggle(t("ch16.fair.shared"), True, key="ch16_shared")
thr_a = c2.slider(t("ch16.fair.thr", group="A"), 0.0, 1.0, 0.5, 0.01, key="ch16_thr_a")
thr_b = c3.slider(t("ch16.fair.thr", group="B"), 0.0, 1.0, 0.5, 0.01, key="ch16_thr_b", disabled=shared)
thr_b = thr_a if shared else thr_b
c1.button(t("ch16.fair.parity"), key="ch16_fair_parity", on_click=match_parity, icon=":material/balance:")
report = fair.fairness_report(fair_data, thr_a, thr_b)
cols = st.columns(3)
cols[0].metric(t("ch16.fair.dp_gap"), f"{report['dp_gap']:.1%}")
cols[1].metric(t("ch16.fair.eo_gap"), f"{report['eo_gap']:.1%}")
cols[2].metric(t("ch16.fair.accuracy"), f"{report['accuracy']:.1%}")
fair_labels = {k: t(f"ch16.fair.{k}") for k in ("group", "pos", "neg", "score", "base_rate", "selection", "tpr", "fpr")}
c1, c2 = st.columns(2)
c1.plotly_chart(fair.scores_figure(fair_data, {"A": thr_a, "B": thr_b}, fair_labels, t("ch16.fair.scores")),
                key="ch16_fair_scores")
c2.plotly_chart(fair.rates_figure(report, fair_labels, t("ch16.fair.rates")), key="ch16_fair_rates")
st.markdown(t("ch16.fair.explain"))
layout.code_panel([fair.generate, fair.group_rates, fair.fairness_report], "ch16_fairness.py", "ch16_fair_code",
                  script=takehome.script(fair.fairness_report, fair.generate, fair.FairnessData,
                                         filename="ch16_fairness.py",
                                         main=f"data = generate(FairnessData())\nr = fairness_report(data, {thr_a}, "
                                              f"{thr_b})\n"
                                              "print('demographic parity gap', r['dp_gap'], 'equalised odds gap', "
                                              "r['eo_gap'])\nprint(r['rates'])"))

# 16.5 / 16.6 compute: scaling laws, hardware and torch.compile (ui.ch16_compute draws both) -------------
ch16_compute.scaling_section()
ch16_compute.hardware_section()

# 16.7 foundation models and keep learning ----------------------------------------------------------------
layout.section("ch16.trends", "16.7")
c1, c2 = st.columns(2)
c1.markdown(t("ch16.trends.body"))
c2.markdown(t("ch16.trends.resources"))
