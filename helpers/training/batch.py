"""`batch_size: 0` (auto): the batch a training run uses, and the learning rate that goes with it.

- Scratch presets (tiny, medium, small) train at 8 on any device: their measured recipe (the tiny
  model learns more per example from more, smaller updates).
- On the CPU every model trains at 8 (throughput per example hardly grows with the batch there).
- On a GPU, published shapes (flan-t5-small, ...) and pretrained models train at a throughput
  batch: one training step's peak memory is measured at 8 and 16 pairs of the data's longest
  lengths, a line is fitted through them (plus AdamW's two float32 moments per trainable weight),
  and the largest power of two whose predicted memory fits `MEMORY_SHARE` of what this process can
  use is taken, at most `MAX_AUTO_BATCH_SIZE` (the rule of Ultralytics' autobatch, for T5). The
  Trainer also backs off by halves should a step still run out of memory (`auto_find_batch_size`).
  The choice is saved beside the checkpoints, so a resumed run keeps its batch.

Learning rate with an auto batch and `learning_rate: 0`: the model kind's default (set at batch 8),
times sqrt(batch / 8) (the square-root rule for Adam), at most `MAX_SCALED_LEARNING_RATE`.
"""

from __future__ import annotations

import json
import logging
import math
from pathlib import Path

from helpers.core.auto_batch import MEMORY_SHARE, gpu_budget
from helpers.core.auto_batch import batch_from_memory as memory_batch

logger = logging.getLogger(__name__)

DEFAULT_BATCH_SIZE = 8  # the scratch presets' measured recipe, and every model's on the CPU
MAX_AUTO_BATCH_SIZE = 1024  # issue 31: a plain loop at flan-t5-small's shape still gained up to 1024 on an H200
MAX_SCALED_LEARNING_RATE = 1e-3  # AdamW on T5: above it fine-tuning turns unstable
PROBE_SIZES = (8, 16)
SAVED_NAME = "auto_batch.json"


def batch_from_memory(measured: dict[int, float], fixed_bytes: float, budget_bytes: float) -> int:
    """The auto batch for training (`helpers.core.auto_batch.batch_from_memory` from DEFAULT_BATCH_SIZE
    to MAX_AUTO_BATCH_SIZE).

    Raises:
        ValueError: Fewer than two measured sizes.
    """
    return memory_batch(measured, fixed_bytes, budget_bytes, DEFAULT_BATCH_SIZE, MAX_AUTO_BATCH_SIZE)


def scaled_learning_rate(default: float, batch_size: int) -> float:
    """The default learning rate (set at batch 8) for an auto batch: x sqrt(batch / 8), at most the cap."""
    if batch_size <= DEFAULT_BATCH_SIZE:
        return default
    return min(default * math.sqrt(batch_size / DEFAULT_BATCH_SIZE), max(default, MAX_SCALED_LEARNING_RATE))


def needs_probe(base_model: str, scratch_size: str, on_gpu: bool) -> bool:
    """Whether an auto batch is measured on the GPU (published shapes and pretrained models there)."""
    from helpers.training.scratch_model import PRESETS

    return on_gpu and not (base_model == "scratch" and scratch_size in PRESETS)


def measure_step_memory(model, input_length: int, output_length: int, precision: dict[str, bool]) -> dict[int, float]:
    """Peak CUDA memory (bytes) of one forward and backward step at each of PROBE_SIZES, random token
    ids of the given lengths, in the training's mixed precision; gradients freed after each."""
    import torch

    device = torch.device("cuda", torch.cuda.current_device())
    model.to(device).train()
    vocab = model.config.vocab_size
    dtype = torch.bfloat16 if precision.get("bf16") else torch.float16
    generator = torch.Generator(device="cpu").manual_seed(0)
    measured = {}
    for size in PROBE_SIZES:
        inputs = torch.randint(3, vocab, (size, input_length), generator=generator).to(device)
        labels = torch.randint(3, vocab, (size, output_length), generator=generator).to(device)
        torch.cuda.synchronize(device)
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(device)
        with torch.autocast("cuda", dtype=dtype, enabled=precision.get("bf16") or precision.get("fp16")):
            loss = model(input_ids=inputs, labels=labels).loss
        loss.backward()
        torch.cuda.synchronize(device)
        measured[size] = float(torch.cuda.max_memory_allocated(device))
        model.zero_grad(set_to_none=True)
        del inputs, labels, loss
    torch.cuda.empty_cache()
    return measured


def measured_batch(model, limits: dict, precision: dict[str, bool]) -> tuple[int, dict]:
    """The auto batch on this GPU (see the module) and what it was chosen from."""
    import torch

    measured = measure_step_memory(model, limits["input"], limits["output"], precision)
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    adam_bytes = 2 * 4 * trainable  # two float32 moments per trainable weight
    budget = gpu_budget(torch.cuda.current_device())
    batch = batch_from_memory(measured, adam_bytes, budget)
    return batch, {
        "batch_size": batch,
        "measured_peak_bytes": measured,
        "adam_bytes": adam_bytes,
        "budget_bytes": budget,
    }


def choose_gpu_batch(model, limits: dict, precision: dict[str, bool], checkpoint_dir: Path) -> int:
    """The auto batch on this GPU, or the one saved by the run being resumed (saved beside its checkpoints)."""
    from helpers.core.io import atomic_write_text

    saved = checkpoint_dir / SAVED_NAME
    if saved.exists():
        batch = int(json.loads(saved.read_text())["batch_size"])
        logger.info("batch size %d: the auto batch this run chose before (%s)", batch, saved)
        return batch
    batch, record = measured_batch(model, limits, precision)
    atomic_write_text(saved, json.dumps(record, indent=2) + "\n")
    logger.info(
        "batch size %d (auto): one step measured %s bytes at batches %s; a %.1f GiB budget (%.0f%% of this GPU's)",
        batch,
        [round(v) for v in record["measured_peak_bytes"].values()],
        list(record["measured_peak_bytes"]),
        record["budget_bytes"] / 2**30,
        100 * MEMORY_SHARE,
    )
    return batch
