"""12.3 A VAE on the same MNIST-5k digits: encoder → (μ, log σ²) → z → decoder.

Loss per image = reconstruction (binary cross-entropy, summed over pixels) + β · KL(q(z|x) ‖ N(0, I)).
β = 1 is the VAE; larger β trades sharp reconstructions for a smoother, better-organised latent
space (β-VAE); β = 0 is a plain autoencoder with noise, and is refused here: nothing then ties
the latent space to N(0, I), so decoding z ~ N(0, I) — sampling — stops meaning anything.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F

from core import data as hero_data
from core.device import seed_everything
from core.errors import Emit, HeroError, check_range
from core.nets.vae import VAE, VAEConfig

PRESETS = {
    "tiny": {"steps": 8, "batch_size": 32, "hidden": 32, "grid": 5},
    "default": {"steps": 1000, "batch_size": 128, "hidden": 256, "grid": 12},
    "gpu": {"steps": 4000, "batch_size": 256, "hidden": 512, "grid": 16},
}


@dataclass
class VAESettings:
    beta: float = 1.0         # weight of the KL term
    compare_beta: float = 4.0 # a second run on the same seed, to compare (0: no second run)
    steps: int = 1500
    batch_size: int = 128
    hidden: int = 256
    latent_dim: int = 2
    lr: float = 2e-3
    seed: int = 0
    device: str = "cpu"


@dataclass
class VAERun:
    model: VAE
    beta: float
    history: list = field(default_factory=list)   # {"step", "loss", "recon", "kl"}
    seconds: float = 0.0


def vae_loss(logits: torch.Tensor, x: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor, beta: float):
    """(total, reconstruction, KL), each averaged over the batch; KL in closed form for Gaussians:
    ½ Σ (μ² + σ² − log σ² − 1)."""
    recon = F.binary_cross_entropy_with_logits(logits, x, reduction="sum") / len(x)
    kl = 0.5 * (mu.pow(2) + logvar.exp() - logvar - 1).sum() / len(x)
    return recon + beta * kl, recon, kl


def check_beta(beta: float) -> float:
    if beta == 0:
        raise HeroError("ch12.beta_zero")
    return float(check_range("β", beta, 0.0, 50.0))


def train_one_vae(s: VAESettings, beta: float, data: torch.Tensor, stop=None, emit: Emit | None = None,
                  tag: str = "a") -> VAERun:
    seed_everything(s.seed)
    device = torch.device(s.device)
    model = VAE(VAEConfig(in_features=data.shape[1], hidden=s.hidden, latent_dim=s.latent_dim)).to(device)
    opt = torch.optim.Adam(model.parameters(), s.lr)
    g = torch.Generator().manual_seed(s.seed)
    run, started = VAERun(model, beta), time.perf_counter()
    for step in range(1, s.steps + 1):
        if stop is not None and stop.is_set():
            break
        x = data[torch.randint(0, len(data), (s.batch_size,), generator=g).to(device)]
        # 1. encode, sample z, decode  2. reconstruction + β·KL  3. one Adam step
        logits, mu, logvar = model(x)
        loss, recon, kl = vae_loss(logits, x, mu, logvar, beta)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if step % 25 == 0 or step == s.steps:
            row = {"step": step, "loss": loss.item(), "recon": recon.item(), "kl": kl.item(), "run": tag}
            run.history.append(row)
            if emit is not None:
                emit({"kind": "vae", **row})
    run.seconds = time.perf_counter() - started
    run.model = model.cpu().eval()
    return run


def train_vaes(s: VAESettings, stop=None, emit: Emit | None = None) -> dict:
    """Train at β = ``s.beta`` and (if non-zero) at ``s.compare_beta`` on the same seed.
    Returns {"a": VAERun, "b": VAERun | None}."""
    check_beta(s.beta)
    if s.compare_beta:
        check_beta(s.compare_beta)
    data = torch.tensor(hero_data.load("mnist5k").X).to(s.device)
    total = s.steps * (2 if s.compare_beta else 1)

    def tagged(tag: str, offset: int):
        def inner(event: dict) -> None:
            if emit is not None:
                emit(event)
                emit({"kind": "progress", "done": offset + event["step"], "total": total,
                      "text": f"β={event['run'] == 'a' and s.beta or s.compare_beta} loss {event['loss']:.1f}"})
        return inner

    a = train_one_vae(s, s.beta, data, stop, tagged("a", 0), "a")
    b = train_one_vae(s, s.compare_beta, data, stop, tagged("b", s.steps), "b") if s.compare_beta else None
    return {"a": a, "b": b}


@torch.no_grad()
def reconstruct(model: VAE, images: np.ndarray) -> np.ndarray:
    """images [n, 28, 28] → the decoder's reconstruction of their μ (no sampling): [n, 28, 28]."""
    x = torch.from_numpy(np.asarray(images, np.float32)).reshape(len(images), -1)
    mu, _ = model.encode(x)
    side = int(round(model.config.in_features ** 0.5))
    return torch.sigmoid(model.decode(mu)).reshape(-1, side, side).numpy()


@torch.no_grad()
def latent_grid(model: VAE, n: int = 12, span: float = 2.5) -> np.ndarray:
    """Decode an n×n grid of z over [−span, span]² (2-D latent only): [n·n, side, side], row-major, y up."""
    if model.config.latent_dim != 2:
        raise HeroError("ch12.latent_not_2d", dim=model.config.latent_dim)
    vals = torch.linspace(-span, span, n)
    z = torch.stack(torch.meshgrid(vals.flip(0), vals, indexing="ij"), -1).reshape(-1, 2)[:, [1, 0]]
    side = int(round(model.config.in_features ** 0.5))
    return torch.sigmoid(model.decode(z)).reshape(-1, side, side).numpy()


@torch.no_grad()
def encode_points(model: VAE, images: np.ndarray) -> np.ndarray:
    """μ of each image [n, latent]: where each real digit lands in the latent space."""
    mu, _ = model.encode(torch.from_numpy(np.asarray(images, np.float32)).reshape(len(images), -1))
    return mu.numpy()


@torch.no_grad()
def sample_vae(model: VAE, n: int = 16, seed: int = 0) -> np.ndarray:
    """Decode z ~ N(0, I): [n, side, side]."""
    z = torch.randn((n, model.config.latent_dim), generator=torch.Generator().manual_seed(seed))
    side = int(round(model.config.in_features ** 0.5))
    return torch.sigmoid(model.decode(z)).reshape(-1, side, side).numpy()


@torch.no_grad()
def interpolate_vae(model: VAE, image_a: np.ndarray, image_b: np.ndarray, n: int = 8) -> np.ndarray:
    """Encode two real digits, walk the straight line between their μ, decode: [n, side, side]."""
    mu = torch.from_numpy(encode_points(model, np.stack([image_a, image_b])))
    ts = torch.linspace(0, 1, n)[:, None]
    side = int(round(model.config.in_features ** 0.5))
    return torch.sigmoid(model.decode((1 - ts) * mu[0] + ts * mu[1])).reshape(-1, side, side).numpy()
