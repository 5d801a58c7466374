import os
from pathlib import Path

import torch

from core import device


def test_cpu_quota_respects_affinity():
    assert 1 <= device.cpu_quota() <= len(os.sched_getaffinity(0))


def test_cgroup_v2_limit_parsed(monkeypatch, tmp_path):
    cpu_max = tmp_path / "cpu.max"
    cpu_max.write_text("150000 100000\n")
    real_path = Path

    def fake_path(p, *a):
        return cpu_max if str(p) == "/sys/fs/cgroup/cpu.max" else real_path(p, *a)
    monkeypatch.setattr(device, "Path", fake_path)
    assert device._cgroup_cpu_limit() == 1.5
    cpu_max.write_text("max 100000\n")
    assert device._cgroup_cpu_limit() is None


def test_detect_cpu_override(monkeypatch):
    monkeypatch.setenv("HERO_DEVICE", "cpu")
    info = device.detect()
    assert info.kind == "cpu" and info.overridden
    assert info.threads == torch.get_num_threads() <= max(info.cpu_quota, int(os.environ.get("HERO_THREADS", 0)))


def test_unavailable_cuda_override_falls_back(monkeypatch):
    monkeypatch.setenv("HERO_DEVICE", "cuda")
    info = device.detect()
    assert info.kind == ("cuda" if torch.cuda.is_available() else info.kind)
    if not torch.cuda.is_available():
        assert not info.overridden


def test_preset_env(monkeypatch):
    monkeypatch.setenv("HERO_PRESET", "tiny")
    assert device.preset() == "tiny"
    monkeypatch.setenv("HERO_PRESET", "")
    assert device.preset(device.detect()) in ("default", "gpu")


def test_seed_everything_repeats():
    device.seed_everything(3)
    a = torch.randn(5)
    device.seed_everything(3)
    assert torch.equal(a, torch.randn(5))


def test_matmul_gflops_positive():
    assert device.matmul_gflops("cpu", n=64, repeats=2) > 0


def test_autocast_dtype_cpu_is_fp32():
    info = device.detect()
    if info.kind == "cpu":
        assert device.autocast_dtype(info) is None
