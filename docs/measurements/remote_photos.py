"""Photos read from S3 (`--images s3://...`) against the same photos read from disk, side by side in one run: the
photos decoded per second by extraction's loader threads (`decode_batches`, JPEGs drafted for a 640-pixel model)
and this process's CPU seconds per photo, for each.

    python docs/measurements/remote_photos.py --out docs/measurements/remote_photos_cpu.json

The S3 is moto's server, started here in a process of its own on this machine: the photos go through the S3
protocol as from AWS (s3fs, signed HTTP requests, each photo one GET) but with no network between, so the rate
says what the S3 client costs this machine, not what a bucket far away costs (there each loader thread also waits
out its photo's round trip). The server's own CPU shares this machine's cores. The photos are `--photos`
generated JPEGs of `--size` (a drone's 12 MP by default), seeded. Each reading runs `--repeats` times per thread
count, alternating local and remote, after one warm-up of each; the fastest run counts. The decoded pixels of
every photo are compared between the two.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
from functools import partial
from importlib.metadata import version
from pathlib import Path

from measured import best_decoding, decoded_timed, moto_s3, photo_folder, save

from helpers.cv.sources import open_image_source

BUCKET = "measured-photos"
MIN_SIDE = 640  # a 640-pixel detector's: JPEGs drafted as extraction drafts them for it


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--photos", type=int, default=64)
    parser.add_argument("--size", default="4000x3000")
    parser.add_argument("--threads", default="2,8", help="loader thread counts, comma-separated")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    size = tuple(int(side) for side in args.size.split("x"))
    with tempfile.TemporaryDirectory() as scratch, moto_s3(BUCKET) as fs:
        folder = Path(scratch) / "photos"
        total = photo_folder(folder, args.photos, size, args.seed)
        fs.put(str(folder), f"{BUCKET}/photos", recursive=True)
        local = open_image_source(folder).items
        remote = open_image_source(f"s3://{BUCKET}/photos/").items
        assert [item.key for item in local] == [item.key for item in remote]
        readers = {
            name: partial(decoded_timed, items, min_side=MIN_SIDE) for name, items in (("local", local), ("s3", remote))
        }
        readings, same = {}, True
        for threads in map(int, args.threads.split(",")):
            best, same_here = best_decoding(readers, threads, args.repeats, len(local))
            best["s3_rate_over_local"] = round(best["local"]["seconds"] / best["s3"]["seconds"], 3)
            readings[str(threads)], same = best, same and same_here
    result = {
        "what": " ".join(__doc__.split("\n\n")[0].split()),
        "photos": len(local),
        "photo_size": list(size),
        "mean_photo_mb": round(total / len(local) / 1e6, 3),
        "drafted_for_side": MIN_SIDE,
        "by_loader_threads": readings,
        "same_pixels": same,
        "repeats": args.repeats,
        "seed": args.seed,
        "machine": {"cpu_cores": os.cpu_count(), "python": platform.python_version()},
        "versions": {name: version(name) for name in ("s3fs", "moto", "universal-pathlib", "pillow")},
        "command": "python docs/measurements/remote_photos.py " + " ".join(sys.argv[1:]),
    }
    save(result, args.out)


if __name__ == "__main__":
    main()
