"""Chapter 14 — distributed training between real processes (widgets → core.lessons.ch14_distributed → figures)."""
import threading

import pandas as pd
import streamlit as st

from core import dist as hero_dist
from core.device import cpu_quota, preset
from core.lessons import ch14_distributed as pkg
from core.lessons.ch14_distributed import calculators as calc
from core.lessons.ch14_distributed import collectives as coll
from core.lessons.ch14_distributed import ddp
from core.lessons.ch14_distributed import figures as fig
from core.lessons.ch14_distributed import pipeline as pipe
from core.lessons.ch14_distributed import script as scr
from ui import layout, runner
from ui.i18n import t

P = pkg.PRESETS[preset(layout.device_info())]
S = st.session_state
DEVICE = layout.device()
layout.chapter_header("ch14")
st.caption(t("ch14.machine", cores=cpu_quota(), max=hero_dist.max_world_size(),
             backend=hero_dist.backend_for(DEVICE, 2)))


def labels(prefix: str, keys: tuple) -> dict:
    return {k: t(f"{prefix}.{k}") for k in keys}


# 14.1 why distribute ----------------------------------------------------------------------------
layout.section("ch14.why", "14.1")
c1, c2, c3, c4 = st.columns(4)
sc = calc.ScalingSettings(
    epoch_seconds_1=c1.number_input(t("ch14.why.epoch"), 1.0, 1e6, 600.0, key="ch14_epoch"),
    serial_share=c2.slider(t("ch14.why.serial"), 0.0, 0.5, 0.05, 0.01, key="ch14_serial"),
    params_millions=c3.select_slider(t("ch14.why.params"), [1, 25, 124, 1558, 7000], 25, key="ch14_params"),
    bandwidth_gbps=c4.select_slider(t("ch14.why.bandwidth"), [0.1, 1.0, 10.0, 100.0, 300.0], 1.0, key="ch14_bw_gb"),
    steps_per_epoch_1=c1.number_input(t("ch14.why.steps"), 1, 10**6, 1000, key="ch14_steps1"),
    latency_us=c2.select_slider(t("ch14.why.latency"), [1.0, 10.0, 100.0, 1000.0], 10.0, key="ch14_lat"),
    max_workers=c3.select_slider(t("ch14.why.workers"), [4, 16, 64, 256, 1024], 64, key="ch14_maxw"))
rows = calc.scaling_table(sc)
st.plotly_chart(fig.scaling(rows, {**labels("ch14.why", ("serial_s", "compute_s", "comm_s", "speedup", "amdahl",
                                                         "epoch_s")),
                                 "workers": t("ch14.why.n_workers"), "title": t("ch14.why.chart")}),
                key="ch14_scaling")
best = max(rows, key=lambda r: r["speedup"])
st.markdown(t("ch14.why.best", n=best["workers"], speedup=f"{best['speedup']:.1f}", share=f"{best['comm_share']:.0%}",
              bound=f"{1 / sc.serial_share:.0f}" if sc.serial_share else "∞"))
layout.code_panel(calc.scaling_table, "ch14_scaling.py", "ch14_scaling_code", script=scr.takehome_calculators())

# 14.2 DataParallel vs DDP ----------------------------------------------------------------------
layout.section("ch14.dp", "14.2")
st.table(pd.DataFrame({t("ch14.dp.aspect"): [t(f"ch14.dp.row{i}") for i in range(4)],
                       "DataParallel": [t(f"ch14.dp.dp{i}") for i in range(4)],
                       "DistributedDataParallel": [t(f"ch14.dp.ddp{i}") for i in range(4)]}))

# 14.3 live DDP -----------------------------------------------------------------------------------
layout.section("ch14.ddp", "14.3")
c1, c2, c3, c4 = st.columns(4)
ds = ddp.DDPSettings(world_size=int(c1.number_input(t("ch14.ddp.world"), 1, 8, 2, key="ch14_world")),
                     steps=c2.slider(t("ch14.ddp.steps"), 1, 200, P["ddp_steps"], key="ch14_ddp_steps"),
                     batch_per_rank=c3.select_slider(t("ch14.ddp.batch"), [8, 16, 32, 64], 32, key="ch14_batch"),
                     lr=c4.select_slider(t("ch14.ddp.lr"), [0.01, 0.05, 0.1, 0.3], 0.1, key="ch14_lr"), device=DEVICE)


def draw_ddp(run: runner.Run) -> None:
    losses: dict = {}
    for e in run.of_kind("step"):
        losses.setdefault(e["rank"], []).append(e["loss"])
    if losses:
        st.plotly_chart(fig.rank_losses(losses, t("ch14.ddp.losses"), t("ch14.ddp.step")), key=f"ch14_ddp_live_{len(run.events)}")


result = runner.section("ch14_ddp", lambda stop, emit, s=ds: ddp.train_ddp(s, stop, emit), button=t("ch14.ddp.run"),
                        render=draw_ddp, slots=ds.world_size)
if result is not None:
    c1, c2, c3 = st.columns(3)
    c1.metric(t("ch14.ddp.diff"), f"{result['grad_max_abs_diff']:.1e}")
    c2.metric(t("ch14.ddp.first_loss"), f"{result['first_loss_seconds']:.1f} s")
    c3.metric(t("ch14.ddp.samples"), f"{result['samples_per_s']:,.0f}")
    st.markdown(t("ch14.ddp.diff_note", n=result["n_params"], world=result["settings"]["world_size"]))
layout.code_panel([ddp.shard, ddp.ddp_train_rank], "ch14_ddp.py", "ch14_ddp_code",
                  script=scr.ddp_script(scr.ScriptSettings(nproc=ds.world_size, steps=ds.steps, lr=ds.lr,
                                                           batch_per_rank=ds.batch_per_rank, pause=0.0)))
st.subheader(t("ch14.tp.title"))
tp = runner.section("ch14_tp", lambda stop, emit, s=ds: ddp.throughput(
    ddp.DDPSettings(**{**s.__dict__, "steps": P["tp_steps"]}), P["throughput_sizes"], stop, emit),
    button=t("ch14.tp.run"), primary=False, slots=max(P["throughput_sizes"]))
if tp is not None:
    st.plotly_chart(fig.throughput(tp, t("ch14.tp.chart"), t("ch14.tp.samples")), key="ch14_tp_chart")
    st.markdown(t("ch14.tp.honest", cores=cpu_quota(), best=f"{max(r['speedup'] for r in tp):.2f}"))

# 14.4 collectives ---------------------------------------------------------------------------------
layout.section("ch14.coll", "14.4")
c1, c2, c3, c4 = st.columns(4)
op = c1.selectbox(t("ch14.coll.op"), coll.OPS, key="ch14_op")   # the API names, the same in every language
cw = int(c2.number_input(t("ch14.ddp.world"), 1, 8, 2, key="ch14_coll_world"))
cs = coll.CollectiveSettings(op=op, world_size=cw, size=int(c3.number_input(t("ch14.coll.size"), 1, 2**31, 4, key="ch14_size")),
                             src=int(c4.number_input(t("ch14.coll.src"), 0, 7, 0, key="ch14_src")), device=DEVICE)
st.markdown(t(f"ch14.coll.explain.{op}"))
cr = runner.section("ch14_coll", lambda stop, emit, s=cs: coll.run_collective(s, stop, emit), button=t("ch14.coll.run"),
                    slots=cw)
if cr is not None:
    small = {**cr, "before": [r[:16] for r in cr["before"]], "after": [r[:32] for r in cr["after"]]}
    st.plotly_chart(fig.rank_tensors(small, {**labels("ch14.coll", ("before", "after")),
                                             "title": t(f"ch14.coll.ops.{cr['op']}")}), key="ch14_tensors")
    ok = [list(map(float, e)) for e in cr["expected"]] == cr["after"]
    (st.success if ok else st.error)(t("ch14.coll.check_ok" if ok else "ch14.coll.check_bad"))
layout.code_panel(coll.collective_rank, "ch14_collectives.py", "ch14_coll_code", script=scr.takehome_collectives(cs))
st.subheader(t("ch14.bw.title"))
bw = runner.section("ch14_bw", lambda stop, emit: coll.bandwidth(coll.BandwidthSettings(
    world_size=2, sizes=P["bw_sizes"], repeats=P["bw_repeats"], device=DEVICE), stop, emit),
    button=t("ch14.bw.run"), primary=False, slots=2)
if bw is not None:
    st.plotly_chart(fig.bandwidth(bw, {**labels("ch14.bw", ("measured", "fit", "bytes")), "title": t("ch14.bw.chart")}),
                    key="ch14_bw_chart")
    st.markdown(t("ch14.bw.result", alpha=f"{bw['fit']['alpha_s'] * 1e6:.0f}",
                  beta=f"{bw['fit']['beta_bytes_per_s'] / 1e9:.2f}", top=f"{max(r['gb_per_s'] for r in bw['rows']):.2f}"))

# 14.5 model / pipeline parallel, accumulation, comm-hook timeline ----------------------------------------
layout.section("ch14.pipe", "14.5")
micro = st.select_slider(t("ch14.pipe.micro"), [1, 2, 4, 8], 4, key="ch14_micro")
ps = pipe.PipeSettings(micro_batches=micro, batch=P["pipe_batch"], width=P["pipe_width"], steps=P["pipe_steps"],
                       device=DEVICE)
pr = runner.section("ch14_pipe", lambda stop, emit, s=ps: pipe.run_pipeline(s, stop, emit), button=t("ch14.pipe.run"), slots=2)
if pr is not None:
    st.plotly_chart(fig.timeline([x for x in pr["spans"] if x["step"] == 0], t("ch14.pipe.chart"), "ms",
                                 label_of=lambda x: t(f"ch14.phase.{x['phase']}")), key="ch14_pipe_chart")
    st.markdown(t("ch14.pipe.result", measured=f"{pr['bubble_measured']:.0%}", ideal=f"{pr['bubble_ideal']:.0%}",
                  m=pr["settings"]["micro_batches"], diff=f"{pr['grad_max_abs_diff']:.1e}"))
layout.code_panel(pipe.pipeline_rank, "ch14_pipeline.py", "ch14_pipe_code", script=scr.takehome_pipeline(ps))
st.subheader(t("ch14.acc.title"))
st.markdown(t("ch14.acc.intro"))
acc_k = st.select_slider(t("ch14.acc.accumulate"), [1, 2, 4], 4 if P["acc_micro"] >= 8 else 2, key="ch14_acc")
cms = ddp.CommSettings(micro_steps=P["acc_micro"], accumulate=acc_k, hidden=P["acc_hidden"], device=DEVICE)
ar = runner.section("ch14_acc", lambda stop, emit, s=cms: ddp.accumulation(s, stop, emit), button=t("ch14.acc.run"), slots=2)
if ar is not None:
    st.dataframe(pd.DataFrame([{t("ch14.acc.mode"): t(f"ch14.acc.{name}"), t("ch14.acc.calls"): ar[name]["calls"][0],
                                t("ch14.acc.ms"): round(ar[name]["allreduce_ms"][0], 2)}
                               for name in ("every_step", "no_sync")]), key="ch14_acc_table")
    st.markdown(t("ch14.acc.result", diff=f"{ar['weight_max_abs_diff']:.1e}"))
    modes = {t(f"ch14.acc.{n}"): n for n in ("every_step", "no_sync")}
    name = modes[st.radio(t("ch14.acc.show"), list(modes), horizontal=True, key="ch14_acc_show")]
    st.plotly_chart(fig.timeline(ar[name]["timeline"], t("ch14.acc.chart"), "ms",
                                 label_of=lambda x: t(f"ch14.phase.{x['phase']}")), key="ch14_acc_chart")
    st.caption(t("ch14.acc.beyond"))
layout.code_panel([ddp._timed_allreduce_hook, ddp._accumulate], "ch14_no_sync.py", "ch14_acc_code",
                  script=scr.takehome_accumulation(cms))

# 14.6 fault tolerance -----------------------------------------------------------------------------
layout.section("ch14.fault", "14.6")
kill_at = st.slider(t("ch14.fault.kill_at"), 2, P["fault_steps"] - 1, P["fault_kill"], key="ch14_kill_at")
fs = scr.ScriptSettings(nproc=2, steps=P["fault_steps"], ckpt_every=5 if P["fault_steps"] > 12 else 4)
control = {"kill": threading.Event()}
fault_labels = {**labels("ch14.fault", ("attempt", "checkpoint", "killed", "seconds", "step")), "title": t("ch14.fault.chart")}


def draw_fault(run: runner.Run) -> None:
    if run.active and st.button(t("ch14.fault.kill_now"), key="ch14_kill_now", icon=":material/dangerous:"):
        run.meta["control"]["kill"].set()
    if run.events:
        kills = [e for e in run.events if e["kind"] == "killed"]
        st.plotly_chart(fig.fault_timeline({"events": list(run.events), "kills": kills}, fault_labels),
                        key=f"ch14_fault_live_{len(run.events)}")


fr = runner.section("ch14_fault", lambda stop, emit, s=fs, c=control, k=kill_at: scr.run_script(
    s, stop, emit, max_restarts=1, kill_at_step=k, kill=c["kill"]), button=t("ch14.fault.run"),
    render=draw_fault, meta={"control": control}, slots=2)
if fr is not None:
    resumed = [e["resume_step"] for e in fr["events"] if e["kind"] == "start" and e["attempt"] > 0]
    st.markdown(t("ch14.fault.result", restarts=fr["restarts"], resume=resumed[0] if resumed else "—",
                  seconds=f"{fr['seconds']:.1f}"))
    st.code(fr["command"], language="bash")

# 14.7 memory per device ----------------------------------------------------------------------------
layout.section("ch14.mem", "14.7")
c1, c2, c3, c4 = st.columns(4)
precisions = {t(f"ch14.mem.prec.{p}"): p for p in calc.PRECISIONS}
ms = calc.MemorySettings(model=c1.selectbox(t("ch14.mem.model"), list(calc.MODELS), 2, key="ch14_model"),
                         precision=precisions[c2.selectbox(t("ch14.mem.precision"), list(precisions), key="ch14_prec")],
                         devices=c3.select_slider(t("ch14.mem.devices"), [1, 2, 4, 8, 16, 64, 256], 8, key="ch14_devices"),
                         micro_batch=c4.select_slider(t("ch14.mem.micro"), [1, 2, 4, 8], 1, key="ch14_mb"))
mem = calc.memory_per_device(ms)
names = {s: t(f"ch14.mem.strategy.{s}") for s in calc.STRATEGIES}
st.plotly_chart(fig.memory(mem, {**labels("ch14.mem", ("weights", "gradients", "optimizer", "activations", "budget")),
                                 "title": t("ch14.mem.chart")}, names, budget_gib=80), key="ch14_mem_chart")
st.dataframe(pd.DataFrame(mem).assign(strategy=lambda d: d["strategy"].map(names)).round(2), key="ch14_mem_table")
layout.code_panel(calc.memory_per_device, "ch14_memory.py", "ch14_mem_code", script=scr.takehome_calculators())

# 实战: the generated torchrun script ---------------------------------------------------------------------
layout.section("ch14.project")
c1, c2, c3, c4 = st.columns(4)
ss = scr.ScriptSettings(nproc=int(c1.number_input(t("ch14.project.nproc"), 1, 8, 2, key="ch14_nproc")),
                        steps=c2.slider(t("ch14.ddp.steps"), 2, 200, P["script_steps"], key="ch14_script_steps"),
                        hidden=c3.select_slider(t("ch14.project.hidden"), [16, 64, 256], 64, key="ch14_hidden"),
                        lr=c4.select_slider(t("ch14.ddp.lr"), [0.01, 0.05, 0.1, 0.3], 0.1, key="ch14_script_lr"), pause=0.0)
text = scr.ddp_script(ss)
layout.code_panel(text, "ch14_ddp_torchrun.py", "ch14_project_code", expanded=False, label=t("ch14.project.script"))
st.code(f"torchrun --nproc_per_node={ss.nproc} ch14_ddp_torchrun.py", language="bash")


def draw_project(run: runner.Run) -> None:
    losses: dict = {}
    for e in run.of_kind("step"):
        losses.setdefault(e["rank"], []).append(e["loss"])
    if losses:
        st.plotly_chart(fig.rank_losses(losses, t("ch14.ddp.losses"), t("ch14.ddp.step")),
                        key=f"ch14_project_live_{len(run.events)}")


pj = runner.section("ch14_torchrun", lambda stop, emit, s=ss: scr.run_script(s, stop, emit, filename="ch14_ddp_torchrun.py"),
                    button=t("ch14.project.run"), render=draw_project, slots=ss.nproc)
if pj is not None:
    st.code("\n".join(pj["output"][-12:]) or "—", language="text")
