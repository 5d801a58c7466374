"""Chapter 11 checkpoint: the character-level GPT2LMHeadModel, shipped so decoding, prompting and
LoRA start at once on a cold start (the page can still train its own live)."""
from __future__ import annotations

import math

import torch

from core.weights import Recipe, register_recipe


@torch.no_grad()
def held_out_loss(gpt, text: str, windows: int = 64, seed: int = 1) -> float:
    """Mean next-character cross-entropy (nats) of ``gpt`` on ``windows`` random windows of ``text``."""
    data = torch.tensor(gpt.encode(text))
    T = gpt.model.config.n_positions
    gen = torch.Generator().manual_seed(seed)
    starts = torch.randint(0, len(data) - T, (windows,), generator=gen).tolist()
    x = torch.stack([data[i:i + T] for i in starts])
    return float(gpt.model.eval()(x, labels=x).loss)


def train_char_gpt2(recipe: Recipe, on_progress=None, device: str = "cpu", stop_event=None):
    """Recipe trainer: ``decoding.train_char_gpt`` on the first 90 % of the corpus; metric = loss on the last 10 %."""
    from core.data.ch08_text import corpus_text
    from core.errors import HeroError
    from core.lessons.ch11_llm import decoding

    c, o = recipe.config, recipe.dataset_options
    text = corpus_text()
    cut = int(len(text) * 0.9)
    s = decoding.TinyGPTSettings(n_layer=c["n_layer"], n_head=c["n_head"], n_embd=c["n_embd"], block_size=c["n_positions"],
                                 steps=o["steps"], batch_size=recipe.batch_size, lr=recipe.lr, max_chars=cut,
                                 seed=recipe.seed, device=device)

    def emit(event):
        if on_progress is not None:
            on_progress(event)
        if event["step"] % 50 == 0:
            print(f"step {event['step']}: loss {event['loss']:.3f}", flush=True)

    gpt = decoding.train_char_gpt(s, stop_event, emit)
    if len(gpt.losses) < s.steps or not math.isfinite(gpt.losses[-1]):
        raise HeroError("weights.training_failed", reason="stopped" if len(gpt.losses) < s.steps else "nan")
    val = held_out_loss(gpt, text[cut:])
    return gpt.net, recipe.meta(val, gpt.seconds,
                                "CPython pydoc_data.topics (the Python language reference), 90/10 split")


# 2 blocks × 4 heads × width 128 over 64 characters: 0.42 M parameters (1.7 MB), small enough that a LoRA
# run and a full fine-tune take a fraction of a second per step on a CPU, big enough to spell Python words.
CHAR_GPT2 = register_recipe(Recipe(
    name="ch11_char_gpt2", arch="char_gpt2",
    config={"n_positions": 64, "n_embd": 128, "n_layer": 2, "n_head": 4},
    dataset="pydoc_topics", dataset_options={"steps": 1500}, epochs=1, batch_size=16, lr=3e-3, seed=0,
    metric="val_loss", trainer=train_char_gpt2,
))
