"""Sizes of the chapter 6 demos per preset, and the limits of what a visitor may ask for."""
from __future__ import annotations

# Sizes per preset: tiny keeps tests fast, default is what a 2-core CPU visitor gets.
PRESETS = {
    "tiny": {"stream_mb": 1, "lab_items": 256, "lab_epochs": 1, "show": 16, "online_n": 500, "draws": 4,
             "photo_side": 128, "naive_shard": False, "twin_n": 300, "epochs": 1, "seq_n": 16},
    "default": {"stream_mb": 100, "lab_items": 1797, "lab_epochs": 2, "show": 32, "online_n": 5000, "draws": 8,
                "photo_side": 224, "naive_shard": True, "twin_n": 2000, "epochs": 1, "seq_n": 64},
    "gpu": {"stream_mb": 200, "lab_items": 5000, "lab_epochs": 2, "show": 32, "online_n": 10000, "draws": 12,
            "photo_side": 320, "naive_shard": True, "twin_n": 5000, "epochs": 2, "seq_n": 128},
}
STREAM_SIZES_MB = (1, 8, 32, 64, 100, 200)   # the file sizes a visitor may ask for (cap: 200 MB)
MAX_WORKERS = 4                              # DataLoader workers a visitor may request
SPAWN = "spawn"   # the server is multi-threaded: fork would copy locks held by other threads
