"""Chapter 7 lessons against oracles: nn.Conv2d, autograd, hand-counted FLOPs, sum(numel),
optimiser steps on frozen layers, the weighted loss formula."""
import io
import time
import urllib.error
import zipfile

import numpy as np
import pytest
import torch
from hypothesis import given, settings, strategies as st
from PIL import Image
from torch import nn
from torch.nn import functional as F

from core import data as datasets
from core import uploads, weights
from core.errors import HeroError
from core.lessons import ch07_vision as L
from tests.conftest import device_reaching_fit


pytestmark = pytest.mark.usefixtures("one_thread")


# ----------------------------------------------------------------- 7.1 convolution

@settings(max_examples=60, deadline=None)
@given(n=st.integers(1, 40), k=st.integers(1, 7), s=st.integers(1, 4), p=st.integers(0, 4), d=st.integers(1, 4))
def test_output_size_formula_matches_conv2d(n, k, s, p, d):
    expected = L.conv_output_size(n, k, s, p, d)
    if expected < 1 or n + 2 * p < d * (k - 1) + 1:
        with pytest.raises(RuntimeError):
            nn.Conv2d(1, 1, k, s, p, dilation=d)(torch.zeros(1, 1, n, n))
        return
    out = nn.Conv2d(1, 1, k, s, p, dilation=d)(torch.zeros(1, 1, n, n))
    assert out.shape[-1] == out.shape[-2] == expected


def test_conv_demo_is_a_real_cross_correlation():
    rng = np.random.default_rng(0)
    image = rng.random((9, 9)).astype(np.float32)
    demo = L.conv_demo(image, "sharpen", 3, s=2, p=1, d=2)
    kernel = demo["kernel"]
    padded = np.pad(image, 1)
    assert np.allclose(demo["padded"], padded)
    size = L.conv_output_size(9, 3, 2, 1, 2)
    oracle = np.array([[sum(kernel[a, b] * padded[i * 2 + a * 2, j * 2 + b * 2] for a in range(3) for b in range(3))
                        for j in range(size)] for i in range(size)])
    assert demo["out_size"] == demo["formula_size"] == size
    assert np.allclose(demo["output"], oracle, atol=1e-5)
    assert f"= {size}" in demo["formula"]


@pytest.mark.parametrize("name", L.KERNELS)
def test_kernels_have_the_requested_size(name):
    for k in (1, 3, 5):
        assert L.make_kernel(name, k).shape == (k, k)
    assert torch.allclose(L.make_kernel("blur", 3).sum(), torch.tensor(1.0))


@pytest.mark.parametrize("kwargs,code", [({"k": 9}, "ch07.bad_conv"), ({"s": 0}, "ch07.bad_conv")])
def test_conv_demo_rejects_out_of_range(kwargs, code):
    args = {"k": 3, "s": 1, "p": 0, "d": 1, **kwargs}
    with pytest.raises(HeroError) as e:
        L.conv_demo(np.zeros((8, 8), np.float32), "blur", **args)
    assert e.value.code == code
    with pytest.raises(HeroError) as e:
        L.conv_demo(np.zeros((4, 4), np.float32), "blur", 7, 1, 0, 1)
    assert e.value.code == "ch07.conv_empty"


@pytest.mark.parametrize("stack", ["3", "3/1/1/1, 3/2/1/1, 3/1/1/1, 3/2/1/1", "5/2, 3/1/1/2, 3/2/0/3", "7/2/3, 3/2/1, 3/1/1/4"])
def test_receptive_field_formula_matches_autograd(stack):
    specs = L.parse_stack(stack)
    rf = L.receptive_field(specs)[-1]["rf"]
    measured = L.measured_receptive_field(specs, 96)   # big enough that no field runs off the image
    assert measured["rows"] == measured["cols"] == rf


@pytest.mark.parametrize("text,code", [("3/x", "ch07.bad_stack"), ("", "ch07.stack_size"),
                                       (",".join(["3"] * 9), "ch07.stack_size"), ("9/1", "ch07.bad_conv")])
def test_parse_stack_rejects_bad_text(text, code):
    with pytest.raises(HeroError) as e:
        L.parse_stack(text)
    assert e.value.code == code


def test_stack_too_deep_is_an_error_not_a_crash():
    with pytest.raises(HeroError) as e:
        L.measured_receptive_field(L.parse_stack("7/4, 7/4, 7/4"), 28)
    assert e.value.code == "ch07.stack_too_deep"


def test_feature_maps_are_the_layers_outputs():
    model = weights.load(L.FEATURE_CHECKPOINT).model
    x = torch.from_numpy(datasets.load("mnist5k").X[:1])
    fm = L.feature_maps(model, x)
    types = [layer["type"] for layer in fm["layers"]]
    assert types == ["Conv2d", "ReLU", "MaxPool2d", "Conv2d", "ReLU", "AdaptiveAvgPool2d"]
    conv = model.features[0]
    oracle = F.conv2d(x.reshape(1, 1, 28, 28), conv.weight, conv.bias, padding=1)[0]
    assert np.allclose(fm["layers"][0]["maps"], oracle.detach().numpy(), atol=1e-5)
    assert np.isclose(fm["probs"].sum(), 1, atol=1e-5)


# ----------------------------------------------------------------- 7.2 architecture zoo

def test_flops_match_a_hand_count():
    model = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.Flatten(), nn.Linear(8 * 10 * 10, 5))
    total, per_module = L.count_flops(model, torch.rand(1, 3, 10, 10))
    conv_macs = 8 * 10 * 10 * 3 * 3 * 3           # outputs × (in_channels · k · k)
    linear_macs = 800 * 5
    assert per_module["0"] == 2 * conv_macs and per_module["2"] == 2 * linear_macs
    assert total == 2 * (conv_macs + linear_macs)


@pytest.mark.parametrize("name", ["lenet", "resnet18"])
def test_parameters_and_layer_table(name):
    stats = L.analyse_architecture(name, 32, repeats=1)
    model = L.ZOO[name]["build"]()
    assert stats["params"] == sum(p.numel() for p in model.parameters())
    if name == "resnet18":
        assert stats["params"] == 11_689_512       # torchvision's documented count
    assert sum(r["flops"] for r in stats["table"]) == stats["flops"]   # the table accounts for every FLOP
    assert stats["ms"] > 0 and stats["table"][0]["output"].startswith("[1, ")


def test_zoo_refuses_too_small_inputs_and_job_clamps():
    with pytest.raises(HeroError) as e:
        L.analyse_architecture("alexnet", 32)
    assert e.value.code == "ch07.bad_input_size"
    events = []
    out = L.analyse_zoo(["lenet"], 32, 1, emit=events.append)
    assert out[0]["size"] == 32 and events[-1]["reason"] == "completed"


# ----------------------------------------------------------------- 7.3 transfer learning

def small_backbone_net(n_classes=3):
    return L.transfer_net(L.pretrained_backbone(False), n_classes)


@pytest.mark.parametrize("level,frozen", [("none", []), ("some", ["stem", "layer1", "layer2"]),
                                          ("all", ["stem", "layer1", "layer2", "layer3"])])
def test_freezing_really_freezes(level, frozen):
    net = small_backbone_net()
    assert L.freeze(net, level) == frozen
    before = {k: v.clone() for k, v in net.state_dict().items()}
    opt = torch.optim.SGD([p for p in net.parameters() if p.requires_grad], lr=0.5)
    net.train()
    for _ in range(3):
        loss = F.cross_entropy(net(torch.rand(8, 3 * 32 * 32)), torch.randint(0, 3, (8,)))
        opt.zero_grad()
        loss.backward()
        opt.step()
    for name, value in net.state_dict().items():
        group = name.split(".")[1] if name.startswith("groups.") else None
        if group in frozen:   # weights AND BatchNorm running statistics untouched
            assert torch.equal(value, before[name]), name
    for name, p in net.named_parameters():
        group = name.split(".")[1] if name.startswith("groups.") else None
        assert p.requires_grad == (group not in frozen)
        if p.requires_grad:
            assert not torch.equal(p.detach(), before[name]), name
    assert not net.groups[frozen[0]].training if frozen else net.groups["stem"].training


def test_pretrained_backbone_is_the_shapes_recipe_and_a_different_task():
    bb = L.pretrained_backbone(False)
    assert bb.kind == "shapes" and weights.get_recipe(L.BACKBONE_CHECKPOINT).dataset == L.SOURCE_TASK
    ds = datasets.load("ch07_shapes", n_per_class=20, seed=1)
    with torch.no_grad():
        acc = (bb.model.eval()(torch.from_numpy(ds.X)).argmax(1).numpy() == ds.y).mean()
    assert acc > 0.8   # it really learned its source task


def test_imagenet_fallback_when_the_network_is_down():
    def offline():
        raise urllib.error.URLError("network unreachable")
    bb = L.pretrained_backbone(True, loader=offline)
    assert bb.kind == "shapes" and "URLError" in bb.note
    model, why = L.imagenet_resnet18(timeout=0.2, loader=lambda: time.sleep(5))
    assert model is None and "timeout" in why


def test_few_shot_split_is_disjoint_and_balanced():
    split = L.few_shot_digits(3, 50)
    assert split.X_train.shape == (30, 3072) and torch.bincount(split.y_train).tolist() == [3] * 10
    train_rows = {r.numpy().tobytes() for r in split.X_train}
    assert len(split.y_val) == 50 and not any(r.numpy().tobytes() in train_rows for r in split.X_val)


def test_transfer_run_compares_both_on_the_same_data():
    events = []
    res = L.train_transfer(L.TransferSettings(shots=2, epochs=1, n_val=20, freeze="all"), emit=events.append)
    assert set(res.histories) == {"pretrained", "scratch"} == set(res.final)
    assert res.trainable["pretrained"] == 64 * 10 + 10 < res.trainable["scratch"]
    assert {e["run"] for e in events} == {"pretrained", "scratch"}


# ----------------------------------------------------------------- 7.4 imbalance

def test_class_weights_formula_and_weighted_loss():
    counts = np.array([90, 10])
    w = L.class_weights(counts)
    assert torch.allclose(w, torch.tensor([100 / (2 * 90), 100 / (2 * 10)]))
    logits, y = torch.randn(6, 2), torch.tensor([0, 0, 0, 1, 1, 0])
    per = F.cross_entropy(logits, y, reduction="none")
    assert torch.allclose(F.cross_entropy(logits, y, weight=w), (w[y] * per).sum() / w[y].sum())


def test_resampling_balances_classes():
    y = torch.tensor([0] * 95 + [1] * 5)
    loader = L.resampling_loader(torch.zeros(100, 1), y, 50, seed=0)
    seen = torch.cat([yb for _ in range(20) for _, yb in loader])
    assert 0.4 < seen.float().mean() < 0.6


def test_weighted_loss_raises_minority_recall():
    split, counts = L.imbalanced_digits(0.05, seed=0)
    assert counts[5:].max() < 10 < counts[:5].min()
    out = L.train_imbalance(L.ImbalanceSettings(minority_fraction=0.05, epochs=10))
    minority = list(L.MINORITY)
    plain, weighted = out["recall"]["plain"][minority].mean(), out["recall"]["weighted"][minority].mean()
    resample = out["recall"]["resample"][minority].mean()
    assert weighted > plain + 0.05 and resample > plain + 0.05, (plain, weighted, resample)


# ----------------------------------------------------------------- 7.5 实战

def png(colour, size=(40, 30)):
    buf = io.BytesIO()
    Image.new("RGB", size, colour).save(buf, "PNG")
    return buf.getvalue()


def test_grad_cam_and_saliency_maps():
    net = small_backbone_net(2).eval()
    row = datasets.load("ch07_photos", n_per_class=2, size=32).X[0]
    for fn in (L.grad_cam, L.saliency):
        m = fn(net, row)
        assert m.shape == (32, 32) and np.isfinite(m).all() and m.min() >= 0
        assert np.isclose(m.max(), 1.0) or m.max() == 0
    result = L.explain(net, png((200, 30, 30), (90, 60)), ("a", "b"), k=3)
    assert result["cam"].shape == result["image"].shape[:2] == result["saliency"].shape
    assert len(result["topk"]) == 2 and np.isclose(sum(p for _, p in result["topk"]), 1, atol=1e-5)


def test_grad_cam_matches_a_hand_computation():
    net = small_backbone_net(2).eval()
    x = torch.rand(1, 3 * 32 * 32)
    A = net.feature_map(x).detach().requires_grad_(True)
    score = net.head(A.mean((2, 3)))[0]
    c = int(score.argmax())
    score[c].backward()
    # for a linear head after global average pooling, ∂y_c/∂A_f = w_cf / (h·w) everywhere
    h, w = A.shape[-2:]
    assert torch.allclose(A.grad[0, :, 0, 0], net.head.weight[c] / (h * w), atol=1e-6)
    cam = F.relu((A.grad.mean((2, 3), keepdim=True) * A).sum(1, keepdim=True))
    cam = F.interpolate(cam, size=(32, 32), mode="bilinear", align_corners=False)[0, 0]
    ours = L.grad_cam(net, x[0].numpy(), c)
    assert np.allclose(ours, (cam / cam.max()).detach().numpy(), atol=1e-5)


def make_zip(members):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, data in members.items():
            z.writestr(name, data)
    return buf.getvalue()


def test_zip_to_dataset_and_limits():
    folder = uploads.read_image_zip(make_zip({"red/1.png": png((255, 0, 0)), "red/2.png": png((250, 0, 0)),
                                              "blue/1.png": png((0, 0, 255)), "blue/2.png": png((0, 0, 250))}))
    ds = L.folder_dataset(folder, 32)
    assert ds.classes == ("blue", "red") and ds.X.shape == (4, 3072)
    assert np.isclose(ds.X[ds.y == 1][0].reshape(3, 32, 32)[0].mean(), 1.0)
    big = uploads.ImageFolder(("a", "b"), {"a": [png((0, 0, 0))] * 400, "b": [png((0, 0, 0))] * 201})
    with pytest.raises(HeroError) as e:
        L.folder_dataset(big)
    assert e.value.code == "ch07.too_many_images"


def test_builtin_photos_are_four_real_classes_with_disjoint_train_and_validation_photos():
    from core.data import photo_sets
    ds = L.builtin_dataset(6, 32)
    mask, photos = ds.extra["val_mask"], np.asarray(ds.extra["photos"])
    assert len(ds.classes) >= 4 and ds.X.shape == (len(ds), 3 * 32 * 32) and 0 <= ds.X.min() and ds.X.max() <= 1
    for k, name in enumerate(ds.classes):
        train, val = set(photos[(ds.y == k) & ~mask]), set(photos[(ds.y == k) & mask])
        assert train and val and not train & val, name          # validation photos are other photos
        assert (ds.y[~mask] == k).sum() == 6 and (ds.y[mask] == k).sum() == 3
    assert not set(photos[~mask]) & set(photos[mask])
    train_rows = {r.tobytes() for r in ds.X[~mask]}
    assert not any(r.tobytes() in train_rows for r in ds.X[mask])
    for pairs in photo_sets.PHOTOS.values():                      # real photos, read from installed packages
        for package, rel in (*pairs[0], *pairs[1]):
            assert min(photo_sets.load_photo(package, rel).shape[:2]) >= 100, rel   # microaneurysms.png is 102²
    again = L.builtin_dataset(6, 32)
    assert np.array_equal(ds.X, again.X)
    with pytest.raises(HeroError):
        L.builtin_dataset(10**6)
    with pytest.raises(HeroError):
        L.builtin_dataset(4, 33)


def test_finetune_on_builtin_photos_keeps_the_photo_split_and_learns():
    ds = L.builtin_dataset(8, 32)
    split = L.photo_split(ds)
    mask = ds.extra["val_mask"]
    assert torch.equal(split.X_val, torch.from_numpy(ds.X[mask])) and len(split.y_train) == (~mask).sum()
    result = L.finetune(ds, L.FinetuneSettings(epochs=3))
    assert result.ok and result.classes == ds.classes and result.backbone == "shapes" and not result.note
    assert result.end["train_acc"] > 1.5 / len(ds.classes)            # well above chance on the training crops
    assert set(result.per_class) == set(ds.classes) and result.model.image_size == 32
    pred = result.model(split.X_val).argmax(1)
    assert np.isclose(np.mean([result.per_class[c] for c in ds.classes]),
                      np.mean([(pred[split.y_val == k] == k).float().mean() for k in range(len(ds.classes))]))
    top = L.predict_topk(result.model, L.sample_row(ds), result.classes, 3)
    assert len(top) == 3 and top[0][1] >= top[1][1] >= top[2][1]
    shown = L.preview_rows(ds)
    assert {int(ds.y[i]) for i in shown} == set(range(len(ds.classes))) and any(mask[i] for i in shown)


def test_finetune_takes_the_chosen_backbone_or_falls_back_cleanly():
    ds = L.builtin_dataset(2, 32)

    def offline():
        raise urllib.error.URLError("network unreachable")
    fell_back = L.finetune(ds, L.FinetuneSettings(epochs=1, imagenet=True), loader=offline)
    assert fell_back.ok and fell_back.backbone == "shapes" and "URLError" in fell_back.note
    from torchvision.models import resnet18
    chosen = L.finetune(ds, L.FinetuneSettings(epochs=1, imagenet=True, freeze="all"), loader=lambda: resnet18())
    assert chosen.ok and chosen.backbone == "imagenet" and not chosen.note
    assert "layer4" in chosen.model.groups and chosen.model.head.in_features == 512
    e = L.explain(chosen.model, L.image_bytes(ds.X[0]), chosen.classes, k=2)
    assert len(e["topk"]) == 2 and e["cam"].shape == (128, 128)


def test_shapes_dataset_is_deterministic():
    a, b = datasets.load("ch07_shapes", n_per_class=3), datasets.load("ch07_shapes", n_per_class=3)
    assert np.array_equal(a.X, b.X) and a.X.shape == (30, 3072) and 0 <= a.X.min() and a.X.max() <= 1
    with pytest.raises(HeroError):
        datasets.load("ch07_shapes", n_per_class=10**6)


# --------------------------------------------------------------------------- platform: device, shelf files, recipe

def test_shapes_config_is_the_shipped_recipe():
    from core import weights
    recipe = weights.get_recipe(L.BACKBONE_CHECKPOINT)
    assert recipe.arch == "tiny_resnet" and recipe.config == L.SHAPES_CONFIG


@pytest.mark.parametrize("module, call", [
    ("transfer", lambda: L.transfer_runs(L.TransferSettings(shots=1, epochs=1, n_val=10, device="meta"),
                                         L.pretrained_backbone())),
    ("imbalance", lambda: L.train_imbalance(L.ImbalanceSettings(epochs=1, device="meta"))),
    ("own_images", lambda: L.finetune(L.builtin_dataset(4, 32), L.FinetuneSettings(epochs=1, device="meta"))),
])
def test_training_lessons_put_model_and_fit_on_the_settings_device(monkeypatch, module, call):
    import importlib
    mod = importlib.import_module(f"core.lessons.ch07_vision.{module}")
    assert device_reaching_fit(monkeypatch, mod, call) == {"fit": "meta", "model": "meta"}


def test_transfer_keeps_the_trained_net_on_the_cpu_and_it_downloads_as_safetensors():
    from safetensors.torch import load
    res = L.train_transfer(L.TransferSettings(shots=1, epochs=1, n_val=10, freeze="some"))
    assert next(res.model.parameters()).device.type == "cpu"
    files = L.classifier_files(res.model, "m", {"classes": list("0123456789"), "image_size": 32})
    state = load(files["m.safetensors"])
    assert set(state) == set(res.model.state_dict())
    assert torch.equal(state["head.weight"], res.model.head.weight.detach())


def test_scratch_net_is_the_backbone_architecture_freshly_initialised():
    backbone = L.pretrained_backbone()
    pre, scratch = L.transfer_net(backbone, 10), L.transfer_net(backbone, 10, scratch=True)
    assert [n for n, _ in pre.named_parameters()] == [n for n, _ in scratch.named_parameters()]
    assert not torch.equal(pre.groups["stem"][0].weight, scratch.groups["stem"][0].weight)
