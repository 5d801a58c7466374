"""12.1 A GAN on 2-D points, GAN Lab style.

The generator G maps noise z to points; the discriminator D scores points real (1) or fake (0).
One step of D: push D(real) up and D(G(z)) down. One step of G: move G(z) where D says "real".
Every piece is drawn live: G's samples on top of the real ones and D's probability surface.

- ``loss="gan"``: the original minimax game with G's non-saturating loss (BCE with logits).
- ``loss="wgan-gp"``: D becomes a critic with an unbounded score; its gradient norm is pushed
  to 1 on points between real and fake (gradient penalty), which keeps G's gradient alive.

A run that diverges (a NaN, or D winning outright: its loss → 0 so G learns nothing) stops
with the reason, and the generator from the last good frame is kept.
"""
from __future__ import annotations

import copy
import math
import time
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F

from core.device import seed_everything
from core.errors import Emit, HeroError
from core.nets.gan_mlp import GanMLP, GanMLPConfig

PRESETS = {
    "tiny": {"steps": 30, "points": 300, "grid": 16, "frame_every": 10},
    "default": {"steps": 1500, "points": 1000, "grid": 40, "frame_every": 50},
    "gpu": {"steps": 3000, "points": 2000, "grid": 60, "frame_every": 50},
}
TARGETS = ("ring", "grid", "moons", "spiral", "custom")
# Reproducible situations (seeded), each a set of GAN2DSettings overrides:
LAB_PRESETS = {
    "balanced": {},                                             # both players learn: all 8 modes appear
    "collapse": {"d_lr": 1e-4, "g_lr": 3e-3},                   # G far faster than D: G piles onto one or two modes
    "wgan": {"loss": "wgan-gp", "d_steps": 5},                  # the critic trained 5× per G step, with the gradient penalty
    "diverge": {"d_lr": 1e-2, "g_lr": 1e-6, "d_steps": 5},      # D wins outright: its loss → 0, G's gradient vanishes
}
MIN_POINTS = 20          # fewer drawn points than this cannot describe a distribution
LOSSES = ("gan", "wgan-gp")


def target_points(kind: str, n: int = 1000, seed: int = 0, custom: np.ndarray | None = None) -> np.ndarray:
    """Real data [n, 2]: 8 Gaussians on a ring, a 3×3 grid of Gaussians, two moons, a spiral,
    or the visitor's own points (``custom``, resampled with a little jitter)."""
    rng = np.random.default_rng(seed)
    if kind == "ring":
        angles = rng.integers(0, 8, n) * (2 * math.pi / 8)
        return (np.stack([np.cos(angles), np.sin(angles)], 1) * 1.5 + rng.normal(0, 0.08, (n, 2))).astype(np.float32)
    if kind == "grid":
        centres = np.array([(x, y) for x in (-1.2, 0, 1.2) for y in (-1.2, 0, 1.2)])
        return (centres[rng.integers(0, 9, n)] + rng.normal(0, 0.08, (n, 2))).astype(np.float32)
    if kind == "moons":
        from sklearn.datasets import make_moons
        X, _ = make_moons(n, noise=0.06, random_state=seed)
        return ((X - [0.5, 0.25]) * 1.2).astype(np.float32)
    if kind == "spiral":
        r = np.sqrt(rng.uniform(0.02, 1, n)) * 1.8
        theta = r * 2.2 * math.pi
        return (np.stack([r * np.cos(theta), r * np.sin(theta)], 1) + rng.normal(0, 0.04, (n, 2))).astype(np.float32)
    if kind == "custom":
        pts = check_custom(custom)
        return (pts[rng.integers(0, len(pts), n)] + rng.normal(0, 0.04, (n, 2))).astype(np.float32)
    raise HeroError("ch12.unknown_target", name=kind, known=", ".join(TARGETS))


def check_custom(points: np.ndarray | None) -> np.ndarray:
    """The visitor's points [k, 2], refused with a clear message when there are too few."""
    pts = np.zeros((0, 2)) if points is None else np.asarray(points, dtype=np.float32).reshape(-1, 2)
    pts = pts[np.isfinite(pts).all(1)]
    if len(np.unique(pts.round(3), axis=0)) < MIN_POINTS:
        raise HeroError("ch12.too_few_points", n=len(pts), need=MIN_POINTS)
    return pts


def points_from_canvas(rgba: np.ndarray, max_points: int = 600) -> np.ndarray:
    """A drawing [H, W, 4] (RGBA, strokes opaque) → points [k, 2] in [-2, 2]² (y up).

    Every painted pixel is a sample of the visitor's distribution; a thick stroke just means
    more mass there. At most ``max_points`` pixels are kept (evenly subsampled)."""
    a = np.asarray(rgba)
    if a.ndim != 3 or a.shape[2] < 4:
        return np.zeros((0, 2), np.float32)
    rows, cols = np.nonzero(a[..., 3] > 0)
    if len(rows) > max_points:
        keep = np.linspace(0, len(rows) - 1, max_points).round().astype(int)
        rows, cols = rows[keep], cols[keep]
    h, w = a.shape[:2]
    return np.stack([cols / (w - 1) * 4 - 2, 2 - rows / (h - 1) * 4], 1).astype(np.float32)


def parse_points(text: str) -> np.ndarray:
    """Points typed as ``x, y`` per line (no eval: each number goes through ``float``)."""
    pts = []
    for line in (text or "").splitlines():
        parts = line.replace(";", ",").replace(" ", ",").split(",")
        nums = [p for p in parts if p.strip()]
        if len(nums) != 2:
            continue
        try:
            pts.append((float(nums[0]), float(nums[1])))
        except ValueError:
            continue
    return np.asarray(pts, dtype=np.float32).reshape(-1, 2)


@dataclass
class GAN2DSettings:
    target: str = "ring"
    n_points: int = 1000
    loss: str = "gan"            # "gan" (BCE, non-saturating G loss) or "wgan-gp"
    noise_dim: int = 2
    hidden: int = 64
    depth: int = 2
    g_lr: float = 1e-3
    d_lr: float = 1e-3
    betas: tuple = (0.5, 0.9)    # Adam β1 = 0.5: the usual GAN choice, less momentum in a moving game
    d_steps: int = 1             # D updates per G update
    gp_weight: float = 0.1       # WGAN-GP λ (small: 2-D critics are tiny)
    steps: int = 1500            # G updates in one run
    batch_size: int = 128
    frame_every: int = 50        # steps between live frames
    grid: int = 40               # resolution of the discriminator surface
    seed: int = 0
    device: str = "cpu"


@dataclass
class GANLab:
    """A GAN being trained: both nets, their optimisers, the real data and what happened so far."""
    settings: GAN2DSettings
    G: GanMLP
    D: GanMLP
    opt_g: torch.optim.Optimizer
    opt_d: torch.optim.Optimizer
    real: torch.Tensor                       # [N, 2]
    fixed_z: torch.Tensor                    # [512, noise_dim]: the same noise every frame, so motion is G's
    step: int = 0
    history: list = field(default_factory=list)   # {"step", "d_loss", "g_loss", "d_real", "d_fake"}
    generator: torch.Generator | None = None


def new_lab(s: GAN2DSettings, custom: np.ndarray | None = None) -> GANLab:
    """Fresh G and D for settings ``s`` (seeded), on ``s.device``."""
    if s.loss not in LOSSES:
        raise HeroError("ch12.unknown_loss", name=s.loss, known=", ".join(LOSSES))
    seed_everything(s.seed)
    device = torch.device(s.device)
    G = GanMLP(GanMLPConfig(in_features=s.noise_dim, out_features=2, hidden=s.hidden, depth=s.depth)).to(device)
    D = GanMLP(GanMLPConfig(in_features=2, out_features=1, hidden=s.hidden, depth=s.depth)).to(device)
    real = torch.from_numpy(target_points(s.target, s.n_points, s.seed, custom)).to(device)
    g = torch.Generator().manual_seed(s.seed)
    return GANLab(s, G, D, torch.optim.Adam(G.parameters(), s.g_lr, betas=tuple(s.betas)),
                  torch.optim.Adam(D.parameters(), s.d_lr, betas=tuple(s.betas)), real,
                  torch.randn((512, s.noise_dim), generator=g).to(device), generator=g)


def _noise(lab: GANLab, n: int) -> torch.Tensor:
    return torch.randn((n, lab.settings.noise_dim), generator=lab.generator).to(lab.real.device)


def gradient_penalty(D: GanMLP, real: torch.Tensor, fake: torch.Tensor, g: torch.Generator) -> torch.Tensor:
    """WGAN-GP: mean (‖∇D(x̂)‖ − 1)² on random points x̂ between real and fake samples."""
    eps = torch.rand((len(real), 1), generator=g).to(real.device)
    mix = (eps * real + (1 - eps) * fake).requires_grad_(True)
    grad, = torch.autograd.grad(D(mix).sum(), mix, create_graph=True)
    return ((grad.norm(dim=1) - 1) ** 2).mean()


def d_step(lab: GANLab) -> dict:
    """One discriminator update on a real batch and a fake batch (G frozen)."""
    s = lab.settings
    real = lab.real[torch.randint(0, len(lab.real), (s.batch_size,), generator=lab.generator).to(lab.real.device)]
    with torch.no_grad():
        fake = lab.G(_noise(lab, s.batch_size))
    d_real, d_fake = lab.D(real), lab.D(fake)
    if s.loss == "gan":
        # 1. D wants real → 1 and fake → 0
        loss = F.binary_cross_entropy_with_logits(d_real, torch.ones_like(d_real)) + \
            F.binary_cross_entropy_with_logits(d_fake, torch.zeros_like(d_fake))
    else:
        # 1. the critic widens the score gap, 2. the penalty keeps its slope near 1
        loss = d_fake.mean() - d_real.mean() + s.gp_weight * gradient_penalty(lab.D, real, fake, lab.generator)
    lab.opt_d.zero_grad(set_to_none=True)
    loss.backward()
    lab.opt_d.step()
    return {"d_loss": loss.item(), "d_real": d_real.mean().item(), "d_fake": d_fake.mean().item()}


def g_step(lab: GANLab) -> dict:
    """One generator update: move G(z) where D scores "real" (D's weights are not stepped)."""
    s = lab.settings
    score = lab.D(lab.G(_noise(lab, s.batch_size)))
    if s.loss == "gan":
        loss = F.binary_cross_entropy_with_logits(score, torch.ones_like(score))   # non-saturating: −log D(G(z))
    else:
        loss = -score.mean()
    lab.opt_g.zero_grad(set_to_none=True)
    loss.backward()
    lab.opt_g.step()
    return {"g_loss": loss.item()}


def diverged(lab: GANLab, window: int = 40) -> str | None:
    """Why the run cannot go on: "nan" (a loss or a G weight is not finite), "d_wins" (the BCE
    discriminator's loss has stayed ≈ 0 for ``window`` steps: G's gradient has vanished), or
    "exploded" (a WGAN critic score beyond 1e6)."""
    last = lab.history[-1] if lab.history else {}
    values = [v for k, v in last.items() if k != "step" and v is not None]
    if any(not math.isfinite(v) for v in values) or any(not torch.isfinite(p).all() for p in lab.G.parameters()):
        return "nan"
    if lab.settings.loss == "gan":
        recent = [h.get("d_loss") for h in lab.history[-window:]]
        if len(recent) == window and all(v is not None and v < 1e-3 for v in recent):
            return "d_wins"
    elif any(abs(v) > 1e6 for v in values):
        return "exploded"
    return None


def step_lab(lab: GANLab, which: str = "both", n: int = 1) -> str | None:
    """Advance ``n`` steps: ``"d"`` (D only), ``"g"`` (G only) or ``"both"`` (``d_steps`` of D, then one of G).
    Returns the divergence reason if the run broke (see :func:`diverged`), else None."""
    if which not in ("d", "g", "both"):
        raise HeroError("ch12.unknown_step", name=which)
    lab.G.train()
    lab.D.train()
    for _ in range(n):
        row: dict = {"step": lab.step + 1, "d_loss": None, "g_loss": None}
        if which in ("d", "both"):
            for _ in range(lab.settings.d_steps if which == "both" else 1):
                row.update(d_step(lab))
        if which in ("g", "both"):
            row.update(g_step(lab))
        lab.step += 1
        lab.history.append(row)
        if (reason := diverged(lab)) is not None:
            return reason
    return None


@torch.no_grad()
def frame(lab: GANLab, grid: int | None = None) -> dict:
    """What the lab draws: G's samples of the fixed noise [512, 2], real points [≤600, 2], and
    D's surface on a grid (probability "real" for the GAN; the critic score, scaled to 0..1, for WGAN)."""
    s = lab.settings
    grid = grid or s.grid
    fake = lab.G(lab.fixed_z).cpu().numpy()
    real = lab.real[:600].cpu().numpy()
    lo = float(min(real.min(), np.nanmin(fake) if np.isfinite(fake).any() else -2, -2.0))
    hi = float(max(real.max(), np.nanmax(fake) if np.isfinite(fake).any() else 2, 2.0))
    lo, hi = max(lo, -6.0), min(hi, 6.0)
    xs = np.linspace(lo, hi, grid, dtype=np.float32)
    mesh = torch.from_numpy(np.stack(np.meshgrid(xs, xs), -1).reshape(-1, 2)).to(lab.real.device)
    out = lab.D(mesh).reshape(grid, grid).cpu().numpy()
    if s.loss == "gan":
        surface = 1 / (1 + np.exp(-np.clip(out, -30, 30)))
    else:
        span = out.max() - out.min()
        surface = (out - out.min()) / span if span > 0 else np.full_like(out, 0.5)
    last = lab.history[-1] if lab.history else {}
    return {"step": lab.step, "fake": fake, "real": real, "xs": xs, "surface": surface,
            "d_loss": last.get("d_loss"), "g_loss": last.get("g_loss"), "coverage": mode_coverage(lab)}


def mode_coverage(lab: GANLab) -> dict | None:
    """For the ring (8 modes) and grid (9): how many modes hold ≥ 2 % of G's samples, and the share
    of samples near any mode (within 4σ). None for targets without discrete modes."""
    s = lab.settings
    if s.target == "ring":
        a = np.arange(8) * 2 * math.pi / 8
        centres = np.stack([np.cos(a), np.sin(a)], 1) * 1.5
    elif s.target == "grid":
        centres = np.array([(x, y) for x in (-1.2, 0, 1.2) for y in (-1.2, 0, 1.2)])
    else:
        return None
    with torch.no_grad():
        fake = lab.G(lab.fixed_z).cpu().numpy()
    if not np.isfinite(fake).all():
        return {"modes": 0, "of": len(centres), "near": 0.0}
    dist = np.linalg.norm(fake[:, None] - centres[None], axis=2)
    near = dist.min(1) < 0.32
    counts = np.bincount(dist.argmin(1)[near], minlength=len(centres))
    return {"modes": int((counts >= 0.02 * len(fake)).sum()), "of": len(centres), "near": float(near.mean())}


@dataclass
class GAN2DResult:
    lab: GANLab
    reason: str                    # "completed", "stopped", "nan", "d_wins" or "exploded"
    last_good_step: int
    seconds: float

    @property
    def ok(self) -> bool:
        return self.reason in ("completed", "stopped")


def train_gan2d(s: GAN2DSettings, stop=None, emit: Emit | None = None, lab: GANLab | None = None,
                custom: np.ndarray | None = None, which: str = "both") -> GAN2DResult:
    """Train for ``s.steps`` steps (continuing ``lab`` if given), emitting a ``frame`` event every
    ``s.frame_every`` steps. On divergence, G (and D) go back to the last good frame."""
    lab = lab or new_lab(s, custom)
    started = time.perf_counter()
    good = (copy.deepcopy(lab.G.state_dict()), copy.deepcopy(lab.D.state_dict()), lab.step)
    reason = "completed"
    if emit is not None:
        emit({"kind": "frame", **frame(lab)})
    done = 0
    while done < s.steps:
        if stop is not None and stop.is_set():
            reason = "stopped"
            break
        n = min(s.frame_every, s.steps - done)
        broke = step_lab(lab, which, n)
        done += n
        if broke is not None:
            reason = broke
            lab.G.load_state_dict(good[0])
            lab.D.load_state_dict(good[1])
            break
        good = (copy.deepcopy(lab.G.state_dict()), copy.deepcopy(lab.D.state_dict()), lab.step)
        if emit is not None:
            emit({"kind": "frame", **frame(lab)})
            emit({"kind": "progress", "done": done, "total": s.steps,
                  "text": f"D {lab.history[-1].get('d_loss') or 0:.3f} · G {lab.history[-1].get('g_loss') or 0:.3f}"})
    return GAN2DResult(lab, reason, good[2], time.perf_counter() - started)
