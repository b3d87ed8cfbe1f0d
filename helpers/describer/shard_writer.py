"""What the sharded exports share: a dataset written a shard at a time in `.<output>.partial/`,
resumable after its last complete shard, put in place of `output` when done.

A shard's files are written under temporary names (`.tmp`), synced to disk and renamed when the shard
is complete; `progress.json` then records it, with the last input line it used, the rows read and the
problems so far. An export killed part way (10^7 photos take hours to read) resumes after its last complete shard
when run again on the same inputs and settings; other inputs start it over. Subclasses say what a
shard's files are and write them: `helpers.describer.hf_dataset` (Arrow + Parquet),
`helpers.describer.webdataset` (tar).
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from pathlib import Path

from helpers.core.io import atomic_write_text, replace_dir

logger = logging.getLogger(__name__)

SHARD_BYTES = 500 * 2**20  # as `datasets` shards a dataset for the Hub
PROGRESS = "progress.json"
FORMAT_VERSION = 2  # of `progress.json` and the rows (2: with `taken`): another version starts the export over


def synced(path: Path) -> None:
    """Waits until the file's bytes are on disk (`os.fsync`)."""
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def file_state(path: Path | None) -> list | None:
    """What decides whether a partial export may go on: the input's path, size and time."""
    if path is None:
        return None
    stat = path.stat()
    return [str(path.resolve()), stat.st_size, stat.st_mtime_ns]


class ResumableShards:
    """The shard protocol (see the module docstring); a subclass writes the shards' files.

    Args:
        output: The dataset folder to make (it appears only when `finish` is called).
        settings: The inputs and settings the examples come from (JSON values): a partial export made
            from others is started over.
        shard_bytes: A shard is closed once its examples hold this many bytes.

    Attributes:
        progress: `line` (the last input line the complete shards used; resume after it), `rows`
            (rows read up to it), `problems` (their problems), `shards` (examples per shard).
    """

    def __init__(self, output: Path, settings: dict, shard_bytes: int = SHARD_BYTES) -> None:
        self.output, self.shard_bytes = output, shard_bytes
        self.work = output.with_name(f".{output.name}.partial")
        self.dataset = self.work / "dataset"
        settings = {"version": FORMAT_VERSION, **settings}
        resumed = self._resumed(settings)
        if resumed is None:
            shutil.rmtree(self.work, ignore_errors=True)
            self.dataset.mkdir(parents=True)
        self.progress = resumed or {"settings": settings, "line": 0, "rows": 0, "problems": [], "shards": []}
        self._bytes = self._examples = 0  # in the open shard

    def shard_files(self, index: int) -> list[Path]:
        """Shard `index`'s files (complete: not `.tmp`)."""
        raise NotImplementedError

    def _resumed(self, settings: dict) -> dict | None:
        try:
            progress = json.loads((self.work / PROGRESS).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        if progress.get("settings") != settings:
            logger.warning("%s: a partial export of other inputs or settings: starting over", self.work)
            return None
        shards = progress["shards"]
        if not all(path.is_file() for index in range(len(shards)) for path in self.shard_files(index)):
            logger.warning("%s: a partial export with shard files missing: starting over", self.work)
            return None
        for leftover in self.dataset.glob("**/*.tmp"):  # the shard being written when the export stopped
            leftover.unlink()
        logger.info(
            "%s: resuming after %d complete shard(s) (%d examples, input line %d)",
            self.output,
            len(shards),
            sum(shards),
            progress["line"],
        )
        return progress

    @property
    def shard_full(self) -> bool:
        return self._bytes >= self.shard_bytes

    def _close_files(self) -> bool:
        """Closes the open shard's files (still `.tmp`); False when no shard is open."""
        raise NotImplementedError

    def close_shard(self, line: int, rows: int, problems: list[dict]) -> None:
        """Completes the open shard (if it holds any example), then records that the input up to
        `line` (`rows` rows, `problems`) is in the complete shards."""
        if self._close_files():
            for path in self.shard_files(len(self.progress["shards"])):
                written = Path(f"{path}.tmp")
                synced(written)  # on disk before its name says complete: a power cut leaves no empty "complete" shard
                written.rename(path)
            self.progress["shards"].append(self._examples)
            self._bytes, self._examples = 0, 0
        self.progress |= {"line": line, "rows": rows, "problems": problems}
        atomic_write_text(self.work / PROGRESS, json.dumps(self.progress))

    def _put_in_place(self) -> None:
        """Puts the finished folder in place of `output` and removes the work folder."""
        replace_dir(self.dataset, self.output)
        shutil.rmtree(self.work, ignore_errors=True)
