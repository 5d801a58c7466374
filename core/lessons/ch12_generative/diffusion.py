"""12.4 Diffusion with ``diffusers``: the schedulers and the UNet come from the library.

Digits: MNIST-5k downsampled to 16×16 and scaled to [-1, 1]; ``UNet2DModel`` (wrapped as the
registered net ``unet_digits``) learns to predict the noise; ``DDPMScheduler`` adds noise in
training and walks back 1000 steps, ``DDIMScheduler`` walks back in 50/20/10 on the same net.
Toy: the same recipe on 2-D points with an MLP denoiser, trained live in seconds.
"""
from __future__ import annotations

import copy
import time
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from core import data as hero_data
from core.device import seed_everything
from core.errors import Emit, HeroError
from core.lessons.ch12_generative.gan2d import target_points
from core.nets.toy_diffusion import ToyDenoiser, ToyDenoiserConfig
from core.nets.unet_digits import UNetDigits, UNetDigitsConfig

PRESETS = {
    "tiny": {"toy_steps": 60, "toy_points": 256, "n_samples": 4, "ddpm_steps": 40, "ddim_steps": (10, 5),
             "frames": 5, "train_steps": 4},
    "default": {"toy_steps": 2000, "toy_points": 1000, "n_samples": 16, "ddpm_steps": 1000, "ddim_steps": (50, 20, 10),
                "frames": 12, "train_steps": 300},
    "gpu": {"toy_steps": 4000, "toy_points": 2000, "n_samples": 64, "ddpm_steps": 1000, "ddim_steps": (50, 20, 10),
            "frames": 20, "train_steps": 2000},
}


# --------------------------------------------------------------------------- schedulers (from diffusers)

def make_scheduler(kind: str, train_timesteps: int = 1000, beta_schedule: str = "squaredcos_cap_v2",
                   clip: bool = True):
    """``DDPMScheduler`` or ``DDIMScheduler`` from diffusers, both on the same β schedule.
    ``clip`` keeps the predicted x0 in [-1, 1] (right for images, wrong for 2-D points beyond ±1)."""
    from diffusers import DDIMScheduler, DDPMScheduler
    ddpm = DDPMScheduler(num_train_timesteps=train_timesteps, beta_schedule=beta_schedule, clip_sample=clip)
    if kind == "ddpm":
        return ddpm
    if kind == "ddim":
        return DDIMScheduler.from_config(ddpm.config)
    raise HeroError("ch12.unknown_sampler", name=kind)


def check_steps(steps: int, train_timesteps: int) -> int:
    """Inference steps must lie in 1..T: a scheduler cannot take more steps than the process has."""
    if not isinstance(steps, (int, np.integer)) or not 1 <= int(steps) <= train_timesteps:
        raise HeroError("ch12.steps_range", steps=steps, low=1, high=train_timesteps)
    return int(steps)


def noise_at(x0: torch.Tensor, t: int, scheduler, seed: int = 0) -> dict:
    """The forward process at step t: x_t = √ᾱ_t·x0 + √(1−ᾱ_t)·ε, via ``scheduler.add_noise``.

    x0: [B, ...] in [-1, 1]. Returns x_t, the noise ε, ᾱ_t and the signal-to-noise ratio.
    """
    T = scheduler.config.num_train_timesteps
    if not 0 <= int(t) < T:
        raise HeroError("ch12.steps_range", steps=t, low=0, high=T - 1)
    g = torch.Generator().manual_seed(seed)
    noise = torch.randn(x0.shape, generator=g).to(x0.device)
    timesteps = torch.full((x0.shape[0],), int(t), dtype=torch.long, device=x0.device)
    xt = scheduler.add_noise(x0, noise, timesteps)
    alpha_bar = float(scheduler.alphas_cumprod[int(t)])
    return {"xt": xt, "noise": noise, "alpha_bar": alpha_bar, "snr": alpha_bar / max(1e-12, 1 - alpha_bar)}


# --------------------------------------------------------------------------- digits

def digit_images(image_size: int = 16) -> torch.Tensor:
    """MNIST-5k as [5000, 1, S, S] in [-1, 1] (area-downsampled from 28×28)."""
    ds = hero_data.load("mnist5k")
    x = torch.tensor(ds.X).reshape(-1, 1, 28, 28)
    if image_size != 28:
        x = F.interpolate(x, size=(image_size, image_size), mode="area")
    return x * 2 - 1


@dataclass
class DigitDDPMSettings:
    steps: int = 3000            # optimiser steps (≈ 38 epochs of the 5k digits at batch 64)
    batch_size: int = 64
    lr: float = 2e-3             # Adam; decays to 0 along a cosine
    ema: float = 0.995           # exponential moving average of the weights: much cleaner samples after short training
    image_size: int = 16
    channels: tuple = (16, 32, 64)
    seed: int = 0
    device: str = "cpu"


def train_digit_ddpm(s: DigitDDPMSettings, stop=None, emit: Emit | None = None) -> dict:
    """Train the digit DDPM: 1. pick x0 and t, 2. add noise with DDPMScheduler, 3. predict the noise (MSE).

    Returns {"model": EMA UNetDigits (eval, CPU), "losses": [...], "seconds": float}.
    """
    seed_everything(s.seed)
    device = torch.device(s.device)
    config = UNetDigitsConfig(image_size=s.image_size, channels=tuple(s.channels))
    model = UNetDigits(config).to(device)
    ema = copy.deepcopy(model).eval()
    scheduler = make_scheduler("ddpm", config.train_timesteps, config.beta_schedule)
    data = digit_images(s.image_size).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=s.lr)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=s.lr, total_steps=s.steps, pct_start=0.05)
    g = torch.Generator(device="cpu").manual_seed(s.seed)
    losses, started = [], time.perf_counter()
    for step in range(1, s.steps + 1):
        if stop is not None and stop.is_set():
            break
        # 1. a batch of clean digits and a random timestep for each
        x0 = data[torch.randint(0, len(data), (s.batch_size,), generator=g).to(device)]
        t = torch.randint(0, config.train_timesteps, (s.batch_size,), generator=g).to(device)
        # 2. the forward process, from the library: x_t = √ᾱ_t x0 + √(1−ᾱ_t) ε
        noise = torch.randn(x0.shape, generator=g).to(device)
        xt = scheduler.add_noise(x0, noise, t)
        # 3. the network predicts ε; plain MSE is the DDPM "simple" loss
        loss = F.mse_loss(model(xt, t), noise)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        with torch.no_grad():
            for pe, pm in zip(ema.parameters(), model.parameters()):
                pe.lerp_(pm, 1 - s.ema)
        losses.append(loss.item())
        if emit is not None and (step % 10 == 0 or step == s.steps):
            emit({"kind": "progress", "done": step, "total": s.steps, "text": f"loss {np.mean(losses[-50:]):.4f}",
                  "loss": float(np.mean(losses[-50:]))})
    return {"model": ema.cpu().eval(), "losses": losses, "seconds": time.perf_counter() - started}


@torch.no_grad()
def sample_digits(model: UNetDigits, n: int = 16, sampler: str = "ddim", steps: int = 50, seed: int = 0,
                  frames: int = 0, stop=None, emit: Emit | None = None) -> dict:
    """Reverse process with a diffusers scheduler: start from noise, 1. predict ε, 2. x_t → x_{t-1}.

    Returns {"images": [n, S, S] in [0, 1], "frames": [(t, [n, S, S])...] (``frames`` snapshots),
    "seconds", "steps", "sampler"}.
    """
    c = model.config
    steps = check_steps(steps, c.train_timesteps)
    scheduler = make_scheduler(sampler, c.train_timesteps, c.beta_schedule)
    scheduler.set_timesteps(steps)
    device = next(model.parameters()).device
    g = torch.Generator().manual_seed(seed)
    x = torch.randn((n, 1, c.image_size, c.image_size), generator=g).to(device)
    keep = set(np.linspace(0, steps - 1, frames).round().astype(int).tolist()) if frames else set()
    snapshots, started = [], time.perf_counter()
    model.eval()
    for i, t in enumerate(scheduler.timesteps):
        if stop is not None and stop.is_set():
            break
        # 1. predict the noise in x_t
        eps = model(x, t.expand(n).to(device))
        # 2. one reverse step of the scheduler (DDPM samples fresh noise; DDIM with eta=0 is deterministic)
        x = scheduler.step(eps, t, x, generator=g).prev_sample if sampler == "ddpm" else scheduler.step(eps, t, x).prev_sample
        if i in keep:
            snapshots.append((int(t), ((x[:, 0].clamp(-1, 1) + 1) / 2).cpu().numpy()))
        if emit is not None and (i % 10 == 0 or i == steps - 1):
            emit({"kind": "progress", "done": i + 1, "total": steps, "text": f"{sampler} t={int(t)}"})
    images = ((x[:, 0].clamp(-1, 1) + 1) / 2).cpu().numpy()
    return {"images": images, "frames": snapshots, "seconds": time.perf_counter() - started,
            "steps": steps, "sampler": sampler}


def to_28(images: np.ndarray) -> np.ndarray:
    """[n, S, S] → [n, 28, 28] (bilinear), so the 28×28 classifier can judge 16×16 samples."""
    x = torch.from_numpy(np.asarray(images, dtype=np.float32))[:, None]
    if x.shape[-1] == 28:
        return x[:, 0].numpy()
    return F.interpolate(x, size=(28, 28), mode="bilinear", align_corners=False)[:, 0].clamp(0, 1).numpy()


# --------------------------------------------------------------------------- 2-D toy diffusion

@dataclass
class ToyDiffusionSettings:
    target: str = "moons"        # any 2-D target of the GAN lab (ring, grid, moons, spiral, custom)
    n_points: int = 1000
    steps: int = 2000            # optimiser steps
    batch_size: int = 256
    lr: float = 3e-3
    hidden: int = 128
    train_timesteps: int = 100   # T: 100 noise levels are plenty for 2-D points
    seed: int = 0
    device: str = "cpu"


def train_toy_diffusion(s: ToyDiffusionSettings, stop=None, emit: Emit | None = None,
                        custom: np.ndarray | None = None) -> dict:
    """The DDPM recipe on points: 1. x0 and t, 2. ``DDPMScheduler.add_noise``, 3. MSE on the noise.
    Returns {"model": ToyDenoiser, "real": [N, 2], "losses", "seconds"}."""
    seed_everything(s.seed)
    device = torch.device(s.device)
    real = torch.from_numpy(target_points(s.target, s.n_points, s.seed, custom)).to(device)
    model = ToyDenoiser(ToyDenoiserConfig(hidden=s.hidden, train_timesteps=s.train_timesteps)).to(device)
    scheduler = make_scheduler("ddpm", s.train_timesteps, "squaredcos_cap_v2", clip=False)
    opt = torch.optim.Adam(model.parameters(), s.lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, s.steps)
    g = torch.Generator().manual_seed(s.seed)
    losses, started = [], time.perf_counter()
    for step in range(1, s.steps + 1):
        if stop is not None and stop.is_set():
            break
        x0 = real[torch.randint(0, len(real), (s.batch_size,), generator=g).to(device)]
        t = torch.randint(0, s.train_timesteps, (s.batch_size,), generator=g).to(device)
        noise = torch.randn(x0.shape, generator=g).to(device)
        loss = F.mse_loss(model(scheduler.add_noise(x0, noise, t), t), noise)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        losses.append(loss.item())
        if emit is not None and (step % 100 == 0 or step == s.steps):
            emit({"kind": "progress", "done": step, "total": s.steps, "text": f"loss {np.mean(losses[-100:]):.4f}",
                  "loss": float(np.mean(losses[-100:])), "step": step})
    return {"model": model.cpu().eval(), "real": real.cpu().numpy(), "losses": losses,
            "seconds": time.perf_counter() - started}


@torch.no_grad()
def sample_toy(model: ToyDenoiser, n: int = 1000, sampler: str = "ddpm", steps: int | None = None,
               seed: int = 0, frames: int = 10) -> dict:
    """Points from noise: {"points": [n, 2], "frames": [(t, [n, 2]) ...] from pure noise to the end}."""
    T = model.config.train_timesteps
    steps = check_steps(steps if steps is not None else T, T)
    scheduler = make_scheduler(sampler, T, "squaredcos_cap_v2", clip=False)
    scheduler.set_timesteps(steps)
    g = torch.Generator().manual_seed(seed)
    x = torch.randn((n, 2), generator=g)
    keep = set(np.linspace(0, steps - 1, max(frames - 1, 1)).round().astype(int).tolist())
    snapshots = [(T, x.numpy().copy())]
    for i, t in enumerate(scheduler.timesteps):
        eps = model(x, t.expand(n))                                   # 1. predict the noise
        out = scheduler.step(eps[:, :, None], t, x[:, :, None], generator=g) if sampler == "ddpm" \
            else scheduler.step(eps[:, :, None], t, x[:, :, None])    # 2. x_t → x_{t-1} (the schedulers want [B, C, ...])
        x = out.prev_sample[:, :, 0]
        if i in keep:
            snapshots.append((int(t), x.numpy().copy()))
    return {"points": x.numpy(), "frames": snapshots}
