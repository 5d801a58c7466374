"""Chapter 16.5 scaling-law lab and 16.6 hardware lessons, against oracles: the power-law fit
recovers known parameters and matches scipy's curve_fit, parameter counts match the built model,
the budget holds, autocast is what torch does, graph breaks are what dynamo reports."""
import threading
import time

import numpy as np
import pytest
import torch

from core.errors import HeroError
from core.lessons.ch16_horizon import hardware as hw, scaling
from tests.conftest import device_reaching_fit


pytestmark = pytest.mark.usefixtures("one_thread")


TINY = dict(scaling.PRESETS["tiny"])


# --------------------------------------------------------------------------- the fit

@pytest.mark.parametrize("a, alpha, c", [(8.0, 0.35, 1.1), (3.0, 0.076, 0.5), (20.0, 0.5, 0.0)])
def test_fit_recovers_known_power_law(a, alpha, c):
    N = np.geomspace(1e3, 1e6, 8)
    L = a * N ** -alpha + c
    f = scaling.fit_power_law(N, L)
    assert f["alpha"] == pytest.approx(alpha, rel=2e-3, abs=2e-4)
    assert f["a"] == pytest.approx(a, rel=2e-2)
    assert f["c"] == pytest.approx(c, abs=2e-3)
    assert f["r2"] > 0.99999
    np.testing.assert_allclose(scaling.predict(f, N), L, rtol=1e-4)


def test_pure_power_law_is_the_loglog_line():
    N = np.geomspace(1e2, 1e5, 6)
    L = 4.0 * N ** -0.2
    f = scaling.fit_power_law(N, L, offset=False)
    assert f["c"] == 0.0 and f["alpha"] == pytest.approx(0.2, rel=1e-9) and f["a"] == pytest.approx(4.0, rel=1e-9)
    assert f["alpha0"] == pytest.approx(0.2, rel=1e-9)
    slope = np.polyfit(np.log(N), np.log(L), 1)[0]       # numpy's own straight line in log-log space
    assert f["alpha0"] == pytest.approx(-slope)


def test_fit_matches_scipy_curve_fit_on_noisy_points():
    """With noise there is no true answer to recover: our grid + golden-section search must reach
    a squared error no worse than scipy's least-squares solver started near the truth."""
    optimize = pytest.importorskip("scipy.optimize")
    rng = np.random.default_rng(0)
    N = np.geomspace(3e3, 3e5, 7)
    L = 6.0 * N ** -0.3 + 1.4 + rng.normal(0, 0.01, N.shape)
    f = scaling.fit_power_law(N, L)
    law = lambda n, a, alpha, c: a * n ** -alpha + c
    (a, alpha, c), _ = optimize.curve_fit(law, N, L, p0=(6.0, 0.3, 1.4), maxfev=20000)
    ours = np.sum((scaling.predict(f, N) - L) ** 2)
    theirs = np.sum((law(N, a, alpha, c) - L) ** 2)
    assert ours <= theirs * (1 + 1e-3) + 1e-12
    assert 0 <= f["c"] < L.min()


@pytest.mark.parametrize("params, losses", [([1000], [2.0]), ([1000, 1000], [2.0, 1.9]), ([1000, -5], [2.0, 1.0]),
                                            ([1000, 2000], [2.0])])
def test_fit_refuses_what_it_cannot_fit(params, losses):
    with pytest.raises(HeroError) as err:
        scaling.fit_power_law(params, losses)
    assert err.value.code == "ch16.scaling.too_few_points"


# --------------------------------------------------------------------------- the ladder and the lab

def test_ladder_counts_match_the_built_models():
    from core.nets.char_gpt import CharGPT, CharGPTConfig
    vocab = len(scaling.corpus_vocab())
    for shape in scaling.ladder(len(scaling.LADDER)):
        model = CharGPT(CharGPTConfig(vocab_size=vocab, block_size=16, n_layer=shape["n_layer"],
                                      n_head=shape["n_head"], n_embd=shape["n_embd"]))
        total = sum(p.numel() for p in model.parameters())         # tied head counted once by torch
        assert scaling.non_embedding_params(model) == shape["params"]
        assert total == shape["params"] + shape["embedding"] + 16 * shape["n_embd"]   # + the position table
    sizes = [p["params"] for p in scaling.ladder(len(scaling.LADDER))]
    assert sizes == sorted(sizes) and len(set(sizes)) == len(sizes)


def test_tokens_budget_gives_every_model_the_same_tokens_and_a_live_fit():
    events = []
    r = scaling.scaling_lab(scaling.ScalingSettings(**TINY), emit=events.append)
    assert r.ok and len(r.points) == TINY["sizes"] and not r.stopped
    tokens = TINY["steps"] * TINY["batch_size"] * TINY["block_size"]
    assert {p["tokens"] for p in r.points} == {tokens}
    assert [p["params"] for p in r.points] == [s["params"] for s in scaling.ladder(TINY["sizes"])]
    assert all(np.isfinite(p["val_loss"]) and p["val_loss"] > 0 for p in r.points)
    assert r.best == min(r.points, key=lambda p: p["val_loss"])
    point_events = [e for e in events if e["kind"] == "point"]
    assert len(point_events) == TINY["sizes"] and point_events[0]["fit"] is None and point_events[-1]["fit"] == r.fit
    progress = [e["done"] for e in events if e["kind"] == "progress"]
    assert progress == sorted(progress) and progress[-1] == TINY["steps"] * TINY["sizes"]
    assert all(e["total"] == TINY["steps"] * TINY["sizes"] for e in events if e["kind"] == "progress")


def test_seconds_budget_stops_on_the_clock():
    s = scaling.ScalingSettings(**{**TINY, "sizes": 2, "budget": "seconds", "seconds": 0.4})
    started = time.perf_counter()
    r = scaling.scaling_lab(s)
    assert len(r.points) == 2 and all(p["reason"] == "budget" for p in r.points)
    assert all(0.4 <= p["seconds"] < 0.4 + 15 for p in r.points)     # one step past the budget, at most (slow box)
    assert time.perf_counter() - started < 60


def test_stopped_lab_keeps_only_finished_models():
    stop = threading.Event()
    stop.set()
    r = scaling.scaling_lab(scaling.ScalingSettings(**TINY), stop_event=stop)
    assert r.points == [] and r.fit is None and not r.ok and r.stopped


@pytest.mark.parametrize("change, code", [({"budget": "flops"}, "ch16.scaling.bad_budget"), ({"sizes": 1}, "range"),
                                          ({"sizes": 99}, "range"), ({"seconds": 1e6}, "range")])
def test_bad_settings_are_translated_errors(change, code):
    with pytest.raises(HeroError) as err:
        scaling.check_scaling(scaling.ScalingSettings(**{**TINY, **change}))
    assert err.value.code == code


def test_lab_trains_on_the_settings_device(monkeypatch):
    call = lambda: scaling.scaling_lab(scaling.ScalingSettings(**TINY, device="meta"))
    assert device_reaching_fit(monkeypatch, scaling, call) == {"fit": "meta", "model": "meta"}


# --------------------------------------------------------------------------- hardware

def test_autocast_support_reports_what_torch_autocast_does():
    rows = {r["dtype"]: r for r in hw.autocast_support("cpu")}
    assert set(rows) == {"bfloat16", "float16"}
    layer, x = torch.nn.Linear(16, 16), torch.randn(4, 16)
    for name, row in rows.items():
        with torch.autocast("cpu", dtype=hw.DTYPES[name]):
            expected = layer(x).dtype
        assert row["output"] == str(expected).replace("torch.", "")
        assert row["autocast"] == (expected == hw.DTYPES[name])
    assert rows["bfloat16"]["autocast"]            # CPU autocast has supported bf16 since torch 1.10


def test_accelerators_agree_with_torch():
    rows = {r["backend"].split()[0]: r for r in hw.accelerators()}
    assert rows["cuda"]["available"] == torch.cuda.is_available()
    assert rows["cuda"]["built"] == torch.backends.cuda.is_built()
    assert sum(r["current"] for r in rows.values()) == (1 if torch.accelerator.is_available() else 0)


def test_matmul_speeds_per_dtype():
    events = []
    rows = hw.matmul_speeds(hw.MatmulSettings(n=32, repeats=1, dtypes=("float32", "bfloat16")), emit=events.append)
    assert [r["dtype"] for r in rows] == ["float32", "bfloat16"]
    assert all(r["gflops"] > 0 and np.isfinite(r["gflops"]) for r in rows)
    assert events[-1]["done"] == events[-1]["total"] == 2
    with pytest.raises(HeroError):
        hw.matmul_speeds(hw.MatmulSettings(n=10**6))


def test_paired_timing_orders_a_slow_and_a_fast_call():
    slow, fast = hw.paired_ms((lambda: time.sleep(0.01), lambda: None), repeats=3, device="cpu", warmup=0)
    assert slow >= 9 and fast < slow


def test_graph_breaks_found_where_item_drives_an_if():
    rows = {r["function"]: r for r in hw.graph_breaks()}
    clean, broken = rows["scale_clean"], rows["scale_with_break"]
    assert (clean["graphs"], clean["breaks"], clean["reasons"]) == (1, 0, [])
    assert broken["graphs"] == 2 and broken["breaks"] == 1
    assert "item" in broken["reasons"][0] and "scale_with_break" in broken["reasons"][0]
    assert clean["same_result"] and broken["same_result"]
    assert sum(len(g) for g in broken["ops_per_graph"]) == broken["ops"]


def test_both_break_demo_functions_compute_the_same():
    for scale in (0.1, 1.0, 10.0):       # branch taken and not taken
        x = torch.randn(5, 7, generator=torch.Generator().manual_seed(1)) * scale
        torch.testing.assert_close(hw.scale_with_break(x), hw.scale_clean(x))


def test_compile_plumbing_with_the_capture_only_backend():
    """backend="eager": dynamo captures the graph but generates no code (a second, not a compile)."""
    events = []
    r = hw.compile_speed(hw.CompileSettings(width=8, depth=1, batch=2, repeats=2, backend="eager"), emit=events.append)
    assert r["max_abs_diff"] < 1e-6 and r["compile_s"] > 0 and r["eager_ms"] > 0 and r["compiled_ms"] > 0
    assert r["params"] == sum(p.numel() for p in hw.small_model(hw.CompileSettings(width=8, depth=1)).parameters())
    assert "compiling" in events[0]["text"] and events[-1]["done"] == events[-1]["total"]
    with pytest.raises(HeroError) as err:
        hw.compile_speed(hw.CompileSettings(backend="tvm"))
    assert err.value.code == "ch16.hw.bad_backend"
