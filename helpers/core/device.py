"""Where work runs: the torch device for "auto", and the CPU cores this process may use."""

from __future__ import annotations

import os


def resolve_device(device: str = "auto") -> str:
    """ "auto" picks CUDA when torch sees a GPU; anything else is returned as given."""
    if device != "auto":
        return device
    import torch  # here, so that importing this module stays light

    return "cuda" if torch.cuda.is_available() else "cpu"


def cpu_cores() -> int:
    """Cores this process may use (the default for CTranslate2's inter_threads)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
