"""Chapter 13 — deployment: export, race the runtimes, serve a real model on a real server."""
import pandas as pd
import streamlit as st

from core import serve, takehome
from core.device import preset
from core.errors import HeroError
from core.lessons import ch13_deployment as lesson
from core.nets.small_cnn import SmallCNN, SmallCNNConfig
from core.weights import model_from_checkpoint, read_checkpoint
from ui import cache, layout, runner, shelf
from ui.i18n import error_text, t

P = lesson.PRESETS[preset(layout.device_info())]
S = st.session_state
layout.chapter_header("ch13")
BUILD = "m = SmallCNN(SmallCNNConfig(image_size=8)).eval()   # stand-in: the page used your chosen model\n"


@st.cache_resource(show_spinner=False)
def take_home(name: str) -> str:
    """The downloadable scripts, generated once per server process."""
    specs = {
        "modes": ([lesson.mode_demo, lesson.grad_modes], "x = torch.rand(16, 1, 8, 8)\n"
                  "print(mode_demo(m, x))\nprint(grad_modes(m, x, 5 if TINY else 30))"),
        "trace": ([lesson.trace_vs_script, lesson.unexportable_demo],
                  "print(trace_vs_script()['rows'])\nprint(unexportable_demo()['cond_diffs'])"),
        "onnx": ([lesson.onnx_demo, lesson.export_demo],
                 "r = onnx_demo(m, 8, 32 if TINY else 360, 3 if TINY else 30)\n"
                 "print({k: r[k] for k in ('parity', 'io', 'version', 'eager_ms', 'ort_ms')})"),
        "race": ([lesson.race, lesson.RaceSettings, lesson.int8_graph_diff],
                 "s = RaceSettings(batches=(1, 8) if TINY else (1, 16, 64), repeats=3 if TINY else 30, "
                 "eval_n=32 if TINY else 360)\nfor row in race(m, s, None, print)['rows']:\n    print(row)"),
        "prune": ([lesson.prune_sweep], "for row in prune_sweep(m, 8, (0.0, 0.5, 0.9), 32 if TINY else 360, 3):\n"
                  "    print(row)"),
    }
    objects, main = specs[name]
    return takehome.script(*objects, SmallCNN, SmallCNNConfig, filename=f"ch13_{name}.py", main=BUILD + main)


# the model every section uses ---------------------------------------------------------------------
layout.section("ch13.model", "13.0")
label, model = shelf.picker("ch13_model", "digits-classifier", shipped={
    t("ch13.model.shipped8"): lambda: cache.checkpoint("ch05_digits_cnn")[0],
    t("ch13.model.shipped28"): lambda: cache.checkpoint("ch05_mnist_cnn")[0]})
upload = st.file_uploader(t("ch13.model.upload"), key="ch13_ckpt", max_upload_size=25)
if upload is not None:
    try:
        model, label = model_from_checkpoint(read_checkpoint(upload.getvalue())).eval(), upload.name
        st.success(t("ch13.model.uploaded", name=upload.name))
    except HeroError as err:
        layout.show_error(err)
try:
    image_size = lesson.image_size_of(model)
except HeroError as err:
    layout.show_error(err)
    st.stop()
R = S.setdefault("ch13", {})
if R.get("for") != label:          # another model: results of the previous one no longer apply
    R.clear()
    R["for"] = label
st.caption(t("ch13.model.using", name=label, size=image_size))

# 13.1 train vs inference -------------------------------------------------------------------------
layout.section("ch13.modes", "13.1")
if st.button(t("ch13.modes.run"), key="ch13_modes_run", icon=":material/play_arrow:"):
    X, _ = lesson.eval_set(image_size, 32)
    R["modes"], R["grad"] = lesson.mode_demo(model, X[:16]), lesson.grad_modes(model, X[:16], P["repeats"])
if "modes" in R:
    m = R["modes"]
    c1, c2, c3, c4 = st.columns(4)
    c1.metric(t("ch13.modes.dropout_train"), f"{m['dropout_train_spread']:.3f}")
    c2.metric(t("ch13.modes.dropout_eval"), f"{m['dropout_eval_spread']:.3f}")
    c3.metric(t("ch13.modes.bn_train"), f"{m['bn_train_diff']:.3f}")
    c4.metric(t("ch13.modes.bn_eval"), f"{m['bn_eval_diff']:.3f}")
    table = pd.DataFrame(R["grad"]).assign(saved_kb=lambda d: d.saved_bytes / 1024).drop(columns="saved_bytes")
    st.dataframe(table.rename(columns={c: t(f"ch13.modes.col_{c}") for c in table.columns}), key="ch13_grad_table")
    st.markdown(t("ch13.modes.explain"))
layout.code_panel([lesson.mode_demo, lesson.grad_modes], "ch13_modes.py", "ch13_modes_code", script=take_home("modes"))

# 13.2 TorchScript trace vs script, torch.export -------------------------------------------------
layout.section("ch13.trace", "13.2")
st.warning(t("ch13.trace.deprecated"), icon=":material/warning:")
c1, c2 = st.columns(2)
if c1.button(t("ch13.trace.run"), key="ch13_trace_run", icon=":material/call_split:"):
    R["trace"] = lesson.trace_vs_script()
if c2.button(t("ch13.trace.export"), key="ch13_export_run", icon=":material/output:"):
    try:
        R["export"], R["unexportable"] = lesson.export_demo(model, image_size), lesson.unexportable_demo()
    except HeroError as err:
        layout.show_error(err)
if "trace" in R:
    rows = pd.DataFrame(R["trace"]["rows"])[["batch", "confidence", "branch", "traced_diff", "scripted_diff"]]
    st.dataframe(rows.rename(columns={c: t(f"ch13.trace.col_{c}") for c in rows.columns}), key="ch13_trace_table")
    other = R["trace"]["rows"][1]
    st.error(t("ch13.trace.silent", diff=f"{other['traced_diff']:.3f}", branch=other["branch"]), icon=":material/bug_report:")
    for note in R["trace"]["deprecations"]:
        st.caption(f"FutureWarning: {note}")
    with st.expander(t("ch13.trace.codes"), icon=":material/code:"):
        st.code(R["trace"]["traced_code"], language="python")
        st.code(R["trace"]["scripted_code"], language="python")
if "export" in R:
    st.markdown(t("ch13.trace.export_ok", n=R["export"]["n_nodes"], checks=", ".join(
        f"B={c['batch']}: {c['max_abs_diff']:.1e}" for c in R["export"]["checks"])))
    st.code(R["export"]["graph"], language="python")
    if (err := R["unexportable"]["error"]) is not None:
        st.error(t("ch13.trace.refused", text=error_text(err)), icon=":material/block:")
    st.success(t("ch13.trace.cond_ok", diffs=", ".join(f"{d:.1e}" for d in R["unexportable"]["cond_diffs"])))
layout.code_panel([lesson.trace_vs_script, lesson.export_demo, lesson.unexportable_demo], "ch13_trace.py",
                  "ch13_trace_code", script=take_home("trace"))

# 13.3 ONNX ----------------------------------------------------------------------------------------
layout.section("ch13.onnx", "13.3")
if st.button(t("ch13.onnx.run"), key="ch13_onnx_run", icon=":material/account_tree:"):
    try:
        R["onnx"] = lesson.onnx_demo(model, image_size, P["eval_n"], P["repeats"])
    except HeroError as err:
        layout.show_error(err)
if "onnx" in R:
    o = R["onnx"]
    c1, c2, c3, c4 = st.columns(4)
    c1.metric(t("ch13.onnx.parity"), f"{o['parity']['max_abs_diff']:.1e}")
    c2.metric(t("ch13.onnx.speedup"), f"{o['speedup']:.2f}×", f"{o['eager_ms']:.3f} → {o['ort_ms']:.3f} ms")
    c3.metric(t("ch13.onnx.size"), f"{len(o['bytes']) / 1024:.1f} KB")
    c4.metric(t("ch13.onnx.version"), o["version"])
    st.plotly_chart(lesson.onnx_graph_figure(o["nodes"], t("ch13.onnx.graph")), key="ch13_onnx_graph")
    st.caption(t("ch13.onnx.io", io=o["io"]))
    st.download_button(t("ch13.onnx.download"), o["bytes"], file_name="model.onnx", key="ch13_onnx_dl",
                       mime="application/octet-stream", icon=":material/download:")
onnx_upload = st.file_uploader(t("ch13.onnx.upload"), key="ch13_onnx_upload", max_upload_size=50)
if onnx_upload is not None:
    try:
        info = lesson.describe_upload(onnx_upload.getvalue())
        st.success(t("ch13.onnx.upload_ok", n=len(info["nodes"]), io=info["io"], out=info["output_shape"]))
    except HeroError as err:
        layout.show_error(err)
layout.code_panel([lesson.onnx_demo], "ch13_onnx.py", "ch13_onnx_code", script=take_home("onnx"))

# 13.4 the runtime race ----------------------------------------------------------------------------
layout.section("ch13.race", "13.4")
use_compile = st.checkbox(t("ch13.race.compile"), key="ch13_compile", help=t("ch13.race.compile_help"))
settings = lesson.RaceSettings(image_size=image_size, batches=P["batches"], repeats=P["repeats"],
                               eval_n=P["eval_n"], compile=use_compile, device="cpu")
if use_compile:
    st.info(t("ch13.race.compile_wait"), icon=":material/hourglass_top:")


def draw_race(run: runner.Run) -> None:
    if run.active and use_compile:
        st.caption(t("ch13.race.compile_wait"))


race = runner.section("ch13_race", lambda stop, emit, m=model, s=settings: lesson.race(m, s, stop, emit),
                      button=t("ch13.race.run"), render=draw_race, icon=":material/speed:")
if race is not None:
    st.plotly_chart(lesson.race_figure(race["rows"], t("ch13.race.figure")), key="ch13_race_fig")
    table = pd.DataFrame(race["rows"]).assign(size_kb=lambda d: d.size_bytes / 1024).drop(columns="size_bytes")
    st.dataframe(table.rename(columns={c: t(f"ch13.race.col_{c}") for c in table.columns}), key="ch13_race_table")
    st.caption(t("ch13.race.int8_deprecated"))
c1, _ = st.columns([1, 2])
if c1.button(t("ch13.race.diff"), key="ch13_diff_run", icon=":material/difference:"):
    R["diff"] = lesson.int8_graph_diff(model, image_size)
if "diff" in R:
    d = R["diff"]
    st.markdown(t("ch13.race.diff_summary", added=len(d["added"]), removed=len(d["removed"]),
                  changed=len(d["changed"]), fp32=f"{d['fp32_bytes'] / 1024:.1f}", int8=f"{d['int8_bytes'] / 1024:.1f}"))
    c1, c2 = st.columns(2)
    c1.dataframe(pd.DataFrame(d["ops"]), key="ch13_diff_ops")
    c2.dataframe(pd.DataFrame([{"": "+", **a} for a in d["added"]] + [{"": "−", **r} for r in d["removed"]]),
                 key="ch13_diff_nodes")
    st.plotly_chart(lesson.onnx_graph_figure(d["int8_nodes"], t("ch13.race.int8_graph")), key="ch13_int8_graph")
layout.code_panel([lesson.race, lesson.int8_graph_diff], "ch13_race.py", "ch13_race_code", script=take_home("race"))

# 13.5 pruning -------------------------------------------------------------------------------------
layout.section("ch13.prune", "13.5")
if st.button(t("ch13.prune.run"), key="ch13_prune_run", icon=":material/content_cut:"):
    R["prune"] = lesson.prune_sweep(model, image_size, P["levels"], P["eval_n"], P["repeats"])
if "prune" in R:
    names = {k: t(f"ch13.prune.{k}") for k in ("accuracy", "dense_bytes", "compressed_bytes", "sparse_bytes", "sparsity")}
    st.plotly_chart(lesson.prune_figure(R["prune"], t("ch13.prune.figure"), names), key="ch13_prune_fig")
    st.dataframe(pd.DataFrame(R["prune"]), key="ch13_prune_table")
    st.markdown(t("ch13.prune.explain"))
layout.code_panel([lesson.prune_sweep], "ch13_prune.py", "ch13_prune_code", script=take_home("prune"))

# 13.6 serving on a real server ---------------------------------------------------------------------
layout.section("ch13.serve", "13.6")
port = st.number_input(t("ch13.serve.port"), 0, 65535, 0, key="ch13_port", help=t("ch13.serve.port_help"))


def server_of(run: runner.Run | None) -> serve.ServerHandle | None:
    events = run.of_kind("server") if run is not None and run.active else []
    return events[-1]["handle"] if events else None


def draw_server(run: runner.Run) -> None:
    if (handle := server_of(run)) is not None:
        st.success(t("ch13.serve.up", url=handle.url, pid=handle.pid, version=handle.version,
                     seconds=f"{handle.started_s:.1f}"), icon=":material/dns:")
        if S.get("ch13_server_drawn") != handle.pid:   # the page below (requests, load test) needs the handle
            S["ch13_server_drawn"] = handle.pid
            st.rerun()


runner.section("ch13_server", lambda stop, emit, m=model, n=image_size, s=lesson.ServeSettings(port=int(port)):
               lesson.export_and_serve(m, n, s, stop, emit), button=t("ch13.serve.start"), render=draw_server,
               icon=":material/dns:", interval=2.0)
handle = server_of(runner.get("ch13_server"))
if handle is not None:
    st.code(f'curl -H "Authorization: Bearer {handle.token}" {handle.url}/metadata', language="bash")
    c1, c2, c3 = st.columns(3)
    if c1.button(t("ch13.serve.call"), key="ch13_call", icon=":material/send:"):
        payload, labels = lesson.sample_payload(image_size, 4)
        R["call"] = {"health": serve.call(handle, "GET", "/health", token=None), "metadata": serve.call(handle, "GET", "/metadata"),
                     "predict": serve.call(handle, "POST", "/predict", payload=payload), "labels": labels}
    if c2.button(t("ch13.serve.bad"), key="ch13_bad", icon=":material/gpp_bad:"):
        R["bad"] = lesson.bad_requests(handle, image_size)
    n_req = c3.select_slider(t("ch13.serve.n"), [20, 50, 100, 200, 500, 1000], value=P["load_n"] if P["load_n"] in
                             (20, 50, 100, 200, 500, 1000) else 50, key="ch13_n")
    clients = c3.select_slider(t("ch13.serve.clients"), [1, 2, 4, 8], value=P["load_c"], key="ch13_clients")
    if c3.button(t("ch13.serve.load"), key="ch13_load", icon=":material/bolt:"):
        with st.spinner(t("ch13.serve.loading")):
            R["load"] = serve.load_test(handle, lesson.sample_payload(image_size, 1)[0], int(n_req), int(clients))
    if "call" in R:
        st.json({k: {"status": v[0], "body": v[1]} for k, v in R["call"].items() if k != "labels"}, expanded=False)
        st.caption(t("ch13.serve.truth", labels=R["call"]["labels"], got=R["call"]["predict"][1].get("predictions")))
    if "bad" in R:
        st.dataframe(pd.DataFrame(R["bad"]), key="ch13_bad_table")
    if "load" in R:
        lt = R["load"]
        c1, c2, c3, c4 = st.columns(4)
        for col, q in zip((c1, c2, c3), ("p50", "p95", "p99")):
            col.metric(q, f"{lt[q]:.2f} ms")
        c4.metric(t("ch13.serve.throughput"), f"{lt['throughput']:.0f}/s")
        st.plotly_chart(lesson.load_figure(lt, t("ch13.serve.load_figure", n=lt["requests"], c=lt["clients"])),
                        key="ch13_load_fig")
else:
    st.info(t("ch13.serve.not_running"), icon=":material/power_settings_new:")
with st.expander(t("ch13.serve.torchserve"), icon=":material/inventory:"):
    st.warning(t("ch13.serve.torchserve_status"))
    version = R["onnx"]["version"] if "onnx" in R else (handle.version if handle else "v-<sha256[:12]>")
    files = lesson.torchserve_files(version, image_size)
    st.code(files["handler"], language="python")
    st.code(files["config"], language="properties")
    st.code(files["commands"], language="bash")
st.markdown(t("ch13.serve.versioning"))

# 13.7 实战: export a model, serve it, take it home ----------------------------------------------------
layout.section("ch13.project", "13.7")
st.markdown(t("ch13.project.steps"))
if "onnx" in R:
    st.download_button(t("ch13.onnx.download"), R["onnx"]["bytes"], file_name="model.onnx", key="ch13_project_onnx",
                       mime="application/octet-stream", icon=":material/download:")
else:
    st.caption(t("ch13.project.export_first"))
layout.code_panel(serve.script_text(), "serve.py", "ch13_serve_code", label=t("ch13.project.serve_label"))
