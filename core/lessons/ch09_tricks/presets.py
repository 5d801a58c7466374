"""Sizes of the chapter 9 demos per preset, and the upper bounds of what a visitor may ask for."""
from __future__ import annotations

PRESETS = {
    "tiny": {"per_class": 5, "overfit_epochs": 3, "clip_epochs": 2, "finder_steps": 20, "clinic_steps": 20,
             "tb_epochs": 1, "tune_epochs": 1, "tune_epochs_digits_cnn": 1,
             "tune_epochs_ch07_resnet": 1, "tune_epochs_ch08_sentiment": 1, "tune_photos": 6, "tune_reviews": 400, "repro_steps": 10, "hook_depth": 4},
    "default": {"per_class": 10, "overfit_epochs": 40, "clip_epochs": 15, "finder_steps": 100,
                "clinic_steps": 80, "tb_epochs": 5, "tune_epochs": 25, "tune_epochs_digits_cnn": 25,
                "tune_epochs_ch07_resnet": 8, "tune_epochs_ch08_sentiment": 4, "tune_photos": 30, "tune_reviews": 4000, "repro_steps": 40, "hook_depth": 8},
    "gpu": {"per_class": 10, "overfit_epochs": 80, "clip_epochs": 25, "finder_steps": 100,
            "clinic_steps": 150, "tb_epochs": 8, "tune_epochs": 40, "tune_epochs_digits_cnn": 40,
            "tune_epochs_ch07_resnet": 15, "tune_epochs_ch08_sentiment": 6, "tune_photos": 80, "tune_reviews": 20000, "repro_steps": 60, "hook_depth": 10},
}
# Upper bounds on what a visitor can ask for (keeps every request small on a shared CPU).
MAX_EPOCHS, MAX_STEPS, MAX_DEPTH, MAX_PER_CLASS = 200, 500, 20, 100
