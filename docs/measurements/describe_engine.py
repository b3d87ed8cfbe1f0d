"""`desclm describe`'s file path: how fast the Python around the model lets it go (issue 31).

    python docs/measurements/describe_engine.py --out docs/measurements/describe_engine_demo_cpu.json

The model's sentences for the same generated records (`benchmark_records`) are generated once with
make demo's describer; then the file is described with generation *replayed* (a backend that looks
the sentences up: a model that costs nothing, an infinitely fast GPU), so what is timed is everything
else: reading lines, validating, linearising, the guard, writing. Side by side in one run, after a
warm-up, best of `--repeats`:

- before: each block through the describer's `describe_all` (what `LocalDescribeEngine` did before
  its workers), with the guard in this process and on `--workers` processes (`GuardPool`);
- after: `LocalDescribeEngine` with no workers and with `--workers`.

Each row gives records/s (each run starting its workers, as each command does: about 2 s here, the
text layer's imports) and this process's CPU time per record (time.process_time: what the process
driving the GPU spends; 10^6 / that is the most records/s its Python allows). Every way must
write the same lines, or the measurement fails. Then both engines with the real model, no workers,
on `--real_records` records, alternating, best of `--repeats`: the CPU's own path, before and after.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import tempfile
import time
from pathlib import Path

from helpers.core.records import chunks, input_line
from helpers.describer.backends import Backend
from helpers.describer.bench import benchmark_records
from helpers.describer.describe import Describer
from helpers.describer.run import LocalDescribeEngine, describe_file, described_lines

REPLAYED: dict[str, list[str]] = {}  # model input -> the model's sentences


class ReplayBackend(Backend):
    """The model's sentences, looked up: generation that costs nothing."""

    name, device = "replay", "cpu"

    def _batch(self, texts, beams, returned, max_new_tokens, batch_size, top_p=0.0, seed=0):
        return [REPLAYED[text][:returned] for text in texts]


class BlockByBlockEngine:
    """The engine before its workers: each block through `describe_all` (`described_lines`)."""

    def __init__(self, describer: Describer, batch_size: int, chunk: int) -> None:
        self.describer, self.batch_size, self.chunk = describer, batch_size, chunk

    def run(self, numbered, with_line_numbers):
        for chunk in chunks(numbered, self.chunk):
            block = [input_line(number, raw) for number, raw in chunk]
            yield described_lines(self.describer, block, self.batch_size, with_line_numbers)


def _time(describer: Describer, engine, source: Path, output: Path, batch_size: int) -> tuple[float, float, str]:
    output.unlink(missing_ok=True)
    wall, cpu = time.perf_counter(), time.process_time()
    describe_file(describer, source, output, batch_size, engine=engine)
    return time.perf_counter() - wall, time.process_time() - cpu, output.read_text(encoding="utf-8")


def measure(
    model: str, records: int, copies: int, batch_size: int, workers: int, repeats: int, real: int, real_batch: int
) -> dict:
    loaded = Describer.load(model, device="cpu", guard_workers=0)
    cv = benchmark_records(records)
    inputs = loaded.inputs(cv)
    REPLAYED.update(zip(inputs, loaded.generate(inputs, 64), strict=True))
    chunk = max(512, batch_size)
    rows, outputs = [], {}
    with tempfile.TemporaryDirectory() as work:
        source = Path(work) / "cv.jsonl"
        source.write_text("".join(json.dumps(record) + "\n" for record in cv) * copies, encoding="utf-8")
        ways = {}
        for pool in (0, workers):
            replayed = Describer(ReplayBackend(), loaded.settings, guard_workers=pool)
            ways[f"before, {pool} workers"] = (replayed, BlockByBlockEngine(replayed, batch_size, chunk))
            ways[f"after, {pool} workers"] = (replayed, LocalDescribeEngine(replayed, batch_size, chunk))
        best = {name: (float("inf"), 0.0) for name in ways}
        for _ in range(repeats + 1):  # the first round warms this process's caches up
            for name, (describer, engine) in ways.items():
                wall, cpu, outputs[name] = _time(describer, engine, source, Path(work) / "out.jsonl", batch_size)
                describer.close()  # each run starts its workers, as each command does
                best[name] = min(best[name], (wall, cpu))
        if len(set(outputs.values())) != 1:
            raise RuntimeError("the ways wrote different lines")
        lines = records * copies
        for name, (wall, cpu) in best.items():
            rows.append(
                {
                    "way": name,
                    "records_per_second": lines / wall,
                    "main_process_cpu_us_per_record": 1e6 * cpu / lines,
                    "python_ceiling_records_per_second": lines / cpu,
                }
            )
        source.write_text("".join(json.dumps(record) + "\n" for record in cv[:real]), encoding="utf-8")
        engines = {"before": BlockByBlockEngine(loaded, real_batch, 512), "after": None}
        real_best, real_outputs = dict.fromkeys(engines, float("inf")), {}
        for _ in range(repeats):  # alternating, best of each
            for name, engine in engines.items():
                wall, _, real_outputs[name] = _time(loaded, engine, source, Path(work) / "real.jsonl", real_batch)
                real_best[name] = min(real_best[name], wall)
        if len(set(real_outputs.values())) != 1:
            raise RuntimeError("the engines wrote different lines with the model")
        real_rows = [
            {"way": f"{name}, 0 workers, the model generating", "records_per_second": real / wall}
            for name, wall in real_best.items()
        ]
    try:  # a copy of the checkout without git (the GPU machine's) records none
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    except OSError:
        commit = ""
    return {
        "what": f"desclm describe's file path with generation replayed (costs nothing), this CPU "
        f"({os.cpu_count()} cores); then with the model generating",
        "commit": commit,
        "model": model,
        "records": records * copies,
        "batch_size": batch_size,
        "repeats": repeats,
        "replayed": rows,
        "real_records": real,
        "real_batch_size": real_batch,
        "real": real_rows,
        "same_lines": True,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="models/description_llm")
    parser.add_argument("--records", type=int, default=2048, help="distinct records (generated once)")
    parser.add_argument("--copies", type=int, default=4, help="the file holds the records this many times")
    parser.add_argument("--batch_size", type=int, default=1024)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--real_records", type=int, default=512)
    parser.add_argument("--real_batch_size", type=int, default=64)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    result = measure(
        args.model,
        args.records,
        args.copies,
        args.batch_size,
        args.workers,
        args.repeats,
        args.real_records,
        args.real_batch_size,
    )
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
