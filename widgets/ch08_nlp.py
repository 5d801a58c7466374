"""Chapter 8 headline demo: train an LSTM/GRU sentiment classifier live, then classify a typed sentence."""
from __future__ import annotations

import gradio as gr

from core import viz
from core.device import detect, preset
from core.errors import HeroError
from core.lessons import ch08_nlp as lesson
from widgets.common import error_message, run_status, stream_job, translator

P = lesson.PRESETS[preset()]
DEVICE = detect().kind


def train(source: str, cell: str, epochs: int, state: dict | None, lang: str = "en"):
    """Generator: stream (status, curves figure, state) while the classifier trains."""
    t = translator(lang)
    state = dict(state or {})
    settings = lesson.SentimentSettings(source=source, cell=cell, epochs=int(epochs), max_len=P["sent_len"],
                                        batch_size=P["sent_batch"], limit=P["sent_limit"], device=DEVICE)
    for events, result, error in stream_job(lambda stop, emit: lesson.train_sentiment(settings, stop, emit)):
        evals = [e for e in events if e["kind"] == "eval"]
        figure = viz.curves({source: evals}, ["val_loss", "val_acc"], x="step") if evals else None
        if error is not None:
            yield run_status(lang, events, error=error), figure, state
            return
        if result is not None:
            if result.ok:
                state["result"] = result
            message = t("ch08.sent.status_done", acc=f"{result.end.get('val_acc', 0):.1%}",
                        majority=f"{result.counts['majority']:.1%}")
            if result.note:
                message += "\n\n" + t("ch08.sent.fallback", reason=result.note)
            message += "\n\n" + t("ch08.sent.data", source=result.source, train=result.counts["train"],
                                    val=result.counts["val"])
            yield run_status(lang, events, result, done_text=message), figure, state
            return
        yield run_status(lang, events), figure, state


def compare(source: str, epochs: int, lang: str = "en"):
    """Generator: GRU then LSTM on the same reviews, split, vocabulary and seed; stream (status,
    overlaid curves, table rows)."""
    t = translator(lang)
    settings = lesson.SentimentSettings(source=source, epochs=int(epochs), max_len=P["sent_len"],
                                        batch_size=P["sent_batch"], limit=P["sent_limit"], device=DEVICE)
    for events, result, error in stream_job(lambda stop, emit: lesson.compare_cells(settings, stop, emit)):
        evals = [e for e in events if e["kind"] == "eval"]
        figure = viz.curves({c.upper(): [e for e in evals if e["run"] == c] for c in ("gru", "lstm")},
                            ["val_loss", "val_acc"], x="step") if evals else None
        if error is not None or result is None:
            yield run_status(lang, events, error=error), figure, None
            if error is not None:
                return
            continue
        rows = [[r["cell"], f"{r['val_acc']:.1%}", f"{r['best_val_acc']:.1%}", r["parameters"], r["seconds"]]
                for r in lesson.comparison_table(result)]
        first = next(iter(result.runs.values()))
        done = t("ch08.cmp.same", source=first.source, train=first.counts["train"], val=first.counts["val"],
                 vocab=len(first.vocab), seed=first.settings["seed"])
        yield run_status(lang, events, result, done_text=done), figure, rows
        return


def classify(sentence: str, state: dict | None, lang: str = "en"):
    """Typed sentence → ({label: probability}, coloured-token HTML, message)."""
    t = translator(lang)
    result = (state or {}).get("result")
    if result is None:
        return {}, "", t("ch08.sent.train_first")
    try:
        out = lesson.classify(result, sentence)
    except HeroError as err:
        return {}, "", error_message(lang, err)
    label = t("ch08.sent.pos") if out["label"] else t("ch08.sent.neg")
    html = lesson.coloured_tokens_html(out["tokens"], out["contributions"], zh=result.settings["source"] == "zh")
    message = t("ch08.sent.prediction", label=label, p=f"{out['p_pos']:.1%}") + "  \n" + t("ch08.sent.legend")
    if out["truncated"]:
        message += " " + t("ch08.sent.cut", n=result.settings["max_len"])
    return {t("ch08.sent.pos"): out["p_pos"], t("ch08.sent.neg"): 1 - out["p_pos"]}, html, message


def build(lang: str = "en") -> gr.Blocks:
    t = translator(lang)
    sources = [(t(f"ch08.sent.source_{k}"), k) for k in lesson.SENT_SOURCES]
    with gr.Blocks(title=t("chapters.ch08.title")) as demo:
        gr.Markdown(f"## {t('ch08.sent.title')}\n{t('ch08.sent.widget_intro')}")
        state = gr.State({})
        lang_box = gr.State(lang)
        with gr.Row():
            source = gr.Radio(sources, value="zh", label=t("ch08.sent.source"))
            cell = gr.Radio(["gru", "lstm"], value="gru", label=t("ch08.sent.cell"))
            epochs = gr.Slider(1, 6, value=P["sent_epochs"], step=1, label=t("ch08.embed.epochs"))
            train_button = gr.Button(t("ch08.sent.button"), variant="primary")
        status = gr.Markdown()
        curves = gr.Plot(label=t("ch08.sent.val_acc"))
        sentence = gr.Textbox(label=t("ch08.sent.input"), value=t("ch08.sent.example_zh"),
                              max_length=lesson.MAX_TEXT_CHARS)
        with gr.Row():
            label = gr.Label(num_top_classes=2)
            with gr.Column():
                tokens = gr.HTML()
                message = gr.Markdown()
        with gr.Accordion(t("ch08.cmp.title"), open=False):
            gr.Markdown(t("ch08.cmp.intro"))
            compare_button = gr.Button(t("ch08.cmp.button"))
            compare_status = gr.Markdown()
            compare_curves = gr.Plot()
            compare_table = gr.Dataframe(headers=[t("ch08.sent.cell"), t("ch08.sent.val_acc"), t("ch08.cmp.best"),
                                                  t("ch08.cmp.params"), t("ch08.cmp.seconds")], interactive=False)
        train_button.click(train, [source, cell, epochs, state, lang_box], [status, curves, state])
        compare_button.click(compare, [source, epochs, lang_box], [compare_status, compare_curves, compare_table])
        sentence.submit(classify, [sentence, state, lang_box], [label, tokens, message])
        state.change(classify, [sentence, state, lang_box], [label, tokens, message])
    return demo


if __name__ == "__main__":
    build().launch()
