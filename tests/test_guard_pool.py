"""The guard off the critical path (issue 31, item 2): worker processes check the sentences while the
model writes the next batch, with the same results, in the same order, as the guard in this process."""

from __future__ import annotations

import os
import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pool_targets import Dying

from helpers.core.device import cpu_cores
from helpers.core.workers import WorkerPool
from helpers.describer.describe import Describer
from helpers.describer.guard import guard_workers
from helpers.text.synthetic import random_cv


@pytest.fixture(scope="module")
def describers(model_dir):
    """The same describer twice: the guard in this process, and on two worker processes."""
    serial = Describer.load(model_dir, device="cpu", guard_workers=0, num_captions=2)
    pooled = Describer.load(model_dir, device="cpu", guard_workers=2, num_captions=2)
    yield serial, pooled
    pooled.close()


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 10**6), count=st.integers(1, 40), batch_size=st.integers(1, 9))
def test_the_pool_gives_the_serial_guards_descriptions_in_order(describers, seed, count, batch_size):
    serial, pooled = describers
    rng = random.Random(seed)
    records = [random_cv(rng, max_detections=rng.choice([0, 3, 12])) for _ in range(count)]
    assert pooled.describe_detailed(records, batch_size) == serial.describe_detailed(records, batch_size)
    assert pooled._pool is not None, "the pooled describer checked on its workers"


def test_an_invalid_record_mid_batch_costs_its_own_line_with_the_pool(describers):
    serial, pooled = describers
    records = [random_cv(random.Random(index)) for index in range(12)]
    records[5] = {"detections": [{"label": "plastic", "confidence": "high"}], "scene": {"class": "grass"}}
    results = pooled.describe_all(records, batch_size=4)
    assert [index for index, result in enumerate(results) if result.error] == [5]
    assert "record 5" in results[5].error
    assert results == serial.describe_all(records, batch_size=4)


def test_auto_workers_are_every_core_but_one_on_a_gpu_and_none_on_the_cpu():
    assert guard_workers("auto", "cpu") == 0, "on the CPU generation uses the cores the workers would"
    assert guard_workers("auto", "cuda:0") == max(0, cpu_cores() - 1)
    assert guard_workers("3", "cpu") == 3 and guard_workers(0, "cuda") == 0
    for wrong in ("-1", "many", True, 1.5):
        with pytest.raises(ValueError, match="guard_workers must be 'auto' or a whole number"):
            guard_workers(wrong)


def test_a_worker_ignores_ctrl_c_which_the_parent_handles():
    """Ctrl-C reaches the whole process group: a worker must not die of it (or print a traceback)."""
    import os
    import signal
    import time

    from helpers.core.workers import WorkerPool

    pool = WorkerPool("a b", 1)  # any picklable object: str.split is the method called
    try:
        assert pool.submit("split").result() == ["a", "b"]  # the worker is up, its initializer run
        (worker,) = pool._pool._processes.values()
        os.kill(worker.pid, signal.SIGINT)
        time.sleep(0.5)
        assert worker.is_alive() and pool.submit("split").result() == ["a", "b"]
    finally:
        pool.close()


@pytest.mark.parametrize("once", [True, False])
def test_a_worker_that_ends_costs_no_result(tmp_path, caplog, once):
    """A worker that ended stopped `desclm check` and the guard's pool (BrokenProcessPool): now the
    workers start again and the calls the pool held run again; one that ends a worker every time runs
    in this process."""
    target = Dying(os.getpid(), fatal=5, once=str(tmp_path / "ended") if once else "")
    pool = WorkerPool(target, 2)
    try:
        results = list(pool.ordered("square", ((n,) for n in range(12)), ahead=4))
    finally:
        pool.close()
    assert results == [n * n for n in range(12)]
    assert "starting the workers again" in caplog.text and pool.starts >= 2
    assert ("ended a worker twice: doing it in this process" in caplog.text) is not once
