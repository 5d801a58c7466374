"""16.3 Trustworthy AI: adversarial examples against a digits classifier, and adversarial training.

FGSM (Goodfellow et al., 2015) takes one step of size ε in the direction that increases the loss
fastest under an L∞ budget: x' = clip(x + ε · sign(∇ₓ loss(f(x), y)), 0, 1).
PGD (Madry et al., 2018) takes several smaller steps α from a random start in the ε-ball and
projects back into the ball (and the valid pixel range) after each: the stronger attack.
Adversarial training fits the model on such perturbed images too, trading a little clean
accuracy for accuracy under attack ("robust accuracy").

Images are in [0, 1]; models take them flattened [B, S²] (the gallery's digit models accept both).
"""
from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import plotly.graph_objects as go
import torch
import torch.nn.functional as F
from torch import nn

from core import data as hero_data
from core.device import seed_everything
from core.errors import Emit, HeroError, check_range
from core.lessons import trainer
from core.lessons.ch13_deployment import eval_set, image_size_of
from core.nets.small_cnn import SmallCNN, SmallCNNConfig
from core.viz import style

PRESETS = {
    "tiny": {"eval_n": 40, "epochs": 1, "pgd_steps": 3, "eps_points": 4, "train_n": 128},
    "default": {"eval_n": 360, "epochs": 12, "pgd_steps": 10, "eps_points": 9, "train_n": 0},
    "gpu": {"eval_n": 360, "epochs": 20, "pgd_steps": 20, "eps_points": 11, "train_n": 0},
}
METHODS = ("fgsm", "pgd")


def check_eps(eps: float) -> float:
    """ε is an L∞ budget on pixels in [0, 1]: outside [0, 1] it means nothing."""
    return float(check_range("ε", eps, 0.0, 1.0))


def _loss_grad(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """∇ₓ cross_entropy(model(x), y) for x [B, D] (the model's own parameters get no gradient)."""
    x = x.detach().clone().requires_grad_(True)
    loss = F.cross_entropy(model(x), y)
    (grad,) = torch.autograd.grad(loss, x)
    return grad


def fgsm(model: nn.Module, x: torch.Tensor, y: torch.Tensor, eps: float, clamp: bool = True) -> torch.Tensor:
    """x [B, D] in [0, 1], y [B] → x + ε · sign(∇ₓ loss), clipped to [0, 1] when ``clamp``."""
    check_eps(eps)
    adv = x + eps * _loss_grad(model, x, y).sign()
    return adv.clamp(0.0, 1.0).detach() if clamp else adv.detach()


def pgd(model: nn.Module, x: torch.Tensor, y: torch.Tensor, eps: float, steps: int = 10,
        alpha: float | None = None, seed: int = 0) -> torch.Tensor:
    """Projected gradient descent on the loss (ascent, really) inside ‖x' − x‖∞ ≤ ε and [0, 1]."""
    check_eps(eps)
    alpha = alpha if alpha is not None else 2.5 * eps / max(steps, 1)   # Madry's rule of thumb
    g = torch.Generator().manual_seed(seed)
    # 1. random start inside the ball
    adv = (x + (torch.rand(x.shape, generator=g) * 2 - 1).to(x.device) * eps).clamp(0, 1)
    for _ in range(steps):
        # 2. one signed-gradient step  3. project back into the ε-ball and the pixel range
        adv = adv + alpha * _loss_grad(model, adv, y).sign()
        adv = torch.min(torch.max(adv, x - eps), x + eps).clamp(0, 1)
    return adv.detach()


def attack(model: nn.Module, x: torch.Tensor, y: torch.Tensor, eps: float, method: str = "fgsm",
           pgd_steps: int = 10) -> torch.Tensor:
    if method not in METHODS:
        raise HeroError("ch16.unknown_attack", name=method, known=", ".join(METHODS))
    if eps == 0:
        return x.clone()
    return fgsm(model, x, y, eps) if method == "fgsm" else pgd(model, x, y, eps, pgd_steps)


def flat_eval_set(model: nn.Module, n: int) -> tuple[torch.Tensor, torch.Tensor, int]:
    """The validation digits the model was made for: (X [n, S²], y [n], S)."""
    size = image_size_of(model)
    X, y = eval_set(size, n)
    return X.reshape(len(X), -1), y, size


@torch.no_grad()
def accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    return float((model(x).argmax(1) == y).float().mean())


@dataclass
class AttackSettings:
    eps: float = 0.1              # the ε of the examples shown
    eps_max: float = 0.3          # the curve runs from 0 to eps_max
    eps_points: int = 9
    pgd_steps: int = 10
    eval_n: int = 360
    device: str = "cpu"


def accuracy_curve(model: nn.Module, s: AttackSettings, stop=None, emit: Emit | None = None) -> list[dict]:
    """Accuracy on ``eval_n`` validation digits under FGSM and PGD at ε = 0 … eps_max:
    [{"eps", "fgsm", "pgd"}]."""
    check_eps(s.eps_max)
    model = model.to(s.device).eval()
    X, y, _ = flat_eval_set(model, s.eval_n)
    X, y = X.to(s.device), y.to(s.device)
    rows = []
    grid = np.linspace(0.0, s.eps_max, s.eps_points)
    for i, eps in enumerate(grid):
        if stop is not None and stop.is_set():
            break
        row = {"eps": float(eps)}
        for method in METHODS:
            row[method] = accuracy(model, attack(model, X, y, float(eps), method, s.pgd_steps), y)
        rows.append(row)
        if emit is not None:
            emit({"kind": "eps", **row})
            emit({"kind": "progress", "done": i + 1, "total": len(grid), "text": f"ε={eps:.2f}"})
    return rows


def examples(model: nn.Module, eps: float, method: str = "fgsm", n: int = 8, pgd_steps: int = 10,
             device: str = "cpu") -> dict:
    """The first n validation digits attacked: images [n, S, S] clean / adversarial / perturbation,
    predictions and confidences before and after."""
    check_eps(eps)
    model = model.to(device).eval()
    X, y, size = flat_eval_set(model, n)
    X, y = X.to(device), y.to(device)
    adv = attack(model, X, y, eps, method, pgd_steps)
    with torch.no_grad():
        p_clean, p_adv = model(X).softmax(1), model(adv).softmax(1)
    shape = (-1, size, size)
    return {"clean": X.cpu().reshape(shape).numpy(), "adv": adv.cpu().reshape(shape).numpy(),
            "delta": (adv - X).cpu().reshape(shape).numpy(), "label": y.cpu().numpy(),
            "pred_clean": p_clean.argmax(1).cpu().numpy(), "pred_adv": p_adv.argmax(1).cpu().numpy(),
            "conf_clean": p_clean.max(1).values.cpu().numpy(), "conf_adv": p_adv.max(1).values.cpu().numpy(),
            "linf": float((adv - X).abs().max())}


@dataclass
class AdvTrainSettings:
    eps: float = 0.1             # the budget trained against and evaluated at
    method: str = "fgsm"         # attack used to make the training examples (PGD is ~steps× slower)
    epochs: int = 12
    batch_size: int = 64
    lr: float = 3e-3
    pgd_steps: int = 10          # of the evaluation attack (and of training when method = "pgd")
    eval_n: int = 360
    train_n: int = 0             # training digits used (0: all 1,437); tests keep it small
    seed: int = 0
    device: str = "cpu"


def train_digits_cnn(s: AdvTrainSettings, adversarial: bool, stop=None, emit: Emit | None = None,
                     tag: str = "") -> SmallCNN:
    """A fresh 8×8 SmallCNN, trained on clean batches, or on ½ clean + ½ attacked loss when ``adversarial``.

    Its own loop rather than core.train.fit: each batch's attacked copy needs the model's current
    gradients, which a loss_fn(model(x), y) cannot make. Same seed → same init and batch order in both runs.
    """
    seed_everything(s.seed)
    device = torch.device(s.device)
    parts = hero_data.split(hero_data.load("digits"), 0.2, seed=0)
    n = s.train_n or len(parts.y_train)
    X, y = parts.X_train[:n].to(device), parts.y_train[:n].to(device)
    model = SmallCNN(SmallCNNConfig(image_size=8)).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=s.lr)
    g = torch.Generator().manual_seed(s.seed)
    steps_per_epoch = (len(y) + s.batch_size - 1) // s.batch_size
    for epoch in range(s.epochs):
        order = torch.randperm(len(y), generator=g).to(device)
        for b in range(steps_per_epoch):
            if stop is not None and stop.is_set():
                return model.eval()
            idx = order[b * s.batch_size:(b + 1) * s.batch_size]
            xb, yb = X[idx], y[idx]
            # 1. clean loss  2. (adversarial) attack the batch with the current weights, add its loss  3. step
            loss = F.cross_entropy(model(xb), yb)
            if adversarial:
                xa = attack(model, xb, yb, s.eps, s.method, s.pgd_steps)
                loss = 0.5 * loss + 0.5 * F.cross_entropy(model(xa), yb)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        if emit is not None:
            emit({"kind": "progress", "done": epoch + 1, "total": s.epochs, "text": f"{tag} epoch {epoch + 1}"})
    return model.eval()


def adversarial_training(s: AdvTrainSettings, stop=None, emit: Emit | None = None) -> dict:
    """Two CNNs from the same seed — plain and adversarially trained — each measured on clean,
    FGSM and PGD validation digits at ε. → {"models": {...}, "rows": [...], "seconds": {...}}."""
    check_eps(s.eps)
    if s.method not in METHODS:
        raise HeroError("ch16.unknown_attack", name=s.method, known=", ".join(METHODS))
    models, rows, seconds = {}, [], {}
    for name, adversarial in (("standard", False), ("robust", True)):
        started = time.perf_counter()

        def tagged(event: dict, offset=0 if not adversarial else s.epochs) -> None:
            if emit is not None:
                emit({**event, "done": event["done"] + offset, "total": 2 * s.epochs})
        model = train_digits_cnn(s, adversarial, stop, tagged, name)
        seconds[name] = time.perf_counter() - started
        models[name] = model
        X, y, _ = flat_eval_set(model, s.eval_n)
        X, y = X.to(s.device), y.to(s.device)
        rows.append({"model": name, "clean": accuracy(model, X, y),
                     "fgsm": accuracy(model, attack(model, X, y, s.eps, "fgsm"), y),
                     "pgd": accuracy(model, attack(model, X, y, s.eps, "pgd", s.pgd_steps), y),
                     "seconds": seconds[name]})
        if emit is not None:
            emit({"kind": "adv_row", **rows[-1]})
    return {"models": {k: m.cpu() for k, m in models.items()}, "rows": rows, "eps": s.eps}


@trainer("ch16_adversarial")
def _check_adversarial(device: str, preset: str) -> dict:
    P = PRESETS[preset]
    r = adversarial_training(AdvTrainSettings(epochs=P["epochs"], pgd_steps=P["pgd_steps"], eval_n=P["eval_n"],
                                              train_n=P["train_n"], device=device))
    return {f"{row['model']}_{k}": row[k] for row in r["rows"] for k in ("clean", "pgd")}


def curve_figure(rows: list[dict], labels: dict[str, str], title: str) -> go.Figure:
    fig = go.Figure([go.Scatter(x=[r["eps"] for r in rows], y=[r[m] for r in rows], mode="lines+markers",
                                name=labels[m]) for m in METHODS])
    fig.update_xaxes(title="ε")
    fig.update_yaxes(title=labels["acc"], range=[0, 1.02], tickformat=".0%")
    return style(fig, title, height=340)


def examples_figure(ex: dict, labels: dict[str, str], title: str) -> go.Figure:
    """Three rows — clean, perturbation (red +, blue −), adversarial — with labels and predictions."""
    from plotly.subplots import make_subplots
    n = len(ex["label"])
    titles = [f"{labels['label']} {ex['label'][i]} → {ex['pred_clean'][i]}" for i in range(n)]
    titles += [""] * n
    titles += [("✗ " if ex["pred_adv"][i] != ex["label"][i] else "") + f"→ {ex['pred_adv'][i]} "
               f"({ex['conf_adv'][i]:.0%})" for i in range(n)]
    fig = make_subplots(rows=3, cols=n, subplot_titles=titles, horizontal_spacing=0.01, vertical_spacing=0.08)
    bound = max(float(np.abs(ex["delta"]).max()), 1e-6)
    for i in range(n):
        fig.add_trace(go.Heatmap(z=ex["clean"][i], colorscale="gray_r", zmin=0, zmax=1, showscale=False,
                                 hoverinfo="skip"), row=1, col=i + 1)
        fig.add_trace(go.Heatmap(z=ex["delta"][i], colorscale="RdBu_r", zmin=-bound, zmax=bound, showscale=False,
                                 hoverinfo="skip"), row=2, col=i + 1)
        fig.add_trace(go.Heatmap(z=ex["adv"][i], colorscale="gray_r", zmin=0, zmax=1, showscale=False,
                                 hoverinfo="skip"), row=3, col=i + 1)
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False, autorange="reversed", scaleanchor="x")
    fig.update_annotations(font_size=10)
    return style(fig, title, height=380, margin=dict(l=5, r=5, t=60, b=5))
