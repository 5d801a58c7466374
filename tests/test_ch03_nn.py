"""Chapter 3 lesson functions against oracles: real layers, finite differences, the formulas."""
import subprocess
import sys

import numpy as np
import pytest
import torch
from hypothesis import assume, HealthCheck, given, settings
from hypothesis import strategies as st
from torch import nn

from core import data
from core.errors import HeroError
from core.lessons import ch03_nn as lesson

DIAGNOSED = {"ch03.linear_features", "ch03.conv_rank", "ch03.conv_channels", "ch03.too_small",
             "ch03.output_too_small", "ch03.bad_output_padding", "ch03.pool_padding", "ch03.rnn_rank",
             "ch03.rnn_features", "ch03.bn_rank", "ch03.bn_features", "ch03.bn_batch", "ch03.bad_dim"}


def real_shape(name, hp, shape):
    """Oracle: build the layer with torch directly and run it; None if torch refuses."""
    layer = lesson.build_layer(name, hp)
    try:
        with torch.no_grad():
            out = layer(torch.randn(shape))
    except (RuntimeError, ValueError, IndexError):
        return None
    return tuple((out[0] if isinstance(out, tuple) else out).shape)


def hp_strategy(name):
    small = {"in_features": (1, 6), "out_features": (1, 6), "in_channels": (1, 3), "out_channels": (1, 4),
             "kernel_size": (1, 5), "stride": (1, 3), "padding": (0, 3), "dilation": (1, 2), "output_padding": (0, 2),
             "input_size": (1, 5), "hidden_size": (1, 4), "num_layers": (1, 2), "output_h": (1, 4), "output_w": (1, 4),
             "num_features": (1, 4), "dim": (-4, 3)}
    fields = {}
    for h in lesson.LAYERS[name].hps:
        if isinstance(h.default, bool):
            fields[h.name] = st.booleans()
        elif isinstance(h.default, float):
            fields[h.name] = st.floats(0.0, 0.9)
        else:
            fields[h.name] = st.integers(*small[h.name])
    return st.fixed_dictionaries(fields)


@pytest.mark.parametrize("name", list(lesson.LAYERS))
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_explorer_agrees_with_the_real_layer(name, data):
    hp = data.draw(hp_strategy(name))
    shape = tuple(data.draw(st.lists(st.integers(1, 7), min_size=1, max_size=5)))
    # torch documents AdaptiveAvgPool2d for 3-D/4-D input only, but a 5-D input whose H×W already
    # equals the output size slips through an identity fast path: an undocumented quirk, not a rule.
    assume(not (name == "AdaptiveAvgPool2d" and len(shape) > 4))
    expected = real_shape(name, hp, shape)
    try:
        report = lesson.run_layer(name, hp, shape)
    except HeroError as err:
        assert expected is None, f"we refused {shape} but torch gave {expected}: {err.code}"
        assert err.code in DIAGNOSED, (err.code, err.params)        # explained, not just "other"
        assert err.params["torch_error"]                             # PyTorch's own message kept
        return
    assert expected is not None, f"torch refused {shape} but we did not"
    assert report.out_shape == report.predicted_shape == expected
    layer = lesson.build_layer(name, hp)
    assert report.n_params == sum(p.numel() for p in layer.parameters()) == lesson.formula_params(name, hp)


@pytest.mark.parametrize("name", list(lesson.LAYERS))
def test_default_settings_run_and_count(name):
    report = lesson.run_layer(name, lesson.default_hp(name), lesson.LAYERS[name].default_shape)
    assert report.out_shape == report.predicted_shape
    layer = lesson.build_layer(name, report.hp)
    assert report.params == [(n, tuple(p.shape), p.numel()) for n, p in layer.named_parameters()]
    assert report.n_params == lesson.formula_params(name, report.hp)


def test_lstm_reports_hidden_and_cell_state():
    report = lesson.run_layer("LSTM", {"input_size": 28, "hidden_size": 16, "num_layers": 2, "bidirectional": True},
                              (3, 28, 28))
    assert report.out_shape == (3, 28, 32) and report.extra == {"h_n": (4, 3, 16), "c_n": (4, 3, 16)}


@pytest.mark.parametrize("name, hp, shape, code, params", [
    ("Linear", {"in_features": 64, "out_features": 10}, (1, 28), "ch03.linear_features", {"expected": 64, "got": 28}),
    ("Conv2d", {"in_channels": 1}, (1, 784), "ch03.conv_rank", {"ndim": 2}),
    ("Conv2d", {"in_channels": 3}, (1, 1, 28, 28), "ch03.conv_channels", {"expected": 3, "got": 1}),
    ("Conv2d", {"kernel_size": 5}, (1, 1, 3, 3), "ch03.too_small", {"size": 3, "kernel": 5}),
    ("MaxPool2d", {"kernel_size": 2, "padding": 2}, (1, 1, 8, 8), "ch03.pool_padding", {"limit": 1}),
    ("LSTM", {"input_size": 28}, (1, 8, 8), "ch03.rnn_features", {"expected": 28, "got": 8}),
    ("GRU", {"input_size": 28}, (1, 1, 28, 28), "ch03.rnn_rank", {"ndim": 4}),
    ("BatchNorm1d", {"num_features": 64}, (1, 64), "ch03.bn_batch", {}),
    ("BatchNorm2d", {"num_features": 1}, (16, 784), "ch03.bn_rank", {"ndim": 2}),
    ("BatchNorm1d", {"num_features": 64}, (8, 32), "ch03.bn_features", {"expected": 64, "got": 32}),
    ("Softmax", {"dim": 2}, (1, 10), "ch03.bad_dim", {"lo": -2, "hi": 1}),
    ("ConvTranspose2d", {"stride": 1, "output_padding": 1}, (1, 1, 8, 8), "ch03.bad_output_padding", {}),
])
def test_real_shape_errors_are_explained(name, hp, shape, code, params):
    with pytest.raises(HeroError) as info:
        lesson.run_layer(name, hp, shape)
    assert info.value.code == code
    assert params.items() <= info.value.params.items()
    assert info.value.params["torch_error"]


def test_inputs_and_costs_are_bounded():
    for text in ("1, 2, x", "", "1,-1", "eval('1')"):
        with pytest.raises(HeroError, match="ch03.bad_shape"):
            lesson.parse_shape(text)
    assert lesson.parse_shape("[1, 1, 28, 28]") == (1, 1, 28, 28) == lesson.parse_shape("1x1x28x28")
    with pytest.raises(HeroError, match="shape_limits"):
        lesson.parse_shape("1000, 1000, 2")
    with pytest.raises(HeroError, match="too_costly"):
        lesson.run_layer("Conv2d", {"in_channels": 256, "out_channels": 256, "kernel_size": 11}, (1, 256, 60, 60))
    with pytest.raises(HeroError, match="bad_hp"):
        lesson.run_layer("Linear", {"in_features": 10**6}, (1, 10))


@pytest.mark.parametrize("name", list(lesson.LAYERS))
def test_layer_on_a_real_digit(name):
    ds = data.load("digits")
    effect = lesson.layer_on_digit(name, lesson.default_hp(name), ds.X[3].reshape(8, 8), "edges",
                                   ds.X[:16].reshape(-1, 8, 8))
    assert effect.panels and all(np.isfinite(p).all() for p in effect.panels)
    assert lesson.effect_figure(effect).data


def test_hand_set_kernels_detect_edges():
    """Sobel-x written into channel 0 equals scipy's correlation of the digit with that kernel."""
    from scipy.signal import correlate2d
    img = data.load("digits").X[0].reshape(8, 8)
    effect = lesson.layer_on_digit("Conv2d", {"out_channels": 2, "kernel_size": 3}, img, "edges")
    assert effect.titles[1] == "sobel_x"
    np.testing.assert_allclose(effect.panels[1], correlate2d(img, np.array(lesson.EDGE_KERNELS_2D["sobel_x"]), "valid"),
                               atol=1e-5)


def test_module_anatomy_hooks_and_params():
    a = lesson.module_anatomy(data.load("digits").X[0].reshape(8, 8), hidden=16)
    assert a["n_params"] == 64 * 16 + 16 + 16 * 10 + 10 == sum(n for _, _, n in a["parameters"])
    assert [c for c, _ in a["children"]] == ["hidden", "act", "out"]
    assert a["hook_calls_call"] == 1 and a["hook_calls_forward"] == 0   # forward() bypasses hooks


@pytest.mark.parametrize("name", lesson.ACTIVATIONS)
def test_activation_derivatives_match_finite_differences(name):
    curves = lesson.activation_curves([name], slope=0.1)
    x = curves["x"]
    f = lesson.activation_fn(name, 0.1)
    h = 1e-6
    away = np.abs(x) > 1e-3                                  # ReLU-like kinks at 0 have no derivative
    xt = torch.tensor(x[away], dtype=torch.float64)
    fd = ((f(xt + h) - f(xt - h)) / (2 * h)).numpy()
    np.testing.assert_allclose(curves[name]["dy"][away], fd, atol=1e-6)
    np.testing.assert_allclose(curves[name]["y"], f(torch.tensor(x)).numpy(), atol=1e-12)


def test_dropout_train_vs_eval():
    x = torch.rand(200, 200) + 0.5
    d = lesson.dropout_train_eval(x, 0.3)
    assert d["eval_identity"] and d["train_differ"]
    kept = d["train_a"] != 0
    torch.testing.assert_close(d["train_a"][kept], x[kept] / 0.7)       # survivors scaled by 1/(1-p)
    assert abs(d["zero_fraction"] - 0.3) < 0.02


def test_batchnorm_running_stats_and_eval_formula():
    X = torch.tensor(data.load("digits").X)
    bn = lesson.batchnorm_train_eval(X, batch_size=32, steps=60, momentum=0.1, watch=36)
    assert bn["num_batches_tracked"] == 62        # 60 steps + the two train-mode comparison batches
    assert abs(bn["running_mean"][-1] - bn["data_mean"]) < 0.1 * abs(bn["data_mean"]) + 0.02
    assert bn["running_mean"][0] == 0.0
    assert not torch.allclose(bn["train_outs"][0], bn["train_outs"][1])    # depends on the batch
    torch.testing.assert_close(bn["eval_outs"][0], bn["eval_outs"][1])
    m = bn["module"]
    formula = (bn["sample"] - m.running_mean) / torch.sqrt(m.running_var + m.eps) * m.weight + m.bias
    torch.testing.assert_close(bn["eval_outs"][0], formula.detach())


@pytest.mark.parametrize("kind", lesson.CONTAINERS)
def test_container_summary_counts_and_shapes(kind):
    blocks = [{"type": "Conv2d", "arg": 4}, {"type": "BatchNorm2d"}, {"type": "ReLU"}, {"type": "MaxPool2d", "arg": 2},
              {"type": "AdaptiveAvgPool2d", "arg": 2}, {"type": "Flatten"}, {"type": "Linear", "arg": 10}]
    x = torch.randn(4, 1, 8, 8)
    model = lesson.build_container(kind, blocks, tuple(x.shape))
    s = lesson.summarize(model, x)
    assert s["total"] == sum(r["params"] for r in s["rows"]) == sum(p.numel() for p in model.parameters())
    assert [r["output"] for r in s["rows"]] == [(4, 4, 8, 8), (4, 4, 8, 8), (4, 4, 8, 8), (4, 4, 4, 4), (4, 4, 2, 2),
                                                (4, 16), (4, 10)]
    h = x                                                            # oracle: run the layers by hand
    for layer in (m for m in model.modules() if next(m.children(), None) is None):
        h = layer.eval()(h)
    torch.testing.assert_close(model.eval()(x), h)
    namespace = {}
    exec(lesson.container_snippet(kind, model), namespace)          # the shown code really builds it
    assert sum(p.numel() for p in namespace["model"].parameters()) == s["total"]


def test_container_shape_error_names_the_layer():
    with pytest.raises(HeroError) as info:
        lesson.build_container("Sequential", [{"type": "Flatten"}, {"type": "Conv2d", "arg": 4}], (4, 1, 8, 8))
    assert info.value.code == "ch03.conv_rank" and info.value.params["position"] == 2
    with pytest.raises(HeroError, match="empty_stack"):
        lesson.build_container("Sequential", [], (4, 1, 8, 8))


def test_init_trends_through_ten_layers():
    std = lambda init, act="relu": [r["std"] for r in lesson.init_activation_stats(init, act, width=128, n=256)["layers"]]
    kaiming = std("kaiming_normal")
    assert 0.3 < kaiming[-1] / kaiming[0] < 3                     # He init keeps ReLU activations stable
    normal = std("normal")
    assert normal[-1] > 1e6 * normal[0] and all(b > a for a, b in zip(normal, normal[1:]))   # explodes
    small = std("normal_small")
    assert small[-1] < 1e-6 * small[0] and all(b < a for a, b in zip(small, small[1:]))     # vanishes
    assert std("zeros") == [0.0] * 10
    xavier_tanh = std("xavier_uniform", "tanh")
    assert 0.2 < xavier_tanh[-1] / xavier_tanh[0] < 2
    stats = lesson.init_activation_stats("orthogonal", "tanh", width=64, n=128)
    assert sum(stats["layers"][0]["counts"]) == 4096            # the histogram samples 4k values
    assert lesson.std_per_layer_figure({"o": stats}).data and lesson.init_histogram_figure(stats).data


def test_apply_init_matches_torch_init():
    layer = nn.Linear(300, 300)
    lesson.apply_init(layer, "kaiming_normal", "relu")
    assert abs(float(layer.weight.detach().std()) - np.sqrt(2 / 300)) < 0.005
    lesson.apply_init(layer, "orthogonal", "tanh")
    gain = nn.init.calculate_gain("tanh")
    torch.testing.assert_close(layer.weight @ layer.weight.T, gain**2 * torch.eye(300), atol=1e-4, rtol=0)


def test_parameter_table_and_state_dict():
    model = lesson.build_container("Sequential", lesson.DEFAULT_STACK, (4, 1, 8, 8))
    rows = lesson.parameter_table(model)
    params = [r for r in rows if r["kind"] == "parameter"]
    assert sum(r["numel"] for r in params) == sum(p.numel() for p in model.parameters())
    assert [r["name"] for r in params] == [n for n, _ in model.named_parameters()]
    sd = lesson.state_dict_summary(model)
    assert set(sd["state_dict_keys"]) == set(model.state_dict())
    assert set(sd["buffer_keys"]) == {"2.running_mean", "2.running_var", "2.num_batches_tracked"}


def test_mlp_build_forward_and_short_training():
    s = lesson.MLPSettings(dataset="digits", depth=2, width=32, dropout=0.1, epochs=3)
    model = lesson.build_mlp(s)
    assert sum(p.numel() for p in model.parameters()) == 64 * 32 + 32 + 32 * 32 + 32 + 32 * 10 + 10
    out = lesson.mlp_forward(model, "digits", n=100)
    assert out["output_shape"] == (100, 10) and abs(out["probs"].sum() - 1) < 1e-5
    run = lesson.train_mlp(s)
    assert run.ok and run.end["val_acc"] > 0.7 > 3 * out["accuracy"] and len(run.history) == 3
    with pytest.raises(HeroError, match="bad_mlp"):
        lesson.build_mlp(lesson.MLPSettings(width=10_000))


def test_layer_snippet_runs():
    report = lesson.run_layer("Conv2d", {"stride": 2}, (1, 1, 28, 28))
    out = subprocess.run([sys.executable, "-c", lesson.layer_snippet(report)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and "torch.Size([1, 8, 13, 13])" in out.stdout and "80" in out.stdout


def test_train_mlp_runs_on_the_settings_device(monkeypatch):
    """The device field reaches fit: a meta-device run cannot produce a loss value; fit sees the
    device and the AMP callbacks of that device; the model comes back on the CPU."""
    with pytest.raises((NotImplementedError, RuntimeError)):
        lesson.train_mlp(lesson.MLPSettings(epochs=1, max_steps=2, device="meta"))
    from core.lessons.ch03_nn import mlp
    seen, real_fit = {}, mlp.fit

    def spy(*args, **kwargs):
        seen.update(device=str(kwargs["device"]), callbacks=[type(c).__name__ for c in kwargs["callbacks"]])
        return real_fit(*args, **kwargs)
    monkeypatch.setattr(mlp, "fit", spy)
    monkeypatch.setattr(mlp, "amp_callbacks", lambda device: [mlp.NaNGuard()])
    run = lesson.train_mlp(lesson.MLPSettings(epochs=1, max_steps=5))
    assert seen == {"device": "cpu", "callbacks": ["NaNGuard", "NaNGuard"]}
    assert {p.device.type for p in run.model.parameters()} == {"cpu"} and not run.model.training


def test_mlp_trainer_check_is_registered():
    from core.lessons import TRAINERS
    assert TRAINERS["ch03_mlp"]("cpu", "tiny")["val_acc"] > 0.3


def test_container_snippet_prints_the_model_and_its_output_shape():
    model = lesson.build_container("Sequential", lesson.DEFAULT_STACK, (4, 1, 8, 8))
    out = subprocess.run([sys.executable, "-c", lesson.container_snippet("Sequential", model, (4, 1, 8, 8))],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and "torch.Size([4, 10])" in out.stdout and "Sequential(" in out.stdout


def test_mlp_script_trains_every_compared_run(tmp_path):
    """Issue 15.7: the take-home script trains the pinned runs too, same split and seed."""
    from core import takehome
    s = lesson.MLPSettings(epochs=1, max_steps=5)
    other = lesson.MLPSettings(epochs=1, max_steps=5, activation="tanh", width=16)
    text = takehome.script(lesson.build_mlp, lesson.mlp_forward, lesson.train_mlp, filename="ch03_mlp.py",
                           registry_keys={"digits", "mlp"}, main=lesson.mlp_main(s, (s, other)),
                           requires=["scikit-learn"])
    (tmp_path / "ch03_mlp.py").write_text(text)
    out = subprocess.run([sys.executable, "ch03_mlp.py"], cwd=tmp_path, capture_output=True, text=True, timeout=600,
                         env={"PATH": "/usr/bin:/bin", "HERO_TINY": "1"})
    assert out.returncode == 0, out.stderr[-2000:]
    lines = [l for l in out.stdout.splitlines() if "val_acc per epoch" in l]
    assert lines[0].startswith("2x64 relu") and lines[1].startswith("2x16 tanh")
    run = lesson.train_mlp(lesson.MLPSettings(epochs=1, max_steps=20))       # TINY: 1 epoch, 20 steps
    assert f"{run.history[-1]['val_acc']:.3f}" == lines[0].split()[-1]
