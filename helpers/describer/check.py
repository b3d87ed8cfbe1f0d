"""`desclm check`: captions written anywhere, checked against their CV records (`helpers.text.check`).

    desclm check --input cv.jsonl --captions captions.jsonl --output verdicts.jsonl [--lexicon words.yaml]

Each caption line gets one output line, in order: {"id", "faithful", "findings"} (each finding
with its kind, category, the record's and the caption's value, and its characters), or {"id",
"error"} when the line cannot be read, has no caption, or no CV record has its id. A summary (how
many faithful, findings per kind) goes to `<output stem>.summary.json`. The CV records are joined
by their `id`, else their `image` (01's records), as `desclm describe` names its output lines.
Neither file is held in memory: the CV records' ids and where each line starts go to an SQLite table
in a temporary folder beside the output (removed after), and the verdicts are written as they come, so
10^7 captions check in flat memory, in any order against the records.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import tempfile
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

from helpers.core.contract import Policy
from helpers.core.io import atomic_write_text, write_jsonl
from helpers.core.logs import progress
from helpers.core.outputs import OutputLock, check_writes, lock_path
from helpers.core.records import InputLine, input_line, read_lines
from helpers.text.check import FINDINGS, check_caption
from helpers.text.grammar import RecordError

logger = logging.getLogger(__name__)


def summary_path(output: Path) -> Path:
    return output.with_name(f"{output.stem}.summary.json")


class _RecordIndex:
    """The CV records by id, not held in memory: one pass notes where each id's line starts (an SQLite
    table in a temporary folder beside the output, removed after), and each caption then reads its
    record with one seek, in any order, several captions per record or none. Unreadable lines and
    repeated ids are counted, not joined (a repeated id joins its first record)."""

    BATCH = 1_000  # ids inserted per statement

    def __init__(self, path: Path, scratch: Path) -> None:
        self.file, self.db = path.open("rb"), None
        try:
            self.db = sqlite3.connect(scratch / "ids.sqlite")
            self._index()
        except BaseException:  # a read error, an interrupt: nothing left open for the collector
            self.close()
            raise

    def _index(self) -> None:
        self.db.execute("CREATE TABLE ids (key TEXT PRIMARY KEY, offset INTEGER)")
        self.records, self.problems = 0, Counter()
        batch, offset = [], 0
        for number, raw in enumerate(self.file, start=1):
            line = input_line(number, raw)
            if line.error:
                self.problems["unreadable CV lines"] += 1
            else:
                batch.append((json.dumps(line.id), offset))
            offset += len(raw)
            if len(batch) == self.BATCH:
                self._insert(batch)
                batch = []
        self._insert(batch)

    def _insert(self, batch: list[tuple[str, int]]) -> None:
        before = self.db.total_changes
        self.db.executemany("INSERT OR IGNORE INTO ids VALUES (?, ?)", batch)
        added = self.db.total_changes - before
        self.records += added
        if len(batch) > added:
            self.problems["repeated CV ids"] += len(batch) - added

    def get(self, key: str) -> dict | None:
        found = self.db.execute("SELECT offset FROM ids WHERE key = ?", (key,)).fetchone()
        if found is None:
            return None
        self.file.seek(found[0])
        return input_line(0, self.file.readline()).record

    def close(self) -> None:
        if self.db is not None:
            self.db.close()
        self.file.close()


def _verdicts(
    lines: Iterator[InputLine], records: _RecordIndex, input_name: str, options: dict, tally: Counter, kinds: Counter
) -> Iterator[dict]:
    """One output row per caption line, counted as it goes (`tally`: checked, faithful, errors; `kinds`: findings)."""
    for line in lines:
        try:
            if line.error:
                raise RecordError(line.error)
            text = line.record.get(options["caption_field"])
            if not isinstance(text, str):
                raise RecordError(f"line {line.number}: no {options['caption_field']!r} text")
            record = records.get(json.dumps(line.id))
            if record is None:
                raise RecordError(f"line {line.number}: no CV record in {input_name} has id {line.id!r}")
            verdict = check_caption(record, text, options["policy"], options["lexicon"])
        except RecordError as error:
            tally["errors"] += 1
            yield {"id": line.id, "error": str(error)}
            continue
        kinds.update(finding.kind for finding in verdict.findings)
        tally["checked"] += 1
        tally["faithful"] += verdict.faithful
        yield {"id": line.id, **verdict.to_dict()}


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
    output_path.parent.mkdir(parents=True, exist_ok=True)  # the ids' scratch folder goes beside the output
    with OutputLock(output_path), tempfile.TemporaryDirectory(prefix=".check-", dir=output_path.parent) as scratch:
        records = _RecordIndex(input_path, Path(scratch))
        try:
            tally, kinds = Counter(), Counter()
            options = {"caption_field": caption_field, "policy": policy, "lexicon": lexicon}
            lines = progress(read_lines(captions_path), desc="check", unit="caption")
            write_jsonl(output_path, _verdicts(lines, records, input_path.name, options, tally, kinds))
        finally:
            records.close()
        checked = tally["checked"]
        summary = {
            "captions": checked + tally["errors"],
            "checked": checked,
            "faithful": tally["faithful"],
            "faithful_share": tally["faithful"] / checked if checked else None,
            "errors": tally["errors"],
            "findings": {kind: kinds[kind] for kind in FINDINGS},
            "cv_records": records.records,
            "cv_problems": dict(records.problems),
        }
        atomic_write_text(summary_file, json.dumps(summary, indent=2) + "\n")
    return summary
