"""Chapter 1 lesson functions against oracles: NumPy, real Python indexing, torch itself."""
import math

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.errors import HeroError
from core.lessons import ch01_tensors as lesson

FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# --------------------------------------------------------------------------- broadcasting vs NumPy

shapes = st.lists(st.integers(1, 5), min_size=0, max_size=6).map(tuple)


@FAST
@given(shapes, shapes)
def test_broadcast_matches_numpy(a, b):
    result = lesson.broadcast(a, b)
    try:
        expected = np.broadcast_shapes(a, b)
    except ValueError:
        assert result["shape"] is None and result["bad_dim"] is not None
        assert "must match" in result["error"]             # torch's own message for A + B
        assert a[result["bad_dim"]] != b[result["bad_dim"]] and 1 not in (a[result["bad_dim"]], b[result["bad_dim"]])
    else:
        assert result["shape"] == expected == torch.broadcast_shapes(a, b)
        assert result["numpy"] == expected
    assert len(result["columns"]) == max(len(a), len(b))


@FAST
@given(st.lists(st.sampled_from([1, 2, 3]), min_size=1, max_size=4).map(tuple),
       st.lists(st.sampled_from([1, 2, 3]), min_size=1, max_size=4).map(tuple))
def test_broadcast_often_incompatible_small_dims(a, b):
    """Sizes from {1, 2, 3} make mismatches common, so both branches get exercised."""
    result = lesson.broadcast(a, b)
    try:
        assert result["shape"] == np.broadcast_shapes(a, b)
    except ValueError:
        assert result["shape"] is None and isinstance(result["numpy"], str)


def test_broadcast_rules_and_exact_error():
    r = lesson.broadcast((3, 1, 5), (4, 5))
    assert [c["rule"] for c in r["columns"]] == ["missing_b", "stretch_a", "equal"] and r["shape"] == (3, 4, 5)
    bad = lesson.broadcast((3,), (4,))
    assert bad["error"] == "The size of tensor a (3) must match the size of tensor b (4) at non-singleton dimension 0"
    assert lesson.broadcast((), (2, 3))["shape"] == (2, 3)


# --------------------------------------------------------------------------- shape parsing

def test_parse_shape_accepts_and_bounds():
    assert lesson.parse_shape("3, 1, 5") == (3, 1, 5) == lesson.parse_shape("(3,1,5)") == lesson.parse_shape("3x1x5")
    assert lesson.parse_shape("()", allow_scalar=True) == ()
    for bad, code in [("0, 3", "ch01.shape_range"), ("1,1,1,1,1,1,1", "ch01.too_many_dims"),
                      ("a, b", "ch01.bad_shape"), ("3.5", "ch01.bad_shape"), ("", "ch01.bad_shape"),
                      ("__import__('os')", "ch01.bad_shape"), ("9" * 300, "ch01.too_long")]:
        with pytest.raises(HeroError) as err:
            lesson.parse_shape(bad)
        assert err.value.code == code, bad
    with pytest.raises(HeroError) as err:
        lesson.create("zeros", (1000, 1001))
    assert err.value.code == "ch01.too_big"


# --------------------------------------------------------------------------- the index parser

X = torch.arange(4 * 5 * 6).reshape(4, 5, 6)
bound = st.one_of(st.none(), st.integers(-8, 8))


def slice_strategy():
    return st.tuples(bound, bound, st.one_of(st.none(), st.integers(1, 3))).map(lambda t: slice(*t))


item = st.one_of(st.integers(-5, 4), slice_strategy(), st.just(None), st.just(Ellipsis),
                 st.lists(st.integers(-3, 3), min_size=1, max_size=3))


def to_text(obj) -> str:
    if obj is None:
        return "None"
    if obj is Ellipsis:
        return "..."
    if isinstance(obj, slice):
        parts = ["" if v is None else str(v) for v in (obj.start, obj.stop, obj.step)]
        return f"{parts[0]}:{parts[1]}" + (f":{parts[2]}" if obj.step is not None else "")
    return str(obj)


@FAST
@given(st.lists(item, min_size=1, max_size=4))
def test_index_parser_equals_python_indexing(items):
    if sum(i is Ellipsis for i in items) > 1:
        items = [i for i in items if i is not Ellipsis] + [Ellipsis]
    text = "x[" + ", ".join(to_text(i) for i in items) + "]"
    index = tuple(items) if len(items) > 1 else items[0]
    try:
        expected = X[index]                       # real Python indexing on the same tensor
    except (IndexError, RuntimeError, TypeError, ValueError):
        with pytest.raises(HeroError):
            lesson.apply_index(X, lesson.parse_index(text))
        return
    got = lesson.apply_index(X, lesson.parse_index(text))
    assert got.shape == expected.shape and torch.equal(got, expected), text


@pytest.mark.parametrize("text, expected", [
    ("x[x > 5]", lambda x: x[x > 5]), ("x[5 < x]", lambda x: x[5 < x]),
    ("x[(x > 2) & (x < 8)]", lambda x: x[(x > 2) & (x < 8)]), ("x[(x < 2) | (x >= 10)]", lambda x: x[(x < 2) | (x >= 10)]),
    ("x[x != -1.5]", lambda x: x[x != -1.5]), ("x[1][2]", lambda x: x[1][2]), ("x[[0, 2]]", lambda x: x[[0, 2]]),
    ("x[:, None]", lambda x: x[:, None]), ("x[..., 0]", lambda x: x[..., 0]), ("x[-1, 1:3]", lambda x: x[-1, 1:3]),
])
def test_masks_and_chains_equal_python(text, expected):
    x = torch.arange(12).reshape(3, 4)
    assert torch.equal(lesson.apply_index(x, lesson.parse_index(text)), expected(x))


@pytest.mark.parametrize("text", [
    "x.t()", "x[0].__class__", "__import__('os').system('echo hi')", "x[__import__('os')]", "y[0]", "x[y]",
    "lambda: x", "x[0](1)", "x[len(x)]", "x[10**9]", "x[99999999999999999999]", "x[0:10**6]", "x[:100000]",
    "x[::-1]", "x[::0]", "x[x.sum() > 0]", "x[x > y]", "x[x > 'a']", "x[{1: 2}]", "x[[i for i in range(3)]]",
    "x[(1, 2), 0]", "x[1.5]", "x[True]", "x[x > 1 and x < 3]", "open('f')", "x", "x[0] + 1", "x[:, :][__x__]",
    "x['a']", "x[b'1']", "x[[x]]", "x[" + "0][" * 5 + "0]", "x[(x := 1)]", "x[*[0]]", "x[0" + "]" * 2,
])
def test_index_parser_rejects_unsafe_or_unsupported(text):
    with pytest.raises(HeroError) as err:
        lesson.index_lab((3, 4), text)
    assert err.value.code.startswith("ch01.")


@FAST
@given(st.text(max_size=40))
def test_index_parser_never_crashes_on_random_text(text):
    try:
        lesson.index_lab((3, 4), "x[" + text + "]")
    except HeroError:
        pass


def test_index_lab_highlights_the_cells_read_and_reports_views():
    lab = lesson.index_lab((4, 6), "x[1:, ::2]")
    expected = np.zeros((4, 6), bool)
    expected[1:, ::2] = True
    assert (lab["selected"] == expected).all() and lab["is_view"] and lab["shape"] == (3, 3)
    mask = lesson.index_lab((4, 6), "x[x > 5]")
    assert mask["selected"].sum() == 18 and not mask["is_view"]
    assert not lesson.index_lab((4, 6), "x[[0, 2]]")["is_view"]


# --------------------------------------------------------------------------- strides and view

@pytest.mark.parametrize("make", [
    lambda: torch.arange(24).reshape(2, 3, 4), lambda: torch.arange(24).reshape(2, 3, 4).permute(2, 0, 1),
    lambda: torch.arange(12).reshape(3, 4).t(), lambda: torch.arange(12).reshape(3, 4)[:, ::2],
    lambda: torch.arange(12).reshape(3, 4)[1:], lambda: torch.arange(12).reshape(3, 4)[:, None, 1:2],
    lambda: torch.arange(6).reshape(1, 6).t(), lambda: torch.arange(24).reshape(2, 3, 4).transpose(0, 2).contiguous(),
    lambda: torch.zeros(3, 1).expand(3, 5),
])
def test_stride_facts_match_torch(make):
    x = make()
    facts = lesson.stride_facts(x)
    assert facts["stride"] == x.stride() and facts["offset"] == x.storage_offset()
    assert facts["contiguous"] == x.is_contiguous()
    assert facts["row_major_stride"] == torch.empty(x.shape).stride()
    assert facts["logical"] == x.reshape(-1).tolist()


def test_view_lab_fails_after_transpose_and_contiguous_fixes_it():
    stages = lesson.view_lab((3, 4), "t", (1, 0), (-1,))
    view, reshape = stages[2], stages[3]
    assert "view size is not compatible" in view["error"]
    assert not stages[1]["contiguous"] and stages[1]["memory"] != stages[1]["logical"]
    assert reshape["shape"] == (12,) and not reshape["shares"]
    fixed = lesson.view_lab((3, 4), "t", (1, 0), (-1,), contiguous_first=True)
    assert fixed[2]["contiguous"] and fixed[3]["shape"] == (12,) and "error" not in fixed[3]
    permuted = lesson.view_lab((2, 3, 4), "permute", (2, 0, 1), (4, 6))
    y = torch.arange(24).reshape(2, 3, 4).permute(2, 0, 1)
    assert permuted[1]["stride"] == y.stride() and permuted[-1]["logical"] == y.reshape(4, 6).reshape(-1).tolist()
    plain = lesson.view_lab((3, 4), "none", (), (2, 6))
    assert plain[2]["shares"] and plain[2]["shape"] == (2, 6)


# --------------------------------------------------------------------------- cat / stack

@FAST
@given(st.lists(st.integers(1, 3), min_size=1, max_size=3).map(tuple),
       st.lists(st.integers(1, 3), min_size=1, max_size=3).map(tuple), st.integers(-4, 3))
def test_cat_stack_match_torch(a, b, dim):
    out = lesson.cat_stack(a, b, dim)
    for name, fn in (("cat", torch.cat), ("stack", torch.stack)):
        try:
            expected = tuple(fn([torch.zeros(a), torch.ones(b)], dim=dim).shape)
        except (RuntimeError, IndexError):
            assert "error" in out[name] and out[name]["reason"]
        else:
            assert out[name]["shape"] == expected


def test_cat_stack_reasons():
    assert lesson.cat_stack((2, 3), (2, 4), 0)["cat"]["reason"] == "cat_size"
    assert lesson.cat_stack((2, 3), (2, 4), 1)["cat"]["shape"] == (2, 7)
    assert lesson.cat_stack((2, 3), (2, 3), 2)["stack"]["shape"] == (2, 3, 2)
    assert lesson.cat_stack((2, 3), (2, 3), 3)["stack"]["reason"] == "dim_range"
    assert lesson.cat_stack((2, 3), (3,), 0)["cat"]["reason"] == "cat_ndim"


# --------------------------------------------------------------------------- einsum

@pytest.mark.parametrize("equation, shapes", [
    ("ik,kj->ij", [(2, 3), (3, 4)]), ("ij->ji", [(2, 3)]), ("ij->", [(2, 3)]), ("ij,ij->ij", [(3, 3), (3, 3)]),
    ("ii->i", [(3, 3)]), ("ii", [(3, 3)]), ("ij,jk", [(2, 3), (3, 2)]), ("ik,kj->", [(2, 3), (3, 4)]),
    ("i,j->ij", [(3,), (4,)]), ("bij,bjk->bik", [(2, 2, 3), (2, 3, 2)]), ("ij->j", [(4, 2)]),
])
def test_einsum_loop_matches_numpy_and_torch(equation, shapes):
    rng = np.random.default_rng(0)
    arrays = [rng.integers(-3, 4, s).astype(np.float64) for s in shapes]
    ours = lesson.einsum_loop(equation, *map(torch.from_numpy, arrays))
    np.testing.assert_allclose(ours.numpy(), np.einsum(equation, *arrays))
    np.testing.assert_allclose(torch.einsum(equation, *map(torch.from_numpy, arrays)).numpy(), ours.numpy())


@pytest.mark.parametrize("equation, code", [
    ("ik,kj->ij; import os", "ch01.einsum_chars"), ("IK,KJ->IJ", "ch01.einsum_chars"), ("...ij->ij", "ch01.einsum_chars"),
    ("ij->i->j", "ch01.einsum_chars"), ("ij,jk,kl->il", "ch01.einsum_operands"), ("ijk,kj->ij", "ch01.einsum_rank"),
    ("ij,ij->ij", "ch01.einsum_size"), ("ik,kj->iz", "ch01.einsum_output"), ("ik,kj->ii", "ch01.einsum_output"),
])
def test_einsum_rejects_bad_equations(equation, code):
    with pytest.raises(HeroError) as err:
        lesson.products(2, 3, 4, equation)
    assert err.value.code == code


def test_products_elementwise_vs_matmul():
    p = lesson.products(2, 3, 4, "ik,kj->ij")
    assert torch.equal(p["A @ B"], p["A"] @ p["B"]) and torch.equal(p["A * A"], p["A"] ** 2)
    assert "must match" in p["A * B"] and p["max_diff"] == 0
    assert torch.equal(lesson.products(3, 3, 3, "ij,ij->ij")["einsum"], lesson.products(3, 3, 3, "ik,kj->ij")["A * B"])


# --------------------------------------------------------------------------- creation, bridge, devices

@pytest.mark.parametrize("factory", lesson.FACTORIES)
def test_create_properties_match_the_tensor(factory):
    c = lesson.create(factory, (3, 4), "float64", seed=1, start=0, end=5, step=0.5)
    x = c.tensor
    assert c.props["stride"] == x.stride() and c.props["nbytes"] == x.numel() * 8 == x.nbytes
    assert c.props["dtype"] == "torch.float64" and c.props["is_contiguous"]
    if factory in ("rand", "randn", "randint"):
        g = torch.Generator().manual_seed(1)
        ref = torch.randint(0, 5, (3, 4), generator=g, dtype=torch.float64) if factory == "randint" \
            else getattr(torch, factory)((3, 4), generator=g, dtype=torch.float64)
        assert torch.equal(x, ref)
    if factory == "arange":
        assert torch.equal(x, torch.arange(0, 5, 0.5, dtype=torch.float64))


def test_create_reports_torch_errors_and_literals():
    with pytest.raises(HeroError) as err:
        lesson.create("randn", (2, 2), "int64")
    assert err.value.code == "ch01.torch_error" and "Long" in err.value.params["message"]
    with pytest.raises(HeroError) as err:
        lesson.create("zeros", (2,), "int64", requires_grad=True)
    assert "floating point" in err.value.params["message"]
    assert lesson.create("tensor", (1,), data="[[1, -2], [3.5, 4]]").tensor.tolist() == [[1, -2], [3.5, 4]]
    for bad in ["[1, x]", "[__import__('os')]", "[1, 2] + [3]", "[[1, 2], [3]]"]:
        with pytest.raises(HeroError):
            lesson.create("tensor", (1,), data=bad)
    with pytest.raises(HeroError):
        lesson.create("arange", (1,), start=0, end=1e9, step=1)


def test_numpy_bridge_is_decided_by_mutation():
    rows = {r["code"]: r for r in lesson.numpy_bridge(5, 2, 9.0)}
    for shared in ("torch.from_numpy(a)", "torch.as_tensor(a)", "t.numpy()"):
        assert rows[shared]["shares"] and rows[shared]["changed"] and rows[shared]["after"][2] == 9.0
    for copied in ("torch.tensor(a)", "np.array(t)"):
        assert not rows[copied]["shares"] and not rows[copied]["changed"] and rows[copied]["after"][2] == 2.0


def test_device_moves_and_timing():
    moves = {r["code"]: r for r in lesson.device_moves()}
    assert moves["x.to('cpu')"]["same object"] and not moves["x.to(torch.float64)"]["same object"]
    events = []
    rows = lesson.timing_table((16, 32), 1, emit=events.append)
    assert [r["n"] for r in rows if r["device"] == "cpu"] == [16, 32] and all(r["gflops"] > 0 for r in rows)
    assert len([e for e in events if e["kind"] == "timing"]) == len(rows)
    assert all(math.isclose(r["ms"], 2 * r["n"] ** 3 / r["gflops"] / 1e6) for r in rows)


# --------------------------------------------------------------------------- 实战 regression

@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_regression_solutions_agree_with_numpy(dtype):
    X, y, w_true = lesson.regression_data(300, 2.5, -1.0, 0.3, seed=3, dtype=dtype)
    assert X.shape == (300, 2) and torch.all(X[:, 0] == 1) and y.shape == (300,)
    fits = lesson.solve_regression(X, y)
    ref = np.linalg.lstsq(X.double().numpy(), y.double().numpy(), rcond=None)[0]
    tol = 1e-4 if dtype == "float32" else 1e-10
    for fit in fits.values():
        np.testing.assert_allclose(fit["w"], ref, atol=tol)
        assert fit["diff_vs_numpy"] == pytest.approx(np.abs(np.array(fit["w"]) - ref).max(), abs=1e-12)
    np.testing.assert_allclose(fits["torch.linalg.lstsq"]["w"], w_true.numpy(), atol=0.1)   # recovers the truth
    noiseless = lesson.solve_regression(*lesson.regression_data(50, 1.5, 0.5, 0.0, dtype="float64")[:2])
    np.testing.assert_allclose(noiseless["normal equations"]["w"], [0.5, 1.5], atol=1e-10)
    with pytest.raises(HeroError):
        lesson.regression_data(10**7, 1, 1, 1)


def test_timing_table_reports_progress_for_the_run_bar():
    events = []
    rows = lesson.timing_table((16, 32), 1, emit=events.append)
    progress = [e for e in events if e["kind"] == "progress"]
    assert [(e["done"], e["total"]) for e in progress] == [(0, 2), (1, 2)]
    assert [e["n"] for e in events if e["kind"] == "timing"] == [r["n"] for r in rows]


def test_view_script_runs_and_prints_torchs_own_error():
    import subprocess
    import sys
    stages = lesson.view_lab((3, 4), "t", (1, 0), (-1,))
    assert "error" in stages[2]
    out = subprocess.run([sys.executable, "-c", lesson.view_script(stages)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and out.stdout.startswith("RuntimeError: view size is not compatible")
    fixed = lesson.view_lab((3, 4), "t", (1, 0), (-1,), True)
    out = subprocess.run([sys.executable, "-c", lesson.view_script(fixed)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and out.stdout.strip() == "torch.Size([12]) (1,)"
