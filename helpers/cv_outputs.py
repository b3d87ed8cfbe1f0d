"""CV output records (one per image) and the ground-truth source.

A record, as 01_cv_extract writes it and every later stage reads it:
    {"image": "train/images/x.jpg", "split": "train", "width": 384, "height": 288,
     "detections": [{"label": "plastic", "confidence": 0.92, "bbox": [x1, y1, x2, y2], "sources": [...]}],
     "scene": {"class": "grass", "confidence": 0.95}}

`ground_truth_outputs` turns a YOLO dataset's own labels into such records (confidence 1.0,
source "ground_truth"): an oracle detector, for building and checking the later stages
independently of detector errors.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image
from tqdm.auto import tqdm

from helpers.io import write_jsonl
from helpers.yolo_data import label_path, load_data_yaml, read_labels

UNKNOWN_SCENE = {"class": "unknown", "confidence": 0.0}


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


def ground_truth_outputs(data_yaml: str | Path, output: str | Path, max_images: int = 0) -> ExtractionResult:
    """Writes CV output records made from a YOLO dataset's labels and its `scenes.csv`.

    Args:
        data_yaml: The dataset's `data.yaml`.
        output: JSONL to write; failures go to `<output stem>.errors.jsonl` beside it.
        max_images: Use only the first N images in split order (0 = all).

    Returns:
        The records and the failures (unreadable images, malformed label files).
    """
    dataset = load_data_yaml(data_yaml)
    images = dataset.images()[: max_images or None]
    result = ExtractionResult(records=[])
    for image_path, split in tqdm(images, desc="ground truth", unit="img"):
        relative = image_path.relative_to(dataset.root).as_posix()
        try:
            with Image.open(image_path) as image:
                width, height = image.size
                image.verify()  # catches truncated and corrupt files without a full decode
            boxes = read_labels(label_path(image_path), dataset.names)
        except Exception as error:  # noqa: BLE001 - any failure is reported per image, never fatal
            result.errors.append({"image": relative, "split": split, "error": f"{type(error).__name__}: {error}"})
            continue
        scene = dataset.scenes.get(relative)
        result.records.append(
            {
                "image": relative,
                "split": split,
                "width": width,
                "height": height,
                "detections": [
                    {"label": label, "confidence": 1.0, "bbox": box, "sources": ["ground_truth"]} for label, box in boxes
                ],
                "scene": {"class": scene, "confidence": 1.0} if scene else dict(UNKNOWN_SCENE),
            }
        )
    output = Path(output)
    result.output = write_jsonl(output, result.records)
    result.errors_output = write_jsonl(output.with_name(f"{output.stem}.errors.jsonl"), result.errors)
    return result
