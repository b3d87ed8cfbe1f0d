"""The extraction pipeline's own ceiling: null detectors on generated 12-megapixel JPEGs.

    desclm bench null [--count 24] [--side 640]

Null detectors return fixed boxes instantly, so what is timed is everything around the models:
decoding (JPEGs at reduced scale when the models' input allows, on loader threads), fusion,
records and writing. Side by side on the same files and cores: a plain loop that decodes each
photo at full resolution with PIL, as a simple loader would. The records of the draft-decoded run
are checked against a run that decodes in full (same detections, same recorded image size).
"""

from __future__ import annotations

import json
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image

from helpers.core.device import cpu_cores
from helpers.core.io import iter_jsonl
from helpers.cv.config import ExtractConfig
from helpers.cv.detectors import Detections
from helpers.cv.extract import run_extraction

PHOTO_SIZE = (4000, 3000)  # 12 MP, a drone camera's


class NullDetector:
    """A detector that returns the same boxes for every image, at once."""

    def __init__(self, name: str, input_side: int = 640, boxes: int = 3) -> None:
        self.name, self.input_side, self.forward_seconds = name, input_side, 0.0
        corners = np.linspace(0.1, 0.6, boxes)
        self._detections = Detections(
            np.stack([corners, corners, corners + 0.2, corners + 0.2], axis=1), np.full(boxes, 0.9), ["plastic"] * boxes
        )

    def predict(self, images: list) -> list[Detections]:
        return [self._detections for _ in images]


class NullScene:
    """A scene classifier that says "grass" for every image, at once."""

    def __init__(self, input_side: int = 224) -> None:
        self.input_side, self.forward_seconds = input_side, 0.0

    def predict(self, images: list) -> list[dict]:
        return [{"class": "grass", "confidence": 0.9} for _ in images]


def write_photos(folder: Path, count: int, size: tuple[int, int] = PHOTO_SIZE, seed: int = 0) -> list[Path]:
    """`count` JPEGs of `size` with smooth colour fields and sensor-like noise (a few MB each, as
    a camera writes), the same for the same seed; written on all cores."""
    folder.mkdir(parents=True, exist_ok=True)

    def write(index: int) -> Path:
        rng = np.random.default_rng([seed, index])
        coarse = Image.fromarray(rng.integers(0, 256, (size[1] // 100, size[0] // 100, 3), dtype=np.uint8))
        smooth = np.asarray(coarse.resize(size, Image.Resampling.BICUBIC), dtype=np.int16)
        noisy = np.clip(smooth + rng.integers(-12, 13, smooth.shape, dtype=np.int16), 0, 255).astype(np.uint8)
        path = folder / f"photo_{index:04d}.jpg"
        Image.fromarray(noisy).save(path, quality=90)
        return path

    with ThreadPoolExecutor(max_workers=cpu_cores()) as pool:
        return list(pool.map(write, range(count)))


def full_decode_seconds(paths: list[Path]) -> float:
    """A plain loop decoding every photo at full resolution (the baseline)."""
    started = time.perf_counter()
    for path in paths:
        with Image.open(path) as image:
            image.convert("RGB")
    return time.perf_counter() - started


def _extract(folder: Path, output: Path, draft: bool, side: int, threads: int) -> tuple[float, list[dict]]:
    null_models = {"yolo_weights": "null-yolo.pt", "hf_model": "null-hf"}  # names only: NullDetector stands in
    config = ExtractConfig(
        images=str(folder), output=str(output), draft_decode=draft, loader_threads=threads, batch_size=8, **null_models
    )
    detectors = [NullDetector(spec.name, side) for spec in config.detector_specs()]
    summary = run_extraction(config, detectors, NullScene())
    records = [line.record for line in iter_jsonl(output)]  # its own output: lines end at "\n" only
    return summary["seconds"], records


def null_benchmark(count: int = 24, side: int = 640, threads: int = 0, repeats: int = 2) -> dict:
    """Images/s of the pipeline with null detectors vs a plain full-resolution decode loop."""
    threads = threads or cpu_cores()
    with tempfile.TemporaryDirectory(prefix="desclm-photos-") as work:
        folder = Path(work) / "photos"
        paths = write_photos(folder, count)
        full_decode_seconds(paths[:2])  # warm the file cache for both sides alike
        plain, pipeline = [], []
        for repeat in range(repeats):
            plain.append(full_decode_seconds(paths))
            seconds, drafted = _extract(folder, Path(work) / f"draft{repeat}.jsonl", True, side, threads)
            pipeline.append(seconds)
        _, full = _extract(folder, Path(work) / "full.jsonl", False, side, threads)
    return {
        "images": count,
        "photo_size": list(PHOTO_SIZE),
        "model_input_side": side,
        "loader_threads": threads,
        "full_decode_images_per_second": count / min(plain),
        "pipeline_images_per_second": count / min(pipeline),
        "ratio": min(plain) / min(pipeline),
        "records_identical_to_full_decode": drafted == full,
        "goal_ratio": 4.0,
    }


def print_null_benchmark(result: dict) -> None:
    print(json.dumps(result, indent=2))
    print(
        f"null-detector pipeline {result['pipeline_images_per_second']:.1f} img/s vs plain full decode "
        f"{result['full_decode_images_per_second']:.1f} img/s on {result['images']} photos of "
        f"{result['photo_size'][0]}x{result['photo_size'][1]}, records identical: "
        f"{result['records_identical_to_full_decode']}: x{result['ratio']:.1f} vs full decode"
    )
