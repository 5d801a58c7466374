"""Chapter 4 headline demo: pick a loss + optimizer for the MLP and compare runs; plus the optimizer race."""
from __future__ import annotations

import gradio as gr
import pandas as pd

from core import viz
from core.device import detect
from core.errors import HeroError
from core.lessons import ch04_loss_optim as lesson
from widgets.common import error_message, run_status, stream_job, translator

LRS = [1e-4, 3e-4, 1e-3, 3e-3, 0.01, 0.03, 0.1, 0.3, 1.0, 10.0, 100.0]


def compare(loss_a: str, opt_a: str, lr_a: float, loss_b: str, opt_b: str, lr_b: float,
            dataset: str = "digits", epochs: int = 12, lang: str = "en"):
    """Generator: stream (status markdown, curves figure, results table) while both runs train."""
    t = translator(lang)
    settings = [lesson.PracticeRun(loss_a, opt_a, float(lr_a)), lesson.PracticeRun(loss_b, opt_b, float(lr_b))]
    job = lambda stop, emit: lesson.compare_practice(settings, dataset, int(epochs), stop_event=stop, emit=emit,  # noqa: E731
                                                     device=detect().kind)
    for events, result, error in stream_job(job):
        evals: dict[str, list] = {}
        for e in events:
            if e["kind"] == "eval":
                evals.setdefault(e["run"], []).append(e)
        figure = viz.curves(evals, ["val_acc", "val_loss"]) if evals else None
        if error is not None:
            yield error_message(lang, error), figure, None
            return
        if result is not None:
            rows = result.table()
            table = pd.DataFrame(rows)[["run", "loss", "optimizer", "lr", "val_acc", "end"]]
            table["end"] = [t("ch04.practice.nan") if r in ("nan", "diverged") else r for r in table["end"]]
            best = rows[0]
            message = t("ch04.widget.done", name=best["run"], acc=f"{(best['val_acc'] or 0):.1%}")
            if any(r["end"] in ("nan", "diverged") for r in rows):
                message += "\n\n" + t("ch04.practice.nan_explain")
            message += "\n\n" + t("ch04.practice.differs", settings=", ".join(result.differences()) or "—")
            yield message, figure, table
            return
        run = next((e["run"] for e in reversed(events) if "run" in e), "")
        yield f"{run} · {run_status(lang, events)}" if run else run_status(lang, events), figure, None


def run_race(surface: str, lr_sgd: float, lr_adaptive: float, steps: int, lang: str = "en"):
    """Generator: (race figure, loss-per-step figure, markdown) for all six optimizers — the paths
    drawn as they go (status: step i of n), then the animated figure and the winner."""
    t = translator(lang)
    job = lambda stop, emit: lesson.race(surface, lesson.RACERS, float(lr_sgd), float(lr_adaptive), int(steps),
                                         stop_event=stop, emit=emit)
    for events, paths, error in stream_job(job):
        if error is not None:
            yield None, None, error_message(lang, error)
            return
        if paths is None:
            snaps = [e for e in events if "paths" in e]
            if snaps:
                yield (lesson.race_figure(surface, snaps[-1]["paths"], 60, 0, t("ch04.race.paths")), None,
                       run_status(lang, events))
            continue
        winner = lesson.race_winner(paths)
        lines = [t("ch04.race.winner", name=winner) if winner else t("ch04.race.no_winner")]
        diverged = {n: p.diverged_at for n, p in paths.items() if p.diverged_at is not None}
        if diverged:
            lines.append(t("ch04.race.diverged", names=", ".join(f"{n} ({s})" for n, s in diverged.items())))
        yield (lesson.race_figure(surface, paths, 60, 40, t("ch04.race.paths"), play=t("ch04.race.play")),
               lesson.race_loss_figure(surface, paths, t("ch04.race.loss"), t("ch04.race.gap")), "\n\n".join(lines))
        return


def build(lang: str = "en") -> gr.Blocks:
    t = translator(lang)
    loss_choices = [(t(f"ch04.practice.losses.{n}"), n) for n in lesson.PRACTICE_LOSSES]
    with gr.Blocks(title=t("chapters.ch04.title")) as demo:
        gr.Markdown(f"## {t('ch04.widget.title')}\n{t('ch04.widget.intro')}")
        lang_box = gr.State(lang)
        with gr.Tab(t("ch04.widget.compare_tab")):
            with gr.Row():
                dataset = gr.Radio([(t("ch04.practice.data_digits"), "digits"), (t("ch04.practice.data_moons"), "moons")],
                                   value="digits", label=t("ch04.practice.dataset"))
                epochs = gr.Slider(1, lesson.MAX_EPOCHS, value=12, step=1, label=t("ch04.practice.epochs"))
            inputs = []
            with gr.Row():
                for i, (loss0, opt0, lr0) in enumerate([("cross_entropy", "adam", 3e-3), ("cross_entropy", "sgd", 0.1)]):
                    with gr.Column():
                        gr.Markdown(f"**{t('ch04.practice.run', n=i + 1)}**")
                        inputs += [gr.Dropdown(loss_choices, value=loss0, label=t("ch04.practice.loss")),
                                   gr.Dropdown(list(lesson.RACERS), value=opt0, label=t("ch04.practice.optimizer")),
                                   gr.Dropdown(LRS, value=lr0, label=t("ch04.practice.lr"))]
            button = gr.Button(t("ch04.practice.button"), variant="primary")
            status = gr.Markdown()
            curves = gr.Plot(label=t("ch04.practice.curves"))
            table = gr.Dataframe(label=t("ch04.practice.results"))
            button.click(compare, [*inputs, dataset, epochs, lang_box], [status, curves, table])
        with gr.Tab(t("ch04.widget.race_tab")):
            with gr.Row():
                surface = gr.Dropdown([(t(f"ch04.race.surfaces.{s}"), s) for s in lesson.SURFACES],
                                      value="rosenbrock", label=t("ch04.race.surface"))
                lr_sgd = gr.Number(1.5e-3, label=t("ch04.race.lr_sgd"))
                lr_adaptive = gr.Number(0.1, label=t("ch04.race.lr_adaptive"))
                steps = gr.Slider(10, lesson.MAX_RACE_STEPS, value=400, step=10, label=t("ch04.race.steps"))
            race_button = gr.Button(t("ch04.race.button"), variant="primary")
            race_plot = gr.Plot(label=t("ch04.race.paths"))
            loss_plot = gr.Plot(label=t("ch04.race.loss"))
            summary = gr.Markdown()
            race_button.click(run_race, [surface, lr_sgd, lr_adaptive, steps, lang_box], [race_plot, loss_plot, summary])
    return demo


if __name__ == "__main__":
    build().launch()
