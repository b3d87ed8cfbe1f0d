"""The hf export's writer: a Hugging Face dataset written a shard at a time, resumable.

The folder it makes is what `Dataset.save_to_disk` makes (Arrow files `data-0000i-of-0000n.arrow`,
`state.json`, `dataset_info.json`: `datasets.load_from_disk`), with the same rows as Parquet shards
in `parquet/` (`load_dataset("parquet", data_files=...)`, the Hub's layout). Each example goes
straight into both files of its shard (no Arrow cache copied twice, as `Dataset.from_generator`
then `save_to_disk` then `to_parquet` did: the data once per format on disk, a batch in memory).

Work happens in `.<output>.partial/`. A shard's two files are written under temporary names and
renamed when the shard is complete; `progress.json` then records it, with the last input line it
used and the problems so far. An export killed part way (10^7 photos take hours to read) resumes
after its last complete shard when run again on the same inputs; other inputs start it over.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from helpers.core.io import atomic_write_text, replace_dir

logger = logging.getLogger(__name__)

SHARD_BYTES = 500 * 2**20  # as `datasets` shards a dataset for the Hub
BATCH_ROWS = 100  # examples per record batch (a Parquet row group): `datasets`' batch for image datasets
BATCH_BYTES = 64 * 2**20  # or fewer, when their photos hold this much (100 photos of 12 MP are ~500 MB)
PROGRESS = "progress.json"
FORMAT_VERSION = 1  # of `progress.json`: another version starts the export over


def file_state(path: Path | None) -> list | None:
    """What decides whether a partial export may go on: the input's path, size and time."""
    if path is None:
        return None
    stat = path.stat()
    return [str(path.resolve()), stat.st_size, stat.st_mtime_ns]


class ShardedDatasetWriter:
    """Writes `features`' examples into `output` (see the module docstring).

    Args:
        output: The dataset folder to make (it appears only when `finish` is called).
        features: The examples' `datasets.Features`.
        settings: The inputs and settings the examples come from (JSON values): a partial export made
            from others is started over.
        shard_bytes: A shard is closed once its examples hold this many bytes.

    Attributes:
        progress: `line` (the last input line the complete shards used; resume after it), `rows`
            (rows read up to it), `problems` (their problems), `shards` (examples per shard).
    """

    def __init__(self, output: Path, features, settings: dict, shard_bytes: int = SHARD_BYTES) -> None:
        self.output, self.features, self.shard_bytes = output, features, shard_bytes
        self.schema = features.arrow_schema
        self.work = output.with_name(f".{output.name}.partial")
        self.dataset = self.work / "dataset"
        settings = {"version": FORMAT_VERSION, **settings}
        resumed = self._resumed(settings)
        if resumed is None:
            shutil.rmtree(self.work, ignore_errors=True)
            (self.dataset / "parquet").mkdir(parents=True)
        self.progress = resumed or {"settings": settings, "line": 0, "rows": 0, "problems": [], "shards": []}
        self._batch: list[dict] = []  # encoded examples not written yet, and their photos' bytes
        self._batch_bytes = 0
        self._writers: tuple | None = None  # the open shard's (Arrow writer, its file, Parquet writer)
        self._bytes = self._examples = 0

    def _resumed(self, settings: dict) -> dict | None:
        try:
            progress = json.loads((self.work / PROGRESS).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        if progress.get("settings") != settings:
            logger.warning("%s: a partial export of other inputs or settings: starting over", self.work)
            return None
        shards = progress["shards"]
        if not all(self._files(index)[0].is_file() and self._files(index)[1].is_file() for index in range(len(shards))):
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

    def _files(self, index: int, count: int | None = None) -> tuple[Path, Path]:
        """Shard `index`'s Arrow and Parquet files; named `-of-<count>` once the count is known."""
        of = f"-of-{count:05d}" if count is not None else ""
        return self.dataset / f"data-{index:05d}{of}.arrow", self.dataset / "parquet" / f"train-{index:05d}{of}.parquet"

    def add(self, example: dict) -> None:
        """Adds one example (as `exports._hf_example` makes it) to the open shard."""
        self._batch.append(self.features.encode_example(example))
        self._batch_bytes += len((example.get("image") or {}).get("bytes") or b"")
        if len(self._batch) >= BATCH_ROWS or self._batch_bytes >= BATCH_BYTES:
            self._write_batch()

    @property
    def shard_full(self) -> bool:
        return self._bytes >= self.shard_bytes

    def _write_batch(self) -> None:
        if self._writers is None:
            arrow, parquet = (Path(f"{path}.tmp") for path in self._files(len(self.progress["shards"])))
            sink = pa.OSFile(str(arrow), "wb")
            self._writers = (pa.ipc.new_stream(sink, self.schema), sink, pq.ParquetWriter(str(parquet), self.schema))
        batch = pa.RecordBatch.from_pylist(self._batch, schema=self.schema)
        self._writers[0].write_batch(batch)
        self._writers[2].write_batch(batch)  # one row group per batch: a photo is read without its shard
        self._bytes += batch.nbytes
        self._examples += len(self._batch)
        self._batch, self._batch_bytes = [], 0

    def close_shard(self, line: int, rows: int, problems: list[dict]) -> None:
        """Completes the open shard (if it holds any example), then records that the input up to
        `line` (`rows` rows, `problems`) is in the complete shards."""
        if self._batch:
            self._write_batch()
        if self._writers is not None:
            arrow_writer, sink, parquet_writer = self._writers
            arrow_writer.close()
            sink.close()
            parquet_writer.close()
            for path in self._files(len(self.progress["shards"])):
                Path(f"{path}.tmp").rename(path)
            self.progress["shards"].append(self._examples)
            self._writers, self._bytes, self._examples = None, 0, 0
        self.progress |= {"line": line, "rows": rows, "problems": problems}
        atomic_write_text(self.work / PROGRESS, json.dumps(self.progress))

    def finish(self) -> None:
        """Names the shards with their count, writes `state.json` and `dataset_info.json` as
        `save_to_disk` does, and puts the folder in place of `output`."""
        from datasets import DatasetInfo

        shards = self.progress["shards"]
        if not shards:  # no example: one empty shard, so that the dataset loads (with its columns)
            sink = pa.OSFile(str(self._files(0)[0]), "wb")
            pa.ipc.new_stream(sink, self.schema).close()
            sink.close()
            pq.ParquetWriter(str(self._files(0)[1]), self.schema).close()
            shards.append(0)
        count = len(shards)
        for index in range(count):
            for path, named in zip(self._files(index), self._files(index, count)):
                path.rename(named)
        files = [{"filename": self._files(index, count)[0].name} for index in range(count)]
        fingerprint = hashlib.sha256(json.dumps([self.progress["settings"], shards]).encode()).hexdigest()[:16]
        state = {
            "_data_files": files,
            "_fingerprint": fingerprint,
            "_format_columns": None,
            "_format_kwargs": {},
            "_format_type": None,
            "_output_all_columns": False,
            "_split": None,
        }
        atomic_write_text(self.dataset / "state.json", json.dumps(state, indent=2))
        DatasetInfo(features=self.features).write_to_directory(str(self.dataset))
        replace_dir(self.dataset, self.output)
        shutil.rmtree(self.work, ignore_errors=True)
