"""Detections a team already has, in place of running a detector (`yolo_predictions`, `hf_predictions`).

    desclm extract --images photos/ --yolo_predictions runs/detect/predict/labels [--yolo_weights best.pt]
    desclm extract --images instances.json --hf_predictions detections_coco.json --hf_conf 0.4

Two file layouts are read, each as one detector of the ensemble (the same thresholds, fusion,
scene classifier and records follow as for a detector that runs):

- **Ultralytics `save_txt` labels** (`yolo predict ... save_txt=True save_conf=True`): a folder of
  `<photo stem>.txt` (or the photo's relative path with `.txt`), one `class x_center y_center width
  height confidence` line per box, normalised (a segmentation or oriented-box model's polygon lines
  as their upright boxes, `label_box`). A photo without a file has no detections, as
  Ultralytics writes none then. Class ids name classes through `prediction_names` (a YAML with
  `names`, or names separated by commas), else the checkpoint given as the detector's weights,
  else the YOLO data.yaml's names.
- **COCO detection results** (`[{"image_id", "category_id", "bbox": [x, y, w, h], "score"}]`, what
  pycocotools' `loadRes` reads) for photos listed by a COCO instances file (`--images
  instances.json`), whose categories name the classes and whose sizes normalise the boxes.

A malformed line or result is that photo's error line, never the run's. From Python, Ultralytics
`Results` and supervision `Detections` convert with `from_ultralytics` and `from_supervision`.
The detector's weights, when given beside its predictions, say which calibration file applies.
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from pathlib import Path

import numpy as np
import yaml

from helpers.core.paths import require_file
from helpers.cv.detectors import Detections, normalised_boxes
from helpers.cv.labels import normalise_label
from helpers.cv.yolo_data import label_box


def _finite(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def read_names(value: str) -> list[str]:
    """Class names from a YAML file with `names` (a list or an id -> name mapping) or a comma list."""
    path = Path(value)
    if value.endswith((".yaml", ".yml")) or path.is_file():
        spec = yaml.safe_load(require_file(path, "Class names (prediction_names)", kind="file").read_text()) or {}
        names = spec.get("names") if isinstance(spec, dict) else spec
        if isinstance(names, dict):
            return [str(names[k]) for k in sorted(names, key=int)]
        if isinstance(names, list):
            return [str(n) for n in names]
        raise ValueError(f"{path}: expected 'names' as a list or a mapping of class ids to names")
    return [name.strip() for name in value.split(",")]


class PredictedDetector:
    """A detector whose detections are read from files (see the module docstring)."""

    input_side = 1  # needs no pixels: the photo is decoded only as the scene classifier needs it

    def __init__(self, path, source, *, names: list[str] | None = None, conf: float = 0.5, label_map=None, name="yolo"):
        self.name, self.conf, self.label_map = name, conf, dict(label_map or {})
        self.path = require_file(path, f"Predictions for detector {name!r} (a save_txt folder or COCO results .json)")
        self.source = source
        self.forward_seconds = 0.0
        if self.path.is_dir():
            self.kind = "save_txt"
            self.class_names = list(names or source.class_names)
            if not self.class_names:
                raise ValueError(
                    f"{self.path}: save_txt labels hold class ids; name the classes with prediction_names "
                    "(a data.yaml or 'a,b,c'), or give the detector's weights"
                )
        else:
            self.kind = "coco"
            if source.kind != "coco":
                raise ValueError(
                    f"{self.path}: COCO detection results name photos by image_id: give the COCO instances file "
                    f"as images (got a {source.kind})"
                )
            self.class_names = list(source.class_names)
            self.results = self._read_results()

    def _read_results(self) -> dict[Path, list | str]:
        """Photo -> its results (or the first problem with them), from a COCO results JSON."""
        try:
            content = json.loads(self.path.read_text(encoding="utf-8-sig"))
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            raise ValueError(f"{self.path}: not a JSON file ({error})") from None
        if not isinstance(content, list):
            raise ValueError(f"{self.path}: COCO detection results are a JSON list, got {type(content).__name__}")
        coco = self.source.coco
        by_photo: dict[Path, list | str] = defaultdict(list)
        for index, result in enumerate(content):
            where = f"{self.path}: [{index}]"
            if not isinstance(result, dict):
                raise ValueError(f"{where}: expected an object with image_id, category_id, bbox, score; got {result!r}")
            photo = coco.photo_of.get(result.get("image_id"))
            if photo is None:
                raise ValueError(f"{where}: image_id {result.get('image_id')!r} is not in the instances file")
            if isinstance(by_photo[photo], str):
                continue
            bbox, score = result.get("bbox"), result.get("score")
            if result.get("category_id") not in coco.name_of:
                by_photo[photo] = f"{where}: category_id {result.get('category_id')!r} is not in the instances file"
            elif not (
                isinstance(bbox, list) and len(bbox) == 4 and all(map(_finite, bbox)) and bbox[2] >= 0 <= bbox[3]
            ):
                by_photo[photo] = f"{where}: bbox must be [x, y, width, height] of finite pixels, got {bbox!r}"
            elif not (_finite(score) and 0 <= score <= 1):
                by_photo[photo] = f"{where}: score must be a number in 0..1, got {score!r}"
            else:
                by_photo[photo].append(result)
        return by_photo

    def _from_txt(self, item) -> Detections:
        key = Path(item.key)
        mirrored = self.path / key.with_suffix(".txt") if not key.is_absolute() else None
        file = mirrored if mirrored and mirrored.is_file() else self.path / f"{item.path.stem}.txt"
        boxes, scores, labels = [], [], []
        if not file.is_file():
            return Detections(np.zeros((0, 4)), np.zeros(0), [])
        for number, line in enumerate(file.read_text(encoding="utf-8-sig").splitlines(), start=1):
            fields = line.split()
            if not fields:
                continue
            try:
                class_id, *numbers, score = int(fields[0]), *map(float, fields[1:])
                box = label_box(numbers)
                if box is None or not math.isfinite(score):
                    raise ValueError
            except (ValueError, IndexError, TypeError):
                extra = " (run predict with save_conf=True)" if len(fields) % 2 == 1 else ""
                raise ValueError(
                    f"{file}:{number}: expected 'class x_center y_center width height confidence' (a segment or "
                    f"oriented box: 'class x1 y1 x2 y2 x3 y3 ... confidence'){extra}, got {line!r}"
                ) from None
            if not 0 <= class_id < len(self.class_names):
                raise ValueError(f"{file}:{number}: class {class_id} is not one of the {len(self.class_names)} names")
            boxes.append(box)
            scores.append(score)
            labels.append(normalise_label(self.class_names[class_id], self.label_map))
        return Detections(np.clip(np.asarray(boxes, dtype=float).reshape(-1, 4), 0, 1), np.asarray(scores), labels)

    def _from_coco(self, item) -> Detections:
        results = self.results.get(item.path, [])
        if isinstance(results, str):
            raise ValueError(results)
        width, height = self.source.coco.sizes[item.path]
        pixels = [[x, y, x + w, y + h] for x, y, w, h in (r["bbox"] for r in results)]
        labels = [normalise_label(self.source.coco.name_of[r["category_id"]], self.label_map) for r in results]
        return Detections(normalised_boxes(pixels, width, height), np.asarray([r["score"] for r in results]), labels)

    def predict_items(self, items) -> list[Detections | ValueError]:
        """Each photo's detections at or above `conf`, or the error that makes it unreadable."""
        found: list[Detections | ValueError] = []
        for item in items:
            try:
                detections = self._from_txt(item) if self.kind == "save_txt" else self._from_coco(item)
            except ValueError as error:
                found.append(error)
                continue
            keep = detections.scores >= self.conf  # as a detector run at this threshold returns them
            labels = [label for label, kept in zip(detections.labels, keep) if kept]
            found.append(Detections(detections.boxes[keep], detections.scores[keep], labels))
        return found


def from_ultralytics(result, label_map: dict | None = None) -> Detections:
    """An Ultralytics `Results` (one photo of `model.predict(...)`) as desclm's `Detections`."""
    height, width = result.orig_shape
    boxes = result.boxes
    return Detections(
        normalised_boxes(boxes.xyxy.cpu().numpy(), width, height),
        boxes.conf.cpu().numpy(),
        [normalise_label(result.names[int(c)], label_map) for c in boxes.cls.cpu().numpy()],
    )


def from_supervision(detections, image_size: tuple[int, int], names=None, label_map=None) -> Detections:
    """A supervision `Detections` (pixel `xyxy`, `confidence`, `class_id`, and `data["class_name"]`
    when its converter kept names) of a photo of `image_size` (width, height) as desclm's `Detections`;
    `names` (class id -> name) where it has no class names."""
    class_names = (getattr(detections, "data", None) or {}).get("class_name")
    if class_names is None:
        if names is None:
            raise ValueError("these supervision Detections hold no class names: pass names (class id -> name)")
        class_names = [names[int(c)] for c in detections.class_id]
    confidence = detections.confidence if detections.confidence is not None else np.ones(len(class_names))
    width, height = image_size
    return Detections(
        normalised_boxes(detections.xyxy, width, height),
        np.asarray(confidence, dtype=float),
        [normalise_label(str(n), label_map) for n in class_names],
    )
