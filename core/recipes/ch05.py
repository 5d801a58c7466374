"""Chapter 5 checkpoints (see ``core.weights`` for what a recipe is)."""
from core.weights import Recipe, register_recipe

# ch05 实战, and later chapters that debug (ch09), explain (ch15) or export (ch13) "the digit
# classifier". A small CNN beats an MLP on 8×8 digits (≈98 % vs ≈96.5 % validation accuracy).
register_recipe(Recipe(
    name="ch05_digits_cnn", arch="small_cnn",
    config={"image_size": 8, "channels": 16, "n_classes": 10, "dropout": 0.1},
    dataset="digits", epochs=20, batch_size=32, lr=3e-3, seed=0,
))
register_recipe(Recipe(
    name="ch05_mnist_cnn", arch="small_cnn",
    config={"image_size": 28, "channels": 16, "n_classes": 10, "dropout": 0.1},
    dataset="mnist5k", epochs=12, batch_size=64, lr=3e-3, seed=0,
))
