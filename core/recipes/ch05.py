"""Chapter 5 checkpoints (see ``core.weights`` for what a recipe is)."""
from __future__ import annotations

import time

from core.errors import HeroError
from core.weights import Recipe, register_recipe


def train_digits_recipe(recipe: Recipe, on_progress=None, device: str = "cpu", stop_event=None):
    """Recipe trainer: the page's own tuned 8×8 run (``ch05_training.train_digits``: one-pixel shift
    augmentation and OneCycle), so the shipped model is the one the 实战's default preset trains."""
    from core.lessons import ch05_training as lesson
    settings = lesson.DigitsSettings(dataset=recipe.dataset, epochs=recipe.epochs, lr=recipe.lr,
                                     batch_size=recipe.batch_size, seed=recipe.seed,
                                     val_fraction=recipe.val_fraction, device=device, **recipe.dataset_options)
    started = time.perf_counter()
    result = lesson.train_digits(settings, stop_event, on_progress)
    if result.end.get("reason") != "completed":
        raise HeroError("weights.training_failed", reason=result.end.get("reason", "?"))
    return result.model, recipe.meta(result.end[recipe.metric], time.perf_counter() - started,
                                     "scikit-learn load_digits (1,797 8×8 digits), 80/20 split, "
                                     "shifted copies of the training part")


# ch05 实战, and later chapters that debug (ch09), explain (ch15) or export (ch13) "the digit
# classifier": the 实战's default preset (DigitsSettings: 4 epochs of 128 with shifts and OneCycle).
register_recipe(Recipe(
    name="ch05_digits_cnn", arch="small_cnn",
    config={"image_size": 8, "channels": 16, "n_classes": 10, "dropout": 0.1},
    dataset="digits", dataset_options={"augment": True, "onecycle": True},
    epochs=4, batch_size=128, lr=2e-2, seed=0, trainer=train_digits_recipe,
))
register_recipe(Recipe(
    name="ch05_mnist_cnn", arch="small_cnn",
    config={"image_size": 28, "channels": 16, "n_classes": 10, "dropout": 0.1},
    dataset="mnist5k", epochs=12, batch_size=64, lr=3e-3, seed=0,
))
