"""`batch_size: 0` (auto) in training: the memory rule, the learning-rate rule, where each applies.
(The GPU memory probe itself runs only on a GPU: `desclm gpu-check --parts train`.)"""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

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
