"""The hf export's writer: a Hugging Face dataset written a shard at a time, resumable.

The folder it makes is what `Dataset.save_to_disk` makes (Arrow files `data-0000i-of-0000n.arrow`,
`state.json`, `dataset_info.json`: `datasets.load_from_disk`), with the same rows as Parquet shards
in `parquet/` (`load_dataset("parquet", data_files=...)`, the Hub's layout); or, `parquet_only`, the
Parquet shards alone (the photos are the bulk: a dataset of 10^7 photos is not written twice). Each example goes
straight into each file of its shard (no Arrow cache copied twice, as `Dataset.from_generator`
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
    """Writes `features`' examples into `output` (see the module docstring; `parquet_only`: the Parquet shards
    alone; `split`: the split they are, in their names; the other arguments and `progress`: `ResumableShards`)."""

    def __init__(
        self,
        output: Path,
        features,
        settings: dict,
        shard_bytes: int = SHARD_BYTES,
        parquet_only: bool = False,
        split: str = "train",
    ) -> None:
        self.kinds = ("parquet",) if parquet_only else ("arrow", "parquet")  # the files of each shard
        self.split = split  # the Parquet shards' names begin with it, as the Hub names a split's
        super().__init__(output, settings, shard_bytes)
        self.features, self.schema = features, features.arrow_schema
        (self.dataset / "parquet").mkdir(exist_ok=True)
        self._batch: list[dict] = []  # encoded examples not written yet, and their photos' bytes
        self._batch_bytes = 0
        self._writers: dict | None = None  # the open shard's writers by kind (and the Arrow writer's file)

    def shard_files(self, index: int) -> list[Path]:
        return list(self._files(index).values())

    def _files(self, index: int, count: int | None = None) -> dict[str, Path]:
        """Shard `index`'s files by kind (Arrow, Parquet); named `-of-<count>` once the count is known."""
        of = f"-of-{count:05d}" if count is not None else ""
        files = {
            "arrow": self.dataset / f"data-{index:05d}{of}.arrow",
            "parquet": self.dataset / "parquet" / f"{self.split}-{index:05d}{of}.parquet",
        }
        return {kind: files[kind] for kind in self.kinds}

    def add(self, example: dict) -> None:
        """Adds one example (as `exports._hf_example` makes it) to the open shard."""
        self._batch.append(self.features.encode_example(example))
        self._batch_bytes += len((example.get("image") or {}).get("bytes") or b"")
        if len(self._batch) >= BATCH_ROWS or self._batch_bytes >= BATCH_BYTES:
            self._write_batch()

    def _open(self, files: dict[str, Path]) -> dict:
        """Writers of a shard's files, by kind (`sink`: the Arrow writer's file, closed after it)."""
        writers = {}
        if "arrow" in files:
            sink = pa.OSFile(str(files["arrow"]), "wb")
            writers |= {"arrow": pa.ipc.new_stream(sink, self.schema), "sink": sink}  # closed in this order
        writers["parquet"] = pq.ParquetWriter(str(files["parquet"]), self.schema)
        return writers

    def _write_batch(self) -> None:
        if self._writers is None:
            files = self._files(len(self.progress["shards"]))
            self._writers = self._open({kind: Path(f"{path}.tmp") for kind, path in files.items()})
        batch = pa.RecordBatch.from_pylist(self._batch, schema=self.schema)
        for kind in self.kinds:  # Parquet: one row group per batch, a photo is read without its shard
            self._writers[kind].write_batch(batch)
        self._bytes += batch.nbytes
        self._examples += len(self._batch)
        self._batch, self._batch_bytes = [], 0

    def _close_files(self) -> bool:
        if self._batch:
            self._write_batch()
        if self._writers is None:
            return False
        for writer in self._writers.values():  # the Arrow writer before its file
            writer.close()
        self._writers = None
        return True

    def data_bytes(self) -> int:
        """The complete shards' data, uncompressed (as the card's `dataset_info` counts a split): the Arrow files'
        size, else the Parquet row groups' (`total_byte_size`, read from each file's footer)."""
        if "arrow" in self.kinds:
            return sum(path.stat().st_size for path in self.dataset.glob("data-*.arrow"))
        groups = (pq.ParquetFile(path).metadata for path in sorted((self.dataset / "parquet").glob("*.parquet")))
        return sum(meta.row_group(index).total_byte_size for meta in groups for index in range(meta.num_row_groups))

    def finish(self) -> None:
        """Names the shards with their count, writes `state.json` and `dataset_info.json` as
        `save_to_disk` does (with the Arrow files), and puts the folder in place of `output`."""
        from datasets import DatasetInfo

        shards = self.progress["shards"]
        if not shards:  # no example: one empty shard, so that the dataset loads (with its columns)
            for writer in self._open(self._files(0)).values():
                writer.close()
            shards.append(0)
        count = len(shards)
        for index in range(count):
            for kind, path in self._files(index).items():
                path.rename(self._files(index, count)[kind])
        if "arrow" in self.kinds:
            files = [{"filename": self._files(index, count)["arrow"].name} for index in range(count)]
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
