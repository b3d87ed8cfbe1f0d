"""Photos held in a Hugging Face dataset, read where they lie.

    desclm extract --images photos_ds/            # `Dataset.save_to_disk` (or a `DatasetDict`'s)
    desclm extract --images shards/               # a folder of Parquet files (as the Hub shards them)
    desclm extract --images train-00000.parquet   # one Parquet file

The photos are an `Image` column (`datasets.Image`: each value the photo's `bytes` and the
`path` it came from); `image_column` picks one where the dataset has several. Each photo's key,
which names it in every output, is the value of `key_column` when it names one; else its stored
`path` (what `desclm export --format hf` writes; `save_to_disk` keeps only the file name, its
Parquet the path as given), or its row number where it has none (`<split>/<row>` in a
`DatasetDict`); all rows are named by number when two photos would share a key. A row that holds
no bytes but a path (an image `datasets` left outside the dataset) is read from that path.

Read with pyarrow, not `datasets.load_dataset`, which copies Parquet whole into its cache first:
Arrow files are memory-mapped, Parquet read a row group at a time (the last ones kept, shared by
the loader threads, as photos are read in order). Listing reads only the stored paths (or the key
column), never the photos' bytes.

Parquet files in object storage (`s3://bucket/dataset/`, as a Hub dataset's `data/` folder is mirrored there: any
fsspec protocol, `helpers.core.remote`) are read where they lie the same way, through the file system's file: each
read pyarrow makes one ranged request (the footer, then a row group's column chunk whole), never the whole file. A
`save_to_disk` folder (Arrow files, memory-mapped) is read on this machine only.
"""

from __future__ import annotations

import bisect
import contextlib
import hashlib
import io
import json
import logging
import os
import tarfile
import threading
from collections import OrderedDict
from collections.abc import Iterable, Iterator
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from PIL import Image, ImageOps

from helpers.core.io import name_suffix
from helpers.core.remote import is_remote, remote_bytes, remote_folder, remote_version
from helpers.core.settings import setting
from helpers.core.tar_photos import ShardIndex, is_tar_shards, read_member, shard_files, shards_root, split_key
from helpers.core.video_frames import frame_jpeg, is_video, read_frame, split_frame_key

logger = logging.getLogger(__name__)

ORIENTATION_TAG = 0x0112  # EXIF orientation
ARROW_STATE = "state.json"  # a `save_to_disk` Dataset folder
# Parquet row groups kept read, shared by the loader threads: the photos' column at a boundary between two groups,
# and a small column beside it (ground-truth boxes) at the same rows. `datasets` writes groups of up to 100 MB.
ROW_GROUPS_KEPT = 4
DICT_STATE = "dataset_dict.json"  # a `save_to_disk` DatasetDict folder: one Dataset folder per split


# Formats Pillow only identifies (stubs), or opens only with outside programs (EPS: Ghostscript).
_NOT_DECODED = frozenset({"BUFR", "GRIB", "HDF5", "MPEG", "WMF", "EPS"})


def _heif_opener() -> bool:
    """Registers pi-heif's HEIC/HEIF opener with Pillow (phones' photos; Ultralytics opens them so too):
    decoded upright (libheif applies the photo's turn), with its EXIF. False where it is not installed
    (a HEIC photo's error line then names it)."""
    try:
        from pi_heif import register_heif_opener
    except ImportError:
        return False
    register_heif_opener()
    return True


HEIF_OPENER = _heif_opener()


def _image_suffixes() -> frozenset[str]:
    """Every file extension Pillow decodes (JPEG, PNG, TIFF, GIF, WebP, BMP, HEIC with pi-heif, ...), and
    HEIC/HEIF where pi-heif is missing (such a photo's error line names it)."""
    Image.init()
    opened = {suffix for suffix, kind in Image.registered_extensions().items() if kind in Image.OPEN}
    return frozenset(suffix for suffix in opened if Image.registered_extensions()[suffix] not in _NOT_DECODED) | {
        ".heic",
        ".heif",
    }


IMAGE_SUFFIXES = _image_suffixes()
_USUAL_SUFFIX = {"JPEG": ".jpg", "PNG": ".png", "TIFF": ".tif", "WEBP": ".webp", "GIF": ".gif", "BMP": ".bmp"}


def photo_format(data: bytes) -> str:
    """Pillow's name of the photo format `data` is in ("JPEG", "PNG", "HEIF", ...), read from its header.

    Raises:
        ValueError: `data` is no photo Pillow can identify.
    """
    try:
        with Image.open(io.BytesIO(data)) as image:
            return image.format
    except OSError as error:  # UnidentifiedImageError among them
        raise ValueError(f"not a photo Pillow knows: {error}") from None


def photo_suffix(data: bytes) -> str:
    """The usual extension of the photo format `data` is in (".jpg", ".png", ...).

    Raises:
        ValueError: `data` is no photo Pillow can identify.
    """
    kind = photo_format(data)
    return _USUAL_SUFFIX.get(kind) or min(s for s, k in Image.registered_extensions().items() if k == kind)


def photo_file_name(key: str, data: bytes) -> str:
    """A relative file name for the photo `key` (holding `data`) in a folder of copies: the key as a
    relative path (`/`-separated; a root, `.`, `..` and empty parts dropped, `\\` read as `/`), with
    its format's extension added when it has no photo extension (`train/17` -> `train/17.png`).

    Raises:
        ValueError: The key names no file, or `data` is no photo (for a key without an extension).
    """
    parts = [part for part in key.replace("\\", "/").split("/") if part not in ("", ".", "..")]
    if not parts:
        raise ValueError(f"the key {key!r} names no file")
    name = "/".join(parts)
    return name if Path(name).suffix.lower() in IMAGE_SUFFIXES else name + photo_suffix(data)


def seen_size(image) -> tuple[int, int]:
    """An opened photo's (width, height) as a person sees it: the sides swap when its EXIF turns it a quarter."""
    width, height = image.size
    return (height, width) if image.getexif().get(ORIENTATION_TAG) in (5, 6, 7, 8) else (width, height)


SPLIT_NAMES = {"validation": "val", "valid": "val"}  # a DatasetDict's split -> the split 01 and calibrate use


def image_column_setting():
    """The `image_column` setting, as each command that reads photos takes it."""
    return setting("", "Hugging Face dataset only: its photos' column (default: its one Image column)")


def key_column_setting():
    """The `key_column` setting, as each command that reads photos takes it."""
    return setting(
        "", "Hugging Face dataset only: the column naming its photos (default: their stored paths, else row numbers)"
    )


def is_photo_dataset(path: Path) -> bool:
    """Whether `path` is a `save_to_disk` folder, a Parquet file, or a folder of Parquet files of photos
    (a photo folder that also holds a Parquet file without photos, such as `extract --format parquet`
    writes, stays a photo folder); a remote one (a `UPath`) likewise."""
    if path.is_file():
        return path.suffix.lower() == ".parquet"
    if not path.is_dir():
        return False
    if (path / ARROW_STATE).is_file() or (path / DICT_STATE).is_file():
        return True
    first = next(iter(_parquet_files(path)), None)
    if first is None:
        return False
    try:
        with _parquet_source(first) as source:
            schema = pq.read_schema(source)
    except (pa.ArrowException, OSError):
        return True  # read as a dataset, whose listing then names the damaged file
    return bool(_image_columns(schema, _parquet_features(schema)))


def _parquet_files(folder: Path) -> list[Path]:
    """A folder's Parquet files (not its sub-folders'), by name."""
    return sorted(folder.glob("*.parquet"), key=lambda path: path.name)


@contextlib.contextmanager
def _parquet_source(file: Path) -> Iterator:
    """A Parquet file as pyarrow reads it: its path here; a remote one's file, each read one ranged request (pyarrow
    asks for the last 64 KiB, where the footer is, then each column chunk it reads whole: no read-ahead past them)."""
    if not is_remote(file):
        yield file
        return
    with _remote_parquet(file) as opened:
        yield opened


def _remote_parquet(file: Path):
    """A remote Parquet file opened, read as pyarrow asks (no cache, no read-ahead)."""
    return file.fs.open(file.path, "rb", cache_type="none")


def dataset_location(location: str | Path) -> Path:
    """A dataset's location as given (a command's text, an item's root): a `UPath` for a URL, else a `Path`."""
    if is_remote(location):
        from upath import UPath

        return UPath(str(location).rstrip("/")) if isinstance(location, str) else location
    return Path(location)


def _parquet_features(schema: pa.Schema) -> dict:
    """The column features `datasets` wrote into a Parquet file's metadata ({} when none, or unreadable)."""
    try:
        info = json.loads((schema.metadata or {}).get(b"huggingface", b"{}")).get("info")
    except (ValueError, AttributeError):
        return {}
    return _features_of(info if isinstance(info, dict) else None)


@dataclass(frozen=True)
class _Part:
    """One Arrow or Parquet file of the dataset."""

    file: Path
    split: str | None
    start: int  # its first row's number in the whole dataset
    rows: int
    split_start: int  # its first row's number within its split
    # a Parquet file's footer, read once (each read of a remote file is a request)
    metadata: pq.FileMetaData | None = field(default=None, compare=False, repr=False)


def _features_of(metadata: dict | None) -> dict:
    return (metadata or {}).get("features") or {}


def _image_columns(schema: pa.Schema, features: dict) -> list[str]:
    """The columns `datasets` typed `Image`, else the struct<bytes, path> columns."""
    named = [
        name for name, feature in features.items() if isinstance(feature, dict) and feature.get("_type") == "Image"
    ]
    if named:
        return [name for name in named if name in schema.names]
    return [
        field.name
        for field in schema
        if pa.types.is_struct(field.type) and {"bytes", "path"} <= {child.name for child in field.type}
    ]


class PhotoDataset:
    """A Hugging Face dataset's photos: list them (`keys`), read one by its row (`read`).

    Args:
        location: A `save_to_disk` folder (Dataset or DatasetDict), a Parquet file or a folder of them.
        image_column: The photos' column ("": the one `Image` column).
        key_column: The column whose values name the photos ("": see the module's docstring).

    Raises:
        ValueError: Not a dataset of these kinds, no (or no such, or more than one) image column,
            no such key column, or key column values that are empty or repeated (naming the rows).
    """

    def __init__(self, location: Path, image_column: str = "", key_column: str = "") -> None:
        self.location = dataset_location(location)
        self.key_column = key_column
        self.kind, self.parts, schema, features = self._open_parts()
        self.schema, self.features = schema, features  # `features`: as `datasets` describes the columns
        columns = _image_columns(schema, features)
        if image_column:
            if image_column not in schema.names:
                raise ValueError(f"{self.location}: no column {image_column!r} (image_column); it has {schema.names}")
            field = schema.field(image_column)
            if not (pa.types.is_struct(field.type) and {"bytes", "path"} <= {c.name for c in field.type}):
                raise ValueError(f"{self.location}: column {image_column!r} holds {field.type}, not images")
            self.column = image_column
        elif len(columns) == 1:
            self.column = columns[0]
        else:
            what = f"several image columns {columns}: name one with image_column" if columns else "no image column"
            raise ValueError(f"{self.location}: {what} (columns: {schema.names})")
        if key_column and key_column not in schema.names:
            raise ValueError(f"{self.location}: no column {key_column!r} (key_column); it has {schema.names}")
        self.num_rows = sum(part.rows for part in self.parts)
        self._starts = [part.start for part in self.parts]
        self._tables: dict[Path, pa.Table] = {}  # Arrow files, memory-mapped
        self._parquet = threading.local()  # per thread: its open Parquet files
        self._row_groups = _SharedReads(ROW_GROUPS_KEPT)  # the row groups read last, the threads' alike
        self._ends: dict[Path, list[int]] = {}  # Parquet files' row group bounds
        self._lock = threading.Lock()

    def _open_parts(self) -> tuple[str, list[_Part], pa.Schema, dict]:
        location = self.location
        if (
            is_remote(location)
            and location.is_dir()
            and any((location / state).is_file() for state in (DICT_STATE, ARROW_STATE))
        ):
            raise ValueError(
                f"{location}: a save_to_disk dataset (Arrow files) is read on this machine only: copy it here, or "
                "write it as Parquet (`Dataset.to_parquet`) where it lies"
            )
        if location.is_dir() and (location / DICT_STATE).is_file():
            splits = json.loads((location / DICT_STATE).read_text()).get("splits") or []
            files = [
                (location / split / entry["filename"], split) for split in splits for entry in _state(location / split)
            ]
            features = _features_of(_info(location / splits[0])) if splits else {}
            kind = "arrow"
        elif location.is_dir() and (location / ARROW_STATE).is_file():
            files = [(location / entry["filename"], None) for entry in _state(location)]
            features, kind = _features_of(_info(location)), "arrow"
        else:
            paths = [location] if location.is_file() else _parquet_files(location)
            files, kind = [(path, None) for path in paths], "parquet"
            features = {}
        if not files:
            raise ValueError(f"{location}: a dataset without data files")
        parts, schema, start, split_starts = [], None, 0, {}
        for file, split in files:
            try:
                if kind == "arrow":
                    with pa.memory_map(str(file)) as source:
                        reader = pa.ipc.open_stream(source)
                        file_schema, rows = reader.schema, sum(batch.num_rows for batch in reader)
                else:
                    with _parquet_source(file) as source:
                        metadata = pq.read_metadata(source)
                    file_schema, rows = metadata.schema.to_arrow_schema(), metadata.num_rows
            except (pa.ArrowException, OSError) as error:
                raise ValueError(f"{file}: not a readable {kind.title()} file of the dataset: {error}") from None
                features = features or _parquet_features(file_schema)
            if schema is not None and file_schema.names != schema.names:
                raise ValueError(f"{file}: columns {file_schema.names}, while {files[0][0]} has {schema.names}")
            schema = schema or file_schema
            footer = metadata if kind == "parquet" else None
            parts.append(_Part(file, split, start, rows, split_starts.get(split, 0), footer))
            start += rows
            split_starts[split] = split_starts.get(split, 0) + rows
        return kind, parts, schema, features

    def _part(self, row: int) -> _Part:
        if not 0 <= row < self.num_rows:
            raise IndexError(f"{self.location}: no row {row} (it has {self.num_rows})")
        return self.parts[bisect.bisect_right(self._starts, row) - 1]

    def _column(self, part: _Part, name: str) -> pa.ChunkedArray:
        """A whole column of one file (Arrow: memory-mapped; Parquet: read, for listing keys)."""
        if self.kind == "arrow":
            return self._arrow(part.file).column(name)
        with _parquet_source(part.file) as source:
            return pq.ParquetFile(source, metadata=part.metadata).read(columns=[name]).column(0)

    def _arrow(self, file: Path) -> pa.Table:
        with self._lock:
            if file not in self._tables:
                self._tables[file] = pa.ipc.open_stream(pa.memory_map(str(file))).read_all()
            return self._tables[file]

    def _stored_paths(self, part: _Part) -> list[str | None]:
        if self.kind == "arrow":
            return pc.struct_field(self._column(part, self.column), "path").to_pylist()  # a null photo: None
        with _parquet_source(part.file) as source:  # the photos' struct with its `path` field alone
            photos = pq.ParquetFile(source, metadata=part.metadata).read(columns=[f"{self.column}.path"]).column(0)
        return pc.struct_field(photos, "path").to_pylist()

    def keys(self) -> Iterator[tuple[str, str | None]]:
        """(key, split) of every row, in row order (see the module's docstring for the key).

        Raises:
            ValueError: A data file cannot be read (naming it), or key column values are empty or repeated.
        """
        try:
            yield from self._keys()
        except (pa.ArrowException, OSError) as error:
            raise ValueError(f"{self.location}: its photos cannot be listed: {error}") from None

    def _keys(self) -> Iterator[tuple[str, str | None]]:
        # One data file's keys at a time: 10^7 keys held at once take about a GB. Whether two rows
        # share a key is found first, from 8-byte hashes of them all.
        if self.key_column:
            part_keys = self._key_column_keys
            if repeat := self._first_repeat(part_keys):  # (an empty key raises on the way)
                first, second, key = repeat
                raise ValueError(
                    f"{self.location}: rows {first} and {second} share {self.key_column} {key!r}: keys must be unique"
                )
        elif self._first_repeat(self._path_keys):  # its stored path, else its row; all rows when two would share a key
            logger.info("%s: two photos share a stored path: keys are row numbers", self.location)
            part_keys = _rows
        else:
            part_keys = self._path_keys
        for part in self.parts:
            for key in part_keys(part):
                yield key, part.split

    def _path_keys(self, part: _Part) -> list[str]:
        return [path or number for path, number in zip(self._stored_paths(part), _rows(part))]

    def _key_column_keys(self, part: _Part) -> list[str]:
        keys = ["" if value is None else str(value) for value in self._column(part, self.key_column).to_pylist()]
        if "" in keys:
            raise ValueError(
                f"{self.location}: row {part.start + keys.index('')} has no {self.key_column!r} (key_column)"
            )
        return keys

    def _first_repeat(self, part_keys) -> tuple[int, int, str] | None:
        """The first key two rows share, and their rows (None: every key is its row's alone): hashes of
        every key first, then the keys of hashes seen twice compared."""
        keys = (key for part in self.parts for key in part_keys(part))
        hashes = np.fromiter((hash(key) for key in keys), dtype=np.int64, count=self.num_rows)
        hashes.sort()  # in place: 8 bytes a row, no copy
        suspects = set(hashes[1:][hashes[1:] == hashes[:-1]].tolist())
        if not suspects:
            return None
        first: dict[str, int] = {}
        for row, key in enumerate(key for part in self.parts for key in part_keys(part)):
            if hash(key) in suspects:
                if key in first:
                    return first[key], row, key
                first[key] = row
        return None

    def values(self, column: str) -> list:
        """Every row's value of a (small) column, in row order, as Python values.

        Raises:
            ValueError: A data file cannot be read (naming it).
        """
        try:
            return [v for part in self.parts for v in self._column(part, column).to_pylist()]
        except (pa.ArrowException, OSError) as error:
            raise ValueError(f"{self.location}: its column {column!r} cannot be read: {error}") from None

    def where(self, row: int) -> str:
        """The row named for messages: its file and its row in that file."""
        part = self._part(row)
        return f"{part.file} row {row - part.start}"

    def read(self, row: int) -> bytes:
        """The photo's encoded bytes (JPEG, PNG, ...), as stored.

        Raises:
            ValueError: The row holds no photo, or names a file that cannot be read.
        """
        value = self.cell(row, self.column)
        if not value or (value.get("bytes") is None and not value.get("path")):
            raise ValueError(f"{self.where(row)}: no photo in column {self.column!r}")
        if value.get("bytes") is not None:
            return value["bytes"]
        try:  # a photo `datasets` keeps outside the dataset: its path, as `datasets` itself opens it
            return Path(value["path"]).read_bytes()
        except OSError as error:
            raise ValueError(
                f"{self.where(row)}: its photo is the file {value['path']}, not readable: {error}"
            ) from None

    def cell(self, row: int, column: str):
        """One row's value of `column`, as Python values (an image: {"bytes", "path"}).

        Raises:
            ValueError: The data file cannot be read there (named with the row).
        """
        part = self._part(row)
        offset = row - part.start
        try:
            if self.kind == "arrow":
                return self._arrow(part.file).column(column)[offset].as_py()
            return self._parquet_cell(part, offset, column)
        except (pa.ArrowException, OSError) as error:  # a damaged file: this photo's error line, not the run's end
            raise ValueError(f"{self.where(row)}: cannot be read: {error}") from None

    def _parquet_cell(self, part: _Part, offset: int, column: str):
        ends = self._group_ends(part)
        group = bisect.bisect_right(ends, offset) - 1
        values = self._row_groups.get((part.file, group, column), lambda: self._read_group(part, group, column))
        return values[offset - ends[group]].as_py()

    def _read_group(self, part: _Part, group: int, column: str) -> pa.ChunkedArray:
        """One row group's column, read through this thread's handle of the file (kept open)."""
        files = self._parquet.__dict__.setdefault("files", {})
        if part.file not in files:  # (a remote one's file stays open with it)
            source = _remote_parquet(part.file) if is_remote(part.file) else part.file
            files[part.file] = pq.ParquetFile(source, metadata=part.metadata)
        return files[part.file].read_row_group(group, columns=[column]).column(0)

    def _group_ends(self, part: _Part) -> list[int]:
        """Where each row group of a Parquet file starts (and the last ends), counted once per file."""
        with self._lock:
            if part.file not in self._ends:
                metadata = part.metadata
                ends = [0]
                for index in range(metadata.num_row_groups):
                    ends.append(ends[-1] + metadata.row_group(index).num_rows)
                self._ends[part.file] = ends
            return self._ends[part.file]

    def version(self) -> str:
        """Changes when a data file does (its size and time; a remote one's version): names cached thumbnails."""
        if is_remote(self.location):
            stats = [remote_version(part.file) for part in self.parts]
        else:
            stats = [(str(p.file), p.file.stat().st_size, p.file.stat().st_mtime_ns) for p in self.parts]
        return hashlib.sha256(json.dumps(stats).encode()).hexdigest()[:16]


class _SharedReads:
    """The values read last by key, shared by the threads (`kept` of them, least recently used dropped): a key asked
    for while a thread reads it waits for that read, so each row group is read once, not once a thread (each
    thread's own copy read a remote file's photos once for every loader thread, and held a row group each)."""

    def __init__(self, kept: int) -> None:
        self._lock = threading.Lock()
        self._kept = kept
        self._reads: OrderedDict[tuple, Future] = OrderedDict()

    def get(self, key: tuple, read):
        """The value of `key`, read by `read()` unless it is kept or being read. A failed read raises in each thread
        that waited for it, and is not kept (the next ask reads again)."""
        with self._lock:
            future = self._reads.get(key)
            reading = future is None
            if reading:
                future = self._reads[key] = Future()
                while len(self._reads) > self._kept:
                    self._reads.popitem(last=False)
            else:
                self._reads.move_to_end(key)
        if reading:
            try:
                future.set_result(read())
            except BaseException as error:
                future.set_exception(error)
                with self._lock:
                    if self._reads.get(key) is future:
                        del self._reads[key]
        return future.result()


def _rows(part: _Part) -> list[str]:
    """The part's rows named by number: `<split>/<row in split>` in a DatasetDict, else the row."""
    if part.split:
        return [f"{part.split}/{part.split_start + offset}" for offset in range(part.rows)]
    return [str(part.start + offset) for offset in range(part.rows)]


def _state(folder: Path) -> list[dict]:
    return json.loads((folder / ARROW_STATE).read_text()).get("_data_files") or []


def _info(folder: Path) -> dict | None:
    info = folder / "dataset_info.json"
    return json.loads(info.read_text()) if info.is_file() else None


def open_photo_dataset(location: str, image_column: str = "", key_column: str = "") -> PhotoDataset:
    """`PhotoDataset`, opened once per process (the decoding threads and Ray tasks share it: threads asking at once
    wait for one opening, whose row groups they then share); `location` a path or a URL. The last
    `DATASETS_KEPT` opened are kept."""
    key = (location, image_column, key_column)
    with _OPENING:
        dataset = _OPENED.pop(key, None) or PhotoDataset(dataset_location(location), image_column, key_column)
        _OPENED[key] = dataset  # the most recently asked last
        while len(_OPENED) > DATASETS_KEPT:
            _OPENED.popitem(last=False)
        return dataset


def forget_photo_datasets() -> None:
    """Lets go of the datasets opened: the next `open_photo_dataset` opens its dataset afresh (its footers and
    row groups read again)."""
    with _OPENING:
        _OPENED.clear()


DATASETS_KEPT = 8
_OPENING = threading.Lock()
_OPENED: OrderedDict[tuple[str, str, str], PhotoDataset] = OrderedDict()
_PARENTS_DATASETS: list = []  # in a forked child: its parent's opened datasets, never used there (see `_forked`)


def _forked() -> None:
    """In a forked child (multiprocessing's fork, a DataLoader's workers): its own opening lock and datasets. A
    thread of the parent's may have held the lock, or a dataset's own locks, at the fork; the child has no such
    thread, so its first opening (or read) waited for ever. The parent's datasets stay referenced, not freed in
    the child (their open files and remote file systems are the parent's)."""
    global _OPENING
    _OPENING = threading.Lock()
    _PARENTS_DATASETS.append(dict(_OPENED))
    _OPENED.clear()


os.register_at_fork(after_in_child=_forked)


class PhotoKeys:
    """Photos by key, wherever they lie: a folder (`<folder>/<key>`, a tar shard's member, a video's
    frame as a JPEG) or a Hugging Face dataset (`PhotoDataset`'s keys), for the pages and exports that
    show or copy them.

    A dataset's photos are found by reading its keys on from where the last one was found: exports
    ask for them in the dataset's order (01 writes its records so), and keys passed over are kept
    until they are asked for, so no map of every row is held (10^7 keys take about a GB). Asked
    for in another order, the map of passed keys grows as far as the order needs; the last
    `RECENT` photos found answer again at once (an export reads a photo's size, then copies it)."""

    RECENT = 1024

    def __init__(self, images: Path, image_column: str = "", key_column: str = "") -> None:
        self.images, self.image_column, self.key_column = images, image_column, key_column
        # tar shards before a dataset: img2dataset puts Parquet files beside its shards
        dataset = not is_tar_shards(images, IMAGE_SUFFIXES) and is_photo_dataset(images)
        self.dataset = PhotoDataset(images, image_column, key_column) if dataset else None
        self._rows: dict[str, int] | None = None  # `only`'s map
        self._passed: dict[str, int] = {}  # keys read past, not yet asked for
        self._recent: OrderedDict[str, int] = OrderedDict()  # the last photos found
        self._cursor: Iterator[tuple[int, tuple[str, str | None]]] | None = None
        self._wanted: set[str] | None = None  # `only`'s keys
        self._lock = threading.Lock()
        self._version = self.dataset.version() if self.dataset else ""
        self._shards = ShardIndex()  # photos in tar shards under a folder: where each one's data starts
        self._remote_files: dict[str, bool] = {}  # a remote folder's shards and videos asked for: whether each is one

    def only(self, keys: Iterable[str]) -> None:
        """From now on, only these photos are asked for, in any order (the gallery's sample): a map of
        their rows is made once. Another key is not found."""
        with self._lock:
            self._wanted, self._rows = set(keys), None

    def _row(self, key: str) -> int:
        with self._lock:  # threads make thumbnails: one reader of the keys at a time
            if self._wanted is not None:
                if self._rows is None:
                    rows = enumerate(self.dataset.keys())
                    self._rows = {k: row for row, (k, _) in rows if k in self._wanted}
                row = self._rows.get(key)
            else:
                row = self._next_row(key)
        if row is None:
            raise FileNotFoundError(f"{self.images}: no photo {key!r} in the dataset")
        return row

    def _next_row(self, key: str) -> int | None:
        """The row of `key`: a recent or passed one, else read on (once round from the start)."""
        if key in self._recent:
            return self._recent[key]
        row = self._passed.pop(key, None)
        if row is None:
            row = self._read_on(key)
        if row is None:  # not after where the last one was found: from the start, once
            row = self._read_on(key)
        if row is not None:
            self._recent[key] = row
            if len(self._recent) > self.RECENT:
                self._recent.popitem(last=False)
        return row

    def _read_on(self, key: str) -> int | None:
        """Reads the keys on to `key` (from the start when the last reading ended), keeping those passed."""
        if self._cursor is None:
            self._cursor, self._passed = enumerate(self.dataset.keys()), {}
        for number, (found, _) in self._cursor:
            if found == key:
                return number
            if found not in self._recent:
                self._passed[found] = number
        self._cursor = None
        return None

    def name(self, key: str) -> str:
        """The photo for messages."""
        if self.dataset:
            return f"{self.images} [{key}]"
        if in_video := self._in_video(key):
            return f"{self.images / in_video[0]} [at {in_video[1] / 1000:.3f} s]"
        in_shard = self._in_shard(key)
        return f"{self.images / in_shard[0]} [{in_shard[1]}]" if in_shard else str(self.images / key)

    def is_video_frame(self, key: str) -> bool:
        """Whether the key names a video's frame (read by decoding it, `read_bytes` makes a JPEG of it)."""
        return self.dataset is None and self._in_video(key) is not None

    def _in_video(self, key: str) -> tuple[str, int] | None:
        """(video, milliseconds) of a key naming a video's frame under the folder, else None."""
        in_video = split_frame_key(key)
        return in_video if in_video and self._holds(in_video[0]) else None

    def _in_shard(self, key: str) -> tuple[str, str] | None:
        """(shard, member) of a key naming a photo in a tar shard under the folder, else None."""
        in_shard = split_key(key)
        return in_shard if in_shard and self._holds(in_shard[0]) else None

    def _holds(self, name: str) -> bool:
        """Whether the folder holds the file `name` (a video, a tar shard); a remote folder asked once a file."""
        if not is_remote(self.images):
            return (self.images / name).is_file()
        if name not in self._remote_files:
            self._remote_files[name] = (self.images / name).is_file()
        return self._remote_files[name]

    def read_bytes(self, key: str) -> bytes:
        """The photo's file content. Raises OSError (FileNotFoundError when there is none) or ValueError."""
        if self.dataset is None and is_remote(self.images) and not self._in_shard(key) and not self._in_video(key):
            return remote_bytes(self.images / key)
        if self.dataset is None:
            if in_video := self._in_video(key):  # the frame as a JPEG file
                return frame_jpeg(self.images / in_video[0], in_video[1])
            if in_shard := self._in_shard(key):
                return read_member(self.images / in_shard[0], self._offset(key, *in_shard))
            return (self.images / key).read_bytes()
        return self.dataset.read(self._row(key))

    def _offset(self, key: str, shard: str, member: str) -> int:
        with self._lock:  # threads make thumbnails: one reader of a shard's index at a time
            offset = self._shards.offset(self.images / shard, member)
        if offset is None:
            raise FileNotFoundError(f"{self.images / shard}: no member {member!r} (photo {key!r})")
        return offset

    def image(self, key: str):
        """The photo as 8-bit RGB, turned as its EXIF orientation says (as 01 saw it: its boxes fit); a
        video's frame as decoded (no JPEG made of it in between)."""
        if self.is_video_frame(key):
            video, milliseconds = self._in_video(key)
            return read_frame(self.images / video, milliseconds)
        with Image.open(io.BytesIO(self.read_bytes(key))) as image:
            return ImageOps.exif_transpose(image).convert("RGB")

    def exists(self, key: str) -> bool:
        if self.dataset is None:
            if self._in_video(key):  # a frame within the video's length (01 listed it so)
                return True
            if in_shard := self._in_shard(key):
                try:
                    self._offset(key, *in_shard)
                except (FileNotFoundError, OSError, tarfile.TarError):
                    return False
                return True
            return (self.images / key).is_file()
        try:
            self._row(key)
        except FileNotFoundError:
            return False
        return True

    def version(self, key: str) -> str:
        """Changes when the photo may have: its path, size and time; a dataset's files' likewise."""
        if self.dataset is None and is_remote(self.images):
            if inside := self._in_shard(key) or self._in_video(key):  # the shard's or video's version, and which
                return f"{remote_version(self.images / inside[0])}|{inside[1]}"
            return remote_version(self.images / key)
        if self.dataset is None:
            inside = self._in_video(key) or self._in_shard(key)  # (video or shard, frame or member)
            photo = self.images / (inside[0] if inside else key)
            stat = photo.stat()
            return f"{photo.resolve()}|{stat.st_size}|{stat.st_mtime_ns}" + (f"|{inside[1]}" if inside else "")
        where = self.images if is_remote(self.images) else self.images.resolve()
        return f"{where}|{self._version}|{key}"


def cv_output_manifest(cv_output: Path) -> dict:
    """A CV output's manifest (`X.manifest.json` beside `X.jsonl`: its settings, the photos' `image_root`),
    {} when there is none or it cannot be read."""
    from helpers.core.io import side_files

    try:
        settings = json.loads(side_files(cv_output)["manifest"].read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return settings if isinstance(settings, dict) else {}


def _photos_at(images: Path, image_column: str, key_column: str) -> PhotoKeys | None:
    """The photos `images` holds where the records' keys are relative to it; None for a file that only names
    them (a data.yaml, COCO .json, .txt list: here or in a bucket)."""
    if name_suffix(images.name) == ".txt" and (is_remote(images) or images.is_file()):
        return None
    if is_remote(images):  # a folder, or one tar shard, video or Parquet file (`require_photos`')
        if not is_tar_shards(images, IMAGE_SUFFIXES) and is_photo_dataset(images):
            return PhotoKeys(images, image_column, key_column)
        return PhotoKeys(shards_root(images))
    if images.is_dir() or is_photo_dataset(images):
        return PhotoKeys(images, image_column, key_column)
    if shard_files(images):  # one tar shard: its photos' keys start with its name
        return PhotoKeys(shards_root(images))
    if is_video(images.name) and images.is_file():  # one video: its frames' keys start with its name
        return PhotoKeys(images.parent.resolve())
    return None


def photos_of_cv_output(cv_output: Path) -> PhotoKeys | None:
    """The photos a CV output's keys name, as its manifest records them: the folder or dataset 01 read
    (a data.yaml's, COCO file's or list's root) and its columns. None when there is no manifest or its
    photos are gone."""
    settings = cv_output_manifest(cv_output)
    root = settings.get("image_root")
    if not root:
        return None
    if is_remote(root):  # a folder in object storage, as 01 read it
        try:
            folder = remote_folder(root, "Photos (the CV output's image_root)", files=(".parquet",))
        except (OSError, ValueError) as error:
            logger.warning("%s", error)
            return None
        return PhotoKeys(folder, settings.get("image_column", ""), settings.get("key_column", ""))
    if not Path(root).exists():
        return None
    return PhotoKeys(Path(root), settings.get("image_column", ""), settings.get("key_column", ""))


def photos_for(
    images: Path | None, image_column: str = "", key_column: str = "", cv: Path | None = None
) -> PhotoKeys | None:
    """The photos a page or an export shows: `images` as 01 took it. A folder (a remote one too, as
    `require_photos` returns it) or a dataset is used as it is; a data.yaml, COCO .json or .txt list by the root
    its records' keys are relative to, which `cv`'s manifest names. Without `images`, None.

    Raises:
        ValueError: `images` is such a file and no `cv` manifest says where its photos are.
    """
    if images is None:
        return None
    found = _photos_at(images, image_column, key_column)
    if found is not None:
        return found
    recorded = photos_of_cv_output(cv) if cv is not None else None
    if recorded is None:
        raise ValueError(
            f"{images} is a file: give the folder the records' image paths are relative to (a data.yaml's dataset "
            "root, a COCO file's image folder, a list's folder), or --cv with the CV output 01 wrote from it "
            "(its manifest names that folder)"
        )
    logger.info("%s: photos from %s, as %s's manifest records", images, recorded.images, cv)
    return recorded
