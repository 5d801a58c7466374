"""Chapter 14 headline demo: a collective run for real between spawned torch.distributed processes,
each rank's tensor drawn before and after, checked against NumPy."""
from __future__ import annotations

import gradio as gr

from core.lessons.ch14_distributed import collectives as coll
from core.lessons.ch14_distributed import figures as fig
from widgets.common import run_status, stream_job, translator


def run(op: str, world_size: int, size: int, src: int = 0, lang: str = "en"):
    """Generator: stream (status, figure) while the ranks start and run the collective."""
    t = translator(lang)
    settings = coll.CollectiveSettings(op=op, world_size=int(world_size), size=int(size), src=int(src))
    for events, result, error in stream_job(lambda stop, emit: coll.run_collective(settings, stop, emit)):
        if error is not None or result is None:
            yield run_status(lang, events, None, error), None
            continue
        ok = [list(map(float, e)) for e in result["expected"]] == result["after"]
        small = {**result, "before": [r[:16] for r in result["before"]], "after": [r[:32] for r in result["after"]]}
        figure = fig.rank_tensors(small, {"before": t("ch14.coll.before"), "after": t("ch14.coll.after"),
                                          "title": t(f"ch14.coll.ops.{op}")})
        yield t("ch14.widget.done", op=t(f"ch14.coll.ops.{op}"), world=result["world_size"],
                ms=f"{1000 * result['seconds']:.2f}", ok="✓" if ok else "✗"), figure


def build(lang: str = "en") -> gr.Blocks:
    t = translator(lang)
    with gr.Blocks(title=t("chapters.ch14.title")) as demo:
        gr.Markdown(f"## {t('ch14.widget.title')}\n{t('ch14.coll.intro')}")
        with gr.Row():
            op = gr.Dropdown([(t(f"ch14.coll.ops.{o}"), o) for o in coll.OPS], value="all_reduce_sum",
                             label=t("ch14.coll.op"))
            world = gr.Slider(1, 4, value=2, step=1, label=t("ch14.ddp.world"))
            size = gr.Number(value=4, precision=0, label=t("ch14.coll.size"))
            src = gr.Number(value=0, precision=0, label=t("ch14.coll.src"))
        button = gr.Button(t("ch14.widget.run"), variant="primary")
        status = gr.Markdown(label=t("ch14.widget.status"))
        plot = gr.Plot()
        lang_box = gr.State(lang)
        button.click(run, [op, world, size, src, lang_box], [status, plot])
    return demo


if __name__ == "__main__":
    build().launch()
