"""The webdataset export's writer: tar shards as WebDataset reads them (`webdataset.WebDataset`,
`datasets.load_dataset("webdataset", ...)`, OpenCLIP's and img2dataset's layout), resumable.

Each sample is consecutive files sharing a key: `<key>.<ext>` (the photo's bytes as stored, its
format's extension), `<key>.txt` (the description) and `<key>.json` (id, image, description, captions,
source, and with the CV records detections and scene). Keys are `<shard><position>` (`0000300042`:
shard 3's 43rd sample), as img2dataset numbers them: a photo's own name may hold dots, which end a
WebDataset key. A shard (`00000.tar`, `00001.tar`, ...) holds at most `SHARD_SAMPLES` samples or
about `SHARD_BYTES` of them; `shards.json` lists each shard's samples (for `with_length`, epochs).
The tar headers are fixed (time 0, owner 0, mode 0644): the same inputs give the same bytes.
Shards, resuming and the work folder: `helpers.describer.shard_writer`.
"""

from __future__ import annotations

import json
import tarfile
from pathlib import Path
from typing import BinaryIO

from helpers.core.io import atomic_write_text
from helpers.core.tar_photos import SHARDS_LIST
from helpers.describer.shard_writer import SHARD_BYTES, ResumableShards

SHARD_SAMPLES = 10_000  # img2dataset's default shard; keys give a position 5 digits
TAR_HEADER = {"mtime": 0, "mode": 0o644, "uid": 0, "gid": 0, "uname": "", "gname": ""}


def _encoded(content: bytes | str | dict) -> bytes:
    """A file's bytes: bytes as they are; text as UTF-8 (a lone surrogate, which UTF-8 cannot hold, as
    its `\\u` escape); a dict as JSON (non-ASCII as is, unless it holds a lone surrogate: then escaped)."""
    if isinstance(content, bytes):
        return content
    if isinstance(content, dict):
        try:
            return json.dumps(content, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError:
            return json.dumps(content).encode("ascii")
    return content.encode("utf-8", "backslashreplace")


class WebDatasetWriter(ResumableShards):
    """Writes samples into `output`'s tar shards (see the module docstring; the arguments and
    `progress`: `ResumableShards`)."""

    def __init__(self, output: Path, settings: dict, shard_bytes: int = SHARD_BYTES) -> None:
        super().__init__(output, settings, shard_bytes)
        self._tar: BinaryIO | None = None  # the open shard's file

    def shard_files(self, index: int) -> list[Path]:
        return [self.dataset / f"{index:05d}.tar"]

    @property
    def shard_full(self) -> bool:
        return super().shard_full or self._examples >= SHARD_SAMPLES

    def add(self, files: dict[str, bytes | str | dict]) -> str:
        """Adds one sample to the open shard: its files by extension (`_encoded`). Returns its key."""
        shard = len(self.progress["shards"])
        if self._tar is None:
            self._tar = open(f"{self.shard_files(shard)[0]}.tmp", "wb")  # noqa: SIM115 - open until the shard closes
        key = f"{shard:05d}{self._examples:05d}"
        for extension, content in files.items():
            data = _encoded(content)
            self._write_member(f"{key}.{extension}", data)
            self._bytes += len(data)
        self._examples += 1
        return key

    def _write_member(self, name: str, data: bytes) -> None:
        """One file of the tar: its header, its bytes, zeros to the next block. Written as `tarfile`
        writes it, without `TarFile`, which keeps every member's header in memory."""
        info = tarfile.TarInfo(name)
        for field, value in TAR_HEADER.items():
            setattr(info, field, value)
        info.size = len(data)
        self._tar.write(info.tobuf(tarfile.USTAR_FORMAT, "utf-8", "surrogateescape"))
        self._tar.write(data)
        self._tar.write(tarfile.NUL * (-len(data) % tarfile.BLOCKSIZE))

    def _close_files(self) -> bool:
        if self._tar is None:
            return False
        # the end of the archive, as `TarFile.close` writes it: two zero blocks, zeros to a whole record
        self._tar.write(tarfile.NUL * (2 * tarfile.BLOCKSIZE))
        self._tar.write(tarfile.NUL * (-self._tar.tell() % tarfile.RECORDSIZE))
        self._tar.close()
        self._tar = None
        return True

    def finish(self) -> None:
        """Writes `shards.json` and puts the folder in place of `output`."""
        shards = [
            {"url": self.shard_files(index)[0].name, "samples": samples}
            for index, samples in enumerate(self.progress["shards"])
        ]
        atomic_write_text(self.dataset / SHARDS_LIST, json.dumps({"shards": shards}, indent=1) + "\n")
        self._put_in_place()
