"""Chapter 1 — tensors: creation, NumPy bridge, indexing, strides, cat/stack, broadcasting,
elementwise vs matmul vs einsum, CPU vs accelerator timing, and least-squares regression.

Plain functions returning data (and a few plotly figures); the Streamlit page and the Gradio
widget only draw them. Everything a visitor types is parsed with an ``ast`` whitelist (never
``eval``) and every size is bounded (see the caps below).

One module per book section; everything public is re-exported here (``lesson.broadcast``).
"""
from __future__ import annotations

from .limits import (  # noqa: F401
    DTYPES, FACTORIES, GRID_SHOWN, INDEX_BOUND, LOOP_BUDGET, MAX_DIMS, MAX_ELEMENTS, MAX_LITERAL,
    MAX_POINTS, MAX_TEXT, PRESETS, _layout, _torch_error,
)
from .shapes import (  # noqa: F401
    check_size, parse_ints, parse_shape,
)
from .creation import (  # noqa: F401
    Created, as_grid, create, grid_figure, parse_literal, tensor_properties,
)
from .numpy_bridge import (  # noqa: F401
    numpy_bridge,
)
from .indexing import (  # noqa: F401
    Mask, _CMP, _FLIP, _int, _is_x, _item, _mask, _number, apply_index, index_lab, parse_index,
)
from .strides import (  # noqa: F401
    view_script,
    LAYOUT_OPS, contiguous_strides, is_contiguous, memory_figure, stride_facts, view_lab,
)
from .cat_stack import (  # noqa: F401
    cat_stack,
)
from .broadcasting import (  # noqa: F401
    broadcast,
)
from .products import (  # noqa: F401
    EINSUM_CHARS, einsum_loop, matrix_text, parse_einsum, products,
)
from .devices import (  # noqa: F401
    accelerator, device_moves, timing_figure, timing_table,
)
from .regression import (  # noqa: F401
    regression_data, regression_figure, regression_script, solve_regression,
)
