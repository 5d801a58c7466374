"""Sizes of the chapter 7 demos per preset (tiny: tests; default: a visitor on 2 CPU cores; gpu: bigger)."""
from __future__ import annotations

# Sizes per preset: tiny keeps tests to a few seconds; default is a visitor on 2 CPU cores.
PRESETS = {
    "tiny": {"zoo_size": 32, "zoo_models": ["lenet", "resnet18"], "zoo_repeats": 1, "shots": 2,
             "lab_epochs": 2, "lab_val": 60, "imb_epochs": 2, "ft_epochs": 2, "photos": 6,
             "photo_size": 32},
    "default": {"zoo_size": 64, "zoo_models": ["lenet", "alexnet", "resnet18"], "zoo_repeats": 3, "shots": 5,
                "lab_epochs": 15, "lab_val": 200, "imb_epochs": 20, "ft_epochs": 6, "photos": 32,
                "photo_size": 64},
    "gpu": {"zoo_size": 224, "zoo_models": ["lenet", "alexnet", "vgg11", "resnet18", "densenet121"],
            "zoo_repeats": 10, "shots": 5, "lab_epochs": 40, "lab_val": 1000, "imb_epochs": 40, "ft_epochs": 15,
            "photos": 120, "photo_size": 96},
}
