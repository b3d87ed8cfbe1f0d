"""Photos in tar shards against the same photos as files, on this machine: how fast 01 lists them
(shard headers, read by `helpers.core.tar_photos` and by `tarfile`, against a folder walk) and reads
them (at their offsets against opening each file), side by side in one run.

    python docs/measurements/tar_listing.py --out docs/measurements/tar_listing_cpu.json

Generated samples as img2dataset writes them (a 30 KB JPEG-sized photo, its .txt and .json), in
shards of 1,000 samples; the files in folders of 1,000. Best of `--repeats`, alternating.
"""

from __future__ import annotations

import argparse
import io
import os
import random
import tarfile
import tempfile
import time
from pathlib import Path

from measured import commit, save

from helpers.core.tar_photos import read_member, tarfile_members
from helpers.cv.sources import open_image_source
from helpers.cv.yolo_data import walk_images

PHOTO_BYTES = 30_000
SHARD_SAMPLES = 1_000


def _build(folder: Path, samples: int, seed: int) -> None:
    rng = random.Random(seed)
    (folder / "shards").mkdir()
    for shard in range(samples // SHARD_SAMPLES):
        files = folder / "files" / f"{shard:05d}"
        files.mkdir(parents=True)
        with tarfile.open(folder / "shards" / f"{shard:05d}.tar", "w") as archive:
            for position in range(SHARD_SAMPLES):
                key = f"{shard:05d}{position:04d}"
                photo = rng.randbytes(PHOTO_BYTES)
                (files / f"{key}.jpg").write_bytes(photo)
                for name, data in ((f"{key}.jpg", photo), (f"{key}.txt", b"a caption"), (f"{key}.json", b"{}")):
                    info = tarfile.TarInfo(name)
                    info.size = len(data)
                    archive.addfile(info, io.BytesIO(data))


def _best(best: dict[str, float], name: str, work, *args):
    """`work(*args)`, its seconds kept in `best[name]` when fewer than before."""
    start = time.perf_counter()
    result = work(*args)
    seconds = time.perf_counter() - start
    best[name] = min(best.get(name, seconds), seconds)
    return result


def _read_shards(items) -> int:
    return sum(len(read_member(item.path, item.row)) for item in items)


def _read_files(folder: Path, keys: list[str]) -> int:
    return sum(len((folder / key).read_bytes()) for key in keys)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--samples", type=int, default=20_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as work:
        folder = Path(work)
        _build(folder, args.samples, seed=0)
        best: dict[str, float] = {}
        for _ in range(args.repeats):
            items = _best(best, "list_shards", lambda path: open_image_source(path).items, folder / "shards")
            keys = _best(best, "list_files", lambda path: list(walk_images(path)), folder / "files")
            shards = sorted((folder / "shards").glob("*.tar"))
            by_tarfile = _best(best, "list_shards_tarfile", lambda found: [tarfile_members(s) for s in found], shards)
            assert sum(len(members) for members, _ in by_tarfile) == 3 * args.samples
            assert len(items) == len(keys) == args.samples
            read = _best(best, "read_shards", _read_shards, items)
            assert read == _best(best, "read_files", _read_files, folder / "files", keys) == args.samples * PHOTO_BYTES
    rates = {name: args.samples / seconds for name, seconds in best.items()}
    save(
        {
            "what": "photos per second: listing (01's source) and reading, in tar shards vs as files",
            "commit": commit(),
            "samples": args.samples,
            "photo_bytes": PHOTO_BYTES,
            "shard_samples": SHARD_SAMPLES,
            "cpu_cores": os.cpu_count(),
            "repeats": args.repeats,
            "photos_per_second": rates,
            "list_shards_vs_files": rates["list_shards"] / rates["list_files"],
            "list_shards_vs_tarfile": rates["list_shards"] / rates["list_shards_tarfile"],
            "read_shards_vs_files": rates["read_shards"] / rates["read_files"],
        },
        args.out,
    )


if __name__ == "__main__":
    main()
