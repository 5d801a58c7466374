"""Runs the error guide's own snippet files in one Python process and reports each outcome as JSON.

Started by ``errors_guide.run_snippets`` as ``python -P harness.py OUT TIMEOUT file.py...`` (``-P``:
this folder holds a ``math.py``, which must not shadow the standard library). Only files the guide
wrote from its own snippet text are run — never text a visitor typed. Standard library only, and
nothing happens on import (``core.lessons.load_all`` imports every lesson module).
"""
from __future__ import annotations

import contextlib
import io
import json
import os
import re
import runpy
import signal
import sys
import time
import traceback


class SnippetTimeout(Exception):
    """A snippet ran past its time budget."""


def _alarm(signum, frame):
    raise SnippetTimeout("the snippet ran past its time limit")


_ANSI = re.compile(r"\x1b\[[0-9;]*m")   # torch colours some messages for terminals


def _short(path: str) -> str:
    """Library paths shortened to what a learner can look up (``site-packages/torch/...``)."""
    marker = "site-packages" + os.sep
    return path[path.index(marker):] if marker in path else os.path.basename(path)


def _traceback(exc: BaseException, snippet: str) -> str:
    """The traceback from the snippet's own frame on (the harness and runpy frames dropped)."""
    frames = traceback.extract_tb(exc.__traceback__)
    start = next((i for i, f in enumerate(frames) if f.filename == snippet), 0)
    kept = traceback.StackSummary.from_list(frames[start:])
    for frame in kept:
        frame.filename = _short(frame.filename)
    head = "Traceback (most recent call last):\n"
    return head + "".join(kept.format()) + "".join(traceback.format_exception_only(type(exc), exc))


def run_one(path: str, timeout: float) -> dict:
    out = io.StringIO()
    began = time.perf_counter()
    result = {"file": os.path.basename(path), "ok": True, "type": None, "module": None, "mro": [],
              "message": "", "traceback": "", "timed_out": False}
    signal.signal(signal.SIGALRM, _alarm)
    signal.setitimer(signal.ITIMER_REAL, timeout)
    try:
        with contextlib.redirect_stdout(out):
            runpy.run_path(path, run_name="__main__")
    except SnippetTimeout as exc:
        result.update(ok=False, timed_out=True, type="TimeoutError", mro=["TimeoutError"], message=str(exc))
    except BaseException as exc:   # the snippet's error is the result we report
        kind = type(exc)
        result.update(ok=False, type=kind.__qualname__, module=kind.__module__,
                      mro=[k.__qualname__ for k in kind.__mro__], message=_ANSI.sub("", str(exc)),
                      traceback=_ANSI.sub("", _traceback(exc, path)))
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
    result["stdout"] = out.getvalue()[-4000:]
    result["seconds"] = time.perf_counter() - began
    return result


def warm_up() -> None:
    """Import torch and the parts the snippets touch first (the meta device pulls in torch's Python
    meta registrations, ~5 s on a busy machine): paid before a job arrives when waiting as a spare."""
    import torch
    import torch.utils.data  # noqa: F401
    torch.set_num_threads(1)
    torch.empty(2, device="meta") + 1


def run_job(out_path: str, timeout: float, files: list[str]) -> None:
    results = []
    for path in files:
        results.append(run_one(path, timeout))
        with open(out_path, "w") as f:        # rewritten after each snippet: a kill keeps the finished ones
            json.dump(results, f)


def main(argv: list[str]) -> None:
    """``harness.py OUT TIMEOUT file...`` runs now; ``harness.py --wait`` warms up, then reads one job
    (a JSON object: out, timeout, cwd, files) from stdin, runs it and exits — end of input: exits."""
    warm_up()
    if argv[:1] == ["--wait"]:
        line = sys.stdin.readline()
        if not line.strip():
            return                             # the parent went away without a job
        job = json.loads(line)
        os.chdir(job["cwd"])
        run_job(job["out"], float(job["timeout"]), job["files"])
    else:
        run_job(argv[0], float(argv[1]), argv[2:])


if __name__ == "__main__":
    main(sys.argv[1:])
    # Skip the interpreter's teardown: with torch loaded it takes seconds on a busy machine, and the
    # results file is already closed (the parent waits for this process to exit).
    os._exit(0)
