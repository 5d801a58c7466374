"""16.4 Fairness: one score, two groups, and what a decision threshold does to each.

The data are GENERATED (no real people): applicants in groups A and B, each truly "qualified"
(y = 1) or not, with a model score in [0, 1]. Two things differ between the groups, on purpose —
the base rate of qualification (A 50 %, B 30 % by default) and a score that under-rates group B
(its qualified members score lower on average: a biased feature or label history).

With decisions ŷ = [score ≥ threshold of the person's group]:
- demographic parity gap = |P(ŷ=1 | A) − P(ŷ=1 | B)|           (selection rates)
- equalised odds gap     = max(|TPR_A − TPR_B|, |FPR_A − FPR_B|) (error rates among y=1 and y=0)
With different base rates, both gaps cannot be zero at once unless the score is perfect.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import plotly.graph_objects as go

from core.errors import check_range
from core.viz import style

GROUPS = ("A", "B")
COLORS = {"A": "#1f77b4", "B": "#ff7f0e"}


@dataclass
class FairnessData:
    n_per_group: int = 2000
    base_rate_a: float = 0.5    # share of group A that is qualified
    base_rate_b: float = 0.3
    score_shift_b: float = 0.12 # how much lower group B's scores are, at the same qualification
    seed: int = 0


def generate(d: FairnessData) -> dict:
    """→ {"group" [2n] of "A"/"B", "y" [2n] in {0, 1}, "score" [2n] in (0, 1)}: logistic scores of a
    noisy signal (qualified ≈ +1, not ≈ −1), group B's pushed down by score_shift_b."""
    check_range("n", d.n_per_group, 10, 100_000)
    rng = np.random.default_rng(d.seed)
    groups, ys, scores = [], [], []
    for name, rate, shift in (("A", d.base_rate_a, 0.0), ("B", d.base_rate_b, d.score_shift_b)):
        y = (rng.random(d.n_per_group) < check_range("base rate", rate, 0.0, 1.0)).astype(np.int64)
        signal = np.where(y == 1, 1.0, -1.0) + rng.normal(0.0, 1.2, d.n_per_group)
        score = 1.0 / (1.0 + np.exp(-signal)) - shift
        groups.append(np.full(d.n_per_group, name))
        ys.append(y)
        scores.append(np.clip(score, 0.0, 1.0))
    return {"group": np.concatenate(groups), "y": np.concatenate(ys), "score": np.concatenate(scores)}


def group_rates(y: np.ndarray, decision: np.ndarray) -> dict:
    """Selection rate, TPR, FPR and accuracy of 0/1 decisions against labels y (one group)."""
    pos, neg = y == 1, y == 0
    return {"n": int(len(y)), "base_rate": float(y.mean()), "selection": float(decision.mean()),
            "tpr": float(decision[pos].mean()) if pos.any() else float("nan"),
            "fpr": float(decision[neg].mean()) if neg.any() else float("nan"),
            "accuracy": float((decision == y).mean())}


def fairness_report(data: dict, threshold_a: float, threshold_b: float) -> dict:
    """Rates per group and the two gaps at these thresholds."""
    check_range("threshold A", threshold_a, 0.0, 1.0)
    check_range("threshold B", threshold_b, 0.0, 1.0)
    rates = {}
    for name, thr in zip(GROUPS, (threshold_a, threshold_b)):
        mask = data["group"] == name
        rates[name] = group_rates(data["y"][mask], (data["score"][mask] >= thr).astype(np.int64))
    a, b = rates["A"], rates["B"]
    return {"rates": rates,
            "dp_gap": abs(a["selection"] - b["selection"]),
            "eo_gap": max(abs(a["tpr"] - b["tpr"]), abs(a["fpr"] - b["fpr"])),
            "accuracy": float(np.mean((data["score"] >= np.where(data["group"] == "A", threshold_a, threshold_b))
                                      == data["y"]))}


def parity_threshold(data: dict, threshold_a: float) -> float:
    """The threshold for group B that selects the same share of B as ``threshold_a`` selects of A."""
    share = float((data["score"][data["group"] == "A"] >= threshold_a).mean())
    scores_b = np.sort(data["score"][data["group"] == "B"])[::-1]
    k = int(round(share * len(scores_b)))
    return float(scores_b[k - 1]) if k > 0 else 1.0


def scores_figure(data: dict, thresholds: dict[str, float], labels: dict[str, str], title: str) -> go.Figure:
    """Score histograms per group and label, with each group's threshold."""
    fig = go.Figure()
    colors = COLORS
    for g in GROUPS:
        for y, dash in ((1, None), (0, "dot")):
            mask = (data["group"] == g) & (data["y"] == y)
            fig.add_trace(go.Histogram(x=data["score"][mask], xbins=dict(start=0, end=1, size=0.025),
                                       name=f"{labels['group']} {g} · {labels['pos' if y else 'neg']}",
                                       marker=dict(color=colors[g], pattern_shape="" if y else "/"),
                                       opacity=0.55))
        fig.add_vline(x=thresholds[g], line_color=colors[g], line_width=3,
                      annotation_text=f"{g}: {thresholds[g]:.2f}")
    fig.update_layout(barmode="overlay")
    fig.update_xaxes(title=labels["score"], range=[0, 1])
    return style(fig, title, height=340)


def rates_figure(report: dict, labels: dict[str, str], title: str) -> go.Figure:
    keys = ("base_rate", "selection", "tpr", "fpr")
    fig = go.Figure([go.Bar(x=[labels[k] for k in keys], y=[report["rates"][g][k] for k in keys],
                            name=f"{labels['group']} {g}", marker_color=COLORS[g]) for g in GROUPS])
    fig.update_yaxes(range=[0, 1], tickformat=".0%")
    return style(fig, title, height=340, barmode="group")
