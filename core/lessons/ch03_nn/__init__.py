"""Chapter 3 — torch.nn: modules, every common layer, containers, initialisation, parameters, an MLP.

Plain functions returning data; the Streamlit page and the Gradio widget only draw it.
Shapes follow PyTorch's conventions: B batch, C channels, H×W image, L length, T time steps,
F features.

One module per book section; everything public is re-exported here (``lesson.train_mlp``).
"""
from __future__ import annotations

from .limits import (  # noqa: F401
    MAX_BLOCKS, MAX_DIM, MAX_DIMS, MAX_MACS, MAX_NUMEL, MAX_OUT_NUMEL, PRESETS,
)
from .anatomy import (  # noqa: F401
    TinyNet, module_anatomy,
)
from .layers import (  # noqa: F401
    layer_core_main,
    HP, LAYERS, LayerReport, LayerSpec, _conv_hps, _POOL, _RNN, _macs, _out_len, _spatial, build_layer,
    check_hp, check_shape, constructor, default_hp, formula_params, layer_snippet, parse_shape,
    predict_shape, run_layer,
)
from .on_a_digit import (  # noqa: F401
    DigitEffect, EDGE_KERNELS_1D, EDGE_KERNELS_2D, _set_kernels, effect_figure, layer_on_digit,
)
from .activations import (  # noqa: F401
    ACTIVATIONS, activation_curves, activation_figure, activation_fn,
)
from .dropout_batchnorm import (  # noqa: F401
    batchnorm_train_eval, dropout_train_eval, running_stats_figure,
)
from .containers import (  # noqa: F401
    BLOCKS, CONTAINERS, DEFAULT_STACK, DictNet, ListNet, _block_hp, build_container,
    container_snippet, summarize,
)
from .initialisation import (  # noqa: F401
    INITS, apply_init, init_activation_stats, init_histogram_figure, init_stats_per_strategy,
    std_per_layer_figure,
)
from .parameters import (  # noqa: F401
    parameter_table, state_dict_summary,
)
from .mlp import (  # noqa: F401
    mlp_main,
    MLPRun, MLPSettings, build_mlp, mlp_forward, train_mlp,
)
