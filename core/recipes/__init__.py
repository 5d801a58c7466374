"""The project's named checkpoints, one module per chapter (``core/recipes/chNN.py``).

Each module calls ``core.weights.register_recipe(Recipe(...))``; all are imported when
``core.weights`` loads. ``scripts/build_weights.py NAME`` trains a recipe, writes
``models/NAME.safetensors`` and records it in ``models/manifest.json``.
"""
import importlib
import pkgutil

for _module in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_module.name}")
