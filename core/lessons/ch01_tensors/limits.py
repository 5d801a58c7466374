"""Chapter 1 limits (every size a visitor can request is capped here), presets, dtypes, and the two
helpers every section uses: the figure look and the wrapper that carries a real torch error to the page."""
from __future__ import annotations

import plotly.graph_objects as go
import torch

from core.errors import HeroError
from core.viz import style


# Caps on anything a visitor can request.
MAX_ELEMENTS = 1_000_000     # largest tensor a visitor may create (4 MB of float32)

MAX_DIMS = 6                 # shapes have at most six dimensions

MAX_TEXT = 200               # longest index / shape / einsum expression accepted

INDEX_BOUND = 1_000          # |integers| inside an index expression (slice bounds included)

MAX_LITERAL = 10_000         # elements in a typed torch.tensor([...]) literal

GRID_SHOWN = 40              # heatmaps show at most a 40×40 corner (the table says so)

LOOP_BUDGET = 200_000        # iterations the explicit einsum loop may take

MAX_POINTS = 100_000         # regression sample size

PRESETS = {
    "tiny": {"timing_sizes": (32, 64), "timing_repeats": 1, "regression_n": 50},
    "default": {"timing_sizes": (64, 128, 256, 512), "timing_repeats": 3, "regression_n": 200},
    "gpu": {"timing_sizes": (128, 256, 512, 1024, 2048), "timing_repeats": 5, "regression_n": 500},
}

DTYPES = {"float32": torch.float32, "float64": torch.float64, "float16": torch.float16,
          "bfloat16": torch.bfloat16, "int64": torch.int64, "int32": torch.int32,
          "int8": torch.int8, "uint8": torch.uint8, "bool": torch.bool}

FACTORIES = ("tensor", "zeros", "ones", "full", "arange", "linspace", "eye", "rand", "randn", "randint")

def _layout(fig: go.Figure, title: str = "", **extra) -> go.Figure:
    """The gallery's look, without zero lines (they would cross the heatmaps)."""
    style(fig, title, **extra)
    fig.update_xaxes(zeroline=False)
    fig.update_yaxes(zeroline=False)
    return fig

def _torch_error(exc: Exception) -> HeroError:
    """Wrap a real torch error so the page can show its exact first line, translated around it."""
    return HeroError("ch01.torch_error", message=str(exc).strip().splitlines()[0][:300])


