"""The hf export's writer: a Hugging Face dataset written a shard at a time, resumable.

The folder it makes is what `Dataset.save_to_disk` makes (Arrow files `data-0000i-of-0000n.arrow`,
`state.json`, `dataset_info.json`: `datasets.load_from_disk`), with the same rows as Parquet shards
in `parquet/` (`load_dataset("parquet", data_files=...)`, the Hub's layout). Each example goes
straight into both files of its shard (no Arrow cache copied twice, as `Dataset.from_generator`
then `save_to_disk` then `to_parquet` did: the data once per format on disk, a batch in memory).
Shards, resuming and the work folder: `helpers.describer.shard_writer`.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from helpers.core.io import atomic_write_text
from helpers.describer.shard_writer import SHARD_BYTES, ResumableShards

BATCH_ROWS = 100  # examples per record batch (a Parquet row group): `datasets`' batch for image datasets
BATCH_BYTES = 64 * 2**20  # or fewer, when their photos hold this much (100 photos of 12 MP are ~500 MB)


class ShardedDatasetWriter(ResumableShards):
    """Writes `features`' examples into `output` (see the module docstring; the other arguments and
    `progress`: `ResumableShards`)."""

    def __init__(self, output: Path, features, settings: dict, shard_bytes: int = SHARD_BYTES) -> None:
        super().__init__(output, settings, shard_bytes)
        self.features, self.schema = features, features.arrow_schema
        (self.dataset / "parquet").mkdir(exist_ok=True)
        self._batch: list[dict] = []  # encoded examples not written yet, and their photos' bytes
        self._batch_bytes = 0
        self._writers: tuple | None = None  # the open shard's (Arrow writer, its file, Parquet writer)

    def shard_files(self, index: int) -> list[Path]:
        return list(self._files(index))

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

    def _close_files(self) -> bool:
        if self._batch:
            self._write_batch()
        if self._writers is None:
            return False
        arrow_writer, sink, parquet_writer = self._writers
        arrow_writer.close()
        sink.close()
        parquet_writer.close()
        self._writers = None
        return True

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
        self._put_in_place()
