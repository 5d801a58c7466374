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
