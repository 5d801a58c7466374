"""Process mechanics for chapter 14: real ``torch.distributed`` ranks that belong to a run.

``Gang(fn, world_size, args)`` starts ``world_size`` fresh interpreters (what the spawn start
method does, minus re-importing the parent's ``__main__``, which under Streamlit is the whole app),
each of which reads the same environment ``torchrun`` sets (RANK, WORLD_SIZE, LOCAL_RANK,
MASTER_ADDR, MASTER_PORT), joins a process group (gloo on CPU, NCCL when every rank has a GPU) with
a timeout on every collective, and calls ``fn(ctx, *args)`` (``fn`` must be importable: module
level). ``ctx.emit(event)`` streams an event back to the parent through the rank's own pipe
(length-prefixed pickles); ``gang.run(stop, emit)`` forwards them while the ranks
run, returns each rank's result, and kills every rank when it returns — finished, stopped, crashed
or timed out. A rank that dies (killed, segfault, exception) is reported as a ``HeroError`` naming
the rank, never a hang.

Processes never outlive their run:
- ``run`` kills the gang in ``finally`` (Stop, errors, the visitor leaving: the runner sets stop);
- each rank asks the kernel to SIGKILL it when its parent dies (``PR_SET_PDEATHSIG``);
- an ``atexit`` hook kills every gang and every ``torchrun`` process group still alive.

Known trap (DESIGN.md): DDP with gloo can abort at exit, so each rank ends with
``barrier(); destroy_process_group(); os._exit(code)``.
"""
from __future__ import annotations

import atexit
import ctypes
import json
import os
import pickle
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
import traceback
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Callable, Iterator

from core.device import cpu_quota
from core.errors import Emit, HeroError

_LIVE: set = set()          # gangs and torchrun launches alive in this process (killed at exit)
_LOCK = threading.Lock()


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now (the OS picks it; rendezvous only listens locally)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def backend_for(device: str, world_size: int) -> str:
    """NCCL when the run is on CUDA and every rank gets its own GPU, else gloo (CPU)."""
    import torch
    if device == "cuda" and torch.cuda.is_available() and torch.cuda.device_count() >= world_size:
        return "nccl"
    return "gloo"


def max_world_size() -> int:
    """Most ranks this machine may run at once: two per CPU of the quota (beyond that every rank
    waits for a core and the run only measures the scheduler), or one per GPU if more."""
    import torch
    gpus = torch.cuda.device_count() if torch.cuda.is_available() else 0
    return max(cpu_quota() * 2, gpus)


def check_world_size(world_size: int) -> int:
    limit = max_world_size()
    if not isinstance(world_size, int) or world_size < 1 or world_size > limit:
        raise HeroError("ch14.world_size", n=world_size, max=limit, cores=cpu_quota())
    return world_size


def _die_with_parent() -> None:
    """Ask Linux to SIGKILL this process when its parent dies (no orphans if the server is killed)."""
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)   # 1 = PR_SET_PDEATHSIG
    except (OSError, AttributeError):   # not Linux: the atexit hook and run's finally still apply
        pass


class _Pipe:
    """The rank's end of its event pipe: length-prefixed plain pickles (tensors travel by value)."""

    def __init__(self, fd: int):
        self.file = os.fdopen(fd, "wb", buffering=0)
        self.lock = threading.Lock()

    def put(self, event: dict) -> None:
        data = pickle.dumps(event)
        with self.lock:
            self.file.write(len(data).to_bytes(8, "little") + data)


@dataclass
class Context:
    """What a rank's function sees: its place in the group and a way to talk to the page."""
    rank: int
    world_size: int
    backend: str
    device: str        # "cpu" or "cuda:<local rank>"
    timeout_s: float
    _pipe: Any = None

    def emit(self, event: dict) -> None:
        self._pipe.put({**event, "rank": self.rank})


# The command each rank runs: a fresh interpreter (what the spawn start method does) that imports
# nothing of the parent's __main__ — under Streamlit that would be the whole app — unless this
# code itself lives in __main__ (a take-home script), which the rank then loads as a module.
_CHILD = """import sys
sys.path[:0] = {path!r}
if {module!r} == "__main__":
    import importlib.util
    spec = importlib.util.spec_from_file_location("__mp_main__", {main!r})
    main = importlib.util.module_from_spec(spec)
    sys.modules["__mp_main__"] = sys.modules["__main__"] = main
    spec.loader.exec_module(main)
    getattr(main, {entry!r})()
else:
    import importlib
    getattr(importlib.import_module({module!r}), {entry!r})()
"""


def _load_main(path: str) -> None:
    """Import the parent's script as ``__main__`` (its ``if __name__`` block does not run) so that
    functions defined there unpickle, as multiprocessing's spawn does."""
    import importlib.util
    spec = importlib.util.spec_from_file_location("__mp_main__", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules["__mp_main__"] = sys.modules["__main__"] = module
    spec.loader.exec_module(module)


def _rank_main() -> None:
    """Entry point of every rank: read the job from stdin, join the group, run, report, exit.

    Known trap (gloo aborts in its exit handlers): barrier, destroy_process_group, os._exit."""
    _die_with_parent()
    header = pickle.loads(sys.stdin.buffer.read())
    rank, world_size, port, backend = header["rank"], header["world_size"], header["port"], header["backend"]
    pipe = _Pipe(header["fd"])
    os.environ.update({"RANK": str(rank), "WORLD_SIZE": str(world_size), "LOCAL_RANK": str(rank),
                       "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port)})
    code = 0
    try:
        import torch
        import torch.distributed as dist
        torch.set_num_threads(header["threads"])
        if header["main"] and getattr(sys.modules["__main__"], "__file__", None) != header["main"]:
            _load_main(header["main"])
        fn, args = pickle.loads(header["job"])
        device = "cpu"
        if backend == "nccl":
            torch.cuda.set_device(rank)
            device = f"cuda:{rank}"
        # env:// reads the variables above, exactly as under torchrun; the timeout bounds every collective
        dist.init_process_group(backend, timeout=timedelta(seconds=header["timeout_s"]))
        result = fn(Context(rank, world_size, backend, device, header["timeout_s"], pipe), *args)
        dist.barrier()
        dist.destroy_process_group()
        pipe.put({"kind": "__done__", "rank": rank, "result": result})
    except HeroError as err:
        pipe.put({"kind": "__error__", "rank": rank, "hero": (err.code, err.params)})
        code = 1
    except BaseException as exc:  # reported to the parent, which names the rank
        pipe.put({"kind": "__error__", "rank": rank, "error": f"{type(exc).__name__}: {exc}"[:500],
                  "trace": traceback.format_exc()[-3000:]})
        code = 1
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def _read_events(rank: int, fd: int, inbox: queue.Queue) -> None:
    """Parent side of one rank's pipe: each framed event into ``inbox``; ``__eof__`` when it closes."""
    with os.fdopen(fd, "rb", buffering=0) as f:
        while True:
            head = f.read(8)
            if len(head) < 8:
                break
            size, data = int.from_bytes(head, "little"), b""
            while len(data) < size:
                chunk = f.read(size - len(data))
                if not chunk:
                    break
                data += chunk
            if len(data) < size:
                break
            inbox.put(pickle.loads(data))
    inbox.put({"kind": "__eof__", "rank": rank})


class Gang:
    """``world_size`` ranks running ``fn(ctx, *args)``; see the module docstring."""

    def __init__(self, fn: Callable, world_size: int, args: tuple = (), *, device: str = "cpu",
                 timeout_s: float = 30.0, threads: int = 1):
        check_world_size(world_size)
        self.world_size, self.backend = world_size, backend_for(device, world_size)
        self.port = free_port()
        job = pickle.dumps((fn, args))
        main_file = getattr(sys.modules["__main__"], "__file__", None)
        main = main_file if fn.__module__ == "__main__" else None
        self.queue: queue.Queue = queue.Queue()
        self.started = time.monotonic()
        self.procs: list[subprocess.Popen] = []
        with _LOCK:
            _LIVE.add(self)
        command = [sys.executable, "-c", _CHILD.format(path=[p for p in sys.path if p], main=main_file,
                                                       module=_rank_main.__module__, entry=_rank_main.__name__)]
        env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
        for rank in range(world_size):
            read_fd, write_fd = os.pipe()
            try:
                proc = subprocess.Popen(command, stdin=subprocess.PIPE, pass_fds=(write_fd,), env=env)
            finally:
                os.close(write_fd)
            self.procs.append(proc)
            threading.Thread(target=_read_events, args=(rank, read_fd, self.queue), daemon=True).start()
            header = {"rank": rank, "world_size": world_size, "port": self.port, "backend": self.backend,
                      "timeout_s": timeout_s, "threads": threads, "fd": write_fd, "job": job, "main": main}
            try:
                proc.stdin.write(pickle.dumps(header))
                proc.stdin.close()
            except BrokenPipeError:   # it died at once: run() reports its exit code
                pass

    @property
    def pids(self) -> list[int]:
        return [p.pid for p in self.procs]

    def alive(self) -> list[bool]:
        return [p.poll() is None for p in self.procs]

    def kill(self) -> None:
        """SIGKILL every rank still alive and reap them all (idempotent)."""
        for p in self.procs:
            if p.poll() is None:
                p.kill()
        for p in self.procs:
            try:
                p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
        with _LOCK:
            _LIVE.discard(self)

    def _crashed(self, done: dict) -> tuple[int, int] | None:
        for r, p in enumerate(self.procs):
            if r not in done and p.poll() not in (None, 0):
                return r, p.returncode
        return None

    def run(self, stop: threading.Event | None = None, emit: Emit | None = None,
            timeout_s: float = 60.0) -> list | None:
        """Forward every event to ``emit`` until each rank returned; each rank's result by rank.

        None when ``stop`` was set. ``timeout_s``: most seconds without any event before the run is
        declared stuck. Always kills the ranks before returning or raising."""
        done: dict[int, Any] = {}
        last = time.monotonic()
        try:
            while len(done) < self.world_size:
                if stop is not None and stop.is_set():
                    return None
                try:
                    event = self.queue.get(timeout=0.1)
                except queue.Empty:
                    crash = self._crashed(done)
                    if crash is not None:
                        try:       # its own last words may still be in the pipe
                            event = self.queue.get(timeout=0.5)
                        except queue.Empty:
                            raise HeroError("ch14.worker_died", rank=crash[0], exit_code=crash[1]) from None
                    elif time.monotonic() - last > timeout_s:
                        raise HeroError("ch14.timeout", seconds=int(timeout_s))
                    else:
                        continue
                last = time.monotonic()
                kind = event.get("kind")
                if kind == "__eof__":
                    continue
                if kind == "__done__":
                    done[event["rank"]] = event["result"]
                elif kind == "__error__":
                    if "hero" in event:
                        code, params = event["hero"]
                        raise HeroError(code, **params)
                    raise HeroError("ch14.worker_failed", rank=event["rank"], detail=event["error"])
                elif emit is not None:
                    emit(event)
            return [done[r] for r in range(self.world_size)]
        finally:
            self.kill()


def run_ranks(fn: Callable, world_size: int, args: tuple = (), *, stop: threading.Event | None = None,
              emit: Emit | None = None, device: str = "cpu", timeout_s: float = 60.0) -> list | None:
    """Spawn, stream, collect, kill: ``Gang(fn, world_size, args).run(stop, emit)``."""
    return Gang(fn, world_size, args, device=device, timeout_s=min(timeout_s, 120.0)).run(stop, emit, timeout_s)


# --- torchrun ------------------------------------------------------------------------------------

class Launch:
    """A ``python -m torch.distributed.run`` launch: the agent in a session of its own, its workers
    (found as its descendants, or adopted by pid from what they print) killed with it."""

    def __init__(self, script: str, nproc: int, *, max_restarts: int = 0, cwd: str | None = None,
                 script_args: tuple[str, ...] = (), env: dict | None = None):
        check_world_size(nproc)
        self.cmd = [sys.executable, "-m", "torch.distributed.run", "--nnodes=1", f"--nproc_per_node={nproc}",
                    f"--max-restarts={max_restarts}", "--rdzv-backend=c10d",
                    f"--rdzv-endpoint=127.0.0.1:{free_port()}", "--monitor-interval=0.2", script, *script_args]
        # TORCH_DISABLE_SHARE_RDZV_TCP_STORE: the workers' process group gets a store of its own instead
        # of sharing the agent's; sharing it, the group restarted after a kill hung here in gloo's
        # init now and then (seen 2 times in 5 here), with it 3 restarts in 3 came back.
        full_env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1",
                    "TORCH_DISABLE_SHARE_RDZV_TCP_STORE": "1", **(env or {})}
        self.proc = subprocess.Popen(self.cmd, cwd=cwd, env=full_env, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True, bufsize=1, start_new_session=True)
        self.started = time.monotonic()
        self.script = script
        self.worker_pids: set[int] = set()
        with _LOCK:
            _LIVE.add(self)

    def adopt(self, pid: int) -> None:
        """Remember a worker's pid, so it is killed even if the agent died and left it orphaned."""
        self.worker_pids.add(int(pid))

    def descendants(self) -> list:
        import psutil
        try:
            return psutil.Process(self.proc.pid).children(recursive=True)
        except psutil.NoSuchProcess:
            return []

    def kill(self) -> None:
        """SIGKILL the agent and every worker, then reap the agent. torchrun starts each worker in
        a session of its own, so killing the agent's process group is not enough: the workers are
        found (psutil) and killed first, while the agent still is their parent."""
        import psutil
        workers = self.descendants()
        for pid in self.worker_pids:
            try:
                proc = psutil.Process(pid)
                if any(self.script in part for part in proc.cmdline()):   # not a reused pid
                    workers.append(proc)
            except psutil.Error:
                pass
        for child in workers:
            try:
                child.kill()
            except psutil.NoSuchProcess:
                pass
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        with _LOCK:
            _LIVE.discard(self)

    def lines(self, stop: threading.Event | None = None, timeout_s: float = 120.0) -> Iterator[str]:
        """Each output line as it comes (a reader thread, so Stop and the timeout stay responsive);
        ``timeout_s``: most seconds without a line before the launch counts as stuck."""
        inbox: queue.Queue = queue.Queue()

        def pump():
            try:
                for line in self.proc.stdout:
                    inbox.put(line.rstrip("\n"))
            except ValueError:   # killed: kill() closed the pipe under us
                pass
            inbox.put(None)

        threading.Thread(target=pump, daemon=True).start()
        last = time.monotonic()
        while True:
            if stop is not None and stop.is_set():
                return
            if time.monotonic() - last > timeout_s:
                raise HeroError("ch14.timeout", seconds=int(timeout_s))
            try:
                line = inbox.get(timeout=0.1)
            except queue.Empty:
                if self.proc.poll() is not None and time.monotonic() - last > 2:
                    return     # the agent is gone; a stray worker may still hold the pipe open
                continue
            if line is None:
                return
            last = time.monotonic()
            yield line


def parse_event(line: str) -> dict | None:
    """A JSON event line printed by a generated script (``{"kind": ...}``), else None."""
    if line.startswith("{") and '"kind"' in line:
        try:
            return json.loads(line)
        except ValueError:
            return None
    return None


@atexit.register
def _kill_all() -> None:
    with _LOCK:
        live = list(_LIVE)
    for item in live:
        try:
            item.kill()
        except Exception:   # exiting anyway: never mask the real exit
            pass
