"""Videos read from S3 (`--images s3://bucket/clips/`) against the same videos read from disk, side by side in one
run: listing their frames (each video opened for its length), and the listed frames decoded by extraction's loader
threads, each with the requests and bytes it took from the bucket.

    python docs/measurements/remote_videos.py --out docs/measurements/remote_videos_cpu.json

The S3 is moto's server, started here in a process of its own on this machine: the videos go through the S3
protocol as from AWS (s3fs, signed HTTP requests) but with no network between, so the times say what the S3
client costs this machine, not what a bucket far away costs. The server's own CPU shares this machine's cores.
The videos are generated drone footage (`measured.drone_clip`: H.264 at 30 frames a second, a keyframe a second,
textured ground sliding by, sensor noise of `--grain` kept at x264's CRF `--quality`: a drone camera's ~30 Mbit/s
at 1080p), `--videos` of `--seconds` each, a frame listed every `--interval` seconds. Each decoding runs `--repeats`
times per thread count, alternating local and remote, after one warm-up of each; the fastest run counts. The decoded
pixels of every frame are compared between the two.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from functools import partial
from importlib.metadata import version
from pathlib import Path

from measured import S3FileReads, commit, decoded_timed, decoding_by_threads, drone_clip, moto_s3, save

from helpers.core.video_frames import PROBE_BLOCK, VIDEO_BLOCK, close_videos
from helpers.cv.sources import open_image_source

BUCKET = "measured-videos"
MIN_SIDE = 640  # a 640-pixel detector's: frames converted as extraction converts them for it


def _listed(images: str | Path, interval: float) -> tuple[float, list, S3FileReads]:
    """Seconds to list the videos' frames, the items, and the reads the listing made."""
    close_videos()
    with S3FileReads() as counted:
        started = time.perf_counter()
        items = open_image_source(images, video_interval=interval).items
        return time.perf_counter() - started, items, counted


def _decoded(items: list, threads: int) -> tuple[float, float, dict[str, str]]:
    """`decoded_timed` from videos opened afresh (no reader of an earlier run kept)."""
    close_videos()
    return decoded_timed(items, threads, MIN_SIDE)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--videos", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--size", default="1920x1080")
    parser.add_argument("--grain", type=int, default=6, help="sensor noise: up to this many levels a pixel")
    parser.add_argument("--quality", type=int, default=12, help="x264's CRF: lower keeps more of the noise")
    parser.add_argument("--interval", type=float, default=1.0)
    parser.add_argument("--threads", default="2", help="loader thread counts, comma-separated")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    size = tuple(int(side) for side in args.size.split("x"))
    with tempfile.TemporaryDirectory() as scratch, moto_s3(BUCKET) as fs:
        folder = Path(scratch) / "clips"
        folder.mkdir()
        for index in range(args.videos):
            drone_clip(folder / f"DJI_{index:04d}.MP4", args.seconds, args.seed + index, size, args.grain, args.quality)
        total = sum(path.stat().st_size for path in folder.iterdir())
        fs.put(str(folder), f"{BUCKET}/clips", recursive=True)
        url = f"s3://{BUCKET}/clips/"
        local_seconds, local, _ = _listed(folder, args.interval)
        remote_seconds, remote, listing = _listed(url, args.interval)
        same_listing = [item.key for item in local] == [item.key for item in remote]
        readers = {"local": partial(_decoded, local), "s3": partial(_decoded, remote)}
        again = partial(_decoded, remote)
        readings, same = decoding_by_threads(readers, args.threads, args.repeats, len(local), again)
        for best in readings.values():
            reads = best.pop("s3_reads")
            best["s3_ranged_reads"] = reads["requests"]
            best["s3_bytes_over_video_bytes"] = round(reads["bytes"] / total, 3)
    result = {
        "what": " ".join(__doc__.split("\n\n")[0].split()),
        "videos": args.videos,
        "seconds_each": args.seconds,
        "video_size": list(size),
        "video_mb": round(total / args.videos / 1e6, 3),
        "grain": args.grain,
        "quality": args.quality,
        "video_mbit_per_second": round(total * 8 / args.videos / args.seconds / 1e6, 1),
        "frames_listed": len(local),
        "interval_seconds": args.interval,
        "requests_of": {"video_block_bytes": VIDEO_BLOCK, "probe_block_bytes": PROBE_BLOCK},
        "listing": {
            "local_seconds": round(local_seconds, 3),
            "s3_seconds": round(remote_seconds, 3),
            "s3_ranged_reads_per_video": round(listing.requests / args.videos, 2),
            "s3_bytes_per_video": round(listing.bytes / args.videos),
        },
        "converted_for_side": MIN_SIDE,
        "by_loader_threads": readings,
        "same_listing": same_listing,
        "same_pixels": same,
        "repeats": args.repeats,
        "seed": args.seed,
        "commit": commit(),
        "machine": {"cpu_cores": os.cpu_count(), "python": platform.python_version()},
        "versions": {name: version(name) for name in ("s3fs", "moto", "universal-pathlib", "av")},
        "command": "python docs/measurements/remote_videos.py " + " ".join(sys.argv[1:]),
    }
    save(result, args.out)


if __name__ == "__main__":
    main()
