"""Chapter 9 lesson functions against oracles (TensorBoard's reader, direct computation, torch itself)."""
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from core import nets
from core.errors import HeroError
from core.i18n import error_text
from core.lessons import ch09_tricks as lesson
from tests.conftest import device_reaching_fit


pytestmark = pytest.mark.usefixtures("one_thread")


# --------------------------------------------------------------------------- 9.1–9.2

def test_random_shift_moves_images_by_at_most_k_pixels_and_is_identity_in_eval():
    torch.manual_seed(0)
    x = torch.zeros(50, 64)
    x[:, 3 * 8 + 4] = 1.0                                   # one lit pixel at (3, 4)
    layer = lesson.RandomShift(8, max_shift=1).train()
    out = layer(x).reshape(50, 8, 8)
    rows, cols = np.nonzero(out.numpy().sum(0))
    assert out.sum() == 50 and set(rows) <= {2, 3, 4} and set(cols) <= {3, 4, 5}
    assert len(set(zip(rows, cols))) > 3                      # it really varies per image
    assert torch.equal(layer.eval()(x), x)


def test_overfit_lab_runs_share_init_and_differ_only_as_listed():
    s = lesson.OverfitSettings(per_class=5, epochs=3, variants=("none", "weight_decay", "early_stop"))
    res = lesson.run_overfit_lab(s)
    assert list(res) == ["none", "weight_decay", "early_stop"]
    assert res["none"]["differs"] == {} and res["weight_decay"]["differs"] == {"weight_decay": s.weight_decay}
    # same seed, same batches, no regulariser difference in the first epoch → identical curves
    assert res["none"]["history"] == res["early_stop"]["history"]
    rows = lesson.gap_table(res)
    for row, run in zip(rows, res.values()):
        last = run["history"][-1]
        assert row["gap"] == pytest.approx(last["train_acc"] - last["val_acc"])
    split = lesson.overfit_split(5)
    assert len(split.y_train) == 50 and np.bincount(split.y_train.numpy()).tolist() == [5] * 10
    assert len(split.y_train) + len(split.y_val) == 1797


def test_overfit_variants_build_what_they_say():
    s = lesson.OverfitSettings()
    model, opt, _, _ = lesson.variant_setup(s, "batchnorm")
    assert any(isinstance(m, torch.nn.BatchNorm1d) for m in model.modules())
    model, opt, _, _ = lesson.variant_setup(s, "dropout")
    assert any(isinstance(m, torch.nn.Dropout) and m.p == s.dropout for m in model.modules())
    model, opt, _, _ = lesson.variant_setup(s, "augment")
    assert isinstance(model[0], lesson.RandomShift)
    _, opt, _, _ = lesson.variant_setup(s, "weight_decay")
    assert opt.param_groups[0]["weight_decay"] == s.weight_decay
    with pytest.raises(HeroError):
        lesson.run_overfit_lab(lesson.OverfitSettings(variants=("magic",), epochs=1, per_class=5))


def test_early_stopping_restores_the_best_epoch():
    s = lesson.OverfitSettings(per_class=5, epochs=30, patience=2, lr=3e-2, variants=("early_stop",))
    run = lesson.run_overfit_lab(s)["early_stop"]
    assert run["end"]["reason"] == "early_stop"
    best = min(run["history"], key=lambda e: e["val_loss"])
    assert lesson.gap_table({"early_stop": run})[0]["val_loss"] == best["val_loss"]


# --------------------------------------------------------------------------- 9.3

def test_lr_schedule_is_exactly_geometric_between_bounds():
    lrs = lesson.lr_schedule(1e-5, 1.0, 50)
    assert lrs[0] == pytest.approx(1e-5) and lrs[-1] == pytest.approx(1.0)
    np.testing.assert_allclose(lrs[1:] / lrs[:-1], (1.0 / 1e-5) ** (1 / 49), rtol=1e-12)


def test_lr_finder_uses_the_schedule_and_suggests_inside_it():
    split = lesson.digits_split()
    res = lesson.lr_finder(lesson.finder_model("mlp"), split.X_train, split.y_train, 1e-4, 10.0, 40, "sgd")
    np.testing.assert_allclose(res["lrs"], lesson.lr_schedule(1e-4, 10.0, 40)[:len(res["lrs"])])
    for key in ("steepest", "min_lr"):
        assert 1e-4 <= res[key] <= 10.0 and res[key] in res["lrs"]
    assert res["min_over_10"] == pytest.approx(res["min_lr"] / 10)
    assert res["steepest"] <= res["min_lr"]
    # the smoothed curve is the bias-corrected EMA of the raw losses
    avg, expect = 0.0, []
    for i, v in enumerate(res["losses"]):
        avg = 0.9 * avg + 0.1 * v
        expect.append(avg / (1 - 0.9 ** (i + 1)))
    np.testing.assert_allclose(res["smoothed"], expect, rtol=1e-9)
    with pytest.raises(HeroError) as err:
        lesson.lr_finder(lesson.finder_model("mlp"), split.X_train, split.y_train, 1.0, 1e-3, 40)
    assert err.value.code == "ch09.bad_lr_range"


# --------------------------------------------------------------------------- 9.4

def test_clipping_bounds_each_sgd_update_by_lr_times_max_norm():
    s = lesson.ClipSettings(depth=8, lr=0.5, max_norm=1.0, epochs=2)
    res = lesson.run_clipping(s)["runs"]
    clipped, free = res["clip"]["steps"], res["no_clip"]["steps"]
    assert max(e["grad_norm"] for e in clipped) > s.max_norm            # pre-clip norm is logged
    assert all(e["update_norm"] <= s.lr * s.max_norm * (1 + 1e-4) for e in clipped)
    # unclipped: the update is exactly lr · ‖g‖ for plain SGD, and it does exceed the bound
    for e in free:
        if math.isfinite(e["grad_norm"]):
            assert e["update_norm"] == pytest.approx(s.lr * e["grad_norm"], rel=1e-3)
    assert max(e["update_norm"] for e in free) > s.lr * s.max_norm


# --------------------------------------------------------------------------- 9.5

def test_tensorboard_files_read_back_with_the_logged_values(tmp_path):
    run = lesson.tensorboard_demo(tmp_path, "demo", epochs=2)
    events = lesson.read_events(run["run_dir"])
    assert events["files"] and events["graph"]
    logged: dict[str, list] = {}
    for tag, step, value in run["logged"]:
        logged.setdefault(tag, []).append((step, value))
    assert set(logged) == set(events["scalars"])
    for tag, pairs in logged.items():
        assert events["scalars"][tag]["steps"] == [p[0] for p in pairs]
        np.testing.assert_allclose(events["scalars"][tag]["values"], [p[1] for p in pairs], rtol=1e-6)
    model = nets.build("mlp", {"in_features": 64, "hidden": (64, 32), "out_features": 10})
    names = [n for n, _ in model.named_parameters()]
    assert set(events["histograms"]) == {f"weights/{n}" for n in names} | {f"grads/{n}" for n in names}
    assert [h["step"] for h in events["histograms"]["weights/net.0.weight"]] == [0, 1]
    assert sum(events["histograms"]["weights/net.0.weight"][0]["counts"]) == 64 * 64
    import zipfile, io
    names_in_zip = zipfile.ZipFile(io.BytesIO(lesson.zip_logdir(tmp_path))).namelist()
    assert any(n.startswith("demo/events.out.tfevents") for n in names_in_zip)


def test_graph_drawn_from_the_event_file_is_the_model(tmp_path):
    """The GraphDef read back holds the MLP's layers in data-flow order, with the widths the model has."""
    run = lesson.tensorboard_demo(tmp_path, "g", epochs=1)
    nodes = lesson.read_events(run["run_dir"])["graph_nodes"]
    assert nodes == lesson.read_graph(run["run_dir"])
    shown, edges = lesson.visible_graph(nodes)
    chain = [n["op"] for n in sorted(shown, key=lambda n: n["x"])]
    assert chain == ["IO Node", "aten::flatten", "aten::linear", "aten::relu", "aten::linear", "aten::relu",
                     "aten::linear", "IO Node"]
    assert [n["x"] for n in sorted(shown, key=lambda n: n["x"])] == list(range(8))   # one column per step
    assert len(edges) == 7 and all(shown[b]["x"] == shown[a]["x"] + 1 for a, b in edges)
    model = nets.build("mlp", {"in_features": 64, "hidden": (64, 32), "out_features": 10})
    widths = [m.out_features for m in model.modules() if isinstance(m, torch.nn.Linear)]
    assert [n["shape"][1] for n in sorted(shown, key=lambda n: n["x"]) if n["op"] == "aten::linear"] == widths
    assert {n["module"] for n in shown if n["op"] == "aten::linear"} == {"Linear[0]", "Linear[2]", "Linear[4]"}
    fig = lesson.graph_figure(nodes, "graph")
    assert sum(len(tr.x) for tr in fig.data) == len(shown) and len(fig.layout.annotations) == len(edges)


def test_zip_unzips_to_the_folder_the_command_opens(tmp_path):
    """Unzip the download, take the path from the shown command, read it as `tensorboard --logdir` does."""
    import io, zipfile
    logdir = tmp_path / "logs"
    lesson.tensorboard_demo(logdir, "mlp_run1", epochs=1)
    lesson.tensorboard_demo(logdir, "mlp_run2", epochs=1)
    home = tmp_path / "home"
    zipfile.ZipFile(io.BytesIO(lesson.zip_logdir(logdir, "ch09_tensorboard"))).extractall(home)
    command = lesson.tensorboard_command("ch09_tensorboard")
    assert command.startswith("tensorboard --logdir ")
    runs = lesson.read_logdir(home / command.split("--logdir ", 1)[1])
    assert set(runs) == {"mlp_run1", "mlp_run2"}
    for events in runs.values():
        assert events["graph"] and events["graph_nodes"] and "epoch/val_acc" in events["scalars"]


def test_prune_runs_keeps_the_newest(tmp_path):
    import os, time
    for i in range(5):
        (tmp_path / f"r{i}").mkdir()
        os.utime(tmp_path / f"r{i}", (time.time() + i, time.time() + i))
    lesson.prune_runs(tmp_path, keep=2)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r3", "r4"]


# --------------------------------------------------------------------------- 9.6 clinic

@pytest.fixture(scope="module")
def clinic():
    torch.set_num_threads(1)
    d = lesson.clinic_data()
    return d, {bug: lesson.run_clinic(bug, d, 40) for bug in lesson.BUGS}


def test_no_zero_grad_accumulates_gradients(clinic):
    _, res = clinic
    buggy, fixed = res["no_zero_grad"]["buggy"]["grad_norms"], res["no_zero_grad"]["fixed"]["grad_norms"]
    assert buggy[0] == pytest.approx(fixed[0])                         # same first step
    assert np.mean(buggy[-10:]) > 3 * np.mean(fixed[-10:])             # then the sum keeps growing
    assert buggy[-1] > buggy[5] > buggy[0]


def test_softmax_before_ce_shrinks_gradients_and_learning(clinic):
    _, res = clinic
    r = res["softmax_before_ce"]
    assert np.mean(r["buggy"]["grad_norms"]) < 0.3 * np.mean(r["fixed"]["grad_norms"])
    assert r["buggy"]["losses"][-1] > r["fixed"]["losses"][-1]


def test_eval_mode_forgotten_lowers_validation_accuracy():
    d = lesson.clinic_data()
    r = lesson.run_clinic("eval_mode", d, 60)
    assert r["buggy"]["losses"][0] == r["fixed"]["losses"][0]          # same model, same first batch
    assert np.mean(r["buggy"]["val_acc"][2:]) < np.mean(r["fixed"]["val_acc"][2:])   # dropout left on at eval
    # the fixed evaluation equals evaluating a trained-identically model in eval mode: deterministic
    assert r["fixed"]["val_acc"] == lesson.run_clinic("eval_mode", d, 60)["fixed"]["val_acc"]


def test_unnormalised_and_high_lr_fail_while_fixes_learn(clinic):
    _, res = clinic
    for bug in ("unnormalised", "lr_too_high"):
        assert res[bug]["buggy"]["val_acc"][-1] < 0.3, bug
        assert res[bug]["fixed"]["val_acc"][-1] > 0.6, bug
    assert res["unnormalised"]["buggy"]["losses"][0] > 10 * res["unnormalised"]["fixed"]["losses"][0]


def test_shuffled_labels_stay_at_chance(clinic):
    _, res = clinic
    assert res["shuffled_labels"]["buggy"]["val_acc"][-1] < 0.25
    assert res["shuffled_labels"]["fixed"]["val_acc"][-1] > 0.7


def test_wrong_device_raises_the_real_device_error(clinic):
    """On this CPU-only host the bug's model goes to ``meta``: the device error a GPU gives, not a dtype one."""
    _, res = clinic
    if torch.cuda.is_available():
        pytest.skip("checked by the GPU variant below")
    assert lesson.bug_device("cpu") == "meta" and lesson.bug_device("cuda") == "cuda"
    err = res["wrong_device"]["buggy"]["error"]
    assert isinstance(err, HeroError) and err.code == "ch09.device_mismatch"
    assert err.params["detail"] == "Tensor on device meta is not on the expected device cpu!"
    assert res["wrong_device"]["fixed"]["error"] is None and res["wrong_device"]["fixed"]["val_acc"][-1] > 0.5


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a GPU")
def test_wrong_device_on_a_gpu_is_cuda_against_cpu():
    r = lesson.run_clinic("wrong_device", lesson.clinic_data(), 10, device="cuda")
    assert r["buggy"]["error"].code == "ch09.device_mismatch" and "cuda" in r["buggy"]["error"].params["detail"]
    assert r["fixed"]["error"] is None


def test_clinic_answer_is_what_the_runs_measured(clinic):
    """No answer before every bug ran; then the bugs whose runs show the memorising signature."""
    _, res = clinic
    partial = {k: v for k, v in res.items() if k != "eval_mode"}
    assert lesson.measured_answer(partial) is None
    answer = lesson.measured_answer(res)
    rows = {r["bug"]: r for r in lesson.symptom_table(res)}
    assert answer == [bug for bug, row in rows.items() if row["memorises"]]
    for bug, row in rows.items():   # the rule, recomputed from the charts themselves
        b = res[bug]["buggy"]
        if b["error"] is None:
            assert row["loss_last"] == pytest.approx(np.mean(b["losses"][-5:]))
            assert row["val_acc"] == b["val_acc"][-1]
    # a loss that only falls from a huge start back to ln 10 is not learning; below ln 10 at chance is memorising
    base = {"error": None, "loss_first": 2900.0, "loss_last": 2.29, "val_acc": 0.11, "fixed_val_acc": 0.85}
    assert not lesson.learns_nothing(base)
    assert lesson.learns_nothing({**base, "loss_first": 2.32, "loss_last": 2.0})
    assert not lesson.learns_nothing({**base, "loss_last": 2.0, "val_acc": 0.5})
    assert not lesson.learns_nothing({**base, "loss_last": 2.0, "fixed_val_acc": 0.15})


def test_default_clinic_measures_shuffled_labels():
    runs = lesson.run_every_bug(lesson.clinic_data(), lesson.PRESETS["default"]["clinic_steps"])
    assert list(runs) == list(lesson.BUGS) and lesson.measured_answer(runs) == ["shuffled_labels"]


def test_wrong_dtype_raises_the_real_error_translated(clinic):
    _, res = clinic
    err = res["wrong_dtype"]["buggy"]["error"]
    assert isinstance(err, HeroError) and err.code == "ch09.dtype_mismatch"
    assert "dtype" in err.params["detail"] and "Double" in err.params["detail"]
    assert err.params["detail"] in error_text("en", err) and "PyTorch 的原话" in error_text("zh", err)
    assert res["wrong_dtype"]["fixed"]["error"] is None and res["wrong_dtype"]["fixed"]["val_acc"][-1] > 0.6


def test_every_fix_has_a_small_diff():
    for bug in lesson.BUGS:
        diff = lesson.bug_diff(bug)
        changed = [l for l in diff.splitlines() if l[:1] in "+-" and not l.startswith(("+++", "---"))]
        assert 1 <= len(changed) <= 8, (bug, diff)
    with pytest.raises(HeroError):
        lesson.run_clinic("gremlins", lesson.clinic_data(), 10)


# --------------------------------------------------------------------------- 9.6 hooks

def test_hook_statistics_equal_direct_computation():
    model = lesson.hook_model("kaiming", 4, "relu")
    d = lesson.clinic_data()
    X, y = d.X_train[:64], d.y_train[:64]
    rows = lesson.layer_statistics(model, X, y)
    # oracle: run the blocks by hand, keep each output's gradient with retain_grad
    outs, h = [], X
    for block in model.blocks:
        h = block(h)
        h.retain_grad()
        outs.append(h)
    model.zero_grad()
    F.cross_entropy(model.head(h), y).backward()
    for row, out, block in zip(rows, outs, model.blocks):
        assert row["act_std"] == pytest.approx(float(out.detach().std()), rel=1e-5)
        assert row["act_mean"] == pytest.approx(float(out.detach().mean()), rel=1e-5)
        assert row["dead_frac"] == pytest.approx(float((out <= 0).all(0).float().mean()))
        assert row["act_grad"] == pytest.approx(float(out.grad.abs().mean()), rel=1e-5)
        assert row["weight_grad"] == pytest.approx(float(block[0].weight.grad.abs().mean()), rel=1e-5)
    assert not any(block._forward_hooks or block._backward_hooks for block in model.blocks)   # hooks removed


def test_bad_inits_vanish_or_explode():
    tiny = lesson.compare_inits("tiny", 6, steps=5)
    assert tiny["bad"]["stats"][-1]["act_std"] < 1e-6 < tiny["healthy"]["stats"][-1]["act_std"]
    large = lesson.compare_inits("large", 6, steps=5)
    assert large["bad"]["stats"][-1]["act_std"] > 100 * large["healthy"]["stats"][-1]["act_std"]


# --------------------------------------------------------------------------- 9.7 and 9.8

def test_same_seed_same_curve_other_seed_different():
    r = lesson.reproducibility(3, 4, 8)
    assert r["same_seed_identical"] and r["same_seed_diff"] == 0.0
    assert r["other_seed_diff"] > 0 and r["unseeded_diff"] > 0
    assert len(r["runs"]["a1"]) == 8


def test_tune_the_ch08_sentiment_gru_with_clipping(tmp_path):
    s = lesson.TuneSettings(model="ch08_sentiment", source="en", reviews=300, epochs=1, finder_steps=10)
    res = lesson.tune_digits(s, tmp_path)
    assert res["model"] == "ch08_sentiment" and res["info"]["classes"] == ["negative", "positive"]
    tuned, base = res["runs"]["tuned"]["differs"], res["runs"]["baseline"]["differs"]
    assert tuned["grad_clip"] == 1.0 and base["grad_clip"] == 0.0 and base["lr"] == 3e-3
    assert tuned["lr"] == res["finder"]["steepest"]
    runs = lesson.read_logdir(tmp_path)
    assert set(runs) == {"baseline", "tuned"} and all(r["graph"] for r in runs.values())
    assert any(n["op"] == "aten::embedding" for n in runs["tuned"]["graph_nodes"])
    # a shelf model keeps its own vocabulary, and both runs start from its weights
    model, info = res["runs"]["tuned"]["model"], res["info"]
    task = lesson.tune_task(s, model, info)
    assert task.split.X_train.max() < len(info["vocab"])
    first, again = task.make_model(), task.make_model()
    for a, b, c in zip(first.parameters(), again.parameters(), model.parameters()):
        assert torch.equal(a, b) and torch.equal(a, c)


def test_tune_the_ch07_resnet_keeps_chapter_7s_freezing(tmp_path):
    from core.lessons import ch07_vision as vision
    s = lesson.TuneSettings(model="ch07_resnet", photos=4, epochs=1, finder_steps=10)
    task = lesson.tune_task(s)
    net = task.make_model()
    frozen = vision.freeze(vision.transfer_net(vision.pretrained_backbone(False), len(task.info["classes"])),
                           vision.FinetuneSettings().freeze)
    assert list(net.frozen) == frozen                       # whatever chapter 7's recipe freezes
    assert all(p.requires_grad == (g not in frozen) for g in net.groups for p in net.groups[g].parameters())
    assert task.baseline_lr == vision.FinetuneSettings().lr and task.batch_size == vision.FinetuneSettings().batch_size
    res = lesson.run_tuning(task, s, tmp_path)
    assert {r["run"] for r in res["table"]} == {"baseline", "tuned"} and res["info"]["classes"]
    assert lesson.read_logdir(tmp_path)["tuned"]["graph"]
    with pytest.raises(HeroError):
        lesson.tune_task(lesson.TuneSettings(model="gpt5"))


def test_tune_logs_both_runs_and_uses_the_finder_lr(tmp_path):
    res = lesson.tune_digits(lesson.TuneSettings(epochs=2, finder_steps=20), tmp_path)
    assert set(res["runs"]) == {"baseline", "tuned"}
    assert res["runs"]["tuned"]["differs"]["lr"] == res["finder"]["steepest"]
    assert res["runs"]["baseline"]["differs"]["lr"] == 3e-3
    for name, run in res["runs"].items():
        events = lesson.read_events(run["run_dir"])
        assert events["graph"] and events["scalars"]["epoch/val_acc"]["values"][-1] == pytest.approx(
            run["history"][-1]["val_acc"], rel=1e-6)
    assert {r["run"] for r in res["table"]} == {"baseline", "tuned"}
    with pytest.raises(HeroError):
        lesson.tune_digits(lesson.TuneSettings(epochs=0), tmp_path)


# --------------------------------------------------------------------------- platform: device, range check, checks

def test_out_of_range_settings_use_the_shared_range_check():
    with pytest.raises(HeroError) as err:
        lesson.run_clipping(lesson.ClipSettings(depth=99))
    assert err.value.code == "range" and err.value.params["name"] == "depth"
    with pytest.raises(HeroError) as err:
        lesson.tune_digits(lesson.TuneSettings(weight_decay=float("nan")), "/nonexistent")
    assert err.value.code == "range"


@pytest.mark.parametrize("module, call", [
    ("overfitting", lambda: lesson.run_overfit_lab(lesson.OverfitSettings(per_class=3, epochs=1, variants=("augment",),
                                                                          device="meta"))),
    ("clipping", lambda: lesson.run_clipping(lesson.ClipSettings(epochs=1, device="meta"))),
    ("tensorboard_logs", lambda: lesson.train_with_tensorboard(
        "/tmp", "x", lesson.finder_model("mlp"), lesson.digits_split(), None, 1, device="meta")),
])
def test_training_lessons_hand_their_device_to_fit(monkeypatch, module, call):
    """The model is on ``device`` when ``fit`` starts, and ``fit`` gets that device (and AMP for it)."""
    import importlib
    mod = importlib.import_module(f"core.lessons.ch09_tricks.{module}")
    if module == "tensorboard_logs":    # add_graph cannot trace on meta: check the fit call only
        import torch.utils.tensorboard as tb
        monkeypatch.setattr(tb.SummaryWriter, "add_graph", lambda *a, **k: None)
    assert device_reaching_fit(monkeypatch, mod, call) == {"fit": "meta", "model": "meta"}


def test_random_shift_makes_its_indices_on_the_input_device():
    shift = lesson.RandomShift(8, 1).train()
    out = shift(torch.zeros(3, 64, device="meta"))
    assert out.device.type == "meta" and out.shape == (3, 64)


def test_lr_finder_moves_batches_to_its_device(monkeypatch):
    split = lesson.digits_split()
    model = lesson.finder_model("mlp")
    r = lesson.lr_finder(model, split.X_train, split.y_train, steps=10, device="cpu")
    assert len(r["lrs"]) == 10 and next(model.parameters()).device.type == "cpu"
    with pytest.raises(RuntimeError, match="item"):   # forward and backward ran on meta; only .item() cannot
        lesson.lr_finder(lesson.finder_model("mlp"), split.X_train, split.y_train, steps=10, device="meta")


def test_generic_layer_statistics_match_the_deep_mlp_hooks():
    """The hooks for any model (Linear/Conv outputs) agree with the deep_mlp block hooks on what both measure."""
    model = lesson.hook_model("kaiming", 3)
    d = lesson.clinic_data()
    X, y = d.X_train[:128], d.y_train[:128]
    blocks = lesson.layer_statistics(model, X, y)
    generic = lesson.model_layer_statistics(model, X, y)
    linear_rows = [r for r in generic if r["kind"] == "Linear"][:len(blocks)]
    for b, g in zip(blocks, linear_rows):
        assert g["weight_grad"] == pytest.approx(b["weight_grad"], rel=1e-5)


def test_tuned_model_comes_back_on_the_cpu_and_scores_like_its_table(tmp_path):
    r = lesson.tune_digits(lesson.TuneSettings(epochs=1, finder_steps=10), tmp_path)
    model = r["runs"]["tuned"]["model"]
    assert next(model.parameters()).device.type == "cpu" and r["image_size"] == 8
    score = lesson.score_classifier(model, "digits")
    assert score["val_acc"] == pytest.approx(lesson.best_val(r["runs"]["tuned"])["val_acc"], abs=1e-6)
    from core.lessons import TRAINERS
    import core.lessons.ch09_tricks.tune_models  # noqa: F401  (registers the ch07/ch08 tuning check)
    assert {"ch09_overfit", "ch09_clipping", "ch09_lr_finder", "ch09_tensorboard", "ch09_tune", "ch09_tune_models"} <= set(TRAINERS)
