"""Tar shards read from S3 (`--images s3://bucket/shards/`) against the same shards read from disk, side by side in
one run: listing the shards (the first time, reading their headers from the bucket; again, from the kept listing),
with the requests and bytes it took, and the photos decoded per second by extraction's loader threads (from S3 both
as extraction reads them, a batch's photos of a shard a request, and a photo a request).

    python docs/measurements/remote_shards.py --out docs/measurements/remote_shards_cpu.json

The S3 is moto's server, started here in a process of its own on this machine: the shards go through the S3
protocol as from AWS (s3fs, signed HTTP requests) but with no network between, so the times say what the S3
client costs this machine, not what a bucket far away costs. The server's own CPU shares this machine's cores.
The shards hold `--photos` generated JPEGs of `--size` (img2dataset's usual resized photos), each with its `.txt`
and `.json` as img2dataset writes them, `--per_shard` photos a shard, seeded. Each decoding runs `--repeats` times
per thread count, alternating local and remote, after one warm-up of each; the fastest run counts. The decoded
pixels of every photo are compared between the two. The kept listings go to a scratch folder.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import sys
import tarfile
import tempfile
import time
from functools import partial
from importlib.metadata import version
from pathlib import Path

import numpy as np
from measured import best_decoding, decoded_timed, moto_s3, save
from PIL import Image

import helpers.core.tar_photos as tar_photos
import helpers.cv.batch as batch_module
from helpers.cv.sources import open_image_source

BUCKET = "measured-shards"
MIN_SIDE = 640  # a 640-pixel detector's: JPEGs drafted as extraction drafts them for it


def _add(archive: tarfile.TarFile, name: str, data: bytes) -> None:
    member = tarfile.TarInfo(name)
    member.size = len(data)
    archive.addfile(member, io.BytesIO(data))


def _shards(folder: Path, count: int, per_shard: int, size: tuple[int, int], seed: int) -> int:
    """`count` photo-like JPEGs in shards of `per_shard` (each sample a .jpg, .txt and .json): the shards' bytes."""
    rng = np.random.default_rng(seed)
    width, height = size
    folder.mkdir(parents=True)
    for shard in range(-(-count // per_shard)):
        with tarfile.open(folder / f"{shard:05d}.tar", "w") as archive:
            for index in range(shard * per_shard, min(count, (shard + 1) * per_shard)):
                light = np.linspace(60, 200, width, dtype=np.float32)[None, :, None]
                texture = rng.normal(0, 18, (height, width, 3)).astype(np.float32)
                pixels = np.clip(light + texture, 0, 255).astype(np.uint8)
                photo = io.BytesIO()
                Image.fromarray(pixels).save(photo, "JPEG", quality=90)
                key = f"{index:09d}"
                _add(archive, f"{key}.jpg", photo.getvalue())
                _add(archive, f"{key}.txt", b"a caption")
                _add(archive, f"{key}.json", json.dumps({"key": key, "width": width, "height": height}).encode())
    return sum(path.stat().st_size for path in folder.glob("*.tar"))


def _photo_a_request(items: list, threads: int) -> tuple[float, float, dict[str, str]]:
    """`decoded_timed`, each remote photo read in a request of its own (no run of a shard's photos made)."""
    shard_runs, batch_module.shard_runs = batch_module.shard_runs, lambda items: []
    try:
        return decoded_timed(items, threads, MIN_SIDE)
    finally:
        batch_module.shard_runs = shard_runs


class _Counted:
    """`remote_range` counting its requests and bytes."""

    def __init__(self, read) -> None:
        self.read, self.requests, self.bytes = read, 0, 0

    def __call__(self, path, start: int, end: int) -> bytes:
        data = self.read(path, start, end)
        self.requests, self.bytes = self.requests + 1, self.bytes + len(data)
        return data


def _listed(images: str | Path) -> tuple[float, list, _Counted]:
    """Seconds to list the shards' photos, the items, and the requests the listing made."""
    counted = _Counted(tar_photos.remote_range)
    kept, tar_photos.remote_range = tar_photos.remote_range, counted
    try:
        started = time.perf_counter()
        items = open_image_source(images).items
        return time.perf_counter() - started, items, counted
    finally:
        tar_photos.remote_range = kept


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--photos", type=int, default=2000)
    parser.add_argument("--per_shard", type=int, default=250)
    parser.add_argument("--size", default="512x384")
    parser.add_argument("--threads", default="2,8", help="loader thread counts, comma-separated")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    size = tuple(int(side) for side in args.size.split("x"))
    with tempfile.TemporaryDirectory() as scratch, moto_s3(BUCKET) as fs:
        folder = Path(scratch) / "shards"
        total = _shards(folder, args.photos, args.per_shard, size, args.seed)
        tar_photos.LISTINGS = Path(scratch) / "listings"
        fs.put(str(folder), f"{BUCKET}/shards", recursive=True)
        url = f"s3://{BUCKET}/shards/"
        local_seconds, local, _ = _listed(folder)
        first_seconds, remote, first = _listed(url)
        again_seconds, again, kept = _listed(url)
        listed = [[(item.key, item.row) for item in items] for items in (local, remote, again)]
        same_listing = listed[0] == listed[1] == listed[2]  # the same keys at the same offsets, each time
        readers = {
            "local": partial(decoded_timed, local, min_side=MIN_SIDE),
            "s3": partial(decoded_timed, remote, min_side=MIN_SIDE),
            "s3_photo_a_request": partial(_photo_a_request, remote),
        }
        readings, same = {}, True
        for threads in map(int, args.threads.split(",")):
            best, same_here = best_decoding(readers, threads, args.repeats, len(local))
            best["s3_rate_over_local"] = round(best["local"]["seconds"] / best["s3"]["seconds"], 3)
            photo_a_request = best["s3_photo_a_request"]["seconds"]
            best["runs_over_photo_a_request"] = round(photo_a_request / best["s3"]["seconds"], 3)
            readings[str(threads)], same = best, same and same_here
    shards = -(-args.photos // args.per_shard)
    result = {
        "what": " ".join(__doc__.split("\n\n")[0].split()),
        "photos": len(local),
        "shards": shards,
        "photo_size": list(size),
        "shard_mb": round(total / shards / 1e6, 3),
        "listing": {
            "local_seconds": round(local_seconds, 3),
            "s3_first_seconds": round(first_seconds, 3),
            "s3_first_requests": first.requests,
            "s3_first_bytes_over_shard_bytes": round(first.bytes / total, 3),
            "s3_kept_seconds": round(again_seconds, 3),
            "s3_kept_requests": kept.requests,
            "kept_over_first_speedup": round(first_seconds / again_seconds, 1),
        },
        "drafted_for_side": MIN_SIDE,
        "by_loader_threads": readings,
        "same_listing": same_listing,
        "same_pixels": same,
        "repeats": args.repeats,
        "seed": args.seed,
        "machine": {"cpu_cores": os.cpu_count(), "python": platform.python_version()},
        "versions": {name: version(name) for name in ("s3fs", "moto", "universal-pathlib", "pillow")},
        "command": "python docs/measurements/remote_shards.py " + " ".join(sys.argv[1:]),
    }
    save(result, args.out)


if __name__ == "__main__":
    main()
