"""Appendix A — math refresher: a 2×2 matrix acting on the plane, derivatives by autograd, distributions.

Plain functions returning data (tensors as lists) and plotly figures; torch does the computing
(``torch.linalg``, ``torch.autograd``, ``torch.distributions``), tests check it against NumPy/SciPy.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import plotly.graph_objects as go
import torch

from core.errors import HeroError, check_range
from core.viz import style


# ============================================================================ A.1 a matrix as a map
def transform_plane(a: float, b: float, c: float, d: float, grid: int = 4) -> dict:
    """What M = [[a, b], [c, d]] does to the plane: M @ p for the unit square and a grid of lines.

    Returns the transformed unit square corners [5, 2] (closed), grid lines (each [2, 2]: start,
    end), the determinant (signed area of the image of the unit square), and the eigenvalues with
    their eigenvectors (columns of [2, 2], complex when the map rotates).
    """
    for name, value in zip("abcd", (a, b, c, d)):
        check_range(name, value, -10, 10)
    m = torch.tensor([[a, b], [c, d]], dtype=torch.float64)
    # 1. points as columns: M @ P maps every point at once
    square = torch.tensor([[0, 1, 1, 0, 0], [0, 0, 1, 1, 0]], dtype=torch.float64)
    ticks = torch.arange(-grid, grid + 1, dtype=torch.float64)
    lines = []
    for t in ticks:   # vertical x = t and horizontal y = t, from -grid to grid
        lines.append(torch.tensor([[t, t], [-grid, grid]], dtype=torch.float64))
        lines.append(torch.tensor([[-grid, grid], [t, t]], dtype=torch.float64))
    # 2. determinant: how areas scale (negative: orientation flips)
    det = torch.linalg.det(m).item()
    # 3. eigen-decomposition: directions M only stretches (M v = λ v)
    values, vectors = torch.linalg.eig(m)
    return {"matrix": m.tolist(), "square": (m @ square).T.tolist(),
            "grid": [(m @ line).T.tolist() for line in lines], "det": det,
            "eigenvalues": [complex(v) for v in values.tolist()],
            "eigenvectors": [[complex(x) for x in row] for row in vectors.tolist()],
            "real_eigen": bool(torch.all(values.imag.abs() < 1e-12))}


def transform_figure(result: dict, labels: dict[str, str]) -> go.Figure:
    """The unit square and grid before (grey) and after (blue), with real eigenvectors as arrows."""
    fig = go.Figure()
    for k, line in enumerate(result["grid"]):
        xs, ys = zip(*line)
        fig.add_scatter(x=xs, y=ys, mode="lines", line=dict(color="rgba(31,119,180,0.25)", width=1),
                        showlegend=k == 0, name=labels["grid"], legendgroup="grid")
    fig.add_scatter(x=[0, 1, 1, 0, 0], y=[0, 0, 1, 1, 0], mode="lines", line=dict(color="grey", dash="dot"),
                    name=labels["square"])
    xs, ys = zip(*result["square"])
    fig.add_scatter(x=xs, y=ys, mode="lines", fill="toself", line=dict(color="#1f77b4", width=2),
                    name=labels["image"])
    if result["real_eigen"]:
        for k, value in enumerate(result["eigenvalues"]):
            vx, vy = result["eigenvectors"][0][k].real, result["eigenvectors"][1][k].real
            lam = value.real
            fig.add_scatter(x=[0, lam * vx], y=[0, lam * vy], mode="lines+markers",
                            line=dict(color=["#d62728", "#2ca02c"][k], width=3),
                            name=f"{labels['eigen']} λ={lam:.3g}")
    fig.update_xaxes(range=[-4, 4], zeroline=True)
    fig.update_yaxes(range=[-4, 4], scaleanchor="x", scaleratio=1, zeroline=True)
    return style(fig, labels.get("title", ""))


# ============================================================================ A.2 derivatives
# name: (torch function, analytic derivative). A fixed menu: a visitor picks, never types code.
FUNCTIONS = {
    "x^3 - 2x": (lambda x: x ** 3 - 2 * x, lambda x: 3 * x ** 2 - 2),
    "sin(x)": (torch.sin, torch.cos),
    "exp(-x^2)": (lambda x: torch.exp(-x ** 2), lambda x: -2 * x * torch.exp(-x ** 2)),
    "tanh(x)": (torch.tanh, lambda x: 1 - torch.tanh(x) ** 2),
    "sigmoid(x)": (torch.sigmoid, lambda x: torch.sigmoid(x) * (1 - torch.sigmoid(x))),
    "log(1 + x^2)": (lambda x: torch.log1p(x ** 2), lambda x: 2 * x / (1 + x ** 2)),
    "softplus(x)": (torch.nn.functional.softplus, torch.sigmoid),
    "x sin(x)": (lambda x: x * torch.sin(x), lambda x: torch.sin(x) + x * torch.cos(x)),
}


def derivative(name: str, low: float = -3.0, high: float = 3.0, points: int = 201) -> dict:
    """f(x), f'(x) by autograd and f'(x) by the textbook formula on a grid of ``points`` in [low, high].

    One backward pass gives every point's derivative: the points are independent, so d(sum f)/dx_i
    = f'(x_i).
    """
    if name not in FUNCTIONS:
        raise HeroError("appendix.unknown_function", name=name)
    check_range("low", low, -10, 10)
    check_range("high", high, -10, 10)
    if high <= low:
        raise HeroError("appendix.bad_interval", low=low, high=high)
    f, df = FUNCTIONS[name]
    x = torch.linspace(low, high, points, dtype=torch.float64, requires_grad=True)
    y = f(x)
    (grad,) = torch.autograd.grad(y.sum(), x)
    analytic = df(x.detach())
    return {"name": name, "x": x.detach().tolist(), "f": y.detach().tolist(), "autograd": grad.tolist(),
            "analytic": analytic.tolist(), "max_abs_diff": (grad - analytic).abs().max().item()}


def derivative_figure(result: dict, labels: dict[str, str]) -> go.Figure:
    fig = go.Figure()
    fig.add_scatter(x=result["x"], y=result["f"], name=f"f(x) = {result['name']}")
    fig.add_scatter(x=result["x"], y=result["autograd"], name=labels["autograd"], line=dict(width=4))
    fig.add_scatter(x=result["x"], y=result["analytic"], name=labels["analytic"], line=dict(dash="dash", color="black"))
    return style(fig, labels.get("title", ""))


# ============================================================================ A.3 distributions
# name: (constructor from two parameters, parameter names with defaults and bounds, discrete?)
DISTRIBUTIONS = {
    "normal": (lambda p, q: torch.distributions.Normal(p, q), (("loc", 0.0, -5, 5), ("scale", 1.0, 0.1, 5)), False),
    "uniform": (lambda p, q: torch.distributions.Uniform(p, q), (("low", 0.0, -5, 5), ("high", 1.0, -5, 5)), False),
    "exponential": (lambda p, q: torch.distributions.Exponential(p), (("rate", 1.0, 0.1, 5),), False),
    "gamma": (lambda p, q: torch.distributions.Gamma(p, q), (("concentration", 2.0, 0.2, 10), ("rate", 1.0, 0.1, 5)), False),
    "beta": (lambda p, q: torch.distributions.Beta(p, q), (("concentration1", 2.0, 0.2, 10), ("concentration0", 5.0, 0.2, 10)), False),
    "laplace": (lambda p, q: torch.distributions.Laplace(p, q), (("loc", 0.0, -5, 5), ("scale", 1.0, 0.1, 5)), False),
    "poisson": (lambda p, q: torch.distributions.Poisson(p), (("rate", 3.0, 0.1, 20),), True),
    "binomial": (lambda p, q: torch.distributions.Binomial(int(p), probs=q), (("total_count", 10.0, 1, 50), ("probs", 0.3, 0.0, 1.0)), True),
}


@dataclass
class SampleSettings:
    dist: str = "normal"
    p1: float = 0.0          # first parameter (see DISTRIBUTIONS for its name)
    p2: float = 1.0          # second parameter (ignored by one-parameter distributions)
    n: int = 2000            # samples drawn
    bins: int = 40           # histogram bins (continuous distributions)
    seed: int = 0            # same seed, same samples


def sample_distribution(s: SampleSettings) -> dict:
    """Draw ``s.n`` samples; return the histogram as a density next to ``log_prob(x).exp()``.

    Continuous: bin centres, histogram density (counts / (n · bin width)) and the density at the
    centres. Discrete: each integer value, its sample frequency and its probability mass.
    """
    if s.dist not in DISTRIBUTIONS:
        raise HeroError("appendix.unknown_distribution", name=s.dist)
    make, params, discrete = DISTRIBUTIONS[s.dist]
    values = [s.p1, s.p2][:len(params)]
    for value, (name, _, low, high) in zip(values, params):
        check_range(name, value, low, high)
    check_range("n", s.n, 10, 200_000)
    check_range("bins", s.bins, 5, 200)
    if s.dist == "uniform" and s.p2 <= s.p1:
        raise HeroError("appendix.bad_interval", low=s.p1, high=s.p2)
    dist = make(float(s.p1), float(s.p2) if len(params) > 1 else None)
    # 1. sample with a fixed generator state
    torch.manual_seed(s.seed)
    x = dist.sample((int(s.n),)).double()
    if discrete:
        # 2a. frequency of each integer value vs the probability mass
        top = int(x.max().item()) + 1                      # one value past the largest drawn...
        top = min(top, int(getattr(dist.support, "upper_bound", top)))   # ...inside the support
        support = torch.arange(0, top + 1, dtype=torch.float64)
        counts = torch.bincount(x.long(), minlength=len(support))[:len(support)].double()
        density = dist.log_prob(support.to(torch.get_default_dtype())).exp().double()
        return {"discrete": True, "x": support.tolist(), "empirical": (counts / s.n).tolist(),
                "density": density.tolist(), "sample_mean": x.mean().item(), "mean": float(dist.mean),
                "sample_var": x.var().item(), "variance": float(dist.variance)}
    # 2b. histogram as a density vs log_prob().exp() at the bin centres
    low, high = x.min().item(), x.max().item()
    counts = torch.histc(x, bins=int(s.bins), min=low, max=high)
    width = (high - low) / s.bins
    centres = low + width * (torch.arange(int(s.bins), dtype=torch.float64) + 0.5)
    inside = centres
    if s.dist in ("beta",):
        inside = centres.clamp(1e-6, 1 - 1e-6)
    density = dist.log_prob(inside.to(torch.get_default_dtype())).exp().double()
    return {"discrete": False, "x": centres.tolist(), "empirical": (counts / (s.n * width)).tolist(),
            "density": density.tolist(), "width": width, "sample_mean": x.mean().item(), "mean": float(dist.mean),
            "sample_var": x.var().item(), "variance": float(dist.variance)}


def distribution_figure(result: dict, labels: dict[str, str]) -> go.Figure:
    fig = go.Figure()
    fig.add_bar(x=result["x"], y=result["empirical"], name=labels["samples"], opacity=0.6,
                width=None if result["discrete"] else result["width"])
    fig.add_scatter(x=result["x"], y=result["density"], name=labels["density"],
                    mode="markers" if result["discrete"] else "lines", line=dict(color="black"))
    fig.update_layout(bargap=0.05 if not result["discrete"] else 0.3)
    return style(fig, labels.get("title", ""))


def total_variation(result: dict) -> float:
    """Half the L1 distance between the histogram and the density (as probabilities per bin)."""
    width = 1.0 if result["discrete"] else result["width"]
    return 0.5 * float(np.sum(np.abs(np.array(result["empirical"]) - np.array(result["density"])) * width))


