"""Benchmark: the extraction pipelines against the models' own time on the same images.

    desclm bench extract --images data.yaml --yolo_weights best.pt [--count 96] [--batch_size 16] [--repeats 2]
    desclm bench null [--count 24]   # see helpers.cv.pipeline_bench

Side by side in one process, on the same images (decoded in memory for the first and last):
- models alone: each library's `predict` (its pre-processing, forward pass, post-processing) over
  the images, float32: today's path without the pipeline around it;
- the library pipeline: `run_extraction` with `preprocess=library`, `precision=fp32` (decoding,
  fusion, records, writing, resume bookkeeping on top of the libraries' own pre-processing);
- the tensor pipeline: `run_extraction` with `preprocess=tensor` and the configured precision
  (`auto`: float16 on a GPU): one upload per photo, pre-processing on the models' device;
- the forward-only ceiling: the tensor pipeline's networks alone, on inputs already prepared on the
  device (what the chip can do; the pipeline's share of it is the goal on a GPU).
Overhead = library pipeline time / models-alone time - 1. The tensor pipeline's records are compared
with the library pipeline's (`helpers.cv.evaluation.record_agreement`). The best of `repeats` runs
of each is used, alternating, so a noisy neighbour hurts all alike.
"""

from __future__ import annotations

import json
import logging
import tempfile
import time
from dataclasses import asdict, replace
from pathlib import Path

from helpers.core.io import iter_jsonl, side_files, write_metrics
from helpers.cv.batch import BatchExtractor
from helpers.cv.detectors import resolve_device, uses_half
from helpers.cv.extract import ExtractConfig, run_extraction
from helpers.cv.sources import load_image, open_image_source, select

logger = logging.getLogger(__name__)


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
        return self._timed(self.model.predict, images)

    def predict_tensors(self, photos):
        return self._timed(self.model.predict_tensors, photos)

    def _timed(self, predict, batch):
        started = time.perf_counter()
        try:
            return predict(batch)
        finally:
            self.seconds += time.perf_counter() - started


def _load(config: ExtractConfig, source, precision: str) -> tuple[list, object]:
    """The detectors and scene classifier as extraction loads them, in `precision`."""
    extractor = BatchExtractor(replace(config, precision=precision), source)
    return extractor.detectors, extractor.scene_model


def forward_ceiling(models: list, images: list, batch_size: int, device: str) -> tuple[float, dict[str, float]]:
    """Seconds the models' networks alone take over `images`, their inputs prepared on the device
    beforehand (each model's `model_input` from one upload per batch); each model run once first."""
    import torch

    from helpers.cv.tensors import DevicePhotos

    def synchronize() -> None:
        if device.startswith("cuda"):
            torch.cuda.synchronize()

    prepared = []
    for start in range(0, len(images), batch_size):
        photos = DevicePhotos.upload(images[start : start + batch_size], device)
        prepared.append([model.model_input(photos) for model in models])
    for model in models:  # sets each predictor up; warms the kernels
        model.predict_tensors(DevicePhotos.upload(images[:batch_size], device))
    names = [getattr(model, "name", "scene") for model in models]
    seconds = dict.fromkeys(names, 0.0)
    for inputs in prepared:
        for name, model, model_input in zip(names, models, inputs):
            synchronize()
            started = time.perf_counter()
            model.forward(model_input)
            synchronize()
            seconds[name] += time.perf_counter() - started
    return sum(seconds.values()), seconds


def _pipeline(config: ExtractConfig, models: tuple[list, object], output: Path, count: int) -> tuple[float, dict]:
    """One `run_extraction` into a fresh output with these loaded models: its seconds and details."""
    detectors, scene_model = models
    # the same loaded models, so both sides time the same objects; timed, to see where the rest goes
    timed = [_Timed(d, d.name) for d in detectors] + ([_Timed(scene_model, "scene")] if scene_model else [])
    run = run_extraction(
        ExtractConfig(**{**asdict(config), "output": str(output)}),
        timed[: len(detectors)],
        timed[-1] if scene_model else None,
    )
    if run["processed"] + run["failed"] != count:
        raise RuntimeError(f"the extraction did {run['processed'] + run['failed']} of {count} images")
    if run["failed"]:  # the time of photos that failed measures no pipeline (a missing package fails every one)
        first = next(iter_jsonl(side_files(output)["errors"])).record
        raise RuntimeError(
            f"{run['failed']} of {count} photos failed in the {config.preprocess} pipeline, so its speed is no "
            f"measure; the first, {first.get('image')}: {first.get('error')}"
        )
    inside = {t.label: t.seconds for t in timed}
    return run["seconds"], {"model_seconds": inside, "other_seconds": run["seconds"] - sum(inside.values())}


def benchmark(config: ExtractConfig, repeats: int = 2) -> dict:
    """Times every way (see the module's help); returns images/s of each, their ratios and the records' agreement."""
    from helpers.cv.evaluation import record_agreement

    if config.slice_size:  # its ceiling is each network on prepared inputs: a tile's would be another measure
        raise ValueError("bench extract times the models on whole photos: set slice_size 0 (the tiles add passes)")
    source = open_image_source(config.images, image_column=config.image_column, key_column=config.key_column)
    items = select(source.items, max_images=config.max_images)
    images = [load_image(item) for item in items]
    device = resolve_device(config.device)
    half = uses_half(config.precision, device)
    library = _load(config, source, "fp32")
    tensor = _load(config, source, "fp16") if half else library
    tensor_models = [*tensor[0], *([tensor[1]] if tensor[1] else [])]
    library_config = ExtractConfig(**{**asdict(config), "preprocess": "library", "precision": "fp32"})
    tensor_config = ExtractConfig(**{**asdict(config), "preprocess": "tensor", "precision": "fp16" if half else "fp32"})
    _models_alone(*library, images[: config.batch_size], config.batch_size)  # warm-up
    times = {"alone": [], "library": [], "tensor": [], "ceiling": []}
    detail = {}
    with tempfile.TemporaryDirectory() as work:
        for repeat in range(repeats):
            seconds, detail = _models_alone(*library, images, config.batch_size)
            times["alone"].append(seconds)
            for name, run_config, models in (("library", library_config, library), ("tensor", tensor_config, tensor)):
                seconds, inside = _pipeline(run_config, models, Path(work) / f"{name}{repeat}.jsonl", len(items))
                times[name].append(seconds)
                detail[f"{name}_pipeline_model_seconds"] = inside["model_seconds"]
                detail[f"{name}_pipeline_other_seconds"] = inside["other_seconds"]
            seconds, per_model = forward_ceiling(tensor_models, images, config.batch_size, device)
            times["ceiling"].append(seconds)
            detail["ceiling_model_seconds"] = per_model
        agreement = record_agreement(*(_records(Path(work) / f"{name}0.jsonl") for name in ("library", "tensor")))
    best = {name: min(values) for name, values in times.items()}
    rate = {name: len(items) / seconds for name, seconds in best.items()}
    return {
        "images": len(items),
        "batch_size": config.batch_size,
        "device": device,
        "tensor_precision": "fp16" if half else "fp32",
        "models_alone_images_per_second": rate["alone"],
        "extraction_images_per_second": rate["library"],
        "overhead": best["library"] / best["alone"] - 1,
        "goal_overhead": 0.15,
        "tensor_extraction_images_per_second": rate["tensor"],
        "tensor_vs_library": rate["tensor"] / rate["library"],
        "ceiling_images_per_second": rate["ceiling"],
        "tensor_share_of_ceiling": rate["tensor"] / rate["ceiling"],
        "tensor_agreement": agreement,
        **detail,
    }


def _records(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def run_benchmark(options) -> int:
    """`desclm bench extract`: prints the comparison (options: `helpers.commands.bench.BenchExtractOptions`)."""
    config = ExtractConfig(**{**asdict(options.extract), "max_images": options.count})
    try:
        result = benchmark(config, options.repeats)
    except RuntimeError as error:
        logger.error("bench extract: %s", error)
        return 1
    print(json.dumps(result, indent=2))
    if options.save:
        write_metrics(options.save, result)
    agreement = result["tensor_agreement"]
    print(
        f"library pipeline {result['extraction_images_per_second']:.1f} img/s vs models alone "
        f"{result['models_alone_images_per_second']:.1f} img/s: overhead {result['overhead']:.1%} (goal <= 15%)\n"
        f"tensor pipeline ({result['tensor_precision']}) {result['tensor_extraction_images_per_second']:.1f} img/s: "
        f"x{result['tensor_vs_library']:.2f} the library pipeline, {result['tensor_share_of_ceiling']:.0%} of the "
        f"forward-only ceiling {result['ceiling_images_per_second']:.1f} img/s; its records: "
        f"{_share(agreement['matched_share'])} of detections matched at IoU >= {agreement['iou_threshold']}, "
        f"confidences within {agreement['largest_confidence_difference']:.3f}, "
        f"same scene {agreement['same_scene_share']:.0%}"
    )
    return 0


def _share(share: float | None) -> str:
    return "no boxes on either side, so none" if share is None else f"{share:.1%}"
