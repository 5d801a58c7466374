"""Chapter 7 checkpoints (see ``core.weights`` for what a recipe is)."""
from core.weights import Recipe, register_recipe

# The offline transfer-learning backbone: a tiny ResNet pretrained on the SOURCE task
# "generated shapes & textures" (core.data.vision_sets, 10 classes), then transferred in the
# page to few-shot MNIST digits and to photos — tasks it has never seen.
SHAPES_BACKBONE = register_recipe(Recipe(
    name="ch07_shapes_resnet", arch="tiny_resnet",
    config={"in_channels": 3, "image_size": 32, "widths": [16, 32, 64], "n_classes": 10},
    dataset="ch07_shapes", dataset_options={"n_per_class": 300, "seed": 0},
    epochs=6, batch_size=64, lr=3e-3, seed=0,
))
