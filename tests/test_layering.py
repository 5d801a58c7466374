"""Dependencies point one way: pages, widgets → ui → core → torch."""
import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
UI_LIBRARIES = {"streamlit", "gradio", "streamlit_drawable_canvas", "ui", "pages", "widgets"}


def imported_roots(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    roots = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
    return roots


@pytest.mark.parametrize("path", sorted((ROOT / "core").rglob("*.py")), ids=lambda p: str(p.relative_to(ROOT)))
def test_core_imports_no_ui(path):
    assert not imported_roots(path) & UI_LIBRARIES


@pytest.mark.parametrize("path", sorted((ROOT / "ui").rglob("*.py")), ids=lambda p: p.name)
def test_ui_imports_no_pages_or_widgets(path):
    assert not imported_roots(path) & {"pages", "widgets", "gradio"}


@pytest.mark.parametrize("path", sorted((ROOT / "widgets").rglob("*.py")), ids=lambda p: p.name)
def test_widgets_import_no_streamlit(path):
    assert not imported_roots(path) & {"streamlit", "ui", "pages"}


@pytest.mark.parametrize("path", sorted((ROOT / "pages").glob("*.py")), ids=lambda p: p.name)
def test_pages_define_no_models_losses_or_optimizers(path):
    """Pages wire widgets; nn.Module subclasses, losses and optimisers live in core/."""
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef):
            bases = {ast.unparse(b) for b in node.bases}
            assert not bases & {"nn.Module", "torch.nn.Module", "Module"}, f"{path.name}: {node.name}"


def test_no_eval_or_exec_anywhere():
    offenders = []
    for path in ROOT.glob("**/*.py"):
        if ".venv" in path.parts or "tests" in path.parts:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("eval", "exec"):
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert not offenders


def test_torch_load_always_weights_only():
    offenders = []
    for path in ROOT.glob("**/*.py"):
        if ".venv" in path.parts:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and ast.unparse(node.func) == "torch.load":
                kw = {k.arg: ast.unparse(k.value) for k in node.keywords}
                if kw.get("weights_only") != "True":
                    offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert not offenders


HEAVY = ("transformers", "diffusers", "pytorch_lightning", "lightning", "optuna", "captum", "torch_geometric",
         "gymnasium", "peft", "accelerate", "onnxruntime", "onnxscript", "tokenizers")


def test_heavy_libraries_are_imported_lazily():
    """Importing every core, ui and widget module pulls in none of the heavy Part III–IV
    libraries: they load inside the functions that need them, so the server starts in seconds."""
    import subprocess
    import sys
    code = f"""
import importlib, pkgutil, sys
sys.path.insert(0, {str(ROOT)!r})
import core, ui, widgets
for pkg in (core, ui, widgets):
    for info in pkgutil.walk_packages(pkg.__path__, prefix=pkg.__name__ + "."):
        if info.name != "ui.server":
            importlib.import_module(info.name)
heavy = sorted(m for m in {HEAVY!r} if m in sys.modules)
print("HEAVY:" + ",".join(heavy))
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-3000:]
    loaded = done.stdout.strip().rsplit("HEAVY:", 1)[-1]
    assert loaded == "", f"imported at module level somewhere: {loaded}"
