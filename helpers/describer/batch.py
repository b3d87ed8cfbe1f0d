"""`batch_size: 0` (auto) in describing: the records each generation batch holds.

- On the CPU, and for CTranslate2 anywhere: `CPU_BATCH_SIZE`.
- HF on a GPU: generation's peak memory is measured at `PROBE_SIZES` records of the longest input
  (`max_source_length` tokens each), every sentence written to `max_new_tokens` with the
  describer's beams; a line is fitted through the two, and the largest power of two from
  `CPU_BATCH_SIZE` to `MAX_GPU_BATCH_SIZE` whose memory fits `MEMORY_SHARE` of what this process
  can use on the GPU is taken (`helpers.core.auto_batch`, the rule training's auto batch uses).
  The measurement runs once per describer, at its first batch (should it run out of memory itself,
  on a GPU other work shares, the batch is `CPU_BATCH_SIZE`). A batch that still runs out of
  memory is generated in halves, and later batches no larger (`HFBackend`).

`MAX_GPU_BATCH_SIZE` is where issue 31 measured the describer on an H200 (plain `generate` 6,844
records/s at 1,024 with make demo's model in bf16); CTranslate2 on CUDA keeps `CPU_BATCH_SIZE`
(it could not be measured: docs/hardware.md).
"""

from __future__ import annotations

import logging

from helpers.core.auto_batch import MEMORY_SHARE, batch_from_memory, gpu_budget

logger = logging.getLogger(__name__)

AUTO_BATCH_SIZE = 0  # the `batch_size` setting that asks for the auto batch
# The CPU's, and the least an auto batch holds: measured side by side on 2 cores
# (docs/measurements/describe_cpu_batch_*_cpu.json), the fastest of 8..256 for flan-t5-small's shape with 4
# beams and 0.99 of the fastest (128) for make demo's greedy describer; 32 gave 0.92 and 0.76 of them.
CPU_BATCH_SIZE = 64
MAX_GPU_BATCH_SIZE = 1024
PROBE_SIZES = (32, 64)


def auto_batch_size(backend, beams: int, returned: int, max_new_tokens: int, top_p: float = 0.0) -> dict:
    """The auto batch for `backend` generating that many beams (see the module): {"batch_size", and
    what it was chosen from}."""
    device = str(getattr(backend, "device", "cpu"))
    if not device.startswith("cuda") or not hasattr(backend, "peak_memory"):
        logger.info("describer batch size %d (auto, on %s)", CPU_BATCH_SIZE, device)
        return {"batch_size": CPU_BATCH_SIZE, "device": device}
    import torch

    try:
        measured = backend.peak_memory(PROBE_SIZES, beams, returned, max_new_tokens, top_p)
    except torch.cuda.OutOfMemoryError:  # a GPU shared with other work: the least, halved should it not fit
        torch.cuda.empty_cache()
        logger.warning(
            "describer batch size %d (auto): measuring generation's memory ran out of GPU memory", CPU_BATCH_SIZE
        )
        return {"batch_size": CPU_BATCH_SIZE, "device": device, "measured_peak_bytes": None}
    budget = gpu_budget(device)
    batch = batch_from_memory(measured, 0.0, budget, CPU_BATCH_SIZE, MAX_GPU_BATCH_SIZE)
    logger.info(
        "describer batch size %d (auto): generation measured %s bytes at batches %s; a %.1f GiB budget (%.0f%% of "
        "this GPU's)",
        batch,
        [round(value) for value in measured.values()],
        list(measured),
        budget / 2**30,
        100 * MEMORY_SHARE,
    )
    return {"batch_size": batch, "device": device, "measured_peak_bytes": measured, "budget_bytes": budget}


def planned_batch_size(batch_size: int, on_gpu: bool) -> int:
    """`batch_size`, or for auto the most it can come to on that device: for sizing the blocks of
    lines a describer gets before it has measured its batch (the Ray engine's driver)."""
    if batch_size:
        return batch_size
    return MAX_GPU_BATCH_SIZE if on_gpu else CPU_BATCH_SIZE
