"""Chapter 4 page through the real router: every main action, results drawn, bad input explained."""
from core.i18n import translate
from tests.conftest import click, finish_runs, open_page

PAGE = "pages/ch04_loss_optim.py"


def texts(app, kind: str) -> str:
    return " ".join(e.value for e in getattr(app, kind))


def test_page_draws_losses_stability_custom_decay_and_schedulers(app):
    open_page(app, PAGE)
    charts = app.get("plotly_chart")
    # loss explorer, stability, focal curve, Adam vs AdamW, schedulers: all drawn without pressing anything
    assert len(charts) >= 5
    assert translate("en", "ch04.stability.bce_logits") in app.dataframe[0].value.columns.tolist()
    # every loss renders its curve and explanation
    for name in ("cross_entropy", "nll", "bce", "bce_logits", "huber"):
        app.selectbox(key="ch04_loss").set_value(name).run()
        assert not app.exception
        assert translate("en", f"ch04.losses.names.{name}") in app.selectbox(key="ch04_loss").options[
            app.selectbox(key="ch04_loss").index]
    # every scheduler at once, with a parameter changed
    app.multiselect(key="ch04_scheds").set_value(["step", "multistep", "exponential", "cosine", "warm_restarts",
                                                  "onecycle", "warmup_cosine", "plateau"]).run()
    assert not app.exception
    app.slider(key="ch04_sp_step_step_size").set_value(5).run()
    assert not app.exception
    # weight_decay = 0: Adam and AdamW coincide, and the page says so
    app.select_slider(key="ch04_decay_wd").set_value(0.0).run()
    assert translate("en", "ch04.decay.same") in texts(app, "markdown")


def test_race_predict_then_run_and_divergence_message(app):
    open_page(app, PAGE)
    app.radio(key="radio_ch04_rosen").set_value("adam").run()
    click(app, "commit_ch04_rosen")
    click(app, "start_ch04_race")
    finish_runs(app)
    result = app.session_state["ch04_race_result"]
    assert set(result["paths"]) == {"sgd", "momentum", "nesterov", "rmsprop", "adam", "adamw"}
    assert any(c.key == "ch04_race_fig" for c in app.get("plotly_chart"))
    # the guess is judged against the real race: a right/wrong verdict, not "locked"
    verdict = texts(app, "success") + texts(app, "warning")
    assert "adam" in verdict
    # an exploding learning rate: a translated explanation, never a traceback
    app.select_slider(key="ch04_lr_sgd_rosenbrock").set_value(10.0).run()
    click(app, "start_ch04_race")
    finish_runs(app)
    assert app.session_state["ch04_race_result"]["paths"]["sgd"].diverged_at is not None
    assert "The learning rate is too large" in texts(app, "warning")
    app.session_state["lang"] = "zh"
    app.run()
    assert not app.exception
    assert "学习率相对这个曲面的曲率太大" in texts(app, "warning")


def test_race_streams_paths_and_its_script_races_every_chosen_optimizer(app, tmp_path):
    """Issue 15.10: the race runs through runner.section (progress per step, paths drawn as they
    go) and the take-home script races every chosen optimizer, not only the first."""
    import os
    import re
    import subprocess
    import sys

    import numpy as np
    open_page(app, PAGE)
    app.multiselect(key="ch04_racers").set_value(["momentum", "adam", "rmsprop"]).run()
    click(app, "start_ch04_race")
    run = finish_runs(app)["ch04_race"]
    snaps = [e for e in run.of_kind("progress") if "paths" in e]
    assert len(snaps) >= 10 and snaps[-1]["done"] == snaps[-1]["total"]
    assert len(snaps[0]["paths"]["adam"].points) < len(snaps[-1]["paths"]["adam"].points)   # drawn as they go
    result = app.session_state["ch04_race_result"]
    assert list(result["paths"]) == ["momentum", "adam", "rmsprop"]
    script = next(c.value for c in app.code if "MAKERS = {" in c.value)
    (tmp_path / "race.py").write_text(script)
    env = {k: v for k, v in os.environ.items() if k != "HERO_TINY"}       # the page's own step count
    out = subprocess.run([sys.executable, "race.py"], cwd=tmp_path, capture_output=True, text=True, timeout=600, env=env)
    assert out.returncode == 0, out.stderr
    lines = {line.split()[0]: line for line in out.stdout.splitlines() if "final point" in line}
    assert set(lines) == {"momentum", "adam", "rmsprop"}
    for name, path in result["paths"].items():       # the same walk as the page's
        assert f"reached at {path.reached_at} " in lines[name]
        final = [float(v) for v in re.search(r"final point \[([^\]]*)\]", lines[name]).group(1).split(",")]
        np.testing.assert_allclose(final, path.points[-1], rtol=1e-5)
    winner = result["winner"]
    assert f"first within {0.1} of a minimum: {winner}" in out.stdout


def test_race_without_optimizers_shows_translated_error(app):
    open_page(app, PAGE)
    app.multiselect(key="ch04_racers").set_value([]).run()
    click(app, "start_ch04_race")
    finish_runs(app)
    assert translate("en", "errors.ch04.no_optimizer") in texts(app, "error")


def test_compare_runs_trains_in_background_and_lists_differences(app):
    open_page(app, PAGE)
    app.select_slider(key="ch04_p_lr_1").set_value(100.0).run()   # run 2: SGD at lr 100 explodes
    click(app, "start_ch04_practice")
    finish_runs(app)
    result = app.session_state["ch04_practice_result"]
    assert len(result.runs) == 2
    ends = [r["end"]["reason"] for r in result.runs.values()]
    assert ends[0] == "completed" and ends[1] == "diverged"
    # only the usable (first) run's MLP lands on the shelf
    shelved = app.session_state["_hero_shelf"].items("mlp-digits")
    first = next(iter(result.runs))
    assert [i.name for i in shelved] == [f"ch04 {first}"] and shelved[0].info["image_size"] == 8
    col = {c: translate("en", f"ch04.columns.{c}") for c in ("optimizer", "lr", "val_acc", "end")}
    table = next(d.value for d in app.dataframe if col["val_acc"] in d.value.columns)
    assert set(col.values()) <= set(table.columns)        # only the differing settings + results
    assert translate("en", "ch04.practice.nan") in table[col["end"]].tolist()
    assert translate("en", "ch04.practice.nan_explain") in texts(app, "warning")
    assert any(c.key == "ch04_live_curves" for c in app.get("plotly_chart"))
