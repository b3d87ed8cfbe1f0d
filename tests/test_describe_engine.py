"""`desclm describe`'s engine with its Python on worker processes (issue 31): reading, validating,
linearising, guarding and writing each block run on `guard_workers` processes while the model
generates. The output must be the lines the describer's own `describe_all` gives block by block, in
order, whether the work runs on workers or in this process; a bad line costs that line only."""

from __future__ import annotations

import json
import multiprocessing
import os
import random
import signal
from pathlib import Path

import pytest
from conftest import SCRIPTED_SETTINGS as SETTINGS
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from helpers.core.records import chunks, input_line
from helpers.core.shards import shard_path, shard_range
from helpers.describer.backends import Backend
from helpers.describer.describe import Describer
from helpers.describer.guard import Guard
from helpers.describer.run import LocalDescribeEngine, describe_file, described_lines
from helpers.text.synthetic import random_cv

MARK = "kills-its-worker"  # tests/crashing_worker: a worker process parsing it ends
BAD_LINES = [
    b"",
    b'{"detections": [',  # cut off
    b"[1, 2]",
    json.dumps({"detections": [{"label": "plastic", "confidence": "high"}]}).encode(),
    b'{"detections": [], "note": "\xff"}',  # not UTF-8
]


def _lines(count: int, seed: int) -> list[bytes]:
    rng = random.Random(seed)
    lines = [
        json.dumps({"id": f"r{i}", **random_cv(rng, max_detections=rng.choice([0, 3, 8]))}).encode()
        for i in range(count)
    ]
    for position, bad in zip((1, 6, 7, 13, count - 1), BAD_LINES, strict=True):
        lines.insert(position, bad)
    return lines


def _block_by_block(
    describer: Describer, lines: list[bytes], batch_size: int, chunk: int, numbered: bool, first: int = 1
) -> list[str]:
    """What the describer's own `describe_all` gives, block by block (the engine before its workers);
    `first`: the first line's number."""
    numbered_lines = enumerate(lines, start=first)
    return [
        text
        for block in chunks(numbered_lines, chunk)
        for text in described_lines(describer, [input_line(n, raw) for n, raw in block], batch_size, numbered)
    ]


@pytest.fixture(scope="module")
def serial(model_dir):
    return Describer.load(model_dir, device="cpu", guard_workers=0, num_captions=2)


@pytest.fixture(scope="module")
def cv_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("engine") / "cv.jsonl"
    path.write_bytes(b"".join(line + b"\n" for line in _lines(24, seed=3)))
    return path


def test_workers_write_the_lines_this_process_writes(model_dir, serial, cv_file, tmp_path):
    pooled = Describer.load(model_dir, device="cpu", guard_workers=2, num_captions=2)
    lines = cv_file.read_bytes().split(b"\n")[:-1]
    for shards in (1, 2):  # the last shard's rows carry their input line
        outputs = []
        for describer in (serial, pooled):
            output = tmp_path / f"{len(outputs)}.jsonl"
            describe_file(describer, cv_file, output, batch_size=3, chunk=5, num_shards=shards, shard_index=shards - 1)
            outputs.append(shard_path(output, shards, shards - 1).read_text(encoding="utf-8"))
        assert outputs[1] == outputs[0]
        start, end = shard_range(len(lines), shards, shards - 1)
        shard = _block_by_block(serial, lines[start:end], 3, 5, shards > 1, first=start + 1)
        expected = [json.loads(text) for text in shard]
        rows = [json.loads(text) for text in outputs[0].splitlines()]
        assert rows == expected
        numbers = range(start + 1, end + 1)
        assert [n for n, row in zip(numbers, rows, strict=True) if "error" in row] == [
            n for n in (2, 7, 8, 14, 24) if n in numbers
        ], "the bad lines, and only them"
        assert all(len(row["captions"]) == 2 for row in rows if "error" not in row)


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    seed=st.integers(0, 10**6),
    count=st.integers(0, 30),
    batch_size=st.integers(1, 7),
    chunk=st.integers(1, 9),
    numbered=st.booleans(),
    garbage=st.lists(st.binary(max_size=20).filter(lambda raw: b"\n" not in raw), max_size=3),
)
def test_the_engine_gives_describe_alls_lines_block_by_block(serial, seed, count, batch_size, chunk, numbered, garbage):
    lines = (
        _lines(count, seed)
        if count > 13
        else [json.dumps(random_cv(random.Random(seed + i))).encode() for i in range(count)]
    )
    rng = random.Random(seed)
    for raw in garbage:
        lines.insert(rng.randint(0, len(lines)), raw)
    engine = LocalDescribeEngine(serial, batch_size, chunk)
    written = [text for block in engine.run(enumerate(lines, start=1), numbered) for text in block]
    assert written == _block_by_block(serial, lines, batch_size, chunk, numbered)


class ExplodingBackend(Backend):
    """Answers "Nothing." (the guard falls back to the grammar), but raises on any batch holding "boom"."""

    device = "cpu"

    def _batch(self, inputs, num_beams, num_hypotheses, max_new_tokens, batch_size, top_p=0.0, seed=0):
        if any("boom" in text for text in inputs):
            raise RuntimeError("the model exploded")
        return [["Nothing."] * num_hypotheses for _ in inputs]


def test_a_record_the_model_or_the_guard_fails_on_costs_its_line_only(tmp_path, monkeypatch):
    records = [{"id": f"r{i}", **random_cv(random.Random(i))} for i in range(9)]
    records[2]["detections"] = [{"label": "boom", "confidence": 0.9}]  # the model raises on its batch
    records[6]["detections"] = [{"label": "crash", "confidence": 0.9}]  # the guard raises on it
    source = tmp_path / "cv.jsonl"
    source.write_text("".join(json.dumps(record) + "\n" for record in records), encoding="utf-8")
    choose = Guard.choose

    def failing_choose(self, record, model_input, texts):
        if any(d["label"] == "crash" for d in record["detections"]):
            raise ValueError("the guard crashed")
        return choose(self, record, model_input, texts)

    monkeypatch.setattr(Guard, "choose", failing_choose)  # in this process: no workers
    for workers in (0, 2):
        describer = Describer(ExplodingBackend(), SETTINGS, guard_workers=workers)
        output = tmp_path / f"out{workers}.jsonl"
        describe_file(describer, source, output, batch_size=4, chunk=8)
        rows = [json.loads(line) for line in output.read_text(encoding="utf-8").splitlines()]
        assert [row["id"] for row in rows] == [record["id"] for record in records]
        failed = {row["id"]: row["error"] for row in rows if "error" in row}
        if workers == 0:
            assert failed == {
                "r2": "line 3: RuntimeError: the model exploded",
                "r6": "line 7: ValueError: the guard crashed",
            }
        else:  # the workers' guard is not patched: the model's failure only
            assert failed == {"r2": "line 3: RuntimeError: the model exploded"}
        assert all(row["source"] == "grammar" for row in rows if "error" not in row)


def test_a_line_that_ends_its_worker_costs_that_line_only(tmp_path, monkeypatch, caplog):
    """A worker process that ends mid-block (killed for memory, a native crash) stops no run: the
    workers start again, the blocks they held are done again alone, and the one line that ends a
    worker on its own too is an error line; every other line is what this process writes."""
    from helpers.describer.run import WORKER_LOST

    crashing = Path(__file__).parent / "crashing_worker"  # its sitecustomize ends a worker parsing MARK
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(crashing), os.environ.get("PYTHONPATH")])))
    records = [{"id": f"r{i}", **random_cv(random.Random(i))} for i in range(20)]
    records[11]["id"] = f"r11-{MARK}"
    source = tmp_path / "cv.jsonl"
    source.write_text("".join(json.dumps(record) + "\n" for record in records), encoding="utf-8")
    outputs = {}
    for workers in (0, 2):  # this process has no such sitecustomize: MARK ends no process here
        describer = Describer(ExplodingBackend(), SETTINGS, guard_workers=workers)
        outputs[workers] = tmp_path / f"out{workers}.jsonl"
        counts = describe_file(describer, source, outputs[workers], batch_size=4, chunk=4)
    here, on_workers = (outputs[n].read_text(encoding="utf-8").splitlines() for n in (0, 2))
    assert json.loads(on_workers[11]) == {"id": f"r11-{MARK}", "error": f"line 12: {WORKER_LOST}"}
    assert on_workers[:11] + on_workers[12:] == here[:11] + here[12:] and counts["error"] == 1
    assert "line 12 ends a worker on its own" in caplog.text


class KillingBackend(Backend):
    """Answers "Nothing.", and kills one worker process (as the kernel does a process for memory)
    while generating its second batch."""

    device = "cpu"

    def __init__(self) -> None:
        self.calls = 0

    def _batch(self, texts, beams, returned, max_new_tokens, batch_size, top_p=0.0, seed=0):
        self.calls += 1
        if self.calls == 2:
            os.kill(multiprocessing.active_children()[0].pid, signal.SIGKILL)
        return [["Nothing."] * returned for _ in texts]


def test_a_worker_killed_mid_run_costs_no_line(tmp_path, caplog):
    records = [{"id": f"r{i}", **random_cv(random.Random(i))} for i in range(24)]
    source = tmp_path / "cv.jsonl"
    source.write_text("".join(json.dumps(record) + "\n" for record in records), encoding="utf-8")
    here, on_workers = tmp_path / "here.jsonl", tmp_path / "workers.jsonl"
    describe_file(Describer(ExplodingBackend(), SETTINGS, guard_workers=0), source, here, batch_size=4, chunk=4)
    killing = KillingBackend()
    counts = describe_file(Describer(killing, SETTINGS, guard_workers=2), source, on_workers, batch_size=4, chunk=4)
    assert killing.calls == 6 and "starting the workers again" in caplog.text
    assert on_workers.read_bytes() == here.read_bytes() and counts["error"] == 0

    # the API (`desclm annotate`, Ray's describer actors): the workers start again and check the batches
    # they held again; nothing is generated again (each record was, alone, at batch 1)
    serial = Describer(ExplodingBackend(), SETTINGS, guard_workers=0).describe_all(records, 4)
    killing = KillingBackend()
    pooled = Describer(killing, SETTINGS, guard_workers=2)
    assert pooled.describe_all(records, 4) == serial and killing.calls == 6
    assert pooled.describe_all(records, 4) == serial and killing.calls == 12, "and the next call has workers"
    pooled.close()
