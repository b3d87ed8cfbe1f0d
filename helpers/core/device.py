"""Where work runs: the torch device for "auto", and the CPU cores this process may use."""

from __future__ import annotations

import os


def resolve_device(device: str = "auto") -> str:
    """ "auto" picks CUDA when torch sees a GPU; anything else is returned as given."""
    if device != "auto":
        return device
    import torch  # here, so that importing this module stays light

    return "cuda" if torch.cuda.is_available() else "cpu"


CORES_ENV = "DESCLM_CPU_CORES"  # set by an engine that gives this process fewer cores than it sees (a Ray actor)


def cpu_cores() -> int:
    """Cores this process may use (the default for CTranslate2's inter_threads): `DESCLM_CPU_CORES`
    when an engine set it, else the cores the process may be scheduled on."""
    if os.environ.get(CORES_ENV, "").isdigit():
        return max(1, int(os.environ[CORES_ENV]))
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def worker_processes(setting: int | str, name: str = "workers") -> int:
    """Worker processes for a `name` setting: a whole number (0: the work done in this process), or "auto": one
    per core, none on one core.

    Raises:
        ValueError: Neither "auto" nor a whole number >= 0.
    """
    if setting == "auto":
        cores = cpu_cores()
        return cores if cores > 1 else 0
    if isinstance(setting, bool) or not str(setting).isdigit():
        raise ValueError(f"{name} must be 'auto' or a whole number >= 0, got {setting!r}")
    return int(setting)


def use_all_cores() -> int:
    """Gives torch every core this process may use; returns how many.

    Ultralytics sets OMP_NUM_THREADS=1 when imported first and `torch.set_num_threads(cores - 1)`
    whenever it picks the CPU (predict, train, val): on a 2-core machine one thread, which halves
    YOLO training and inference and every torch model run after it in the same process (measured:
    a demo YOLO epoch 24.4 s on one thread, 11.9 s on two). Called after each Ultralytics call.
    """
    import torch

    cores = cpu_cores()
    if torch.get_num_threads() != cores:
        torch.set_num_threads(cores)
    return cores


def cpu_has_native_bf16(cpuinfo: str = "/proc/cpuinfo") -> bool:
    """Whether this CPU computes bfloat16 natively (AVX512-BF16 or AMX), where bf16 autocast speeds
    training up (measured: demo YOLO steps 1.6x, demo RT-DETR 1.45x, on an AMD EPYC); elsewhere it is
    emulated and slower than float32. Reads Linux's `cpuinfo`; without it (other systems) False."""
    try:
        with open(cpuinfo) as info:
            flags = next((line.split(":", 1)[1].split() for line in info if line.startswith("flags")), [])
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags
