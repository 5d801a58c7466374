"""Chapter 4 — loss functions and optimizers: how a model measures its error and walks downhill.

Plain functions returning data (NumPy arrays, dicts, dataclasses) plus the chapter's own plotly
figures. Every number comes from the real ``torch.nn.functional`` losses, ``torch.optim``
optimizers and ``torch.optim.lr_scheduler`` schedulers; the Streamlit page and the Gradio
widget only draw what these return.

One module per book section; everything public is re-exported here (``lesson.compare_practice``).
"""
from __future__ import annotations

from .limits import (  # noqa: F401
    MAX_CURVE_POINTS, MAX_DECAY_STEPS, MAX_EPOCHS, MAX_LR, MAX_RACE_STEPS, MAX_SCHED_STEPS, PRESETS,
)
from .losses import (  # noqa: F401
    LOSSES, N_CLASSES, apply_loss, loss_curve, loss_curve_figure, loss_inputs, x_range,
)
from .bce_stability import (  # noqa: F401
    STABILITY_LOGITS, bce_reference, bce_stability, stability_figure,
)
from .custom_losses import (  # noqa: F401
    custom_loss_check, focal_loss, pinball_loss,
)
from .optimizer_race import (  # noqa: F401
    ADAPTIVE, DIVERGE_FACTOR, RACERS, REACH_TOLERANCE, SURFACES, Surface, Trajectory, _bowl,
    _himmelblau, _optimizer_code, _rosenbrock, _saddle, optimizer_path, optimizer_steps, race, race_figure,
    race_loss_figure, race_script, race_table, race_winner, surface_grid, surface_min, trajectory,
)
from .weight_decay import (  # noqa: F401
    decay_figure, decay_problem, weight_decay_compare,
)
from .schedulers import (  # noqa: F401
    SCHEDULERS, default_params, make_scheduler, plateau_loss, scheduler_curve, scheduler_figure,
    scheduler_script,
)
from .practice import (  # noqa: F401
    practice_main,
    Divergence, PRACTICE_LOSSES, PracticeResult, PracticeRun, compare_practice, practice_data,
    practice_loss, practice_model,
)
