"""Rebuild every shipped checkpoint from its recipe and rewrite models/manifest.json.

    python scripts/build_weights.py            # all recipes
    python scripts/build_weights.py ch05_mnist_cnn

Each checkpoint is trained from scratch (seeded), saved as safetensors with its
architecture/config/recipe in the metadata, and recorded with its sha256 and the
measured validation metric.
"""
from __future__ import annotations

import datetime
import fcntl
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from core import weights  # noqa: E402
from core.device import configure_threads  # noqa: E402


def main(names: list[str]) -> None:
    configure_threads()
    for name in names or sorted(weights.RECIPES):
        entry = build(name)
        # read-modify-write under a lock, so builds of different recipes can run side by side
        with open(weights.SHIPPED_DIR / ".manifest.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            manifest = weights.read_manifest()
            manifest["checkpoints"][name] = entry
            weights.atomic_write(weights.MANIFEST, (json.dumps(manifest, indent=2, sort_keys=True) + "\n").encode())


def build(name: str) -> dict:
    """Train recipe ``name``, write its file, and return its manifest entry."""
    recipe = weights.get_recipe(name)
    model, meta = weights.train_recipe(recipe)
    path = weights.SHIPPED_DIR / f"{name}.safetensors"
    weights.atomic_write(path, weights.checkpoint_bytes(model, **meta))
    entry = {
        "file": path.name, "sha256": weights.sha256_file(path), "bytes": path.stat().st_size,
        "arch": recipe.arch, "config": recipe.config, "dataset": recipe.dataset,
        "recipe_fingerprint": recipe.fingerprint(), "metric": meta["metric"],
        "train_seconds": meta["train_seconds"], "torch": meta["torch"],
        "created": datetime.date.today().isoformat(),
    }
    print(f"{name}: {meta['metric']['name']} = {meta['metric']['value']} in {meta['train_seconds']} s")
    return entry


if __name__ == "__main__":
    main(sys.argv[1:])
