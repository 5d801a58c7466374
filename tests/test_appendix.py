"""Appendix lessons against oracles: every error entry live (broken raises its documented type, fixed runs),
search by the real messages, the matrix map vs NumPy, autograd vs the analytic derivative, sampled
histograms vs SciPy densities, do/don't pairs, glossary links, gallery search, take-home scripts."""
import os
import re
import subprocess
import sys
import tomllib

import numpy as np
import pytest
import torch
from scipy import stats

from core import i18n
from core.catalog import BY_ID as CHAPTERS, ROOT
from core.errors import HeroError
from core.lessons.appendix import errors_guide as guide, glossary, practices, search
from core.lessons.appendix import math as amath


@pytest.fixture(scope="module")
def entry_runs():
    return {r.id: r for r in guide.run_entries()}


# ----------------------------------------------------------------------------- C. the error guide
def test_at_least_thirty_entries_with_unique_ids_and_prose_in_both_languages():
    assert len(guide.ENTRIES) >= 30 and len(guide.BY_ID) == len(guide.ENTRIES)
    for lang in ("en", "zh"):
        for e in guide.ENTRIES:
            for part in ("title", "cause", "fix"):
                assert i18n.has(lang, f"appendix.errors.{e.id}.{part}"), (lang, e.id, part)
    for required in ("linear_shape", "view_noncontiguous", "inplace_grad", "backward_twice", "device_mismatch",
                     "loss_long_target", "ce_target_shape", "dataloader_pickle", "state_dict_keys", "weights_only",
                     "out_of_memory"):
        assert required in guide.BY_ID


@pytest.mark.parametrize("entry_id", [e.id for e in guide.ENTRIES])
def test_broken_raises_documented_type_and_fixed_runs(entry_runs, entry_id):
    run, entry = entry_runs[entry_id], guide.BY_ID[entry_id]
    assert not run.broken.timed_out and not run.fixed.timed_out, entry_id
    assert run.broken.raised(entry.error), (entry_id, run.broken.type, run.broken.message)
    assert any(f in run.broken.message for f in entry.expect), (entry_id, run.broken.message)
    assert run.fixed.ok, (entry_id, run.fixed.type, run.fixed.message)
    assert run.fixed.stdout.strip(), f"{entry_id}: the fixed script prints its result"
    assert f"broken_{entry_id}.py" in run.broken.traceback            # the traceback starts in the snippet
    assert run.as_documented


def test_device_entry_uses_meta_without_cuda_and_the_real_mismatch_with_it(entry_runs):
    message = entry_runs["device_mismatch"].broken.message
    if torch.cuda.is_available():
        assert "Expected all tensors to be on the same device" in message
    else:
        assert message == "Tensor on device meta is not on the expected device cpu!"


def test_dataloader_entry_really_spawns_a_worker(entry_runs):
    run = entry_runs["dataloader_pickle"]
    assert run.broken.raised("PicklingError") or "pickle" in run.broken.message.lower()
    assert "[0.0, 1.0, 4.0, 9.0]" in run.fixed.stdout                 # squares computed in the worker


def test_a_hanging_snippet_is_stopped():
    runs = guide.run_snippets([("loop.py", "while True:\n    pass\n"), ("after.py", "print('still here')\n")],
                              timeout=2)
    assert runs[0].timed_out and runs[1].ok and "still here" in runs[1].stdout


@pytest.mark.parametrize("entry_id", [e.id for e in guide.ENTRIES])
def test_pasting_the_real_message_finds_the_entry(entry_runs, entry_id):
    """The live message ranks its entry first (entries whose messages are word-for-word the same,
    up to numbers, tie at the top)."""
    message = entry_runs[entry_id].broken.message
    hits = guide.find_errors(message)
    assert hits, entry_id
    top = hits[0][1]
    assert entry_id in [i for i, s in hits if s == top], (entry_id, hits[:3])


def test_search_examples():
    assert guide.find_errors("mat1 and mat2 shapes cannot be multiplied")[0][0] == "linear_shape"
    assert guide.find_errors("RuntimeError: mat1 and mat2 shapes cannot be multiplied (64x784 and 28x10)")[0][0] \
        == "linear_shape"
    assert guide.find_errors("torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB")[0][0] \
        == "out_of_memory"
    assert guide.find_errors("Expected all tensors to be on the same device, but found at least two devices, "
                             "cuda:0 and cpu!")[0][0] == "device_mismatch"
    assert guide.find_errors("num_workers lambda")[0][0] == "dataloader_pickle"
    titles = {e.id: i18n.translate("zh", f"appendix.errors.{e.id}.title") for e in guide.ENTRIES}
    assert guide.find_errors("原地", titles)[0][0] in ("inplace_grad", "leaf_inplace")
    assert guide.find_errors("") == [] and guide.find_errors("zzzz qqqq") == []


def test_memory_estimate_matches_real_tensors():
    width, depth, batch = 64, 3, 5
    est = guide.memory_estimate(width, depth, batch, "float32", "adam")
    model = torch.nn.Sequential(*[torch.nn.Sequential(torch.nn.Linear(width, width), torch.nn.ReLU())
                                  for _ in range(depth)])
    assert est["params"] == sum(p.numel() for p in model.parameters())
    assert est["weights"] == sum(p.numel() * p.element_size() for p in model.parameters())
    opt = torch.optim.Adam(model.parameters())
    model(torch.randn(batch, width)).sum().backward()
    opt.step()
    states = sum(v.numel() * v.element_size() for s in opt.state.values() for v in s.values() if v.dim() > 0)
    assert est["optimizer"] == states
    # activations saved for backward: each Linear's input and each ReLU's output, [batch, width] floats
    saved = []
    with torch.autograd.graph.saved_tensors_hooks(lambda t: saved.append(t) or t, lambda t: t):
        model(torch.randn(batch, width)).sum()
    activation_bytes = sum(t.numel() * t.element_size() for t in saved if t.shape == (batch, width))
    assert est["activations"] == activation_bytes
    free = 10 * 2 ** 30
    b = guide.largest_batch(width, depth, free)
    assert guide.memory_estimate(width, depth, b)["total"] <= 0.5 * free < guide.memory_estimate(width, depth, b + 1)["total"]
    assert guide.free_memory("cpu") > 0


# ----------------------------------------------------------------------------- A. math refresher
@pytest.mark.parametrize("m", [(2, 1, 1, 2), (0, -1, 1, 0), (1, 1, 0, 1), (1, 2, 0.5, 1), (3, -2, 4, -1.5)])
def test_matrix_map_against_numpy(m):
    r = amath.transform_plane(*m)
    M = np.array(m, dtype=float).reshape(2, 2)
    assert r["det"] == pytest.approx(np.linalg.det(M), abs=1e-9)
    np.testing.assert_allclose(np.array(r["square"]), (M @ np.array([[0, 1, 1, 0, 0], [0, 0, 1, 1, 0]])).T)
    ours = sorted(r["eigenvalues"], key=lambda z: (z.real, z.imag))
    theirs = sorted(np.linalg.eigvals(M), key=lambda z: (z.real, z.imag))
    np.testing.assert_allclose(ours, theirs, atol=1e-9)
    vectors = np.array(r["eigenvectors"])
    for k, lam in enumerate(r["eigenvalues"]):            # M v = λ v for every pair
        np.testing.assert_allclose(M @ vectors[:, k], lam * vectors[:, k], atol=1e-9)
    assert r["real_eigen"] == bool(np.all(np.abs(np.imag(theirs)) < 1e-12))
    # the area of the transformed unit square is |det| (shoelace formula)
    xs, ys = np.array(r["square"]).T
    assert abs(0.5 * np.sum(xs[:-1] * ys[1:] - xs[1:] * ys[:-1])) == pytest.approx(abs(np.linalg.det(M)))


def test_matrix_refuses_out_of_range():
    with pytest.raises(HeroError):
        amath.transform_plane(11, 0, 0, 1)


@pytest.mark.parametrize("name", list(amath.FUNCTIONS))
def test_autograd_derivative_matches_formula_and_finite_differences(name):
    r = amath.derivative(name, -3, 3, 101)
    assert r["max_abs_diff"] < 1e-10
    x, f = np.array(r["x"]), np.array(r["f"])
    central = (f[2:] - f[:-2]) / (x[2:] - x[:-2])        # an oracle independent of both
    np.testing.assert_allclose(np.array(r["autograd"])[1:-1], central, atol=5e-3)


def test_derivative_bad_input():
    with pytest.raises(HeroError) as err:
        amath.derivative("sin(x)", 2, 2)
    assert err.value.code == "appendix.bad_interval"
    with pytest.raises(HeroError):
        amath.derivative("__import__('os')")


SCIPY = {"normal": lambda p, q: stats.norm(p, q), "uniform": lambda p, q: stats.uniform(p, q - p),
         "exponential": lambda p, q: stats.expon(scale=1 / p), "gamma": lambda p, q: stats.gamma(p, scale=1 / q),
         "beta": lambda p, q: stats.beta(p, q), "laplace": lambda p, q: stats.laplace(p, q),
         "poisson": lambda p, q: stats.poisson(p), "binomial": lambda p, q: stats.binom(int(p), q)}


@pytest.mark.parametrize("name", list(amath.DISTRIBUTIONS))
def test_samples_match_density_and_scipy(name):
    _, spec, discrete = amath.DISTRIBUTIONS[name]
    p1 = spec[0][1]
    p2 = spec[1][1] if len(spec) > 1 else 1.0
    r = amath.sample_distribution(amath.SampleSettings(dist=name, p1=p1, p2=p2, n=20000, bins=30, seed=1))
    oracle = SCIPY[name](p1, p2)
    x = np.array(r["x"])
    expected = oracle.pmf(x) if discrete else oracle.pdf(x)
    np.testing.assert_allclose(r["density"], expected, rtol=1e-4, atol=1e-6)    # log_prob().exp() vs SciPy
    assert amath.total_variation(r) < 0.06                                     # histogram ≈ density
    assert r["mean"] == pytest.approx(oracle.mean(), rel=1e-5, abs=1e-6)
    assert r["sample_mean"] == pytest.approx(oracle.mean(), abs=4 * oracle.std() / np.sqrt(20000))


def test_sampler_is_seeded_and_checks_input():
    s = amath.SampleSettings(dist="gamma", p1=2.0, p2=1.0, n=500)
    assert amath.sample_distribution(s) == amath.sample_distribution(s)
    for bad in (amath.SampleSettings(dist="cauchy"), amath.SampleSettings(n=5),
                amath.SampleSettings(dist="uniform", p1=1.0, p2=0.0), amath.SampleSettings(p2=-1.0)):
        with pytest.raises(HeroError):
            amath.sample_distribution(bad)


# ----------------------------------------------------------------------------- B. best practices
def test_both_halves_of_every_practice_run():
    runs = practices.run_practices()
    assert len(runs) >= 10
    for pid, (dont, do) in runs.items():
        assert dont.ok and do.ok, (pid, dont.message, do.message)
        assert dont.stdout.strip() and do.stdout.strip(), pid
        for lang in ("en", "zh"):
            assert i18n.has(lang, f"appendix.practices.{pid}.title") and i18n.has(lang, f"appendix.practices.{pid}.why")
    assert "2 grad 24.0" in runs["zero_grad"][0].stdout and "2 grad 8.0" in runs["zero_grad"][1].stdout
    assert "grad 0.0" in runs["bce_with_logits"][0].stdout and "grad 1.0" in runs["bce_with_logits"][1].stdout
    first, second = runs["eval_mode"][1].stdout.split(":")[1].split()
    assert first == second                                                      # eval(): deterministic


# ----------------------------------------------------------------------------- D/E. resources, glossary
def test_resources_in_both_languages():
    kinds = {r.kind for r in practices.RESOURCES}
    assert kinds == {"books", "courses", "communities"}
    assert any("zh" in r.languages for r in practices.RESOURCES)
    for r in practices.RESOURCES:
        assert r.url.startswith("https://") and i18n.has("zh", f"appendix.resources.items.{r.id}")


def test_glossary_has_150_terms_each_linked_to_a_real_section():
    assert len(glossary.TERMS) >= 150
    assert len({t.en.lower() for t in glossary.TERMS}) == len(glossary.TERMS)
    cjk = re.compile(r"[\u4e00-\u9fff]")
    numbers = search.section_numbers()
    appendix_sections = set(re.findall(r'layout\.section\("appendix\.[a-z]+", "([^"]+)"\)',
                                       (ROOT / "pages/appendix.py").read_text()))
    for term in glossary.TERMS:
        assert cjk.search(term.zh), term
        where = glossary.link(term)
        chapter = CHAPTERS[term.chapter]
        if term.chapter == "appendix":
            assert term.section in appendix_sections, term
        elif chapter.built and 1 <= chapter.number <= 9:
            # a built chapter: the section number is one its page really shows
            assert term.section in {n for k, n in numbers.items() if k.startswith(term.chapter + ".")}, term
        assert (where["url"] == f"/{chapter.url_path}") if chapter.built else where["url"] is None


def test_glossary_search_both_ways():
    assert glossary.search_terms("Gradient clipping")[0].zh == "梯度裁剪"
    assert glossary.search_terms("梯度裁剪")[0].en == "gradient clipping"
    assert glossary.search_terms("backprop")[0].en == "backpropagation"
    assert len(glossary.search_terms("")) == len(glossary.TERMS)


# ----------------------------------------------------------------------------- F. gallery search
def test_gallery_search_finds_sections_terms_and_errors():
    hits = search.search("gradient clipping", "en")
    kinds = {h.kind for h in hits}
    assert {"section", "term"} <= kinds
    section = next(h for h in hits if h.kind == "section")
    assert section.url == f"/{CHAPTERS['ch09'].url_path}?lang=en" and section.title.startswith("9.4")
    zh = search.search("梯度裁剪", "zh")
    assert zh[0].title in ("梯度裁剪", "9.4 梯度裁剪") and all(h.url is None or h.url.startswith("/") for h in zh)
    errors = [h for h in search.search("mat1 and mat2 shapes cannot be multiplied", "en") if h.kind == "error"]
    assert errors[0].url == "/appendix?error=linear_shape&lang=en"
    lines = search.markdown_lines(search.search("transformer", "en"), "en")
    assert lines and all(line.startswith("- ") for line in lines)
    if not CHAPTERS["ch10"].built:
        assert any("in preparation" in line for line in lines)
    assert search.search("   ", "en") == []


# ----------------------------------------------------------------------------- take-home and safety
def _run_script(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"} | {"HERO_TINY": "1"}
    return subprocess.run([sys.executable, str(path)], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=300)


@pytest.mark.parametrize("entry_id", ["dataloader_pickle"])   # the hardest: a spawned worker from a download
def test_error_downloads_run_on_their_own(tmp_path, entry_id):
    done = _run_script(tmp_path, f"appendix_error_{entry_id}.py", guide.takehome_script(entry_id))
    assert done.returncode == 0, done.stderr[-2000:]
    raised = re.search(r"broken snippet raised -> (\S+): ", done.stdout)
    assert raised and guide.BY_ID[entry_id].error in ("Exception", raised.group(1).split(".")[-1]), done.stdout


def test_practice_downloads_run_on_their_own(tmp_path):
    for pid in ("zero_grad",):     # every pair's halves ran above; the wrapper is the same for all
        done = _run_script(tmp_path, f"appendix_practice_{pid}.py", practices.takehome_script(pid))
        assert done.returncode == 0 and "--- do" in done.stdout, (pid, done.stderr[-1000:])


def test_locales_complete_and_no_exec_in_our_files():
    en = tomllib.load(open(ROOT / "locales/staging/appendix.en.toml", "rb"))
    zh = tomllib.load(open(ROOT / "locales/staging/appendix.zh.toml", "rb"))
    flat = lambda d, p="": {k2: v2 for k, v in d.items() for k2, v2 in
                            (flat(v, f"{p}{k}.").items() if isinstance(v, dict) else [(p + k, v)])}
    assert set(flat(en)) == set(flat(zh))
    for path in [*(ROOT / "core/lessons/appendix").glob("*.py"), ROOT / "pages/appendix.py",
                 ROOT / "widgets/appendix_errors.py"]:
        if path.exists():
            assert not re.search(r"(?<![.\w])(eval|exec)\(", path.read_text()), path
