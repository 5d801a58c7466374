"""Chapter 6 lesson functions against oracles: exact index coverage, chi-square, NumPy stats."""
import io
import zlib
import struct

import numpy as np
import pytest
import torch
from PIL import Image
from scipy import stats as sps
from torch.nn.utils.rnn import pad_sequence

from core import data as datasets
from core import i18n
from core.data import ch06_sets
from core.data.scenes import SCENE_CLASSES
from core.errors import HeroError
from core.lessons import ch06_data as lesson
from tests.conftest import device_reaching_fit


def index_dataset(n: int) -> ch06_sets.DigitsDataset:
    """Item i is an image filled with the value i: batches tell which indices they hold."""
    X = np.repeat(np.arange(n, dtype=np.float32)[:, None], 4, axis=1)
    return ch06_sets.DigitsDataset(X, np.arange(n) % 10, (2, 2))


def indices_of(loader) -> list[int]:
    out = []
    for batch in loader:
        x = batch["x"] if isinstance(batch, dict) else batch[0]
        assert x.shape[1:] == (1, 2, 2)
        out += x[:, 0, 0, 0].long().tolist()
    return out


@pytest.mark.parametrize("shuffle", [False, True])
@pytest.mark.parametrize("collate", ["default", "dict"])
def test_loader_yields_every_index_once(shuffle, collate):
    ds = index_dataset(53)
    s = lesson.LabSettings(batch_size=8, shuffle=shuffle, collate=collate, seed=3)
    got = indices_of(lesson.make_loader(ds, s))
    assert sorted(got) == list(range(53))
    assert (got == list(range(53))) is (not shuffle)            # shuffled order differs from 0..N-1
    assert indices_of(lesson.make_loader(ds, s)) == got          # same seed, same order


def test_drop_last_drops_exactly_the_remainder():
    ds = index_dataset(53)
    loader = lesson.make_loader(ds, lesson.LabSettings(batch_size=8, shuffle=True, drop_last=True))
    sizes = [len(b[1]) for b in loader]
    assert sizes == [8] * 6 and len(loader) == 53 // 8
    assert len(set(indices_of(loader))) == 53 - 53 % 8
    m = lesson.measure_loader(lesson.LabSettings(n_items=100, batch_size=32, drop_last=True))
    assert m["samples"] == 96 and m["batches"] == 3 and m["last_batch"] == 32
    m = lesson.measure_loader(lesson.LabSettings(n_items=100, batch_size=32, epochs=2, collate="dict"))
    assert m["samples"] == 200 and m["last_batch"] == 4 and m["samples_per_s"] > 0


def test_loader_with_two_spawned_workers_yields_every_index_once():
    ds = index_dataset(40)
    got = indices_of(lesson.make_loader(ds, lesson.LabSettings(batch_size=4, shuffle=True, num_workers=2)))
    assert sorted(got) == list(range(40))


def test_weighted_sampler_balances_classes():
    labels = lesson.imbalanced_labels(datasets.load("digits").y)
    data_counts = np.bincount(labels)
    assert data_counts[9] > 4 * data_counts[0]                    # really imbalanced
    counts = lesson.sampler_counts(labels, 20_000, seed=1)
    # weighted: uniform over classes; random: proportional to the data (chi-square goodness of fit)
    assert sps.chisquare(counts["weighted"]).pvalue > 1e-3
    expected = data_counts / data_counts.sum() * 20_000
    assert sps.chisquare(counts["random"], expected).pvalue > 1e-3
    assert sps.chisquare(counts["random"]).pvalue < 1e-10         # and clearly not uniform
    w = lesson.balanced_weights(labels)
    assert torch.allclose(w, torch.tensor(1.0 / data_counts[labels], dtype=torch.double))


def test_weighted_sampler_in_loader_draws_len_samples():
    m = lesson.measure_loader(lesson.LabSettings(n_items=300, batch_size=50, sampler="weighted"))
    assert m["samples"] == 300 and sum(m["class_counts"]) == 300


@pytest.fixture
def record_path(tmp_path):
    return ch06_sets.write_records(tmp_path / "rows.bin", 5000, seed=1)


def test_record_file_rows_and_single_process_stream(record_path):
    assert record_path.stat().st_size == 5000 * 64
    rows = list(ch06_sets.RecordStream(record_path, chunk_rows=700))
    assert [int(r["id"]) for r in rows] == list(range(5000))
    whole = np.fromfile(record_path, dtype=ch06_sets.RECORD)
    np.testing.assert_array_equal(torch.stack([r["x"] for r in rows]).numpy(), whole["x"])
    again = ch06_sets.write_records(record_path, 5000, seed=1)   # reused, not rewritten
    assert again == record_path


class FakeWorker:
    def __init__(self, id, num_workers):
        self.id, self.num_workers = id, num_workers


@pytest.mark.parametrize("workers", [2, 3, 7])
def test_worker_sharding_covers_each_row_once(record_path, monkeypatch, workers):
    """Simulate each worker's view of get_worker_info(): the shards partition the rows."""
    seen = []
    for k in range(workers):
        monkeypatch.setattr(ch06_sets, "get_worker_info", lambda k=k: FakeWorker(k, workers))
        seen += [int(c) for chunk in ch06_sets.RecordStream(record_path, chunk_rows=333, batched=True)
                 for c in chunk["id"]]
    assert sorted(seen) == list(range(5000))
    monkeypatch.setattr(ch06_sets, "get_worker_info", lambda: FakeWorker(0, workers))
    naive = ch06_sets.RecordStream(record_path, shard=False)
    assert naive.shard_range()[:2] == (0, 5000)                     # unsharded: every worker reads all


def test_iterable_with_two_real_workers_reads_each_row_once(record_path):
    result = lesson.shard_check(record_path, 2, shard=True, chunk_rows=512)
    assert result["each_once"] and result["read"] == 5000 and set(result["per_worker"]) == {0, 1}
    assert sum(result["per_worker"].values()) == 5000


def test_naive_iterable_duplicates_rows(record_path):
    result = lesson.shard_check(record_path, 0, shard=False)
    assert result["each_once"]                                    # no workers: nothing to duplicate
    with pytest.raises(HeroError) as err:
        lesson.shard_check(record_path, 99)
    assert err.value.code == "ch06.bad_workers"


def test_streaming_memory_is_constant(tmp_path):
    path = ch06_sets.write_records(tmp_path / "big.bin", lesson.rows_for(8), seed=0)
    out = lesson.stream_with_memory(path, chunk_rows=2048)
    assert out["rows"] == lesson.rows_for(8)
    assert out["peak_mb"] < 1.0                                   # 2048 rows × 64 B ≈ 0.13 MB per chunk
    late = [mem for read, mem in out["trace"] if read > 4]
    assert max(late) < 1.0                                        # flat: no growth with MB read
    assert lesson.read_all_peak(path) >= 7.9                      # loading whole costs the file size


def test_streaming_demo_tiny_end_to_end():
    res = lesson.streaming_demo(1, 0, naive=False)
    assert res["rows"] == 2**20 // 64 and res["sharded"]["each_once"] and res["stream"]["rows"] == res["rows"]
    with pytest.raises(HeroError):
        lesson.record_file(3)


def test_pad_collate_shapes_mask_lengths():
    seqs = [torch.tensor([1, 2, 3]), torch.tensor([4]), torch.tensor([5, 6, 7, 8, 9])]
    out = ch06_sets.pad_collate(list(zip(seqs, [0, 1, 0])))
    assert out["tokens"].shape == (3, 5)
    assert torch.equal(out["tokens"], pad_sequence(seqs, batch_first=True))
    assert out["lengths"].tolist() == [3, 1, 5]
    assert torch.equal(out["mask"], torch.tensor([[1, 1, 1, 0, 0], [1, 0, 0, 0, 0], [1, 1, 1, 1, 1]], dtype=torch.bool))
    assert out["labels"].tolist() == [0, 1, 0]


def test_bucketing_reduces_padding_and_keeps_every_sequence():
    ds = lesson.random_sequences(64, 2, 40, seed=0)
    plain, bucketed = lesson.padded_batches(ds, 8, False), lesson.padded_batches(ds, 8, True)
    assert bucketed["padding"] < plain["padding"]
    for out in (plain, bucketed):
        assert sum(int(b["lengths"].sum()) for b in out["batches"]) == sum(len(s) for s in ds.sequences)
        for b in out["batches"]:
            assert b["tokens"].shape[1] == int(b["lengths"].max())
            assert torch.equal(b["mask"].sum(1), b["lengths"])
    with pytest.raises(HeroError):
        lesson.random_sequences(4, 10, 5)


def test_transforms_deterministic_with_seed():
    img = lesson.sample_photo("flower", 96)
    names = list(lesson.AUGMENTATIONS)
    a = lesson.random_draws(img, names, 4, seed=7, size=64)
    b = lesson.random_draws(img, names, 4, seed=7, size=64)
    c = lesson.random_draws(img, names, 4, seed=8, size=64)
    assert a.shape == (4, 64, 64, 3) and a.dtype == np.uint8
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    assert not np.array_equal(a[0], a[1])                        # draws differ within a grid
    each1, each2 = lesson.apply_each(img, names, 3, 64), lesson.apply_each(img, names, 3, 64)
    for (n1, x1), (n2, x2) in zip(each1, each2):
        assert n1 == n2 and np.array_equal(x1, x2)
    flip = dict(lesson.apply_each(img, ["RandomHorizontalFlip"], 0, 64))["RandomHorizontalFlip"]
    original = np.asarray(img)
    assert np.array_equal(flip, original) or np.array_equal(flip, original[:, ::-1])
    with pytest.raises(HeroError):
        lesson.augmentation("Nope", 32)


def test_normalize_stats_match_numpy():
    img = lesson.sample_photo("china", 64)
    out = lesson.normalize_stats(lesson.image_tensor(img))
    arr = np.asarray(img, dtype=np.float64) / 255
    np.testing.assert_allclose(out["mean"], arr.mean((0, 1)), atol=1e-5)
    np.testing.assert_allclose(out["std"], arr.std((0, 1)), atol=1e-5)
    np.testing.assert_allclose(out["after_mean"], 0, atol=1e-5)
    np.testing.assert_allclose(out["after_std"], 1, atol=1e-4)
    images, _ = lesson.offline_scenes(50)
    mean, std = lesson.channel_stats(images)
    np.testing.assert_allclose(mean, (images / 255).mean((0, 1, 2)), atol=1e-5)
    np.testing.assert_allclose(std, (images / 255).std((0, 1, 2)), atol=1e-5)


def test_resize_policies():
    img = Image.fromarray(np.full((40, 80, 3), 200, np.uint8))      # wide: 2:1
    letter = lesson.resize_policy(img, "letterbox", 32)
    assert letter.shape == (32, 32, 3)
    assert (letter[:8] == 0).all() and (letter[-8:] == 0).all() and (letter[8:24] == 200).all()
    crop = lesson.resize_policy(img, "center_crop", 32)
    stretched = lesson.resize_policy(img, "resize", 32)
    assert crop.shape == stretched.shape == (32, 32, 3) and (crop == 200).all()
    with pytest.raises(HeroError):
        lesson.resize_policy(img, "squash", 32)


def test_offline_fallback_when_download_fails(monkeypatch):
    def broken(name, root):
        raise OSError("network unreachable")
    from core.lessons.ch06_data import torchvision_sets
    monkeypatch.setattr(torchvision_sets, "_download", broken)
    out = lesson.load_vision("cifar10", 40, online=True)
    assert out.name == "scenes10" and out.images.shape == (40, 32, 32, 3) and out.notice == "ch06.sets.fallback"
    for lang in ("en", "zh"):
        text = i18n.translate(lang, out.notice, **out.notice_params)
        assert "CIFAR10" in text and "OSError" in text and "{" not in text
    mnist = lesson.load_vision("mnist", 10, online=True)
    assert mnist.name == "mnist5k" and mnist.images.shape == (10, 28, 28)
    offline = lesson.load_vision("fashion_mnist", 10, online=False)
    assert offline.notice == "ch06.sets.offline_used"


def test_offline_cifar_style_set_is_ten_distinct_procedural_classes():
    """The offline stand-in for CIFAR-10 is 10 classes of different-looking pictures (not tinted digits):
    deterministic, balanced, colour, and so distinct that a nearest-class-mean on 8×8 thumbnails
    separates held-out images far above chance (10 %)."""
    images, labels = lesson.offline_scenes(400, seed=2)
    assert images.shape == (400, 32, 32, 3) and images.dtype == np.uint8
    again, _ = lesson.offline_scenes(400, seed=2)
    np.testing.assert_array_equal(images, again)
    assert not np.array_equal(images, lesson.offline_scenes(400, seed=3)[0])
    assert np.bincount(labels).tolist() == [40] * 10
    vset = lesson.load_vision("scenes10", 400)
    assert vset.classes == SCENE_CLASSES and "procedural" in vset.source and "CIFAR" not in vset.name
    assert "scenes10" in lesson.OFFLINE_SETS and lesson.FALLBACK["cifar10"] == "scenes10"
    assert images.std(axis=(1, 2)).mean() > 10 and np.abs(images[..., 0].astype(int) - images[..., 2]).mean() > 10
    thumbs = images.reshape(-1, 8, 4, 8, 4, 3).mean((2, 4)).reshape(len(images), -1) / 255
    tr, te = slice(0, 200), slice(200, None)
    centroids = np.stack([thumbs[tr][labels[tr] == c].mean(0) for c in range(10)])
    pred = ((thumbs[te][:, None] - centroids[None]) ** 2).sum(-1).argmin(1)
    assert (pred == labels[te]).mean() > 0.8
    digits = lesson.load_vision("digits", 20)
    assert digits.images.shape == (20, 8, 8) and digits.full_counts.sum() == 1797


def _png_header(width, height):
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)) \
        + chunk(b"IDAT", zlib.compress(b"\0" * 100)) + chunk(b"IEND", b"")


def test_uploads_rejected_with_translated_errors():
    buf = io.BytesIO()
    Image.new("RGB", (500, 300), "red").save(buf, format="PNG")
    ok = lesson.uploaded_photo(buf.getvalue(), 128)
    assert max(ok.size) == 128
    cases = {b"not an image at all": "upload.not_image", b"\0" * (11 * 2**20): "upload.too_large",
             _png_header(20_000, 20_000): "upload.too_many_pixels"}
    for data, code in cases.items():
        with pytest.raises(HeroError) as err:
            lesson.uploaded_photo(data)
        assert err.value.code == code
        assert i18n.error_text("zh", err.value) != i18n.error_text("en", err.value)


def test_inspect_item_and_bad_index():
    ds = lesson.digits_dataset("digits")
    item = lesson.inspect_item(ds, 5)
    raw = datasets.load("digits")
    assert item["shape"] == (1, 8, 8) and item["label"] == raw.y[5] and len(ds) == 1797
    np.testing.assert_array_equal(item["image"], raw.X[5].reshape(8, 8))
    with pytest.raises(HeroError) as err:
        lesson.inspect_item(ds, 1797)
    assert err.value.code == "ch06.bad_index"


def test_pipeline_feeds_training():
    res = lesson.run_pipeline(lesson.PipelineSettings(n_images=300, batch_size=32))
    assert res.source == "scenes10" and res.batch_shape == (32, 3, 32, 32)
    assert res.batch_images.shape[1:] == (32, 32, 3) and len(res.batch_labels) == len(res.batch_images)
    images, _ = lesson.load_offline("scenes10", 300).images, None
    mean, _ = lesson.channel_stats(images[60:])
    np.testing.assert_allclose(res.mean, mean, atol=1e-6)
    assert res.end["reason"] == "completed" and res.end["step"] == 240 // 32 and res.history
    assert 0.0 <= res.end["val_acc"] <= 1.0


# --------------------------------------------------------------------------- platform: device, shelf file, checks

def test_pipeline_puts_model_and_fit_on_the_settings_device(monkeypatch):
    from core.lessons.ch06_data import pipeline
    seen = device_reaching_fit(monkeypatch, pipeline, lambda: lesson.run_pipeline(
        lesson.PipelineSettings("scenes10", n_images=200, device="meta")))
    assert seen == {"fit": "meta", "model": "meta"}


def test_loader_lab_copies_each_batch_to_its_device():
    """measure_loader moves every batch where training would: to meta, the copy happens and is counted."""
    s = lesson.LabSettings(n_items=100, batch_size=32, collate="dict", device="meta")
    assert lesson.measure_loader(s)["samples"] == 100
    with pytest.raises(RuntimeError):    # an unknown device is refused by the copy itself
        lesson.measure_loader(lesson.LabSettings(n_items=10, device="nonsense"))


def test_pipeline_model_comes_back_on_the_cpu_and_its_file_holds_its_weights():
    from safetensors.torch import load
    r = lesson.run_pipeline(lesson.PipelineSettings("scenes10", n_images=200))
    assert next(r.model.parameters()).device.type == "cpu"
    files = lesson.model_files(r.model, "m", {"classes": list(r.classes), "mean": r.mean})
    state = load(files["m.safetensors"])
    assert set(state) == set(r.model.state_dict())
    from core.lessons import TRAINERS
    assert "ch06_pipeline" in TRAINERS
