"""Chapter 10 headline demo: the character GPT writing one character at a time, each shown with
its probability and the candidates it was drawn from (temperature / top-k / top-p, KV cache)."""
from __future__ import annotations

import html
import threading
import time

import gradio as gr

from core import weights
from core.errors import HeroError
from core.i18n import error_text
from core.lessons.ch10_transformer import gpt
from widgets.common import translator

_LOCK = threading.Lock()
_SHIPPED: dict = {}


def shipped_model():
    """The shipped GPT, loaded on first use (never on import). Generation only reads it."""
    with _LOCK:
        if "model" not in _SHIPPED:
            _SHIPPED["model"] = weights.load("ch10_char_gpt").model.eval()
        return _SHIPPED["model"]


def tokens_html(prompt: str, steps: list[dict]) -> str:
    """The prompt in grey, then each generated character shaded by its probability (hover for it)."""
    out = [f'<span style="color:#888">{html.escape(prompt)}</span>']
    for s in steps:
        alpha = 0.15 + 0.85 * s["p_chosen"]
        ch = html.escape(s["chosen"]).replace("\n", "⏎<br>")
        out.append(f'<span title="p = {s["p_chosen"]:.2f}" style="background: rgba(238,76,44,{alpha:.2f})">{ch}</span>')
    return '<div style="font-family: monospace; white-space: pre-wrap; line-height: 1.6">' + "".join(out) + "</div>"


def generate(prompt: str, n_new: float, temperature: float, top_k: float, top_p: float, use_cache: bool,
             lang: str = "en"):
    """Generator: stream (HTML of the text so far, table rows of every step, status line)."""
    t = translator(lang)
    rows: list[list] = []
    steps: list[dict] = []
    settings = gpt.GenerateSettings(prompt=prompt, n_new=int(n_new), temperature=float(temperature),
                                    top_k=int(top_k), top_p=float(top_p), use_cache=bool(use_cache))
    try:
        started = time.perf_counter()
        notes = ""
        for i, step in enumerate(gpt.stream_generate(shipped_model(), gpt.corpus_vocab(), settings)):
            if i == 0:
                if step["dropped"]:
                    notes += t("ch10.gpt.dropped", chars=" ".join(repr(c) for c in step["dropped"])) + "\n\n"
                if step["cut"]:
                    notes += t("ch10.gen.cut", n=step["cut"], block=shipped_model().config.block_size) + "\n\n"
            steps.append(step)
            rows.append([i, repr(step["chosen"]), round(step["p_chosen"], 3),
                         "  ".join(("▶" if c == step["chosen"] else "") + f"{c!r} {p:.2f}" for c, p in step["candidates"])])
            if i % 8 == 0:
                yield tokens_html(step["prompt"], steps), rows, notes + t("ch10.widget.writing", n=i + 1)
        seconds = time.perf_counter() - started
        status = notes + t("ch10.gen.speed", n=len(steps), seconds=f"{seconds:.2f}", rate=f"{len(steps) / seconds:.0f}",
                           cache=t("ch10.gen.on" if use_cache else "ch10.gen.off"))
        yield tokens_html(steps[0]["prompt"], steps), rows, status
    except HeroError as err:
        yield "", rows, error_text(lang, err)


def build(lang: str = "en") -> gr.Blocks:
    t = translator(lang)
    with gr.Blocks(title=t("chapters.ch10.title")) as demo:
        gr.Markdown(f"## {t('ch10.widget.title')}\n{t('ch10.widget.intro')}")
        lang_box = gr.State(lang)
        prompt = gr.Textbox(label=t("ch10.gen.prompt"), value="The ", max_lines=4, max_length=gpt.MAX_PROMPT_CHARS)
        with gr.Row():
            n_new = gr.Slider(1, 300, value=80, step=1, label=t("ch10.gen.n_new"))
            temperature = gr.Slider(0.1, 2.0, value=0.8, step=0.05, label=t("ch10.attn.temperature"))
            top_k = gr.Slider(0, 103, value=10, step=1, label="top-k")
            top_p = gr.Slider(0.05, 1.0, value=0.95, step=0.01, label="top-p")
            use_cache = gr.Checkbox(value=True, label=t("ch10.gen.cache"))
        button = gr.Button(t("ch10.gen.run"), variant="primary")
        text = gr.HTML()
        status = gr.Markdown()
        table = gr.Dataframe(headers=["#", t("ch10.gen.chosen"), "p", t("ch10.gen.candidates")], wrap=True)
        button.click(generate, [prompt, n_new, temperature, top_k, top_p, use_cache, lang_box], [text, table, status])
    return demo


if __name__ == "__main__":
    build().launch()
