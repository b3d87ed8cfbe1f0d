"""Stage 03: pairs -> a trained T5 describer folder. Scratch models, the trainer, the export, its
report and benchmark.

Public API for other stages (loaded on first use): `build_model` (a random-init T5 of a preset or a
published shape) and `SHAPES` (the shapes of google/flan-t5-small/base/large).
"""

from importlib import import_module

_PUBLIC = {"build_model": "scratch_model", "SHAPES": "scratch_model"}
__all__ = sorted(_PUBLIC)


def __getattr__(name: str):
    if name in _PUBLIC:
        return getattr(import_module(f"helpers.training.{_PUBLIC[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
