"""Chapter 13 serving: a real uvicorn process on 127.0.0.1, its refusals, its load test, and proof
that no server process outlives its handle, its run, or even a parent killed outright."""
import base64
import io
import os
import socket
import subprocess
import sys
import textwrap
import threading
import time

import numpy as np
import psutil
import pytest
import torch
from PIL import Image

from core import export, serve, weights
from core.errors import HeroError
from core.lessons import ch13_deployment as lesson

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope="module")
def model_bytes():
    model = weights.load("ch05_digits_cnn").model.eval()
    return export.onnx_bytes(model, torch.rand(2, 1, 8, 8))


@pytest.fixture(scope="module")
def server(model_bytes):
    handle = serve.start_server(model_bytes, max_bytes=64 * 1024)
    yield handle
    handle.stop()


def children() -> list[psutil.Process]:
    return [p for p in psutil.Process().children(recursive=True) if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]


def test_health_metadata_predict_match_onnx_runtime(server, model_bytes):
    status, body = serve.call(server, "GET", "/health", token=None)
    assert status == 200 and body["status"] == "ok"
    status, meta = serve.call(server, "GET", "/metadata")
    assert status == 200 and meta["model_sha256"] == export.content_hash(model_bytes)
    assert meta["version"] == export.version_tag(model_bytes) == server.version
    payload, labels = lesson.sample_payload(8, 16)
    status, answer = serve.call(server, "POST", "/predict", payload=payload)
    assert status == 200
    # oracle: the same ONNX file in-process
    session = export.ort_session(model_bytes)
    logits = export.ort_predict(session, np.asarray(payload["inputs"], np.float32).reshape(-1, 1, 8, 8))
    assert answer["predictions"] == logits.argmax(1).tolist()
    probs = np.asarray(answer["probabilities"])
    assert np.allclose(probs.sum(1), 1, atol=1e-3)
    assert np.mean(np.asarray(answer["predictions"]) == np.asarray(labels)) >= 0.8


def test_image_request(server):
    X, y = lesson.eval_set(8, 1)
    img = Image.fromarray((X[0, 0].numpy() * 255).astype(np.uint8)).resize((64, 64))
    buffer = io.BytesIO()
    img.save(buffer, format="PNG")
    status, answer = serve.call(server, "POST", "/predict",
                                payload={"image_base64": base64.b64encode(buffer.getvalue()).decode()})
    assert status == 200 and len(answer["predictions"]) == 1
    status, answer = serve.call(server, "POST", "/predict", payload={"image_base64": "bm90IGFuIGltYWdl"})
    assert status == 422 and answer["error"] == "bad_image"


def test_refusals_are_clear_json(server):
    rows = {r["case"]: r for r in lesson.bad_requests(server, 8)}
    expected = {"no_token": (401, "unauthorized"), "wrong_token": (401, "unauthorized"),
                "too_large": (413, "too_large"), "not_json": (422, "bad_json"), "wrong_shape": (422, "bad_shape"),
                "not_finite": (422, "not_finite"), "missing_inputs": (422, "missing_inputs")}
    for case, (status, code) in expected.items():
        assert (rows[case]["status"], rows[case]["error"]) == (status, code), rows[case]
        assert rows[case]["detail"]
    assert "63" in rows["wrong_shape"]["detail"] and "64" in rows["wrong_shape"]["detail"]


def test_load_test_percentiles(server):
    payload, _ = lesson.sample_payload(8, 1)
    result = serve.load_test(server, payload, n_requests=40, clients=2)
    assert result["requests"] == 40 and result["statuses"] == {"200": 40}
    assert result["p50"] <= result["p95"] <= result["p99"] and result["throughput"] > 0
    assert result["p50"] == pytest.approx(np.percentile(result["latencies_ms"], 50))


def test_port_in_use_is_a_clear_error(model_bytes):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        with pytest.raises(HeroError) as err:
            serve.start_server(model_bytes, port=port)
    assert err.value.code == "ch13.port_in_use" and err.value.params["port"] == port


def test_start_stop_cycles_leave_no_process(model_bytes):
    before = {p.pid for p in children()}
    for _ in range(3):
        handle = serve.start_server(model_bytes)
        assert handle.alive() and psutil.pid_exists(handle.pid)
        pid = handle.pid
        handle.stop()
        assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
        assert not os.path.exists(handle.folder)
    assert {p.pid for p in children()} <= before
    assert all(h.port != handle.port for h in serve.running())


def test_run_job_stops_server_when_stop_is_set(model_bytes):
    stop, events = threading.Event(), []
    out = {}
    worker = threading.Thread(target=lambda: out.setdefault("r", lesson.serve_until_stopped(
        model_bytes, lesson.ServeSettings(heartbeat_s=0.2), stop, events.append)))
    worker.start()
    deadline = time.monotonic() + 60
    while not any(e["kind"] == "server" for e in events) and time.monotonic() < deadline:
        time.sleep(0.05)
    handle = next(e for e in events if e["kind"] == "server")["handle"]
    assert serve.call(handle, "GET", "/health")[0] == 200
    time.sleep(0.5)
    assert any(e["kind"] == "heartbeat" for e in events)
    stop.set()
    worker.join(timeout=30)
    assert not worker.is_alive() and out["r"]["port"] == handle.port
    assert not handle.alive()
    with pytest.raises(OSError):
        serve.call(handle, "GET", "/health", timeout=1)


def test_stop_all_ends_every_server(model_bytes):
    handles = [serve.start_server(model_bytes) for _ in range(2)]
    serve.stop_all()
    assert not any(h.alive() for h in handles) and serve.running() == []


def test_server_dies_with_a_parent_killed_outright(tmp_path, model_bytes):
    """SIGKILL skips atexit: the server's watchdog sees its parent gone and exits by itself."""
    (tmp_path / "model.onnx").write_bytes(model_bytes)
    parent = textwrap.dedent(f"""
        import os, sys
        sys.path.insert(0, {ROOT!r})
        from core import serve
        h = serve.start_server(open({str(tmp_path / 'model.onnx')!r}, 'rb').read())
        print(h.pid, flush=True)
        os.kill(os.getpid(), 9)
    """)
    proc = subprocess.run([sys.executable, "-c", parent], capture_output=True, text=True, timeout=120)
    pid = int(proc.stdout.split()[0])
    deadline = time.monotonic() + 15
    while psutil.pid_exists(pid) and time.monotonic() < deadline:
        try:
            if psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
                break
        except psutil.NoSuchProcess:
            break
        time.sleep(0.2)
    gone = not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    if not gone:
        os.kill(pid, 9)
    assert gone


def test_standalone_script_self_test(tmp_path, model_bytes):
    (tmp_path / "serve.py").write_text(serve.script_text())
    (tmp_path / "model.onnx").write_bytes(model_bytes)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    proc = subprocess.run([sys.executable, "serve.py", "model.onnx"], cwd=tmp_path, capture_output=True, text=True,
                          timeout=120, env={**env, "HERO_TINY": "1"})
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "self-test /predict → 200" in proc.stdout
    assert "core." not in serve.script_text().replace("# core.", "")
