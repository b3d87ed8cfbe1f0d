"""An auto batch from measured GPU memory (training's and the describer's `batch_size: 0`).

The rule of Ultralytics' autobatch, for T5: the peak memory of the work is measured at two batch
sizes, a line is fitted through them, and the largest power of two whose predicted memory fits
`MEMORY_SHARE` of what this process can use on the GPU is taken, between a smallest and a largest.
"""

from __future__ import annotations

MEMORY_SHARE = 0.6  # of the GPU memory this process can use (Ultralytics' autobatch default)


def batch_from_memory(
    measured: dict[int, float], fixed_bytes: float, budget_bytes: float, smallest: int, largest: int
) -> int:
    """The largest power of two from `smallest` to `largest` whose memory, on the line through the
    `measured` peaks (batch -> bytes) plus `fixed_bytes`, fits `budget_bytes`; `smallest` when none does.

    Raises:
        ValueError: Fewer than two measured sizes.
    """
    if len(measured) < 2:
        raise ValueError(f"the memory line needs two measured batch sizes, got {sorted(measured)}")
    (small, low), (large, high) = sorted(measured.items())[0], sorted(measured.items())[-1]
    per_example = max((high - low) / (large - small), 0.0)
    base = low - per_example * small
    batch = smallest
    while batch * 2 <= largest and base + fixed_bytes + per_example * batch * 2 <= budget_bytes:
        batch *= 2
    return batch


def gpu_budget(device) -> float:
    """`MEMORY_SHARE` of the memory this process can use on the CUDA `device`: what is free plus what
    torch holds in its cache."""
    import torch

    free, _ = torch.cuda.mem_get_info(device)
    return MEMORY_SHARE * (free + torch.cuda.memory_reserved(device))
