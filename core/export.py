"""Deployment mechanics: inference modes, TorchScript, torch.export, ONNX, ONNX Runtime, INT8, pruning.

Everything here takes a model and tensors and returns numbers, bytes or plain dicts; the
chapter's lessons (``core.lessons.ch13_deployment``) arrange them into demos. onnx,
onnxruntime and onnxscript are imported inside the functions that need them, so importing
this module costs nothing.

Shapes: digit classifiers take images ``[B, 1, S, S]`` floats in [0, 1] (S = 8 or 28) and
return logits ``[B, 10]``.
"""
from __future__ import annotations

import copy
import hashlib
import io
import os
import statistics
import tempfile
import threading
import time
import warnings
import zlib
from typing import Callable

import numpy as np
import torch
from torch import nn

from core.errors import HeroError

MAX_ONNX_BYTES = 50 * 2**20     # an uploaded .onnx larger than this is refused before parsing
# torch.export, the ONNX exporter, TorchScript and torch.compile install process-wide tracing modes
# ("ProxyTorchDispatchMode slot already occupied" when two threads export at once): one at a time,
# across every visitor's runs and page reruns.
CAPTURE_LOCK = threading.RLock()


# 1. train vs inference ----------------------------------------------------------------------------

def saved_for_backward_bytes(fn: Callable[[], torch.Tensor]) -> tuple[torch.Tensor, int]:
    """Run ``fn()`` and count the bytes autograd keeps alive for a backward pass.

    Every tensor a forward op saves for its gradient passes through ``saved_tensors_hooks``;
    under ``no_grad``/``inference_mode`` nothing is saved, which is where their memory saving is.
    """
    total = [0]

    def pack(t: torch.Tensor):
        total[0] += t.numel() * t.element_size()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        out = fn()
    return out, total[0]


def time_call(fn: Callable[[], object], repeats: int, warmup: int = 2) -> list[float]:
    """Wall-clock milliseconds of ``repeats`` calls of ``fn`` after ``warmup`` untimed ones."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return times


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0–100) by linear interpolation, as numpy computes it."""
    return float(np.percentile(np.asarray(values, dtype=np.float64), q)) if values else float("nan")


def grad_mode_costs(model: nn.Module, x: torch.Tensor, repeats: int = 20) -> list[dict]:
    """Forward ``x`` [B, ...] with autograd on, under ``no_grad`` and under ``inference_mode``.

    Returns one row per mode: median ms, bytes saved for backward, whether the output
    tracks gradients, and whether it is an inference tensor (which autograd can never use later).
    """
    model = model.eval()
    modes = {"grad": torch.enable_grad, "no_grad": torch.no_grad, "inference_mode": torch.inference_mode}
    rows = []
    for name, ctx in modes.items():
        def forward(ctx=ctx):
            with ctx():
                return model(x)
        out, saved = saved_for_backward_bytes(forward)
        times = time_call(forward, repeats)
        rows.append({"mode": name, "ms": statistics.median(times), "saved_bytes": saved,
                     "requires_grad": bool(out.requires_grad), "inference_tensor": bool(out.is_inference())})
    return rows


# 2. TorchScript (deprecated) and torch.export ----------------------------------------------------

def deprecation_messages(caught: list[warnings.WarningMessage]) -> list[str]:
    """First line of each distinct deprecation warning torch raised (FutureWarning/DeprecationWarning)."""
    seen: list[str] = []
    for w in caught:
        if issubclass(w.category, (FutureWarning, DeprecationWarning, UserWarning)) and "deprecat" in str(w.message):
            line = str(w.message).strip().splitlines()[0]
            if line not in seen:
                seen.append(line)
    return seen


def torchscript_both(model: nn.Module, example: torch.Tensor) -> tuple[object, object, list[str]]:
    """(traced, scripted, deprecation warnings) for ``model``: torch.jit.trace records the ops one
    example ran; torch.jit.script compiles the Python source, ``if`` included."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with CAPTURE_LOCK:
            traced = torch.jit.trace(model, example, check_trace=False)
            scripted = torch.jit.script(model)
    return traced, scripted, deprecation_messages(caught)


def export_program(model: nn.Module, example: torch.Tensor, dynamic_batch: bool = True, max_batch: int = 4096):
    """``torch.export.export`` with (optionally) a symbolic batch dimension on the first input.

    Raises ``HeroError("ch13.export_failed_<hint>")`` with the exporter's own first line and a hint
    when the model cannot be captured (e.g. a Python ``if`` on a tensor value).
    """
    from torch.export import Dim
    shapes = {_first_arg_name(model): {0: Dim("batch", min=1, max=max_batch)}} if dynamic_batch else None
    try:
        with CAPTURE_LOCK:
            return torch.export.export(model.eval(), (example,), dynamic_shapes=shapes)
    except Exception as exc:  # the exporter's error is the lesson: name it and explain it
        raise HeroError(f"ch13.export_failed_{export_hint(exc)}", kind=type(exc).__name__,
                        detail=first_line(exc), hint=export_hint(exc)) from None


def _first_arg_name(model: nn.Module) -> str:
    import inspect
    params = [p for p in inspect.signature(model.forward).parameters.values() if p.name != "self"]
    return params[0].name if params else "x"


def first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return (text.splitlines()[0] if text else type(exc).__name__)[:300]


def export_hint(exc: BaseException) -> str:
    """A short code for why an export failed: the error code's suffix (errors.ch13.export_failed_*)."""
    text = f"{type(exc).__name__} {exc}"
    if "data-dependent" in text or "DataDependent" in text:
        return "data_dependent"
    if "Dim" in text or "Constraint" in text or "specializ" in text:
        return "dynamic_shape"
    if "Unsupported" in text or "not supported" in text:
        return "unsupported_op"
    return "generic"


def graph_text(program) -> str:
    """The ExportedProgram's ATen graph as readable Python (with shapes in the annotations)."""
    return program.graph_module.print_readable(print_output=False)


# 3. ONNX -------------------------------------------------------------------------------------------

def onnx_bytes(model: nn.Module, example: torch.Tensor, dynamic_batch: bool = True) -> bytes:
    """Export ``model`` with the dynamo exporter to one self-contained ``.onnx`` (no ``.onnx.data``).

    Input ``x`` [B, ...] with B symbolic when ``dynamic_batch``; output ``logits``.
    """
    from torch.export import Dim
    shapes = {_first_arg_name(model): {0: Dim("batch", min=1, max=4096)}} if dynamic_batch else None
    folder = tempfile.mkdtemp(prefix="hero-onnx-")
    path = os.path.join(folder, "model.onnx")
    try:
        with warnings.catch_warnings(), CAPTURE_LOCK:
            warnings.simplefilter("ignore")
            program = torch.onnx.export(model.eval(), (example,), dynamo=True, external_data=False,
                                        dynamic_shapes=shapes, input_names=["x"], output_names=["logits"],
                                        verbose=False)
            program.save(path, external_data=False)
        with open(path, "rb") as f:
            return f.read()
    except HeroError:
        raise
    except Exception as exc:
        raise HeroError(f"ch13.export_failed_{export_hint(exc)}", kind=type(exc).__name__,
                        detail=first_line(exc), hint=export_hint(exc)) from None
    finally:
        for name in os.listdir(folder):
            os.remove(os.path.join(folder, name))
        os.rmdir(folder)


def check_onnx(data: bytes, max_bytes: int = MAX_ONNX_BYTES):
    """Parse untrusted bytes as an ONNX model (protobuf: data only, nothing executes) and check it.

    Returns the ``onnx.ModelProto``; raises ``ch13.onnx_too_large`` / ``ch13.not_onnx``.
    """
    import onnx
    if len(data) > max_bytes:
        raise HeroError("ch13.onnx_too_large", size_mb=round(len(data) / 2**20, 1), limit_mb=max_bytes // 2**20)
    try:
        proto = onnx.load_from_string(data)
        onnx.checker.check_model(proto)
    except Exception as exc:
        raise HeroError("ch13.not_onnx", detail=first_line(exc)[:160]) from None
    if not proto.graph.node:
        raise HeroError("ch13.not_onnx", detail="the graph has no nodes")
    return proto


def ort_session(data: bytes, threads: int = 1):
    """An ONNX Runtime CPU session for the model bytes (``threads`` intra-op threads)."""
    import onnxruntime as ort
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    try:
        return ort.InferenceSession(data, options, providers=["CPUExecutionProvider"])
    except Exception as exc:
        raise HeroError("ch13.ort_failed", detail=first_line(exc)[:200]) from None


def ort_predict(session, x: np.ndarray) -> np.ndarray:
    """Run the session's first input on ``x`` (float32) and return its first output."""
    return session.run(None, {session.get_inputs()[0].name: np.ascontiguousarray(x, dtype=np.float32)})[0]


def parity(model: nn.Module, session, x: torch.Tensor) -> dict:
    """Eager vs ONNX Runtime on the same batch: max abs logit difference and agreeing predictions."""
    with torch.inference_mode():
        eager = model.eval()(x).numpy()
    served = ort_predict(session, x.numpy())
    return {"max_abs_diff": float(np.abs(eager - served).max()),
            "same_predictions": bool((eager.argmax(1) == served.argmax(1)).all()), "n": int(x.shape[0])}


def _shape_of(value_info) -> list:
    dims = value_info.type.tensor_type.shape.dim
    return [d.dim_param if d.dim_param else int(d.dim_value) for d in dims]


def onnx_nodes(data: bytes) -> list[dict]:
    """The graph as Netron lists it: each node's op type, name, inputs, outputs and output shapes
    (from ONNX shape inference), plus the initializers' dtypes and sizes in ``weights``."""
    import onnx
    proto = onnx.shape_inference.infer_shapes(onnx.load_from_string(data))
    shapes = {vi.name: _shape_of(vi) for vi in [*proto.graph.value_info, *proto.graph.output, *proto.graph.input]}
    inits = {i.name: i for i in proto.graph.initializer}
    nodes = []
    for node in proto.graph.node:
        nodes.append({"name": node.name or f"{node.op_type}_{len(nodes)}", "op": node.op_type,
                      "inputs": list(node.input), "outputs": list(node.output),
                      "shape": shapes.get(node.output[0]) if node.output else None,
                      "weights": {n: {"dtype": onnx.helper.tensor_dtype_to_np_dtype(inits[n].data_type).name,
                                      "dims": list(inits[n].dims)} for n in node.input if n in inits}})
    return nodes


def graph_io(data: bytes) -> dict:
    """Input/output names and shapes (symbolic dims by name) and the opset."""
    import onnx
    proto = onnx.load_from_string(data)
    init = {i.name for i in proto.graph.initializer}
    return {"inputs": [{"name": i.name, "shape": _shape_of(i)} for i in proto.graph.input if i.name not in init],
            "outputs": [{"name": o.name, "shape": _shape_of(o)} for o in proto.graph.output],
            "opset": max((o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")), default=0)}


def graph_diff(before: list[dict], after: list[dict]) -> dict:
    """What changed between two ONNX graphs (e.g. FP32 → INT8).

    Nodes are matched by name: only in ``after`` → added, only in ``before`` → removed, in both
    with another op, other inputs or other weight dtypes → changed. ``ops`` counts each op type.
    """
    a, b = {n["name"]: n for n in before}, {n["name"]: n for n in after}
    changed = []
    for name in a.keys() & b.keys():
        x, y = a[name], b[name]
        if x["op"] != y["op"] or x["inputs"] != y["inputs"] or \
                [w["dtype"] for w in x["weights"].values()] != [w["dtype"] for w in y["weights"].values()]:
            changed.append({"name": name, "before": x["op"], "after": y["op"]})
    ops = sorted({n["op"] for n in before} | {n["op"] for n in after})
    count = lambda nodes, op: sum(n["op"] == op for n in nodes)  # noqa: E731
    return {"added": [{"name": n, "op": b[n]["op"]} for n in b if n not in a],
            "removed": [{"name": n, "op": a[n]["op"]} for n in a if n not in b],
            "changed": sorted(changed, key=lambda c: c["name"]),
            "ops": [{"op": op, "before": count(before, op), "after": count(after, op)} for op in ops]}


def quantize_onnx_int8(data: bytes) -> bytes:
    """ONNX Runtime's dynamic INT8 quantization: weights stored as int8, activations quantized
    per batch at run time (Conv → ConvInteger, Gemm/MatMul → MatMulInteger)."""
    import logging

    from onnxruntime.quantization import QuantType, quantize_dynamic
    folder = tempfile.mkdtemp(prefix="hero-int8-")
    src, dst = os.path.join(folder, "fp32.onnx"), os.path.join(folder, "int8.onnx")
    try:
        with open(src, "wb") as f:
            f.write(data)
        logging.getLogger().setLevel(max(logging.getLogger().level, logging.ERROR))  # "run pre-processing" nag
        quantize_dynamic(src, dst, weight_type=QuantType.QInt8)
        with open(dst, "rb") as f:
            return f.read()
    finally:
        for name in os.listdir(folder):
            os.remove(os.path.join(folder, name))
        os.rmdir(folder)


# 4. INT8 in torch, pruning, sizes -----------------------------------------------------------------

def torch_dynamic_int8(model: nn.Module) -> tuple[nn.Module, list[str]]:
    """``torch.ao.quantization.quantize_dynamic`` on every nn.Linear (deprecated; warnings returned)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        quantized = torch.ao.quantization.quantize_dynamic(copy.deepcopy(model).eval(), {nn.Linear}, dtype=torch.qint8)
    return quantized, deprecation_messages(caught)


def state_bytes(model: nn.Module) -> int:
    """Bytes of the model's state_dict written with torch.save (packed INT8 weights included)."""
    buffer = io.BytesIO()
    torch.save(model.state_dict(), buffer)
    return buffer.tell()


def prunable(model: nn.Module) -> list[tuple[nn.Module, str]]:
    """(module, "weight") for every Conv and Linear layer."""
    return [(m, "weight") for m in model.modules() if isinstance(m, (nn.Conv1d, nn.Conv2d, nn.Linear))]


def pruned_copy(model: nn.Module, sparsity: float) -> nn.Module:
    """A copy with the ``sparsity`` fraction of smallest-|w| weights zeroed across all layers
    (``prune.global_unstructured`` with L1), the masks folded in with ``prune.remove``."""
    from torch.nn.utils import prune
    pruned = copy.deepcopy(model).eval()
    targets = prunable(pruned)
    if sparsity > 0 and targets:
        prune.global_unstructured(targets, pruning_method=prune.L1Unstructured, amount=float(sparsity))
        for module, name in targets:
            prune.remove(module, name)
    return pruned


def sparsity_sizes(model: nn.Module) -> dict:
    """Dense bytes, zlib-compressed bytes (zeros compress) and CSR-style bytes (value + index per non-zero)."""
    weights = [m.weight.detach() for m, _ in prunable(model)]
    dense = sum(w.numel() * w.element_size() for w in weights)
    nonzero = sum(int((w != 0).sum()) for w in weights)
    raw = b"".join(w.contiguous().numpy().tobytes() for w in weights)
    return {"dense_bytes": dense, "nonzero": nonzero, "total": sum(w.numel() for w in weights),
            "compressed_bytes": len(zlib.compress(raw, 6)), "sparse_bytes": nonzero * 8}


def accuracy(predict: Callable[[torch.Tensor], torch.Tensor | np.ndarray], X: torch.Tensor, y: torch.Tensor) -> float:
    """Share of rows of X [N, ...] whose argmax logit equals y [N]."""
    logits = predict(X)
    logits = torch.as_tensor(np.asarray(logits)) if not isinstance(logits, torch.Tensor) else logits
    return float((logits.argmax(1) == y).float().mean())


# 5. versioning ------------------------------------------------------------------------------------

def content_hash(data: bytes) -> str:
    """sha256 of the model file: the version is the content, so the same bytes are the same model."""
    return hashlib.sha256(data).hexdigest()


def version_tag(data: bytes) -> str:
    return "v-" + content_hash(data)[:12]
