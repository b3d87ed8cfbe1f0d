"""Describing a JSONL file of CV records: one JSON line per input line out (`desclm describe`).

    desclm describe MODEL_DIR --input cv.jsonl --output out.jsonl [--backend hf|ct2] [--no_guard]
    desclm describe merge out.jsonl out.shard-*of4.jsonl    # after --num_shards 4 --shard_index 0..3

Each output line is {"id", "description", "source"} or {"id", "error"}; the id is the record's
`id`, else its `image`, else the line number. A line that cannot be described, for any reason
(unreadable, invalid, an exception in the model, guard or grammar, or a worker process it ends),
costs that line only; the exit status is then 1. The input is never overwritten, the output appears when complete, and a
killed run started again with the same input and settings resumes after the lines it wrote.
"""

from __future__ import annotations

import logging
import sys
from collections import Counter, deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import Protocol

from helpers.core.logs import progress
from helpers.core.outputs import check_writes
from helpers.core.records import (
    InputLine,
    ResumableOutput,
    check_output,
    chunks,
    file_stamp,
    input_line,
    is_stream,
    read_lines,
    read_raw_lines,
)
from helpers.core.shards import check_shard, manifest_path, shard_path, shard_range, write_manifest
from helpers.core.workers import WorkerPool
from helpers.describer.batch import AUTO_BATCH_SIZE
from helpers.describer.describe import Describer
from helpers.describer.lines import LineWork, Prepared, output_lines, output_row

logger = logging.getLogger(__name__)


def describe_block(describer: Describer, lines: list[InputLine], batch_size: int) -> list[dict]:
    """Output rows for a block of input lines; a failure costs its own line, never the block."""
    readable = [line for line in lines if line.error is None]
    described = describer.describe_all(
        [line.record for line in readable], batch_size, [f"line {n.number}" for n in readable]
    )
    results = {line.number: result for line, result in zip(readable, described, strict=True)}
    return [output_row(line, results.get(line.number), describer.num_captions) for line in lines]


def described_lines(describer: Describer, lines: list[InputLine], batch_size: int, numbered: bool) -> list[str]:
    """`describe_block`'s rows as output lines; `numbered`: each row with its input `line` (for shards)."""
    return output_lines(describe_block(describer, lines, batch_size), lines, numbered)


def describe_records(describer: Describer, record_lines: list[str], batch_size: int) -> list[str]:
    """Output lines for CV records given as JSON lines (a batch `desclm annotate` just extracted); ids
    are the records' `image`."""
    lines = [input_line(number, text.encode()) for number, text in enumerate(record_lines, start=1)]
    return described_lines(describer, lines, batch_size, numbered=False)


class DescribeEngine(Protocol):
    """Where the describer runs: `LocalDescribeEngine` (this process) or `helpers.engine` (Ray actors).

    `run` takes numbered raw input lines (an iterator, read from the file as it goes) and yields their
    output lines, in input order, one per line.
    """

    def run(self, numbered: Iterable[tuple[int, bytes]], with_line_numbers: bool) -> Iterator[list[str]]: ...


class LocalDescribeEngine:
    """The describer on this machine, `chunk` lines at a time (default: 512, or a generation batch if
    larger; `batch_size` 0: the describer's auto batch, measured here on a GPU).

    The model generates in this process; everything else (reading each line, validating and
    linearising its record, the guard, writing its output line: `helpers.describer.lines`) runs
    on the describer's `guard_workers` processes, blocks ahead of and behind the one generating,
    so that on a GPU the model does not wait for Python (issue 31). With no workers (the CPU's
    default) each block is read, generated and checked in turn, in this process. The same output
    lines either way, in input order.

    A worker process that ends mid-block (killed for memory, a crash in native code) stops no run:
    the pool is started again, and each block it held is done again alone, on a worker of its own;
    a block that ends that worker too is done line by line, and a line that ends it alone costs
    that line (`WORKER_LOST`), the lines around it described.
    """

    def __init__(self, describer: Describer, batch_size: int = AUTO_BATCH_SIZE, chunk: int | None = None) -> None:
        self.describer, self.batch_size = describer, describer.generation_batch_size(batch_size)
        self.chunk = chunk or max(512, self.batch_size)

    def run(self, numbered: Iterable[tuple[int, bytes]], with_line_numbers: bool) -> Iterator[list[str]]:
        describer = self.describer
        work = _Work(LineWork(describer.model_input, describer.checker, with_line_numbers), describer.guard_workers)
        ahead = 2 * describer.guard_workers
        preparing: deque[tuple[list, _Submitted]] = deque()  # blocks being read, oldest first
        finishing: deque[tuple[tuple, _Submitted]] = deque()  # blocks being checked (their arguments), oldest first

        def generate_oldest() -> None:
            block, future = preparing.popleft()
            prepared = work.result(future, "prepare", block)
            arguments = (block, prepared, self._generate(prepared.inputs))
            finishing.append((arguments, work.submit("finish", *arguments)))

        def finished() -> list[str]:
            arguments, future = finishing.popleft()
            return work.result(future, "finish", *arguments)

        try:
            for block in chunks(numbered, self.chunk):
                preparing.append((block, work.submit("prepare", block)))
                if len(preparing) > ahead:
                    generate_oldest()
                while finishing and (len(finishing) > ahead or finishing[0][1].done()):
                    yield finished()
            while preparing:
                generate_oldest()
            while finishing:
                yield finished()
        finally:
            work.close()

    def _generate(self, inputs: list[str | None]) -> list[list[str] | str | None]:
        """The model's sentences for each input (None where a line has none; an input whose
        generation fails alone, its error as text: `Describer.generated_batches`)."""
        positions = [index for index, text in enumerate(inputs) if text is not None]
        results: list[list[str] | str | None] = [None] * len(inputs)
        if positions:
            texts = [inputs[index] for index in positions]
            for indices, generated in self.describer.generated_batches(texts, self.batch_size):
                for index, hypotheses in zip(indices, generated, strict=True):
                    results[positions[index]] = hypotheses
        return results


WORKER_LOST = "its worker process ended while describing it (killed for memory, or a crash), with its block and alone"


class _Work:
    """`LineWork` on a `WorkerPool` that outlives its workers (see `LocalDescribeEngine`).

    Blocks given to `submit` run on the pool; `result` gives a block's result, and where its
    worker ended (`BrokenProcessPool`: every block the pool held fails so), starts the pool again
    and does the block alone, on a second pool of one worker, line by line if that worker ends
    too. Lines that end a worker alone are `lost`: later calls get an empty line in their place
    (nothing to read), and their output line says `WORKER_LOST`.
    """

    def __init__(self, line_work: LineWork, workers: int) -> None:
        self.line_work, self.workers = line_work, workers
        self.pool, self.alone = WorkerPool(line_work, workers), None
        self.lost: dict[int, bytes] = {}  # line number -> the raw line that ended a worker alone

    def submit(self, method: str, block: list, *rest) -> _Submitted:
        return _Submitted(self.pool.submit(method, self._safe(block), *rest), self.pool.starts)

    def result(self, submitted: _Submitted, method: str, block: list, *rest):
        """The block's `method` result, done again alone where its worker ended."""
        try:
            return self._spliced(method, block, submitted.future.result())
        except BrokenProcessPool:
            if submitted.start == self.pool.starts:  # the first of the ended pool's blocks asked for
                logger.warning("a worker process ended (killed for memory, or a crash): starting the workers again")
                self.pool.restart()
        return self._alone(method, block, *rest)

    def _alone(self, method: str, block: list, *rest):
        try:
            return self._spliced(method, block, self._on_own_worker(method, block, *rest))
        except BrokenProcessPool:
            logger.warning("lines %d-%d end a worker: describing them one by one", block[0][0], block[-1][0])
        parts = []
        for position, line in enumerate(block):
            one = () if method == "prepare" else _one(position, *rest)
            try:
                parts.append(self._on_own_worker(method, [line], *one))
            except BrokenProcessPool:
                logger.warning("line %d ends a worker on its own: written as an error line", line[0])
                self.lost[line[0]] = line[1]
                parts.append(None)
        if method == "prepare":
            prepared = [
                part or Prepared([None], [f"line {number}: {WORKER_LOST}"]) for part, (number, _) in zip(parts, block)
            ]
            return Prepared([p.inputs[0] for p in prepared], [p.errors[0] for p in prepared])
        return self._spliced(method, block, [part[0] if part else "" for part in parts])

    def _on_own_worker(self, method: str, block: list, *rest):
        """`method` on the one-worker pool (started again after a worker ends: the error is raised)."""
        if self.alone is None:
            self.alone = WorkerPool(self.line_work, 1)
        try:
            return self.alone.submit(method, self._safe(block), *rest).result()
        except BrokenProcessPool:
            self.alone.close()
            self.alone = None
            raise

    def _safe(self, block: list) -> list:
        """The block with an empty line for each line lost before."""
        return [(number, b"" if number in self.lost else raw) for number, raw in block] if self.lost else block

    def _spliced(self, method: str, block: list, result):
        """`finish`'s lines with each lost line's error line in its place (`prepare`'s result as is)."""
        if method != "finish" or not self.lost:
            return result
        numbered = self.line_work.numbered
        return [
            _lost_line(number, raw, numbered) if number in self.lost else text
            for (number, raw), text in zip(block, result, strict=True)
        ]

    def close(self) -> None:
        self.pool.close()
        if self.alone is not None:
            self.alone.close()


@dataclass(frozen=True)
class _Submitted:
    """A block given to the pool: its future, and which start of the pool's workers it went to."""

    future: Future
    start: int

    def done(self) -> bool:
        return self.future.done()


def _one(position: int, prepared: Prepared, hypotheses: list) -> tuple:
    """`finish`'s arguments for one line of a block."""
    return Prepared([prepared.inputs[position]], [prepared.errors[position]]), [hypotheses[position]]


def _lost_line(number: int, raw: bytes, numbered: bool) -> str:
    """The output line of a line that ended its worker alone."""
    line = input_line(number, raw)
    return output_lines([{"id": line.id, "error": f"line {number}: {WORKER_LOST}"}], [line], numbered)[0]


def describe_file(
    describer: Describer,
    input_path: Path,
    output_path: Path,
    batch_size: int = AUTO_BATCH_SIZE,
    chunk: int | None = None,
    num_shards: int = 1,
    shard_index: int = 0,
    engine: DescribeEngine | None = None,
) -> Counter:
    """The command's work (see the module docstring); returns counts per source and of errors.

    With `num_shards` > 1 only shard `shard_index`'s block of lines is described, into
    `<stem>.shard-KofN.jsonl` (see `helpers.core.shards`). `engine` runs the describer (default:
    `describer` on this machine, `LocalDescribeEngine`, `chunk` lines at a time); the settings
    recorded for resuming are `describer`'s either way.

    Raises:
        ValueError: The output would overwrite the input, or is a folder (checked before any work);
            `OutputBusyError` when another run is writing the same output.
    """
    check_shard(num_shards, shard_index)
    output_path = shard_path(output_path, num_shards, shard_index)
    check_output(input_path, output_path)
    if num_shards > 1:
        check_writes([manifest_path(output_path)], [input_path])
    settings = output_settings(describer)
    stamp = {"input": file_stamp(input_path), "settings": settings}
    # The lock comes first: a second run on this output refuses before it reads anything (or, on a
    # GPU, measures the auto batch's memory beside the first run).
    resumable = ResumableOutput(output_path, {**stamp, "shard": [shard_index, num_shards]}, not is_stream(input_path))
    with resumable as output:
        engine = engine or LocalDescribeEngine(describer, batch_size, chunk)
        # A file is read as it is described (a first pass counts its lines, for the shards and the progress
        # bar): memory stays flat for 10^7 records. A pipe or stdin can be read once only, so it is held.
        # Each line is parsed where it is described.
        if is_stream(input_path):
            held = list(read_raw_lines(input_path))
            total, read_again = len(held), lambda: iter(held)
        else:
            total, read_again = sum(1 for _ in read_raw_lines(input_path)), lambda: read_raw_lines(input_path)
        start, end = block_range = shard_range(total, num_shards, shard_index)
        if output.done:
            logger.info("resuming %s after %d of %d lines", output_path, output.done, end - start)
        todo = islice(enumerate(read_again(), start=1), start + output.done, end)
        with progress(total=end - start, initial=output.done, desc="describe", unit="record", file=sys.stderr) as bar:
            for block in engine.run(todo, num_shards > 1):
                output.write_lines(block)
                bar.update(len(block))
        output.finish()
        if num_shards > 1:
            write_manifest(output_path, stamp, num_shards, shard_index, block_range, total)
    return source_counts(output_path)


def output_settings(describer: Describer) -> dict:
    """What decides the describer's output lines: a resumed output must have been made with the same."""
    return {
        "model": describer.settings.to_dict(),
        "guard": describer.guard,
        "seed": describer.seed,
        "style": describer.style.tag,
        "top_p": describer.top_p,
        "num_captions": describer.num_captions,
    }


def source_counts(output_path: Path) -> Counter:
    """Lines of a describe output per source ("model", "rerank", "grammar", "unchecked") and errors."""
    counts: Counter = Counter()
    for line in read_lines(output_path):  # not str.splitlines: ids may hold U+0085 or U+2028
        counts["error" if "error" in line.record else line.record["source"]] += 1
    return counts
