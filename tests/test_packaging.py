"""The Dockerfile, README front matter, requirements and the code agree with each other."""
import ast
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# import name → distribution name, where they differ
DIST_OF = {"sklearn": "scikit-learn", "PIL": "pillow", "yaml": "pyyaml", "streamlit_drawable_canvas":
           "streamlit-drawable-canvas", "gradio_client": "gradio_client", "google": "protobuf"}
PROJECT = {"core", "ui", "pages", "widgets", "tests", "gradio_app", "app", "bench", "scripts"}


def requirements(path="requirements.txt") -> dict[str, str]:
    pins = {}
    for line in (ROOT / path).read_text().splitlines():
        line = line.split("#")[0].strip()
        if line and not line.startswith("-"):
            name, _, version = line.partition("==")
            assert version, f"{line}: every requirement is pinned with =="
            pins[name.lower().replace("_", "-")] = version
    return pins


def test_front_matter_matches_dockerfile():
    readme = (ROOT / "README.md").read_text()
    front = readme.split("---")[1]
    assert re.search(r"^sdk: docker$", front, re.M)
    port = re.search(r"^app_port: (\d+)$", front, re.M).group(1)
    docker = (ROOT / "Dockerfile").read_text()
    assert f"EXPOSE {port}" in docker and f"--server.port={port}" in docker
    assert "--uid 1000" in docker and "USER user" in docker
    assert "fileWatcherType=none" in docker and "HEALTHCHECK" in docker
    assert "-r requirements.txt" in docker


def test_torch_pins():
    pins = requirements()
    assert pins["torch"] == "2.14.1" and pins["torchvision"] == "0.29.1"


def optional_imports(tree) -> set[int]:
    """ids of import nodes inside ``try`` blocks that catch ImportError or Exception (optional extras, e.g. online sources)."""
    guarded = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Try) and any(
                h.type is not None and re.search(r"ImportError|ModuleNotFoundError|\bException", ast.unparse(h.type))
                for h in node.handlers):
            guarded |= {id(n) for stmt in node.body for n in ast.walk(stmt)}
    return guarded


def test_every_third_party_import_is_required():
    """(Imports guarded by ``except ImportError`` are optional extras and may be absent.)"""
    pins = requirements()
    stdlib = set(sys.stdlib_module_names)
    missing = set()
    for folder in ("core", "ui", "pages", "widgets"):
        for path in (ROOT / folder).rglob("*.py"):
            tree = ast.parse(path.read_text())
            guarded = optional_imports(tree)
            for node in ast.walk(tree):
                names = []
                if id(node) in guarded:
                    continue
                if isinstance(node, ast.Import):
                    names = [a.name for a in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    names = [node.module]
                for name in names:
                    root = name.split(".")[0]
                    if root in stdlib or root in PROJECT:
                        continue
                    dist = DIST_OF.get(root, root).lower().replace("_", "-")
                    if dist not in pins:
                        missing.add(f"{root} ({path.relative_to(ROOT)})")
    for name in ("app.py", "gradio_app.py"):
        for node in ast.walk(ast.parse((ROOT / name).read_text())):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                mods = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
                for mod in mods:
                    root = mod.split(".")[0]
                    if root and root not in stdlib and root not in PROJECT and \
                            DIST_OF.get(root, root).lower().replace("_", "-") not in pins:
                        missing.add(f"{root} ({name})")
    assert not missing, sorted(missing)


def test_ci_runs_the_readme_test_command():
    ci = (ROOT / ".ci" / "run").read_text()
    readme = (ROOT / "README.md").read_text()
    assert "./run.sh test" in ci and "./run.sh test" in readme and "apt-get install" in ci


def test_server_config_skips_the_per_rerun_full_gc_and_the_file_watcher():
    """Streamlit's defaults run gc.collect(2) after every script run (a live run's panel reruns
    every 0.5 s: that starved the training thread ~3.5×) and watch the tree; the gallery's config
    turns both off, as Streamlit itself reads it when started from the repo root (run.sh, Docker)."""
    import subprocess
    out = subprocess.run([sys.executable, "-c", "from streamlit import config; config.get_config_options(force_reparse=True); "
                          "print(config.get_option('runner.postScriptGC'), config.get_option('server.fileWatcherType'))"],
                         cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.stdout.split()[-2:] == ["False", "none"], out.stdout + out.stderr
