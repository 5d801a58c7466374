"""Chapter 14 lessons against oracles, with real torch.distributed processes (gloo, 2 ranks, few steps).

Oracles: hand-computed calculator values; single-process training on the concatenated batch (DDP);
NumPy (collectives); the unsplit model in one process (pipeline); the same run without no_sync.
Process hygiene: crashes are reported by rank, stop cycles leave no process behind.
"""
import threading
import time

import psutil
import pytest
import torch

from core import dist as hero_dist
from core.errors import HeroError
from core.lessons.ch14_distributed import calculators as calc
from core.lessons.ch14_distributed import collectives as coll
from core.lessons.ch14_distributed import ddp
from core.lessons.ch14_distributed import pipeline as pipe
from core.lessons.ch14_distributed import script as scr


# Children that other tests of the same pytest process leave on purpose: multiprocessing's resource
# tracker, the appendix error guide's warm spare harness, and whatever was alive before this module ran.
_BEFORE = {p.pid for p in psutil.Process().children(recursive=True)}


def _not_ours(p) -> bool:
    cmd = " ".join(p.cmdline())
    return p.pid in _BEFORE or "resource_tracker" in cmd or "appendix/harness.py" in cmd


def our_processes() -> list:
    """Live descendants of this test process, except multiprocessing's own resource tracker."""
    kids = []
    for p in psutil.Process().children(recursive=True):
        try:
            if p.status() != psutil.STATUS_ZOMBIE and not _not_ours(p):
                kids.append(p)
        except psutil.NoSuchProcess:
            pass
    return kids


def stray_workers(name: str = "ch14_ddp") -> list:
    """Processes running a generated script anywhere on the machine (torchrun starts each worker in
    a session of its own, so an orphan would not show up among this process's children)."""
    out = []
    for p in psutil.process_iter(["cmdline"]):
        try:
            if any(name in part for part in (p.info["cmdline"] or [])):
                out.append(p)
        except psutil.Error:
            pass
    return out


# --- calculators (no processes) -------------------------------------------------------------------

def test_scaling_table_matches_hand_computation():
    s = calc.ScalingSettings(epoch_seconds_1=100, serial_share=0.1, steps_per_epoch_1=100,
                             params_millions=1, bandwidth_gbps=1, latency_us=0, grad_bytes=4, max_workers=4)
    rows = {r["workers"]: r for r in calc.scaling_table(s)}
    assert set(rows) == {1, 2, 4}
    assert rows[1]["epoch_s"] == pytest.approx(100) and rows[1]["comm_s"] == 0
    # N=2: serial 10 + compute 45 + 50 steps × ring(2 × 1/2 × 4 MB / 1 GB/s = 4 ms) = 0.2 s
    assert rows[2]["comm_s"] == pytest.approx(0.2)
    assert rows[2]["epoch_s"] == pytest.approx(55.2)
    # N=4: 10 + 22.5 + 25 × (2 × 3/4 × 4e6 / 1e9 = 6 ms) = 32.65
    assert rows[4]["epoch_s"] == pytest.approx(32.65)
    assert rows[4]["amdahl"] == pytest.approx(1 / (0.1 + 0.9 / 4))
    assert all(r["speedup"] <= r["amdahl"] + 1e-12 for r in rows.values())


def test_allreduce_latency_term():
    assert calc.allreduce_seconds(1, 1e9, 1, 100) == 0
    assert calc.allreduce_seconds(4, 0, 1, 10) == pytest.approx(6 * 10e-6)


def test_memory_per_device_matches_zero_paper():
    # ZeRO paper, Figure 1: 7.5 B params, N = 64, mixed-precision Adam (K = 12):
    # DP 120 GB, ZeRO-1 31.4 GB, ZeRO-2 16.6 GB, ZeRO-3 1.9 GB (GB = 1e9 bytes)
    calc.MODELS["paper 7.5B"] = dict(params=7.5e9, layers=32, hidden=4096, heads=32, seq=1024)
    try:
        rows = {r["strategy"]: r for r in calc.memory_per_device(
            calc.MemorySettings(model="paper 7.5B", devices=64, activations=False))}
    finally:
        del calc.MODELS["paper 7.5B"]
    gb = lambda r: r["total"] * 2**30 / 1e9  # noqa: E731
    assert gb(rows["dp"]) == pytest.approx(120.0)
    assert gb(rows["zero1"]) == pytest.approx(31.40625)
    assert gb(rows["zero2"]) == pytest.approx(16.640625)
    assert gb(rows["zero3"]) == pytest.approx(1.875)


def test_activation_memory_formula():
    # s·b·h·(34 + 5as/h) for GPT-2 small, one sequence: 1024·768·(34 + 5·12·1024/768)
    per_layer = calc.activation_bytes_per_layer(1024, 1, 768, 12)
    assert per_layer == pytest.approx(1024 * 768 * (34 + 5 * 12 * 1024 / 768))
    tp = calc.activation_bytes_per_layer(1024, 1, 768, 12, tp=2)
    assert tp == pytest.approx(1024 * 768 * (10 + 12 + 5 * 12 * 1024 / (768 * 2)))


def test_calculator_bad_input():
    with pytest.raises(HeroError) as err:
        calc.scaling_table(calc.ScalingSettings(serial_share=1.5))
    assert err.value.code == "range"


# --- real processes --------------------------------------------------------------------------------

def test_ddp_gradients_equal_single_process_and_losses_stream():
    events = []
    r = ddp.train_ddp(ddp.DDPSettings(world_size=2, steps=3), emit=events.append)
    assert r["grad_max_abs_diff"] <= 1e-6
    assert {e["rank"] for e in events if e["kind"] == "step"} == {0, 1}
    assert all(len(v) == 3 for v in r["losses"].values())
    # the two ranks saw different shards: their losses differ
    assert r["losses"][0] != r["losses"][1]
    assert not our_processes()


def test_collectives_match_numpy():
    for op in ("all_reduce_sum", "reduce_scatter"):
        s = coll.CollectiveSettings(op=op, world_size=2, size=6, seed=3)
        r = coll.run_collective(s)
        assert r["after"] == [[float(v) for v in row] for row in r["expected"]], op
        assert r["before"][0] != r["before"][1]


def test_collective_expected_oracles():
    s = coll.CollectiveSettings(world_size=3, size=3, seed=1)
    xs = [coll.rank_tensor(r, 3, 1) for r in range(3)]
    assert coll.expected(coll.CollectiveSettings(op="all_reduce_max", world_size=3, size=3, seed=1))[2] == \
        torch.stack(xs).max(0).values.tolist()
    assert coll.expected(coll.CollectiveSettings(op="broadcast", world_size=3, size=3, seed=1, src=2))[0] == xs[2].tolist()
    assert coll.expected(coll.CollectiveSettings(op="all_gather", world_size=3, size=3, seed=1))[1] == torch.cat(xs).tolist()
    assert s.op == "all_reduce_sum"


def test_alpha_beta_fit_recovers_known_line():
    rows = [{"bytes": b, "seconds": 1e-4 + b / 2e9} for b in (4e3, 4e5, 4e6)]
    fit = coll.alpha_beta_fit(rows, world_size=1)
    assert fit["alpha_s"] == pytest.approx(1e-4, rel=1e-6)
    assert fit["beta_bytes_per_s"] == pytest.approx(2e9, rel=1e-6)


def test_pipeline_gradients_equal_unsplit_model_and_bubble_measured():
    r = pipe.run_pipeline(pipe.PipeSettings(micro_batches=2, batch=32, width=64, layers_per_stage=2, steps=1))
    assert r["grad_max_abs_diff"] <= 1e-6
    phases = {(x["rank"], x["phase"]) for x in r["spans"]}
    assert phases == {(0, "forward"), (0, "backward"), (1, "forward"), (1, "backward")}
    assert 0.0 <= r["bubble_measured"] < 1.0 and r["bubble_ideal"] == pytest.approx(1 / 3)


def test_no_sync_cuts_allreduces_and_keeps_weights():
    r = ddp.accumulation(ddp.CommSettings(world_size=2, micro_steps=4, accumulate=2, hidden=64, layers=2))
    every, skip = r["every_step"]["calls"][0], r["no_sync"]["calls"][0]
    assert skip < every
    assert r["weight_max_abs_diff"] <= 1e-6
    assert any(e["phase"] == "allreduce" for e in r["every_step"]["timeline"])


def test_worker_crash_is_reported_by_rank_not_a_hang():
    for mode, code in (("exit", "ch14.worker_died"), ("raise", "ch14.worker_failed")):
        started = time.monotonic()
        with pytest.raises(HeroError) as err:
            hero_dist.run_ranks(ddp.faulty_rank, 2, (mode,), timeout_s=60)
        assert err.value.code in (code, "ch14.worker_failed"), (mode, err.value.code)
        assert err.value.params.get("rank") in (0, 1)
        assert time.monotonic() - started < 60
    assert not our_processes()


def test_world_size_and_memory_refused(monkeypatch):
    with pytest.raises(HeroError) as err:
        hero_dist.check_world_size(hero_dist.max_world_size() + 1)
    assert err.value.code == "ch14.world_size"
    monkeypatch.setattr(coll, "_free_bytes", lambda: 100 * 2**20)
    with pytest.raises(HeroError) as err:
        coll.run_collective(coll.CollectiveSettings(size=50_000_000))
    assert err.value.code == "ch14.too_large"
    assert not our_processes()


def test_twenty_start_stop_cycles_leave_no_process():
    for i in range(20):
        stop = threading.Event()
        gang = hero_dist.Gang(ddp.faulty_rank, 2, ("hang",), timeout_s=30)
        threading.Timer(0.05 * (i % 4), stop.set).start()
        assert gang.run(stop) is None
        assert not any(gang.alive())
    time.sleep(0.2)
    assert not our_processes()


def test_generated_script_resumes_after_a_killed_worker():
    events = []
    s = scr.ScriptSettings(nproc=2, steps=12, ckpt_every=4, pause=0.02)
    r = scr.run_script(s, emit=events.append, max_restarts=1, kill_at_step=6)
    assert r["kills"] and r["restarts"] == 1
    resumed = [e for e in r["events"] if e["kind"] == "start" and e["attempt"] == 1]
    assert {e["resume_step"] for e in resumed} == {4}          # the last checkpoint before the kill
    assert any(e["kind"] == "done" for e in r["events"])
    assert not our_processes() and not stray_workers()


def test_stop_mid_torchrun_kills_agent_and_workers():
    stop = threading.Event()
    seen = []

    def emit(event):
        seen.append(event)
        if event["kind"] == "step":
            stop.set()
    r = scr.run_script(scr.ScriptSettings(nproc=2, steps=200, pause=0.05), stop, emit)
    assert r is None and any(e["kind"] == "step" for e in seen)
    time.sleep(0.5)
    assert not our_processes() and not stray_workers()


def test_generated_script_runs_single_process(tmp_path):
    import subprocess
    import sys
    text = scr.ddp_script(scr.ScriptSettings(steps=4))
    (tmp_path / "ch14_ddp.py").write_text(text)
    out = subprocess.run([sys.executable, "ch14_ddp.py"], cwd=tmp_path, capture_output=True, text=True,
                         timeout=120, env={"PATH": "/usr/bin:/bin", "HERO_TINY": "1"})
    assert out.returncode == 0, out.stderr[-2000:]
    assert "trained 6 steps on 1 process(es)" in out.stdout
