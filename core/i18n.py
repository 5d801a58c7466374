"""Translations: every visible string lives in ``locales/en.toml`` and ``locales/zh.toml``.

``translate("zh", "ch05.train.button")`` returns the Chinese string; keys are dotted paths
into the TOML tables. A key missing in one language falls back to English, then to the key
itself (the locale-completeness test keeps that from ever shipping).
"""
from __future__ import annotations

import tomllib
from functools import lru_cache
from pathlib import Path

from core.errors import HeroError

LOCALES_DIR = Path(__file__).resolve().parent.parent / "locales"
LANGUAGES = {"en": "English", "zh": "中文"}
DEFAULT_LANGUAGE = "en"


def _flatten(table: dict, prefix: str = "") -> dict[str, str]:
    flat: dict[str, str] = {}
    for key, value in table.items():
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{prefix}{key}."))
        else:
            flat[prefix + key] = value
    return flat


@lru_cache(maxsize=None)
def catalog(lang: str) -> dict[str, str]:
    """All strings of one language, flattened to dotted keys."""
    with open(LOCALES_DIR / f"{lang}.toml", "rb") as f:
        flat = _flatten(tomllib.load(f))
    # Chapters in progress keep their strings in locales/staging/<chapter>.<lang>.toml until
    # they are folded into the main file.
    for part in sorted((LOCALES_DIR / "staging").glob(f"*.{lang}.toml")):
        with open(part, "rb") as f:
            flat.update(_flatten(tomllib.load(f)))
    return flat


def normalise(lang: str | None) -> str:
    return lang if lang in LANGUAGES else DEFAULT_LANGUAGE


def translate(lang: str, key: str, **params) -> str:
    lang = normalise(lang)
    text = catalog(lang).get(key)
    if text is None:
        text = catalog(DEFAULT_LANGUAGE).get(key, key)
    if not isinstance(text, str):
        return str(text)
    try:
        return text.format(**params) if params else text
    except (KeyError, IndexError, ValueError):
        return text


def has(lang: str, key: str) -> bool:
    return key in catalog(normalise(lang))


def error_text(lang: str, err: HeroError) -> str:
    """The translated message for a HeroError (``errors.<code>``)."""
    return translate(lang, f"errors.{err.code}", **err.params)
