"""Chapter 12 lessons against oracles: the closed-form forward process, scipy's sqrtm Fréchet
formula, torch.distributions' KL, a unit-slope critic for the gradient penalty, and the guards."""
import copy
import math

import numpy as np
import pytest
import torch

from core.errors import HeroError
from core.lessons.ch12_generative import compare, dcgan, diffusion, evaluation, gan2d, vae
from core.nets.gan_mlp import GanMLP, GanMLPConfig
from core.nets.unet_digits import UNetDigits, UNetDigitsConfig

torch.set_num_threads(1)


# --------------------------------------------------------------------------- diffusion (diffusers)

def test_add_noise_matches_the_closed_form():
    sched = diffusion.make_scheduler("ddpm")
    x0 = torch.rand(3, 1, 16, 16) * 2 - 1
    for t in (0, 10, 500, 999):
        out = diffusion.noise_at(x0, t, sched, seed=3)
        a = sched.alphas_cumprod[t]
        expected = a.sqrt() * x0 + (1 - a).sqrt() * out["noise"]
        assert torch.allclose(out["xt"], expected, atol=1e-6)
        # ᾱ_t is the running product of 1 − β_t
        assert out["alpha_bar"] == pytest.approx(float(torch.prod(1 - sched.betas[:t + 1])), rel=1e-5)
    assert diffusion.noise_at(x0, 999, sched)["snr"] < 1e-3 < diffusion.noise_at(x0, 10, sched)["snr"]


def test_ddim_shares_the_ddpm_schedule_and_refuses_bad_steps():
    ddpm, ddim = diffusion.make_scheduler("ddpm"), diffusion.make_scheduler("ddim")
    assert type(ddim).__name__ == "DDIMScheduler" and type(ddpm).__name__ == "DDPMScheduler"
    assert torch.allclose(ddpm.alphas_cumprod, ddim.alphas_cumprod)
    ddim.set_timesteps(50)
    assert len(ddim.timesteps) == 50 and int(ddim.timesteps[0]) > int(ddim.timesteps[-1])
    for bad in (0, -3, 1001, 2000):
        with pytest.raises(HeroError) as err:
            diffusion.check_steps(bad, 1000)
        assert err.value.code == "ch12.steps_range" and err.value.params["high"] == 1000
    with pytest.raises(HeroError):
        diffusion.noise_at(torch.zeros(1, 1, 4, 4), 1000, ddpm)
    model = UNetDigits(UNetDigitsConfig(channels=(8, 16), norm_groups=4))
    with pytest.raises(HeroError):
        diffusion.sample_digits(model, 2, "ddim", 1500)


def test_sampling_is_seeded_and_returns_frames():
    model = UNetDigits(UNetDigitsConfig(channels=(8, 16), norm_groups=4))
    a = diffusion.sample_digits(model, 2, "ddim", 4, seed=5, frames=3)
    b = diffusion.sample_digits(model, 2, "ddim", 4, seed=5)
    assert a["images"].shape == (2, 16, 16) and np.allclose(a["images"], b["images"])
    assert 0 <= a["images"].min() and a["images"].max() <= 1 and len(a["frames"]) == 3
    c = diffusion.sample_digits(model, 2, "ddpm", 4, seed=5)
    assert c["steps"] == 4 and c["images"].shape == (2, 16, 16)
    assert diffusion.to_28(a["images"]).shape == (2, 28, 28)


def test_digit_ddpm_trains_a_few_steps():
    events = []
    out = diffusion.train_digit_ddpm(diffusion.DigitDDPMSettings(steps=10, batch_size=8, channels=(8, 16)),
                                     emit=events.append)
    assert len(out["losses"]) == 10 and all(math.isfinite(v) for v in out["losses"])
    assert events and events[-1]["done"] == 10 and isinstance(out["model"], UNetDigits)


def test_toy_diffusion_trains_and_samples():
    out = diffusion.train_toy_diffusion(diffusion.ToyDiffusionSettings(steps=40, n_points=200, batch_size=64))
    assert out["losses"][-1] < out["losses"][0]
    traj = diffusion.sample_toy(out["model"], 100, frames=4)
    assert traj["points"].shape == (100, 2) and len(traj["frames"]) >= 2
    assert traj["frames"][0][0] == out["model"].config.train_timesteps
    with pytest.raises(HeroError):
        diffusion.sample_toy(out["model"], 10, steps=101)
    assert diffusion.sample_toy(out["model"], 10, sampler="ddim", steps=10)["points"].shape == (10, 2)


# --------------------------------------------------------------------------- evaluation

def _scipy_frechet(a, b):
    from scipy import linalg
    mu_a, mu_b = a.mean(0), b.mean(0)
    ca, cb = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    covmean = linalg.sqrtm(ca @ cb)
    return float(((mu_a - mu_b) ** 2).sum() + np.trace(ca + cb - 2 * np.real(covmean)))


def test_frechet_distance_matches_scipy_sqrtm():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(400, 6)) @ rng.normal(size=(6, 6))
    b = rng.normal(size=(300, 6)) * 1.5 + 0.3
    assert evaluation.frechet_distance(a, b) == pytest.approx(_scipy_frechet(a, b), rel=1e-6, abs=1e-8)
    assert abs(evaluation.frechet_distance(a, a)) < 1e-8


def test_penultimate_features_come_from_the_last_linear_input():
    clf = evaluation.judge(28)
    images = np.random.default_rng(1).random((5, 28, 28), dtype=np.float32)
    feats, probs = evaluation.penultimate(clf, images)
    with torch.no_grad():
        manual = clf.classifier[0](clf.features(torch.from_numpy(images)[:, None])).double().numpy()
    assert feats.shape == (5, 2 * clf.config.channels * 16) and np.allclose(feats, manual, atol=1e-5)
    assert np.allclose(probs.sum(1), 1, atol=1e-5)
    last = clf.classifier[-1]
    assert not last._forward_hooks   # the hook is gone afterwards


@pytest.mark.filterwarnings("ignore::scipy.linalg.LinAlgWarning")
def test_frechet_real_vs_real_is_small_and_real_vs_noise_large():
    from core import data
    ds = data.load("mnist5k")
    rng = np.random.default_rng(0)
    idx = rng.permutation(len(ds.y))
    clf = evaluation.judge(28)
    fa, _ = evaluation.penultimate(clf, ds.X[idx[:1000]].reshape(-1, 28, 28))
    fb, _ = evaluation.penultimate(clf, ds.X[idx[1000:2000]].reshape(-1, 28, 28))
    fn, _ = evaluation.penultimate(clf, rng.random((1000, 28, 28), dtype=np.float32))
    same, other, noise = evaluation.frechet_distance(fa, fa), evaluation.frechet_distance(fa, fb), \
        evaluation.frechet_distance(fa, fn)
    assert abs(same) < 1e-6
    assert other < 0.1 * noise
    assert other == pytest.approx(_scipy_frechet(fa, fb), rel=1e-3)


def test_score_counts_confidence_and_coverage():
    real = compare.real_sample(100)
    verdict = evaluation.score(real)
    assert verdict["coverage"] >= 9 and verdict["confident"] > 0.8 and verdict["n"] == 100
    ones = np.repeat(real[[i for i, p in enumerate(verdict["predictions"]) if p == 1][:1]], 20, axis=0)
    collapsed = evaluation.score(ones)
    assert collapsed["coverage"] == 1 and collapsed["frechet"] > verdict["frechet"]


# --------------------------------------------------------------------------- GAN lab

def test_step_d_only_and_g_only_touch_one_network():
    lab = gan2d.new_lab(gan2d.GAN2DSettings(n_points=200, batch_size=32))
    g0, d0 = copy.deepcopy(lab.G.state_dict()), copy.deepcopy(lab.D.state_dict())
    gan2d.step_lab(lab, "d", 2)
    assert all(torch.equal(g0[k], v) for k, v in lab.G.state_dict().items())
    assert not all(torch.equal(d0[k], v) for k, v in lab.D.state_dict().items())
    d1 = copy.deepcopy(lab.D.state_dict())
    gan2d.step_lab(lab, "g", 2)
    assert all(torch.equal(d1[k], v) for k, v in lab.D.state_dict().items())
    assert not all(torch.equal(g0[k], v) for k, v in lab.G.state_dict().items())
    assert lab.step == 4 and lab.history[0]["g_loss"] is None and lab.history[-1]["d_loss"] is None
    f = gan2d.frame(lab, grid=10)
    assert f["surface"].shape == (10, 10) and 0 <= f["surface"].min() and f["surface"].max() <= 1
    assert f["coverage"]["of"] == 8


def test_gradient_penalty_is_zero_for_a_unit_slope_critic():
    critic = GanMLP(GanMLPConfig(in_features=2, out_features=1, depth=0))   # a single Linear: constant gradient w
    with torch.no_grad():
        critic.net[0].weight.copy_(torch.tensor([[0.6, 0.8]]))
    g = torch.Generator().manual_seed(0)
    assert gan2d.gradient_penalty(critic, torch.randn(16, 2), torch.randn(16, 2), g).item() == pytest.approx(0, abs=1e-10)
    with torch.no_grad():
        critic.net[0].weight.mul_(2)                                      # slope 2 → penalty (2 − 1)² = 1
    assert gan2d.gradient_penalty(critic, torch.randn(16, 2), torch.randn(16, 2), g).item() == pytest.approx(1.0)


def test_wgan_gp_trains():
    r = gan2d.train_gan2d(gan2d.GAN2DSettings(loss="wgan-gp", steps=20, frame_every=10, n_points=200, d_steps=2))
    assert r.ok and r.lab.step == 20


def test_diverging_gan_stops_and_keeps_the_last_good_generator():
    s = gan2d.GAN2DSettings(**{**gan2d.LAB_PRESETS["diverge"], "steps": 400, "frame_every": 20, "n_points": 300})
    frames = []
    r = gan2d.train_gan2d(s, emit=lambda e: frames.append(e) if e["kind"] == "frame" else None)
    assert r.reason == "d_wins" and not r.ok
    assert all(torch.isfinite(p).all() for p in r.lab.G.parameters())
    kept = gan2d.frame(r.lab)["fake"]
    last_good = [f for f in frames if f["step"] == r.last_good_step][-1]["fake"]
    assert np.allclose(kept, last_good)       # G is the one of the last good frame


def test_nan_is_caught():
    lab = gan2d.new_lab(gan2d.GAN2DSettings(n_points=100, batch_size=16))
    with torch.no_grad():
        lab.G.net[0].weight[0, 0] = float("nan")
    assert gan2d.step_lab(lab, "both", 3) == "nan"
    r = gan2d.train_gan2d(gan2d.GAN2DSettings(steps=10, frame_every=5, n_points=100), lab=lab)
    assert r.reason == "nan"


def test_custom_points_too_few_canvas_and_typed():
    with pytest.raises(HeroError) as err:
        gan2d.check_custom(np.array([[0, 0], [1, 1]]))
    assert err.value.code == "ch12.too_few_points" and err.value.params["n"] == 2
    with pytest.raises(HeroError):
        gan2d.target_points("custom", 10, custom=None)
    rgba = np.zeros((101, 101, 4), np.uint8)
    rgba[0, 0, 3] = rgba[100, 100, 3] = 255
    pts = gan2d.points_from_canvas(rgba)
    assert np.allclose(sorted(pts.tolist()), [[-2, 2], [2, -2]])          # top-left → (−2, 2), y up
    typed = gan2d.parse_points("0, 1\n junk\n2;3\n1 2 3\nnan, 1\n")
    assert typed.shape == (3, 2) and typed[1].tolist() == [2, 3]
    many = np.random.default_rng(0).normal(size=(50, 2))
    assert gan2d.target_points("custom", 300, custom=many).shape == (300, 2)


# --------------------------------------------------------------------------- DCGAN

def test_dcgan_tiny_run_grid_judge_and_interpolation():
    events = []
    s = dcgan.DCGANSettings(steps=4, batch_size=8, width=8, grid_every=2, eval_every=2, eval_samples=16)
    r = dcgan.train_dcgan(s, emit=events.append, judge=evaluation.score)
    assert r.ok and len(r.history) == 4 and r.generator.training is False
    grids = [e for e in events if e["kind"] == "grid"]
    assert len(grids) == 2 and grids[0]["images"].shape == (16, 28, 28)
    assert [e["step"] for e in events if e["kind"] == "eval"] == [2, 4]
    path = dcgan.interpolate(r.generator, 3, 4, 5)
    assert path.shape == (5, 28, 28)
    assert np.allclose(path[0], dcgan.sample_seeded_z(r.generator, 3), atol=1e-5)


def test_dcgan_generator_average_and_its_batchnorm_statistics():
    from core.nets.dcgan import DCGANConfig, DCGANGenerator
    torch.manual_seed(0)
    G, avg = DCGANGenerator(DCGANConfig(width=4)), DCGANGenerator(DCGANConfig(width=4))
    before = [p.detach().clone() for p in avg.parameters()]
    dcgan.update_average(avg, G, 0.999, step=5)           # early: decay (1 + 5) / (10 + 5) = 0.4
    for b, a, g in zip(before, avg.parameters(), G.parameters()):
        assert torch.allclose(a, 0.4 * b + 0.6 * g, atol=1e-6)
    before = [p.detach().clone() for p in avg.parameters()]
    dcgan.update_average(avg, G, 0.99, step=10_000)        # late: the decay asked for
    for b, a, g in zip(before, avg.parameters(), G.parameters()):
        assert torch.allclose(a, 0.99 * b + 0.01 * g, atol=1e-6)
    # recalibrated statistics = the mean / variance of the BatchNorm inputs over those noise vectors
    avg.eval()
    dcgan.recalibrate(avg, n=300, seed=4)
    z = torch.randn((300, avg.config.latent_dim), generator=torch.Generator().manual_seed(4))
    with torch.no_grad():
        pre = avg.project[0](z)
    bn = avg.project[1]
    assert torch.allclose(bn.running_mean, pre.mean(0), atol=1e-5)
    assert torch.allclose(bn.running_var, pre.var(0, unbiased=True), rtol=1e-3, atol=1e-5)
    assert bn.momentum == 0.1 and not avg.training           # momentum and eval mode restored


def test_dcgan_run_keeps_the_average_and_the_raw_generator():
    s = dcgan.DCGANSettings(steps=6, batch_size=8, width=8, grid_every=3, eval_every=0, ema=0.999)
    r = dcgan.train_dcgan(s)
    assert r.raw_generator is not r.generator
    assert any(not torch.equal(a, b) for a, b in zip(r.generator.parameters(), r.raw_generator.parameters()))
    plain = dcgan.train_dcgan(dcgan.DCGANSettings(**{**s.__dict__, "ema": 0.0}))
    assert plain.generator is plain.raw_generator
    for a, b in zip(plain.generator.parameters(), r.raw_generator.parameters()):
        assert torch.equal(a, b)                           # the average never feeds back into training


def test_dcgan_divergence_keeps_last_good_generator():
    s = dcgan.DCGANSettings(steps=300, batch_size=8, width=8, lr=0.1, grid_every=10, eval_every=0)
    r = dcgan.train_dcgan(s)
    if r.reason != "completed":   # lr 0.1 breaks it on this seed; the guard must have kept a finite G
        assert r.reason in ("nan", "d_wins")
        assert all(torch.isfinite(p).all() for p in r.generator.parameters())
        assert r.last_good_step < len(r.history)


# --------------------------------------------------------------------------- VAE

def test_vae_loss_kl_matches_torch_distributions():
    from torch.distributions import Normal, kl_divergence
    mu, logvar = torch.randn(4, 2), torch.randn(4, 2)
    x = torch.rand(4, 784)
    logits = torch.randn(4, 784)
    total, recon, kl = vae.vae_loss(logits, x, mu, logvar, beta=2.0)
    oracle = kl_divergence(Normal(mu, (0.5 * logvar).exp()), Normal(0, 1)).sum() / 4
    assert float(kl) == pytest.approx(float(oracle), rel=1e-5)
    assert float(total) == pytest.approx(float(recon + 2 * kl), rel=1e-6)


def test_vae_beta_zero_is_refused_and_runs_compare():
    with pytest.raises(HeroError) as err:
        vae.train_vaes(vae.VAESettings(beta=0.0, steps=2))
    assert err.value.code == "ch12.beta_zero"
    with pytest.raises(HeroError):
        vae.check_beta(-1)
    r = vae.train_vaes(vae.VAESettings(beta=1.0, compare_beta=4.0, steps=25, batch_size=16, hidden=16))
    assert r["a"].beta == 1.0 and r["b"].beta == 4.0 and r["a"].history and r["b"].history
    m = r["a"].model
    assert vae.latent_grid(m, 3).shape == (9, 28, 28)
    real = compare.real_sample(4)
    assert vae.reconstruct(m, real).shape == (4, 28, 28)
    path = vae.interpolate_vae(m, real[0], real[1], 5)
    assert np.allclose(path[0], vae.reconstruct(m, real[:1])[0], atol=1e-5)
    assert vae.sample_vae(m, 6).shape == (6, 28, 28)


def test_compare_table_rows():
    rows = compare.compare({"real": (compare.real_sample, None),
                            "noise": (lambda n: np.random.default_rng(0).random((n, 28, 28), dtype=np.float32), 0.0)}, n=64)
    by = {r["model"]: r for r in rows}
    assert by["real"]["frechet"] < by["noise"]["frechet"] and by["real"]["coverage"] >= 9
    assert by["noise"]["coverage"] <= 3      # noise is "confidently" one or two digits: why coverage matters
