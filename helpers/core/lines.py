"""Line files (JSONL) at 10^7 lines, without reading them whole:

- `repair_last_line`: a killed run's half-written last line cut, reading only the file's end;
- `count_lines`: lines counted a chunk at a time;
- `LineIndex`: lines of one or more files found by key: where each line starts goes to an SQLite
  table in a scratch folder, and a line is read back with one seek.

    index = LineIndex(scratch)
    added = index.add(Path("cv.jsonl"), key_of)   # key_of(number, raw line) -> key, or None to skip it
    index.get(key)                                # the line's bytes, or None
    index.in_key_order()                          # every line, keys sorted (as Python sorts them)

10^7 records' lines cost their keys on disk, not their text in memory: `desclm check` joins captions
to records through it, `desclm extract merge` sorts shards' records with it. A key seen again keeps
its first line (`Added.repeated` counts the others and names a few).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path


def repair_last_line(output: Path, tail: int = 1 << 16) -> bool:
    """Truncates a half-written last line (a run killed mid-line), reading only the file's end, a
    `tail` of bytes at a time: an output of 10^7 records is not read for it. Returns whether it did."""
    size = output.stat().st_size
    with open(output, "r+b") as handle:
        handle.seek(max(0, size - 1))
        if size == 0 or handle.read(1) == b"\n":
            return False
        end = size
        while end > 0:
            start = max(0, end - tail)
            handle.seek(start)
            newline = handle.read(end - start).rfind(b"\n")
            if newline >= 0:
                handle.truncate(start + newline + 1)
                return True
            end = start
        handle.truncate(0)
        return True


def count_lines(path: Path, chunk: int = 1 << 20) -> int:
    """The number of newline characters in `path`, read a chunk at a time."""
    with open(path, "rb") as handle:
        return sum(block.count(b"\n") for block in iter(lambda: handle.read(chunk), b""))


BATCH = 1_000  # keys inserted per statement
EXAMPLES = 5  # repeated keys named


@dataclass
class Added:
    """What one `LineIndex.add` found."""

    lines: int = 0  # lines indexed under a new key
    repeated: int = 0  # lines whose key was indexed already (their first line kept)
    examples: list[tuple[str, Path]] = field(default_factory=list)  # a few repeated keys, with the file holding them


class LineIndex:
    """See the module docstring. A context manager: leaving closes the files and the table."""

    def __init__(self, scratch: Path) -> None:
        self.files: list[tuple[Path, object]] = []
        self.db = sqlite3.connect(scratch / "lines.sqlite")
        # keys as UTF-8 bytes (surrogatepass: any Python str), whose byte order is Python's str order
        self.db.execute("CREATE TABLE lines (key BLOB PRIMARY KEY, file INTEGER, offset INTEGER)")

    def __enter__(self) -> LineIndex:
        return self

    def __exit__(self, *_) -> None:
        self.close()

    def add(self, path: Path, key_of: Callable[[int, bytes], str | None]) -> Added:
        """Indexes every line of `path` (numbered from 1) under `key_of(number, raw)`; None leaves it out."""
        handle = path.open("rb")
        self.files.append((path, handle))
        file, added, batch, offset = len(self.files) - 1, Added(), [], 0
        for number, raw in enumerate(handle, start=1):
            key = key_of(number, raw)
            if key is not None:
                batch.append((_stored(key), file, offset))
            offset += len(raw)
            if len(batch) == BATCH:
                self._insert(batch, added)
                batch = []
        self._insert(batch, added)
        return added

    def _insert(self, batch: list[tuple[bytes, int, int]], added: Added) -> None:
        before = self.db.total_changes
        self.db.executemany("INSERT OR IGNORE INTO lines VALUES (?, ?, ?)", batch)
        new = self.db.total_changes - before
        added.lines += new
        if len(batch) > new:
            added.repeated += len(batch) - new
            for key, file, offset in batch:
                if len(added.examples) >= EXAMPLES:
                    break
                first = self.db.execute("SELECT file, offset FROM lines WHERE key = ?", (key,)).fetchone()
                if first != (file, offset):
                    added.examples.append((key.decode("utf-8", "surrogatepass"), self.files[first[0]][0]))

    def get(self, key: str) -> bytes | None:
        found = self.db.execute("SELECT file, offset FROM lines WHERE key = ?", (_stored(key),)).fetchone()
        return None if found is None else self._line(*found)

    def in_key_order(self) -> Iterator[bytes]:
        for file, offset in self.db.execute("SELECT file, offset FROM lines ORDER BY key"):
            yield self._line(file, offset)

    def _line(self, file: int, offset: int) -> bytes:
        handle = self.files[file][1]
        handle.seek(offset)
        return handle.readline()

    def __len__(self) -> int:
        return self.db.execute("SELECT COUNT(*) FROM lines").fetchone()[0]

    def close(self) -> None:
        self.db.close()
        for _, handle in self.files:
            handle.close()


def _stored(key: str) -> bytes:
    return key.encode("utf-8", "surrogatepass")
