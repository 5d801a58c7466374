"""Chapter 3 sizes: presets per device and the caps on what a visitor may ask the layer explorer for."""
from __future__ import annotations

# Sizes per preset: tiny keeps tests fast; default answers in ≤ 0.3 s on 2 CPU cores.
PRESETS = {
    "tiny": {"init_width": 64, "init_samples": 128, "bn_steps": 10, "mlp_epochs": 1, "mlp_max_steps": 20},
    "default": {"init_width": 128, "init_samples": 256, "bn_steps": 40, "mlp_epochs": 8, "mlp_max_steps": None},
    "gpu": {"init_width": 256, "init_samples": 1024, "bn_steps": 60, "mlp_epochs": 15, "mlp_max_steps": None},
}

# Caps on what a visitor may ask for (documented on the page): the explorer runs real layers
# on the server, so the input size and the multiply-adds of one forward pass are bounded.
MAX_DIMS, MAX_DIM, MAX_NUMEL = 5, 4096, 1_000_000
MAX_OUT_NUMEL = 4_000_000
MAX_MACS = 200_000_000          # ≈ 0.1 s of float32 work on one CPU core
MAX_BLOCKS = 16                 # layers in a container built on the page


