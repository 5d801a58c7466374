"""Take it home: every script a page offers for download runs on its own from an empty folder.

Each built page is opened through the real router in AppTest; ``ui.layout.code_panel`` records
every download it serves. Each one then runs as ``python file.py`` in a fresh temporary folder
with ``HERO_TINY=1`` (scripts shrink their sizes) and the repository *not* importable, so a
leftover ``core.`` import fails here as it would at home. Run one chapter with ``-k ch05``.
"""
from __future__ import annotations

import ast
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import pytest

from core import takehome
from core.catalog import built_chapters
from tests.conftest import ROOT, open_page

SCRIPT_TIMEOUT = 180   # seconds for one tiny script on a shared 2-core machine
PARALLEL_SCRIPTS = max(1, min(4, os.cpu_count() or 1))


def served_scripts(chapter) -> dict[str, str]:
    """Open ``chapter``'s page and return {file name: script} of every download it offered."""
    from streamlit.testing.v1 import AppTest

    from ui import layout
    layout.SERVED_SCRIPTS.clear()
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=180)
    at.run()
    if chapter.id != "preface":
        layout.SERVED_SCRIPTS.clear()    # the home page's own download belongs to the preface's test
        open_page(at, chapter.page)
    return dict(layout.SERVED_SCRIPTS)


def run_script(name: str, text: str, tmp_path) -> subprocess.CompletedProcess:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH",)}
    env.update(HERO_TINY="1", HERO_THREADS="1", OMP_NUM_THREADS="1", MPLBACKEND="Agg")
    return subprocess.run([sys.executable, "-I", path.name], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=SCRIPT_TIMEOUT)


CHAPTERS = built_chapters()


def script_failure(name: str, text: str, folder) -> str | None:
    """Run one script; what went wrong, or None."""
    try:
        done = run_script(name, text, folder)
    except subprocess.TimeoutExpired:
        return f"{name}: still running after {SCRIPT_TIMEOUT} s with HERO_TINY=1"
    if done.returncode != 0:
        return f"{name}: exit {done.returncode}\n{done.stderr[-1500:]}"
    if not done.stdout.strip():
        return f"{name}: printed nothing (a take-home script prints its result)"
    return None


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda c: c.id)
def test_every_download_runs_from_an_empty_folder(chapter, tmp_path_factory):
    scripts = served_scripts(chapter)
    if chapter.id != "preface":
        assert scripts, f"{chapter.id} offers no code download"
    failures, jobs = [], []
    for name, text in sorted(scripts.items()):
        assert name.endswith(".py"), name
        tree = ast.parse(text)   # it is Python
        core_imports = [n for n in ast.walk(tree) if isinstance(n, (ast.Import, ast.ImportFrom))
                        and any((a.name if isinstance(n, ast.Import) else (n.module or "")).split(".")[0] in
                                ("core", "ui", "widgets", "pages") for a in n.names)]
        if core_imports:
            failures.append(f"{name}: imports the gallery's own modules ({ast.unparse(core_imports[0])})")
            continue
        jobs.append((name, text, tmp_path_factory.mktemp(name.removesuffix(".py"))))
    # Each script runs on one thread and spends most of its time importing torch: one per core at once.
    with ThreadPoolExecutor(max_workers=PARALLEL_SCRIPTS) as pool:
        failures += [f for f in pool.map(lambda job: script_failure(*job), jobs) if f]
    assert not failures, "\n\n".join(failures)


# --------------------------------------------------------------------------- the inliner itself

def test_inlined_script_has_no_core_imports_and_reproduces_the_lesson(tmp_path):
    """A script for ch05's digit trainer: nothing from core, and the same accuracy as in-process
    (same seed, same data, same loop)."""
    from core.lessons import ch05_training as lesson
    text = takehome.script(lesson.train_digits, registry_keys={"digits", "small_cnn"}, filename="d.py",
                           main="r = train_digits(DigitsSettings(epochs=1))\nprint(round(r.end['val_acc'], 6))")
    assert "from core" not in text and "import core" not in text
    done = run_script("d.py", text, tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    here = lesson.train_digits(lesson.DigitsSettings(epochs=1))
    assert float(done.stdout.split()[-1]) == pytest.approx(round(here.end["val_acc"], 6), abs=1e-6)


def test_inliner_refuses_what_it_cannot_copy():
    """A module-level object with no source and no literal form (a lock) cannot go into a script:
    generation fails loudly, not the learner's run at home."""
    import threading
    import types

    import core.takehome as th
    module = types.ModuleType("core.fake_lesson")
    module.LOCK = threading.Lock()
    th._MODULE_CACHE[module.__name__] = th._ModuleInfo(imports={}, assignments={}, source="")
    try:
        with pytest.raises(th.TakeHomeError, match="LOCK"):
            th._Builder().need(module, "LOCK", set())
        assert th._literal_repr({"a": (1, 2.5, "x")}) == "{'a': (1, 2.5, 'x')}"
        assert th._literal_repr(float("nan")) is None   # nan != nan: no faithful literal
    finally:
        th._MODULE_CACHE.pop(module.__name__, None)


def test_name_clash_between_core_modules_is_reported():
    from core import data, nets
    from core.takehome import TakeHomeError, _Builder
    builder = _Builder()
    builder.claim("load", "core.data.load")
    with pytest.raises(TakeHomeError, match="load"):
        builder.claim("load", "core.weights.load")
    assert data.REGISTRY is data.LOADERS and "digits" in data.LOADERS and "small_cnn" in nets.REGISTRY


def test_module_alias_read_by_two_functions_gets_every_attribute(tmp_path):
    """Two functions reading different attributes of one core module alias: the script's
    namespace for that alias has both (it once kept only the first function's)."""
    import types

    from core.data import toy
    from core.lessons import ch05_training as lesson
    fake = types.ModuleType("core.fake_two_readers")
    fake.toy = toy
    src_a = "def first(n, rng):\n    return toy.GENERATORS['moons'](n, rng)\n"
    src_b = "def second():\n    return sorted(toy.GENERATORS)[:1] + [toy.TOY_KINDS[0]]\n"
    for src in (src_a, src_b):
        exec(compile(src, "fake", "exec"), fake.__dict__)   # our own fixed text, not user input
    for fn in (fake.first, fake.second):
        fn.__module__ = fake.__name__
    sys.modules[fake.__name__] = fake
    takehome._MODULE_CACHE[fake.__name__] = takehome._ModuleInfo(
        imports={"toy": "from core.data import toy"}, assignments={}, source=src_a + src_b)
    takehome._ANALYSED.pop(fake.first, None)
    try:
        import inspect
        original = inspect.getsource
        inspect.getsource = lambda obj: src_a if obj is fake.first else src_b if obj is fake.second else original(obj)
        try:
            text = takehome.script(fake.first, fake.second, main=(
                "import numpy as np\nX, y = first(10, np.random.default_rng(0))\nprint(len(X), second())"))
        finally:
            inspect.getsource = original
        done = run_script("two.py", text, tmp_path)
        assert done.returncode == 0, done.stderr[-2000:]
        assert done.stdout.split()[0] == "10"
    finally:
        sys.modules.pop(fake.__name__, None)
        takehome._MODULE_CACHE.pop(fake.__name__, None)
    assert lesson  # the lesson modules import fine alongside
