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
