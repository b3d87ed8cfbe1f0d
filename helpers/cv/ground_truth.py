"""CV output records (one per image) and the ground-truth source.

A record, as 01_cv_extract writes it and every later stage reads it:
    {"image": "train/images/x.jpg", "split": "train", "width": 384, "height": 288,
     "detections": [{"label": "plastic", "confidence": 0.92, "bbox": [x1, y1, x2, y2], "sources": [...]}],
     "scene": {"class": "grass", "confidence": 0.95}}

`labelled_truth` turns a YOLO dataset's or COCO file's own labels into such records (confidence 1.0,
source "ground_truth"): an oracle detector, for building and checking the later stages
independently of detector errors. `helpers.cv.extract` makes records from real detectors.
"""

from __future__ import annotations

import logging

from helpers.cv.detectors import UNKNOWN_SCENE

logger = logging.getLogger(__name__)


def labelled_truth(source, item) -> tuple[list[dict], dict]:
    """An image's labelled boxes as detections (confidence 1.0) and its labelled scene.

    Raises:
        ValueError: The label file is malformed or names a class outside the dataset's names.
    """
    boxes = source.truth_boxes(item)
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
    record["ground_truth"] = {
        "detections": [{"label": d["label"], "bbox": d["bbox"]} for d in detections],
        "scene": scene,
    }
    return 0
