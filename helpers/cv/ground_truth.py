"""CV output records (one per image) and the ground-truth source.

A record, as 01_cv_extract writes it and every later stage reads it:
    {"image": "train/images/x.jpg", "split": "train", "width": 384, "height": 288,
     "detections": [{"label": "plastic", "confidence": 0.92, "bbox": [x1, y1, x2, y2], "sources": [...]}],
     "scene": {"class": "grass", "confidence": 0.95}}

`ground_truth_outputs` turns a YOLO dataset's own labels into such records (confidence 1.0,
source "ground_truth"): an oracle detector, for building and checking the later stages
independently of detector errors. `helpers.cv.extract` makes records from real detectors.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from helpers.core.io import iter_jsonl
from helpers.cv.detectors import UNKNOWN_SCENE
from helpers.cv.yolo_data import read_labels

logger = logging.getLogger(__name__)


@dataclass
class ExtractionResult:
    """What a CV-output run produced: records, failures, and where they were written."""

    records: list[dict]
    errors: list[dict] = field(default_factory=list)
    output: Path | None = None
    errors_output: Path | None = None

    def class_counts(self) -> dict[str, int]:
        return dict(Counter(d["label"] for r in self.records for d in r["detections"]).most_common())

    def scene_counts(self) -> dict[str, int]:
        return dict(Counter(r["scene"]["class"] for r in self.records).most_common())


def labelled_truth(source, item) -> tuple[list[dict], dict]:
    """An image's labelled boxes as detections (confidence 1.0) and its labelled scene.

    Raises:
        ValueError: The label file is malformed or names a class outside the dataset's names.
    """
    boxes = read_labels(source.ground_truth_path(item), source.class_names)
    detections = [{"label": label, "confidence": 1.0, "bbox": box, "sources": ["ground_truth"]} for label, box in boxes]
    scene = source.scenes.get(item.key)
    return detections, ({"class": scene, "confidence": 1.0} if scene else dict(UNKNOWN_SCENE))


def add_ground_truth(record: dict, source, item) -> int:
    """Adds `ground_truth` ({"detections": [{"label", "bbox"}], "scene"}) to a record of a labelled
    source; an unreadable label file becomes `ground_truth_error` instead (the photo is still
    described, and not counted in truth metrics). Returns 1 for such an error, else 0."""
    try:
        detections, scene = labelled_truth(source, item)
    except ValueError as error:
        record["ground_truth_error"] = str(error)
        logger.warning("ground truth of %s left out: %s", item.key, error)
        return 1
    record["ground_truth"] = {"detections": [{"label": d["label"], "bbox": d["bbox"]} for d in detections],
                              "scene": scene}  # fmt: skip
    return 0


def ground_truth_outputs(data_yaml: str | Path, output: str | Path, max_images: int = 0) -> ExtractionResult:
    """Writes CV output records made from a YOLO dataset's labels and its `scenes.csv`.

    The same run as notebook 01 with `detections_from="labels"` (resumes an existing output).

    Args:
        data_yaml: The dataset's `data.yaml`.
        output: JSONL to write; failures go to `<output stem>.errors.jsonl` beside it.
        max_images: Use only the first N images in split order (0 = all).

    Returns:
        The records and the failures (unreadable images, malformed label files).
    """
    from helpers.cv.extract import ExtractConfig, run_extraction

    run = run_extraction(
        ExtractConfig(images=str(data_yaml), output=str(output), max_images=max_images, detections_from="labels")
    )
    return ExtractionResult(
        records=[line.record for line in iter_jsonl(run["output"])],
        errors=[line.record for line in iter_jsonl(run["errors_output"])],
        output=Path(run["output"]),
        errors_output=Path(run["errors_output"]),
    )
