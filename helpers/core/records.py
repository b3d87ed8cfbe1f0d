"""Line-by-line record files for the commands that answer each input line (describe, synth).

The promises, for any input: one output line per input line, in order; every output line has an
id (the record's `id`, else its `image`, else the line number); a line that cannot be read (not
UTF-8, not JSON, not an object, blank, nested too deep, a number too long) becomes an error line
naming its number; every line written is valid JSON (`json_line`); the input is never
overwritten; the output appears complete or not at all, and a killed run resumes where it stopped.
Inputs are read once, front to back, so a pipe or standard input works too (without resuming).

Lines are split on "\\n" only: JSON strings may hold U+2028 or U+0085, which `str.splitlines`
would treat as line ends.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import stat
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import Any

from helpers.core.lines import count_lines, repair_last_line
from helpers.core.outputs import OutputLock, check_writes, lock_path, partial_paths


@dataclass(frozen=True)
class InputLine:
    """One input line: the record, or why it cannot be used, and the id its output line carries."""

    number: int
    record: dict | None
    error: str | None
    id: Any


def record_id(record: Any, number: int) -> Any:
    """The record's `id`, else its `image` (01's records), else the line number; JSON-safe (`json_safe`)."""
    if isinstance(record, dict):
        for key in ("id", "image"):
            if record.get(key) is not None:
                try:
                    return json_safe(record[key])
                except RecursionError:  # an id nested deeper than the writer goes: the line number stands in
                    return number
    return number


def json_safe(value: Any, non_finite_as_null: bool = False) -> Any:
    """`value` as JSON can hold it: NumPy scalars become numbers, paths text, and NaN and infinities
    "NaN", "Infinity", "-Infinity" (Python's JSON reads them, JSON does not), or None."""
    if isinstance(value, dict):
        return {str(key): json_safe(item, non_finite_as_null) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(item, non_finite_as_null) for item in value]
    if isinstance(value, Path):
        return str(value)
    if hasattr(value, "item") and callable(value.item) and not isinstance(value, str | bytes):
        value = value.item()  # NumPy / torch scalars
    if isinstance(value, float) and not math.isfinite(value):
        if non_finite_as_null:
            return None
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    return value


def json_line(row: Any) -> str:
    """One JSONL line (with its "\\n") that any JSON reader takes: non-finite numbers as text
    (`json_safe`), and a string holding a lone surrogate (an id read from "\\ud800", a file name
    in another encoding) written with \\u escapes, so the line is valid UTF-8 and reads back equal."""
    row = json_safe(row)
    text = json.dumps(row, ensure_ascii=False, allow_nan=False)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = json.dumps(row, ensure_ascii=True, allow_nan=False)
    return text + "\n"


def parse_line(raw: bytes) -> tuple[dict | None, str | None]:
    """The JSON object on one raw line (its line end stripped), or what is wrong with the line.

    Never raises for the line's content: invalid UTF-8 or JSON, nesting deeper than Python
    recurses, an integer longer than Python converts (4,300 digits), a byte-order mark.
    """
    raw = raw.rstrip(b"\r\n")
    if raw.startswith(b"\xef\xbb\xbf"):  # a byte-order mark (Windows and Excel exports): not content
        raw = raw[3:]
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
    except RecursionError:
        return None, "not readable JSON: nested deeper than this reader goes"
    except (ValueError, MemoryError) as error:  # e.g. an integer of more than 4,300 digits
        return None, f"not readable JSON: {' '.join(str(error).split())[:200]}"
    if not isinstance(record, dict):
        return None, f"expected a JSON object, got {type(record).__name__}"
    return record, None


STDIN_NAMES = ("-", "/dev/stdin")


def open_input(path: Path):
    """The input opened for reading bytes; "-" is standard input."""
    return open(0 if str(path) == "-" else path, "rb", closefd=str(path) != "-")


def input_line(number: int, raw: bytes) -> InputLine:
    """Line `number` of an input, read (`parse_line`): its record and id, or what is wrong with it."""
    record, problem = parse_line(raw)
    if problem:
        return InputLine(number, None, f"line {number}: {problem}", number)
    return InputLine(number, record, None, record_id(record, number))


def read_raw_lines(path: Path) -> Iterator[bytes]:
    """Every line of `path` (a file, a pipe, or "-" for standard input) as bytes, unread: the Ray
    engine sends them to its workers as they are, and each worker reads its own (`input_line`)."""
    with open_input(path) as file:
        yield from file  # binary lines end at b"\n" only


def chunks(numbered: Iterable[tuple[int, bytes]], size: int) -> Iterator[list[tuple[int, bytes]]]:
    """Numbered lines in lists of `size` (the last shorter), read only as far as the current one."""
    lines = iter(numbered)
    while chunk := list(islice(lines, size)):
        yield chunk


def read_lines(path: Path) -> Iterator[InputLine]:
    """Every line of `path` (a file, a pipe, or "-" for standard input), blank and broken ones included."""
    for number, raw in enumerate(read_raw_lines(path), start=1):
        yield input_line(number, raw)


def check_output(input_path: Path, output_path: Path) -> None:
    """Refuses, before any work, an output that is a folder or whose files (the output, its partial
    file, stamp and lock) would overwrite the input, also through links (`check_writes`).

    Raises:
        ValueError: Naming the output and the input.
    """
    check_writes([output_path, *partial_paths(output_path), lock_path(output_path)], [input_path])


class ResumableOutput:
    """An ordered JSONL output written beside its final path, resumable, renamed into place when done.

    A context manager: entering takes the output's lock (`helpers.core.outputs.OutputLock`: a second
    run on the same output refuses, naming this one), leaving releases it. Lines go to
    `.<name>.partial` (flushed after every `write`); `.<name>.partial.json` holds a stamp of the
    input and the settings. A rerun with the same stamp keeps the complete lines already written (a
    half-written last line is dropped) and reports how many through `done`.
    """

    def __init__(self, output_path: Path, stamp: dict, resume: bool = True) -> None:
        self.path = output_path
        self.partial, self.stamp_file = partial_paths(output_path)
        self.stamp = json.dumps(stamp, sort_keys=True, default=str)
        self.resume = resume
        self.done = 0
        self._lock = OutputLock(output_path)

    def __enter__(self) -> ResumableOutput:
        self._lock.__enter__()
        try:
            self.done = self._resumable_lines() if self.resume else 0
            if not self.done:
                self.partial.write_bytes(b"")
                self.stamp_file.write_text(self.stamp)
        except BaseException:
            self._lock.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, *exc) -> None:
        self._lock.__exit__(*exc)

    def _resumable_lines(self) -> int:
        if not (self.partial.is_file() and self.stamp_file.is_file()) or self.stamp_file.read_text() != self.stamp:
            return 0
        repair_last_line(self.partial)  # a half-written last line is dropped; 10^7 lines are not read for it
        return count_lines(self.partial)

    def write(self, rows: list[dict]) -> None:
        self.write_lines([json_line(row) for row in rows])

    def write_lines(self, lines: list[str]) -> None:
        """Appends lines already written as JSON (`json_line`), each ending in a newline."""
        try:
            with open(self.partial, "a", encoding="utf-8") as file:
                file.write("".join(lines))
                file.flush()
                os.fsync(file.fileno())
        except OSError as error:  # a full disk, a file size limit: say which file
            raise OSError(error.errno, f"writing {self.partial}: {error.strerror or error}") from error

    def finish(self) -> Path:
        os.replace(self.partial, self.path)
        self.stamp_file.unlink(missing_ok=True)
        return self.path


def is_stream(path: Path) -> bool:
    """A pipe, standard input or another input that can be read only once."""
    return str(path) in STDIN_NAMES or not stat.S_ISREG(os.stat(path).st_mode)


def file_stamp(path: Path) -> dict:
    """What identifies an input file's content for resuming: path, size, modification time, and a
    hash of its first and last 64 KiB; a stream (`is_stream`) only says so, and never resumes."""
    if is_stream(path):
        return {"path": str(path), "stream": True}
    info = path.stat()
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        digest.update(file.read(65536))
        file.seek(max(0, info.st_size - 65536))
        digest.update(file.read(65536))
    return {"path": str(path.resolve()), "size": info.st_size, "mtime_ns": info.st_mtime_ns, "hash": digest.hexdigest()}
