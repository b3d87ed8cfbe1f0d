"""The describe command: a JSONL file of CV records in, one JSON line per input line out.

    python -m helpers.describe MODEL_DIR --input cv.jsonl --output out.jsonl [--backend hf|ct2] [--no-guard]
    python -m helpers.describe merge out.jsonl out.shard-*of4.jsonl    # after --num-shards 4 --shard-index 0..3

Each output line is {"id", "description", "source"} or {"id", "error"}; the id is the record's
`id`, else its `image`, else the line number. A line that cannot be described, for any reason
(unreadable, invalid, or an exception in the model, guard or grammar), costs that line only; the
exit status is then 1. The input is never overwritten, the output appears when complete, and a
killed run started again with the same input and settings resumes after the lines it wrote.
"""

from __future__ import annotations

import json
import logging
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from tqdm.auto import tqdm

from helpers.core.cli import config_parser, merge_arguments
from helpers.core.contract import ContractError
from helpers.core.cuda_libs import CudaLibraryError
from helpers.core.device import cpu_cores
from helpers.core.paths import require_file, resolve
from helpers.core.records import InputLine, ResumableOutput, check_output, file_stamp, read_lines
from helpers.describer.backends import BACKENDS
from helpers.describer.describe import Describer
from helpers.describer.shards import check_shard, merge_described, shard_path, shard_range, write_manifest

logger = logging.getLogger(__name__)


def _describe_block(describer: Describer, lines: list[InputLine], batch_size: int) -> list[dict]:
    """Output rows for a block of input lines; a failure costs its own line, never the block."""
    readable = [line for line in lines if line.error is None]
    described = describer.describe_all(
        [line.record for line in readable], batch_size, [f"line {n.number}" for n in readable]
    )
    results = {line.number: result for line, result in zip(readable, described, strict=True)}
    rows = []
    for line in lines:
        result = results.get(line.number, line.error)
        if isinstance(result, str):
            rows.append({"id": line.id, "error": result})
        else:
            rows.append({"id": line.id, "description": result.text, "source": result.source})
    return rows


def describe_file(
    describer: Describer,
    input_path: Path,
    output_path: Path,
    batch_size: int = 32,
    chunk: int = 512,
    num_shards: int = 1,
    shard_index: int = 0,
) -> Counter:
    """The command's work (see the module docstring); returns counts per source and of errors.

    With `num_shards` > 1 only shard `shard_index`'s block of lines is described, into
    `<stem>.shard-KofN.jsonl` (see `helpers.describer.shards`).

    Raises:
        ValueError: The output would overwrite the input, or is a folder (checked before any work).
    """
    check_shard(num_shards, shard_index)
    output_path = shard_path(output_path, num_shards, shard_index)
    check_output(input_path, output_path)
    settings = {
        "model": describer.settings.to_dict(),
        "guard": describer.guard,
        "seed": describer.seed,
        "style": describer.style.tag,
        "top_p": describer.top_p,
    }
    stamp = {"input": file_stamp(input_path), "settings": settings}
    output = ResumableOutput(output_path, {**stamp, "shard": [shard_index, num_shards]})
    lines = list(read_lines(input_path))
    total, block_range = len(lines), shard_range(len(lines), num_shards, shard_index)
    lines = lines[block_range[0] : block_range[1]]
    if output.done:
        logger.info("resuming %s after %d of %d lines", output_path, output.done, len(lines))
    with tqdm(total=len(lines), initial=output.done, desc="describe", unit="record", file=sys.stderr,
              disable=len(lines) < 2 * chunk) as progress:  # fmt: skip
        for start in range(output.done, len(lines), chunk):
            block = lines[start : start + chunk]
            rows = _describe_block(describer, block, batch_size)
            if num_shards > 1:  # the merge puts rows back in input order by it
                rows = [{**row, "line": line.number} for row, line in zip(rows, block, strict=True)]
            output.write(rows)
            progress.update(len(block))
    output.finish()
    if num_shards > 1:
        write_manifest(output_path, stamp, num_shards, shard_index, block_range, total)
    counts: Counter = Counter()
    for line in read_lines(output_path):  # not str.splitlines: ids may hold U+0085 or U+2028
        counts["error" if "error" in line.record else line.record["source"]] += 1
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
    num_shards: int = 1  # split the input's lines into this many contiguous shards ...
    shard_index: int = 0  # ... and describe this one into <stem>.shard-KofN.jsonl (merge: describe merge OUT SHARDS)
    compute_type: str = "default"  # ct2 only: default (as exported), int8, float32; GPU: float16, int8_float16, ...
    dtype: str = "float32"  # hf only: float32, float16 or bfloat16 (half precision on a GPU)
    style: str = ""  # wording, e.g. "plain words" or "varied digits": one the model learned ("": its default)
    top_p: float = 0.0  # 0: beam search; above 0: nucleus sampling (more varied wording, still guarded)

    def __post_init__(self) -> None:
        if self.backend not in BACKENDS:
            raise ValueError(f"backend must be one of {list(BACKENDS)}, got {self.backend!r}")
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {self.batch_size}")
        check_shard(self.num_shards, self.shard_index)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["merge"]:
        merge, args = merge_arguments(
            argv[1:], "python -m helpers.describe merge", "shard outputs (<stem>.shard-KofN.jsonl)"
        )
        try:
            logger.info("merged: %s", json.dumps(merge_described(args.shards, args.output)))
        except (FileNotFoundError, ValueError) as error:
            merge.error(str(error))
        return 0
    parser = config_parser(
        DescribeOptions,
        prog="python -m helpers.describe",
        description="Describe CV output records (JSONL) in one sentence each.",
        positional=("model_dir",),
    )
    options, _ = parser.parse_config(argv)
    output_path = resolve(options.output)
    try:  # everything that can be checked is checked before the model loads
        input_path = require_file(options.input, "Input records")
        check_output(input_path, shard_path(output_path, options.num_shards, options.shard_index))
        describer = Describer.load(
            options.model_dir,
            options.backend,
            options.device,
            guard=options.guard,
            compute_type=options.compute_type,
            inter_threads=cpu_cores(),
            dtype=options.dtype,
            style=options.style or None,
            top_p=options.top_p,
        )
    except (FileNotFoundError, ContractError, ValueError, CudaLibraryError) as error:
        parser.error(str(error))
    counts = describe_file(
        describer, input_path, output_path, options.batch_size, num_shards=options.num_shards,
        shard_index=options.shard_index,
    )  # fmt: skip
    logger.info("described %s -> %s: %s", input_path, output_path, json.dumps(dict(counts)))
    if counts["error"]:
        logger.warning("%d line(s) could not be described; see their 'error' entries", counts["error"])
    return 1 if counts["error"] else 0


if __name__ == "__main__":
    raise SystemExit(main())
