"""15.5 Which library for which job — and whether this machine has it (checked live)."""
from __future__ import annotations

from importlib import metadata, util

# (name shown, import name, pip distribution, job key in the locale files, chapter of the gallery it relates to)
LIBRARIES = (
    ("PyTorch Lightning", "pytorch_lightning", "pytorch-lightning", "loop", "15.1"),
    ("fastai", "fastai", "fastai", "loop", "15.1"),
    ("Hugging Face Accelerate", "accelerate", "accelerate", "scale", "14"),
    ("DeepSpeed", "deepspeed", "deepspeed", "scale", "14"),
    ("PyTorch Ignite", "ignite", "pytorch-ignite", "loop", "15.1"),
    ("skorch", "skorch", "skorch", "sklearn", "15.1"),
    ("Captum", "captum", "captum", "explain", "15.2"),
    ("Optuna", "optuna", "optuna", "tune", "15.3"),
    ("Ray Tune", "ray", "ray", "tune", "15.3"),
    ("PyTorch Geometric", "torch_geometric", "torch-geometric", "graph", "15.4"),
    ("DGL", "dgl", "dgl", "graph", "15.4"),
    ("TorchMetrics", "torchmetrics", "torchmetrics", "metrics", "15.1"),
    ("timm", "timm", "timm", "models", "7"),
    ("Hugging Face Transformers", "transformers", "transformers", "models", "11"),
    ("PEFT", "peft", "peft", "finetune", "11"),
)


def chooser_rows() -> list[dict]:
    """One row per library: name, job key, chapter, installed (``importlib.util.find_spec``) and version."""
    rows = []
    for name, module, dist, job, chapter in LIBRARIES:
        installed = util.find_spec(module) is not None
        try:
            version = metadata.version(dist) if installed else ""
        except metadata.PackageNotFoundError:
            version = "?"
        rows.append({"name": name, "module": module, "pip": dist, "job": job, "chapter": chapter,
                     "installed": installed, "version": version})
    return rows
