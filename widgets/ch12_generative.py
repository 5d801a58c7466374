"""Chapter 12 headline demo (the 实战): train a DCGAN on 5,000 real MNIST digits, watch the
fixed-noise grid evolve, then sample new digits and walk the latent space."""
from __future__ import annotations

import gradio as gr

from core.device import preset
from core.lessons.ch12_generative import dcgan, evaluation, figures
from widgets.common import run_status, stream_job, translator

P = dcgan.PRESETS[preset()]


def train(steps: int, lr: float, lang: str = "en", width: int | None = None, batch_size: int | None = None,
          eval_samples: int | None = None):
    """Generator: stream (status, fixed-noise grid, judge curve, generator state)."""
    t = translator(lang)
    s = dcgan.DCGANSettings(steps=int(steps), lr=float(lr), width=width or P["width"],
                            batch_size=batch_size or P["batch_size"], grid_every=max(1, min(P["grid_every"], int(steps))),
                            eval_every=max(1, min(P["eval_every"], int(steps))), eval_samples=eval_samples or P["eval_samples"])
    for events, result, error in stream_job(lambda stop, emit: dcgan.train_dcgan(s, stop, emit, evaluation.score)):
        grids = [e for e in events if e["kind"] == "grid"]
        evals = [e for e in events if e["kind"] == "eval"]
        grid = figures.digits(grids[-1]["images"], t("ch12.dcgan.grid", step=grids[-1]["step"])) if grids else None
        judged = figures.losses(evals, ["confident"], {"confident": t("ch12.eval.confident"), "step": t("ch12.gan.step")},
                                t("ch12.dcgan.judged")) if evals else None
        if error is not None or result is None:
            yield run_status(lang, events, result, error), grid, judged, None
            continue
        done = t("ch12.dcgan.metric", share=f"{evals[-1]['confident']:.0%}", coverage=evals[-1]["coverage"]) if evals else ""
        if result.reason in ("nan", "d_wins"):
            done = t(f"ch12.diverged.{result.reason}", step=result.last_good_step)
        yield run_status(lang, events, result, None, done_text=done), grid, judged, result.generator
        return


def sample(generator, seed: int, seed_a: int, seed_b: int, lang: str = "en"):
    """(samples figure, interpolation figure, status) from the trained generator."""
    t = translator(lang)
    if generator is None:
        return None, None, t("ch12.widget.train_first")
    return (figures.digits(dcgan.sample_seeded(generator, 16, int(seed)), t("ch12.dcgan.samples")),
            figures.digits(dcgan.interpolate(generator, int(seed_a), int(seed_b), 8), t("ch12.dcgan.interp")), "")


def build(lang: str = "en") -> gr.Blocks:
    t = translator(lang)
    with gr.Blocks(title=t("chapters.ch12.title")) as demo:
        gr.Markdown(f"## {t('ch12.dcgan.title')}\n{t('ch12.dcgan.intro')}")
        with gr.Row():
            steps = gr.Slider(2, 6000, value=P["steps"], step=1, label=t("ch12.dcgan.steps"))
            lr = gr.Dropdown([1e-4, 2e-4, 5e-4, 1e-3, 2e-3], value=dcgan.DCGANSettings.lr, label=t("ch12.dcgan.lr"))
        button = gr.Button(t("ch12.dcgan.train"), variant="primary")
        status = gr.Markdown()
        with gr.Row():
            grid = gr.Plot(label=t("ch12.widget.grid"))
            judged = gr.Plot(label=t("ch12.dcgan.judged"))
        generator = gr.State(None)
        lang_box = gr.State(lang)
        with gr.Row():
            seed = gr.Number(0, precision=0, label=t("ch12.dcgan.seed"))
            seed_a = gr.Number(1, precision=0, label=t("ch12.dcgan.seed_a"))
            seed_b = gr.Number(2, precision=0, label=t("ch12.dcgan.seed_b"))
        sample_button = gr.Button(t("ch12.widget.sample"))
        note = gr.Markdown()
        with gr.Row():
            samples = gr.Plot(label=t("ch12.dcgan.samples"))
            interp = gr.Plot(label=t("ch12.dcgan.interp"))
        button.click(train, [steps, lr, lang_box], [status, grid, judged, generator])
        sample_button.click(sample, [generator, seed, seed_a, seed_b, lang_box], [samples, interp, note])
    return demo


if __name__ == "__main__":
    build().launch()
