"""`desclm check`: captions written anywhere, checked against their CV records (`helpers.text.check`).

    desclm check --input cv.jsonl --captions captions.jsonl --output verdicts.jsonl [--lexicon words.yaml]

Each caption line gets one output line, in order: {"id", "faithful", "findings"} (each finding
with its kind, category, the record's and the caption's value, and its characters), or {"id",
"error"} when the line cannot be read, has no caption, or no CV record has its id. A summary (how
many faithful, findings per kind) goes to `<output stem>.summary.json`. The CV records are joined
by their `id`, else their `image` (01's records), as `desclm describe` names its output lines.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from pathlib import Path

from helpers.core.contract import Policy
from helpers.core.io import atomic_write_text, write_jsonl
from helpers.core.logs import progress
from helpers.core.outputs import OutputLock, check_writes, lock_path
from helpers.core.records import read_lines
from helpers.text.check import FINDINGS, check_caption
from helpers.text.grammar import RecordError

logger = logging.getLogger(__name__)


def summary_path(output: Path) -> Path:
    return output.with_name(f"{output.stem}.summary.json")


def _records_by_id(path: Path) -> tuple[dict, Counter]:
    """The CV records by id (unreadable lines and repeated ids are counted, not joined)."""
    records, problems = {}, Counter()
    for line in read_lines(path):
        if line.error:
            problems["unreadable CV lines"] += 1
        elif json.dumps(line.id) in records:
            problems["repeated CV ids"] += 1
        else:
            records[json.dumps(line.id)] = line.record
    return records, problems


def check_file(
    input_path: Path,
    captions_path: Path,
    output_path: Path,
    caption_field: str = "caption",
    policy: Policy = Policy(),
    lexicon: dict | None = None,
) -> dict:
    """The command's work (see the module docstring); returns the summary it writes.

    Raises:
        ValueError: An output is one of the inputs, or another run is writing it.
    """
    summary_file = summary_path(output_path)
    check_writes([output_path, summary_file, lock_path(output_path)], [input_path, captions_path])
    with OutputLock(output_path):
        records, problems = _records_by_id(input_path)
        rows, kinds = [], Counter()
        for line in progress(read_lines(captions_path), desc="check", unit="caption"):
            try:
                if line.error:
                    raise RecordError(line.error)
                text = line.record.get(caption_field)
                if not isinstance(text, str):
                    raise RecordError(f"line {line.number}: no {caption_field!r} text")
                record = records.get(json.dumps(line.id))
                if record is None:
                    raise RecordError(f"line {line.number}: no CV record in {input_path.name} has id {line.id!r}")
                verdict = check_caption(record, text, policy, lexicon)
            except RecordError as error:
                rows.append({"id": line.id, "error": str(error)})
                continue
            kinds.update(finding.kind for finding in verdict.findings)
            rows.append({"id": line.id, **verdict.to_dict()})
        checked = [row for row in rows if "error" not in row]
        summary = {
            "captions": len(rows),
            "checked": len(checked),
            "faithful": sum(row["faithful"] for row in checked),
            "faithful_share": sum(row["faithful"] for row in checked) / len(checked) if checked else None,
            "errors": len(rows) - len(checked),
            "findings": {kind: kinds[kind] for kind in FINDINGS},
            "cv_records": len(records),
            "cv_problems": dict(problems),
        }
        write_jsonl(output_path, rows)
        atomic_write_text(summary_file, json.dumps(summary, indent=2) + "\n")
    return summary
