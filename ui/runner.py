"""Training runs that never freeze the page.

A run is a job ``job(stop_event, emit) -> result`` executed in a background thread. The
job calls ``emit(event)`` with metric dicts (``core.train.fit`` events); a fragment that
re-executes every ``interval`` seconds draws them. The thread never calls ``st.*``: it
only appends to ``Run.events`` and sets ``Run.status``/``Run.result``, which the fragment
reads. Because the ``Run`` lives in ``st.session_state`` it survives reruns, other widget
changes and page switches, and the finished result stays until the visitor replaces it.

Pages use one call per training section, :func:`section` (button → queue → progress bar →
Stop → result kept → translated error); app.py calls :func:`adopt_finished` at the top of
every script run so finished results are in place before the page draws.

Server-wide, at most ``MAX_CONCURRENT`` slots train at once (``HERO_MAX_RUNS``); a run takes
one, a distributed run one per process; later ones wait in a FIFO queue and show their
position. A run whose browser session has been gone for ``ORPHAN_SECONDS`` is stopped so it
frees its slot.
"""
from __future__ import annotations

import logging
import os
import threading
import time
import traceback
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Callable

import streamlit as st

from core.device import configure_threads, cpu_quota
from core.errors import HeroError
from ui.i18n import error_text, t

Job = Callable[[threading.Event, Callable[[dict], None]], Any]
log = logging.getLogger(__name__)

QUOTA = cpu_quota()
# One run more than cores: small models leave a core partly idle in Python between kernels. Measured
# on 2 cores, three simultaneous visitors: 3 slots × 1 thread → each 1.9× its solo time; 2 slots → 2.6×.
MAX_CONCURRENT = int(os.environ.get("HERO_MAX_RUNS", 0)) or max(3, QUOTA + 1)
ORPHAN_SECONDS = float(os.environ.get("HERO_ORPHAN_SECONDS", 15))
ACTIVE = ("queued", "running")


@dataclass
class Run:
    key: str
    label: str = ""
    status: str = "queued"          # queued → running → done | stopped | failed | abandoned
    events: list[dict] = field(default_factory=list)
    result: Any = None
    error: HeroError | None = None  # a learner-caused failure, shown translated
    crash: str | None = None        # an unexpected exception (a bug), shown briefly and logged
    queue_position: int | None = None
    slots: int = 1                  # training slots it occupies (a distributed run: one per rank)
    adoption: tuple | None = None   # (state_key, accept, on_result) for adopt_finished, set by section()
    meta: dict = field(default_factory=dict)   # what the page wants to remember about the run (e.g. its settings)
    started: float = field(default_factory=time.monotonic)
    began: float | None = None      # when it got a slot and started training (after any queue)
    finished: float | None = None
    stop_event: threading.Event = field(default_factory=threading.Event)

    @property
    def active(self) -> bool:
        return self.status in ACTIVE

    def stop(self) -> None:
        self.stop_event.set()

    def of_kind(self, kind: str) -> list[dict]:
        return [e for e in list(self.events) if e.get("kind") == kind]

    @property
    def end(self) -> dict:
        ends = self.of_kind("end")
        return ends[-1] if ends else {}


class _Scheduler:
    """FIFO admission of runs into a fixed number of training slots (one per server process)."""

    def __init__(self, slots: int):
        self.slots = slots
        self.cond = threading.Condition()
        self.running: dict[int, int] = {}   # id(run) -> slots it holds
        self.waiting: deque[Run] = deque()

    def _renumber(self) -> None:
        for i, r in enumerate(self.waiting):
            r.queue_position = i + 1

    def acquire(self, run: Run, alive: Callable[[], bool]) -> bool:
        with self.cond:
            self.waiting.append(run)
            self._renumber()
            while True:
                if run.stop_event.is_set() or not alive():
                    self.waiting.remove(run)
                    self._renumber()
                    self.cond.notify_all()
                    return False
                wanted = min(run.slots, self.slots)   # a run bigger than the server gets all of it
                if self.waiting[0] is run and sum(self.running.values()) + wanted <= self.slots:
                    self.waiting.popleft()
                    self.running[id(run)] = wanted
                    run.queue_position = None
                    self._renumber()
                    self.cond.notify_all()
                    return True
                self.cond.wait(timeout=0.5)

    def release(self, run: Run) -> None:
        with self.cond:
            self.running.pop(id(run), None)
            self.cond.notify_all()

    def load(self) -> tuple[int, int]:
        """(runs training now, runs waiting) across the whole server."""
        with self.cond:
            return len(self.running), len(self.waiting)

    def busy_slots(self) -> int:
        with self.cond:
            return sum(self.running.values())


SCHEDULER = _Scheduler(MAX_CONCURRENT)


def thread_share(consumers: int) -> int:
    """Torch threads for each of ``consumers`` at once: the CPU quota shared out, at least 1."""
    return max(1, QUOTA // max(1, consumers))


def apply_thread_share() -> int:
    """Give the calling thread its share of the cores among the runs training now (``HERO_THREADS``
    overrides). Torch's thread count is per OS thread once that thread has computed, so every run
    calls this itself, before its job and again at each event: a visitor alone trains on every
    core (the DCGAN: 0.026 s a step on 2 threads vs 0.033 s on 1, in the server on 2 cores), and
    when a second run starts both drop to their share within an event — more threads than cores
    makes OpenMP threads spin against each other, and small models then train 10–40× slower."""
    return configure_threads(thread_share(SCHEDULER.busy_slots()))   # sets only what differs


def _session_liveness() -> Callable[[], bool]:
    """A thread-safe check that this visitor's browser session still exists (True outside a server)."""
    try:
        from streamlit.runtime import Runtime
        from streamlit.runtime.scriptrunner import get_script_run_ctx
        ctx = get_script_run_ctx()
        if ctx is None or not Runtime.exists():
            return lambda: True
        runtime, session_id = Runtime.instance(), ctx.session_id
    except Exception:  # streamlit internals moved: never stop runs because of that
        return lambda: True
    last_seen = [time.monotonic()]

    def alive() -> bool:
        if runtime.is_active_session(session_id):
            last_seen[0] = time.monotonic()
            return True
        return time.monotonic() - last_seen[0] < ORPHAN_SECONDS  # grace for a reconnecting tab
    return alive


def _runs() -> dict[str, Run]:
    return st.session_state.setdefault("_hero_runs", {})


def get(key: str) -> Run | None:
    return _runs().get(key)


def start(key: str, job: Job, label: str = "", meta: dict | None = None, slots: int = 1,
          adoption: tuple | None = None) -> Run | None:
    """Start ``job`` in the background under ``key``; None if a run with that key is still active.

    ``slots``: how many of the server's training slots the run occupies while it trains (a
    distributed run with N processes passes N, so it waits until N slots are free).
    """
    existing = get(key)
    if existing is not None and existing.active:
        return None
    run = Run(key=key, label=label, meta=dict(meta or {}), slots=max(1, int(slots)), adoption=adoption)
    alive = _session_liveness()

    def emit(event: dict) -> None:
        run.events.append(event)
        apply_thread_share()
        if not alive():
            run.status = "abandoned"
            run.stop_event.set()

    def worker() -> None:
        if not SCHEDULER.acquire(run, alive):
            run.status = "stopped" if run.stop_event.is_set() else "abandoned"
            run.finished = time.monotonic()
            return
        run.status, run.began = "running", time.monotonic()
        try:
            apply_thread_share()
            run.result = job(run.stop_event, emit)
            if run.status == "running":
                run.status = "stopped" if run.stop_event.is_set() else "done"
        except HeroError as err:
            run.error, run.status = err, "failed"
        except Exception as exc:  # a bug: keep the app alive, say what broke, log the traceback
            log.error("training run %s crashed:\n%s", key, traceback.format_exc())
            run.crash, run.status = f"{type(exc).__name__}: {exc}", "failed"
        finally:
            run.finished = time.monotonic()
            SCHEDULER.release(run)

    _runs()[key] = run
    threading.Thread(target=worker, name=f"hero-run-{key}", daemon=True).start()
    return run


def status_line(run: Run) -> None:
    """One line saying where a run stands: queued (with position), running, or how it ended."""
    if run.status == "queued":
        training, waiting = SCHEDULER.load()
        st.info(t("runner.queued", position=run.queue_position or 1, waiting=waiting, running=training),
                icon=":material/hourglass_top:")
    elif run.status == "running":
        progress_bar(run)
    elif run.status == "stopped":
        st.warning(t("runner.stopped"), icon=":material/stop_circle:")
    elif run.status == "abandoned":
        st.warning(t("runner.abandoned"), icon=":material/stop_circle:")
    elif run.status == "failed":
        if run.error is not None:
            st.error(error_text(run.error), icon=":material/error:")
        else:
            st.error(t("runner.crashed", detail=run.crash), icon=":material/bug_report:")
    elif run.end.get("reason") == "nan":
        st.error(t("runner.nan"), icon=":material/warning:")


def stop_button(key: str) -> None:
    run = get(key)
    if run is not None and run.active:
        if st.button(t("runner.stop"), key=f"stop_{key}", icon=":material/stop:"):
            run.stop()


def live(key: str, render: Callable[[Run], None], interval: float = 0.5) -> None:
    """Draw the run under ``key`` with ``render``, refreshing every ``interval`` s while it runs.

    When the run finishes, the whole page reruns once so that widgets depending on the
    result (e.g. "save this model") appear.
    """
    run = get(key)
    if run is None:
        return
    was_active = run.active   # captured now: the Run object itself changes under the fragment

    @st.fragment(run_every=interval if was_active else None)
    def panel() -> None:
        current = get(key)
        if current is None:
            return
        stop_button(key)
        status_line(current)
        render(current)
        seen = st.session_state.setdefault("_hero_runs_drawn_done", set())
        if not current.active and id(current) not in seen:
            seen.add(id(current))
            if was_active:  # it finished while this fragment was polling: refresh the page
                st.rerun()

    panel()


def progress_of(run: Run) -> dict | None:
    """Where a run stands, from its latest event that says so: ``fit`` step events carry
    ``step``/``total_steps``/``epoch``/``epochs``/``loss``; any other job may emit
    ``{"kind": "progress", "done": i, "total": n, "text": "..."}``. Returns the fraction done,
    the seconds left (estimated from the pace so far) and the numbers for the label."""
    for event in reversed(list(run.events)):
        if event.get("total_steps"):
            done, total = event["step"], event["total_steps"]
            break
        if event.get("kind") == "progress" and event.get("total"):
            done, total = event["done"], event["total"]
            break
    else:
        return None
    elapsed = time.monotonic() - (run.began or run.started)
    fraction = min(1.0, done / total) if total else 0.0
    left = elapsed * (1 - fraction) / fraction if fraction > 0 else None
    return {"fraction": fraction, "done": done, "total": total, "elapsed": elapsed, "left": left, "event": event}


def progress_label(info: dict) -> str:
    event = info["event"]
    left = t("runner.eta", seconds=f"{info['left']:.0f}") if info["left"] is not None else ""
    if "total_steps" in event:
        return t("runner.progress_fit", epoch=event["epoch"] + 1, epochs=event.get("epochs", "?"),
                 step=event["step"], total=event["total_steps"], loss=f"{event['loss']:.4f}", left=left)
    return t("runner.progress", done=info["done"], total=info["total"], text=event.get("text", ""), left=left)


def progress_bar(run: Run) -> None:
    """The bar every run shows: epoch/step (or i of n), loss and estimated time left."""
    info = progress_of(run)
    if info is None:
        st.caption(t("runner.running", seconds=f"{time.monotonic() - (run.began or run.started):.1f}"))
        return
    st.progress(info["fraction"], text=progress_label(info))


def section(key: str, job: Job, *, button: str, render: Callable[[Run], None] | None = None,
            state_key: str | None = None, accept: Callable[[Any], bool] = lambda result: True,
            on_result: Callable[[Any], None] | None = None, meta: dict | None = None, label: str = "",
            icon: str = ":material/play_arrow:", primary: bool = True, disabled: bool = False,
            interval: float = 0.5, slots: int = 1) -> Any:
    """One training section, the whole sequence: button → queue position → streamed progress
    (bar with epoch/step, loss, time left, then ``render(run)`` for the page's own charts) →
    Stop → result kept in ``st.session_state[state_key]`` → translated error.

    ``job(stop_event, emit)`` runs only when the button is pressed. ``accept(result)`` decides
    whether a finished result replaces the kept one (a NaN run keeps the previous model, and
    the page says so); ``on_result(result)`` runs once per adopted result (e.g. put the model
    on the shelf); ``slots`` as in :func:`start`. Returns the kept result, or None before the first one.
    """
    state_key = state_key or f"{key}_result"
    if st.button(button, key=f"start_{key}", icon=icon, type="primary" if primary else "secondary",
                 disabled=disabled):
        if start(key, job, label=label, meta=meta, slots=slots, adoption=(state_key, accept, on_result)) is None:
            st.warning(t("runner.already_running"), icon=":material/hourglass_top:")
    live(key, render or (lambda run: None), interval=interval)
    adopt_finished()   # app.py already did at the top of this run; this covers pages run without it
    run = get(key)
    if run is not None and run.meta.get("_refused") and st.session_state.get(state_key) is not None:
        st.info(t("runner.kept_previous"), icon=":material/undo:")
    return st.session_state.get(state_key)


def adopt_finished() -> None:
    """Keep the result of every finished ``section`` run, once per run: into its ``state_key``
    if ``accept`` takes it (then ``on_result``), else marked refused so the page can say so.

    app.py calls this at the top of every script run, before the page draws: everything on the
    page sees the new result without a second rerun (a rerun would drop a button click made in
    the same run).
    """
    seen = st.session_state.setdefault("_hero_runs_adopted", {})
    for key, run in list(_runs().items()):
        if run.adoption is None or run.active or run.result is None or seen.get(key) is run:
            continue
        seen[key] = run
        state_key, accept, on_result = run.adoption
        if accept(run.result):
            st.session_state[state_key] = run.result
            if on_result is not None:
                on_result(run.result)
        else:
            run.meta["_refused"] = True
