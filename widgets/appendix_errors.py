"""Appendix headline demo: the PyTorch error guide. Paste an error message → the matching entry, its
cause and fix; run its broken and fixed scripts live (in a child Python). Pasted text is only searched."""
from __future__ import annotations

import gradio as gr
import torch

from core.errors import HeroError
from core.lessons.appendix import errors_guide as guide
from widgets.common import error_message, translator


def titles(lang: str) -> dict[str, str]:
    t = translator(lang)
    return {e.id: t(f"appendix.errors.{e.id}.title") for e in guide.ENTRIES}


def find(text: str, lang: str = "en"):
    """(dropdown update with the matching entries, best first; the best entry's details)."""
    names = titles(lang)
    found = [i for i, _ in guide.find_errors(text or "", names, limit=len(guide.ENTRIES))]
    ids = found or [e.id for e in guide.ENTRIES]
    choices = [(names[i], i) for i in ids]
    return gr.update(choices=choices, value=ids[0]), describe(ids[0], lang)


def describe(entry_id: str, lang: str = "en") -> str:
    """Markdown: title, the two scripts, cause and fix (from the locales)."""
    t = translator(lang)
    if entry_id not in guide.BY_ID:
        return error_message(lang, HeroError("appendix.unknown_entry", name=entry_id))
    e = guide.BY_ID[entry_id]
    return (f"### {t(f'appendix.errors.{e.id}.title')}\n\n**{t('appendix.guide.broken')}**\n```python\n{e.broken}```\n"
            f"**{t('appendix.guide.fixed')}**\n```python\n{e.fixed}```\n"
            f"**{t('appendix.guide.cause')}.** {t(f'appendix.errors.{e.id}.cause')}\n\n"
            f"**{t('appendix.guide.fix')}.** {t(f'appendix.errors.{e.id}.fix')}")


def run(entry_id: str, lang: str = "en") -> tuple[str, str, str]:
    """Run the entry live: (status line, what the broken script raised + traceback, what the fixed one printed)."""
    t = translator(lang)
    if entry_id not in guide.BY_ID:
        return error_message(lang, HeroError("appendix.unknown_entry", name=entry_id)), "", ""
    e = guide.BY_ID[entry_id]
    done = guide.run_entry(entry_id)
    if done.broken.timed_out:
        broken = t("appendix.guide.timed_out")
    elif done.broken.ok:
        broken = t("appendix.guide.no_error")
    else:
        broken = f"{done.broken.traceback or done.broken.type + ': ' + done.broken.message}"
    fixed = done.fixed.stdout if done.fixed.ok else t("appendix.guide.fixed_failed",
                                                      message=f"{done.fixed.type}: {done.fixed.message}")
    status = (t("appendix.guide.documented", type=e.error) if done.as_documented
              else t("appendix.guide.not_documented", version=torch.__version__, type=e.error))
    return status, broken, fixed


def build(lang: str = "en") -> gr.Blocks:
    t = translator(lang)
    names = titles(lang)
    first = guide.ENTRIES[0].id
    with gr.Blocks(title=t("chapters.appendix.title")) as demo:
        gr.Markdown(f"## {t('appendix.widget.title')}\n{t('appendix.widget.intro')}")
        lang_box = gr.State(lang)
        with gr.Row():
            text = gr.Textbox(label=t("appendix.widget.paste"), placeholder=t("appendix.guide.placeholder"), scale=4)
            find_button = gr.Button(t("appendix.widget.find"), scale=1)
        entry = gr.Dropdown([(names[e.id], e.id) for e in guide.ENTRIES], value=first, label=t("appendix.widget.entry"))
        details = gr.Markdown(describe(first, lang))
        run_button = gr.Button(t("appendix.widget.run"), variant="primary")
        status = gr.Markdown()
        with gr.Row():
            broken = gr.Code(label=t("appendix.widget.broken_out"), language=None)
            fixed = gr.Code(label=t("appendix.widget.fixed_out"), language=None)
        find_button.click(find, [text, lang_box], [entry, details])
        text.submit(find, [text, lang_box], [entry, details])
        entry.change(describe, [entry, lang_box], details)
        run_button.click(run, [entry, lang_box], [status, broken, fixed])
    return demo


if __name__ == "__main__":
    build().launch()
