"""Photos read from a bucket that answers each request late (a bucket far from the machine) by each number of
extraction's loader threads, beside the same photos read from disk, in one run: the photos decoded per second, and
each count's rate over the rate from disk. What `loader_threads: 0` (auto) gives a remote `--images` is chosen
from it.

    python docs/measurements/remote_latency.py --out docs/measurements/remote_latency_cpu.json

The S3 is moto's server, started here in a process of its own on this machine, answering each request `--latency`
seconds late (a thread a request, as a far bucket's round trips overlap); s3fs reaches it over HTTP as it reaches
AWS, with its own pool of connections (aiobotocore's default, 10). The photos are `--photos` generated JPEGs of
`--size` (a trail camera's 3 MP), seeded, drafted for a 640-pixel model. Each count runs `--repeats` times after
one warm-up, taking turns; the fastest run counts. The decoded pixels of every photo are compared with disk's.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
from importlib.metadata import version
from pathlib import Path

from measured import commit, decoded_timed, moto_s3, photo_folder, save

from helpers.cv.sources import open_image_source

BUCKET = "measured-latency"
MIN_SIDE = 640  # a 640-pixel detector's: JPEGs drafted as extraction drafts them for it


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--photos", type=int, default=192)
    parser.add_argument("--size", default="2048x1536")
    parser.add_argument("--latency", type=float, default=0.03, help="seconds each request is answered late")
    parser.add_argument("--threads", default="2,4,8,16,32", help="loader thread counts, comma-separated")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    size = tuple(int(side) for side in args.size.split("x"))
    counts = [int(count) for count in args.threads.split(",")]
    cores = os.cpu_count() or 1
    with tempfile.TemporaryDirectory() as scratch, moto_s3(BUCKET, args.latency) as fs:
        folder = Path(scratch) / "photos"
        total = photo_folder(folder, args.photos, size, args.seed)
        fs.put(str(folder), f"{BUCKET}/photos", recursive=True)
        local = open_image_source(folder).items
        remote = open_image_source(f"s3://{BUCKET}/photos/").items
        assert [item.key for item in local] == [item.key for item in remote]
        best: dict[str, float] = {}
        same = True
        for run in range(args.repeats + 1):  # the first a warm-up
            seconds, _, reference = decoded_timed(local, cores, MIN_SIDE)
            if run:
                best["disk"] = min(best.get("disk", float("inf")), seconds)
            for count in counts:
                seconds, _, hashes = decoded_timed(remote, count, MIN_SIDE)
                same = same and hashes == reference
                if run:
                    best[str(count)] = min(best.get(str(count), float("inf")), seconds)
    rates = {name: round(len(local) / seconds, 1) for name, seconds in best.items()}
    result = {
        "what": " ".join(__doc__.split("\n\n")[0].split()),
        "photos": len(local),
        "photo_size": list(size),
        "photo_mb": round(total / len(local) / 1e6, 3),
        "latency_seconds": args.latency,
        "drafted_for_side": MIN_SIDE,
        "disk_threads": cores,
        "photos_per_second": rates,
        "over_disk": {str(count): round(rates[str(count)] / rates["disk"], 3) for count in counts},
        "same_pixels": same,
        "repeats": args.repeats,
        "seed": args.seed,
        "commit": commit(),
        "machine": {"cpu_cores": cores, "python": platform.python_version()},
        "versions": {name: version(name) for name in ("s3fs", "aiobotocore", "moto", "pillow")},
        "command": "python docs/measurements/remote_latency.py " + " ".join(sys.argv[1:]),
    }
    save(result, args.out)


if __name__ == "__main__":
    main()
