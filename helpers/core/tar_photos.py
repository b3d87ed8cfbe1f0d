"""Photos inside tar shards (WebDataset, img2dataset: `00000.tar`, `00001.tar`, ...), read where they
lie: no shard is unpacked.

    desclm extract --images /data/shards/ ...        # or one shard: --images /data/shards/00000.tar

A folder is read as shards when it holds `.tar` files and no photo at its top (an img2dataset
output: shards beside their `.parquet` and `_stats.json`). Each shard's photo members (by their
file extension, as a folder's photos) are listed in shard order, then member order; the `.txt`,
`.json` and other files of a sample are passed over. A photo's key is its shard's path relative to
the folder (for one shard: the shard's name) and its member name, `00000.tar/000000042.jpg`: unique,
stable, and the way `PhotoKeys` finds it again for the gallery and the exports. Listing reads each
member's header only (the data is skipped), and a photo is read by seeking to its data: 10^7 photos
in 1,000 shards are listed without reading them. A shard cut short (a download stopped part-way)
keeps the photos listed before the cut, with a warning naming it; a compressed shard (`.tar.gz`) is
no shard here (it cannot be read at an offset).
"""

from __future__ import annotations

import logging
import tarfile
from collections import OrderedDict
from collections.abc import Iterator
from pathlib import Path

logger = logging.getLogger(__name__)

SHARD_SUFFIX = ".tar"
MEMBER = "tar"  # an ImageItem's column for a photo in a shard (its row: where the member's data starts)


def shard_files(path: Path) -> list[Path]:
    """The shards of `path`: itself (a `.tar` file) or the `.tar` files at a folder's top, by name."""
    if path.is_file():
        return [path] if path.suffix.lower() == SHARD_SUFFIX else []
    return sorted(p for p in path.glob(f"*{SHARD_SUFFIX}") if p.is_file()) if path.is_dir() else []


def is_tar_shards(path: Path, photo_suffixes: frozenset[str]) -> bool:
    """Whether `path` is a `.tar` file, or a folder holding `.tar` files and no photo at its top."""
    if path.is_file() or not path.is_dir():
        return bool(shard_files(path))
    top = [p for p in path.iterdir() if p.is_file()]
    return any(p.suffix.lower() == SHARD_SUFFIX for p in top) and not any(
        p.suffix.lower() in photo_suffixes for p in top
    )


def split_key(key: str) -> tuple[str, str] | None:
    """(the shard's relative path, the member's name) of a photo key in a shard, else None."""
    shard, found, member = key.partition(f"{SHARD_SUFFIX}/")
    return (shard + SHARD_SUFFIX, member) if found and member else None


def shard_photos(path: Path, root: Path, photo_suffixes: frozenset[str]) -> Iterator[tuple[str, int]]:
    """(key, where its data starts) of every photo member of `path`'s shards (see the module docstring)."""
    for shard in shard_files(path):
        prefix = shard.resolve().relative_to(root).as_posix()
        listed = 0
        try:
            with tarfile.open(shard, "r:") as archive:  # "r:": uncompressed, read at offsets
                for member in _members(archive):
                    if member.isfile() and Path(member.name).suffix.lower() in photo_suffixes:
                        listed += 1
                        yield f"{prefix}/{member.name}", member.offset_data
        except (tarfile.TarError, OSError) as error:
            logger.warning("%s: a shard that cannot be read past its %d photos listed: %s", shard, listed, error)


def _members(archive: tarfile.TarFile) -> Iterator[tarfile.TarInfo]:
    """The archive's members as read, none kept (`TarFile` keeps each one's header: 10^4 a shard)."""
    while (member := archive.next()) is not None:
        archive.members.clear()
        yield member


def read_member(shard: Path, offset: int) -> bytes:
    """The member's bytes whose data starts at `offset` (its header is the block before).

    Raises:
        OSError: The shard cannot be read, or is cut short in the member.
        ValueError: No member header before `offset` (the shard changed since it was listed).
    """
    with shard.open("rb") as file:
        file.seek(offset - tarfile.BLOCKSIZE)
        try:
            member = tarfile.TarInfo.frombuf(file.read(tarfile.BLOCKSIZE), "utf-8", "surrogateescape")
        except tarfile.HeaderError as error:
            problem = f"{shard}: no member at byte {offset} ({error}): the shard changed since it was listed"
            raise ValueError(problem) from None
        data = file.read(member.size)
    if len(data) < member.size:
        raise OSError(f"{shard}: cut short in {member.name} ({len(data)} of {member.size} bytes)")
    return data


class ShardIndex:
    """Where each photo member's data starts, by name, for the shards asked for last (`KEPT` of them):
    the gallery and exports find photos by key, mostly in shard order."""

    KEPT = 4

    def __init__(self) -> None:
        self._shards: OrderedDict[Path, dict[str, int]] = OrderedDict()

    def offset(self, shard: Path, member: str) -> int | None:
        if shard not in self._shards:
            with tarfile.open(shard, "r:") as archive:
                self._shards[shard] = {m.name: m.offset_data for m in _members(archive) if m.isfile()}
            if len(self._shards) > self.KEPT:
                self._shards.popitem(last=False)
        self._shards.move_to_end(shard)
        return self._shards[shard].get(member)
