"""Errors a learner can cause, carried as a translatable code plus parameters.

Core code never formats user-facing prose: it raises ``HeroError("weights.wrong_arch", ...)``
and the UI looks up ``errors.weights.wrong_arch`` in the locale files, so the same failure
reads correctly in English and Chinese, in Streamlit and in Gradio.
"""
from __future__ import annotations

from typing import Callable


class HeroError(Exception):
    """A failure caused by input (an upload, a setting, a typed expression), not a bug."""

    def __init__(self, code: str, **params: object):
        self.code = code
        self.params = params
        super().__init__(f"{code} {params}" if params else code)


# What a job reports through while it runs: ``emit({"kind": "step", "step": 3, "loss": 0.4, ...})``.
# Pages draw these events live (ui.runner), widgets stream them (widgets.common), tests collect them.
Emit = Callable[[dict], None]


def check_range(name: str, value: float, low: float, high: float) -> float:
    """``value`` if ``low <= value <= high``, else ``HeroError("range", ...)`` naming the setting.

    The one range check of the gallery: every setting a learner types or slides that a lesson
    cannot honour outside some bounds goes through here, so the message reads the same everywhere.
    """
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise HeroError("range", name=name, value=value, low=low, high=high) from None
    if not (low <= number <= high):   # also refuses NaN
        raise HeroError("range", name=name, value=value, low=low, high=high)
    return value
