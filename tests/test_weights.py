import io
import json
import os
import pickle
import threading

import pytest
import torch
from safetensors.torch import save as st_save

from core import nets, weights
from core.errors import HeroError


def small_model():
    torch.manual_seed(0)
    return nets.build("mlp", {"in_features": 4, "hidden": (8,), "out_features": 3})


def test_checkpoint_round_trip_rebuilds_the_model():
    m = small_model()
    data = weights.checkpoint_bytes(m, recipe="test", metric={"name": "acc", "value": 1.0})
    ckpt = weights.read_checkpoint(data)
    assert ckpt.meta["arch"] == "mlp" and ckpt.meta["config"]["hidden"] == [8]
    rebuilt = weights.model_from_checkpoint(ckpt)
    x = torch.randn(5, 4)
    assert torch.equal(m.eval()(x), rebuilt(x))


def test_shipped_checkpoints_match_manifest_and_metric():
    manifest = weights.read_manifest()["checkpoints"]
    assert manifest, "models/manifest.json lists no checkpoints"
    for name, entry in manifest.items():
        path = weights.verify_shipped(name)
        assert path.stat().st_size == entry["bytes"]
        assert entry["recipe_fingerprint"] == weights.get_recipe(name).fingerprint(), \
            f"{name}: recipe changed since the file was built; run scripts/build_weights.py"
    total = sum(p.stat().st_size for p in weights.SHIPPED_DIR.iterdir())
    assert total < 50 * 2**20


def test_shipped_digits_model_is_as_good_as_recorded():
    from core import data
    entry = weights.read_manifest()["checkpoints"]["ch05_digits_cnn"]
    loaded = weights.load("ch05_digits_cnn", allow_train=False)
    assert loaded.source == "shipped"
    recipe = weights.get_recipe("ch05_digits_cnn")
    split = data.split(data.load(recipe.dataset), recipe.val_fraction, seed=recipe.seed)
    acc = (loaded.model(split.X_val).argmax(1) == split.y_val).float().mean().item()
    assert abs(acc - entry["metric"]["value"]) < 1e-3 and acc >= 0.97


def test_tampered_shipped_file_is_rejected(tmp_path, monkeypatch):
    src = weights.SHIPPED_DIR / "ch05_digits_cnn.safetensors"
    fake_dir = tmp_path / "models"
    fake_dir.mkdir()
    data = bytearray(src.read_bytes())
    data[-1] ^= 0xFF   # flip bits in the last weight
    (fake_dir / src.name).write_bytes(bytes(data))
    (fake_dir / "manifest.json").write_text(weights.MANIFEST.read_text())
    monkeypatch.setattr(weights, "SHIPPED_DIR", fake_dir)
    monkeypatch.setattr(weights, "MANIFEST", fake_dir / "manifest.json")
    with pytest.raises(HeroError) as e:
        weights.verify_shipped("ch05_digits_cnn")
    assert e.value.code == "weights.tampered"
    with pytest.raises(HeroError):   # and load() will not use it, nor silently train when told not to
        weights.load("ch05_digits_cnn", allow_train=False, prefer_cache=False)


class Exploit:
    def __reduce__(self):
        return (os.system, ("echo pwned > /tmp/hero_pwned",))


def test_malicious_pickle_rejected():
    buf = io.BytesIO()
    torch.save({"w": torch.zeros(2), "x": Exploit()}, buf)
    with pytest.raises(HeroError) as e:
        weights.read_checkpoint(buf.getvalue())
    assert e.value.code == "weights.unsafe_pickle"
    raw = pickle.dumps(Exploit())
    with pytest.raises(HeroError):
        weights.read_checkpoint(raw)
    assert not os.path.exists("/tmp/hero_pwned")


def test_plain_torch_save_state_dict_is_accepted_safely():
    m = small_model()
    buf = io.BytesIO()
    torch.save(m.state_dict(), buf)
    ckpt = weights.read_checkpoint(buf.getvalue())
    assert ckpt.format == "pickle"
    rebuilt = weights.model_from_checkpoint(ckpt, template=small_model())
    assert torch.equal(rebuilt.net[0].weight, m.net[0].weight)


@pytest.mark.parametrize("payload,code", [
    (b"", "weights.empty"),
    (b"hello world, not weights", "weights.not_safetensors"),
    (b"\xff" * 8 + b"{}", "weights.not_safetensors"),
])
def test_garbage_rejected(payload, code):
    with pytest.raises(HeroError) as e:
        weights.read_checkpoint(payload)
    assert e.value.code == code


def test_oversize_rejected_before_parsing():
    with pytest.raises(HeroError) as e:
        weights.read_checkpoint(b"\0" * 2048, max_bytes=1024)
    assert e.value.code == "weights.too_large"


def test_wrong_architecture_rejected():
    other = nets.build("mlp", {"in_features": 4, "hidden": (5,), "out_features": 3})
    data = weights.checkpoint_bytes(other)
    with pytest.raises(HeroError) as e:
        weights.model_from_checkpoint(weights.read_checkpoint(data), template=small_model())
    assert e.value.code == "weights.wrong_arch"
    cnn = weights.checkpoint_bytes(nets.build("small_cnn", {"image_size": 8}))
    with pytest.raises(HeroError):
        weights.model_from_checkpoint(weights.read_checkpoint(cnn), expected_arch="mlp")
    bare = st_save({"foo": torch.zeros(3)})
    with pytest.raises(HeroError):
        weights.model_from_checkpoint(weights.read_checkpoint(bare), template=small_model())


def test_atomic_write_never_exposes_partial_files(tmp_path):
    """Many writers and a reader: every read sees one complete checkpoint."""
    target = tmp_path / "ckpt.safetensors"
    payloads = [weights.checkpoint_bytes(nets.build("mlp", {"in_features": 4, "hidden": (8 * (i + 1),),
                                                            "out_features": 3})) for i in range(4)]
    stop = threading.Event()
    seen, errors = set(), []

    def reader():
        while not stop.is_set():
            if target.exists():
                blob = target.read_bytes()
                if blob not in payloads:
                    errors.append(len(blob))
                seen.add(payloads.index(blob) if blob in payloads else -1)

    def writer(p):
        for _ in range(20):
            weights.atomic_write(target, p)

    r = threading.Thread(target=reader)
    r.start()
    ws = [threading.Thread(target=writer, args=(p,)) for p in payloads]
    for w in ws:
        w.start()
    for w in ws:
        w.join()
    stop.set()
    r.join()
    assert not errors
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_load_trains_from_recipe_then_uses_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("HERO_CACHE", str(tmp_path))
    recipe = weights.Recipe(name="test_tiny", arch="mlp",
                            config={"in_features": 2, "hidden": [8], "out_features": 2},
                            dataset="toy", dataset_options={"kind": "moons", "n": 100}, epochs=2)
    weights.register_recipe(recipe)
    try:
        progress = []
        first = weights.load("test_tiny", on_progress=progress.append)
        assert first.source == "trained" and progress and progress[-1]["kind"] == "end"
        assert (tmp_path / "test_tiny.safetensors").exists()
        second = weights.load("test_tiny")
        assert second.source == "cache"
        x = torch.randn(4, 2)
        assert torch.equal(first.model(x), second.model(x))
        assert json.loads(json.dumps(second.meta["metric"]))["name"] == "val_acc"
    finally:
        weights.RECIPES.pop("test_tiny")


def test_safetensors_whose_header_length_starts_like_a_pickle_still_loads():
    """A safetensors header of length 128 mod 256 starts with byte 0x80, as a pickle does."""
    from safetensors.torch import save
    for pad in range(0, 300):
        data = save({"w": torch.zeros(2)}, metadata={"pad": "x" * pad})
        if data[0] == 0x80:
            break
    else:
        pytest.fail("no padding gave a 0x80 first byte")
    ckpt = weights.read_checkpoint(data)
    assert ckpt.format == "safetensors" and ckpt.state_dict["w"].shape == (2,)
