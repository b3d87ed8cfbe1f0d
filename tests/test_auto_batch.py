"""`batch_size: 0` (auto) in training and describing: the memory rule, the learning-rate rule, where each
applies. (The GPU memory probes themselves run only on a GPU: `desclm gpu-check --parts train,guard`.)"""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from helpers.core import auto_batch
from helpers.describer import batch as describe_batch
from helpers.training.batch import (
    DEFAULT_BATCH_SIZE,
    MAX_AUTO_BATCH_SIZE,
    MAX_SCALED_LEARNING_RATE,
    batch_from_memory,
    needs_probe,
    scaled_learning_rate,
)
from helpers.training.config import PRETRAINED_LEARNING_RATE, SCRATCH_LEARNING_RATE, TrainConfig


@given(
    base=st.floats(1e8, 4e10),
    per_example=st.floats(1e5, 2e9),
    fixed=st.floats(0, 2e10),
    budget=st.floats(1e9, 1.5e11),
)
def test_the_auto_batch_is_the_largest_power_of_two_that_fits(base, per_example, fixed, budget):
    measured = {8: base + 8 * per_example, 16: base + 16 * per_example}
    batch = batch_from_memory(measured, fixed, budget)

    def predicted(size: int) -> float:
        return base + fixed + per_example * size

    assert DEFAULT_BATCH_SIZE <= batch <= MAX_AUTO_BATCH_SIZE and batch & (batch - 1) == 0
    assert batch == DEFAULT_BATCH_SIZE or predicted(batch) <= budget * (1 + 1e-9)
    assert batch == MAX_AUTO_BATCH_SIZE or predicted(batch * 2) > budget * (1 - 1e-9)


@given(
    smallest_power=st.integers(0, 6),
    span=st.integers(0, 6),
    base=st.floats(1e8, 4e10),
    per_example=st.floats(1e5, 2e9),
    budget=st.floats(1e9, 1.5e11),
)
def test_the_memory_rule_keeps_to_its_smallest_and_largest(smallest_power, span, base, per_example, budget):
    smallest, largest = 2**smallest_power, 2 ** (smallest_power + span)
    batch = auto_batch.batch_from_memory(
        {4: base + 4 * per_example, 9: base + 9 * per_example}, 0, budget, smallest, largest
    )
    assert smallest <= batch <= largest and batch & (batch - 1) == 0
    assert batch == smallest or base + per_example * batch <= budget * (1 + 1e-9)
    assert batch == largest or base + per_example * batch * 2 > budget * (1 - 1e-9)


def test_the_memory_line_needs_two_sizes_and_a_flat_line_takes_the_most():
    with pytest.raises(ValueError, match="two measured batch sizes"):
        batch_from_memory({8: 1e9}, 0, 1e10)
    assert batch_from_memory({8: 1e9, 16: 1e9}, 0, 2e9) == MAX_AUTO_BATCH_SIZE


def test_the_learning_rate_grows_with_the_square_root_of_an_auto_batch_up_to_the_cap():
    assert scaled_learning_rate(3e-4, 8) == 3e-4
    assert scaled_learning_rate(3e-4, 2) == 3e-4, "small batches keep the default"
    assert scaled_learning_rate(2e-4, 32) == pytest.approx(4e-4)
    assert scaled_learning_rate(3e-4, 1024) == MAX_SCALED_LEARNING_RATE
    auto = TrainConfig(base_model="some/folder")
    assert auto.learning_rate_used(128) == pytest.approx(min(PRETRAINED_LEARNING_RATE * 4, MAX_SCALED_LEARNING_RATE))
    assert TrainConfig(batch_size=128).learning_rate_used(128) == SCRATCH_LEARNING_RATE, "a given batch: as given"
    assert TrainConfig(learning_rate=1e-5).learning_rate_used(512) == 1e-5, "a given rate: as given"
    assert math.isclose(auto.learning_rate_used(8), PRETRAINED_LEARNING_RATE)


def test_only_published_shapes_and_pretrained_models_on_a_gpu_are_measured():
    assert needs_probe("scratch", "flan-t5-small", on_gpu=True)
    assert needs_probe("google/flan-t5-base", "tiny", on_gpu=True)
    assert not needs_probe("scratch", "tiny", on_gpu=True), "the presets keep their measured recipe"
    assert not needs_probe("scratch", "flan-t5-small", on_gpu=False)
    assert not needs_probe("google/flan-t5-base", "tiny", on_gpu=False)
    with pytest.raises(ValueError, match="batch_size"):
        TrainConfig(batch_size=-1)


class ScriptedGPU:
    """A describer's backend on a scripted GPU: generation takes `base` bytes plus `per_record` a record."""

    def __init__(self, backend, base: float, per_record: float) -> None:
        self.backend, self.base, self.per_record = backend, base, per_record
        self.device, self.probes, self.batch_sizes = "cuda", [], []

    def peak_memory(self, sizes, beams, returned, max_new_tokens, top_p=0.0):
        self.probes.append((sizes, beams, returned, max_new_tokens, top_p))
        return {size: self.base + self.per_record * size for size in sizes}

    def hypotheses(self, inputs, beams, max_new_tokens, batch_size, returned, **sampling):
        self.batch_sizes.append(batch_size)
        return self.backend.hypotheses(inputs, beams, max_new_tokens, batch_size, returned, **sampling)


@pytest.mark.parametrize(
    ("per_record", "expected"),
    [(10 * 2**20, 512), (2**20, 1024), (400 * 2**20, describe_batch.CPU_BATCH_SIZE)],
    ids=["fits 512", "up to the most", "too little: the least, halved when it runs out"],
)
def test_a_describers_auto_batch_is_measured_once_on_a_gpu(model_dir, monkeypatch, per_record, expected):
    from helpers.describer.describe import Describer
    from helpers.describer.run import LocalDescribeEngine

    monkeypatch.setattr(describe_batch, "gpu_budget", lambda device: 8 * 2**30)
    describer = Describer.load(model_dir, device="cpu", guard_workers=0, num_captions=3)
    gpu = describer.backend = ScriptedGPU(describer.backend, 2 * 2**30, per_record)
    assert describer.generation_batch_size(7) == 7 and not gpu.probes, "a given batch is used as given"
    assert describer.generation_batch_size() == expected
    beams = max(describer.settings.num_beams, 3)
    assert gpu.probes == [(describe_batch.PROBE_SIZES, beams, beams, describer.settings.max_new_tokens, 0.0)]
    engine = LocalDescribeEngine(describer)
    assert (engine.batch_size, engine.chunk) == (expected, max(512, expected))
    describer.describe([{"detections": [], "scene": {"class": "grass", "confidence": 0.9}}])
    assert gpu.batch_sizes == [expected] and len(gpu.probes) == 1, "generated at the auto batch, measured once"
    assert describer.auto_batch["budget_bytes"] == 8 * 2**30


def test_a_describers_auto_batch_on_the_cpu_is_the_cpus(model_dir):
    from helpers.describer.describe import Describer

    describer = Describer.load(model_dir, device="cpu", guard_workers=0)
    assert describer.generation_batch_size() == describe_batch.CPU_BATCH_SIZE
    assert describe_batch.planned_batch_size(0, on_gpu=True) == describe_batch.MAX_GPU_BATCH_SIZE
    assert describe_batch.planned_batch_size(0, on_gpu=False) == describe_batch.CPU_BATCH_SIZE
    assert describe_batch.planned_batch_size(48, on_gpu=True) == 48


def test_an_auto_batch_probe_that_runs_out_of_gpu_memory_takes_the_least(model_dir, monkeypatch, caplog):
    """On a GPU other work shares, measuring generation's memory may itself run out: the least batch,
    said, not a failed run (a batch that still does not fit is then generated in halves)."""
    import torch

    from helpers.describer.describe import Describer

    describer = Describer.load(model_dir, device="cpu", guard_workers=0)
    gpu = describer.backend = ScriptedGPU(describer.backend, 2 * 2**30, 2**20)

    def full(*args, **kwargs):
        gpu.probes.append(args)
        raise torch.cuda.OutOfMemoryError("CUDA out of memory (scripted)")

    monkeypatch.setattr(gpu, "peak_memory", full)
    monkeypatch.setattr(torch.cuda, "empty_cache", lambda: None)
    assert describer.generation_batch_size() == describe_batch.CPU_BATCH_SIZE and len(gpu.probes) == 1
    assert "ran out of GPU memory" in caplog.text
