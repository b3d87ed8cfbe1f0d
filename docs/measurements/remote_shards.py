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
import hashlib
import io
import json
import os
import platform
import socket
import subprocess
import sys
import tarfile
import tempfile
import time
from importlib.metadata import version
from pathlib import Path

import numpy as np
from PIL import Image

import helpers.core.tar_photos as tar_photos
import helpers.cv.batch as batch_module
from helpers.cv.batch import decode_batches
from helpers.cv.sources import open_image_source

BUCKET = "measured-shards"
MIN_SIDE = 640  # a 640-pixel detector's: JPEGs drafted as extraction drafts them for it
SERVER = (  # moto's S3 in a process of its own, until terminated
    "from moto.server import ThreadedMotoServer; import time; "
    "ThreadedMotoServer(port={port}, verbose=False).start(); time.sleep(86400)"
)


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


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _read(items: list, threads: int, runs: bool = True) -> tuple[float, float, dict[str, str]]:
    """Wall seconds, this process's CPU seconds, and each photo's decoded pixels' hash (`runs` False: each remote
    photo read in a request of its own, as no run of a shard's photos is made)."""
    shard_runs = batch_module.shard_runs
    if not runs:
        batch_module.shard_runs = lambda items: []
    try:
        return _timed(items, threads)
    finally:
        batch_module.shard_runs = shard_runs


def _timed(items: list, threads: int) -> tuple[float, float, dict[str, str]]:
    started, cpu = time.perf_counter(), time.process_time()
    hashes = {}
    for batch in decode_batches(items, 16, threads, MIN_SIDE):
        for decoded in batch:
            if decoded.image is None:
                raise RuntimeError(f"{decoded.item.key}: {decoded.error}")
            hashes[decoded.item.key] = hashlib.sha256(decoded.image.tobytes()).hexdigest()
    return time.perf_counter() - started, time.process_time() - cpu, hashes


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
    port = _free_port()
    os.environ.update(
        AWS_ACCESS_KEY_ID="measured",
        AWS_SECRET_ACCESS_KEY="measured",
        AWS_DEFAULT_REGION="us-east-1",
        AWS_ENDPOINT_URL=f"http://127.0.0.1:{port}",
    )
    server = subprocess.Popen([sys.executable, "-c", SERVER.format(port=port)], stderr=subprocess.DEVNULL)
    try:
        with tempfile.TemporaryDirectory() as scratch:
            folder = Path(scratch) / "shards"
            total = _shards(folder, args.photos, args.per_shard, size, args.seed)
            tar_photos.LISTINGS = Path(scratch) / "listings"
            import s3fs

            for _ in range(100):  # the server starting
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=1).close()
                    break
                except OSError:
                    time.sleep(0.1)
            fs = s3fs.S3FileSystem()
            fs.mkdir(BUCKET)
            fs.put(str(folder), f"{BUCKET}/shards", recursive=True)
            url = f"s3://{BUCKET}/shards/"
            local_seconds, local, _ = _listed(folder)
            first_seconds, remote, first = _listed(url)
            again_seconds, again, kept = _listed(url)
            assert [item.key for item in local] == [item.key for item in remote] == [item.key for item in again]
            assert [item.row for item in local] == [item.row for item in remote] == [item.row for item in again]
            readings = {}
            same = True
            for threads in map(int, args.threads.split(",")):
                best = {}
                for run in range(args.repeats + 1):  # the first of each a warm-up
                    for name, items in (("local", local), ("s3", remote), ("s3_photo_a_request", remote)):
                        seconds, cpu, hashes = _read(items, threads, runs=name != "s3_photo_a_request")
                        if name == "local":
                            reference = hashes
                        else:
                            same = same and hashes == reference
                        if run and (name not in best or seconds < best[name][0]):
                            best[name] = (seconds, cpu)
                readings[str(threads)] = {
                    name: {
                        "seconds": round(seconds, 3),
                        "photos_per_second": round(len(local) / seconds, 2),
                        "cpu_ms_per_photo": round(1000 * cpu / len(local), 2),
                    }
                    for name, (seconds, cpu) in best.items()
                }
                readings[str(threads)]["s3_rate_over_local"] = round(best["local"][0] / best["s3"][0], 3)
                photo_a_request = best["s3_photo_a_request"][0]
                readings[str(threads)]["runs_over_photo_a_request"] = round(photo_a_request / best["s3"][0], 3)
    finally:
        server.terminate()
        server.wait()
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
        "same_listing": True,
        "same_pixels": same,
        "repeats": args.repeats,
        "seed": args.seed,
        "machine": {"cpu_cores": os.cpu_count(), "python": platform.python_version()},
        "versions": {name: version(name) for name in ("s3fs", "moto", "universal-pathlib", "pillow")},
        "command": "python docs/measurements/remote_shards.py " + " ".join(sys.argv[1:]),
    }
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
