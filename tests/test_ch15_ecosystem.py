"""Chapter 15 lessons against oracles: Captum's attributions against their definitions (IG completeness,
saliency = |autograd.grad|, one-window occlusion = f(x) − f(0)), the plain GCN against PyG's GCNConv and
gcn_norm, Lightning's batches against core.train.fit's, the Optuna study's storage, pruning and budget."""
import os
import threading

import numpy as np
import pytest
import torch

from core import nets, weights
from core.nets.gcn import normalized_adjacency
from core.errors import HeroError
from core.lessons.ch08_nlp.tokens import Vocab
from core.lessons.ch13_deployment import eval_set
from core.lessons.ch15_ecosystem import attributions as attr
from core.lessons.ch15_ecosystem import chooser, gnn
from core.lessons.ch15_ecosystem import lightning_run as lit
from core.lessons.ch15_ecosystem import study as opt
from core.train import _batches


@pytest.fixture(scope="module")
def digits_model():
    return weights.load("ch05_digits_cnn").model.eval()


def test_integrated_gradients_are_complete(digits_model):
    out = attr.explain_validation_digit(digits_model, attr.DigitAttrSettings(index=5, ig_steps=64))
    with torch.no_grad():
        X, _ = eval_set(8)
        x = X[5:6]
        gap = float(digits_model(x)[0, out["target"]] - digits_model(torch.zeros_like(x))[0, out["target"]])
    assert out["output_gap"] == pytest.approx(gap, abs=1e-5)
    # completeness: Σ attributions = f(x) − f(baseline), up to the Riemann sum's error
    assert abs(out["ig_sum"] - gap) < 0.02 * abs(gap) + 1e-3
    assert out["ig_delta"] == pytest.approx(out["ig_sum"] - gap, abs=1e-4)


def test_saliency_is_the_absolute_gradient(digits_model):
    X, _ = eval_set(8)
    x = X[7:8].clone().requires_grad_(True)
    out = attr.explain_digit(digits_model, X[7:8], target=3, ig_steps=4)
    (grad,) = torch.autograd.grad(digits_model(x)[0, 3], x)
    np.testing.assert_allclose(out["maps"]["saliency"], grad[0, 0].abs().numpy(), rtol=1e-5, atol=1e-7)


def test_one_window_occlusion_is_the_whole_output_drop(digits_model):
    X, _ = eval_set(8)
    out = attr.explain_digit(digits_model, X[:1], target=-1, ig_steps=4, window=8)
    # a single 8×8 patch covers every pixel once: each pixel gets f(x) − f(black)
    np.testing.assert_allclose(out["maps"]["occlusion"], np.full((8, 8), out["output_gap"]), rtol=1e-5, atol=1e-5)


def test_compare_models_explains_the_same_digits(digits_model):
    cmp = attr.compare_models({"a": digits_model, "b": digits_model}, n=3, ig_steps=8)
    assert cmp["images"].shape == (3, 8, 8) and set(cmp["maps"]) == {"a", "b"}
    np.testing.assert_allclose(cmp["maps"]["a"], cmp["maps"]["b"])


def test_token_attributions_are_complete():
    torch.manual_seed(0)
    model = nets.build("ch08_rnn_classifier", {"vocab_size": 6, "embed_dim": 8, "hidden": 8}).eval()
    vocab = Vocab(["<pad>", "<unk>", "good", "bad", "film", "a"])
    out = attr.token_attributions(model, vocab, "a good film zzz", max_len=10, ig_steps=128)
    assert out["tokens"] == ["a", "good", "film", "zzz"] and out["known"] == [True, True, True, False]
    ids = torch.tensor([vocab.encode(out["tokens"])])
    with torch.no_grad():   # baseline: the zero embedding at every real position (the mask stays the real one)
        mask = ids != 0
        gap = float(model(ids)[0, 1] - model.forward_embedded(torch.zeros(1, 4, 8), mask)[0, 1])
    assert float(out["scores"].sum()) == pytest.approx(gap, abs=2e-3)
    with pytest.raises(HeroError):
        attr.token_attributions(model, vocab, "   ")


def test_plain_gcn_equals_pyg_gcnconv():
    from torch_geometric.nn.conv.gcn_conv import gcn_norm
    data = gnn.karate()
    a_hat = normalized_adjacency(data.edge_index, 34)
    ei, w = gcn_norm(data.edge_index, num_nodes=34, add_self_loops=True)
    dense = torch.zeros(34, 34)
    dense[ei[1], ei[0]] = w
    torch.testing.assert_close(a_hat, dense)
    assert gnn.same_outputs()["max_abs_diff"] < 1e-5


def test_gnn_trains_and_keeps_frames():
    r = gnn.train_gnn(gnn.GNNSettings(conv="plain", epochs=30, frames=5))
    assert len(r.frames) >= 5 and r.frames[0]["emb"].shape == (34, 2)
    assert r.frames[-1]["loss"] < r.frames[0]["loss"]
    assert 0.0 <= r.accuracy <= 1.0


def test_lightning_sees_exactly_fits_batches():
    X, y = torch.arange(10.0)[:, None], torch.arange(10)
    gen = torch.Generator().manual_seed(3)
    order = lit.FitOrder(10, 4, seed=3)
    data = lit.TensorBatches(X, y)
    for _ in range(2):   # two epochs: a new permutation each, from the same generator as fit's
        ours = [data.__getitems__(idx)[1].tolist() for idx in order]
        fits = [b.tolist() for _, b in _batches((X, y), 4, shuffle=True, generator=gen)]
        assert ours == fits


def test_lightning_run_matches_the_plain_loop_and_leaves_no_files(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    events = []
    runs = lit.compare_loops(lit.LitSettings(epochs=1), None, events.append)
    assert os.listdir(tmp_path) == []         # no lightning_logs/, no checkpoints
    plain, light = runs["plain"], runs["lightning"]
    assert plain.ok and light.ok and len(light.history) == 1 and light.logged
    # same weights and batches: the validation accuracy after one epoch is close (dropout masks differ)
    assert abs(plain.end["val_acc"] - light.end["val_acc"]) < 0.1
    steps = [e for e in events if e["kind"] == "step"]
    assert steps[-1]["step"] == steps[-1]["total_steps"] and {e["run"] for e in steps} == {"plain", "lightning"}


def test_lightning_stops_when_asked():
    stop = threading.Event()

    def emit(event):
        if event["kind"] == "step" and event["step"] >= 3:
            stop.set()
    r = lit.train_lightning(lit.LitSettings(epochs=3), stop, emit)
    assert r.end["reason"] == "stopped" and r.end["step"] < 10


def test_budget_too_large_is_a_hero_error():
    with pytest.raises(HeroError) as err:
        opt.check_budget(opt.StudySettings(n_trials=100, epochs=10))
    assert err.value.code == "ch15.budget" and err.value.params["budget"] == 1000
    assert opt.check_budget(opt.StudySettings(n_trials=2, epochs=3)) == 6


def test_study_streams_trials_and_stores_sqlite():
    events = []
    r = opt.run_study(opt.StudySettings(n_trials=2, epochs=1), None, events.append)
    assert r.storage.startswith(b"SQLite format 3")
    assert [e["number"] for e in events if e["kind"] == "trial"] == [0, 1]
    assert r.best is not None and set(r.models) == {r.best, r.worst}
    assert len(r.study.trials) == 2
    figs = opt.figures(r.study)
    assert figs["history"] is not None and figs["parallel"] is not None


def test_median_pruner_prunes_a_trial_below_the_median(monkeypatch):
    """With val_acc fixed per trial (0.9, 0.8, then 0.1), the third trial is pruned after its first epoch."""
    import optuna
    accs = iter([0.9, 0.8, 0.1, 0.1])

    def fake_train(s, stop_event=None, emit=None, split=None, callbacks=()):
        acc = next(accs)
        trial_cb = callbacks[0]

        class FakeTrainer:
            current_epoch, should_stop = 0, False

        class FakeModule:
            val_metrics = {"val_acc": acc}
        history = []
        for epoch in range(s.epochs):
            t = FakeTrainer()
            t.current_epoch = epoch
            trial_cb.on_validation_end(t, FakeModule())
            history.append({"val_acc": acc})
            if t.should_stop:
                break
        return lit.LitResult(torch.nn.Linear(1, 1), {}, "lightning", history, {"val_acc": acc, "reason": "completed"})
    monkeypatch.setattr(opt, "train_lightning", fake_train)
    r = opt.run_study(opt.StudySettings(n_trials=3, epochs=3, startup_trials=2))
    assert [t["state"] for t in r.trials] == ["complete", "complete", "pruned"]
    assert r.trials[2]["curve"] == [0.1, 0.1] and optuna.__version__


def test_chooser_checks_installation_live():
    import importlib.util
    rows = {r["module"]: r for r in chooser.chooser_rows()}
    for module, row in rows.items():
        assert row["installed"] == (importlib.util.find_spec(module) is not None)
    assert rows["torch_geometric"]["installed"] and rows["optuna"]["version"]
