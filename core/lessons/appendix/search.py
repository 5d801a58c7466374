"""Gallery search (for the home page and the appendix): one word in English or Chinese → chapter
sections, glossary terms and error-guide entries, each with the URL of the page that has it.

    search("梯度", "zh")[0]  →  Hit(kind="term", title="梯度", url="/autograd?lang=zh", ...)

Sections come from the locale titles (``chNN.<section>.title``) and their numbers from the pages'
``layout.section("chNN.key", "N.M")`` calls (read as text, never imported). Error entries are found
by their title, tags and real messages, so a pasted message works too. Only compared, never run.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from core import i18n
from core.catalog import BY_ID as CHAPTERS_BY_ID, CHAPTERS, ROOT
from core.lessons.appendix import errors_guide, glossary

_SECTION_TITLE = re.compile(r"^(ch\d\d)\.([a-z0-9_]+)\.title$")
_SECTION_CALL = re.compile(r"""layout\.section\(\s*["'](ch\d\d\.[a-z0-9_]+)["']\s*,\s*["']([^"']+)["']""")
APPENDIX_URL = "/" + CHAPTERS_BY_ID["appendix"].url_path


@dataclass(frozen=True)
class Hit:
    kind: str            # "chapter" | "section" | "term" | "error"
    title: str           # what to show, in the visitor's language
    detail: str          # a second line: chapter name, translation, or the error's title
    url: str | None      # page URL (None: chapter not built yet)
    score: float


@lru_cache(maxsize=None)
def section_numbers() -> dict[str, str]:
    """``{"ch09.lr": "9.3", ...}`` from each built page's ``layout.section`` calls."""
    numbers: dict[str, str] = {}
    for chapter in CHAPTERS:
        path = ROOT / chapter.page
        if path.exists():
            numbers.update(dict(_SECTION_CALL.findall(path.read_text(encoding="utf-8"))))
    return numbers


def _url(chapter_id: str, lang: str, query: dict[str, str] | None = None) -> str | None:
    """``/<page>?...&lang=zh``: a link opens a new session, so it carries the visitor's language."""
    chapter = CHAPTERS_BY_ID.get(chapter_id)
    if chapter is None or not chapter.built:
        return None
    params = {**(query or {}), "lang": lang}
    return f"/{chapter.url_path}?" + "&".join(f"{k}={v}" for k, v in params.items())


def _match(query: str, *texts: str) -> float:
    """1.0 exact, 0.8 prefix, 0.6 contained, else 0 (case-blind; best over ``texts``)."""
    best = 0.0
    for text in texts:
        t = text.lower()
        if not t:
            continue
        if t == query:
            return 1.0
        if t.startswith(query):
            best = max(best, 0.8)
        elif query in t:
            best = max(best, 0.6)
    return best


def search(query: str, lang: str = "en", limit: int = 30) -> list[Hit]:
    """Everything in the gallery matching ``query`` (en or zh), best first, at most ``limit``."""
    lang = i18n.normalise(lang)
    q = " ".join(query.lower().split())
    if not q:
        return []
    strings = i18n.catalog(lang)
    english = i18n.catalog("en")
    hits: list[Hit] = []
    # 1. chapters and their sections, by title in the visitor's language (and English)
    for chapter in CHAPTERS:
        title = strings.get(f"chapters.{chapter.id}.title", "")
        if s := _match(q, title, english.get(f"chapters.{chapter.id}.title", ""), strings.get(f"chapters.{chapter.id}.blurb", "")):
            hits.append(Hit("chapter", title, strings.get(f"chapters.{chapter.id}.blurb", ""), _url(chapter.id, lang), s + 0.05))
    numbers = section_numbers()
    for key, title in strings.items():
        found = _SECTION_TITLE.match(key)
        if not found or not isinstance(title, str):
            continue
        chapter_id, section = found.groups()
        number = numbers.get(f"{chapter_id}.{section}")
        if number is None or chapter_id not in CHAPTERS_BY_ID:
            continue                           # a locale table that is not a page section
        if s := _match(q, title, english.get(key, "")):
            hits.append(Hit("section", f"{number} {title}", strings.get(f"chapters.{chapter_id}.nav", chapter_id),
                            _url(chapter_id, lang), s))
    # 2. glossary terms, both languages
    for term in glossary.search_terms(q):
        where = glossary.link(term)
        detail = f"{term.zh if lang == 'en' else term.en} · §{term.section}"
        hits.append(Hit("term", term.en if lang == "en" else term.zh, detail,
                        where["url"] and f"{where['url']}?lang={lang}", 0.9 * _match(q, term.en, term.zh) or 0.5))
    # 3. error-guide entries: title in this language, tags and messages
    titles = {e.id: strings.get(f"appendix.errors.{e.id}.title", e.id) for e in errors_guide.ENTRIES}
    for entry_id, score in errors_guide.find_errors(query, titles, limit=8):
        entry = errors_guide.BY_ID[entry_id]
        hits.append(Hit("error", titles[entry_id], f"{entry.error}: {entry.expect[0]}", _url("appendix", lang, {"error": entry_id}),
                        min(1.0, 0.4 + score / 3)))
    hits.sort(key=lambda h: -h.score)
    return hits[:limit]


KIND_ICONS = {"chapter": ":material/menu_book:", "section": ":material/bookmark:",
              "term": ":material/translate:", "error": ":material/bug_report:"}


def markdown_lines(hits: list[Hit], lang: str = "en") -> list[str]:
    """One Markdown line per hit: a link when the page is built, plain text (marked) when not."""
    later = i18n.translate(lang, "appendix.search.not_built")
    lines = []
    for hit in hits:
        kind = i18n.translate(lang, f"appendix.search.kind.{hit.kind}")
        title = f"[{hit.title}]({hit.url})" if hit.url else f"{hit.title} ({later})"
        lines.append(f"- {KIND_ICONS[hit.kind]} **{kind}** · {title} — {hit.detail}")
    return lines
