"""Describing a JSONL file of CV records: one JSON line per input line out (`desclm describe`).

    desclm describe MODEL_DIR --input cv.jsonl --output out.jsonl [--backend hf|ct2] [--no_guard]
    desclm describe merge out.jsonl out.shard-*of4.jsonl    # after --num_shards 4 --shard_index 0..3

Each output line is {"id", "description", "source"} or {"id", "error"}; the id is the record's
`id`, else its `image`, else the line number. A line that cannot be described, for any reason
(unreadable, invalid, or an exception in the model, guard or grammar), costs that line only; the
exit status is then 1. The input is never overwritten, the output appears when complete, and a
killed run started again with the same input and settings resumes after the lines it wrote.
"""

from __future__ import annotations

import logging
import sys
from collections import Counter
from pathlib import Path

from helpers.core.logs import progress
from helpers.core.outputs import check_writes
from helpers.core.records import InputLine, ResumableOutput, check_output, file_stamp, is_stream, read_lines
from helpers.core.shards import check_shard, manifest_path, shard_path, shard_range, write_manifest
from helpers.describer.describe import Describer

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
        result = results.get(line.number)
        if result is None or result.error:
            rows.append({"id": line.id, "error": line.error if result is None else result.error})
        elif describer.num_captions > 1:
            captions = {"captions": list(result.captions), "caption_sources": list(result.caption_sources)}
            rows.append({"id": line.id, "description": result.text, "source": result.source, **captions})
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
    `<stem>.shard-KofN.jsonl` (see `helpers.core.shards`).

    Raises:
        ValueError: The output would overwrite the input, or is a folder (checked before any work);
            `OutputBusyError` when another run is writing the same output.
    """
    check_shard(num_shards, shard_index)
    output_path = shard_path(output_path, num_shards, shard_index)
    check_output(input_path, output_path)
    if num_shards > 1:
        check_writes([manifest_path(output_path)], [input_path])
    settings = {
        "model": describer.settings.to_dict(),
        "guard": describer.guard,
        "seed": describer.seed,
        "style": describer.style.tag,
        "top_p": describer.top_p,
        "num_captions": describer.num_captions,
    }
    stamp = {"input": file_stamp(input_path), "settings": settings}
    # The lock comes first: a second run on this output refuses before it reads anything.
    resumable = ResumableOutput(output_path, {**stamp, "shard": [shard_index, num_shards]}, not is_stream(input_path))
    with resumable as output:
        lines = list(read_lines(input_path))  # read once, front to back: a pipe or stdin works too
        total, block_range = len(lines), shard_range(len(lines), num_shards, shard_index)
        lines = lines[block_range[0] : block_range[1]]
        if output.done:
            logger.info("resuming %s after %d of %d lines", output_path, output.done, len(lines))
        with progress(total=len(lines), initial=output.done, desc="describe", unit="record", file=sys.stderr) as bar:
            for start in range(output.done, len(lines), chunk):
                block = lines[start : start + chunk]
                rows = _describe_block(describer, block, batch_size)
                if num_shards > 1:  # the merge puts rows back in input order by it
                    rows = [{**row, "line": line.number} for row, line in zip(rows, block, strict=True)]
                output.write(rows)
                bar.update(len(block))
        output.finish()
        if num_shards > 1:
            write_manifest(output_path, stamp, num_shards, shard_index, block_range, total)
    counts: Counter = Counter()
    for line in read_lines(output_path):  # not str.splitlines: ids may hold U+0085 or U+2028
        counts["error" if "error" in line.record else line.record["source"]] += 1
    return counts
