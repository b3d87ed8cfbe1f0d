"""A Hugging Face dataset's Parquet files read from S3 (`--images s3://bucket/dataset/data/`) against the same files
read from disk, side by side in one run: listing the photos (their stored paths), and the photos decoded by
extraction's loader threads, each with the requests and bytes it took from the bucket.

    python docs/measurements/remote_parquet.py --out docs/measurements/remote_parquet_cpu.json

The S3 is moto's server, started here in a process of its own on this machine: the files go through the S3
protocol as from AWS (s3fs, signed HTTP requests) but with no network between, so the times say what the S3
client costs this machine, not what a bucket far away costs. The server's own CPU shares this machine's cores.
The dataset holds `--photos` generated JPEGs of `--size` in an `Image` column, written by `datasets`
(`Dataset.to_parquet`, its own row groups) in `--files` files, seeded. Each decoding runs `--repeats` times per
thread count, alternating local and remote, after one warm-up of each; the fastest run counts. The decoded pixels
of every photo are compared between the two.
"""

from __future__ import annotations

import argparse
import io
import os
import platform
import sys
import tempfile
import time
from functools import partial
from importlib.metadata import version
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
from measured import S3FileReads, commit, decoded_timed, decoding_by_threads, moto_s3, save
from PIL import Image

import helpers.core.photo_datasets as photo_datasets
from helpers.cv.sources import open_image_source

BUCKET = "measured-parquet"
MIN_SIDE = 640  # a 640-pixel detector's: JPEGs drafted as extraction drafts them for it


def _dataset(folder: Path, count: int, files: int, size: tuple[int, int], seed: int) -> int:
    """`count` photo-like JPEGs as a dataset's Parquet files: the files' bytes."""
    import datasets

    rng = np.random.default_rng(seed)
    width, height = size
    photos = []
    for index in range(count):
        light = np.linspace(60, 200, width, dtype=np.float32)[None, :, None]
        pixels = np.clip(light + rng.normal(0, 18, (height, width, 3)), 0, 255).astype(np.uint8)
        photo = io.BytesIO()
        Image.fromarray(pixels).save(photo, "JPEG", quality=90)
        photos.append({"bytes": photo.getvalue(), "path": f"{index:09d}.jpg"})
    dataset = datasets.Dataset.from_dict({"image": photos}, features=datasets.Features({"image": datasets.Image()}))
    folder.mkdir(parents=True)
    for index in range(files):
        part = dataset.shard(files, index, contiguous=True)
        part.to_parquet(str(folder / f"train-{index:05d}-of-{files:05d}.parquet"))
    return sum(path.stat().st_size for path in folder.iterdir())


def _fresh() -> None:
    """No dataset opened by an earlier run kept (each run opens its files and reads their footers)."""
    photo_datasets.forget_photo_datasets()


def _listed(images: str | Path) -> tuple[float, list, S3FileReads]:
    """Seconds to list the dataset's photos, the items, and the requests the listing made."""
    _fresh()
    with S3FileReads() as counted:
        started = time.perf_counter()
        items = open_image_source(images).items
        return time.perf_counter() - started, items, counted


def _decoded(items: list, threads: int) -> tuple[float, float, dict[str, str]]:
    _fresh()
    return decoded_timed(items, threads, MIN_SIDE)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--photos", type=int, default=2000)
    parser.add_argument("--files", type=int, default=4)
    parser.add_argument("--size", default="512x384")
    parser.add_argument("--threads", default="2,8", help="loader thread counts, comma-separated")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    size = tuple(int(side) for side in args.size.split("x"))
    with tempfile.TemporaryDirectory() as scratch, moto_s3(BUCKET) as fs:
        folder = Path(scratch) / "data"
        total = _dataset(folder, args.photos, args.files, size, args.seed)
        row_groups = sum(pq.ParquetFile(path).metadata.num_row_groups for path in folder.iterdir())
        fs.put(str(folder), f"{BUCKET}/dataset/data", recursive=True)
        url = f"s3://{BUCKET}/dataset/data/"
        local_seconds, local, _ = _listed(folder)
        remote_seconds, remote, listing = _listed(url)
        same_listing = [(item.key, item.row) for item in local] == [(item.key, item.row) for item in remote]
        readers = {"local": partial(_decoded, local), "s3": partial(_decoded, remote)}
        again = partial(_decoded, remote)
        readings, same = decoding_by_threads(readers, args.threads, args.repeats, len(local), again)
        for best in readings.values():
            reads = best.pop("s3_reads")
            best["s3_requests"] = reads["requests"]
            best["s3_bytes_over_file_bytes"] = round(reads["bytes"] / total, 3)
    result = {
        "what": " ".join(__doc__.split("\n\n")[0].split()),
        "photos": len(local),
        "files": args.files,
        "row_groups": row_groups,
        "photo_size": list(size),
        "file_mb": round(total / args.files / 1e6, 3),
        "listing": {
            "local_seconds": round(local_seconds, 3),
            "s3_seconds": round(remote_seconds, 3),
            "s3_requests": listing.requests,
            "s3_bytes_over_file_bytes": round(listing.bytes / total, 4),
        },
        "drafted_for_side": MIN_SIDE,
        "by_loader_threads": readings,
        "same_listing": same_listing,
        "same_pixels": same,
        "repeats": args.repeats,
        "seed": args.seed,
        "commit": commit(),
        "machine": {"cpu_cores": os.cpu_count(), "python": platform.python_version()},
        "versions": {name: version(name) for name in ("s3fs", "moto", "pyarrow", "datasets", "pillow")},
        "command": "python docs/measurements/remote_parquet.py " + " ".join(sys.argv[1:]),
    }
    save(result, args.out)


if __name__ == "__main__":
    main()
