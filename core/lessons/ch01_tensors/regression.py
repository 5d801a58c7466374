"""1.7 实战: linear regression in closed form (torch.linalg.lstsq vs normal equations vs NumPy)."""
from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import torch

from core.errors import HeroError
from core.viz import PALETTE

from .limits import DTYPES, MAX_POINTS, _layout


# --------------------------------------------------------------------------- 1.7 实战 linear regression

def regression_data(n: int, slope: float, intercept: float, noise: float, seed: int = 0,
                    dtype: str = "float32") -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """x ~ U(-3, 3), X = [1, x] [n, 2] (the bias column makes the intercept a weight),
    y = X @ w_true + noise·ε [n]. Returns (X, y, w_true [2])."""
    if not 2 <= n <= MAX_POINTS:
        raise HeroError("ch01.regression_n", n=n, max=MAX_POINTS)
    if not (0 <= noise <= 100 and abs(slope) <= 1e3 and abs(intercept) <= 1e3):
        raise HeroError("ch01.regression_range")
    dt = DTYPES[dtype] if dtype in ("float32", "float64") else torch.float32
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(n, generator=g, dtype=torch.float64) * 6 - 3
    X = torch.stack([torch.ones(n, dtype=torch.float64), x], dim=1)      # 1. design matrix with bias column
    w_true = torch.tensor([intercept, slope], dtype=torch.float64)
    y = X @ w_true + noise * torch.randn(n, generator=g, dtype=torch.float64)   # 2. targets with noise
    return X.to(dt), y.to(dt), w_true


def solve_regression(X: torch.Tensor, y: torch.Tensor) -> dict:
    """Fit w in y ≈ X @ w three ways: ``torch.linalg.lstsq`` (QR-based), the normal equations
    (XᵀX) w = Xᵀy, and NumPy's ``np.linalg.lstsq`` as the oracle. Each → w [2], the MSE and
    the largest |w − w_numpy|."""
    w_lstsq = torch.linalg.lstsq(X, y[:, None]).solution[:, 0]               # 1. least squares
    w_normal = torch.linalg.solve(X.T @ X, X.T @ y)                          # 2. normal equations
    w_numpy = np.linalg.lstsq(X.double().numpy(), y.double().numpy(), rcond=None)[0]   # 3. oracle
    mse = lambda w: float(((X.double() @ torch.as_tensor(w).double() - y.double()) ** 2).mean())  # noqa: E731
    gap = lambda w: float(np.abs(np.asarray([float(v) for v in w]) - w_numpy).max())  # noqa: E731
    return {name: {"w": [float(v) for v in w], "mse": mse(w), "diff_vs_numpy": gap(w)}
            for name, w in (("torch.linalg.lstsq", w_lstsq), ("normal equations", w_normal),
                            ("numpy.linalg.lstsq", w_numpy))}


def regression_figure(X: torch.Tensor, y: torch.Tensor, w_true: torch.Tensor, fits: dict,
                      labels: dict[str, str] | None = None, max_points: int = 2000) -> go.Figure:
    """Scatter of (x, y) (first ``max_points``), the true line and each fitted line."""
    labels = labels or {}
    x = X[:, 1].double().numpy()
    fig = go.Figure(go.Scattergl(x=x[:max_points], y=y.double().numpy()[:max_points], mode="markers",
                                 name=labels.get("data", "data"), marker=dict(size=5, color="#9ab", opacity=0.6)))
    xs = np.array([-3.0, 3.0])
    fig.add_trace(go.Scatter(x=xs, y=float(w_true[0]) + float(w_true[1]) * xs, mode="lines",
                             name=labels.get("true", "true"), line=dict(color="#333", dash="dot")))
    for i, (name, fit) in enumerate(fits.items()):
        fig.add_trace(go.Scatter(x=xs, y=fit["w"][0] + fit["w"][1] * xs, mode="lines", name=name,
                                 line=dict(color=PALETTE[i], width=3 - i, dash=("solid", "dash", "dashdot")[i % 3])))
    return _layout(fig, xaxis=dict(title="x"), yaxis=dict(title="y"), height=360)


def regression_script(n: int, slope: float, intercept: float, noise: float, seed: int, dtype: str) -> str:
    """The 实战 as a standalone script for these settings."""
    return f'''import numpy as np
import torch

g = torch.Generator().manual_seed({seed})
x = torch.rand({n}, generator=g, dtype=torch.float64) * 6 - 3
X = torch.stack([torch.ones({n}, dtype=torch.float64), x], dim=1)   # [n, 2]: bias column + x
w_true = torch.tensor([{intercept}, {slope}], dtype=torch.float64)
y = X @ w_true + {noise} * torch.randn({n}, generator=g, dtype=torch.float64)
X, y = X.to(torch.{dtype}), y.to(torch.{dtype})

w_lstsq = torch.linalg.lstsq(X, y[:, None]).solution[:, 0]
w_normal = torch.linalg.solve(X.T @ X, X.T @ y)
w_numpy = np.linalg.lstsq(X.double().numpy(), y.double().numpy(), rcond=None)[0]
print("lstsq  ", w_lstsq.tolist())
print("normal ", w_normal.tolist())
print("numpy  ", w_numpy.tolist())
'''
