"""Benchmark: extraction throughput against the models' own time on the same images.

    desclm bench extract --images data.yaml --yolo_weights best.pt [--count 96] [--batch_size 16] [--repeats 2]
    desclm bench null [--count 24]   # see helpers.cv.pipeline_bench

Side by side in one process, on the same images, with the same loaded models:
- models alone: the detectors and the scene classifier over images already decoded in memory
  (each library's own pre-processing, forward pass and post-processing);
- extraction: `run_extraction` into a fresh output (decoding, fusion, records, writing, resume
  bookkeeping on top).
Overhead = extraction time / models-alone time - 1 (goal: <= 15%). The best of `repeats` runs of
each is used, alternating, so a noisy neighbour hurts both alike.
"""

from __future__ import annotations

import json
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

from helpers.cv.extract import ExtractConfig, run_extraction
from helpers.cv.sources import load_image, open_image_source, select


def _models_alone(detectors, scene_model, images, batch_size: int) -> tuple[float, dict]:
    """Seconds for every model over `images`, and where they went: each model's wall time
    (pre-processing, forward, post-processing) and its boxes per image."""
    seconds = {model.name: 0.0 for model in detectors} | ({"scene": 0.0} if scene_model else {})
    boxes = {model.name: 0 for model in detectors}
    for start in range(0, len(images), batch_size):
        batch = images[start : start + batch_size]
        for detector in detectors:
            started = time.perf_counter()
            boxes[detector.name] += sum(len(d) for d in detector.predict(batch))
            seconds[detector.name] += time.perf_counter() - started
        if scene_model:
            started = time.perf_counter()
            scene_model.predict(batch)
            seconds["scene"] += time.perf_counter() - started
    per_image = {name: count / max(len(images), 1) for name, count in boxes.items()}
    return sum(seconds.values()), {"model_seconds": seconds, "boxes_per_image": per_image}


class _Timed:
    """A model whose `predict` wall time is summed (everything else passes through)."""

    def __init__(self, model, name: str) -> None:
        self.model, self.label, self.seconds = model, name, 0.0

    def __getattr__(self, attribute: str):
        return getattr(self.model, attribute)

    def predict(self, images):
        started = time.perf_counter()
        try:
            return self.model.predict(images)
        finally:
            self.seconds += time.perf_counter() - started


def benchmark(config: ExtractConfig, repeats: int = 2) -> dict:
    """Times both ways; returns images/s of each and the overhead ratio."""
    from helpers.cv.detectors import SceneClassifier, load_detector

    items = select(open_image_source(config.images).items, max_images=config.max_images)
    images = [load_image(item) for item in items]
    specs = config.detector_specs()
    detectors = [
        load_detector(s, imgsz=config.imgsz, device=config.device, shared_label_map=config.label_map) for s in specs
    ]
    scene_model = (
        SceneClassifier(config.scene_weights, imgsz=config.scene_imgsz, device=config.device)
        if config.scene_weights
        else None
    )
    _models_alone(detectors, scene_model, images[: config.batch_size], config.batch_size)  # warm-up
    alone, full, detail = [], [], {}
    with tempfile.TemporaryDirectory() as work:
        for repeat in range(repeats):
            seconds, detail = _models_alone(detectors, scene_model, images, config.batch_size)
            alone.append(seconds)
            output = Path(work) / f"run{repeat}.jsonl"
            # the same loaded models, so both sides time the same objects; timed, to see where the rest goes
            timed = [_Timed(d, d.name) for d in detectors] + ([_Timed(scene_model, "scene")] if scene_model else [])
            run = run_extraction(
                ExtractConfig(**{**asdict(config), "output": str(output)}),
                timed[: len(detectors)],
                timed[-1] if scene_model else None,
            )
            inside = {t.label: t.seconds for t in timed}
            detail["pipeline_model_seconds"] = inside
            detail["pipeline_other_seconds"] = run["seconds"] - sum(inside.values())  # decode wait, fusion, writing
            if run["processed"] + run["failed"] != len(items):
                raise RuntimeError(f"the extraction did {run['processed'] + run['failed']} of {len(items)} images")
            full.append(run["seconds"])
    best_alone, best_full = min(alone), min(full)
    return {
        "images": len(items),
        "batch_size": config.batch_size,
        "models_alone_images_per_second": len(items) / best_alone,
        "extraction_images_per_second": len(items) / best_full,
        "overhead": best_full / best_alone - 1,
        "goal_overhead": 0.15,
        **detail,
    }


def run_benchmark(options) -> int:
    """`desclm bench extract`: prints the comparison (options: `helpers.commands.bench.BenchExtractOptions`)."""
    config = ExtractConfig(**{**asdict(options.extract), "max_images": options.count})
    result = benchmark(config, options.repeats)
    print(json.dumps(result, indent=2))
    print(
        f"extraction {result['extraction_images_per_second']:.1f} img/s vs models alone "
        f"{result['models_alone_images_per_second']:.1f} img/s: overhead {result['overhead']:.1%} (goal <= 15%)"
    )
    return 0
