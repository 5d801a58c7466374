"""Chapter 14 page through the real router (tiny preset): every button starts real processes, results
render, bad input is refused with a translated message, and no process outlives its run."""
import psutil

from core.i18n import translate
from tests.conftest import click, finish_runs, open_page

PAGE = "pages/ch14_distributed.py"


def texts(app) -> str:
    return " ".join(str(e.value) for kind in ("markdown", "caption", "info", "error", "success", "warning", "code")
                    for e in getattr(app, kind))


# Children that other tests of the same pytest process leave on purpose: multiprocessing's resource
# tracker, the appendix error guide's warm spare harness, and whatever was alive before this module ran.
_BEFORE = {p.pid for p in psutil.Process().children(recursive=True)}


def _not_ours(p) -> bool:
    cmd = " ".join(p.cmdline())
    return p.pid in _BEFORE or "resource_tracker" in cmd or "appendix/harness.py" in cmd


def live_children() -> list:
    """Descendants of this process, and any worker of a generated script (torchrun gives each worker
    a session of its own, so an orphan would not be a descendant)."""
    out = [p for p in psutil.process_iter(["cmdline"])
           if any("ch14_ddp" in part for part in (p.info["cmdline"] or []))]
    for p in psutil.Process().children(recursive=True):
        try:
            if p.status() != psutil.STATUS_ZOMBIE and not _not_ours(p):
                out.append(p)
        except psutil.NoSuchProcess:
            pass
    return out


def test_calculators_ddp_and_collectives(app):
    open_page(app, PAGE)
    assert "Amdahl" in texts(app)
    app.slider(key="ch14_serial").set_value(0.2).run()
    assert not app.exception
    app.selectbox(key="ch14_model").set_value("GPT-2 XL (1.5 B)").run()
    assert any("total" in d.value.columns and len(d.value) == 6 for d in app.dataframe)
    click(app, "start_ch14_ddp")
    click(app, "start_ch14_coll")
    finish_runs(app, timeout=240)
    ddp = app.session_state["ch14_ddp_result"]
    assert ddp["grad_max_abs_diff"] <= 1e-6 and set(ddp["losses"]) == {0, 1}
    assert app.session_state["ch14_coll_result"]["after"] == app.session_state["ch14_coll_result"]["expected"]
    shown = texts(app)
    assert translate("en", "ch14.coll.check_ok") in shown
    assert not live_children()


def test_pipeline_accumulation_and_fault_tolerance(app):
    open_page(app, PAGE)
    app.select_slider(key="ch14_micro").set_value(2).run()
    for key in ("start_ch14_pipe", "start_ch14_acc", "start_ch14_fault"):
        click(app, key)
    runs = finish_runs(app, timeout=300)
    assert all(r.status == "done" for r in runs.values()), [(r.key, r.status, r.error and r.error.params, r.crash) for r in runs.values()]
    S = app.session_state
    assert S["ch14_pipe_result"]["grad_max_abs_diff"] <= 1e-6
    assert S["ch14_acc_result"]["no_sync"]["calls"][0] < S["ch14_acc_result"]["every_step"]["calls"][0]
    assert S["ch14_fault_result"]["restarts"] == 1 and S["ch14_fault_result"]["kills"]
    app.radio(key="ch14_acc_show").set_value(translate("en", "ch14.acc.no_sync")).run()
    assert not app.exception
    assert "torchrun" in texts(app)
    assert not live_children()


def test_torchrun_project_bandwidth_and_throughput(app):
    open_page(app, PAGE)
    for key in ("start_ch14_torchrun", "start_ch14_bw", "start_ch14_tp"):
        click(app, key)
    runs = finish_runs(app, timeout=300)
    assert all(r.status == "done" for r in runs.values()), [(r.key, r.status, r.error and r.error.params, r.crash) for r in runs.values()]
    S = app.session_state
    assert any("trained" in line for line in S["ch14_torchrun_result"]["output"])
    assert S["ch14_bw_result"]["fit"]["beta_bytes_per_s"] > 0
    assert [r["world_size"] for r in S["ch14_tp_result"]] == [1, 2]
    assert translate("en", "ch14.tp.honest")[:20] in texts(app)
    assert not live_children()


def test_bad_input_is_refused_in_both_languages(app):
    open_page(app, PAGE)
    app.session_state["lang"] = "zh"
    app.run()
    app.number_input(key="ch14_world").set_value(8).run()
    click(app, "start_ch14_ddp")
    app.number_input(key="ch14_size").set_value(2_000_000_000).run()
    click(app, "start_ch14_coll")
    finish_runs(app, timeout=60)
    errors = " ".join(e.value for e in app.error)
    assert "world size 8" in errors and "空闲内存" in errors
    assert not live_children()
