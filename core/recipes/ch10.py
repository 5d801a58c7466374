"""Chapter 10 checkpoints: the shipped character GPT (so generation answers at once on a cold start)."""
from __future__ import annotations

import time

from core.weights import Recipe, register_recipe


def train_char_gpt(recipe: Recipe, on_progress=None, device: str = "cpu", stop_event=None):
    """Recipe trainer: ``core.lessons.ch10_transformer.gpt.train_gpt`` with the recipe's settings."""
    from core.errors import HeroError
    from core.lessons.ch10_transformer import gpt

    c = recipe.config
    s = gpt.GPTSettings(n_layer=c["n_layer"], n_head=c["n_head"], n_embd=c["n_embd"], block_size=c["block_size"],
                        pos=c["pos"], dropout=c["dropout"], lr=recipe.lr, batch_size=recipe.batch_size,
                        seed=recipe.seed, device=device, **recipe.dataset_options)
    started = time.perf_counter()

    def emit(event):
        if on_progress is not None:
            on_progress(event)
        if event["kind"] == "eval":
            print(f"step {event['step']}: val_loss {event['val_loss']:.3f} ({event['seconds']:.0f} s) "
                  f"{event['sample'][:60]!r}", flush=True)

    result = gpt.train_gpt(s, stop_event, emit)
    if not result.ok or result.end.get("reason") not in ("max_steps", "completed"):
        raise HeroError("weights.training_failed", reason=result.end.get("reason", "?"))
    return result.model, recipe.meta(result.val_loss, time.perf_counter() - started,
                                     "CPython pydoc_data.topics (the Python language reference), 90/10 split")


# 4 layers × 4 heads × width 128 over a 256-character context: ~0.8 M parameters (3.3 MB), big
# enough to write Python-reference-like prose, small enough to generate hundreds of characters a
# second on one CPU core with the KV cache.
CHAR_GPT = register_recipe(Recipe(
    name="ch10_char_gpt", arch="char_gpt",
    config={"vocab_size": 103, "block_size": 256, "n_layer": 4, "n_head": 4, "n_embd": 128,
            "dropout": 0.0, "bias": True, "pos": "learned", "rope_base": 10000.0},
    dataset="pydoc_topics", dataset_options={"steps": 1400, "eval_every": 200, "eval_windows": 48,
                                             "warmup": 50, "n_checkpoints": 1},
    epochs=1, batch_size=8, lr=2e-3, seed=0, metric="val_loss", trainer=train_char_gpt,
))
