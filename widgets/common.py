"""Helpers shared by the Gradio widgets (no Streamlit here)."""
from __future__ import annotations

import queue
import threading
from typing import Any, Callable, Iterator

from core import i18n

Job = Callable[[threading.Event, Callable[[dict], None]], Any]


def translator(lang: str) -> Callable[..., str]:
    return lambda key, **params: i18n.translate(lang, key, **params)


def stream_job(job: Job, poll: float = 0.25) -> Iterator[tuple[list[dict], Any, BaseException | None]]:
    """Run ``job(stop_event, emit)`` in a thread; yield (events so far, result, error) as it goes.

    Gradio streams by iterating a generator; the job reports through ``emit``. If the
    visitor closes the tab, Gradio closes the generator and the ``finally`` stops the job.
    """
    events: list[dict] = []
    inbox: queue.Queue = queue.Queue()
    stop = threading.Event()
    outcome: dict[str, Any] = {}

    def worker():
        try:
            outcome["result"] = job(stop, inbox.put)
        except BaseException as exc:  # handed to the caller, which shows it
            outcome["error"] = exc
        finally:
            inbox.put(None)

    thread = threading.Thread(target=worker, daemon=True)
    thread.start()
    try:
        finished = False
        while not finished:
            try:
                item = inbox.get(timeout=poll)
            except queue.Empty:
                continue
            batch = [item]
            while not inbox.empty():
                batch.append(inbox.get_nowait())
            finished = None in batch
            events.extend(e for e in batch if e is not None)
            yield events, outcome.get("result"), outcome.get("error")
    finally:
        stop.set()


def error_message(lang: str, exc: BaseException) -> str:
    """A learner-caused failure translated; anything else (a bug) named briefly."""
    from core.errors import HeroError
    if isinstance(exc, HeroError):
        return i18n.error_text(lang, exc)
    return i18n.translate(lang, "runner.crashed", detail=f"{type(exc).__name__}: {exc}")


def run_status(lang: str, events: list[dict], result: Any = None, error: BaseException | None = None,
               done_text: str = "") -> str:
    """One status line for a streamed job, the same in every widget: the translated error, or
    ``done_text`` when finished, or progress (epoch/step, loss) as it runs."""
    if error is not None:
        return error_message(lang, error)
    if result is not None:
        if isinstance(getattr(result, "end", None), dict) and result.end.get("reason") == "nan":
            return i18n.translate(lang, "runner.nan")
        return done_text or i18n.translate(lang, "runner.done")
    for event in reversed(events):
        if event.get("total_steps"):
            return i18n.translate(lang, "runner.progress_fit", epoch=event["epoch"] + 1,
                                  epochs=event.get("epochs", "?"), step=event["step"],
                                  total=event["total_steps"], loss=f"{event['loss']:.4f}", left="")
        if event.get("kind") == "progress" and event.get("total"):
            return i18n.translate(lang, "runner.progress", done=event["done"], total=event["total"],
                                  text=event.get("text", ""), left="")
    return i18n.translate(lang, "runner.running", seconds="0")
