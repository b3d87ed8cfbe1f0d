"""A fixed camera's distinct items: each item once, however many of the camera's photos show it.

A trail camera watching a dumping spot takes hundreds of photos of the same few items, and the roll-up's
count of items counts each item in every photo. Litter does not move, and neither does the camera, so an
item's boxes in its photos overlap:

- a photo's stated detections (at the describer's threshold, with a box) are matched to the items already
  found whose box (the mean of their sightings') overlaps theirs by at least `min_iou` (intersection over
  union), the most overlapping pairs first, an item to one detection of a photo (two detections in one photo
  are two items, as the detector says);
- a detection matched to none is a new item; an item's label is the one most of its detections give (ties:
  the first given), as a video's items' (`helpers.describer.video_items`).

An item taken away and another left in its place are one item; a camera knocked askew starts its items
anew. The overlap trades merging two items lying side by side against counting one twice when its boxes
jitter (`docs/measurements/fixed_items_sim.json`). The items found are held until the group's count closes.
"""

from __future__ import annotations

from collections import Counter

import numpy as np

from helpers.core.contract import Policy
from helpers.core.matching import greedy_pairs
from helpers.describer.options import FIXED_MIN_IOU
from helpers.text.grammar import canonical_label


class FixedItems:
    """One fixed camera's distinct items (see the module docstring).

    Args:
        policy: Which detections count (`min_confidence`), as in the sentences.
        min_iou: Boxes in different photos overlapping this much (intersection over union) are one item.
    """

    def __init__(self, policy: Policy = Policy(), min_iou: float = FIXED_MIN_IOU) -> None:
        if not 0 < min_iou <= 1:
            raise ValueError(f"min_iou must be in (0, 1], got {min_iou!r}")
        self.policy, self.min_iou = policy, min_iou
        self.boxes = np.zeros((0, 4))  # each item's mean box
        self.sightings: list[int] = []
        self.labels: list[Counter[str]] = []
        self.best: list[tuple] = []  # each item's surest sighting: confidence, photo key, box, taken
        self.photos = 0
        self.unboxed = 0  # stated detections without a box

    def add(self, photo: str, record: dict) -> None:
        """Add a photo's stated detections."""
        self.photos += 1
        stated = [d for d in record["detections"] if d["confidence"] >= self.policy.min_confidence]
        self.unboxed += sum(d.get("bbox") is None for d in stated)
        stated = [d for d in stated if d.get("bbox") is not None]
        if not stated:
            return
        boxes = np.clip(np.array([d["bbox"] for d in stated], dtype=float), 0.0, 1.0)
        overlaps = _iou(boxes, self.boxes)
        candidates = zip(*np.nonzero(overlaps >= self.min_iou))
        matched = greedy_pairs((-float(overlaps[d, i]), int(d), int(i)) for d, i in candidates)  # most overlap first
        for index, detection in enumerate(stated):
            item = matched.get(index)
            if item is None:
                item = len(self.sightings)
                self.boxes = np.vstack([self.boxes, boxes[index]])
                self.sightings.append(0)
                self.labels.append(Counter())
                self.best.append((-1.0,))
            self.sightings[item] += 1
            self.boxes[item] += (boxes[index] - self.boxes[item]) / self.sightings[item]  # the mean of its boxes
            self.labels[item][canonical_label(detection["label"])] += 1
            if detection["confidence"] > self.best[item][0]:
                self.best[item] = (detection["confidence"], photo, detection["bbox"], record.get("taken"))

    def counts(self) -> Counter[str]:
        """Distinct items per label (each item's most given label)."""
        return Counter(labels.most_common(1)[0][0] for labels in self.labels)

    def items(self) -> list[dict]:
        """Each distinct item, first found first, in `helpers.describer.rollup.ITEM_COLUMNS`' shape: no
        `video`, no times; `frames` the photos that show it, `frame` the one that shows it most surely (its
        key, confidence, box and `taken`)."""
        found = []
        for labels, sightings, (confidence, photo, box, taken) in zip(self.labels, self.sightings, self.best):
            item = {"video": None, "label": labels.most_common(1)[0][0], "first_seen_s": None, "last_seen_s": None}
            item |= {"frames": sightings, "frame": photo, "confidence": confidence, "bbox": box}
            found.append(item | ({"taken": taken} if taken else {}))
        return found


def _iou(boxes: np.ndarray, others: np.ndarray) -> np.ndarray:
    """Intersection over union of each of `boxes` with each of `others` ([x1, y1, x2, y2] rows)."""
    if not len(others):
        return np.zeros((len(boxes), 0))
    top_left = np.maximum(boxes[:, None, :2], others[None, :, :2])
    bottom_right = np.minimum(boxes[:, None, 2:], others[None, :, 2:])
    overlap = np.prod(np.clip(bottom_right - top_left, 0, None), axis=2)
    areas = np.prod(boxes[:, 2:] - boxes[:, :2], axis=1)[:, None] + np.prod(others[:, 2:] - others[:, :2], axis=1)
    return overlap / np.maximum(areas - overlap, 1e-12)
