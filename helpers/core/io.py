"""Small file helpers: atomic writes, JSONL reading that reports bad lines, metrics files, JSON arrays and
CSV written as streamed pieces."""

from __future__ import annotations

import csv
import functools
import hashlib
import io
import json
import logging
import os
import shutil
import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from helpers.core.records import json_line, json_safe, parse_line

logger = logging.getLogger(__name__)


def atomic_write_text(path: str | Path, text: str | Iterable[str]) -> Path:
    """Writes `text` (a string, or pieces written as they come) to `path` through a temporary file in
    the same folder, then renames.

    A reader never sees a half-written file, and a crash leaves the old file intact.
    """
    return _atomic_write(Path(path), [text] if isinstance(text, str) else text, "w", sync=True)


def json_array(items: Iterable, indent: int | None = None) -> Iterator[str]:
    """`json.dumps(list(items), ensure_ascii=False, indent=indent)` as pieces, one item at a time."""
    first = True
    for item in items:
        yield _array_item(item, first, indent)
        first = False
    yield _array_end(first, indent)


def _array_item(item, first: bool, indent: int | None) -> str:
    text = json.dumps(item, ensure_ascii=False, indent=indent)
    if indent is None:
        return ("[" if first else ", ") + text
    pad = " " * indent
    return ("[\n" if first else ",\n") + pad + text.replace("\n", "\n" + pad)


def _array_end(empty: bool, indent: int | None) -> str:
    return "[]" if empty else ("]" if indent is None else "\n]")


class JsonArrayWriter:
    """`json_array`'s text written to `file` an item at a time (`add`), closed by `end`: for files filled side by
    side from one pass over the rows."""

    def __init__(self, file: IO[str], indent: int | None = None) -> None:
        self.file, self.indent, self.empty = file, indent, True

    def add(self, item) -> None:
        self.file.write(_array_item(item, self.empty, self.indent))
        self.empty = False

    def end(self) -> None:
        self.file.write(_array_end(self.empty, self.indent))


class AtomicFiles:
    """Text files written side by side, each through a temporary file in its folder, all renamed into place once
    every one is written: a reader never sees a half-written file, and a failure while writing leaves each old file
    as it was and no temporary file behind. `with AtomicFiles(paths) as files:` gives each path's open file."""

    def __init__(self, paths: Iterable[Path]) -> None:
        self.paths = [Path(path) for path in paths]
        self.temporaries: dict[Path, str] = {}
        self.files: dict[Path, IO[str]] = {}

    def __enter__(self) -> dict[Path, IO[str]]:
        try:
            for path in self.paths:
                path.parent.mkdir(parents=True, exist_ok=True)
                handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".partial")
                self.temporaries[path] = temporary
                os.chmod(temporary, 0o644)  # mkstemp makes 0600; outputs are meant to be shared
                self.files[path] = os.fdopen(handle, "w", encoding="utf-8")
        except BaseException:
            self._discard()
            raise
        return self.files

    def __exit__(self, kind, error, trace) -> None:
        try:
            if kind is None:
                for file in self.files.values():
                    file.flush()
                    os.fsync(file.fileno())
                    file.close()
                for path in self.paths:
                    os.replace(self.temporaries.pop(path), path)
        except OSError as failure:  # a full disk, a file size limit: say which files
            names = ", ".join(str(path) for path in self.paths)
            raise OSError(failure.errno, f"writing {names}: {failure.strerror or failure}") from failure
        finally:
            self._discard()  # the temporary files not renamed: all of them when the writing failed

    def _discard(self) -> None:
        for file in self.files.values():
            file.close()
        for temporary in self.temporaries.values():
            Path(temporary).unlink(missing_ok=True)
        self.temporaries.clear()


def feature_collection(features: Iterable[dict], lines: bool = False) -> Iterator[str]:
    """GeoJSON features as a FeatureCollection's text (RFC 7946), in pieces, a feature at a time; with `lines`,
    a GeoJSON text sequence instead: a feature a line (GDAL's GeoJSONSeq, read as it streams)."""
    if lines:
        yield from (json.dumps(feature, ensure_ascii=False) + "\n" for feature in features)
        return
    yield '{"type": "FeatureCollection", "features": '
    yield from json_array(features)
    yield "}\n"


def point_feature(longitude: float, latitude: float, properties: dict) -> dict:
    """A GeoJSON point feature."""
    return {
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": [longitude, latitude]},
        "properties": properties,
    }


def excel_csv(rows: Iterable[list]) -> Iterator[str]:
    """Rows (the header first) as CSV text pieces, a row each: UTF-8 with a byte-order mark (which Excel
    needs to read it as UTF-8) and CRLF line ends."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    mark = "\ufeff"
    for cells in rows:
        buffer.seek(0)
        buffer.truncate()
        writer.writerow(cells)
        yield mark + buffer.getvalue()
        mark = ""


def atomic_write_bytes(path: str | Path, data: bytes, sync: bool = True) -> Path:
    """`atomic_write_text` for bytes. `sync=False` skips the fsync (a photo copied among 10^6: a power cut
    may then leave it empty under its name, which the copying side must check for)."""
    return _atomic_write(Path(path), [data], "wb", sync=sync)


def _atomic_write(path: Path, pieces: Iterable, mode: str, sync: bool) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".partial")
    try:
        os.chmod(temporary, 0o644)  # mkstemp makes 0600; outputs are meant to be shared
        with os.fdopen(handle, mode, **({"encoding": "utf-8"} if "b" not in mode else {})) as file:
            file.writelines(pieces)
            if sync:
                file.flush()
                os.fsync(file.fileno())
        os.replace(temporary, path)
    except OSError as error:  # a full disk, a file size limit: say which file
        Path(temporary).unlink(missing_ok=True)
        raise OSError(error.errno, f"writing {path}: {error.strerror or error}") from error
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path


def json_opening(path: Path) -> bytes:
    """A JSON file's first character, past a byte-order mark and white space: `[` an array (LLaVA
    conversations), `{` an object (COCO)."""
    with path.open("rb") as file:
        return file.read(4096).lstrip(b"\xef\xbb\xbf \t\r\n")[:1]


def json_array_items(path: Path) -> Iterator:
    """The items of a JSON array file, read as a stream (`ijson`). Its C parser stops at an integer beyond 64
    bits or a float beyond a double, which JSON allows (`json.loads` reads them): the file is then read again from
    the start with such numbers as Decimal, the items already given passed over.

    Raises:
        ValueError: Not valid JSON, naming after which entry.
    """
    import ijson

    given = 0
    for use_float in (True, False):
        number = 0
        with path.open("rb") as stream:
            try:
                for number, entry in enumerate(ijson.items(stream, "item", use_float=use_float), start=1):
                    if number > given:
                        given = number
                        yield entry
                return
            except ijson.JSONError as error:
                if use_float:
                    continue
                raise ValueError(f"{path}: not valid JSON after entry {number}: {error}") from None


def write_jsonl(path: str | Path, records: Iterable[dict]) -> Path:
    """Writes one JSON object per line (`json_line`: valid JSON whatever the values), atomically."""
    return atomic_write_text(path, (json_line(r) for r in records))


def write_problems(path: Path, problems: list[dict], what: str) -> None:
    """A run's problems listed in `path` and said (`what`: "rows not exported"); with none, an earlier
    run's list there is removed."""
    if problems:
        write_jsonl(path, problems)
        logger.warning("%d %s: %s lists them", len(problems), what, path)
    else:
        path.unlink(missing_ok=True)


@dataclass(frozen=True)
class JsonlLine:
    """One line of a JSONL file: the parsed record, or the reason it could not be parsed."""

    line_number: int
    record: dict | None
    error: str | None = None


def iter_jsonl(path: str | Path) -> Iterator[JsonlLine]:
    """Yields every non-blank line of a JSONL file; unreadable lines (not UTF-8, not JSON, not an
    object) carry an error naming the file and line instead of raising."""
    with open(path, "rb") as file:
        for number, raw in enumerate(file, start=1):  # binary lines end at b"\n" only
            if not raw.strip():
                continue
            record, problem = parse_line(raw)
            yield JsonlLine(number, record, f"{path}:{number}: {problem}" if problem else None)


def write_metrics(path: str | Path, metrics: dict) -> Path:
    """Writes a notebook's key numbers as pretty JSON (atomically) and logs where."""
    # non-finite numbers as null: a metric that could not be measured
    path = atomic_write_text(path, json.dumps(json_safe(metrics, True), indent=2, sort_keys=True) + "\n")
    logger.info("Metrics written to %s", path)
    return path


def partial_dir(target: Path) -> Path:
    """An empty side folder next to `target`, to fill and then hand to `replace_dir`."""
    partial = target.with_name(f".{target.name}.partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    return partial


def replace_dir(finished: Path, target: Path) -> Path:
    """Moves a completely written folder into place; the old one is removed only after the swap.

    Writers fill `finished` (a sibling of `target`) first, so readers see the old folder or the
    new one, never a half-written one.
    """
    if target.exists():
        stale = target.with_name(f".{target.name}.stale")
        shutil.rmtree(stale, ignore_errors=True)
        target.rename(stale)
        finished.rename(target)
        shutil.rmtree(stale)
    else:
        target.parent.mkdir(parents=True, exist_ok=True)
        finished.rename(target)
    return target


WEIGHT_SUFFIXES = (".pt", ".pth", ".safetensors", ".bin", ".onnx", ".json")


@functools.lru_cache(maxsize=64)
def _file_digest(path: str, size: int, mtime_ns: int) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def weights_fingerprint(name_or_path: str | Path) -> str:
    """What identifies a model's weights: a SHA-256 over a checkpoint file, or over a model folder's
    weight and config files (names and contents; every file of a folder Ultralytics exported, such as
    OpenVINO's .xml and .bin, which its metadata.yaml marks); a hub id stands for itself. Cached per file state."""
    path = Path(name_or_path).expanduser()
    if path.is_file():
        stat = path.stat()
        return _file_digest(str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    if path.is_dir():
        digest = hashlib.sha256()
        exported = (path / "metadata.yaml").is_file()
        for file in sorted(f for f in path.rglob("*") if f.is_file() and (exported or f.suffix in WEIGHT_SUFFIXES)):
            digest.update(str(file.relative_to(path)).encode())
            digest.update(weights_fingerprint(file).encode())
        return digest.hexdigest()
    return f"hub:{name_or_path}"


def predictions_fingerprint(path: str | Path) -> str:
    """What identifies detections saved by a detector (`helpers.cv.predictions`): a COCO results file's
    SHA-256, or one over a save_txt folder's label files (names and contents; read again only when a
    file's size or time changed)."""
    path = Path(path).expanduser()
    if path.is_file():
        return weights_fingerprint(path)
    files = sorted(f for f in path.rglob("*.txt") if f.is_file())
    state = hashlib.sha256()
    for file in files:
        stat = file.stat()
        state.update(f"{file.relative_to(path)}|{stat.st_size}|{stat.st_mtime_ns}\n".encode("utf-8", "surrogateescape"))
    return _label_files_digest(str(path.resolve()), state.hexdigest())


@functools.lru_cache(maxsize=8)
def _label_files_digest(folder: str, state: str) -> str:
    digest = hashlib.sha256()
    for file in sorted(f for f in Path(folder).rglob("*.txt") if f.is_file()):
        digest.update(str(file.relative_to(folder)).encode("utf-8", "surrogateescape") + b"\0")
        digest.update(file.read_bytes() + b"\0")
    return digest.hexdigest()


def name_suffix(name: str) -> str:
    """The ending of a file's name (its last `/` part), lower case, by `Path.suffix`'s rule without a `Path` per
    file: "...jpg" ends ".jpg" (`os.path.splitext` says it has none), ".jpg" and "a." have none."""
    name = name.rpartition("/")[2]
    dot = name.rfind(".")
    return name[dot:].lower() if 0 < dot < len(name) - 1 else ""


SHARD_SUFFIX = ".tar"  # a tar shard's (WebDataset, img2dataset: `helpers.core.tar_photos`)
APPLE_DOUBLE = b"\x00\x05\x16\x07"  # the first bytes of macOS's `._` files (AppleDouble)


def is_mac_metadata(name: str, read_head: Callable[[], bytes]) -> bool:
    """Whether the file `name` (a path, folders joined with "/") is macOS's metadata of the file beside it, not a
    photo: `._DJI_0001.JPG`, AppleDouble, which a Mac writes beside each file it copies to a card, drive or share
    that cannot hold it (exFAT, FAT, SMB) and into the tar files it makes. `read_head` gives the file's first bytes;
    only a `._` name's are read, and a photo named so stays one."""
    if not name.rpartition("/")[2].startswith("._"):
        return False
    try:
        return read_head()[:4] == APPLE_DOUBLE
    except OSError:  # unreadable: listed, and its error said where it is read
        return False


def _head(path: str) -> bytes:
    with open(path, "rb") as file:
        return file.read(4)


def file_head(path: str) -> Callable[[], bytes]:
    """`is_mac_metadata`'s `read_head` for the file at `path`."""
    return functools.partial(_head, path)


def side_files(output: Path) -> dict[str, Path]:
    """The files beside a CV output `X.jsonl`: `X.errors.jsonl` and `X.manifest.json`."""
    return {
        "errors": output.with_name(f"{output.stem}.errors.jsonl"),
        "manifest": output.with_name(f"{output.stem}.manifest.json"),
    }
