"""Line-by-line record files for the commands that answer each input line (describe, synth).

The promises, for any input: one output line per input line, in order; every output line has an
id (the record's `id`, else its `image`, else the line number); a line that cannot be read (not
UTF-8, not JSON, not an object, blank) becomes an error line naming its number; the input is never
overwritten; the output appears complete or not at all, and a killed run resumes where it stopped.

Lines are split on "\\n" only: JSON strings may hold U+2028 or U+0085, which `str.splitlines`
would treat as line ends.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class InputLine:
    """One input line: the record, or why it cannot be used, and the id its output line carries."""

    number: int
    record: dict | None
    error: str | None
    id: Any


def record_id(record: Any, number: int) -> Any:
    """The record's `id`, else its `image` (01's records), else the line number."""
    if isinstance(record, dict):
        for key in ("id", "image"):
            if record.get(key) is not None:
                return record[key]
    return number


def parse_line(raw: bytes) -> tuple[dict | None, str | None]:
    """The JSON object on one raw line (its line end stripped), or what is wrong with the line."""
    raw = raw.rstrip(b"\r\n")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        return None, f"not valid UTF-8 (byte 0x{raw[error.start : error.start + 1].hex()} at {error.start})"
    if not text.strip():
        return None, "empty line"
    try:
        record = json.loads(text)
    except json.JSONDecodeError as error:
        return None, f"not valid JSON ({error.msg} at column {error.colno})"
    if not isinstance(record, dict):
        return None, f"expected a JSON object, got {type(record).__name__}"
    return record, None


def read_lines(path: Path) -> Iterator[InputLine]:
    """Every line of `path`, blank and broken ones included, as `InputLine`s."""
    with open(path, "rb") as file:
        for number, raw in enumerate(file, start=1):  # binary lines end at b"\n" only
            record, problem = parse_line(raw)
            if problem:
                yield InputLine(number, None, f"line {number}: {problem}", number)
            else:
                yield InputLine(number, record, None, record_id(record, number))


def check_output(input_path: Path, output_path: Path) -> None:
    """Refuses, before any work, an output that would overwrite the input or is a folder.

    Raises:
        ValueError: The output is the input (also through links), or an existing folder.
    """
    if output_path.is_dir():
        raise ValueError(f"output {output_path} is a folder; give a file path")
    same = output_path.exists() and os.path.samefile(input_path, output_path)
    if same or input_path.resolve() == output_path.resolve():
        raise ValueError(f"output {output_path} is the input file; the input is never overwritten")


class ResumableOutput:
    """An ordered JSONL output written beside its final path, resumable, renamed into place when done.

    Lines go to `.<name>.partial` (flushed after every `write`); `.<name>.partial.json` holds a stamp
    of the input and the settings. A rerun with the same stamp keeps the complete lines already
    written (a half-written last line is dropped) and reports how many through `done`.
    """

    def __init__(self, output_path: Path, stamp: dict, resume: bool = True) -> None:
        self.path = output_path
        self.partial = output_path.with_name(f".{output_path.name}.partial")
        self.stamp_file = output_path.with_name(f".{output_path.name}.partial.json")
        self.stamp = json.dumps(stamp, sort_keys=True, default=str)
        self.done = self._resumable_lines() if resume else 0
        if not self.done:
            output_path.parent.mkdir(parents=True, exist_ok=True)
            self.partial.write_bytes(b"")
            self.stamp_file.write_text(self.stamp)

    def _resumable_lines(self) -> int:
        if not (self.partial.is_file() and self.stamp_file.is_file()) or self.stamp_file.read_text() != self.stamp:
            return 0
        data = self.partial.read_bytes()
        complete = data[: data.rfind(b"\n") + 1]  # a half-written last line is dropped
        if len(complete) != len(data):
            self.partial.write_bytes(complete)
        return complete.count(b"\n")

    def write(self, rows: list[dict]) -> None:
        with open(self.partial, "a", encoding="utf-8") as file:
            file.write("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows))
            file.flush()
            os.fsync(file.fileno())

    def finish(self) -> Path:
        os.replace(self.partial, self.path)
        self.stamp_file.unlink(missing_ok=True)
        return self.path


def file_stamp(path: Path) -> dict:
    """What identifies an input file's content for resuming: path, size, modification time, and a
    hash of its first and last 64 KiB."""
    stat = path.stat()
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        digest.update(file.read(65536))
        file.seek(max(0, stat.st_size - 65536))
        digest.update(file.read(65536))
    return {"path": str(path.resolve()), "size": stat.st_size, "mtime_ns": stat.st_mtime_ns, "hash": digest.hexdigest()}
