"""Chapter 13 export mechanics against their oracles: eager PyTorch vs ONNX Runtime / torch.export /
TorchScript, autograd's own bookkeeping, numpy percentiles, and what a pruned tensor really holds."""
import io
import pickle

import numpy as np
import pytest
import torch

from core import export, weights
from core.errors import HeroError
from core.lessons import ch13_deployment as lesson


@pytest.fixture(scope="module")
def cnn():
    return weights.load("ch05_digits_cnn").model.eval()


@pytest.fixture(scope="module")
def digits():
    return lesson.eval_set(8, 64)


@pytest.fixture(scope="module")
def onnx_model(cnn):
    return export.onnx_bytes(cnn, torch.rand(2, 1, 8, 8))


def test_onnx_runtime_matches_eager_within_float32_rounding(cnn, digits, onnx_model):
    X, _ = digits
    session = export.ort_session(onnx_model)
    check = export.parity(cnn, session, X)
    # float32 accumulation order differs between ORT and eager: ~1e-5 on logits of size ~10-30
    assert check["max_abs_diff"] <= 5e-5 and check["same_predictions"]
    # the batch dimension is symbolic: batch 1 and batch 7 run on the same file
    for n in (1, 7):
        with torch.no_grad():
            ref = cnn(X[:n]).numpy()
        assert np.abs(export.ort_predict(session, X[:n].numpy()) - ref).max() <= 1e-5
    io_ = export.graph_io(onnx_model)
    assert io_["inputs"][0]["shape"] == ["batch", 1, 8, 8] and io_["outputs"][0]["shape"] == ["batch", 10]


def test_onnx_is_one_file_and_graph_has_ops_and_shapes(onnx_model):
    nodes = export.onnx_nodes(onnx_model)
    ops = [n["op"] for n in nodes]
    assert ops.count("Conv") == 2 and "Gemm" in ops or "MatMul" in ops
    conv = next(n for n in nodes if n["op"] == "Conv")
    assert conv["shape"] == ["batch", 16, 8, 8]
    assert {w["dtype"] for w in conv["weights"].values()} == {"float32"}
    fig = lesson.onnx_graph_figure(nodes)
    assert len(fig.data[1].x) == len(nodes)


def test_torch_export_dynamic_batch_matches_eager(cnn):
    demo = lesson.export_demo(cnn, 8, batches=(1, 5, 64))
    assert all(c["max_abs_diff"] <= 1e-6 for c in demo["checks"])
    assert "aten.conv2d" in demo["graph"] and '"f32[s' in demo["graph"]   # symbolic batch in the annotations


def test_trace_is_silently_wrong_on_the_other_branch_script_is_right():
    result = lesson.trace_vs_script()
    seen, other = result["rows"]
    assert seen["branch"] != other["branch"]
    assert seen["traced_diff"] <= 1e-6 and seen["scripted_diff"] <= 1e-6
    assert other["traced_diff"] > 1e-2           # the traced graph baked in the branch it saw
    assert other["scripted_diff"] <= 1e-6


def test_export_refuses_data_dependent_branch_and_torch_cond_fixes_it():
    demo = lesson.unexportable_demo()
    assert isinstance(demo["error"], HeroError) and demo["error"].code == "ch13.export_failed_data_dependent"
    assert demo["error"].params["hint"] == "data_dependent"
    assert max(demo["cond_diffs"]) <= 1e-6
    assert "cond" in demo["cond_graph"]


def test_grad_modes_saved_bytes_follow_autograd(cnn, digits):
    X, _ = digits
    rows = {r["mode"]: r for r in lesson.grad_modes(cnn, X[:8], repeats=2)}
    assert rows["grad"]["saved_bytes"] > 0 and rows["grad"]["requires_grad"]
    assert rows["no_grad"]["saved_bytes"] == 0 and not rows["no_grad"]["inference_tensor"]
    assert rows["inference_mode"]["saved_bytes"] == 0 and rows["inference_mode"]["inference_tensor"]
    # oracle: autograd's own graph saves at least the input of the first conv
    assert rows["grad"]["saved_bytes"] >= X[:8].numel() * 4


def test_train_vs_eval_dropout_and_batchnorm(cnn, digits):
    X, _ = digits
    demo = lesson.mode_demo(cnn, X[:16])
    assert demo["dropout_eval_spread"] == 0.0 and demo["dropout_train_spread"] > 0
    assert demo["bn_eval_diff"] <= 1e-6 and demo["bn_train_diff"] > 1e-3


def test_check_onnx_refuses_garbage_pickles_and_oversize():
    with pytest.raises(HeroError) as err:
        export.check_onnx(b"definitely not a protobuf \x00\xff" * 10)
    assert err.value.code == "ch13.not_onnx"

    class Boom:
        def __reduce__(self):
            return (exec, ("raise SystemExit('unpickled!')",))
    with pytest.raises(HeroError) as err:
        export.check_onnx(pickle.dumps(Boom()))    # parsed as protobuf data, never unpickled
    assert err.value.code == "ch13.not_onnx"
    with pytest.raises(HeroError) as err:
        export.check_onnx(b"0" * 100, max_bytes=10)
    assert err.value.code == "ch13.onnx_too_large"


def test_uploaded_checkpoint_pickle_is_refused():
    class Boom:
        def __reduce__(self):
            return (exec, ("raise SystemExit('unpickled!')",))
    buffer = io.BytesIO()
    torch.save({"w": Boom()}, buffer)
    with pytest.raises(HeroError):
        weights.read_checkpoint(buffer.getvalue())


def test_int8_graph_diff_and_accuracy(cnn, digits, onnx_model):
    X, y = digits
    int8 = export.quantize_onnx_int8(onnx_model)
    diff = export.graph_diff(export.onnx_nodes(onnx_model), export.onnx_nodes(int8))
    added = {a["op"] for a in diff["added"]}
    removed = {r["op"] for r in diff["removed"]}
    assert {"ConvInteger", "DynamicQuantizeLinear"} <= added and "Conv" in removed
    assert len(int8) < 0.6 * len(onnx_model)
    session = export.ort_session(int8)
    fp32 = export.accuracy(cnn, X, y)
    q = export.accuracy(lambda t: export.ort_predict(session, t.numpy()), X, y)
    assert abs(fp32 - q) <= 0.1


def test_torch_dynamic_int8_swaps_linear_and_shrinks(cnn, digits):
    X, _ = digits
    quantized, _ = export.torch_dynamic_int8(cnn)
    assert "DynamicQuantizedLinear" in str(quantized)
    assert export.state_bytes(quantized) < export.state_bytes(cnn)
    with torch.no_grad():
        agree = (quantized(X).argmax(1) == cnn(X).argmax(1)).float().mean()
    assert agree >= 0.9


def test_pruning_zeroes_exactly_the_smallest_weights(cnn, digits):
    X, y = digits
    pruned = export.pruned_copy(cnn, 0.5)
    weights_all = torch.cat([m.weight.detach().flatten() for m, _ in export.prunable(pruned)])
    original = torch.cat([m.weight.detach().flatten() for m, _ in export.prunable(cnn)])
    zero = weights_all == 0
    assert abs(zero.float().mean().item() - 0.5) < 1e-3
    # global L1: every zeroed weight was no larger in magnitude than every kept one
    assert original[zero].abs().max() <= original[~zero].abs().min()
    sizes = export.sparsity_sizes(pruned)
    assert sizes["sparse_bytes"] == 8 * sizes["nonzero"] and sizes["compressed_bytes"] < sizes["dense_bytes"]
    rows = lesson.prune_sweep(cnn, 8, (0.0, 0.9), eval_n=64, repeats=2)
    assert rows[0]["accuracy"] == export.accuracy(cnn, X, y)
    assert rows[1]["nonzero"] < rows[0]["nonzero"]


def test_race_tiny_rows_and_speedups(cnn):
    s = lesson.RaceSettings(batches=(1, 4), repeats=2, eval_n=32)
    result = lesson.race(cnn, s)
    rows = result["rows"]
    assert {r["runtime"] for r in rows} == set(s.runtimes)
    assert len(rows) == len(s.runtimes) * 2
    eager = [r for r in rows if r["runtime"] == "eager"]
    assert all(abs(r["speedup"] - 1) < 1e-9 for r in eager)
    ort = [r for r in rows if r["runtime"] == "onnxruntime"]
    assert all(r["accuracy_change"] == 0 for r in ort) and all(r["p95_ms"] >= r["p50_ms"] for r in rows)


def test_percentile_matches_numpy():
    values = [5.0, 1.0, 3.0, 2.0, 4.0, 10.0]
    for q in (50, 95, 99):
        assert export.percentile(values, q) == pytest.approx(np.percentile(values, q))


def test_content_hash_is_the_version(onnx_model):
    import hashlib
    assert export.content_hash(onnx_model) == hashlib.sha256(onnx_model).hexdigest()
    assert export.version_tag(onnx_model) == "v-" + hashlib.sha256(onnx_model).hexdigest()[:12]
    files = lesson.torchserve_files(export.version_tag(onnx_model), 8)
    assert export.version_tag(onnx_model) in files["config"] and "BaseHandler" in files["handler"]
