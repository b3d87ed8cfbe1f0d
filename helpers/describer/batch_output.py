"""The batch requests' file, or folder of parts, written resumably (`desclm export --format openai_batch`, ...).

Requests go to `.<output>.partial` (the file, or a folder of parts `requests-00000.jsonl`, ... each as large as the API
takes: `batch_parts`' rule) as they come; every `CHECKPOINT_ROWS` rows the open file is synced to disk and
`.<output>.partial.json` records how far: the rows read, the open part and its lines and bytes, the photos not sent so
far (their problems, in `.<output>.partial.problems.jsonl`) and what was counted, with a stamp of the inputs and
settings. An export killed part way (10^6 photos read and encoded take hours) resumes at its last checkpoint when run
again with the same stamp: the lines after it are cut off, the rows before it are passed over without their photos being
read. Another stamp starts it over. `finish` puts it in place.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from collections.abc import Iterable, Iterator
from pathlib import Path

from helpers.core.io import atomic_write_text, replace_dir
from helpers.describer.batch_requests import BATCH_PART, BatchApi

logger = logging.getLogger(__name__)

CHECKPOINT_ROWS = 1_000  # rows between checkpoints: at most this many photos read again after a kill


def batch_parts(lines: Iterable[str], api: BatchApi) -> Iterator[tuple[int, str]]:
    """Each of `lines` (requests), in order, with the number of its part: parts of at most `api.most_requests` lines
    (any with 0) and `api.most_bytes` bytes (UTF-8), each a file the API takes (a single request larger than that is a
    part of its own)."""
    state = PartState()
    for line in lines:
        yield state.place(len(line.encode("utf-8")), api), line


class PartState:
    """Where the next request goes: its part, and the lines and bytes already in that part."""

    def __init__(self, part: int = 0, count: int = 0, size: int = 0) -> None:
        self.part, self.count, self.size = part, count, size

    def place(self, length: int, api: BatchApi) -> int:
        """The part a request of `length` bytes goes to (a new one when it would not fit), counted in it."""
        if self.count and (self.count == api.most_requests or self.size + length > api.most_bytes):
            self.part, self.count, self.size = self.part + 1, 0, 0
        self.count, self.size = self.count + 1, self.size + length
        return self.part


def partial_files(output: Path) -> list[Path]:
    """The files a batch export to `output` writes before it is done (`ResumableRequests`): the requests (a file, or
    a folder of parts), its progress and its problems."""
    return [output.with_name(f".{output.name}.partial{end}") for end in ("", ".json", ".problems.jsonl")]


class ResumableRequests:
    """See the module docstring. `output`: a `.jsonl` file, or else a folder of parts the size `api` takes.

    Attributes:
        rows: Rows read up to the last checkpoint (a resumed export passes over them).
        counts: What the export counted of those (`failed`: rows whose photo was not sent; the photos it warns of).
        problems: The problems of those not sent (as resumed: `checkpoint` is given them all, and appends the new).
    """

    def __init__(self, output: Path, stamp: dict, api: BatchApi) -> None:
        self.output, self.api = output, api
        self.in_parts = output.suffix.lower() != ".jsonl"
        self.work, self.progress_file, self.problems_file = partial_files(output)  # (problems: appended at checkpoints)
        self.stamp = json.loads(json.dumps(stamp, sort_keys=True, default=str))
        self.rows, self.counts, self.problems, self.state = 0, {}, [], PartState()
        self.saved = 0  # problems in `problems_file`
        self._handle = None
        if not self._resumed():
            self.progress_file.unlink(missing_ok=True)
            self.problems_file.write_bytes(b"")
            if self.work.is_dir():
                shutil.rmtree(self.work)
            else:
                self.work.unlink(missing_ok=True)
            if self.in_parts:
                self.work.mkdir()
            else:
                self.work.write_bytes(b"")

    def _file(self, part: int) -> Path:
        return self.work / f"{BATCH_PART}-{part:05d}.jsonl" if self.in_parts else self.work

    def _resumed(self) -> bool:
        try:
            progress = json.loads(self.progress_file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return False
        if progress.get("stamp") != self.stamp:
            logger.warning("%s: a partial export of other inputs or settings: starting over", self.work)
            return False
        state = PartState(*progress["part"])
        current = self._file(state.part)
        if not current.is_file() or current.stat().st_size < state.size:
            logger.warning("%s: a partial export whose files are not as its checkpoint says: starting over", self.work)
            return False
        problems = []
        try:
            with open(self.problems_file, "r+b") as handle:  # (those appended after the checkpoint: found again)
                while len(problems) < progress["problems"]:
                    problems.append(json.loads(handle.readline()))
                handle.truncate(handle.tell())
        except (OSError, ValueError):
            logger.warning(
                "%s: a partial export whose problems are not as its checkpoint says: starting over", self.work
            )
            return False
        with open(current, "r+b") as handle:  # the lines written after the checkpoint: written again
            handle.truncate(state.size)
        if self.in_parts:
            for later in self.work.glob(f"{BATCH_PART}-*.jsonl"):
                if later.name > current.name:
                    later.unlink()
        self.rows, self.counts, self.problems, self.saved = (
            progress["rows"],
            progress["counts"],
            problems,
            len(problems),
        )
        self.state = state
        logger.info("%s: resuming after %d rows, at %s", self.output, self.rows, current.name)
        return True

    def write(self, line: str) -> None:
        """Appends one request (a JSON line)."""
        data = line.encode("utf-8")
        if not self.in_parts:
            self.state.count, self.state.size = self.state.count + 1, self.state.size + len(data)
        else:
            before = self.state.part
            if self.state.place(len(data), self.api) != before and self._handle is not None:
                self.close()  # the part is full: the next one is opened
        if self._handle is None:
            self._handle = open(self._file(self.state.part), "ab")  # noqa: SIM115 - held open across writes
        self._handle.write(data)

    def checkpoint(self, rows: int, counts: dict[str, int], problems: list[dict]) -> None:
        """Syncs the open file, then records that `rows` rows are written (`counts`, the `problems` of those not
        sent)."""
        if self._handle is not None:
            self._handle.flush()
            os.fsync(self._handle.fileno())
        with open(self.problems_file, "a", encoding="utf-8") as file:  # the new ones: 10^5 not written again each time
            file.write("".join(json.dumps(problem, ensure_ascii=False) + "\n" for problem in problems[self.saved :]))
            file.flush()
            os.fsync(file.fileno())
        self.rows, self.counts, self.saved = rows, counts, len(problems)
        state = [self.state.part, self.state.count, self.state.size]
        progress = {"stamp": self.stamp, "rows": rows, "counts": counts, "problems": len(problems), "part": state}
        atomic_write_text(self.progress_file, json.dumps(progress, ensure_ascii=False))

    def finish(self) -> None:
        """Puts the finished file, or folder of parts, in place of `output`."""
        self.close()
        if self.in_parts:
            replace_dir(self.work, self.output)
        else:
            os.replace(self.work, self.output)
        self.progress_file.unlink(missing_ok=True)
        self.problems_file.unlink(missing_ok=True)

    def close(self) -> None:
        if self._handle is not None:
            self._handle.flush()
            os.fsync(self._handle.fileno())
            self._handle.close()
            self._handle = None
