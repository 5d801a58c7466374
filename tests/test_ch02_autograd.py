"""Chapter 2 lesson functions against oracles: torch.autograd.grad, NumPy finite differences,
closed-form gradient descent, an independent walk of the grad_fn chain, and gradcheck."""
import math
import subprocess
import sys
from collections import Counter

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.errors import HeroError
from core.lessons import ch02_autograd as lesson
from tests.conftest import ROOT

# (expression, x, y) at points where every function is smooth and defined
FIXED = [
    ("x*y + sin(x)", 1.0, 2.0), ("x**2 + 2*y**2", -1.5, 0.7), ("sigmoid(x*y)", 0.3, -0.8),
    ("exp(-(x**2 + y**2))", 0.4, 0.9), ("log(1 + exp(x)) - tanh(y)", 0.5, -1.2), ("sqrt(x**2 + y**2)", 3.0, 4.0),
    ("relu(x - y) * cos(y)", 2.0, 0.5), ("(1 - x)**2 + 100*(y - x**2)**2", -0.7, 1.3), ("x / y - y / x", 1.7, -2.2),
    ("abs(x) * y**3 - 2**x", -1.1, 0.6), ("x**y", 1.5, 2.5), ("-x + +y - pi*e", 0.1, 0.2), ("sin(x)*sin(x)", 0.8, 0.0),
    ("log(x) / sqrt(y)", 2.0, 3.0), ("x", 1.3, 0.0),
]
NUMPY = {"sin": np.sin, "cos": np.cos, "exp": np.exp, "log": np.log, "tanh": np.tanh,
         "relu": lambda v: np.maximum(v, 0), "sigmoid": lambda v: 1 / (1 + np.exp(-v)), "sqrt": np.sqrt,
         "abs": np.abs}


def numpy_fd(text, x, y, eps=1e-6):
    """Central differences in float64 with a NumPy evaluation of the same expression (independent of torch)."""
    import ast

    def ev(node, env):
        if isinstance(node, ast.Constant):
            return float(node.value)
        if isinstance(node, ast.Name):
            return env.get(node.id, {"pi": math.pi, "e": math.e}.get(node.id))
        if isinstance(node, ast.UnaryOp):
            v = ev(node.operand, env)
            return -v if isinstance(node.op, ast.USub) else v
        if isinstance(node, ast.Call):
            return NUMPY[node.func.id](ev(node.args[0], env))
        a, b = ev(node.left, env), ev(node.right, env)
        return {ast.Add: np.add, ast.Sub: np.subtract, ast.Mult: np.multiply, ast.Div: np.divide,
                ast.Pow: np.power}[type(node.op)](a, b)

    tree = ast.parse(text, mode="eval").body
    f = lambda a, b: ev(tree, {"x": np.float64(a), "y": np.float64(b)})  # noqa: E731
    return {"x": (f(x + eps, y) - f(x - eps, y)) / (2 * eps), "y": (f(x, y + eps) - f(x, y - eps)) / (2 * eps)}, f(x, y)


@pytest.mark.parametrize("text,x,y", FIXED)
def test_graph_gradients_match_autograd_grad_and_finite_differences(text, x, y):
    graph = lesson.build_graph(text, x, y)
    # oracle 1: torch.autograd.grad on a fresh forward, for the leaves and every intermediate
    leaves = {n: torch.tensor(v, dtype=torch.float64, requires_grad=True) for n, v in (("x", x), ("y", y))}
    record = []
    out = lesson.parse(text)(leaves["x"], leaves["y"], record)
    wanted = [leaves["x"], leaves["y"]] + [t for t, _ in record]
    grads = torch.autograd.grad(out, wanted, allow_unused=True)
    expected = Counter((src, round(g.item(), 9)) for (_, src), g in zip(record, grads[2:]))
    got = Counter((n.source, round(n.grad, 9)) for n in graph.nodes if not n.is_leaf)
    assert got == expected
    for name, g in zip(("x", "y"), grads[:2]):
        if g is None:    # the variable does not appear: no path to it, .grad stays None
            assert graph.leaf_grads[name] is None
        else:
            assert graph.leaf_grads[name] == pytest.approx(g.item(), rel=1e-12, abs=1e-12)
    # oracle 2: NumPy central differences
    fd, value = numpy_fd(text, x, y)
    assert graph.output == pytest.approx(value, rel=1e-12)
    for name in ("x", "y"):
        if graph.leaf_grads[name] is not None:
            assert graph.leaf_grads[name] == pytest.approx(fd[name], rel=1e-6, abs=1e-6)


def smooth_trees(depth=3):
    """Random expression trees (text) from smooth pieces only, so finite differences are valid anywhere."""
    leaf = st.sampled_from(["x", "y", "0.5", "2", "1.5"])

    def extend(children):
        unary = st.tuples(st.sampled_from(["sin", "cos", "tanh", "sigmoid", "-"]), children).map(
            lambda p: f"-({p[1]})" if p[0] == "-" else f"{p[0]}({p[1]})")
        binary = st.tuples(children, st.sampled_from(["+", "-", "*"]), children).map(lambda p: f"({p[0]} {p[1]} {p[2]})")
        return unary | binary
    return st.recursive(leaf, extend, max_leaves=8).filter(lambda s: "x" in s or "y" in s)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=smooth_trees(), x=st.floats(-2, 2), y=st.floats(-2, 2))
def test_random_expression_trees_against_oracles(text, x, y):
    graph = lesson.build_graph(text, x, y)
    fd, value = numpy_fd(text, x, y)
    assert graph.output == pytest.approx(value, rel=1e-9, abs=1e-12)
    ag = lesson.autograd_gradient(text, x, y)
    for name in ("x", "y"):
        leaf = graph.leaf_grads[name]
        assert (0.0 if leaf is None else leaf) == pytest.approx(ag[name], rel=1e-12, abs=1e-12)
        assert ag[name] == pytest.approx(fd[name], rel=1e-5, abs=1e-6)
    assert graph.nodes[0].grad == 1.0          # d out / d out


def independent_walk(out):
    """Every distinct grad_fn reachable from out.grad_fn, by class name (the test's own walk)."""
    seen, stack = {}, [out.grad_fn]
    while stack:
        fn = stack.pop()
        if fn is None or id(fn) in seen:
            continue
        seen[id(fn)] = type(fn).__name__
        stack.extend(n for n, _ in fn.next_functions)
    return Counter(seen.values())


def test_drawn_graph_is_the_grad_fn_chain():
    graph = lesson.build_graph("x*y + sin(x)", 1.0, 2.0)
    names = Counter(n.name for n in graph.nodes)
    assert names == Counter({"AddBackward0": 1, "MulBackward0": 1, "SinBackward0": 1, "AccumulateGrad": 2})
    idx = {n.source: n.index for n in graph.nodes}
    assert set(graph.edges) == {(idx["x"], idx["x * y"]), (idx["y"], idx["x * y"]), (idx["x"], idx["sin(x)"]),
                                (idx["x * y"], idx["x * y + sin(x)"]), (idx["sin(x)"], idx["x * y + sin(x)"])}
    assert [n.layer for n in graph.nodes if n.is_leaf] == [0, 0] and graph.nodes[0].layer == 2
    for text, x, y in FIXED[:-1]:
        x_t = torch.tensor(x, dtype=torch.float64, requires_grad=True)
        y_t = torch.tensor(y, dtype=torch.float64, requires_grad=True)
        assert Counter(n.name for n in lesson.build_graph(text, x, y).nodes) == \
            independent_walk(lesson.parse(text)(x_t, y_t)), text
    fig = lesson.graph_figure(graph)
    assert len(fig.data[0].x) == 3 * len(graph.edges) and len(fig.data[1].x) == len(graph.nodes)
    assert [fig.data[1].x[n.index] for n in graph.nodes] == [n.layer for n in graph.nodes]   # layered layout


def test_requires_grad_off_removes_the_leaf_and_its_gradient():
    graph = lesson.build_graph("x*y + sin(x)", 1.0, 2.0, requires=("x",))
    assert Counter(n.name for n in graph.nodes)["AccumulateGrad"] == 1
    assert graph.leaf_grads == {"x": pytest.approx(2 + math.cos(1.0)), "y": None}
    with pytest.raises(HeroError) as err:
        lesson.build_graph("x*y", 1.0, 2.0, requires=())
    assert err.value.code == "ch02.no_graph"


def test_tensor_table_non_leaf_grad_is_none_unless_retained():
    rows = {r["tensor"]: r for r in lesson.tensor_table("x*y + sin(x)", 1.0, 2.0)}
    assert rows["x"]["is_leaf"] and rows["x"]["grad_fn"] is None
    assert rows["x"]["grad"] == pytest.approx(2 + math.cos(1.0)) and rows["y"]["grad"] == pytest.approx(1.0)
    assert rows["x * y"]["grad_fn"] == "MulBackward0" and not rows["x * y"]["is_leaf"]
    assert rows["x * y"]["grad"] is None and rows["x * y"]["grad_retained"] == 1.0
    assert rows["x * y + sin(x)"]["grad_retained"] == 1.0


def test_accumulation_exactly_doubles_and_zero_grad_does_not():
    acc = lesson.accumulate("x*y + sin(x)", 1.0, 2.0, 3, zero_grad=False)
    gx = [r["x.grad"] for r in acc]
    assert gx[1] == 2 * gx[0] and gx[2] == pytest.approx(3 * gx[0], rel=1e-15)
    assert [r["y.grad"] for r in acc] == [1.0, 2.0, 3.0]          # ∂(xy + sin x)/∂y = x = 1
    zeroed = lesson.accumulate("x*y + sin(x)", 1.0, 2.0, 3, zero_grad=True)
    assert [r["x.grad"] for r in zeroed] == [gx[0]] * 3


def test_no_grad_and_detach_cut_the_graph():
    rows = {r["mode"]: r for r in lesson.grad_control("x*y + sin(x)", 1.0, 2.0)}
    assert rows["normal"]["grad_fn"] == "AddBackward0" and rows["normal"]["x.grad"] == pytest.approx(2 + math.cos(1))
    assert not rows["no_grad"]["requires_grad"] and rows["no_grad"]["grad_fn"] is None
    assert rows["no_grad"]["error"] and rows["no_grad"]["x.grad"] is None
    assert rows["detach_x"]["x.grad"] is None and rows["detach_x"]["y.grad"] == pytest.approx(1.0)
    assert all(r["value"] == rows["normal"]["value"] for r in rows.values())
    only_x = {r["mode"]: r for r in lesson.grad_control("sin(x)", 1.0, 2.0)}
    assert only_x["detach_x"]["error"] and not only_x["detach_x"]["requires_grad"]


def test_gradient_descent_on_a_bowl_matches_closed_form_and_converges():
    lr, steps = 0.1, 40
    d = lesson.gradient_descent("x**2 + 2*y**2", 1.0, 2.0, lr, steps)
    k = np.arange(steps + 1)
    # x_{k+1} = x_k - lr·2x_k, y_{k+1} = y_k - lr·4y_k
    np.testing.assert_allclose(d.path[:, 0], (1 - 2 * lr) ** k * 1.0, rtol=1e-12)
    np.testing.assert_allclose(d.path[:, 1], (1 - 4 * lr) ** k * 2.0, rtol=1e-12, atol=1e-300)
    assert not d.diverged and np.abs(d.path[-1]).max() < 1e-3 and d.values[-1] < 1e-6
    assert lesson.gradient_descent("x**2 + 2*y**2", 1.0, 2.0, 1.1, 200).diverged   # |1 − 4.4| > 1
    fig = lesson.descent_figure("x**2 + 2*y**2", d, 20)
    assert fig.data[1].x.shape == (steps + 1,)


def test_surface_grid_matches_numpy():
    xs, ys = np.linspace(-2, 2, 7), np.linspace(-1, 3, 5)
    z = lesson.surface_grid("(1 - x)**2 + 100*(y - x**2)**2", xs, ys)
    X, Y = np.meshgrid(xs, ys)
    np.testing.assert_allclose(z, (1 - X) ** 2 + 100 * (Y - X ** 2) ** 2)
    assert np.isnan(lesson.surface_grid("log(x)", xs, ys)[:, 0]).all()


def test_central_difference_and_eps_sweep_show_truncation_and_round_off():
    exact = 2 + math.cos(1.0)
    assert lesson.central_difference("x*y + sin(x)", 1.0, 2.0, "x", 1e-5) == pytest.approx(exact, rel=1e-9)
    sweep = lesson.eps_sweep("x*y + sin(x)", 1.0, 2.0, "x", 29)
    assert sweep["exact"] == pytest.approx(exact, rel=1e-15)
    for name in ("float32", "float64"):
        err = sweep[name]["error"]
        best = int(np.argmin(err))
        assert err[0] > 10 * err[best] and err[-1] > 10 * err[best]     # a V: both ends worse than the middle
    assert 1e-9 <= sweep["float64"]["best_eps"] <= 1e-3 and sweep["float32"]["best_eps"] > sweep["float64"]["best_eps"]
    assert sweep["float32"]["error"].min() > 100 * sweep["float64"]["error"].min()
    with pytest.raises(HeroError):
        lesson.eps_sweep("x", 1.0, 2.0, "z")


def test_gradcheck_passes_good_and_catches_wrong_backward():
    assert lesson.gradcheck_custom("none")["passed"]
    for mistake in ("wrong_derivative", "forgot_grad_output"):
        res = lesson.gradcheck_custom(mistake)
        assert not res["passed"] and "Jacobian mismatch" in res["message"]
    assert lesson.gradcheck_expression("x*y + sin(x)", 1.0, 2.0)["passed"]
    assert not lesson.gradcheck_expression("relu(x) + y", 0.0, 2.0)["passed"]    # the kink at 0
    # the good MySin really is sin's gradient
    x = torch.linspace(-2, 2, 5, dtype=torch.float64, requires_grad=True)
    (g,) = torch.autograd.grad(lesson.MySin.apply(x, "none").sum(), x)
    torch.testing.assert_close(g, torch.cos(x.detach()))


MALICIOUS = [
    "__import__('os').system('x')", "x.__class__", "x.__class__.__bases__", "().__class__", "open('f')",
    "exec('1')", "eval('1')", "globals()", "lambda: 1", "[i for i in range(3)]", "{1: 2}", "x[0]", "x if y else 1",
    "x and y", "x < y", "'a' * 3", "b'a'", "f'{x}'", "x @ y", "x % y", "x // y", "x ^^ y", "x; y", "import os",
    "x := 1", "sin(x, y)", "sin(x=1)", "sin(*x)", "__builtins__", "torch", "sin.__call__(x)", "(x).real",
    "1j * x", "True * x", "None", "...", "x" * 201, "(" * 20 + "x" + ")" * 20, "-" * 30 + "x", "sin(" * 17 + "x" + ")" * 17,
    "+".join(["x"] * 45), "1e7 * x", "x\x00", "", "   ", "sin", "nan * x", "inf", "x.grad", "y.backward()",
]


@pytest.mark.parametrize("text", MALICIOUS)
def test_parser_rejects_anything_outside_the_whitelist(text):
    with pytest.raises(HeroError) as err:
        lesson.parse(text)
    assert err.value.code.startswith("ch02.")


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=60) |
       st.text(alphabet="xy()+-*/.,_[]:'\"sinexpogrlabt 0123456789", max_size=80))
def test_parser_fuzz_never_raises_anything_but_hero_error(text):
    try:
        expr = lesson.parse(text)
    except HeroError:
        return
    assert isinstance(expr, lesson.Expr)
    try:
        lesson.build_graph(text, 0.7, -0.3)
    except HeroError as err:
        assert err.code in ("ch02.not_finite", "ch02.no_graph")


def test_typographic_operators_are_accepted():
    assert lesson.parse("x×y − 2÷x^2").text == "x*y - 2/x**2"
    assert lesson.build_graph("x×y", 2.0, 3.0).output == 6.0


def test_graph_snippet_runs_as_plain_pytorch():
    snippet = lesson.graph_snippet("x*y + sin(x) + pi", 1.0, 2.0)
    out = subprocess.run([sys.executable, "-c", snippet], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    assert f"{2 + math.cos(1.0):.4f}" in out.stdout


def test_descent_history_and_overlaid_walks():
    """Issue 15.7: two learning rates, one contour; the history is the walk step by step."""
    slow, fast = (lesson.gradient_descent("x**2 + 2*y**2", 1.5, -1.0, lr, 30) for lr in (0.01, 0.1))
    hist = lesson.descent_history(fast)
    assert [h["step"] for h in hist] == list(range(31))
    assert hist[-1]["f"] == pytest.approx(fast.values[-1]) and (hist[-1]["x"], hist[-1]["y"]) == tuple(fast.path[-1])
    assert fast.values[-1] < slow.values[-1]
    fig = lesson.descent_figure("x**2 + 2*y**2", fast, 20, others={"lr=0.01": slow}, name="lr=0.1")
    traces = {tr.name: tr for tr in fig.data if tr.name}
    np.testing.assert_array_equal(traces["lr=0.01"].x, slow.path[:, 0])
    np.testing.assert_array_equal(traces["lr=0.1"].y, fast.path[:, 1])
    assert fig.layout.showlegend
