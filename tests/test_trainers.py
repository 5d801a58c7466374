"""Every registered trainer check (``core.lessons.trainer``) runs on every device present.

CPU always; CUDA and MPS when this machine has them, otherwise skipped with the reason. Tiny
preset, so the whole file stays quick; ``scripts/gpu_check.py`` runs the same checks with the
default preset and times CPU against the GPU.
"""
from __future__ import annotations

import math

import pytest
import torch

from core.lessons import load_all

CHECKS = load_all()


def _devices():
    yield pytest.param("cpu", id="cpu")
    yield pytest.param("cuda", id="cuda", marks=pytest.mark.skipif(
        not torch.cuda.is_available(), reason="no CUDA device on this machine"))
    mps = getattr(torch.backends, "mps", None)
    yield pytest.param("mps", id="mps", marks=pytest.mark.skipif(
        not (mps and mps.is_available()), reason="no Apple MPS device on this machine"))


def test_trainers_are_registered():
    assert CHECKS, "no lesson registered a trainer check (core.lessons.trainer)"


@pytest.mark.parametrize("device", list(_devices()))
@pytest.mark.parametrize("name", sorted(CHECKS))
def test_trainer_runs_on_device(name, device):
    measured = CHECKS[name](device, "tiny")
    assert isinstance(measured, dict) and measured, f"{name} returned {measured!r}"
    for key, value in measured.items():
        if isinstance(value, float):
            assert math.isfinite(value), f"{name}: {key} = {value}"


def test_gpu_check_script_runs_on_cpu():
    """The GPU check is for GPU machines, but it must run as a smoke test anywhere."""
    import subprocess
    import sys

    from tests.conftest import ROOT
    name = sorted(CHECKS)[0]
    done = subprocess.run([sys.executable, str(ROOT / "scripts" / "gpu_check.py"), "--device", "cpu",
                           "--preset", "tiny", "--only", name], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert name in done.stdout and "0 failed" in done.stdout
