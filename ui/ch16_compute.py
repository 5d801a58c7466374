"""Chapter 16's compute sections, drawn into pages/ch16_horizon.py: 16.5 the scaling-law lab and
16.6 hardware + ``torch.compile``. Wiring only: widgets → core.lessons.ch16_horizon.{scaling,
hardware} → figures; every run goes through ui.runner.section."""
from __future__ import annotations

import math

import pandas as pd
import streamlit as st

from core import takehome, viz
from core.device import preset
from core.errors import HeroError
from core.lessons.ch16_horizon import hardware as hw, scaling
from ui import layout, runner
from ui.i18n import t


def _preset() -> str:
    return preset(layout.device_info())


def _fit_labels() -> dict:
    return {k: t(f"ch16.scaling.fig.{k}") for k in ("measured", "fit", "pure", "machine", "params", "loss", "tokens")}


# --------------------------------------------------------------------------- 16.5 scaling-law lab

def scaling_section() -> None:
    """16.5: tiny GPTs of growing size, one budget each, loss vs N fitted live as a power law."""
    layout.section("ch16.scaling", "16.5")
    P = scaling.PRESETS[_preset()]
    c1, c2, c3 = st.columns(3)
    sizes = c1.slider(t("ch16.scaling.sizes"), 2, len(scaling.LADDER), P["sizes"], key="ch16_scaling_sizes")
    budget = c2.radio(t("ch16.scaling.budget"), scaling.BUDGETS, horizontal=True, key="ch16_scaling_budget",
                      format_func=lambda b: t(f"ch16.scaling.budget_{b}"))
    if budget == "tokens":
        steps = c3.number_input(t("ch16.scaling.steps"), 1, 20000, P["steps"], step=50, key="ch16_scaling_steps")
        seconds = P["seconds"]
    else:
        seconds = c3.number_input(t("ch16.scaling.seconds"), 0.2, float(scaling.MAX_SECONDS_PER_MODEL),
                                  float(P["seconds"]), step=1.0, key="ch16_scaling_seconds")
        steps = P["steps"]
    s = scaling.ScalingSettings(sizes=sizes, budget=budget, steps=int(steps), seconds=float(seconds),
                                batch_size=P["batch_size"], block_size=P["block_size"], eval_every=P["eval_every"],
                                eval_windows=P["eval_windows"], max_chars=P["max_chars"], device=layout.device())
    shapes = scaling.ladder(sizes)
    tokens = s.steps * s.batch_size * s.block_size
    st.caption(t("ch16.scaling.budget_tokens_note", tokens=f"{tokens:,}", steps=s.steps, batch=s.batch_size,
                 block=s.block_size) if budget == "tokens" else
               t("ch16.scaling.budget_seconds_note", seconds=f"{s.seconds:g}", total=f"{s.seconds * sizes:g}"))
    st.dataframe(pd.DataFrame([{t("ch16.scaling.col.model"): p["name"], t("ch16.scaling.col.layers"): p["n_layer"],
                                t("ch16.scaling.col.width"): p["n_embd"], t("ch16.scaling.col.params"): p["params"],
                                t("ch16.scaling.col.embedding"): p["embedding"]} for p in shapes]),
                 hide_index=True, key="ch16_scaling_ladder")
    try:
        scaling.check_scaling(s)
        bad = None
    except HeroError as err:
        bad = err
        layout.show_error(err)
    labels = _fit_labels()

    def draw(run: runner.Run) -> None:
        points = run.of_kind("point")
        if points and run.active:          # once finished, the kept result below draws the same chart
            fitted = points[-1]["fit"]
            best = min(points, key=lambda p: p["val_loss"])
            st.plotly_chart(scaling.scaling_figure(points, fitted, best, labels, t("ch16.scaling.fig.title")),
                            key=f"ch16_scaling_live_{len(points)}")

    result = runner.section("ch16_scaling", lambda stop, emit, s=s: scaling.scaling_lab(s, stop, emit),
                            button=t("ch16.scaling.run"), render=draw, disabled=bad is not None,
                            accept=lambda r: r.ok)
    if result is not None:
        _scaling_result(result, labels)
    layout.code_panel([scaling.scaling_lab, scaling.train_size, scaling.fit_power_law], "ch16_scaling.py", "ch16_scaling",
                      script=takehome.script(
                          scaling.scaling_lab, scaling.ScalingSettings, filename="ch16_scaling.py",
                          main=(f"s = ScalingSettings(sizes=3 if TINY else {s.sizes}, budget={s.budget!r}, "
                                f"steps=4 if TINY else {s.steps}, seconds=0.5 if TINY else {s.seconds}, "
                                f"batch_size=4 if TINY else {s.batch_size}, block_size=16 if TINY else {s.block_size}, "
                                f"eval_every=2 if TINY else {s.eval_every}, eval_windows=8 if TINY else {s.eval_windows}, "
                                f"max_chars=20000 if TINY else {s.max_chars})\n"
                                "r = scaling_lab(s)\n"
                                "for p in r.points:\n"
                                "    print(f\"{p['name']:>8}  N={p['params']:>8,}  val_loss={p['val_loss']:.3f}  "
                                "tokens={p['tokens']:,}  {p['seconds']:.1f} s\")\n"
                                "f = r.fit\n"
                                "print(f\"L(N) = {f['a']:.3g} * N^-{f['alpha']:.3f} + {f['c']:.3f}   (R2 {f['r2']:.3f}); "
                                "pure power law alpha = {f['alpha0']:.3f}\")")))


def _scaling_result(r: scaling.ScalingResult, labels: dict) -> None:
    f, best = r.fit, r.best
    st.plotly_chart(scaling.scaling_figure(r.points, f, best, labels, t("ch16.scaling.fig.title")), key="ch16_scaling_fig")
    st.plotly_chart(scaling.curves_figure(r.points, labels, t("ch16.scaling.fig.curves")), key="ch16_scaling_curves")
    st.dataframe(pd.DataFrame([{t("ch16.scaling.col.model"): p["name"], t("ch16.scaling.col.params"): p["params"],
                                t("ch16.scaling.col.loss"): round(p["val_loss"], 4), t("ch16.scaling.col.tokens"): p["tokens"],
                                t("ch16.scaling.col.seconds"): round(p["seconds"], 1),
                                t("ch16.scaling.col.tokens_s"): round(p["tokens_per_s"]),
                                t("ch16.scaling.col.flops"): f"{p['flops']:.2e}"} for p in r.points]),
                 hide_index=True, key="ch16_scaling_table")
    if f:
        st.markdown(t("ch16.scaling.fitted", a=f"{f['a']:.3g}", alpha=f"{f['alpha']:.3f}", c=f"{f['c']:.3f}",
                      r2=f"{f['r2']:.3f}", alpha0=f"{f['alpha0']:.3f}"))
    if best:
        info = layout.device_info()
        gflops = best["flops"] / max(best["seconds"], 1e-9) / 1e9
        st.markdown(t("ch16.scaling.machine", device=f"{info.kind} — {info.name}", name=best["name"],
                      params=f"{best['params']:,}", loss=f"{best['val_loss']:.3f}",
                      tokens_s=f"{best['tokens_per_s']:,.0f}", gflops=f"{gflops:.2f}"))
    if r.stopped:
        st.warning(t("ch16.scaling.partial", n=len(r.points)), icon=":material/stop_circle:")
    decades = math.log10(f["n_max"] / f["n_min"]) if f else 0.0
    st.info(t("ch16.scaling.honest", decades=f"{decades:.1f}", n=len(r.points)), icon=":material/balance:")


# --------------------------------------------------------------------------- 16.6 hardware, torch.compile

def hardware_section() -> None:
    """16.6: back-ends, autocast dtypes tried, matmul GFLOP/s per dtype, torch.compile timed, graph breaks."""
    layout.section("ch16.hw", "16.6")
    P = hw.PRESETS[_preset()]
    device = layout.device()
    st.subheader(t("ch16.hw.backends"))
    st.dataframe(pd.DataFrame([{t("ch16.hw.col.backend"): r["backend"], t("ch16.hw.col.built"): _tick(r["built"]),
                                t("ch16.hw.col.available"): _tick(r["available"]), t("ch16.hw.col.devices"): r["devices"],
                                t("ch16.hw.col.name"): r["name"]} for r in hw.accelerators()]),
                 hide_index=True, key="ch16_hw_backends")
    st.subheader(t("ch16.hw.autocast"))
    rows = [r for d in dict.fromkeys([device, "cpu"]) for r in hw.autocast_support(d)]
    st.dataframe(pd.DataFrame([{t("ch16.hw.col.device"): r["device"], t("ch16.hw.col.dtype"): r["dtype"],
                                t("ch16.hw.col.autocast"): _tick(r["autocast"]), t("ch16.hw.col.output"): r["output"],
                                t("ch16.hw.col.matmul"): _tick(r["matmul"]), t("ch16.hw.col.note"): r["note"]}
                               for r in rows]), hide_index=True, key="ch16_hw_autocast")
    st.caption(t("ch16.hw.autocast_note"))
    layout.code_panel(hw.autocast_support, "ch16_autocast.py", "ch16_hw_autocast", label="autocast",
                      script=takehome.script(hw.autocast_support, filename="ch16_autocast.py",
                                             main=f"for row in autocast_support({device!r}):\n    print(row)"))

    # matmul speed per dtype
    st.subheader(t("ch16.hw.matmul"))
    m = hw.MatmulSettings(n=P["matmul_n"], repeats=P["matmul_repeats"], device=device)
    mm = runner.section("ch16_hw_matmul", lambda stop, emit, m=m: hw.matmul_speeds(m, stop, emit),
                        button=t("ch16.hw.matmul_run", n=m.n), icon=":material/speed:", primary=False,
                        accept=lambda r: bool(r))
    if mm:
        st.plotly_chart(viz.bars([f"{r['device']} · {r['dtype']}" for r in mm],
                                 [r["gflops"] if math.isfinite(r["gflops"]) else 0.0 for r in mm],
                                 t("ch16.hw.matmul_fig", n=m.n), "GFLOP/s", log=True), key="ch16_hw_matmul_fig")
        fp32 = {r["device"]: r["gflops"] for r in mm if r["dtype"] == "float32"}
        st.caption(t("ch16.hw.matmul_note") + "  \n" + " · ".join(
            f"{r['device']} {r['dtype']}: {r['gflops'] / fp32[r['device']]:.2f}× fp32" for r in mm
            if r["device"] in fp32 and fp32[r["device"]] > 0 and math.isfinite(r["gflops"])))
    layout.code_panel(hw.matmul_speeds, "ch16_matmul.py", "ch16_hw_matmul", label="matmul",
                      script=takehome.script(hw.matmul_speeds, hw.MatmulSettings, filename="ch16_matmul.py",
                                             main=f"for row in matmul_speeds(MatmulSettings(n=64 if TINY else {m.n}, "
                                                  f"repeats=2 if TINY else {m.repeats}, device={device!r})):\n    print(row)"))

    _compile_part(P, device)
    _breaks_part()


def _tick(flag: bool) -> str:
    return "✓" if flag else "✗"


def _compile_part(P: dict, device: str) -> None:
    st.subheader(t("ch16.hw.compile"))
    c1, c2, c3 = st.columns(3)
    backend = c1.selectbox(t("ch16.hw.backend"), hw.BACKENDS, key="ch16_hw_backend",
                           format_func=lambda b: t(f"ch16.hw.backend_{b}"))
    widths = sorted({P["width"], 64, 256, 1024} if _preset() != "tiny" else {P["width"], 64})
    width = c2.selectbox(t("ch16.hw.width"), widths, index=widths.index(P["width"]), key="ch16_hw_width")
    batch = c3.selectbox(t("ch16.hw.batch"), sorted({1, P["batch"], 256}), index=sorted({1, P["batch"], 256}).index(P["batch"]),
                         key="ch16_hw_batch")
    cs = hw.CompileSettings(width=width, depth=P["depth"], batch=batch, repeats=P["repeats"], backend=backend, device=device)
    st.caption(t("ch16.hw.compile_wait"))
    r = runner.section("ch16_hw_compile", lambda stop, emit, cs=cs: hw.compile_speed(cs, stop, emit),
                       button=t("ch16.hw.compile_run"), icon=":material/bolt:", accept=lambda r: bool(r))
    if r:
        c = st.columns(4)
        c[0].metric(t("ch16.hw.compile_s"), f"{r['compile_s']:.1f} s")
        c[1].metric(t("ch16.hw.eager_ms"), f"{r['eager_ms']:.3f} ms")
        c[2].metric(t("ch16.hw.compiled_ms"), f"{r['compiled_ms']:.3f} ms")
        c[3].metric(t("ch16.hw.speedup"), f"{r['speedup']:.2f}×")
        st.plotly_chart(viz.bars(["eager", f"compiled ({r['settings']['backend']})"], [r["eager_ms"], r["compiled_ms"]],
                                 t("ch16.hw.compile_fig", params=f"{r['params']:,}", batch=r["settings"]["batch"]), "ms"),
                        key="ch16_hw_compile_fig")
        even = (t("ch16.hw.break_even", calls=f"{r['break_even_calls']:,.0f}") if math.isfinite(r["break_even_calls"])
                else t("ch16.hw.never_even"))
        st.markdown(t("ch16.hw.compile_result", diff=f"{r['max_abs_diff']:.1e}", hits=r["cache_hits"],
                      misses=r["cache_misses"]) + " " + even)
    layout.code_panel([hw.compile_speed, hw.small_model], "ch16_compile.py", "ch16_hw_compile", label="torch.compile",
                      script=takehome.script(hw.compile_speed, hw.CompileSettings, filename="ch16_compile.py",
                                             main=f"s = CompileSettings(width=16 if TINY else {cs.width}, depth=1 if TINY else "
                                                  f"{cs.depth}, batch=4 if TINY else {cs.batch}, repeats=3 if TINY else "
                                                  f"{cs.repeats}, backend='eager' if TINY else {cs.backend!r}, device={device!r})\n"
                                                  "r = compile_speed(s)\n"
                                                  "print(f\"compile {r['compile_s']:.1f} s, eager {r['eager_ms']:.3f} ms, "
                                                  "compiled {r['compiled_ms']:.3f} ms, speedup {r['speedup']:.2f}x\")"))


def _breaks_part() -> None:
    st.subheader(t("ch16.hw.breaks"))
    st.markdown(t("ch16.hw.breaks_intro"))
    rows = runner.section("ch16_hw_explain", lambda stop, emit: hw.graph_breaks(emit=emit), button=t("ch16.hw.breaks_run"),
                          icon=":material/account_tree:", primary=False, accept=lambda r: bool(r))
    if rows:
        cols = st.columns(len(rows))
        for col, row in zip(cols, rows):
            with col:
                st.markdown(f"**`{row['function']}`**")
                st.markdown(t("ch16.hw.breaks_counts", graphs=row["graphs"], breaks=row["breaks"], ops=row["ops"]))
                for reason in row["reasons"]:
                    st.warning(reason, icon=":material/call_split:")
                if not row["reasons"]:
                    st.success(t("ch16.hw.no_breaks"), icon=":material/check_circle:")
                for i, ops in enumerate(row["ops_per_graph"], 1):
                    st.caption(t("ch16.hw.graph_n", n=i) + " " + " → ".join(ops))
        st.caption(t("ch16.hw.breaks_note"))
    layout.code_panel([hw.scale_clean, hw.scale_with_break, hw.graph_breaks], "ch16_graph_breaks.py", "ch16_hw_explain",
                      label="explain",
                      script=takehome.script(hw.graph_breaks, filename="ch16_graph_breaks.py",
                                             main="for row in graph_breaks():\n    print(row['function'], row['graphs'], "
                                                  "'graphs', row['breaks'], 'breaks')\n"
                                                  "    for reason in row['reasons']:\n        print('   ', reason)"))
