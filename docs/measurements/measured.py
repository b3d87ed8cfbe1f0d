"""What the measurement scripts beside this file share: the commit measured, and the result saved; for those that
read the project's exports with another tool in that tool's own environment, their arguments and inputs.

from measured import commit, save     # a script here is run as `python docs/measurements/NAME.py`
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from fractions import Fraction
from pathlib import Path


def commit() -> str | None:
    """The checkout's short commit (None outside a git checkout)."""
    done = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    return done.stdout.strip() or None


def save(result: dict, out: Path | None) -> None:
    """Prints the result as JSON, and writes it to `out` when given."""
    text = json.dumps(result, indent=2) + "\n"
    if out:
        out.write_text(text)
    print(text, end="")


def best_seconds_by_workers(command: list[str], output: Path, workers: list[int], repeats: int) -> dict[int, float]:
    """`python -m helpers <command> --output <output> --workers N` for each N of `workers`, a fresh process each
    run as a user's is (its start, imports and workers counted; no run finds another's caches warmed), taking
    turns, best of `repeats` each.

    Raises:
        RuntimeError: Two runs wrote different files.
    """
    best, written = dict.fromkeys(workers, float("inf")), set()
    for _ in range(repeats):
        for count in workers:
            output.unlink(missing_ok=True)
            started = time.perf_counter()
            run = [sys.executable, "-m", "helpers", *command, "-q", "--output", str(output), "--workers", str(count)]
            subprocess.run(run, check=True)
            best[count] = min(best[count], time.perf_counter() - started)
            written.add(output.read_bytes())
    if len(written) != 1:
        raise RuntimeError(f"the runs of {command[0]} wrote different files")
    return best


def rates_by_workers(items: int, best: dict[int, float]) -> tuple[dict[str, float], dict[str, float]]:
    """Items a second for each workers count of `best_seconds_by_workers`, and each as a share of the first count's."""
    rates = {workers: items / seconds for workers, seconds in best.items()}
    first = rates[next(iter(rates))]
    return (
        {str(workers): round(rate, 1) for workers, rate in rates.items()},
        {str(workers): round(rate / first, 3) for workers, rate in rates.items()},
    )


def export_arguments(description: str) -> argparse.Namespace:
    """The arguments of a script that exports make demo's CV records with the project's `desclm` command (a program:
    the script runs in another tool's environment): `desclm`, `cv`, `images` (absolute paths, as text) and `out`."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--desclm", default=".venv/bin/desclm", help="the project's command")
    parser.add_argument("--cv", type=Path, default=Path("data/cv_outputs.jsonl"), help="CV records (make demo's)")
    parser.add_argument("--images", type=Path, default=Path("data/demo"), help="the folder their keys are under")
    parser.add_argument("--out", type=Path, help="JSON to write")
    args = parser.parse_args()
    args.desclm, args.cv, args.images = (str(Path(p).resolve()) for p in (args.desclm, args.cv, args.images))
    return args


def records_by_image(cv: str) -> dict[str, dict]:
    """The CV records of a JSONL file by their `image`."""
    with open(cv, encoding="utf-8") as lines:
        return {record["image"]: record for record in map(json.loads, lines)}


def described(desclm: str, cv: str, folder: Path) -> dict[str, str]:
    """`cv` described with the grammar (`desclm synth`) into `folder/described.jsonl`: each row's id -> description."""
    subprocess.run([desclm, "synth", "--input", cv, "--output", "described.jsonl", "-q"], cwd=folder, check=True)
    with open(folder / "described.jsonl", encoding="utf-8") as lines:
        return {row["id"]: row["description"] for row in map(json.loads, lines)}


LLAVA_PROMPT = "Describe the litter in this photo."  # the user's turn of the llava exports the trainers read
LLAVA_SPLITS = ("train", "validation")


def export_llava_splits(desclm: str, images: str, folder: Path) -> None:
    """`folder/described.jsonl` exported as LLaVA conversations (`LLAVA_PROMPT`) split train=0.9,validation=0.1
    (`llava_train.json`, `llava_validation.json`), the photos copied to `folder/photos` (`--image_folder`)."""
    export = [desclm, "export", "described.jsonl", "--format", "llava", "--images", images, "--prompt", LLAVA_PROMPT]
    export += ["--image_folder", "photos", "--splits", "train=0.9,validation=0.1", "--output", "llava.json", "-q"]
    subprocess.run(export, cwd=folder, check=True)


def labelled_demo(root: Path, photos: int, seed: int) -> None:
    """A demo dataset of `photos` (train split) in `root/demo`, its labels as CV records (`root/cv.jsonl`: labels as
    detections, confidence 1) described by the grammar (`root/described.jsonl`): the project imported here, for the
    scripts that run beside it in another tool's environment."""
    from helpers.core.contract import Policy
    from helpers.cv.extract import ground_truth_outputs
    from helpers.demo.dataset import DemoDatasetSpec, build_dataset
    from helpers.pairs.synth import describe_file

    build_dataset(root / "demo", DemoDatasetSpec(seed=seed, n_train=photos, n_valid=0, n_test=0))
    ground_truth_outputs(root / "demo" / "data.yaml", root / "cv.jsonl")
    describe_file(root / "cv.jsonl", root / "described.jsonl", seed, Policy())


# moto's S3 in a process of its own, until terminated (`moto_s3`); each request answered `latency` seconds late
MOTO_SERVER = """
import time
from moto.moto_server.threaded_moto_server import MotoRequestHandler
from moto.server import DomainDispatcherApplication, create_backend_app
from werkzeug.serving import make_server

app = DomainDispatcherApplication(create_backend_app)


def answered_late(environ, start_response):
    time.sleep({latency})
    return app(environ, start_response)


make_server("127.0.0.1", {port}, answered_late, True, request_handler=MotoRequestHandler).serve_forever()
"""


@contextmanager
def moto_s3(bucket: str, latency: float = 0.0) -> Iterator:
    """moto's S3 server on this machine, in a process of its own (a thread a request), with `bucket` made and this
    process's AWS settings pointing at it (so `s3://` URLs reach it as they would reach AWS); yields s3fs's file
    system. With `latency`, each request is answered that many seconds late (a bucket far away: its round trip)."""
    import os
    import socket

    with socket.socket() as probe:  # a free port
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    os.environ.update(
        AWS_ACCESS_KEY_ID="measured",
        AWS_SECRET_ACCESS_KEY="measured",
        AWS_DEFAULT_REGION="us-east-1",
        AWS_ENDPOINT_URL=f"http://127.0.0.1:{port}",
    )
    server = subprocess.Popen(
        [sys.executable, "-c", MOTO_SERVER.format(port=port, latency=latency)], stderr=subprocess.DEVNULL
    )
    try:
        import s3fs

        for _ in range(100):  # the server starting
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.1)
        fs = s3fs.S3FileSystem()
        fs.mkdir(bucket)
        yield fs
    finally:
        server.terminate()
        server.wait()


def decoded_timed(items: list, threads: int, min_side: int) -> tuple[float, float, dict[str, str]]:
    """Extraction's loader threads (`decode_batches`, batches of 16) decoding `items`: wall seconds, this process's
    CPU seconds, and each photo's decoded pixels' hash."""
    import hashlib

    from helpers.cv.batch import decode_batches

    started, cpu = time.perf_counter(), time.process_time()
    hashes = {}
    for batch in decode_batches(items, 16, threads, min_side):
        for decoded in batch:
            if decoded.image is None:
                raise RuntimeError(f"{decoded.item.key}: {decoded.error}")
            hashes[decoded.item.key] = hashlib.sha256(decoded.image.tobytes()).hexdigest()
    return time.perf_counter() - started, time.process_time() - cpu, hashes


def best_decoding(readers: dict, threads: int, repeats: int, photos: int) -> tuple[dict[str, dict], bool]:
    """Each reader (a name: `reader(threads)` -> `decoded_timed`'s answer) run `repeats` times after a warm-up,
    alternating: the fastest run of each (seconds, photos a second, this process's CPU ms a photo), and whether
    every reader decoded the pixels the first one did."""
    best: dict[str, tuple[float, float]] = {}
    same = True
    for run in range(repeats + 1):  # the first of each a warm-up
        reference = None
        for name, reader in readers.items():
            seconds, cpu, hashes = reader(threads)
            reference = hashes if reference is None else reference
            same = same and hashes == reference
            if run and (name not in best or seconds < best[name][0]):
                best[name] = (seconds, cpu)
    readings = {
        name: {
            "seconds": round(seconds, 3),
            "photos_per_second": round(photos / seconds, 2),
            "cpu_ms_per_photo": round(1000 * cpu / photos, 2),
        }
        for name, (seconds, cpu) in best.items()
    }
    return readings, same


def drone_clip(
    path: Path, seconds: int, seed: int, size: tuple[int, int] = (1920, 1080), grain: int = 0, quality: int = 23
) -> Path:
    """A generated drone video at `path`: `seconds` of H.264 at 30 frames a second, a keyframe a second (as drones
    and phones write), B-frames, textured ground sliding by as the drone flies on (seeded); with `grain`, a sensor's
    noise of up to that many levels on each frame, kept as x264's `quality` (its CRF: lower keeps more) keeps it (a
    camera's bitrate: the ground alone compresses to little)."""
    import av
    import numpy as np

    rng = np.random.default_rng(seed)
    (width, height), rate = size, 30
    ground = rng.integers(0, 255, (height // 8, (width + rate * seconds * 4) // 8, 3), dtype=np.uint8)
    ground = np.repeat(np.repeat(ground, 8, axis=0), 8, axis=1)
    with av.open(str(path), "w") as video:
        stream = video.add_stream(
            "libx264",
            rate=Fraction(rate),
            options={"g": str(rate), "bf": "2", "preset": "veryfast", "crf": str(quality)},
        )
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        for index in range(rate * seconds):
            shift = index * 4  # the drone flies on: the ground slides 4 pixels a frame
            frame = ground[:, shift : shift + width]
            if grain:
                noise = rng.integers(-grain, grain + 1, frame.shape, dtype=np.int16)
                frame = np.clip(frame + noise, 0, 255).astype(np.uint8)
            video.mux(stream.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24")))
        video.mux(stream.encode())
    return path


class S3FileReads:
    """While in a `with` block, s3fs files' ranged reads (each one request to the bucket), counted: `requests` and
    `bytes`. Videos (read ahead) and Parquet files (read as pyarrow asks) are read through such files."""

    def __init__(self) -> None:
        import s3fs

        self.requests = self.bytes = 0
        self._file_class, self._read = s3fs.core.S3File, s3fs.core.S3File._fetch_range

    def __enter__(self) -> S3FileReads:
        def fetch_range(file, start, end):
            data = self._read(file, start, end)
            self.requests, self.bytes = self.requests + 1, self.bytes + len(data)
            return data

        self._file_class._fetch_range = fetch_range
        return self

    def __exit__(self, *_) -> None:
        self._file_class._fetch_range = self._read


def decoding_by_threads(readers: dict, thread_counts: str, repeats: int, photos: int, read_again) -> tuple[dict, bool]:
    """`best_decoding` of `readers` ("local" and "s3") at each of `thread_counts` ("2,8"), with the rate from S3 over
    the rate from disk, and the S3 reads of one more run, `read_again(threads)`, counted (`S3FileReads`): readings by
    thread count, and whether every reader decoded the same pixels."""
    readings, same = {}, True
    for threads in map(int, thread_counts.split(",")):
        best, same_here = best_decoding(readers, threads, repeats, photos)
        best["s3_rate_over_local"] = round(best["local"]["seconds"] / best["s3"]["seconds"], 3)
        with S3FileReads() as reads:
            read_again(threads)
        best["s3_reads"] = {"requests": reads.requests, "bytes": reads.bytes}
        readings[str(threads)], same = best, same and same_here
    return readings, same


def photo_folder(folder: Path, count: int, size: tuple[int, int], seed: int) -> int:
    """`count` photo-like JPEGs of `size` (smooth light, grass-like noise) in folders of 16 as a drone's flights
    (`flight_00/DJI_0000.JPG`): their bytes in all."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(seed)
    width, height = size
    total = 0
    for index in range(count):
        light = np.linspace(60, 200, width, dtype=np.float32)[None, :, None]
        texture = rng.normal(0, 18, (height // 4, width // 4, 3)).astype(np.float32)
        texture = np.repeat(np.repeat(texture, 4, axis=0), 4, axis=1)[:height, :width]
        pixels = np.clip(light + texture + rng.normal(0, 6, (height, width, 3)), 0, 255).astype(np.uint8)
        path = folder / f"flight_{index // 16:02d}" / f"DJI_{index:04d}.JPG"
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(pixels).save(path, quality=92)
        total += path.stat().st_size
    return total
