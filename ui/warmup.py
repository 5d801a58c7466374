"""Import the heavy libraries the chapter pages use, in the background, once a visitor's first page is drawn.

A chapter's first view used to pay for its imports (found by diffing sys.modules around each page):
scikit-learn and SciPy (ch03, ch06, ch10, ch15, ch16), torchvision with TorchDynamo (ch04, ch06),
transformers' BERT and GPT-2 modules (ch11), diffusers (ch12), captum (ch15) — seconds each, on the
first visit of that page in the server's life (ch03, ch04 and ch11 ran 10 s in AppTest on a loaded
2-core machine, 3–5 s once imported). Python imports a module once per process, so the server imports them for
every visitor while the first one is still reading the page they opened. The server (``ui.server``)
turns this on with ``HERO_WARMUP=1``; AppTest runs and plain ``streamlit run app.py`` leave it off.

Only imports: no model or dataset is loaded here (what a page needs stays behind its own cache or button).
"""
from __future__ import annotations

import importlib
import os
import sys
import threading
import time

# What first views import (found by diffing sys.modules before and after each page), then what the
# first press of a button imports. transformers and diffusers load their model modules lazily, so
# those modules are named themselves.
FIRST_VIEW = (
    "pandas", "scipy.stats", "sklearn.datasets", "sklearn.svm", "sklearn.neural_network", "sklearn.linear_model",
    "torchvision", "torchvision.transforms.v2", "torch._dynamo",
    "transformers", "transformers.models.bert.modeling_bert", "transformers.models.gpt2.modeling_gpt2", "peft",
    "diffusers", "diffusers.models.unets.unet_2d", "diffusers.schedulers.scheduling_ddim",
    "diffusers.schedulers.scheduling_ddpm", "captum.attr", "mlxtend.data",
)
ON_BUTTONS = ("onnx", "onnxruntime", "pytorch_lightning", "optuna", "torch_geometric.nn", "gymnasium",
              "torch.utils.tensorboard", "tensorboard.backend.event_processing.event_accumulator")
MODULES = FIRST_VIEW + ON_BUTTONS

_lock = threading.Lock()
_thread: threading.Thread | None = None
done = threading.Event()
report: dict = {}


def enabled() -> bool:
    return os.environ.get("HERO_WARMUP") == "1"


def run(modules=None) -> dict:
    """Import ``modules`` (default :data:`MODULES`) one after another; {"seconds", "imported", "failed": {name: error}}.

    A library that fails to import is noted, not raised: the page that needs it reports it itself."""
    started = time.perf_counter()
    imported, failed = [], {}
    for name in MODULES if modules is None else modules:
        try:
            importlib.import_module(name)
            imported.append(name)
        except Exception as exc:   # noqa: BLE001 — any import error belongs to the page that needs it
            failed[name] = f"{type(exc).__name__}: {exc}"[:200]
    return {"seconds": round(time.perf_counter() - started, 2), "imported": imported, "failed": failed}


def _work() -> None:
    report.update(run())
    print(f"hero warm-up: {len(report['imported'])} libraries imported in {report['seconds']} s"
          + (f"; failed: {', '.join(report['failed'])}" if report["failed"] else ""), file=sys.stderr, flush=True)
    done.set()


def start_once() -> bool:
    """Start the warm-up thread the first time it is called in this process (when enabled); True if started now."""
    global _thread
    if not enabled():
        return False
    with _lock:
        if _thread is not None:
            return False
        _thread = threading.Thread(target=_work, name="hero-warmup", daemon=True)
        _thread.start()
        return True
