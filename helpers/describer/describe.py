"""The describer: CV output records in, one faithful English sentence each out.

    describer = Describer.load("models/description_llm", backend="ct2")
    describer.describe([{"detections": [...], "scene": {...}}])   # -> ["Two plastic items ..."]

    python -m helpers.describe MODEL_DIR --input cv.jsonl --output out.jsonl [--backend hf|ct2]

Input format, thresholds, beams and lengths come from the model's `llm_config.json`, so inference
matches training. The guard (on by default) reads each generated sentence back with the fact
extractor and compares it with the input's facts: the best beam that states them exactly is
used (`model` if it is the top one, `rerank` otherwise); if no beam does, the grammar writes the
sentence (`grammar`). With the guard off every result is `unchecked`.
"""

from __future__ import annotations

import json
import logging
import random
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from tqdm.auto import tqdm

from helpers.core.cli import config_parser
from helpers.core.contract import ContractError, ModelSettings, load_model_settings
from helpers.core.device import cpu_cores
from helpers.core.io import atomic_write_text
from helpers.core.paths import require_file, resolve
from helpers.describer.backends import BACKENDS, load_backend
from helpers.text.facts import extract
from helpers.text.grammar import Facts, RecordError, describe, facts, validate_record
from helpers.text.linearize import from_model_text, linearize

logger = logging.getLogger(__name__)
SOURCES = ("model", "rerank", "grammar", "unchecked")


@dataclass(frozen=True)
class Description:
    """One result with how it was made."""

    text: str
    source: str  # one of SOURCES
    expected: Facts  # what the input says (after the thresholds)
    said: Facts  # what the text says, read back by the fact extractor
    hypotheses: tuple[str, ...]  # the model's beams, best first

    @property
    def faithful(self) -> bool:
        return self.said == self.expected


def _said(text: str, record: dict) -> Facts:
    return extract(text, [d["label"] for d in record["detections"]]).facts()


class Describer:
    """A trained describer folder behind one call; see the module docstring."""

    def __init__(self, backend, settings: ModelSettings, guard: bool = True, seed: int = 0) -> None:
        self.backend = backend
        self.settings = settings
        self.guard = guard
        self.seed = seed
        self.policy = settings.policy

    @classmethod
    def load(
        cls,
        model_dir: str | Path,
        backend: str = "hf",
        device: str = "auto",
        guard: bool = True,
        seed: int = 0,
        compute_type: str = "default",
        intra_threads: int = 0,
        inter_threads: int = 1,
    ) -> Describer:
        """Loads a folder written by notebook 03 (and, for `ct2`, exported by `helpers.describer.export_ct2`).

        Args:
            model_dir: The model folder (with llm_config.json).
            backend: "hf" (transformers) or "ct2" (CTranslate2).
            device: "auto", "cpu" or "cuda".
            guard: Check every sentence against the input and repair it (see module docstring).
            seed: Seed of the grammar's wording when it writes a fallback sentence.
            compute_type: CTranslate2 only: "default" (as exported), "int8", "float32", ...
            intra_threads: CTranslate2 only: threads per request (0: CTranslate2's default).
            inter_threads: CTranslate2 only: requests run in parallel.
        """
        folder = require_file(resolve(model_dir), "Describer model folder", hint="train one with notebook 03")
        settings = load_model_settings(folder)
        options = (
            {"compute_type": compute_type, "intra_threads": intra_threads, "inter_threads": inter_threads}
            if backend == "ct2"
            else {}
        )
        return cls(load_backend(folder, backend, settings.max_source_length, device, **options), settings, guard, seed)

    def inputs(self, records: list[dict]) -> list[str]:
        """Model inputs of valid records; raises RecordError naming the record and field."""
        for index, record in enumerate(records):
            validate_record(
                record,
                f"record {index}" + (f" (id {record['id']!r})" if isinstance(record, dict) and "id" in record else ""),
            )
        return [linearize(r, self.settings.input_format, self.policy) for r in records]

    def describe_detailed(
        self, records: list[dict], batch_size: int = 32, num_beams: int | None = None
    ) -> list[Description]:
        """A `Description` per record, in order.

        Raises:
            RecordError: A record is invalid (nothing is generated then).
        """
        inputs = self.inputs(records)
        beams = num_beams or self.settings.num_beams
        hypotheses = self.backend.hypotheses(
            inputs, beams, self.settings.max_new_tokens, batch_size, num_hypotheses=beams if self.guard else 1
        )
        fmt = self.settings.input_format
        return [
            self._choose(record, model_input, [from_model_text(text, record, fmt, self.policy) for text in texts])
            for record, model_input, texts in zip(records, inputs, hypotheses, strict=True)
        ]

    def describe(self, records: list[dict], batch_size: int = 32) -> list[str]:
        """One sentence per record, in order (see `describe_detailed`)."""
        return [d.text for d in self.describe_detailed(records, batch_size)]

    def _choose(self, record: dict, model_input: str, texts: list[str]) -> Description:
        expected = facts(record, self.policy)
        if not self.guard:
            return Description(texts[0], "unchecked", expected, _said(texts[0], record), tuple(texts))
        for rank, text in enumerate(texts):
            said = _said(text, record)
            if said == expected:
                return Description(text, "model" if rank == 0 else "rerank", expected, said, tuple(texts))
        # Same record, same wording: the fallback's randomness is seeded by the input itself.
        text = describe(record, random.Random(f"{self.seed}:{model_input}"), self.policy)
        return Description(text, "grammar", expected, _said(text, record), tuple(texts))


def _parse(line: str, number: int) -> tuple[object, dict | str]:
    """(id, record) for a valid line, (id or None, error message) for an invalid one."""
    if not line.strip():
        return None, f"line {number}: empty line"
    try:
        record = json.loads(line)
    except json.JSONDecodeError as error:
        return None, f"line {number}: not valid JSON ({error.msg} at column {error.colno})"
    record_id = record.get("id") if isinstance(record, dict) else None
    try:
        validate_record(record, f"line {number}")
    except RecordError as error:
        return record_id, str(error)
    return record_id, record


def describe_file(
    describer: Describer, input_path: Path, output_path: Path, batch_size: int = 32, chunk: int = 512
) -> Counter:
    """The CLI's work: one output line per input line, in order; returns counts per source and of errors.

    An invalid line gives {"id", "error"} and the others go on; the output is written atomically.
    """
    lines = input_path.read_text().splitlines()
    results: list[dict] = []
    counts: Counter = Counter()
    with tqdm(
        total=len(lines), desc="describe", unit="record", file=sys.stderr, disable=len(lines) < 2 * chunk
    ) as progress:
        for start in range(0, len(lines), chunk):
            parsed = [_parse(line, number) for number, line in enumerate(lines[start : start + chunk], start + 1)]
            good = [record for _, record in parsed if isinstance(record, dict)]
            described = iter(describer.describe_detailed(good, batch_size) if good else [])
            for record_id, record in parsed:
                if isinstance(record, str):
                    results.append({"id": record_id, "error": record})
                    counts["error"] += 1
                else:
                    result = next(described)
                    results.append({"id": record_id, "description": result.text, "source": result.source})
                    counts[result.source] += 1
            progress.update(len(parsed))
    atomic_write_text(output_path, "".join(json.dumps(r) + "\n" for r in results))
    return counts


@dataclass
class DescribeOptions:
    """The describe command's settings."""

    model_dir: str  # trained describer folder (notebook 03's output)
    input: str  # CV output records, one JSON object per line
    output: str  # JSONL to write: {"id", "description", "source"} or {"id", "error"} per input line
    backend: str = "hf"  # hf (transformers) or ct2 (CTranslate2; run python -m helpers.export_ct2 first)
    batch_size: int = 32  # records per generation batch
    guard: bool = True  # check every sentence against its record and repair it (--no-guard: the top beam as is)
    device: str = "auto"  # auto (CUDA when available), cpu or cuda
    compute_type: str = "default"  # ct2 only: default (as exported), int8, float32, ...

    def __post_init__(self) -> None:
        if self.backend not in BACKENDS:
            raise ValueError(f"backend must be one of {list(BACKENDS)}, got {self.backend!r}")
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {self.batch_size}")


def main(argv: list[str] | None = None) -> int:
    parser = config_parser(
        DescribeOptions,
        prog="python -m helpers.describe",
        description="Describe CV output records (JSONL) in one sentence each.",
        positional=("model_dir",),
    )
    options, _ = parser.parse_config(argv)
    output_path = resolve(options.output)
    try:
        input_path = require_file(options.input, "Input records")  # before the model loads: fail fast
        describer = Describer.load(
            options.model_dir,
            options.backend,
            options.device,
            guard=options.guard,
            compute_type=options.compute_type,
            inter_threads=cpu_cores(),
        )
    except (FileNotFoundError, ContractError) as error:
        parser.error(str(error))
    counts = describe_file(describer, input_path, output_path, options.batch_size)
    logger.info("described %s -> %s: %s", input_path, output_path, json.dumps(dict(counts)))
    if counts["error"]:
        logger.warning("%d line(s) could not be described; see their 'error' entries", counts["error"])
    return 1 if counts["error"] else 0


if __name__ == "__main__":
    raise SystemExit(main())
