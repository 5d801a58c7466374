"""The server-wide training queue: bounded slots, FIFO order, positions, and giving up on the gone."""
import threading
import time

from ui.runner import Run, _Scheduler


def wait_until(predicate, timeout=5.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.01)


def test_slots_fifo_and_queue_positions():
    sched = _Scheduler(slots=1)
    runs = [Run(key=f"r{i}") for i in range(3)]
    order, gates = [], {r.key: threading.Event() for r in runs}

    def worker(run):
        assert sched.acquire(run, lambda: True)
        order.append(run.key)
        gates[run.key].wait(5)
        sched.release(run)

    threads = []
    for run in runs:
        threads.append(threading.Thread(target=worker, args=(run,)))
        threads[-1].start()
        wait_until(lambda r=run: r.key in order or r.queue_position is not None)
    assert order == ["r0"]
    assert (runs[1].queue_position, runs[2].queue_position) == (1, 2)
    assert sched.load() == (1, 2)
    gates["r0"].set()
    wait_until(lambda: order == ["r0", "r1"])
    assert runs[2].queue_position == 1
    gates["r1"].set()
    gates["r2"].set()
    for t in threads:
        t.join(5)
    assert order == ["r0", "r1", "r2"] and sched.load() == (0, 0)


def test_two_slots_run_concurrently():
    sched = _Scheduler(slots=2)
    a, b = Run(key="a"), Run(key="b")
    assert sched.acquire(a, lambda: True) and sched.acquire(b, lambda: True)
    assert sched.load() == (2, 0)
    sched.release(a)
    sched.release(b)


def test_stopped_or_abandoned_runs_leave_the_queue():
    sched = _Scheduler(slots=1)
    holder = Run(key="holder")
    assert sched.acquire(holder, lambda: True)
    stopped, gone = Run(key="stopped"), Run(key="gone")
    alive = {"gone": True}
    results = {}
    t1 = threading.Thread(target=lambda: results.__setitem__("stopped", sched.acquire(stopped, lambda: True)))
    t2 = threading.Thread(target=lambda: results.__setitem__("gone", sched.acquire(gone, lambda: alive["gone"])))
    t1.start()
    t2.start()
    wait_until(lambda: sched.load() == (1, 2))
    stopped.stop()
    alive["gone"] = False     # the visitor closed the tab
    t1.join(5)
    t2.join(5)
    assert results == {"stopped": False, "gone": False}
    assert sched.load() == (1, 0)
    sched.release(holder)


def test_a_run_can_hold_several_slots():
    """A distributed run with N processes waits until N slots are free, and holds all of them."""
    sched = _Scheduler(slots=3)
    small = Run(key="small")
    assert sched.acquire(small, lambda: True)
    ddp = Run(key="ddp", slots=3)
    got = {}
    t = threading.Thread(target=lambda: got.__setitem__("ddp", sched.acquire(ddp, lambda: True)))
    t.start()
    wait_until(lambda: ddp.queue_position == 1)
    assert sched.busy_slots() == 1 and "ddp" not in got     # 1 + 3 > 3: it waits
    sched.release(small)
    t.join(5)
    assert got == {"ddp": True} and sched.busy_slots() == 3
    late = Run(key="late")
    t2 = threading.Thread(target=lambda: got.__setitem__("late", sched.acquire(late, lambda: True)))
    t2.start()
    wait_until(lambda: late.queue_position == 1)
    sched.release(ddp)
    t2.join(5)
    assert got["late"] and sched.busy_slots() == 1
    sched.release(late)
    huge = Run(key="huge", slots=10)       # bigger than the server: gets every slot rather than waiting forever
    assert sched.acquire(huge, lambda: True) and sched.busy_slots() == 3
    sched.release(huge)


def test_progress_of_fit_and_generic_events():
    from ui.runner import progress_of
    run = Run(key="p")
    run.began = time.monotonic() - 10.0
    assert progress_of(run) is None
    run.events.append({"kind": "step", "step": 25, "total_steps": 100, "epoch": 0, "epochs": 4, "loss": 0.5})
    info = progress_of(run)
    assert info["fraction"] == 0.25 and 29 < info["left"] < 31      # 10 s for a quarter → ~30 s left
    run.events.append({"kind": "progress", "done": 3, "total": 4, "text": "trial"})
    assert progress_of(run)["fraction"] == 0.75


def test_runs_share_the_cores_and_a_lone_run_gets_them_all(monkeypatch):
    """Each run sets its own torch thread count (it is per OS thread): the quota while it trains
    alone, half of it each while two train, and back to all once the other has finished."""
    import torch

    from ui import runner
    monkeypatch.delenv("HERO_THREADS", raising=False)
    monkeypatch.setattr(runner, "QUOTA", 4)
    sched = _Scheduler(slots=3)
    monkeypatch.setattr(runner, "SCHEDULER", sched)
    seen, go = {}, {k: threading.Event() for k in ("a1", "a2", "b1", "b_done", "a3")}

    def worker(run, marks):
        assert sched.acquire(run, lambda: True)
        for mark in marks:           # what a run does at each event: take its share, then compute
            go[mark].wait(5)
            runner.apply_thread_share()
            seen[mark] = torch.get_num_threads()
        if run.key == "b":
            go["b_done"].wait(5)
        sched.release(run)

    a = threading.Thread(target=worker, args=(Run(key="a"), ["a1", "a2", "a3"]))
    a.start()
    go["a1"].set()
    wait_until(lambda: "a1" in seen)
    b = threading.Thread(target=worker, args=(Run(key="b"), ["b1"]))
    b.start()
    wait_until(lambda: sched.load()[0] == 2)
    go["a2"].set(), go["b1"].set()
    wait_until(lambda: "a2" in seen and "b1" in seen)
    go["b_done"].set()
    b.join(5)
    go["a3"].set()
    a.join(5)
    assert seen == {"a1": 4, "a2": 2, "b1": 2, "a3": 4}, seen
    assert runner.thread_share(runner.SCHEDULER.busy_slots() + 1) == 4   # the page alone: every core
