"""Both languages complete, and every key the code asks for exists."""
import re
from pathlib import Path

from core import i18n
from core.catalog import CHAPTERS

ROOT = Path(__file__).resolve().parent.parent


def test_same_keys_in_every_language():
    en, zh = set(i18n.catalog("en")), set(i18n.catalog("zh"))
    assert not en - zh, f"missing in zh: {sorted(en - zh)[:20]}"
    assert not zh - en, f"missing in en: {sorted(zh - en)[:20]}"


def test_placeholders_agree():
    en, zh = i18n.catalog("en"), i18n.catalog("zh")
    fields = lambda s: set(re.findall(r"\{(\w+)\}", s))
    bad = [k for k in en if fields(en[k]) != fields(zh[k])]
    assert not bad, bad[:20]


def test_chinese_strings_are_translated():
    zh = i18n.catalog("zh")
    has_cjk = re.compile(r"[\u4e00-\u9fff]")
    untranslated = [k for k, v in zh.items() if len(v) > 25 and not has_cjk.search(v)]
    assert not untranslated, untranslated[:20]


def test_every_chapter_has_titles():
    for ch in CHAPTERS:
        for field in ("nav", "title", "blurb"):
            assert i18n.has("en", f"chapters.{ch.id}.{field}") and i18n.has("zh", f"chapters.{ch.id}.{field}")


def test_literal_keys_used_in_code_exist():
    """Every t("a.b.c") / translate(lang, "a.b.c") literal in pages, ui and widgets is a real key."""
    en = i18n.catalog("en")
    pattern = re.compile(r"""\bt\(\s*["']([a-z0-9_.]+)["']""")
    missing = []
    for folder in ("pages", "ui", "widgets"):
        for path in (ROOT / folder).glob("*.py"):
            for key in pattern.findall(path.read_text()):
                if key not in en and not any(k.startswith(key + ".") for k in en):
                    missing.append(f"{path.name}: {key}")
    assert not missing, missing


def test_error_codes_raised_in_core_are_translated():
    en = i18n.catalog("en")
    codes = set()
    for path in (ROOT / "core").rglob("*.py"):
        codes |= set(re.findall(r"""HeroError\(\s*["']([a-z0-9_.]+)["']""", path.read_text()))
    missing = sorted(c for c in codes if f"errors.{c}" not in en)
    assert not missing, missing
