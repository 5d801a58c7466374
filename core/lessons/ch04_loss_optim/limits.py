"""Chapter 4 sizes: presets per device and the caps on every size a visitor can request."""
from __future__ import annotations

# Sizes per preset: tiny keeps tests to a few seconds, default is a visitor on 2 CPU cores.
PRESETS = {
    "tiny": {"curve_points": 101, "race_steps": 60, "grid": 40, "frames": 12, "decay_steps": 60,
             "sched_steps": 60, "practice_epochs": 2},
    "default": {"curve_points": 301, "race_steps": 400, "grid": 80, "frames": 30, "decay_steps": 200,
                "sched_steps": 100, "practice_epochs": 12},
    "gpu": {"curve_points": 401, "race_steps": 600, "grid": 100, "frames": 60, "decay_steps": 400,
            "sched_steps": 200, "practice_epochs": 20},
}

# Every size a visitor can request is capped here (checked in the functions, HeroError beyond).
MAX_CURVE_POINTS = 2001

MAX_RACE_STEPS = 2000

MAX_SCHED_STEPS = 1000

MAX_DECAY_STEPS = 2000

MAX_EPOCHS = 50

MAX_LR = 100.0


