"""Photos inside tar shards (WebDataset, img2dataset: `00000.tar`, `00001.tar`, ...), read where they
lie: no shard is unpacked.

    desclm extract --images /data/shards/ ...        # or one shard: --images /data/shards/00000.tar

A folder is read as shards when it holds `.tar` files and no photo at its top (an img2dataset
output: shards beside their `.parquet` and `_stats.json`), or, no photo at its top, split folders of shards
(`desclm export --splits`: `train/`, `validation/`, each with its `shards.json`; keys `train/00000.tar/...`).
Each shard's photo members (by their
file extension, as a folder's photos) are listed in shard order, then member order; the `.txt`,
`.json` and other files of a sample are passed over. A photo's key is its shard's path relative to
the folder (for one shard: the shard's name) and its member name, `00000.tar/000000042.jpg`: unique,
stable, and the way `PhotoKeys` finds it again for the gallery and the exports. Listing reads each
member's header only (the data is skipped), and a photo is read by seeking to its data: 10^7 photos
in 1,000 shards are listed without reading them. A shard cut short (a download stopped part-way)
keeps the photos listed before the cut, with a warning naming it; a compressed shard (`.tar.gz`) is
no shard here (it cannot be read at an offset).

Shards in object storage (`--images s3://bucket/shards/`, a folder as `helpers.core.remote` reads one) are read
where they lie too. A remote shard's headers lie between its photos, so its listing reads the shard once, in
requests of `LISTING_BLOCK` bytes, `LISTING_THREADS` shards at a time; the listing is kept in the cache
(`CACHE_DIR/tar_listings`, by the shard's URL, size and ETag), so that a rerun, the gallery and the exports list
it from there. A photo is then one ranged request: its header and up to `FIRST_READ` bytes of its data (a second
request for the rest of a larger one); a batch's consecutive photos of a shard one request for them all, up to
`SPAN_READ` bytes (`read_members`).
"""

from __future__ import annotations

import gzip
import hashlib
import json
import logging
import os
import tarfile
from collections import OrderedDict
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path

from tqdm.auto import tqdm

from helpers.core.io import SHARD_SUFFIX, atomic_write_bytes, is_mac_metadata, name_suffix
from helpers.core.paths import CACHE_DIR
from helpers.core.remote import FOLDERS_SHOWN, LISTING_THREADS, is_remote, remote_range, remote_version

logger = logging.getLogger(__name__)

MEMBER = "tar"  # an ImageItem's column for a photo in a shard (its row: where the member's data starts)
BLOCK = tarfile.BLOCKSIZE
EMPTY_BLOCK = bytes(BLOCK)
PLAIN_TYPES = (b"0", b"\0", b"5")  # a file (ustar, old tar), a folder: the headers read here


SHARDS_LIST = "shards.json"  # what a WebDataset export writes beside its shards (`desclm export --format webdataset`)
# A remote shard's listing reads the shard in requests of this many bytes (its headers lie between its photos)
LISTING_BLOCK = 8 * 2**20
FIRST_READ = 2**18  # a remote photo's first request: its header and this much of its data (most photos fit)
SPAN_READ = 64 * 2**20  # the most one request reads of a run of a remote shard's photos (`read_members`)
LISTINGS = CACHE_DIR / "tar_listings"  # remote shards' listings, by URL, size and version (`_listing_file`)


def shard_files(path: Path) -> list[Path]:
    """The shards of `path`: itself (a `.tar` file), the `.tar` files at a folder's top, by name, or, with none
    there, those of its split folders (`split_folders`), split by split. A remote `path` (a `UPath`) alike."""
    if is_remote(path):
        if not path.fs.isdir(path.path):
            return [path] if name_suffix(path.path) == SHARD_SUFFIX else []
        files, folders = _remote_top(path)
        at_top = [path / name for name in files if name_suffix(name) == SHARD_SUFFIX]
        return at_top or [shard for folder in _remote_splits(path, folders) for shard in shard_files(folder)]
    if path.is_file():
        return [path] if path.suffix.lower() == SHARD_SUFFIX else []
    if not path.is_dir():
        return []
    at_top = sorted(p for p in path.glob(f"*{SHARD_SUFFIX}") if p.is_file())
    return at_top or [shard for folder in split_folders(path) for shard in shard_files(folder)]


def split_folders(path: Path) -> list[Path]:
    """The folders at `path`'s top that hold a WebDataset export's shard list (`SHARDS_LIST`): the splits of a
    `desclm export --splits` (`train/`, `validation/`), by name. Only these: a folder of photos with a tar file
    somewhere below is no set of shards."""
    return sorted(folder for folder in path.iterdir() if (folder / SHARDS_LIST).is_file() and folder.is_dir())


def is_tar_shards(path: Path, photo_suffixes: frozenset[str]) -> bool:
    """Whether `path` is a `.tar` file, or a folder holding `.tar` files (or split folders of them,
    `split_folders`) and no photo at its top. A remote `path` alike, by one listing of its top."""
    if is_remote(path):
        if not path.fs.isdir(path.path):
            return name_suffix(path.path) == SHARD_SUFFIX
        files, folders = _remote_top(path)
        if any(name_suffix(name) in photo_suffixes for name in files):
            return False
        return any(name_suffix(name) == SHARD_SUFFIX for name in files) or bool(_remote_splits(path, folders))
    if path.is_file() or not path.is_dir():
        return bool(shard_files(path))
    shards = False
    with os.scandir(path) as entries:  # a flat folder of 10^7 photos answers at its first photo
        for entry in entries:
            suffix = name_suffix(entry.name)
            if suffix in photo_suffixes:  # by its name, as a folder's photos are listed (a broken link too)
                return False
            if suffix == SHARD_SUFFIX and not shards:
                try:
                    shards = entry.is_file()
                except OSError:  # a looping link
                    continue
    return shards or bool(split_folders(path))


def _remote_top(path) -> tuple[list[str], list[str]]:
    """The names of the files and of the folders at a remote folder's top, each by name. One listing, which
    fsspec keeps: the photos' listing after it starts from it."""
    entries = path.fs.ls(path.path, detail=True)
    names = {kind: [] for kind in ("file", "directory")}
    for entry in entries:
        names.setdefault(entry["type"], []).append(entry["name"].rstrip("/").rpartition("/")[2])
    return sorted(names["file"]), sorted(names["directory"])


def _remote_splits(path, folders: list[str]) -> list:
    """`split_folders` of a remote folder whose top holds `folders`: those with a `SHARDS_LIST`, asked of
    `LISTING_THREADS` at once."""
    with ThreadPoolExecutor(LISTING_THREADS) as pool:
        listed = list(pool.map(lambda name: path.fs.isfile(f"{path.path}/{name}/{SHARDS_LIST}"), folders))
    return [path / name for name, has_list in zip(folders, listed) if has_list]


def sample_of(name: str) -> tuple[str, str]:
    """(sample key, extension) of a member name, as WebDataset groups a sample's files: the key up to
    the first dot of the file's name (its folders kept), `a/000042.seg.png` -> (`a/000042`, `seg.png`)."""
    folder, _, file = name.rpartition("/")
    stem, _, extension = file.partition(".")
    return (f"{folder}/{stem}" if folder else stem), extension


def split_key(key: str) -> tuple[str, str] | None:
    """(the shard's relative path, the member's name) of a photo key in a shard, else None."""
    shard, found, member = key.partition(f"{SHARD_SUFFIX}/")
    return (shard + SHARD_SUFFIX, member) if found and member else None


def shards_root(path: Path) -> Path:
    """The folder the keys of `path`'s photos are relative to: the folder of shards, or one shard's folder."""
    if is_remote(path):
        return path if path.fs.isdir(path.path) else path.parent
    return path.resolve() if path.is_dir() else path.parent.resolve()


def keyed_shards(path: Path) -> Iterator[tuple[Path, str]]:
    """Each shard of `path` and the start of its members' keys: its path relative to `shards_root`."""
    root = shards_root(path)
    for shard in shard_files(path):
        if is_remote(shard):
            yield shard, shard.path[len(root.path.rstrip("/")) :].lstrip("/")
        else:
            yield shard, shard.resolve().relative_to(root).as_posix()


def shard_photos(path: Path, photo_suffixes: frozenset[str]) -> Iterator[tuple[str, int]]:
    """(key, where its data starts) of every photo member of `path`'s shards (see the module docstring)."""
    keyed = list(keyed_shards(path))
    with ThreadPoolExecutor(LISTING_THREADS) as pool:
        listings: Iterator = map(shard_members, (shard for shard, _ in keyed))
        if is_remote(path):  # each listing reads its shard: several at once, with progress
            listings = tqdm(
                pool.map(shard_members, (shard for shard, _ in keyed)),
                total=len(keyed),
                desc=f"listing {path}",
                unit="shard",
                disable=len(keyed) < FOLDERS_SHOWN,
            )
        for (shard, prefix), (members, problem) in zip(keyed, listings):
            photos = [(name, offset) for name, offset in members if name_suffix(name) in photo_suffixes]
            if any(name.rpartition("/")[2].startswith("._") for name, _ in photos):  # a tar file a Mac made
                kept = [(n, at) for n, at in photos if not is_mac_metadata(n, partial(_read_at, shard, 4, at))]
                if passed_over := len(photos) - len(kept):
                    logger.info(
                        "%s: %d macOS metadata member(s) passed over (`._` AppleDouble, no photos)", shard, passed_over
                    )
                photos = kept
            if problem:
                logger.warning(
                    "%s: a shard that cannot be read past its %d photos listed: %s", shard, len(photos), problem
                )
            for name, offset in photos:
                yield f"{prefix}/{name}", offset


def _read_at(shard: Path, length: int, offset: int) -> bytes:
    """`length` bytes of the shard (a local or remote file) from `offset`."""
    if is_remote(shard):
        return remote_range(shard, offset, offset + length)
    with shard.open("rb") as file:
        file.seek(offset)
        return file.read(length)


def shard_members(shard: Path) -> tuple[list[tuple[str, int]], str | None]:
    """The shard's files (name, where its data starts), and why the listing stopped early (None: it
    did not): plain headers read here (what WebDataset and img2dataset write), any other kind of
    member (a long name's extension header, a link) by `tarfile`. A remote shard's from the cache when
    listed before (`_remote_members`)."""
    if is_remote(shard):
        return _remote_members(shard)
    try:
        return _plain_members(shard)
    except _NotPlain:
        return tarfile_members(shard)


def _remote_members(shard) -> tuple[list[tuple[str, int]], str | None]:
    """`shard_members` of a remote shard: its listing kept in `LISTINGS` (by its version: a shard written again
    is listed again), else its headers read in requests of `LISTING_BLOCK` bytes and the listing kept when whole."""
    try:
        info = shard.fs.info(shard.path)
    except Exception as error:  # noqa: BLE001 - permissions, the network: this shard's photos go unlisted, said so
        return [], f"{type(error).__name__}: {error}"
    cache = _listing_file(remote_version(shard, info))
    try:
        with gzip.open(cache, "rt", encoding="utf-8") as file:
            return [(name, offset) for name, offset in json.load(file)], None
    except FileNotFoundError:
        pass
    except (OSError, ValueError, TypeError) as error:  # a listing cut short by a kill, say: listed again
        logger.warning("%s: its kept listing %s cannot be read (%s): listing the shard again", shard, cache, error)
    reader = _Readahead(shard, int(info["size"]))
    try:
        members, problem = _plain_headers(reader, reader.size)
    except _NotPlain:
        members, problem = tarfile_members(shard)
    logger.info("%s: %d files listed in %d request(s)", shard, len(members), reader.requests)
    if problem is None:
        try:
            atomic_write_bytes(cache, gzip.compress(json.dumps(members).encode(), mtime=0), sync=False)
        except OSError as error:  # a cache that cannot be written: listed again next time
            logger.warning("%s: its listing cannot be kept: %s", shard, error)
    return members, problem


def _listing_file(version: str) -> Path:
    """Where a remote shard's listing is kept: named by a hash of its URL, size and version."""
    return LISTINGS / f"{hashlib.sha256(version.encode()).hexdigest()[:32]}.json.gz"


class _Readahead:
    """`os.pread` (length, offset -> bytes) of a remote file for reading its headers in order: each request reads
    `LISTING_BLOCK` bytes from where it is asked, and the reads that fall in them are answered from there."""

    def __init__(self, path, size: int) -> None:
        self.path, self.size, self.start, self.block, self.requests = path, size, 0, b"", 0

    def __call__(self, length: int, offset: int) -> bytes:
        if not (self.start <= offset and offset + length <= self.start + len(self.block)):
            self.start, self.requests = offset, self.requests + 1
            self.block = remote_range(self.path, offset, min(self.size, offset + max(length, LISTING_BLOCK)))
        return self.block[offset - self.start : offset - self.start + length]


def tarfile_members(shard: Path) -> tuple[list[tuple[str, int]], str | None]:
    """`shard_members` by `tarfile`: any member kind, each header read into a `TarInfo`."""
    members: list[tuple[str, int]] = []
    try:
        # "r:": uncompressed, read at offsets (a remote shard through its file system's buffered file)
        with shard.open("rb") as file, tarfile.open(fileobj=file, mode="r:") as archive:
            members.extend((m.name, m.offset_data) for m in _members(archive) if m.isfile())
    except (tarfile.TarError, OSError) as error:
        return members, str(error)
    return members, None


class _NotPlain(Exception):
    """A member `_plain_members` leaves to `tarfile`."""


def _plain_members(shard: Path) -> tuple[list[tuple[str, int]], str | None]:
    """`shard_members` for a shard of regular files and folders with ustar or GNU headers (no extension
    headers): each header read and checked as `tarfile` does, the data passed over; faster than
    `TarFile` (`docs/measurements/tar_listing_cpu.json`).

    Raises:
        _NotPlain: Another kind of member (a pax or long-name header, a link), or a checksum this
            does not take: `tarfile` lists the shard.
    """
    try:
        with shard.open("rb", buffering=0) as file:
            return _plain_headers(partial(os.pread, file.fileno()), os.fstat(file.fileno()).st_size)
    except OSError as error:
        return [], str(error)


def _plain_headers(read_at: Callable[[int, int], bytes], size: int) -> tuple[list[tuple[str, int]], str | None]:
    """`_plain_members` of a file of `size` bytes that `read_at(length, offset)` reads.

    Raises:
        _NotPlain: As `_plain_members`.
    """
    members: list[tuple[str, int]] = []
    offset = 0
    try:
        while offset + BLOCK <= size:
            header = read_at(BLOCK, offset)  # one call a header, the data passed over
            if header == EMPTY_BLOCK:
                return members, None  # the end of the archive
            if header[156:157] not in PLAIN_TYPES or _checksum(header) != _number(header[148:156]):
                raise _NotPlain  # tarfile also takes old signed checksums, and names a bad header
            length = _number(header[124:136])
            name = header[:100].split(b"\0", 1)[0]
            if header[257:263] == b"ustar\0" and (folder := header[345:500].split(b"\0", 1)[0]):
                name = folder + b"/" + name  # POSIX ustar: a long path's folder in `prefix`
            if header[156:157] != b"5":
                members.append((name.decode("utf-8", "surrogateescape"), offset + BLOCK))
            offset += BLOCK + -(-length // BLOCK) * BLOCK
            if offset > size:
                return members, f"unexpected end of data in {members[-1][0] if members else 'a member'}"
    except (OSError, ValueError) as error:
        return members, str(error)
    return members, None if offset == size else f"{size - offset} bytes after the last member, no header"


def _checksum(header: bytes) -> int:
    """A header's checksum: its bytes summed, the checksum field counted as spaces."""
    return sum(header) - sum(header[148:156]) + 8 * 32


def _number(field: bytes) -> int:
    """A header's number field: octal digits, or base-256 where its first bit is set (GNU, large sizes).

    Raises:
        ValueError: Neither.
    """
    if field[0] & 0x80:
        return int.from_bytes(field[1:], "big")
    digits = field.split(b"\0", 1)[0].strip()
    return int(digits, 8) if digits else 0


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
    if is_remote(shard):  # one request: the header and the first `FIRST_READ` bytes, the rest after
        first = remote_range(shard, offset - BLOCK, offset + FIRST_READ)
        member = _member_header(first[:BLOCK], shard, offset)
        data = first[BLOCK : BLOCK + member.size]
        if len(data) < member.size and len(first) == BLOCK + FIRST_READ:
            data += remote_range(shard, offset + FIRST_READ, offset + member.size)
    else:
        with shard.open("rb") as file:
            file.seek(offset - BLOCK)
            member = _member_header(file.read(BLOCK), shard, offset)
            data = file.read(member.size)
    if len(data) < member.size:
        raise OSError(f"{shard}: cut short in {member.name} ({len(data)} of {member.size} bytes)")
    return data


def read_members(shard, offsets: list[int]) -> list[bytes | None]:
    """The bytes of the members of a remote shard whose data start at `offsets` (ascending, as listed), in as few
    requests as `SPAN_READ` allows: each from a member's header to `FIRST_READ` past the start of the last one it
    covers (the rest of a larger one after). None for a member not read so (`read_member` alone says why)."""
    found: list[bytes | None] = []
    first = 0
    while first < len(offsets):
        last = first  # the members this request covers: ascending, their span within SPAN_READ
        while (
            last + 1 < len(offsets)
            and offsets[last] < offsets[last + 1]
            and offsets[last + 1] + FIRST_READ - offsets[first] <= SPAN_READ
        ):
            last += 1
        begin = offsets[first] - BLOCK
        try:
            span = remote_range(shard, begin, offsets[last] + FIRST_READ)
        except Exception:  # noqa: BLE001 - the network, credentials: each read alone then, its error its own
            span = b""
        for offset in offsets[first : last + 1]:
            found.append(_member_in(span, begin, shard, offset))
        first = last + 1
    return found


def _member_in(span: bytes, begin: int, shard, offset: int) -> bytes | None:
    """The member at `offset` from `span` (the shard's bytes from `begin`), its rest read after; None when not so."""
    at = offset - begin
    try:
        member = _member_header(span[at - BLOCK : at], shard, offset)
        data = span[at : at + member.size]
        if len(span) == at + FIRST_READ and len(data) < member.size:  # a larger photo: its rest
            data += remote_range(shard, offset + len(data), offset + member.size)
    except Exception:  # noqa: BLE001 - no header there, the network: read alone, its error its own
        return None
    return data if len(data) == member.size else None


def _member_header(block: bytes, shard: Path, offset: int) -> tarfile.TarInfo:
    """The header of the member whose data starts at `offset`.

    Raises:
        ValueError: `block` is no header (the shard changed since it was listed).
    """
    try:
        return tarfile.TarInfo.frombuf(block, "utf-8", "surrogateescape")
    except tarfile.HeaderError as error:
        problem = f"{shard}: no member at byte {offset} ({error}): the shard changed since it was listed"
        raise ValueError(problem) from None


class ShardIndex:
    """Where each photo member's data starts, by name, for the shards asked for last (`KEPT` of them):
    the gallery and exports find photos by key, mostly in shard order."""

    KEPT = 4

    def __init__(self) -> None:
        self._shards: OrderedDict[Path, dict[str, int]] = OrderedDict()

    def offset(self, shard: Path, member: str) -> int | None:
        if shard not in self._shards:
            self._shards[shard] = dict(shard_members(shard)[0])
            if len(self._shards) > self.KEPT:
                self._shards.popitem(last=False)
        self._shards.move_to_end(shard)
        return self._shards[shard].get(member)
