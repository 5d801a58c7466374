"""Errors a learner can cause, carried as a translatable code plus parameters.

Core code never formats user-facing prose: it raises ``HeroError("weights.wrong_arch", ...)``
and the UI looks up ``errors.weights.wrong_arch`` in the locale files, so the same failure
reads correctly in English and Chinese, in Streamlit and in Gradio.
"""
from __future__ import annotations


class HeroError(Exception):
    """A failure caused by input (an upload, a setting, a typed expression), not a bug."""

    def __init__(self, code: str, **params: object):
        self.code = code
        self.params = params
        super().__init__(f"{code} {params}" if params else code)
