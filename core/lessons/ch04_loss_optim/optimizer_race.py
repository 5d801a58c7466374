"""4.2 The optimizer race: real torch.optim optimizers stepping on 2-D loss surfaces."""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Iterator
import threading

import numpy as np
import plotly.graph_objects as go
import torch

from core.errors import Emit, HeroError, check_range
from core.train import make_optimizer
from core.viz import PALETTE, style as _layout

from .limits import MAX_LR, MAX_RACE_STEPS


# =========================================================================== 4.2 optimizer race

@dataclass(frozen=True)
class Surface:
    """A 2-D loss landscape f(x, y), written once for torch tensors and NumPy arrays."""
    fn: Callable
    start: tuple[float, float]           # where every optimizer starts
    minima: tuple[tuple[float, float], ...]
    x_range: tuple[float, float]
    y_range: tuple[float, float]
    lr_sgd: float                        # a learning rate that works for the SGD family here
    lr_adaptive: float                   # … and for RMSprop / Adam / AdamW
    log_contours: bool = True            # draw log(f − f_min) so valleys stay visible


def _rosenbrock(x, y):
    return (1 - x) ** 2 + 100 * (y - x ** 2) ** 2


def _saddle(x, y):
    # a saddle at the origin between two minima at (0, ±1): flat ground where SGD stalls
    return x ** 2 + 0.25 * y ** 4 - 0.5 * y ** 2


def _bowl(x, y):
    # an ill-conditioned bowl (curvatures 1 and 40) rotated 30°, so no axis lines up with it
    u = 0.866 * x + 0.5 * y
    v = -0.5 * x + 0.866 * y
    return 0.5 * (u ** 2 + 40 * v ** 2)


def _himmelblau(x, y):
    return (x ** 2 + y - 11) ** 2 + (x + y ** 2 - 7) ** 2


SURFACES = {
    "rosenbrock": Surface(_rosenbrock, (-1.2, 1.0), ((1.0, 1.0),), (-2.0, 2.0), (-1.0, 3.0), 1.5e-3, 0.1),
    "saddle": Surface(_saddle, (-1.5, 1e-3), ((0.0, 1.0), (0.0, -1.0)), (-2.0, 2.0), (-1.6, 1.6), 0.05, 0.05,
                      log_contours=False),
    "bowl": Surface(_bowl, (-1.8, 1.2), ((0.0, 0.0),), (-2.2, 2.2), (-1.6, 1.6), 0.025, 0.1),
    "himmelblau": Surface(_himmelblau, (0.0, -0.5), ((3.0, 2.0), (-2.805118, 3.131312), (-3.779310, -3.283186),
                                                     (3.584428, -1.848127)), (-5.0, 5.0), (-5.0, 5.0), 0.005, 0.1),
}
RACERS = ("sgd", "momentum", "nesterov", "rmsprop", "adam", "adamw")
ADAPTIVE = ("rmsprop", "adam", "adamw")
DIVERGE_FACTOR = 1e8      # a loss this many times the starting loss (or NaN/inf) counts as diverged
REACH_TOLERANCE = 0.1     # "reached the minimum": within this distance of one


def surface_min(surface: str) -> float:
    s = SURFACES[surface]
    return float(min(s.fn(*m) for m in s.minima))


@dataclass
class Trajectory:
    """One optimizer's walk: points [T+1, 2] from the start, losses [T+1]."""
    optimizer: str
    lr: float
    points: np.ndarray
    losses: np.ndarray
    diverged_at: int | None = None      # step at which the loss became NaN/inf or |p| exploded
    reached_at: int | None = None       # first step within REACH_TOLERANCE of a minimum


def optimizer_steps(surface: str, optimizer: str, lr: float, steps: int,
                    start: tuple[float, float] | None = None) -> Iterator[tuple[np.ndarray, float]]:
    """Really step ``torch.optim`` on a 2-element parameter sitting on ``surface``, yielding
    (point [2], loss) before each step and after the last one: steps + 1 pairs, fewer when the
    loss turns NaN/inf or explodes (that pair is the last)."""
    if surface not in SURFACES:
        raise HeroError("ch04.unknown_surface", name=surface, known=", ".join(SURFACES))
    check_range("lr", lr, 1e-6, MAX_LR)
    check_range("steps", steps, 1, MAX_RACE_STEPS)
    s = SURFACES[surface]
    # 1. the parameter: a point (x, y) that the optimizer owns
    p = torch.tensor(start or s.start, dtype=torch.float32, requires_grad=True)
    # AdamW keeps torch's own default decay (0.01); with 0 it would be Adam exactly
    opt = make_optimizer(optimizer, [p], lr, weight_decay=0.01 if optimizer == "adamw" else 0.0)
    first = None
    for step in range(int(steps) + 1):
        # 2. forward: the height of the surface at p
        loss = s.fn(p[0], p[1])
        value = loss.item()
        first = value if first is None else first
        yield p.detach().clone().numpy(), value
        if _diverged(value, first) or step == steps:
            return              # NaN/inf or exploding: stop here, the learner is told why
        # 3. backward + update, exactly like a training loop
        opt.zero_grad()
        loss.backward()
        opt.step()


def _diverged(value: float, first: float) -> bool:
    return not math.isfinite(value) or abs(value) > DIVERGE_FACTOR * (abs(first) + 1)


def trajectory(surface: str, optimizer: str, lr: float, points: list, losses: list) -> Trajectory:
    """A Trajectory from the (point, loss) pairs so far: where it diverged, when it first came
    within REACH_TOLERANCE of a minimum."""
    pts, values = np.array(points, dtype=np.float32).reshape(-1, 2), np.array(losses)
    diverged = len(values) - 1 if len(values) and _diverged(values[-1], values[0]) else None
    dist = np.linalg.norm(pts[:, None, :] - np.array(SURFACES[surface].minima)[None], axis=2).min(1)
    close = np.flatnonzero(dist[:diverged] < REACH_TOLERANCE)
    return Trajectory(optimizer, lr, pts, values, diverged, int(close[0]) if len(close) else None)


def optimizer_path(surface: str, optimizer: str, lr: float, steps: int,
                   start: tuple[float, float] | None = None) -> Trajectory:
    """One optimizer's whole walk on ``surface`` (see :func:`optimizer_steps`)."""
    walk = list(optimizer_steps(surface, optimizer, lr, steps, start))
    return trajectory(surface, optimizer, lr, [p for p, _ in walk], [v for _, v in walk])


def race(surface: str, optimizers=RACERS, lr_sgd: float | None = None, lr_adaptive: float | None = None,
         steps: int = 400, stop_event: threading.Event | None = None, emit: Emit | None = None,
         snapshots: int = 40) -> dict[str, Trajectory]:
    """Every optimizer from the same start on the same surface, stepped in lockstep; adaptive
    ones use ``lr_adaptive``. ``emit`` gets a progress event with every path so far about
    ``snapshots`` times (so a page can draw them as they go); a stop returns the paths so far."""
    s = SURFACES[surface] if surface in SURFACES else None
    if s is None:
        raise HeroError("ch04.unknown_surface", name=surface, known=", ".join(SURFACES))
    if not optimizers:
        raise HeroError("ch04.no_optimizer")
    lrs = {name: (lr_adaptive or s.lr_adaptive) if name in ADAPTIVE else (lr_sgd or s.lr_sgd) for name in optimizers}
    walkers = {name: optimizer_steps(surface, name, lr, steps) for name, lr in lrs.items()}
    walked: dict[str, tuple[list, list]] = {name: ([], []) for name in lrs}
    every = max(1, int(steps) // max(1, snapshots))

    def paths() -> dict[str, Trajectory]:
        return {n: trajectory(surface, n, lrs[n], *walked[n]) for n in lrs}

    for step in range(int(steps) + 1):
        for name, walker in list(walkers.items()):
            pair = next(walker, None)
            if pair is None:                      # finished or diverged: it stays where it stopped
                del walkers[name]
                continue
            walked[name][0].append(pair[0])
            walked[name][1].append(pair[1])
        if emit is not None and (step % every == 0 or not walkers or step == steps):
            emit({"kind": "progress", "done": step, "total": int(steps), "text": surface, "paths": paths()})
        if not walkers or (stop_event is not None and stop_event.is_set()):
            break
    return paths()


def race_winner(paths: dict[str, Trajectory]) -> str | None:
    """The optimizer that first came within REACH_TOLERANCE of a minimum (None if nobody did)."""
    reached = [(t.reached_at, name) for name, t in paths.items() if t.reached_at is not None]
    return min(reached)[1] if reached else None


def surface_grid(surface: str, resolution: int = 80) -> dict:
    """Heights on a grid for contours: xs [R], ys [R], z [R, R] (row i is y = ys[i])."""
    check_range("resolution", resolution, 10, 400)
    s = SURFACES[surface]
    xs = np.linspace(*s.x_range, resolution)
    ys = np.linspace(*s.y_range, resolution)
    gx, gy = np.meshgrid(xs, ys)
    z = s.fn(gx, gy)
    if s.log_contours:
        z = np.log10(z - surface_min(surface) + 1e-3)
    return {"xs": xs, "ys": ys, "z": z}


def race_figure(surface: str, paths: dict[str, Trajectory], resolution: int = 80, frames: int = 50,
                title: str = "", play: str = "Play") -> go.Figure:
    """Contours of the surface with every trajectory, animated by plotly frames (a Play button).

    The still figure shows the whole paths and final positions; Play replays them step by step.
    ``frames=0``: the still figure only (a race being drawn as it runs).
    """
    s = SURFACES[surface]
    grid = surface_grid(surface, resolution)
    names = list(paths)

    def clip(pts: np.ndarray) -> np.ndarray:   # keep diverged paths drawable inside the plot
        lo = np.array([s.x_range[0], s.y_range[0]]) - 1
        hi = np.array([s.x_range[1], s.y_range[1]]) + 1
        return np.clip(np.nan_to_num(pts, nan=0.0, posinf=1e3, neginf=-1e3), lo, hi)

    def path_traces(k: int | None) -> list[go.Scatter]:
        # one trace per optimizer: the path as a line, a big marker only at its current end
        traces = []
        for i, name in enumerate(names):
            pts = clip(paths[name].points if k is None else paths[name].points[:k + 1])
            sizes = np.zeros(len(pts))
            sizes[-1] = 11
            traces.append(go.Scatter(x=pts[:, 0], y=pts[:, 1], mode="lines+markers", name=name,
                                     line=dict(color=PALETTE[i % len(PALETTE)], width=2),
                                     marker=dict(size=sizes, color=PALETTE[i % len(PALETTE)], opacity=1)))
        return traces

    contour = go.Contour(x=grid["xs"], y=grid["ys"], z=grid["z"], colorscale="Greys", showscale=False,
                         ncontours=25, contours=dict(coloring="heatmap"), opacity=0.55, hoverinfo="skip")
    minima = go.Scatter(x=[m[0] for m in s.minima], y=[m[1] for m in s.minima], mode="markers",
                        marker=dict(symbol="star", size=14, color="gold", line=dict(width=1, color="black")),
                        name="min", showlegend=False)
    fig = go.Figure(data=[contour, minima, *path_traces(None)])
    if frames <= 0:
        return _layout(fig, title, height=460, xaxis=dict(range=list(s.x_range)), yaxis=dict(range=list(s.y_range)),
                       margin=dict(l=40, r=10, t=40, b=40))
    longest = max(len(t.points) for t in paths.values())
    ticks = sorted(set(np.linspace(0, longest - 1, max(2, min(frames, longest))).round().astype(int)))
    fig.frames = [go.Frame(data=path_traces(k), traces=list(range(2, 2 + len(names))), name=str(k)) for k in ticks]
    fig.update_layout(updatemenus=[dict(type="buttons", showactive=False, x=0.0, y=-0.12, xanchor="left",
                                        buttons=[dict(label=play, method="animate",
                                                      args=[None, {"frame": {"duration": 60, "redraw": False},
                                                                   "fromcurrent": False, "transition": {"duration": 0}}])])])
    return _layout(fig, title, height=460, xaxis=dict(range=list(s.x_range)), yaxis=dict(range=list(s.y_range)),
                   margin=dict(l=40, r=10, t=40, b=70))


def race_loss_figure(surface: str, paths: dict[str, Trajectory], title: str = "", y_label: str = "") -> go.Figure:
    """f(p) − f(min) per step on a log axis (gaps to the minimum, so every surface reads alike)."""
    fmin = surface_min(surface)
    fig = go.Figure()
    for i, (name, t) in enumerate(paths.items()):
        gap = np.where(np.isfinite(t.losses), t.losses - fmin, np.nan)
        fig.add_trace(go.Scatter(y=np.maximum(gap, 1e-12), mode="lines", name=name,
                                 line=dict(color=PALETTE[i % len(PALETTE)])))
    return _layout(fig, title, yaxis=dict(type="log", title=y_label, exponentformat="power"),
                   xaxis=dict(title="step"), height=340)


def race_table(paths: dict[str, Trajectory], surface: str) -> list[dict]:
    """One row per optimizer: lr, final point, final gap to the minimum, step reached, divergence."""
    fmin = surface_min(surface)
    return [{"optimizer": n, "lr": t.lr, "x": float(t.points[-1, 0]), "y": float(t.points[-1, 1]),
             "gap": float(t.losses[-1] - fmin), "reached_at": t.reached_at, "diverged_at": t.diverged_at}
            for n, t in paths.items()]


def race_script(surface: str, lrs: dict[str, float], steps: int) -> str:
    """A runnable script that races every optimizer in ``lrs`` (name → learning rate) with the
    page's settings, in lockstep from the same start, and names the first to reach a minimum."""
    s = SURFACES[surface]
    import inspect
    body = inspect.getsource(s.fn).replace(s.fn.__name__, "f")
    makers = "\n".join(f"    {name!r}: lambda p: {_optimizer_code(name, '[p]', lr, 0.01 if name == 'adamw' else 0.0)},"
                        for name, lr in lrs.items())
    return f'''"""Chapter 4 optimizer race on the {surface} surface: every optimizer, {steps} steps."""
import os

import torch

{body}
MINIMA = {[list(m) for m in s.minima]}
STEPS = 20 if os.environ.get("HERO_TINY") == "1" else {steps}
MAKERS = {{
{makers}
}}
points, optimizers, reached, diverged = {{}}, {{}}, {{}}, {{}}
for name, make in MAKERS.items():
    points[name] = torch.tensor({list(s.start)}, requires_grad=True)   # the point each optimizer moves
    optimizers[name] = make(points[name])
for step in range(STEPS + 1):          # lockstep: one step of every optimizer still racing
    for name, p in points.items():
        if name in diverged:
            continue
        if name not in reached and min(torch.dist(p.detach(), torch.tensor(m)) for m in MINIMA) < {REACH_TOLERANCE}:
            reached[name] = step
        loss = f(p[0], p[1])
        if not torch.isfinite(loss) or loss.item() > {DIVERGE_FACTOR:g} * (abs(f(*torch.tensor({list(s.start)}))) + 1):
            diverged[name] = step       # lower the learning rate
            continue
        if step == STEPS:
            continue
        optimizers[name].zero_grad()
        loss.backward()
        optimizers[name].step()
for name, p in points.items():
    print(f"{{name:9s}} final point {{p.detach().tolist()}}  loss {{f(p[0], p[1]).item():.4g}}  "
          f"reached at {{reached.get(name)}}  diverged at {{diverged.get(name)}}")
first = min(reached, key=reached.get) if reached else None
print("first within {REACH_TOLERANCE} of a minimum:", first)
'''


def _optimizer_code(name: str, params: str, lr: float, weight_decay: float = 0.0) -> str:
    wd = f", weight_decay={weight_decay}" if weight_decay else ""
    return {"sgd": f"torch.optim.SGD({params}, lr={lr}{wd})",
            "momentum": f"torch.optim.SGD({params}, lr={lr}, momentum=0.9{wd})",
            "nesterov": f"torch.optim.SGD({params}, lr={lr}, momentum=0.9, nesterov=True{wd})",
            "rmsprop": f"torch.optim.RMSprop({params}, lr={lr}{wd})",
            "adam": f"torch.optim.Adam({params}, lr={lr}{wd})",
            "adamw": f"torch.optim.AdamW({params}, lr={lr}{wd})"}[name]
