"""Chapter 1 — tensors (widgets → core.lessons.ch01_tensors → tables and figures)."""
import pandas as pd
import streamlit as st

from core import takehome
from core.device import preset
from core.errors import HeroError
from core.lessons import ch01_tensors as lesson
from ui import layout, runner
from ui.i18n import t

P = lesson.PRESETS[preset(layout.device_info())]
S = st.session_state
layout.chapter_header("ch01")
# Each section is an st.fragment: moving one of its widgets reruns that section only, not the whole page.


def frame(rows: list[dict]) -> pd.DataFrame:
    """Tables of mixed values (tuples, lists, bools) shown as text so every cell renders alike."""
    return pd.DataFrame(rows).astype(str)


# 1.1 NumPy bridge ---------------------------------------------------------------------------
@st.fragment
def bridge() -> None:
    layout.section("ch01.bridge", "1.1")
    c1, c2, c3 = st.columns(3)
    n = c1.slider(t("ch01.bridge.n"), 3, 10, 5, key="ch01_bridge_n")
    index = c2.number_input(t("ch01.bridge.index"), 0, n - 1, 0, key="ch01_bridge_index")
    value = c3.number_input(t("ch01.bridge.value"), -1000.0, 1000.0, 100.0, key="ch01_bridge_value")
    if st.button(t("ch01.bridge.button"), icon=":material/edit:", key="ch01_mutate"):
        S["ch01_bridge"] = lesson.numpy_bridge(n, int(index), float(value))
    if rows := S.get("ch01_bridge"):
        st.dataframe(frame(rows), hide_index=True, key="ch01_bridge_table")
        st.markdown(t("ch01.bridge.explain"))
    else:
        st.info(t("ch01.bridge.hint"))
    layout.code_panel(lesson.numpy_bridge, "ch01_numpy_bridge.py", "ch01_bridge", script=takehome.script(
        lesson.numpy_bridge, filename="ch01_numpy_bridge.py",
        main=f"for row in numpy_bridge({n}, {int(index)}, {float(value)}):\n    print(row)"))


bridge()


# 1.2–1.3 creation and properties ---------------------------------------------------------------
@st.fragment
def creation() -> None:
    layout.section("ch01.create", "1.2–1.3")
    c1, c2, c3, c4 = st.columns(4)
    factory = c1.selectbox(t("ch01.create.factory"), lesson.FACTORIES, index=8, key="ch01_factory")
    dtype = c2.selectbox("dtype", list(lesson.DTYPES), key="ch01_dtype")
    shape_text = c3.text_input(t("ch01.create.shape"), "4, 6", key="ch01_shape")
    seed = c4.number_input("seed", 0, 10_000, 0, key="ch01_seed")
    extra = {}
    if factory == "tensor":
        extra["data"] = st.text_input(t("ch01.create.data"), "[[1, 2, 3], [4, 5, 6]]", key="ch01_data")
    if factory == "full":
        extra["fill"] = st.number_input(t("ch01.create.fill"), value=7.0, key="ch01_fill")
    if factory in ("arange", "linspace", "randint"):
        c1, c2, c3 = st.columns(3)
        extra["start"] = c1.number_input("start", value=0.0, key="ch01_start")
        extra["end"] = c2.number_input("end", value=10.0, key="ch01_end")
        if factory == "arange":
            extra["step"] = c3.number_input("step", value=1.0, key="ch01_step")
    grad = st.checkbox("requires_grad=True", key="ch01_grad")
    st.caption(t("ch01.create.caps", max=f"{lesson.MAX_ELEMENTS:,}", dims=lesson.MAX_DIMS))
    try:
        created = lesson.create(factory, lesson.parse_shape(shape_text), dtype, int(seed), requires_grad=grad, **extra)
        values, shown = lesson.as_grid(created.tensor)
        c1, c2 = st.columns([3, 2])
        c1.plotly_chart(lesson.grid_figure(values, title=t("ch01.create.shown", part=shown)), key="ch01_heat")
        c2.dataframe(frame([{t("ch01.create.property"): k, t("ch01.create.value"): v} for k, v in created.props.items()]),
                     hide_index=True, key="ch01_props")
        layout.code_panel(created.code, "ch01_create.py", "ch01_create", expanded=True)
    except HeroError as err:
        layout.show_error(err)


creation()


# 1.4 indexing lab -------------------------------------------------------------------------------
@st.fragment
def indexing() -> None:
    layout.section("ch01.index", "1.4")
    c1, c2, c3 = st.columns([1, 1, 3])
    rows_n = c1.slider(t("ch01.index.rows"), 2, 10, 4, key="ch01_rows")
    cols_n = c2.slider(t("ch01.index.cols"), 2, 10, 6, key="ch01_cols")
    expr = c3.text_input(t("ch01.index.expr"), "x[1:, ::2]", max_chars=lesson.MAX_TEXT, key="ch01_index_expr")
    st.caption(t("ch01.index.examples"))
    try:
        lab = lesson.index_lab((rows_n, cols_n), expr)
        c1, c2 = st.columns(2)
        c1.plotly_chart(lesson.grid_figure(lab["x"].numpy(), lab["selected"], t("ch01.index.selected"), "d"),
                        key="ch01_index_grid")
        c2.markdown(t("ch01.index.result", shape=lab["shape"],
                      kind=t("ch01.index.view") if lab["is_view"] else t("ch01.index.copy")))
        if 1 <= lab["result"].ndim <= 2:
            c2.plotly_chart(lesson.grid_figure(lesson.as_grid(lab["result"])[0], fmt="g"), key="ch01_index_result")
        else:
            c2.code(str(lab["result"]), language="text")
    except HeroError as err:
        layout.show_error(err)
    layout.code_panel([f"import torch\nx = torch.arange({rows_n * cols_n}).reshape({rows_n}, {cols_n})\nprint({expr!s})",
                       lesson.parse_index, lesson.index_lab], "ch01_indexing.py", "ch01_index")


indexing()


# 1.4 view / reshape / permute / contiguous -----------------------------------------------------------
@st.fragment
def views() -> None:
    layout.section("ch01.view", "1.4")
    view_answer = "error" if "error" in lesson.view_lab((3, 4), "t", (1, 0), (-1,))[2] else "works"
    view_opts = {k: t(f"ch01.view.guess_{k}") for k in ("works", "error")}
    layout.predict_then_run("ch01_view", t("ch01.view.question"), list(view_opts.values()), view_opts[view_answer])
    c1, c2, c3, c4 = st.columns(4)
    v_shape = c1.text_input(t("ch01.create.shape"), "3, 4", key="ch01_view_shape")
    op_labels = {"none": t("ch01.view.op_none"), "t": "x.t()", "transpose": "x.transpose(d0, d1)",
                 "permute": "x.permute(dims)"}
    v_op = c2.selectbox(t("ch01.view.op"), list(op_labels), index=1, format_func=op_labels.get, key="ch01_view_op")
    v_dims = c3.text_input(t("ch01.view.dims"), "1, 0", key="ch01_view_dims")
    v_target = c4.text_input(t("ch01.view.target"), "-1", key="ch01_view_target")
    v_contig = st.checkbox(t("ch01.view.contiguous"), key="ch01_view_contig")
    try:
        stages = lesson.view_lab(lesson.parse_shape(v_shape), v_op, lesson.parse_ints(v_dims, -6, 5),
                                 lesson.parse_ints(v_target, -1, lesson.MAX_ELEMENTS), v_contig)
        cols = ("code", "shape", "stride", "contiguous", "row_major_stride", "shares", "error")
        st.dataframe(frame([{c: s.get(c, "") for c in cols} for s in stages]), hide_index=True, key="ch01_view_table")
        for s in stages:
            if "error" in s:
                st.error(t("ch01.view.failed", code=s["code"], message=s["error"]), icon=":material/error:")
        laid_out = stages[2] if v_contig else stages[1]
        st.markdown(t("ch01.view.picture_contig" if laid_out["contiguous"] else "ch01.view.picture_not"))
        if len(laid_out["memory"]) <= 64:
            st.plotly_chart(lesson.memory_figure(laid_out, t("ch01.view.memory"), t("ch01.view.logical")),
                            key="ch01_memory")
        layout.code_panel(lesson.view_script(stages), "ch01_view.py", "ch01_view")
    except HeroError as err:
        layout.show_error(err)


views()


# 1.4 cat vs stack ---------------------------------------------------------------------------------
@st.fragment
def cat_stack() -> None:
    layout.section("ch01.catstack", "1.4")
    c1, c2, c3 = st.columns(3)
    a_text = c1.text_input(t("ch01.catstack.a"), "2, 3", key="ch01_cat_a")
    b_text = c2.text_input(t("ch01.catstack.b"), "2, 3", key="ch01_cat_b")
    dim = c3.number_input("dim", -7, 6, 0, key="ch01_cat_dim")
    try:
        a_shape, b_shape = lesson.parse_shape(a_text), lesson.parse_shape(b_text)
        joined = lesson.cat_stack(a_shape, b_shape, int(dim))
        for col, name in zip(st.columns(2), ("cat", "stack")):
            col.markdown(f"**`torch.{name}([A, B], dim={int(dim)})`**")
            res = joined[name]
            if "error" in res:
                col.error(t(f"ch01.catstack.reason_{res['reason']}", message=res["error"]), icon=":material/error:")
            else:
                col.success(t("ch01.catstack.shape", shape=res["shape"]))
                if res["values"] is not None:
                    col.code(str(res["values"]), language="text")
        layout.code_panel(f"import torch\nA, B = torch.zeros({a_shape}), torch.ones({b_shape})\n"
                          f"for join in (torch.cat, torch.stack):\n    try:\n"
                          f"        print(join.__name__, join([A, B], dim={int(dim)}).shape)\n"
                          "    except (RuntimeError, IndexError) as err:   # what the page shows in red\n"
                          "        print(join.__name__, type(err).__name__, err)", "ch01_cat_stack.py", "ch01_cat")
    except HeroError as err:
        layout.show_error(err)


cat_stack()


# 1.5 broadcasting -------------------------------------------------------------------------------
@st.fragment
def broadcasting() -> None:
    layout.section("ch01.broadcast", "1.5")
    bc_opts = ["(3, 4)", "(4, 3)", "(3, 1, 4)", t("ch01.broadcast.guess_error")]
    bc = lesson.broadcast((3, 1), (4,))
    layout.predict_then_run("ch01_bcast", t("ch01.broadcast.question"), bc_opts,
                            str(bc["shape"]) if bc["shape"] else bc_opts[-1])
    c1, c2 = st.columns(2)
    sa = c1.text_input(t("ch01.broadcast.a"), "3, 1, 5", key="ch01_bc_a")
    sb = c2.text_input(t("ch01.broadcast.b"), "4, 5", key="ch01_bc_b")
    try:
        a_shape, b_shape = lesson.parse_shape(sa, True), lesson.parse_shape(sb, True)
        bc = lesson.broadcast(a_shape, b_shape)
        rule_labels = {r: t(f"ch01.broadcast.rule_{r}") for r in
                       ("equal", "stretch_a", "stretch_b", "missing_a", "missing_b", "mismatch")}
        table = {f"dim {c['dim']}": ["—" if c["a"] is None else c["a"], "—" if c["b"] is None else c["b"],
                                     rule_labels[c["rule"]], "✗" if c["out"] is None else c["out"]] for c in bc["columns"]}
        st.dataframe(pd.DataFrame(table, index=["A", "B", t("ch01.broadcast.rule"), t("ch01.broadcast.out")]).astype(str),
                     key="ch01_bc_table")
        if bc["shape"] is not None:
            st.success(t("ch01.broadcast.result", shape=bc["shape"]))
        else:
            st.error(t("ch01.broadcast.error", dim=bc["bad_dim"], message=bc["error"]), icon=":material/error:")
        st.caption(t("ch01.broadcast.numpy", result=bc["numpy"]))
        layout.code_panel(lesson.broadcast, "ch01_broadcast.py", "ch01_bc", script=takehome.script(
            lesson.broadcast, filename="ch01_broadcast.py",
            main=f"for key, value in broadcast({a_shape!r}, {b_shape!r}).items():\n    print(key, value)"))
    except HeroError as err:
        layout.show_error(err)


broadcasting()


# 1.5 elementwise vs @ vs einsum -----------------------------------------------------------------
@st.fragment
def products() -> None:
    layout.section("ch01.products", "1.5")
    c1, c2, c3, c4 = st.columns([1, 1, 1, 2])
    m = c1.slider("m", 1, 6, 2, key="ch01_m")
    k = c2.slider("k", 1, 6, 3, key="ch01_k")
    nn_ = c3.slider("n", 1, 6, 4, key="ch01_n")
    equation = c4.text_input(t("ch01.products.equation"), "ik,kj->ij", max_chars=60, key="ch01_einsum")
    st.caption(t("ch01.products.examples"))
    try:
        pr = lesson.products(m, k, nn_, equation)
        cols = st.columns(5)
        for col, name in zip(cols, ("A", "B", "A * A", "A @ B", "A * B")):
            col.markdown(f"**`{name}`**")
            if isinstance(pr[name], str):
                col.error(pr[name], icon=":material/error:")
            else:
                col.code(lesson.matrix_text(pr[name]), language="text")
                col.caption(f"shape {tuple(pr[name].shape)}")
        c1, c2 = st.columns(2)
        c1.markdown(f"**`torch.einsum('{equation}', …)`**")
        c1.code(str(pr["einsum"]), language="text")
        c2.markdown(t("ch01.products.loop"))
        c2.code(str(pr["loop"]), language="text")
        st.caption(t("ch01.products.agree", diff=f"{pr['max_diff']:.1e}"))
    except HeroError as err:
        layout.show_error(err)
    layout.code_panel([lesson.products, lesson.einsum_loop], "ch01_products.py", "ch01_products", script=takehome.script(
        lesson.products, lesson.einsum_loop, filename="ch01_products.py",
        main=f"for key, value in products({m}, {k}, {nn_}, {equation!r}).items():\n    print(key, value, sep='\\n')"))


products()


# 1.6 devices and timing ----------------------------------------------------------------------------
layout.section("ch01.device", "1.6")
acc = lesson.accelerator()
st.info(t("ch01.device.found", device=acc) if acc else t("ch01.device.cpu_only"), icon=":material/memory:")
st.dataframe(frame(lesson.device_moves()), hide_index=True, key="ch01_moves")


def draw_timing(rows: list[dict], key: str) -> None:
    st.plotly_chart(lesson.timing_figure(rows, t("ch01.device.chart"), t("ch01.device.size")), key=key)
    st.dataframe(pd.DataFrame(rows).round(3), hide_index=True, key=f"{key}_table")


def draw_timing_run(run: runner.Run) -> None:
    if rows := run.of_kind("timing"):
        draw_timing(rows, "ch01_timing_live")


run = runner.get("ch01_timing")
timing = runner.section("ch01_timing", lambda stop, emit: lesson.timing_table(P["timing_sizes"], P["timing_repeats"],
                                                                              stop, emit),
                        button=t("ch01.device.button"), icon=":material/speed:", primary=False,
                        render=draw_timing_run, state_key="ch01_timing")
if timing and (run is None or run.active):   # a kept table from an earlier run, while no finished run is drawn
    draw_timing(timing, "ch01_timing_kept")
layout.code_panel(lesson.timing_table, "ch01_timing.py", "ch01_timing", script=takehome.script(
    lesson.timing_table, filename="ch01_timing.py",
    main=f"for row in timing_table((32, 64) if TINY else {tuple(P['timing_sizes'])!r}, {P['timing_repeats']}):\n"
         "    print(row)"))

# 1.7 实战: linear-regression data as tensors ----------------------------------------------------------
@st.fragment
def regression() -> None:
    layout.section("ch01.regression", "1.7")
    c1, c2, c3 = st.columns(3)
    r_n = c1.slider(t("ch01.regression.n"), 10, 5000, P["regression_n"], 10, key="ch01_reg_n")
    r_noise = c1.slider(t("ch01.regression.noise"), 0.0, 5.0, 1.0, 0.1, key="ch01_reg_noise")
    r_slope = c2.slider(t("ch01.regression.slope"), -5.0, 5.0, 2.0, 0.1, key="ch01_reg_slope")
    r_intercept = c2.slider(t("ch01.regression.intercept"), -5.0, 5.0, -1.0, 0.1, key="ch01_reg_intercept")
    r_seed = c3.number_input("seed", 0, 10_000, 0, key="ch01_reg_seed")
    r_dtype = c3.radio("dtype", ["float32", "float64"], horizontal=True, key="ch01_reg_dtype")
    X, y, w_true = lesson.regression_data(r_n, r_slope, r_intercept, r_noise, int(r_seed), r_dtype)
    fits = lesson.solve_regression(X, y)
    c1, c2 = st.columns([3, 2])
    c1.plotly_chart(lesson.regression_figure(X, y, w_true, fits, {"data": t("ch01.regression.data"),
                                                                  "true": t("ch01.regression.true")}), key="ch01_reg_fig")
    c2.markdown(t("ch01.regression.shapes", X=tuple(X.shape), y=tuple(y.shape)))
    c2.dataframe(pd.DataFrame([{"": name, "w0 (b)": f"{f['w'][0]:.5f}", "w1 (slope)": f"{f['w'][1]:.5f}",
                                "MSE": f"{f['mse']:.4f}", "|Δ numpy|": f"{f['diff_vs_numpy']:.1e}"}
                               for name, f in fits.items()]), hide_index=True, key="ch01_reg_table")
    c2.caption(t("ch01.regression.compare"))
    layout.code_panel([lesson.regression_script(r_n, r_slope, r_intercept, r_noise, int(r_seed), r_dtype)],
                      "ch01_regression.py", "ch01_reg", expanded=False)
regression()
