"""Chapter 13 — deployment: the demos behind the page, built on ``core.export`` and ``core.serve``.

13.1 train vs inference modes · 13.2 TorchScript trace vs script, torch.export · 13.3 ONNX and
ONNX Runtime · 13.4 the runtime race (eager, torch.export, ONNX Runtime, torch.compile, INT8)
· 13.5 pruning · 13.6 serving (a real server process) and TorchServe · 13.7 实战.

Digit classifiers take ``[B, 1, S, S]`` floats in [0, 1] (S = 8 or 28) → logits ``[B, 10]``.
"""
from __future__ import annotations

import contextlib
import copy
import statistics
import threading
import time
from dataclasses import asdict, dataclass, field

import numpy as np
import plotly.graph_objects as go
import torch
from torch import nn

from core import data as datasets
from core import serve, viz
from core.export import (
    CAPTURE_LOCK, accuracy, check_onnx, content_hash, export_program, first_line, grad_mode_costs, graph_diff,
    graph_io, graph_text, onnx_bytes, onnx_nodes, ort_predict, ort_session, parity, percentile, pruned_copy,
    quantize_onnx_int8, sparsity_sizes, state_bytes, time_call, torch_dynamic_int8, torchscript_both,
    version_tag,
)
from core.errors import Emit, HeroError, check_range
from core.nets.early_exit import EarlyExitConfig, EarlyExitMLP

PRESETS = {
    "tiny": {"repeats": 5, "batches": (1, 8), "eval_n": 64, "levels": (0.0, 0.5, 0.9), "load_n": 40, "load_c": 2},
    "default": {"repeats": 30, "batches": (1, 16, 64), "eval_n": 360, "levels": (0.0, 0.3, 0.5, 0.7, 0.8, 0.9, 0.95),
                "load_n": 200, "load_c": 4},
    "gpu": {"repeats": 50, "batches": (1, 16, 64, 256), "eval_n": 360,
            "levels": (0.0, 0.3, 0.5, 0.7, 0.8, 0.9, 0.95), "load_n": 400, "load_c": 8},
}
DATASET_FOR_SIZE = {8: "digits", 28: "mnist5k"}


def eval_set(image_size: int, n: int = 360) -> tuple[torch.Tensor, torch.Tensor]:
    """The first ``n`` validation images of the digits set the model was made for:
    X [n, 1, S, S] float32 in [0, 1], y [n] int64."""
    if image_size not in DATASET_FOR_SIZE:
        raise HeroError("ch13.bad_image_size", size=image_size)
    parts = datasets.split(datasets.load(DATASET_FOR_SIZE[image_size]), 0.2, seed=0)
    return parts.X_val[:n].reshape(-1, 1, image_size, image_size), parts.y_val[:n]


# 13.1 train vs inference ---------------------------------------------------------------------------

def mode_demo(model: nn.Module, x: torch.Tensor, seed: int = 0) -> dict:
    """What ``train()`` vs ``eval()`` changes, measured.

    Dropout: the same batch x [B, 1, S, S] through the model three times in each mode (train
    differs run to run, eval never). BatchNorm: one image's output inside two different batches;
    in train mode it depends on its batch-mates (batch statistics), in eval mode it does not.
    """
    torch.manual_seed(seed)
    model = copy.deepcopy(model)
    with torch.no_grad():
        model.train()
        train_runs = [model(x) for _ in range(3)]
        model.eval()
        eval_runs = [model(x) for _ in range(3)]
    spread = lambda runs: max(float((r - runs[0]).abs().max()) for r in runs)  # noqa: E731
    flat = x.reshape(x.shape[0], -1)
    bn = nn.Sequential(nn.Linear(flat.shape[1], 32), nn.BatchNorm1d(32), nn.ReLU(), nn.Linear(32, 10))
    with torch.no_grad():
        bn.train()
        bn(flat)                     # one step of running statistics so eval mode has something to use
        first, second = flat[: len(flat) // 2], torch.cat([flat[:1], flat[len(flat) // 2:]])
        bn_train = float((bn(first)[0] - bn(second)[0]).abs().max())
        bn.eval()
        bn_eval = float((bn(first)[0] - bn(second)[0]).abs().max())
    return {"dropout_train_spread": spread(train_runs), "dropout_eval_spread": spread(eval_runs),
            "train_vs_eval": float((train_runs[0] - eval_runs[0]).abs().max()),
            "first_logits": {"train": train_runs[0][0].tolist(), "train_again": train_runs[1][0].tolist(),
                             "eval": eval_runs[0][0].tolist()},
            "bn_train_diff": bn_train, "bn_eval_diff": bn_eval}


def grad_modes(model: nn.Module, x: torch.Tensor, repeats: int = 20) -> list[dict]:
    """Forward x [B, ...] with autograd on, ``no_grad`` and ``inference_mode``: ms and saved bytes."""
    return grad_mode_costs(model, x, repeats)


# 13.2 TorchScript vs torch.export ---------------------------------------------------------------

def branch_inputs(seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Two batches [4, 64] for the early-exit model: faint strokes and bold, noisy strokes."""
    g = torch.Generator().manual_seed(seed)
    return torch.rand(4, 64, generator=g) * 0.3, torch.rand(4, 64, generator=g) * 3.0


def trace_vs_script(seed: int = 0) -> dict:
    """Trace and script an early-exit MLP (a Python ``if`` on a tensor value) and run both on
    the batch it was traced with and on one that takes the other branch.

    The threshold is set between the two batches' confidences so they really branch apart.
    Returns per batch: the branch eager took, max |traced − eager| and max |scripted − eager|.
    """
    torch.manual_seed(seed)
    model = EarlyExitMLP(EarlyExitConfig()).eval()
    a, b = branch_inputs(seed)
    with torch.no_grad():
        ca, cb = float(model.confidence(a)), float(model.confidence(b))
    model.threshold = (ca + cb) / 2
    traced, scripted, warned = torchscript_both(model, a)
    rows = []
    with torch.no_grad():
        for name, x, conf in (("traced_batch", a, ca), ("other_batch", b, cb)):
            eager = model(x)
            rows.append({"batch": name, "confidence": conf, "branch": "early" if conf > model.threshold else "deep",
                         "traced_diff": float((traced(x) - eager).abs().max()),
                         "scripted_diff": float((scripted(x) - eager).abs().max()),
                         "eager_first": eager[0, :4].tolist(), "traced_first": traced(x)[0, :4].tolist()})
    return {"threshold": model.threshold, "rows": rows, "deprecations": warned,
            "traced_code": traced.code, "scripted_code": scripted.code}


def export_demo(model: nn.Module, image_size: int, batches: tuple[int, ...] = (1, 3, 64)) -> dict:
    """``torch.export`` with a dynamic batch: the graph, and eager vs exported at several batch sizes."""
    example = torch.rand(2, 1, image_size, image_size)
    program = export_program(model, example, dynamic_batch=True)
    module = program.module()
    checks = []
    with torch.inference_mode():
        for n in batches:
            x = torch.rand(n, 1, image_size, image_size)
            checks.append({"batch": n, "max_abs_diff": float((module(x) - model.eval()(x)).abs().max())})
    return {"graph": graph_text(program), "checks": checks,
            "n_nodes": sum(1 for node in program.graph.nodes if node.op == "call_function"),
            "signature": str(program.graph_signature.user_inputs)}


def unexportable_demo(seed: int = 0) -> dict:
    """torch.export on the early-exit model: refused (the branch depends on data), then the same
    model written with ``torch.cond`` exports with both branches and matches eager on each."""
    torch.manual_seed(seed)
    model = EarlyExitMLP(EarlyExitConfig()).eval()
    a, b = branch_inputs(seed)
    with torch.no_grad():
        model.threshold = (float(model.confidence(a)) + float(model.confidence(b))) / 2
    error = None
    try:
        export_program(model, a)
    except HeroError as err:
        error = err
    model.use_cond = True
    program = export_program(model, a)
    with torch.no_grad():
        diffs = [float((program.module()(x) - model(x)).abs().max()) for x in (a, b)]
    return {"error": error, "cond_diffs": diffs, "cond_graph": graph_text(program)}


# 13.3 ONNX ---------------------------------------------------------------------------------------

def onnx_demo(model: nn.Module, image_size: int, n: int = 360, repeats: int = 30) -> dict:
    """Export to ONNX (dynamo, one file), describe the graph, check ONNX Runtime against eager on
    n real digits, and time both at batch 1. Returns the bytes too (for download and serving)."""
    example = torch.rand(2, 1, image_size, image_size)
    data = onnx_bytes(model, example)
    session = ort_session(data)
    X, y = eval_set(image_size, n)
    check = parity(model, session, X)
    one = X[:1]
    with torch.inference_mode():
        eager_ms = statistics.median(time_call(lambda: model(one), repeats))
    ort_ms = statistics.median(time_call(lambda: ort_predict(session, one.numpy()), repeats))
    return {"bytes": data, "nodes": onnx_nodes(data), "io": graph_io(data), "parity": check,
            "sha256": content_hash(data), "version": version_tag(data), "eager_ms": eager_ms,
            "ort_ms": ort_ms, "speedup": eager_ms / ort_ms if ort_ms > 0 else float("nan"),
            "accuracy": accuracy(lambda t: ort_predict(session, t.numpy()), X, y)}


def describe_upload(data: bytes) -> dict:
    """An uploaded ``.onnx``: checked (never executed as code), then its graph and a test run."""
    check_onnx(data)
    nodes = onnx_nodes(data)
    io = graph_io(data)
    session = ort_session(data)
    shape = [d if isinstance(d, int) and d > 0 else 1 for d in io["inputs"][0]["shape"]] if io["inputs"] else []
    try:
        out = ort_predict(session, np.random.rand(*shape).astype(np.float32))
    except Exception as exc:
        raise HeroError("ch13.ort_failed", detail=first_line(exc)[:200]) from None
    return {"nodes": nodes, "io": io, "output_shape": list(out.shape), "version": version_tag(data)}


def onnx_graph_figure(nodes: list[dict], title: str = "") -> go.Figure:
    """The ONNX graph as Netron draws it: one box per node (op type, output shape), edges between
    producer and consumer, laid out top to bottom by depth."""
    producer = {out: i for i, n in enumerate(nodes) for out in n["outputs"]}
    depth: list[int] = []
    for n in nodes:                      # ONNX nodes are topologically sorted
        parents = [depth[producer[i]] for i in n["inputs"] if i in producer]
        depth.append(1 + max(parents) if parents else 0)
    column: dict[int, int] = {}
    xs, ys = [], []
    for d in depth:
        xs.append(column.get(d, 0))
        column[d] = column.get(d, 0) + 1
        ys.append(-d)
    fig = go.Figure()
    ex, ey = [], []
    for j, n in enumerate(nodes):
        for i in n["inputs"]:
            if i in producer:
                ex += [xs[producer[i]], xs[j], None]
                ey += [ys[producer[i]], ys[j], None]
    fig.add_trace(go.Scatter(x=ex, y=ey, mode="lines", line={"color": "#999", "width": 1}, hoverinfo="skip"))
    labels = [f"<b>{n['op']}</b>  {n['shape'] if n['shape'] is not None else ''}" for n in nodes]
    hover = [f"{n['name']}<br>in: {', '.join(n['inputs'][:4])}<br>weights: "
             + ", ".join(f"{w['dtype']}{w['dims']}" for w in n["weights"].values()) for n in nodes]
    fig.add_trace(go.Scatter(x=xs, y=ys, mode="markers+text", text=labels, textposition="middle right",
                             hovertext=hover, hoverinfo="text",
                             marker={"size": 14, "symbol": "square", "color": [hash(n["op"]) % 10 for n in nodes],
                                     "colorscale": "Turbo"}))
    fig.update_layout(showlegend=False, height=max(320, 58 * (max(depth, default=0) + 2)),
                      xaxis={"visible": False, "range": [-0.5, max(xs, default=0) + 2.5]},
                      yaxis={"visible": False})
    return viz.style(fig, title)


# 13.4 the runtime race --------------------------------------------------------------------------

@dataclass
class RaceSettings:
    image_size: int = 8                                   # 8 (sklearn digits) or 28 (MNIST)
    batches: tuple[int, ...] = (1, 16, 64)                # batch sizes timed for every runtime
    repeats: int = 30                                     # timed calls per runtime and batch size
    eval_n: int = 360                                     # validation images for the accuracy column
    compile: bool = False                                 # torch.compile too (~25 s of compiling on a small CPU)
    runtimes: tuple[str, ...] = ("eager", "torch.export", "onnxruntime", "onnxruntime-int8", "torch-int8")
    device: str = "cpu"                                   # ONNX Runtime here runs on the CPU provider


def race(model: nn.Module, s: RaceSettings, stop: threading.Event | None = None, emit: Emit | None = None) -> dict:
    """Race one model through several runtimes: build time, p50/p95 ms per batch size, size, accuracy.

    Every runtime gets the same inputs [B, 1, S, S] in the same process, one after another.
    """
    emit = emit or (lambda event: None)
    check_range("repeats", s.repeats, 1, 1000)
    X, y = eval_set(s.image_size, s.eval_n)
    model = copy.deepcopy(model).eval().to(s.device)
    example = torch.rand(2, 1, s.image_size, s.image_size)
    names = list(s.runtimes) + (["torch.compile"] if s.compile else [])
    rows, notes = [], {}
    total = len(names) * (1 + len(s.batches))
    done = 0
    for name in names:
        if stop is not None and stop.is_set():
            break
        emit({"kind": "progress", "done": done, "total": total,
              "text": f"{name} …"})
        # 1. build the runtime (its build time is part of the story: torch.compile pays at first call)
        start = time.perf_counter()
        fn, size, notes[name] = _runtime(name, model, example)
        with torch.inference_mode(), CAPTURE_LOCK if name == "torch.compile" else contextlib.nullcontext():
            fn(example)                          # first call: compiles (one capture at a time), warms caches
        build_s = time.perf_counter() - start
        done += 1
        # 2. accuracy on real digits, then 3. latency per batch size
        acc = accuracy(fn, X, y)
        for batch in s.batches:
            if stop is not None and stop.is_set():
                break
            xb = X[:batch] if batch <= len(X) else X.repeat(batch // len(X) + 1, 1, 1, 1)[:batch]
            with torch.inference_mode():
                times = time_call(lambda: fn(xb), s.repeats)
            rows.append({"runtime": name, "batch": batch, "p50_ms": percentile(times, 50),
                         "p95_ms": percentile(times, 95), "size_bytes": size, "accuracy": acc,
                         "build_s": build_s})
            done += 1
            emit({"kind": "progress", "done": done, "total": total, "text": f"{name} · B={batch}"})
    base = {r["batch"]: r["p50_ms"] for r in rows if r["runtime"] == "eager"}
    base_acc = next((r["accuracy"] for r in rows if r["runtime"] == "eager"), None)
    for r in rows:
        r["speedup"] = base.get(r["batch"], float("nan")) / r["p50_ms"] if r["p50_ms"] > 0 else float("nan")
        r["accuracy_change"] = r["accuracy"] - base_acc if base_acc is not None else float("nan")
    return {"rows": rows, "deprecations": notes, "settings": asdict(s)}


# What each runtime's page row says about its status (torch warns only once per process, so the
# caught warnings are shown too when there are any).
RUNTIME_STATUS = {"torch-int8": "deprecated", "torch.export": "current", "torch.compile": "current",
                  "onnxruntime": "current", "onnxruntime-int8": "current", "eager": "current"}


def _runtime(name: str, model: nn.Module, example: torch.Tensor):
    """(predict(x) -> logits, size in bytes, deprecation warnings) for one runtime."""
    if name == "eager":
        return model, state_bytes(model), []
    if name == "torch.export":
        return export_program(model, example).module(), state_bytes(model), []
    if name in ("onnxruntime", "onnxruntime-int8"):
        data = onnx_bytes(model, example)
        if name == "onnxruntime-int8":
            data = quantize_onnx_int8(data)
        session = ort_session(data)
        return (lambda x: torch.from_numpy(ort_predict(session, x.numpy()))), len(data), []
    if name == "torch-int8":
        quantized, warned = torch_dynamic_int8(model)
        return quantized, state_bytes(quantized), warned
    if name == "torch.compile":
        return torch.compile(model), state_bytes(model), []
    raise HeroError("ch13.unknown_runtime", name=name)


def race_figure(rows: list[dict], title: str = "", y_title: str = "p50 ms") -> go.Figure:
    """p50 latency (with p95 as the error bar's top) per runtime across batch sizes, log y."""
    fig = go.Figure()
    for name in dict.fromkeys(r["runtime"] for r in rows):
        mine = [r for r in rows if r["runtime"] == name]
        fig.add_trace(go.Scatter(x=[str(r["batch"]) for r in mine], y=[r["p50_ms"] for r in mine],
                                 name=name, mode="lines+markers",
                                 error_y={"type": "data", "symmetric": False,
                                          "array": [r["p95_ms"] - r["p50_ms"] for r in mine], "arrayminus": [0] * len(mine)}))
    fig.update_yaxes(type="log", title=y_title)
    fig.update_xaxes(title="batch", type="category")
    return viz.style(fig, title)


def int8_graph_diff(model: nn.Module, image_size: int) -> dict:
    """FP32 ONNX vs its ONNX Runtime dynamic-INT8 version: node diff, op counts, sizes."""
    fp32 = onnx_bytes(model, torch.rand(2, 1, image_size, image_size))
    int8 = quantize_onnx_int8(fp32)
    diff = graph_diff(onnx_nodes(fp32), onnx_nodes(int8))
    return {**diff, "fp32_bytes": len(fp32), "int8_bytes": len(int8), "int8_nodes": onnx_nodes(int8)}


# 13.5 pruning ------------------------------------------------------------------------------------

def prune_sweep(model: nn.Module, image_size: int, levels: tuple[float, ...] = (0.0, 0.5, 0.9),
                eval_n: int = 360, repeats: int = 20) -> list[dict]:
    """Global L1 unstructured pruning at each sparsity: accuracy, batch-64 latency, and three sizes
    (dense — what torch stores, zlib-compressed, CSR value+index per non-zero)."""
    X, y = eval_set(image_size, eval_n)
    xb = X[:64]
    rows = []
    for level in levels:
        check_range("sparsity", level, 0.0, 0.999)
        pruned = pruned_copy(model, level)
        sizes = sparsity_sizes(pruned)
        with torch.inference_mode():
            ms = statistics.median(time_call(lambda: pruned(xb), repeats))
            acc = accuracy(pruned, X, y)
        rows.append({"sparsity": level, "accuracy": acc, "ms_batch64": ms, **sizes,
                     "measured_sparsity": 1 - sizes["nonzero"] / sizes["total"]})
    return rows


def prune_figure(rows: list[dict], title: str = "", labels: dict | None = None) -> go.Figure:
    """Accuracy (left axis) and the three sizes in KB (right axis) against sparsity."""
    labels = labels or {}
    xs = [r["sparsity"] for r in rows]
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=xs, y=[r["accuracy"] for r in rows], name=labels.get("accuracy", "accuracy"),
                             mode="lines+markers"))
    for key in ("dense_bytes", "compressed_bytes", "sparse_bytes"):
        fig.add_trace(go.Scatter(x=xs, y=[r[key] / 1024 for r in rows], name=labels.get(key, key), yaxis="y2",
                                 mode="lines+markers", line={"dash": "dot"}))
    fig.update_layout(yaxis={"title": labels.get("accuracy", "accuracy"), "tickformat": ".0%"},
                      yaxis2={"title": "KB", "overlaying": "y", "side": "right"},
                      xaxis={"title": labels.get("sparsity", "sparsity"), "tickformat": ".0%"})
    return viz.style(fig, title)


# 13.6 serving ------------------------------------------------------------------------------------

@dataclass
class ServeSettings:
    port: int = 0                          # 0 = a free port the OS picks; anything else must be free
    max_bytes: int = serve.DEFAULT_MAX_BYTES   # request bodies above this get 413 before being read
    heartbeat_s: float = 1.0               # how often the run checks that its visitor is still there
    device: str = "cpu"                    # the server runs ONNX Runtime's CPU provider
    extra: dict = field(default_factory=dict)


def serve_until_stopped(model_bytes: bytes, s: ServeSettings, stop: threading.Event, emit: Emit) -> dict:
    """Run the server process for as long as this job runs: start it, announce it (the event
    carries the handle), heartbeat until ``stop`` is set (Stop, visitor gone), then stop the
    process group in ``finally`` — whatever ended the job."""
    check_range("port", s.port, 0, 65535)
    handle = serve.start_server(model_bytes, port=s.port, max_bytes=s.max_bytes)
    began = time.monotonic()
    try:
        emit({"kind": "server", "handle": handle, "port": handle.port, "pid": handle.pid,
              "version": handle.version, "started_s": handle.started_s})
        emit({"kind": "progress", "done": 1, "total": 1, "text": f"uvicorn · {handle.url}"})
        while not stop.is_set():
            if not handle.alive():
                raise HeroError("ch13.server_died", code=handle.process.returncode)
            stop.wait(s.heartbeat_s)
            emit({"kind": "heartbeat", "uptime_s": time.monotonic() - began})   # lets the runner notice a gone visitor
    finally:
        handle.stop()
    return {"port": handle.port, "pid": handle.pid, "uptime_s": time.monotonic() - began, "version": handle.version}


def sample_payload(image_size: int, n: int = 1, seed: int = 0) -> tuple[dict, list[int]]:
    """A /predict body of n real validation digits (flattened floats) and their true labels."""
    X, y = eval_set(image_size, max(n, 1))
    return {"inputs": X[:n].reshape(n, -1).round(decimals=4).tolist()}, y[:n].tolist()


def bad_requests(handle: serve.ServerHandle, image_size: int) -> list[dict]:
    """The refusals, sent for real: no token, wrong token, oversize body, not JSON, wrong shape, NaN."""
    good, _ = sample_payload(image_size)
    width = image_size * image_size
    cases = [("no_token", {"payload": good, "token": None}),
             ("wrong_token", {"payload": good, "token": "not-the-token"}),
             ("too_large", {"body": b"{" + b" " * (handle.max_bytes + 10) + b"}"}),
             ("not_json", {"body": b"inputs=1,2,3"}),
             ("wrong_shape", {"payload": {"inputs": [[0.1] * (width - 1)]}}),
             ("not_finite", {"payload": {"inputs": [[float("nan")] * width]}, "raw_nan": True}),
             ("missing_inputs", {"payload": {"pixels": [1, 2]}})]
    rows = []
    for name, case in cases:
        if case.get("raw_nan"):
            case = {"body": ('{"inputs": [[' + ", ".join(["NaN"] * width) + "]]}").encode()}
        status, answer = serve.call(handle, "POST", "/predict", payload=case.get("payload"), body=case.get("body"),
                                    token=case.get("token", ""))
        rows.append({"case": name, "status": status, "error": answer.get("error"), "detail": answer.get("detail")})
    return rows


def load_figure(result: dict, title: str = "", x_title: str = "ms") -> go.Figure:
    """Histogram of client-side latencies with p50/p95/p99 marked."""
    fig = go.Figure(go.Histogram(x=result["latencies_ms"], nbinsx=40, name="latency"))
    for q in ("p50", "p95", "p99"):
        fig.add_vline(x=result[q], line_dash="dash", annotation_text=f"{q} {result[q]:.2f} ms")
    fig.update_xaxes(title=x_title)
    return viz.style(fig, title)


TORCHSERVE_HANDLER = '''# handler.py — what TorchServe would need (torch-model-archiver --handler handler.py)
import json
import numpy as np
import onnxruntime as ort
from ts.torch_handler.base_handler import BaseHandler


class DigitsHandler(BaseHandler):
    def initialize(self, context):
        model_dir = context.system_properties.get("model_dir")
        self.session = ort.InferenceSession(f"{{model_dir}}/model.onnx", providers=["CPUExecutionProvider"])
        self.initialized = True

    def preprocess(self, data):
        rows = [json.loads(item.get("body") or item.get("data"))["inputs"] for item in data]
        return np.asarray([r for batch in rows for r in batch], dtype=np.float32).reshape(-1, 1, {size}, {size})

    def inference(self, x):
        return self.session.run(None, {{self.session.get_inputs()[0].name: x}})[0]

    def postprocess(self, logits):
        return [{{"prediction": int(row.argmax())}} for row in logits]
'''

TORCHSERVE_CONFIG = '''# config.properties
inference_address=http://127.0.0.1:8080
management_address=http://127.0.0.1:8081
metrics_address=http://127.0.0.1:8082
model_store=model_store
load_models=digits={version}.mar
default_workers_per_model=1
max_request_size=262144
enable_token_auth=true
'''

TORCHSERVE_COMMANDS = '''torch-model-archiver --model-name digits --version {version} --serialized-file model.onnx \\
    --handler handler.py --export-path model_store
torchserve --start --ts-config config.properties --disable-token-auth false'''


def torchserve_files(version: str, image_size: int) -> dict:
    """The handler, config and commands TorchServe would need for this model (shown, not run:
    TorchServe is in limited maintenance and is not installed here)."""
    return {"handler": TORCHSERVE_HANDLER.format(size=image_size),
            "config": TORCHSERVE_CONFIG.format(version=version),
            "commands": TORCHSERVE_COMMANDS.format(version=version)}


def export_and_serve(model: nn.Module, image_size: int, s: ServeSettings, stop: threading.Event, emit: Emit) -> dict:
    """The 实战 in one job: export the model to ONNX, then serve it until stopped."""
    emit({"kind": "progress", "done": 0, "total": 2, "text": "torch.onnx.export"})
    data = onnx_bytes(model, torch.rand(2, 1, image_size, image_size))
    emit({"kind": "progress", "done": 1, "total": 2, "text": "uvicorn"})
    return serve_until_stopped(data, s, stop, emit)


def image_size_of(model: nn.Module) -> int:
    """The square input side a digits classifier expects (8 or 28), from its config."""
    config = getattr(model, "config", None)
    size = getattr(config, "image_size", None)
    if size is None and getattr(config, "in_features", None) in (64, 784):
        size = int(round(config.in_features ** 0.5))
    if size not in DATASET_FOR_SIZE:
        raise HeroError("ch13.bad_image_size", size=size)
    return int(size)
