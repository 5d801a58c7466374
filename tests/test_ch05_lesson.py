import subprocess
import sys

import numpy as np
import pytest
import torch
from sklearn.metrics import confusion_matrix

from core import data
from core.errors import HeroError
from core.lessons import ch05_training as lesson


def test_train_toy_learns_moons_and_streams_grids():
    events = []
    result = lesson.train_toy(lesson.ToySettings(kind="moons", epochs=30, grid_every=10), emit=events.append,
                              grid_resolution=20)
    assert result.ok and result.end["val_acc"] >= 0.9
    grids = [e["grid"] for e in events if "grid" in e]
    assert len(grids) >= 3 and grids[-1]["probs"].shape == (20, 20, 2)
    np.testing.assert_allclose(grids[-1]["probs"].sum(-1), 1, atol=1e-5)


def test_nan_run_is_not_ok():
    result = lesson.train_toy(lesson.ToySettings(lr=1e9, optimizer="sgd", epochs=5))
    assert result.end["reason"] == "nan" and not result.ok


def test_walk_one_batch_matches_autograd_and_optimizer():
    s = lesson.ToySettings()
    split = lesson.toy_split(s)
    torch.manual_seed(0)
    model = lesson.build_toy_model(s, 2)
    twin = lesson.build_toy_model(s, 2)
    twin.load_state_dict(model.state_dict())
    xb, yb = split.X_train[:16], split.y_train[:16]
    stages = lesson.walk_one_batch(model, torch.optim.SGD(model.parameters(), lr=0.1), xb, yb)
    assert [st["stage"] for st in stages] == list(lesson.STEP_STAGES)
    assert all(p["grad_norm"] is None for p in stages[2]["params"])          # after zero_grad
    loss = torch.nn.functional.cross_entropy(twin(xb), yb)
    grads = torch.autograd.grad(loss, list(twin.parameters()))
    for row, g in zip(stages[3]["params"], grads):                            # after backward
        assert row["grad_norm"] == pytest.approx(float(g.norm()), rel=1e-5)
    with torch.no_grad():
        for p, g in zip(twin.parameters(), grads):
            p -= 0.1 * g
    for p, q in zip(model.parameters(), twin.parameters()):
        torch.testing.assert_close(p, q)
    assert stages[4]["loss_after"] < stages[4]["loss"]


def test_confusion_matches_sklearn():
    s = lesson.ToySettings(kind="blobs", epochs=3)
    result = lesson.train_toy(s)
    split = lesson.toy_split(s)
    conf = lesson.confusion(result.model, split.X_val, split.y_val, 3)
    pred = result.model.eval()(split.X_val).argmax(1)
    np.testing.assert_array_equal(conf["matrix"], confusion_matrix(split.y_val, pred, labels=[0, 1, 2]))
    assert conf["accuracy"] == pytest.approx((pred == split.y_val).float().mean().item())


def test_save_load_round_trip_gives_identical_predictions():
    result = lesson.train_toy(lesson.ToySettings(epochs=2))
    blob = lesson.export_checkpoint(result.model)
    loaded = lesson.import_checkpoint(blob, template=result.model)
    split = lesson.toy_split(lesson.ToySettings())
    same = lesson.same_predictions(result.model, loaded, split.X_val)
    assert same["identical"] and same["max_abs_diff"] == 0.0
    other = lesson.train_toy(lesson.ToySettings(epochs=1, hidden=(4,)))
    with pytest.raises(HeroError):
        lesson.import_checkpoint(lesson.export_checkpoint(other.model), template=result.model)


def stroke_image(invert=False, transparent=False):
    img = np.zeros((224, 224), np.uint8)
    img[40:190, 100:124] = 255   # a vertical bar: a "1"
    if transparent:
        rgba = np.zeros((224, 224, 4), np.uint8)
        rgba[..., 3] = img
        return rgba
    if invert:
        img = 255 - img
    return np.stack([img] * 3, -1)


def test_preprocess_drawing_polarity_and_shape():
    a = lesson.preprocess_drawing(stroke_image(), 28)
    b = lesson.preprocess_drawing(stroke_image(invert=True), 28)
    c = lesson.preprocess_drawing(stroke_image(transparent=True), 28)
    assert a.shape == (784,) and a.max() == pytest.approx(1.0)
    np.testing.assert_allclose(a, b, atol=1e-6)
    np.testing.assert_allclose(a, c, atol=1e-6)
    img = a.reshape(28, 28)
    rows = np.flatnonzero(img.sum(1) > 0)
    assert rows[-1] - rows[0] + 1 <= 21                       # fits the 20-pixel MNIST box
    cy = (img.sum(1) * np.arange(28)).sum() / img.sum()
    assert abs(cy - 13.5) <= 1.0                              # centred by mass
    assert lesson.preprocess_drawing(np.zeros((224, 224, 3), np.uint8), 28) is None
    assert lesson.preprocess_drawing(stroke_image(), 8).shape == (64,)


def test_shipped_model_reads_a_real_digit_drawn_like_the_canvas():
    """A real MNIST digit, upscaled to canvas size, survives preprocessing and is recognised."""
    ds = data.load("mnist5k")
    model = lesson.weights.load(lesson.DIGIT_CHECKPOINTS["mnist5k"]).model
    correct = 0
    for i in range(0, 5000, 250):
        canvas = np.kron((ds.X[i].reshape(28, 28) * 255).astype(np.uint8), np.ones((8, 8), np.uint8))
        pixels = lesson.preprocess_drawing(canvas, 28)
        correct += int(lesson.predict_proba(model, torch.from_numpy(pixels)[None])[0].argmax() == ds.y[i])
    assert correct >= 17   # of 20


def test_generated_script_runs(tmp_path):
    s = lesson.ToySettings(kind="spirals", epochs=2, clip_norm=1.0, optimizer="momentum")
    script = tmp_path / "train.py"
    script.write_text(lesson.training_script(s))
    out = subprocess.run([sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "val_acc" in out.stdout and (tmp_path / "ch05_model.safetensors").exists()


def test_train_digits_streams_and_learns():
    events = []
    result = lesson.train_digits(lesson.DigitsSettings(epochs=3), emit=events.append)
    assert result.ok and result.end["val_acc"] > 0.85
    assert sum(e["kind"] == "eval" for e in events) == 3


def test_runs_use_the_settings_device():
    """The device field reaches model and batches: a meta-device run cannot compute a loss value,
    and a CPU run hands back a CPU model."""
    with pytest.raises((NotImplementedError, RuntimeError)):
        lesson.train_toy(lesson.ToySettings(epochs=1, device="meta"))
    with pytest.raises((NotImplementedError, RuntimeError)):
        lesson.train_digits(lesson.DigitsSettings(epochs=1, device="meta"))
    result = lesson.train_digits(lesson.DigitsSettings(epochs=1, device="cpu"))
    assert {p.device.type for p in result.model.parameters()} == {"cpu"}


def test_fit_receives_device_and_amp_callbacks(monkeypatch):
    seen = {}
    real_fit = lesson.fit

    def spy(*args, **kwargs):
        seen.update(device=kwargs["device"], callbacks=[type(c).__name__ for c in kwargs["callbacks"]])
        return real_fit(*args, **kwargs)
    monkeypatch.setattr(lesson, "fit", spy)
    monkeypatch.setattr(lesson, "amp_callbacks", lambda device: [lesson.NaNGuard()] if torch.device(device).type == "cpu" else [])
    lesson.train_toy(lesson.ToySettings(epochs=1, n_points=60))
    assert str(seen["device"]) == "cpu" and seen["callbacks"].count("NaNGuard") == 2   # amp's, then the lesson's


def test_trainer_checks_registered_and_run_on_cpu():
    from core.lessons import TRAINERS
    assert {"ch05_toy", "ch05_digits"} <= set(TRAINERS)
    assert TRAINERS["ch05_toy"]("cpu", "tiny")["val_acc"] > 0.5
    assert TRAINERS["ch05_digits"]("cpu", "tiny")["val_acc"] > 0.8


def test_digits_script_loads_a_shelf_download_or_trains(tmp_path):
    """The take-home digits script loads the model shelf's zip with --weights, else trains one."""
    from core import shelf, takehome
    s = lesson.DigitsSettings(epochs=1)
    text = takehome.script(lesson.preprocess_drawing, lesson.predict_proba, lesson.train_digits,
                           lesson.load_digits_weights, registry_keys={"digits", "small_cnn", "mlp"},
                           filename="ch05_digits.py", main=lesson.digits_main(s))
    (tmp_path / "ch05_digits.py").write_text(text)
    model = lesson.weights.load(lesson.DIGIT_CHECKPOINTS["digits"]).model
    item = shelf.ShelfItem(name="ch05 digits", chapter="ch05", kind="digits-classifier", model=model,
                           info={"image_size": 8})
    (tmp_path / "mine.zip").write_bytes(shelf.package(item))
    (tmp_path / "mine.safetensors").write_bytes(lesson.export_checkpoint(model))
    env = {"HERO_TINY": "1", "PATH": "/usr/bin:/bin"}
    canvas = stroke_image()[..., 0]
    expected = int(lesson.predict_proba(model, torch.from_numpy(lesson.preprocess_drawing(canvas, 8))[None])[0].argmax())
    for weights_file in ("mine.zip", "mine.safetensors"):
        out = subprocess.run([sys.executable, "-I", "ch05_digits.py", "--weights", weights_file], cwd=tmp_path,
                             capture_output=True, text=True, timeout=120, env=env)
        assert out.returncode == 0, out.stderr[-2000:]
        assert f"loaded {weights_file}" in out.stdout and f"reads as {expected} " in out.stdout
    out = subprocess.run([sys.executable, "-I", "ch05_digits.py", "--weights", "absent.zip"], cwd=tmp_path,
                         capture_output=True, text=True, timeout=120, env=env)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "not found: training" in out.stdout and "val_acc" in out.stdout


def test_step_mode_seed_gives_a_new_model_and_batch_reproducibly():
    """Issue 15.4: each seed draws its own model and batch; the same seed the same walk."""
    s = lesson.ToySettings(batch_size=16)
    a, again, b = lesson.step_mode(s, 0), lesson.step_mode(s, 0), lesson.step_mode(s, 1)
    assert a["batch"] == again["batch"] and len(a["batch"]) == 16
    assert a["batch"] != b["batch"]
    assert a["stages"][1]["loss"] == again["stages"][1]["loss"] != b["stages"][1]["loss"]
    norms = lambda walk: [p["norm"] for p in walk["stages"][0]["params"]]
    assert norms(a) == norms(again) and norms(a) != norms(b)               # the initial weights too
    split = lesson.toy_split(s)
    idx = torch.tensor(b["batch"])
    torch.manual_seed(1)
    model = lesson.build_toy_model(s, 2)
    loss = torch.nn.functional.cross_entropy(model(split.X_train[idx]), split.y_train[idx])
    assert b["stages"][1]["loss"] == pytest.approx(loss.item(), rel=1e-6)


def test_describe_split_and_untrained_loss():
    s = lesson.ToySettings(kind="blobs", n_points=200, val_fraction=0.25)
    shapes = lesson.describe_split(s)
    split = lesson.toy_split(s)
    assert shapes["train"]["X"] == tuple(split.X_train.shape) and shapes["val"]["y"] == (len(split.y_val),)
    assert sum(shapes["train"]["per_class"]) == len(split.y_train)
    before = lesson.untrained_loss(s)
    assert before["chance"] == pytest.approx(np.log(3))
    assert abs(before["loss"] - before["chance"]) < 0.5 and before["after_one_step"] < before["loss"]


def test_shift_augment_moves_every_image_one_pixel():
    X = torch.arange(2 * 16, dtype=torch.float32).reshape(2, 16) + 1
    y = torch.tensor([3, 7])
    Xa, ya = lesson.shift_augment(X, y, 4)
    assert Xa.shape == (10, 16) and ya.tolist() == [3, 7] * 5
    img = X.reshape(2, 4, 4)
    down = Xa[2:4].reshape(2, 4, 4)
    np.testing.assert_array_equal(down[:, 1:], img[:, :-1])
    assert (down[:, 0] == 0).all()
    left = Xa[8:10].reshape(2, 4, 4)
    np.testing.assert_array_equal(left[:, :, :-1], img[:, :, 1:])
    assert (left[:, :, -1] == 0).all()


def test_digits_recipe_augments_and_schedules(monkeypatch):
    """The tuned 8×8 recipe trains on 5× the images with OneCycle; MNIST-5k keeps the plain one."""
    seen = {}
    real_fit = lesson.fit

    def spy(model, train, val, **kwargs):
        seen.update(n=len(train[1]), callbacks=[type(c).__name__ for c in kwargs["callbacks"]])
        return real_fit(model, train, val, **kwargs)
    monkeypatch.setattr(lesson, "fit", spy)
    s = lesson.digits_settings("digits", epochs=1)
    r = lesson.train_digits(s)
    n_train = len(data.split(data.load("digits"), 0.2, seed=0).y_train)
    assert seen["n"] == 5 * n_train and "LRScheduler" in seen["callbacks"]
    assert r.end["step"] == lesson.digits_steps(s) and r.ok
    m = lesson.digits_settings("mnist5k")
    assert not m.augment and not m.onecycle and m.epochs == 20


def test_digits_confusion_is_on_the_validation_split():
    model = lesson.weights.load(lesson.DIGIT_CHECKPOINTS["digits"]).model
    conf = lesson.digits_confusion(model)
    split = data.split(data.load("digits"), 0.2, seed=0)
    pred = model.eval()(split.X_val).argmax(1)
    np.testing.assert_array_equal(conf["matrix"], confusion_matrix(split.y_val, pred, labels=list(range(10))))
    assert conf["matrix"].sum() == len(split.y_val) == 359


def test_baselines_are_sklearn_on_the_same_split():
    from sklearn.svm import SVC
    events = []
    out = lesson.train_baselines("digits", mlp_iter=5, emit=events.append)
    assert set(out) == {"svc", "mlp"} and all(b["seconds"] > 0 for b in out.values())
    split = data.split(data.load("digits"), 0.2, seed=0)
    svc = SVC().fit(split.X_train.numpy(), split.y_train.numpy())
    assert out["svc"]["val_acc"] == pytest.approx((svc.predict(split.X_val.numpy()) == split.y_val.numpy()).mean())
    assert out["svc"]["val_acc"] > 0.97
    assert [e["done"] for e in events] == [0, 1, 2]
