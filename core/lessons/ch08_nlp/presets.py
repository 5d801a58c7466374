"""Sizes of the chapter 8 demos per preset (tiny: tests; default: a visitor on CPU; gpu: bigger)."""
from __future__ import annotations

PRESETS = {
    "tiny": {"sg_epochs": 1, "sg_max_tokens": 12000, "s2s_epochs": 2, "s2s_pairs": 400,
             "sent_epochs": 1, "sent_limit": 1500, "sent_len": 32, "sent_batch": 128, "grad_len": 30},
    "default": {"sg_epochs": 3, "sg_max_tokens": 0, "s2s_epochs": 6, "s2s_pairs": 3000,
                "sent_epochs": 2, "sent_limit": 0, "sent_len": 40, "sent_batch": 256, "grad_len": 60},
    "gpu": {"sg_epochs": 6, "sg_max_tokens": 0, "s2s_epochs": 12, "s2s_pairs": 6000,
            "sent_epochs": 4, "sent_limit": 0, "sent_len": 96, "sent_batch": 256, "grad_len": 100},
}
