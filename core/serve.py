"""Serving: a FastAPI + uvicorn process that answers with ONNX Runtime, and the handle that owns it.

The server is the standalone script ``serve.py`` (``script_text()``): the page writes it and the
model into a temporary folder and runs ``python serve.py model.onnx --port P`` as a separate
process in its own process group, listening on 127.0.0.1 only. What a visitor downloads is
that very file. Endpoints:

- ``GET /health`` → ``{"status": "ok"}`` (no token: load balancers probe it)
- ``GET /metadata`` → model sha256, version, input/output shapes, limits (token)
- ``POST /predict`` → ``{"inputs": [[...]]}`` (floats, [B, S·S] or [B, 1, S, S]) or
  ``{"image_base64": "..."}`` (a PNG/JPEG) → predictions and probabilities (token)

Every refusal is JSON ``{"error": code, "detail": message}``: 401 without the bearer token,
413 over the size limit (checked before the body is read), 422 for malformed input.

``start_server`` returns a ``ServerHandle``; ``stop()`` ends the whole process group. Handles
still alive at interpreter exit are stopped by an ``atexit`` hook, so no server outlives the app.
"""
from __future__ import annotations

import atexit
import http.client
import inspect
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np

from core.errors import HeroError

DEFAULT_MAX_BYTES = 256 * 1024     # a batch of 64 MNIST images as JSON floats fits; a flood does not
START_TIMEOUT = 30.0               # seconds for the process to import onnxruntime + uvicorn and answer /health


# ---- the standalone server (copied verbatim into serve.py; stdlib + numpy + onnxruntime + fastapi) ----

def json_error(status: int, code: str, detail: str):
    """A refusal as JSON: ``{"error": code, "detail": detail}`` with HTTP ``status``."""
    from fastapi.responses import JSONResponse
    return JSONResponse({"error": code, "detail": detail}, status_code=status)


def create_app(model_bytes: bytes, token: str, max_bytes: int = 262144, meta: dict | None = None):
    """The FastAPI app serving ``model_bytes`` (ONNX) with ONNX Runtime on one thread.

    Routes are plain Starlette endpoints (``request`` in, response out) so every check —
    token, size, JSON shape — is explicit here and answers with our own JSON message.
    """
    import base64
    import hashlib
    import hmac
    import io
    import time as clock

    import numpy
    import onnxruntime as ort
    from fastapi import FastAPI
    from fastapi.responses import JSONResponse

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    session = ort.InferenceSession(model_bytes, options, providers=["CPUExecutionProvider"])
    model_input = session.get_inputs()[0]
    feature_shape = [d if isinstance(d, int) else -1 for d in model_input.shape[1:]]   # e.g. [1, 8, 8]
    n_features = int(numpy.prod([d for d in feature_shape if d > 0]))
    side = int(round((n_features) ** 0.5))
    sha = hashlib.sha256(model_bytes).hexdigest()
    metadata = {"model_sha256": sha, "version": "v-" + sha[:12], "runtime": f"onnxruntime {ort.__version__}",
                "input": {"name": model_input.name, "shape": [str(d) for d in model_input.shape]},
                "output": {"name": session.get_outputs()[0].name,
                           "shape": [str(d) for d in session.get_outputs()[0].shape]},
                "max_request_bytes": max_bytes, "started": clock.strftime("%Y-%m-%dT%H:%M:%SZ", clock.gmtime()),
                **(meta or {})}
    app = FastAPI(title="digits classifier", version=metadata["version"])

    def authorised(request) -> bool:
        given = request.headers.get("authorization", "")
        return hmac.compare_digest(given.encode(), f"Bearer {token}".encode())

    async def health(request):
        return JSONResponse({"status": "ok", "version": metadata["version"]})

    async def describe(request):
        if not authorised(request):
            return json_error(401, "unauthorized", "send the header 'Authorization: Bearer <token>'")
        return JSONResponse(metadata)

    async def predict(request):
        if not authorised(request):
            return json_error(401, "unauthorized", "send the header 'Authorization: Bearer <token>'")
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > max_bytes:
            return json_error(413, "too_large", f"request body is {declared} bytes; the limit is {max_bytes}")
        body = b""
        async for chunk in request.stream():    # chunked uploads carry no length: count as we read
            body += chunk
            if len(body) > max_bytes:
                return json_error(413, "too_large", f"request body exceeds {max_bytes} bytes")
        try:
            payload = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            return json_error(422, "bad_json", "the body is not valid JSON")
        if not isinstance(payload, dict) or ("inputs" not in payload and "image_base64" not in payload):
            return json_error(422, "missing_inputs", 'send {"inputs": [[...floats...]]} or {"image_base64": "..."}')
        if "image_base64" in payload:
            try:
                from PIL import Image
                image = Image.open(io.BytesIO(base64.b64decode(payload["image_base64"], validate=True)))
                if image.width * image.height > 4096 * 4096:
                    return json_error(422, "bad_image", "the image is larger than 4096×4096 pixels")
                grey = numpy.asarray(image.convert("L").resize((side, side)), dtype=numpy.float32) / 255.0
            except Exception:
                return json_error(422, "bad_image", "image_base64 is not a base64-encoded PNG or JPEG")
            if grey.mean() > 0.5:                  # dark ink on white paper: the digits are light on dark
                grey = 1.0 - grey
            batch = grey.reshape(1, -1)
        else:
            try:
                batch = numpy.asarray(payload["inputs"], dtype=numpy.float32)
            except (ValueError, TypeError):
                return json_error(422, "bad_inputs", "inputs must be a list of lists of numbers of equal length")
            if batch.ndim == 1:
                batch = batch[None]
            if batch.ndim < 2 or batch.shape[0] == 0 or batch[0].size != n_features:
                return json_error(422, "bad_shape", f"each input must hold {n_features} numbers "
                                  f"(shape {feature_shape}); got shape {list(batch.shape)}")
            if not numpy.isfinite(batch).all():
                return json_error(422, "not_finite", "inputs contain NaN or infinity")
        if batch.shape[0] > 256:
            return json_error(422, "batch_too_big", f"at most 256 inputs per request; got {batch.shape[0]}")
        start = clock.perf_counter()
        logits = session.run(None, {model_input.name: batch.reshape(batch.shape[0], *feature_shape)})[0]
        shifted = numpy.exp(logits - logits.max(1, keepdims=True))
        probs = shifted / shifted.sum(1, keepdims=True)
        return JSONResponse({"predictions": logits.argmax(1).tolist(), "probabilities": probs.round(5).tolist(),
                             "version": metadata["version"],
                             "inference_ms": round((clock.perf_counter() - start) * 1000, 3)})

    app.router.add_route("/health", health, methods=["GET"])
    app.router.add_route("/metadata", describe, methods=["GET"])
    app.router.add_route("/predict", predict, methods=["POST"])
    return app


def fallback_model_bytes() -> bytes:
    """No model file given: export a small untrained 8×8 digits CNN so the server can still start."""
    import torch
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Conv2d(1, 8, 3, padding=1), torch.nn.ReLU(), torch.nn.Flatten(),
                              torch.nn.Linear(8 * 64, 10)).eval()
    folder = tempfile.mkdtemp()
    path = os.path.join(folder, "fallback.onnx")
    batch = torch.export.Dim("batch", min=1, max=4096)
    torch.onnx.export(net, (torch.rand(2, 1, 8, 8),), path, dynamo=True, external_data=False,
                      dynamic_shapes={"input": {0: batch}}, input_names=["x"], output_names=["logits"])
    with open(path, "rb") as f:
        return f.read()


def serve_main(argv: list[str] | None = None) -> int:
    """``python serve.py model.onnx [--port 8000] [--max-bytes N]``; the token comes from
    ``SERVE_TOKEN`` (or is generated and printed). With ``HERO_TINY=1`` it starts, sends itself
    one request, prints the answer and exits 0 (a self-test)."""
    import argparse
    import threading as threads
    import urllib.request

    import uvicorn
    parser = argparse.ArgumentParser(description="Serve an ONNX digits classifier over HTTP on 127.0.0.1.")
    parser.add_argument("model", nargs="?", default="model.onnx", help="the .onnx file to serve")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--max-bytes", type=int, default=262144, help="largest request body accepted")
    args = parser.parse_args(argv)
    token = os.environ.get("SERVE_TOKEN") or secrets.token_urlsafe(24)
    if os.path.exists(args.model):
        with open(args.model, "rb") as f:
            model_bytes = f.read()
    else:
        print(f"{args.model} not found: serving a small untrained stand-in model instead")
        model_bytes = fallback_model_bytes()
    app = create_app(model_bytes, token, args.max_bytes, {"file": os.path.basename(args.model)})
    parent = os.environ.get("SERVE_PARENT_PID")
    if parent:                                # started by an app: never outlive it, even if it is killed
        def watchdog() -> None:
            while os.getppid() == int(parent):
                time.sleep(0.5)
            os._exit(0)
        threads.Thread(target=watchdog, daemon=True).start()
    self_test = os.environ.get("HERO_TINY") == "1"
    port = args.port
    if self_test:
        with socket.socket() as probe:       # any free port for the self-test
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)
    server = uvicorn.Server(config)
    if not self_test:
        print(f"serving {args.model} on http://127.0.0.1:{port}  (token: {token if not os.environ.get('SERVE_TOKEN') else 'from SERVE_TOKEN'})",
              flush=True)
        server.run()
        return 0
    worker = threads.Thread(target=server.run, daemon=True)
    worker.start()
    while not server.started:
        time.sleep(0.05)
    body = json.dumps({"inputs": [[0.5] * 64]}).encode()
    request = urllib.request.Request(f"http://127.0.0.1:{port}/predict", data=body, method="POST",
                                     headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        print("self-test /predict →", response.status, response.read().decode()[:200])
    server.should_exit = True
    worker.join(timeout=10)
    return 0


SCRIPT_HEADER = '''"""A standalone server for an ONNX digits classifier (generated by PyTorch Zero to Hero).

    pip install onnxruntime fastapi uvicorn numpy pillow
    SERVE_TOKEN=secret python serve.py model.onnx --port 8000
    curl -H "Authorization: Bearer secret" -H "Content-Type: application/json" \\
         -d '{"inputs": [[0.0, 0.5, ...64 numbers...]]}' http://127.0.0.1:8000/predict

Listens on 127.0.0.1 only. /health (open), /metadata and /predict (bearer token).
"""
from __future__ import annotations

import json
import os
import secrets
import socket
import sys
import tempfile
import time

'''


def script_text() -> str:
    """The whole standalone ``serve.py``: these functions' own source plus a ``__main__``."""
    parts = [inspect.getsource(fn) for fn in (json_error, create_app, fallback_model_bytes, serve_main)]
    return SCRIPT_HEADER + "\n\n".join(parts) + '\n\nif __name__ == "__main__":\n    sys.exit(serve_main())\n'


# ---- the handle that owns a server process -------------------------------------------------------

_ALIVE: set["ServerHandle"] = set()
_ALIVE_LOCK = threading.Lock()


def port_free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


def free_port() -> int:
    """A port nothing listens on right now (the OS picks it)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass(eq=False)
class ServerHandle:
    process: subprocess.Popen
    port: int
    token: str
    folder: str
    version: str
    max_bytes: int
    started_s: float = 0.0                      # seconds from launch to the first healthy answer
    log: list[str] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        return self.process.pid

    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self, timeout: float = 5.0) -> None:
        """End the server's whole process group (SIGTERM, then SIGKILL) and remove its folder."""
        try:
            if self.process.poll() is None:
                try:
                    os.killpg(self.process.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
                try:
                    self.process.wait(timeout=timeout)
                except subprocess.TimeoutExpired:
                    os.killpg(self.process.pid, signal.SIGKILL)
                    self.process.wait(timeout=timeout)
        finally:
            for stream in (self.process.stdout, self.process.stderr):
                if stream is not None:
                    stream.close()
            shutil.rmtree(self.folder, ignore_errors=True)
            with _ALIVE_LOCK:
                _ALIVE.discard(self)


def start_server(model_bytes: bytes, port: int = 0, token: str | None = None,
                 max_bytes: int = DEFAULT_MAX_BYTES, timeout: float = START_TIMEOUT) -> ServerHandle:
    """Launch ``python serve.py model.onnx`` on 127.0.0.1:``port`` (0 = a free one) and wait until
    ``/health`` answers. Raises ``ch13.port_in_use`` or ``ch13.server_failed`` (with its last log line)."""
    if port and not port_free(port):
        raise HeroError("ch13.port_in_use", port=port)
    port = port or free_port()
    token = token or secrets.token_urlsafe(24)
    folder = tempfile.mkdtemp(prefix="hero-serve-")
    with open(os.path.join(folder, "serve.py"), "w") as f:
        f.write(script_text())
    with open(os.path.join(folder, "model.onnx"), "wb") as f:
        f.write(model_bytes)
    env = {**os.environ, "SERVE_TOKEN": token, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1",
           "SERVE_PARENT_PID": str(os.getpid())}
    env.pop("HERO_TINY", None)     # the self-test mode would exit after one request
    process = subprocess.Popen([sys.executable, "serve.py", "model.onnx", "--port", str(port),
                                "--max-bytes", str(max_bytes)], cwd=folder, env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    from core.export import version_tag
    handle = ServerHandle(process=process, port=port, token=token, folder=folder,
                          version=version_tag(model_bytes), max_bytes=max_bytes)
    with _ALIVE_LOCK:
        _ALIVE.add(handle)
    launched = time.monotonic()
    while time.monotonic() - launched < timeout:
        if process.poll() is not None:
            err = process.stderr.read().decode(errors="replace") if process.stderr else ""
            handle.stop()
            if "address already in use" in err.lower() or "errno 98" in err.lower():
                raise HeroError("ch13.port_in_use", port=port)
            last = [line for line in err.strip().splitlines() if line.strip()]
            raise HeroError("ch13.server_failed", detail=(last[-1] if last else f"exit code {process.returncode}")[:200])
        try:
            status, _ = call(handle, "GET", "/health", timeout=1.0)
            if status == 200:
                handle.started_s = time.monotonic() - launched
                return handle
        except OSError:
            pass
        time.sleep(0.1)
    handle.stop()
    raise HeroError("ch13.server_failed", detail=f"no answer on /health within {timeout:.0f} s")


def stop_all() -> None:
    """Stop every server this process started (atexit; also handy in tests)."""
    with _ALIVE_LOCK:
        handles = list(_ALIVE)
    for handle in handles:
        handle.stop()


def running() -> list[ServerHandle]:
    with _ALIVE_LOCK:
        return [h for h in _ALIVE if h.alive()]


# Normal exit (Streamlit's own SIGTERM/Ctrl-C handling ends in one) stops every server; a parent
# killed outright is caught by the server's own watchdog (SERVE_PARENT_PID, see serve_main).
atexit.register(stop_all)


# ---- the client side: requests and a load test ---------------------------------------------------

def call(handle: ServerHandle, method: str, path: str, payload: dict | None = None, body: bytes | None = None,
         token: str | None = "", timeout: float = 10.0, connection: http.client.HTTPConnection | None = None,
         headers: dict | None = None) -> tuple[int, dict]:
    """One HTTP request to the server: (status, JSON body). ``token=""`` uses the handle's token,
    ``None`` sends none. ``body`` sends raw bytes instead of ``payload`` as JSON."""
    conn = connection or http.client.HTTPConnection("127.0.0.1", handle.port, timeout=timeout)
    send = {"Content-Type": "application/json", **(headers or {})}
    key = handle.token if token == "" else token
    if key is not None:
        send["Authorization"] = f"Bearer {key}"
    data = body if body is not None else (json.dumps(payload).encode() if payload is not None else None)
    try:
        conn.request(method, path, body=data, headers=send)
        response = conn.getresponse()
        raw = response.read()
        try:
            parsed = json.loads(raw) if raw else {}
        except ValueError:
            parsed = {"raw": raw.decode(errors="replace")[:200]}
        return response.status, parsed
    finally:
        if connection is None:
            conn.close()


def load_test(handle: ServerHandle, payload: dict, n_requests: int = 200, clients: int = 4,
              stop=None) -> dict:
    """``n_requests`` POST /predict from ``clients`` concurrent keep-alive connections.

    Returns latencies (ms, client-side), p50/p95/p99, throughput (requests/s) and status counts.
    """
    body = json.dumps(payload).encode()
    per_client = [n_requests // clients + (1 if i < n_requests % clients else 0) for i in range(clients)]

    def client(count: int) -> list[tuple[float, int]]:
        conn = http.client.HTTPConnection("127.0.0.1", handle.port, timeout=10)
        out = []
        try:
            for _ in range(count):
                if stop is not None and stop.is_set():
                    break
                start = time.perf_counter()
                status, _ = call(handle, "POST", "/predict", body=body, connection=conn)
                out.append(((time.perf_counter() - start) * 1000, status))
        finally:
            conn.close()
        return out

    begin = time.perf_counter()
    with ThreadPoolExecutor(max_workers=clients) as pool:
        results = [r for part in pool.map(client, per_client) for r in part]
    wall = time.perf_counter() - begin
    latencies = [ms for ms, _ in results]
    statuses: dict[str, int] = {}
    for _, status in results:
        statuses[str(status)] = statuses.get(str(status), 0) + 1
    pct = lambda q: float(np.percentile(latencies, q)) if latencies else float("nan")  # noqa: E731
    return {"latencies_ms": latencies, "p50": pct(50), "p95": pct(95), "p99": pct(99),
            "throughput": len(results) / wall if wall > 0 else 0.0, "wall_s": wall, "statuses": statuses,
            "requests": len(results), "clients": clients}
