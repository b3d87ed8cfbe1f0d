"""Photos where they lie in object storage: a folder given as a URL (`s3://bucket/photos/`, `gs://...`, `az://...`, any
protocol fsspec knows) read where it is, through fsspec's file system for the protocol (`s3fs`, `gcsfs`, `adlfs`,
...: installed by the user, as `datasets` and Ray Data ask too) and `universal_pathlib`'s paths, so that a folder
and its photos are used as a local `Path` is (`folder / key`, `read_bytes`, `is_file`, `stat`). A folder of tar
shards is read where it lies as well (`helpers.core.tar_photos`).

Credentials and endpoints come as the protocol's own library reads them (`AWS_PROFILE`, `AWS_ENDPOINT_URL`,
`GOOGLE_APPLICATION_CREDENTIALS`, ...) or through fsspec's settings (`FSSPEC_S3_ENDPOINT_URL`, `FSSPEC_S3`
as JSON): nothing is asked for here, and nothing is reached unless a URL is given.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from tqdm.auto import tqdm

from helpers.core.io import is_mac_metadata, name_suffix

logger = logging.getLogger(__name__)

LOCAL_PROTOCOLS = frozenset({"", "file", "local"})
LISTING_THREADS = 16  # a folder's listings in flight at once (each waits on its pages' round trips)
FOLDERS_SHOWN = 8  # listing more top-level folders than this shows progress
# What an object's `info` says of its version, most telling first: a content hash, else when it was written
VERSION_FIELDS = (
    "ETag",
    "etag",
    "md5Hash",
    "content_md5",
    "LastModified",
    "last_modified",
    "updated",
    "mtime",
    "created",
)


def is_remote(location) -> bool:
    """Whether `location` (a string as given, or a path object) names a place reached through a remote file
    system (`s3://...`), not this machine's (a path, `file://...`)."""
    if isinstance(location, Path):
        return False
    if isinstance(location, str):
        protocol, separator, _ = location.partition("://")
        return bool(separator) and protocol.lower() not in LOCAL_PROTOCOLS
    return str(getattr(location, "protocol", "")) not in LOCAL_PROTOCOLS  # a `UPath`


def remote_folder(url: str, what: str, files: tuple[str, ...] = ()):
    """The remote folder at `url`, checked: it exists and is a folder (or a file with one of the extensions
    `files`: a tar shard, a video, a dataset's Parquet file).

    Args:
        url: The folder's URL (`s3://bucket/photos/`).
        what: What it is, for the messages ("Photos (--images)").
        files: Extensions (".tar") of the files taken as well.

    Returns:
        Its `UPath`.

    Raises:
        ValueError: The protocol is unknown, or its file system's package is not installed (naming it).
        FileNotFoundError: Nothing is there.
        NotADirectoryError: It is one file, not of `files` (a folder of photos is read, as a local one is).
        OSError: The storage could not be read (credentials, permissions, the network), in one line.
    """
    from upath import UPath

    try:
        folder = UPath(url.rstrip("/"))
        folder.fs.invalidate_cache(folder.path)  # listed now, not as an earlier run in this process saw it
        is_folder = folder.is_dir()
        exists = is_folder or folder.exists()
    except ImportError as error:  # fsspec names the package: "Install s3fs to access S3"
        raise ValueError(f"{what}: {url}: {error}") from None
    except ValueError as error:  # "Protocol not known: ..."
        raise ValueError(f"{what}: {url}: {error}") from None
    except Exception as error:  # noqa: BLE001 - credentials, permissions, the network: one line naming the URL
        raise OSError(f"{what}: {url} could not be read: {type(error).__name__}: {error}") from None
    if not exists:
        raise FileNotFoundError(f"{what} not found: {url}")
    if not is_folder and name_suffix(folder.path) not in files:
        raise NotADirectoryError(f"{what} should be a folder of photos, got one file: {url}")
    return folder


def remote_photos(folder, suffixes: frozenset[str]) -> list[str]:
    """The photos under a remote folder (recursive; files with these extensions), as keys relative to it joined
    with "/", in the order `walk_images` gives a local copy of the folder (each folder's entries by name, depth
    first). Each top-level folder is one listing of its whole prefix (S3's, GCS's: a request per thousand objects,
    not one per folder inside), several listed at once (`_listing`); macOS's `._` files are left out as locally
    (`is_mac_metadata`, reading a `._` file's first bytes). Other files are counted in the log.
    """
    fs, root = folder.fs, folder.path.rstrip("/")
    keys, others, mac_metadata = [], 0, 0
    for found in _listing(fs, root, str(folder)):
        key = found[len(root) :].lstrip("/")
        suffix = name_suffix(key)
        if suffix in suffixes and is_mac_metadata(key, lambda path=found: fs.cat_file(path, start=0, end=4)):
            mac_metadata += 1
        elif suffix in suffixes:
            keys.append(key)
        else:
            others += 1
    if others:
        logger.info("%s: %d file(s) that are not images passed over", folder, others)
    if mac_metadata:
        logger.info(
            "%s: %d macOS metadata file(s) passed over (`._` AppleDouble files, no photos)", folder, mac_metadata
        )
    return sorted(keys, key=lambda key: key.split("/"))


def _listing(fs, root: str, name: str) -> Iterator[str]:
    """Every file's path under `root`: its own files, then each of its folders listed whole (`find`: one paginated
    listing of the prefix), `LISTING_THREADS` folders at a time (each listing's pages come one after another: a
    bucket of 10^7 photos is 10^4 of them), with progress by folder."""
    top = fs.ls(root, detail=True)
    yield from (entry["name"] for entry in top if entry["type"] != "directory")
    folders = [entry["name"] for entry in top if entry["type"] == "directory"]
    with ThreadPoolExecutor(LISTING_THREADS) as pool:
        listings = pool.map(lambda inside: fs.find(inside, withdirs=False, detail=False), folders)
        shown = len(folders) >= FOLDERS_SHOWN
        for found in tqdm(listings, total=len(folders), desc=f"listing {name}", unit="folder", disable=not shown):
            yield from found


def list_lines(data: bytes) -> list[tuple[int, str]]:
    """A `.txt` list's entries with their line numbers (from 1): a byte-order mark skipped, each line stripped, blank
    lines and `#` comments left out; a path in another encoding than UTF-8 kept as the file system's bytes (so that
    file is found all the same)."""
    lines = data.removeprefix(b"\xef\xbb\xbf").split(b"\n")
    entries = [(number, os.fsdecode(line.strip())) for number, line in enumerate(lines, start=1)]
    return [(number, entry) for number, entry in entries if entry and not entry.startswith("#")]


def bucket_keys(entries: list[tuple[int, str]], where: str) -> tuple[str, list[str]]:
    """The bucket a list's URLs name (`s3://bucket`: the photos' keys' root, whatever photos a list names, so a
    list grown later keeps the keys written before) and each one's key in it, in the list's order.

    Args:
        entries: The list's lines (`list_lines`), each a URL (`s3://bucket/flights/a.jpg`).
        where: The list, for the messages.

    Raises:
        ValueError: naming the line: one is a path, not a URL (a list names its photos all one way), names no
            object (`s3://bucket/`), or lies in another bucket or protocol than the first line's.
    """
    if not entries:
        raise ValueError(f"{where}: the list names no photo")
    first_number, first = next(((number, entry) for number, entry in entries if is_remote(entry)), entries[0])
    bucket = _bucket(first)
    keys = []
    for number, entry in entries:
        if not is_remote(entry):
            raise ValueError(
                f"{where}: line {number}: {entry!r} is a path, while line {first_number} is a URL: a list names its "
                "photos all by URL (in one bucket) or all by path"
            )
        if _bucket(entry) != bucket:
            raise ValueError(
                f"{where}: line {number}: {entry} is not in {bucket}, as line {first_number} is: a list's photos lie "
                "in one bucket (list each bucket's in a list of its own)"
            )
        key = entry.partition("://")[2].partition("/")[2].lstrip("/")
        if not key or key.endswith("/"):
            raise ValueError(f"{where}: line {number}: {entry} names no photo, only a bucket or folder")
        keys.append(key)
    return bucket, keys


def _bucket(url: str) -> str:
    """`s3://bucket` of `s3://bucket/flights/a.jpg` (the protocol in lower case, as fsspec takes it)."""
    protocol, _, rest = url.partition("://")
    return f"{protocol.lower()}://{rest.partition('/')[0]}"


def remote_path(url: str, what: str):
    """The `UPath` of `url`, made without a request.

    Raises:
        ValueError: The protocol is unknown, or its file system's package is not installed (naming it).
    """
    from upath import UPath

    try:
        path = UPath(url)
        path.fs  # noqa: B018 - its file system made now: a missing package named here, not at the first photo
        return path
    except (ImportError, ValueError) as error:
        raise ValueError(f"{what}: {url}: {error}") from None


def remote_bytes(path) -> bytes:
    """A remote file's content in one request (a GET of the whole object; opening it as a file would first ask for
    its size, and so does s3fs's `cat_file` of an object not listed, to fetch a large one in parts, unless told to
    fetch it whole: a photo of a URL list, or of a folder that could not be listed, took two round trips).

    Raises:
        FileNotFoundError: No such object, naming its URL.
    """
    fs = path.fs
    whole = {"max_concurrency": 1} if hasattr(fs, "max_concurrency") else {}  # s3fs's: one GET, no size asked first
    try:
        return fs.cat_file(path.path, **whole)
    except FileNotFoundError:
        raise FileNotFoundError(f"{path}: no such object") from None


def remote_range(path, start: int, end: int) -> bytes:
    """Bytes `start` to `end` (not included; fewer at the file's end) of a remote file, in one request."""
    return path.fs.cat_file(path.path, start=start, end=end)


def remote_version(path, info: dict | None = None) -> str:
    """What changes when the remote file may have: its URL, size and what its storage says of its version (`info`:
    the file system's `info` of it, when asked already)."""
    info = info if info is not None else path.fs.info(path.path)
    stamp = next((str(info[name]) for name in VERSION_FIELDS if info.get(name) is not None), "")
    return f"{path}|{info.get('size')}|{stamp}"
