"""Chapter 2 — Autograd (typed expression → core.lessons.ch02_autograd → graph, tables, figures)."""
import pandas as pd
import streamlit as st

from core import takehome, viz
from core.device import preset
from core.errors import HeroError
from core.lessons import ch02_autograd as lesson
from ui import compare, layout
from ui.i18n import t

P = lesson.PRESETS[preset(layout.device_info())]
S = st.session_state
layout.chapter_header("ch02")


def guarded(fn, *args, **kwargs):
    """Run a lesson function; a learner-caused HeroError becomes a translated error box."""
    try:
        return fn(*args, **kwargs)
    except HeroError as err:
        layout.show_error(err)
        return None


def fmt(v) -> str:
    return "None" if v is None else f"{v:.6g}"


def table(records: list[dict]) -> pd.DataFrame:
    """Numbers as text, so that a missing gradient reads "None" (as in PyTorch), not NaN."""
    return pd.DataFrame([{k: fmt(v) if v is None or isinstance(v, float) else v for k, v in r.items()}
                         for r in records])


# 2.1 why gradients: the expression, its gradient, and gradient descent ------------------------------
layout.section("ch02.why", "2.1")
S.setdefault("ch02_expr", lesson.EXAMPLES[0])
S.setdefault("ch02_ok", lesson.EXAMPLES[0])


def use_example() -> None:
    if S.get("ch02_example"):
        S["ch02_expr"] = S["ch02_example"]


c1, c2, c3, c4 = st.columns([3, 2, 1, 1])
typed = c1.text_input(t("ch02.why.expression"), key="ch02_expr", max_chars=lesson.MAX_LENGTH,
                      help=t("ch02.why.allowed", allowed=lesson.ALLOWED))
c2.selectbox(t("ch02.why.examples"), lesson.EXAMPLES, index=None, key="ch02_example", on_change=use_example,
             placeholder=t("ch02.why.pick"))
x = c3.number_input("x", -10.0, 10.0, 1.0, 0.1, key="ch02_x")
y = c4.number_input("y", -10.0, 10.0, 2.0, 0.1, key="ch02_y")
if guarded(lesson.autograd_gradient, typed, x, y) is not None:
    S["ch02_ok"] = typed
expr = S["ch02_ok"]
if typed != expr:
    st.caption(t("ch02.why.using_last", expr=expr))
grad = guarded(lesson.autograd_gradient, expr, x, y)
if grad is not None:
    value = lesson.build_graph(expr, x, y).output
    m1, m2, m3 = st.columns(3)
    m1.metric(t("ch02.why.value"), fmt(value))
    m2.metric("∂f/∂x", fmt(grad["x"]))
    m3.metric("∂f/∂y", fmt(grad["y"]))

st.subheader(t("ch02.descent.title"))
st.markdown(t("ch02.descent.intro"))
surface_labels = {**{k: t(f"ch02.descent.{k}") for k in lesson.SURFACES}, "typed": t("ch02.descent.typed")}
c1, c2, c3 = st.columns([2, 2, 2])
surface = c1.radio(t("ch02.descent.surface"), list(surface_labels), key="ch02_surface", format_func=surface_labels.get)
lr = c2.select_slider(t("ch02.descent.lr"), [0.0003, 0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 0.5, 0.9, 1.1],
                      value=0.1, key="ch02_lr")
steps = c3.slider(t("ch02.descent.steps"), 1, P["max_steps"], P["default_steps"], key="ch02_steps")
c3.caption(t("ch02.descent.start", x=fmt(x), y=fmt(y)))
surface_expr = expr if surface == "typed" else lesson.SURFACES[surface]
descent = guarded(lesson.gradient_descent, surface_expr, x, y, lr, steps)
# compare runs: pinned walks from the same start on the same surface are overlaid on the contour
same_start = {p["name"]: p["descent"] for p in S.get("ch02_descent_pins", [])
              if p["settings"]["f"] == surface_expr and p["settings"]["start"] == (x, y)}
if descent is not None:
    st.plotly_chart(lesson.descent_figure(surface_expr, descent, P["grid"], f"f(x, y) = {surface_expr}",
                                          others=same_start, name=f"lr={lr}"), key="ch02_descent_plot")
    end = descent.path[-1]
    if descent.diverged:
        st.warning(t("ch02.descent.diverged", steps=len(descent.values) - 1), icon=":material/warning:")
    else:
        st.caption(t("ch02.descent.result", steps=len(descent.values) - 1, x=fmt(end[0]), y=fmt(end[1]),
                     f=fmt(descent.values[-1])))
pins = compare.pinned_runs("ch02_descent", None if descent is None else {
    "name": f"lr={lr}", "descent": descent, "history": lesson.descent_history(descent),
    "settings": {"f": surface_expr, "start": (x, y), "lr": lr, "steps": steps}}, ["f"], x="step")
layout.code_panel(lesson.gradient_descent, "ch02_gradient_descent.py", "ch02_descent", script=takehome.script(
    lesson.gradient_descent, filename="ch02_gradient_descent.py",
    main=f"for lr in {sorted({p['settings']['lr'] for p in pins if p['name'] in same_start} | {lr})!r}:   # pinned + current\n"
         f"    d = gradient_descent({surface_expr!r}, {x}, {y}, lr, {steps})\n"
         "    print('lr', lr, 'end point', d.path[-1], 'f =', d.values[-1], 'diverged:', d.diverged)"))

# 2.2 the computation graph, from the real grad_fn chain -------------------------------------------
layout.section("ch02.graph", "2.2")
graph = guarded(lesson.build_graph, expr, x, y)
if graph is not None:
    st.plotly_chart(lesson.graph_figure(graph, t("ch02.graph.value"), t("ch02.graph.grad")), key="ch02_graph_plot")
    st.caption(t("ch02.graph.legend"))
    nodes = table([{"grad_fn": n.name, t("ch02.graph.source"): n.source, t("ch02.graph.value"): n.value,
                           t("ch02.graph.grad"): n.grad, "is_leaf": n.is_leaf} for n in graph.nodes])
    st.dataframe(nodes, key="ch02_graph_table", hide_index=True)
layout.code_panel([lesson.graph_snippet(expr, x, y), lesson.build_graph], "ch02_graph.py", "ch02_graph",
                  script=takehome.script(lesson.build_graph, filename="ch02_graph.py",
                                         main=f"g = build_graph({expr!r}, {x}, {y})\nprint('f =', g.output)\n"
                                              "for n in g.nodes:\n    print(n.name, n.source, n.value, n.grad, n.is_leaf)"))

# 2.3 requires_grad: leaves and non-leaves ------------------------------------------------------------
layout.section("ch02.requires", "2.3")
c1, c2 = st.columns(2)
req_x = c1.checkbox(t("ch02.requires.flag", name="x"), True, key="ch02_req_x")
req_y = c2.checkbox(t("ch02.requires.flag", name="y"), True, key="ch02_req_y")
requires = tuple(n for n, on in (("x", req_x), ("y", req_y)) if on)
rows = guarded(lesson.tensor_table, expr, x, y, requires)
if rows is not None:
    c1, c2 = st.columns([1, 1])
    c1.dataframe(table(rows)[["tensor", "is_leaf", "requires_grad", "grad_fn"]], key="ch02_req_table",
                 hide_index=True)
    c2.plotly_chart(lesson.graph_figure(lesson.build_graph(expr, x, y, requires), detail=False),
                    key="ch02_req_graph")
layout.code_panel(lesson.tensor_table, "ch02_requires_grad.py", "ch02_requires", script=takehome.script(
    lesson.tensor_table, filename="ch02_requires_grad.py",
    main=f"for row in tensor_table({expr!r}, {x}, {y}, {requires!r}):\n    print(row)"))

# 2.4–2.5 backward() and .grad ----------------------------------------------------------------------
layout.section("ch02.backward", "2.4–2.5")
if st.button(t("ch02.backward.button"), type="primary", icon=":material/play_arrow:", key="ch02_backward"):
    S["ch02_backward_done"] = True
if not S.get("ch02_backward_done"):
    st.info(t("ch02.backward.press"))
elif (rows := guarded(lesson.tensor_table, expr, x, y)) is not None:
    st.dataframe(table(rows)[["tensor", "is_leaf", "grad", "grad_retained"]].rename(columns={
        "grad": t("ch02.backward.plain"), "grad_retained": t("ch02.backward.retained")}),
        key="ch02_backward_table", hide_index=True)
    st.markdown(t("ch02.backward.explain"))
layout.code_panel(lesson.tensor_table, "ch02_backward.py", "ch02_backward_code", script=takehome.script(
    lesson.tensor_table, filename="ch02_backward.py",
    main=f"for row in tensor_table({expr!r}, {x}, {y}):\n    print(row['tensor'], 'grad', row['grad'], 'retained', row['grad_retained'])"))

# 2.6 torch.no_grad() and .detach() -----------------------------------------------------------------
layout.section("ch02.control", "2.6")
control = guarded(lesson.grad_control, expr, x, y)
if control is not None:
    mode_labels = {m: t(f"ch02.control.{m}") for m in ("normal", "no_grad", "detach_x")}
    st.dataframe(table([{**r, "mode": mode_labels[r["mode"]], "error": r["error"] or ""} for r in control]),
                 key="ch02_control_table", hide_index=True)
    st.markdown(t("ch02.control.explain"))
layout.code_panel(lesson.grad_control, "ch02_no_grad_detach.py", "ch02_control", script=takehome.script(
    lesson.grad_control, filename="ch02_no_grad_detach.py",
    main=f"for row in grad_control({expr!r}, {x}, {y}):\n    print(row)"))

# 2.7 gradient accumulation and zero_grad ------------------------------------------------------------
layout.section("ch02.accum", "2.7")
options = [t(f"ch02.accum.opt_{k}") for k in ("same", "double", "zero", "error")]
done = S.get("ch02_acc")
answer = None
if done is not None and not done["zero_grad"] and len(done["rows"]) >= 2:
    first, second = done["rows"][0]["x.grad"], done["rows"][1]["x.grad"]
    answer = options[1] if second == 2 * first and first != 0 else options[0] if second == first else None
layout.predict_then_run("ch02_accum", t("ch02.accum.question"), options, answer)
c1, c2, c3 = st.columns([2, 2, 2])
calls = c1.slider(t("ch02.accum.calls"), 1, 5, 2, key="ch02_calls")
zero = c2.checkbox(t("ch02.accum.zero_grad"), False, key="ch02_zero")
if c3.button(t("ch02.accum.button"), type="primary", icon=":material/replay:", key="ch02_accumulate"):
    if (acc_rows := guarded(lesson.accumulate, expr, x, y, calls, zero)) is not None:
        S["ch02_acc"] = done = {"rows": acc_rows, "zero_grad": zero, "expr": expr}
        st.rerun()
if done is not None:
    c1, c2 = st.columns([2, 3])
    c1.dataframe(table(done["rows"]), key="ch02_acc_table", hide_index=True)
    c1.caption(t("ch02.accum.ran", expr=done["expr"],
                 mode=t("ch02.accum.with_zero") if done["zero_grad"] else t("ch02.accum.without_zero")))
    c2.plotly_chart(viz.bars([f"#{r['call']}" for r in done["rows"]], [r["x.grad"] for r in done["rows"]],
                             title=t("ch02.accum.chart"), y_title="x.grad"), key="ch02_acc_chart")
layout.code_panel(lesson.accumulate, "ch02_accumulation.py", "ch02_accum_code", script=takehome.script(
    lesson.accumulate, filename="ch02_accumulation.py",
    main=f"for row in accumulate({expr!r}, {x}, {y}, {calls}, {zero}):\n    print(row)"))

# 2.8 实战: autograd vs finite differences, gradcheck ------------------------------------------------
layout.section("ch02.check", "2.8")
wrt = st.radio(t("ch02.check.wrt"), list(lesson.VARIABLES), horizontal=True, key="ch02_wrt")
sweep = guarded(lesson.eps_sweep, expr, x, y, wrt, P["eps_points"])
if sweep is not None:
    c1, c2 = st.columns([3, 2])
    c1.plotly_chart(lesson.eps_figure(sweep, t("ch02.check.plot_title", wrt=wrt), t("ch02.check.eps"),
                                      t("ch02.check.error")), key="ch02_eps_plot")
    summary = [{"dtype": name, t("ch02.check.best_eps"): f"{sweep[name]['best_eps']:.0e}",
                t("ch02.check.theory_eps"): f"{sweep[name]['theory_eps']:.0e}",
                t("ch02.check.min_error"): f"{sweep[name]['error'].min():.1e}"} for name in ("float32", "float64")]
    c2.metric(t("ch02.check.autograd", wrt=wrt), fmt(sweep["exact"]))
    c2.dataframe(pd.DataFrame(summary), key="ch02_eps_table", hide_index=True)
    c2.caption(t("ch02.check.explain"))
layout.code_panel([lesson.central_difference, lesson.eps_sweep], "ch02_finite_differences.py", "ch02_fd",
                  script=takehome.script(lesson.central_difference, lesson.eps_sweep, filename="ch02_finite_differences.py",
                                         main=f"s = eps_sweep({expr!r}, {x}, {y}, {wrt!r}, {P['eps_points']})\n"
                                              f"print('autograd d/d{wrt}:', s['exact'])\nfor name in ('float32', 'float64'):\n"
                                              "    print(name, 'best eps', s[name]['best_eps'], 'smallest error', s[name]['error'].min())"))

mistake_labels = {m: t(f"ch02.check.mistake_{m}") for m in lesson.MISTAKES}
mistake = st.radio(t("ch02.check.mistake"), list(mistake_labels), key="ch02_mistake", horizontal=True,
                   format_func=mistake_labels.get)
if st.button(t("ch02.check.button"), type="primary", icon=":material/fact_check:", key="ch02_gradcheck"):
    S["ch02_gc"] = {"expr": expr, "on_expr": guarded(lesson.gradcheck_expression, expr, x, y),
                    "mistake": mistake, "custom": lesson.gradcheck_custom(mistake)}
if (gc := S.get("ch02_gc")) is not None:
    c1, c2 = st.columns(2)
    for col, name, res in ((c1, f"f = {gc['expr']}", gc["on_expr"]),
                           (c2, f"MySin ({mistake_labels[gc['mistake']]})", gc["custom"])):
        if res is None:
            continue
        if res["passed"]:
            col.success(t("ch02.check.passed", name=name), icon=":material/check_circle:")
        else:
            col.error(t("ch02.check.failed", name=name), icon=":material/cancel:")
            col.code(res["message"], language="text")
    st.caption(t("ch02.check.kinks"))
layout.code_panel([lesson.MySin, lesson.gradcheck_custom, lesson.gradcheck_expression], "ch02_gradcheck.py",
                  "ch02_gc_code", script=takehome.script(
                      lesson.MySin, lesson.gradcheck_custom, lesson.gradcheck_expression, filename="ch02_gradcheck.py",
                      main=f"print({expr!r}, gradcheck_expression({expr!r}, {x}, {y}))\n"
                           "for mistake in MISTAKES:\n    print('MySin', mistake, gradcheck_custom(mistake)['passed'])"))
