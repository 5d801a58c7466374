"""Chapter 11 widget: semantic search over the Python language reference and sentiment from frozen
features, both on the real pretrained MiniLM (loaded once per process, inference only)."""
from __future__ import annotations

import time
from functools import lru_cache

import gradio as gr

from core.device import preset
from core.errors import HeroError
from core.lessons.ch11_llm import PRESETS, search, sentiment, tokens
from core.weights import cache_dir
from widgets.common import error_message, translator

P = PRESETS[preset()]
N_PARAGRAPHS, N_REVIEWS = P["paragraphs"], max(60, P["sent_n"])


@lru_cache(maxsize=1)
def _minilm():
    return tokens.load_minilm()


@lru_cache(maxsize=1)
def _corpus():
    tok, model = _minilm()
    texts = search.paragraphs(N_PARAGRAPHS)
    emb, _ = search.corpus_embeddings(texts, tok, model, cache_dir() / "ch11")
    return texts, emb


@lru_cache(maxsize=1)
def _classifier():
    tok, model = _minilm()
    return sentiment.frozen_sentiment(sentiment.FrozenSettings(n=N_REVIEWS), tok, model)


def find(query: str, k: int = 5, lang: str = "en"):
    """(rows [[rank, cosine, paragraph]], status line)."""
    t = translator(lang)
    try:
        t0 = time.perf_counter()
        tok, model = _minilm()
        texts, emb = _corpus()
        res = search.search(query, texts, emb, tok, model, k=int(k))
        rows = [[h["rank"], round(h["score"], 3), h["text"][:400]] for h in res["hits"]]
        return rows, t("ch11.widget.searched", n=len(texts), s=f"{time.perf_counter() - t0:.2f}")
    except HeroError as exc:
        return [], error_message(lang, exc)


def classify(review: str, lang: str = "en"):
    """({label: probability}, status line)."""
    t = translator(lang)
    try:
        tok, model = _minilm()
        fitted = _classifier()
        p = float(sentiment.predict_sentiment([review], fitted["classifier"], tok, model)[0])
        return ({t("ch11.widget.positive"): p, t("ch11.widget.negative"): 1 - p},
                t("ch11.widget.fitted", acc=f"{fitted['val_acc']:.1%}"))
    except HeroError as exc:
        return {}, error_message(lang, exc)


def build(lang: str = "en") -> gr.Blocks:
    t = translator(lang)
    with gr.Blocks(title=t("chapters.ch11.title")) as demo:
        gr.Markdown(f"## {t('ch11.widget.title')}\n{t('ch11.widget.intro')}")
        lang_box = gr.State(lang)
        with gr.Row():
            query = gr.Textbox(label=t("ch11.widget.query"), value="How do I catch an exception?",
                               max_length=search.MAX_QUERY_CHARS, scale=4)
            k = gr.Slider(1, 10, value=5, step=1, label=t("ch11.widget.hits"), scale=1)
        go_search = gr.Button(t("ch11.widget.search"), variant="primary")
        hits = gr.Dataframe(headers=["#", t("ch11.widget.cosine"), t("ch11.widget.paragraph")], wrap=True)
        search_status = gr.Markdown()
        go_search.click(find, [query, k, lang_box], [hits, search_status])
        review = gr.Textbox(label=t("ch11.widget.review"), value="the hotel was lovely and the staff were wonderful",
                            max_length=tokens.MAX_TEXT_CHARS)
        go_classify = gr.Button(t("ch11.widget.classify"))
        label = gr.Label(label=t("ch11.widget.sentiment"))
        classify_status = gr.Markdown()
        go_classify.click(classify, [review, lang_box], [label, classify_status])
    return demo


if __name__ == "__main__":
    build().launch()
