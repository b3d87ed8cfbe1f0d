"""Ensemble of detectors: class-aware Weighted Boxes Fusion (the `ensemble-boxes` library).

The library's traps, and what this wrapper does about them:
- it expects coordinates in 0..1 and clips (with a warning per box) anything outside: the
  backends already normalise and clip, and `fuse` rejects boxes that are not in 0..1;
- it calls `exit()` on list-length mismatches or an unknown `conf_type`: `FusionSettings` and
  `fuse` validate everything first and raise a `ValueError` naming the problem;
- with `conf_type="avg"` a box that only one of two equally weighted models found comes out at
  about half its confidence, so a later 0.5 threshold drops it: fusion becomes a vote.

Default `conf_type="max"`, chosen deliberately: each detector has already applied its own
confidence threshold, so every box that reaches fusion is one a model stands behind; "max" keeps
the fused confidence on the detectors' own scale (a box seen by one model keeps its score, a box
seen by several gets the most confident one, scaled by its model's weight relative to the
largest), so fusion merges duplicates and unions what the models found. Use "avg" or
"box_and_model_avg" to make the models vote instead; 01's report shows the effect of each.

A single detector passes through unchanged (WBF would still merge its overlapping boxes).

One object, one label (`agnostic_iou`): WBF fuses boxes of the same class only, and detectors keep
boxes of different classes on one object (Ultralytics' NMS is per class), so a littered photo with one
can could be described as holding a can and a bottle. With `agnostic_iou` below 1, fused boxes of any
classes overlapping more than that are thinned to the most confident (class-agnostic NMS after
fusion). Off by default, as in the detectors' libraries; calibration tries it. Measured on the demo
(docs/01_cv_extract.md), most of the boxes that made sentences false were a second label on an object.
A box on part of an object (half a banana peel inside the whole one) overlaps it little by IoU, since
it is small, but lies almost wholly inside it: with `agnostic_ios` below 1, a fused box whose
intersection with a more confident one covers more than that share of the smaller box is thinned too
(the "intersection over smaller" match of SAHI's postprocessing). Measured on the demo, most boxes
left over-counting an object were such parts (docs/01_cv_extract.md); calibration tries it.

One scale before fusing (`align_scores`): each detector's scores are mapped so that its own
threshold lands on the describer's (`Policy.min_confidence`, 0.5). Without it a threshold below
0.5 did nothing: fusion kept those boxes on the detector's scale and the describer then dropped
them (an undertrained or differently calibrated detector, whose true boxes score 0.2-0.4, was
described as seeing nothing), and detectors with different scales were averaged as if they agreed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from helpers.cv.detectors import Detections

CONF_TYPES = ("avg", "max", "box_and_model_avg", "absent_model_aware_avg")


@dataclass(frozen=True)
class FusionSettings:
    """Weighted Boxes Fusion settings (see the module docstring for `conf_type`)."""

    iou_thr: float = 0.55  # boxes of one class overlapping more than this are fused
    skip_box_thr: float = 0.0  # boxes below this confidence are ignored by fusion
    conf_type: str = "max"
    agnostic_iou: float = 1.0  # fused boxes of any classes overlapping more than this: the most confident kept (1: off)
    agnostic_ios: float = 1.0  # likewise for intersection over the smaller box: parts of an object (1: off)

    def __post_init__(self) -> None:
        if self.conf_type not in CONF_TYPES:
            raise ValueError(f"conf_type must be one of {CONF_TYPES}, got {self.conf_type!r}")
        if not 0.0 < self.iou_thr <= 1.0:
            raise ValueError(f"iou_thr must be in (0, 1], got {self.iou_thr}")
        if not 0.0 <= self.skip_box_thr < 1.0:
            raise ValueError(f"skip_box_thr must be in [0, 1), got {self.skip_box_thr}")
        for name in ("agnostic_iou", "agnostic_ios"):
            if not 0.0 < getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be in (0, 1] (1: off), got {getattr(self, name)}")

    @property
    def thinning(self) -> tuple[float, float]:
        """The class-agnostic thinning limits (`agnostic_iou`, `agnostic_ios`)."""
        return self.agnostic_iou, self.agnostic_ios


def align_scores(detections: Detections, threshold: float, target: float) -> Detections:
    """The detections with scores mapped piecewise-linearly so that `threshold` becomes `target`
    (0 -> 0, `threshold` -> `target`, 1 -> 1): a box the detector stands behind is at or above the
    describer's threshold, a box below it stays below, and the detector's ranking is kept. The
    identity when `threshold == target`.

    Raises:
        ValueError: `threshold` outside 0..1 or `target` outside (0, 1).
    """
    if not 0.0 <= threshold <= 1.0 or not 0.0 < target < 1.0:
        raise ValueError(f"align_scores: threshold must be in 0..1 and target in (0, 1), got {threshold}, {target}")
    scores = np.clip(detections.scores, 0.0, 1.0)
    if threshold == target:
        mapped = scores
    elif threshold == 1.0:  # only perfect scores pass: they stay 1
        mapped = np.where(scores >= 1.0, 1.0, scores * target)
    else:
        above = target + (scores - threshold) * (1.0 - target) / (1.0 - threshold)
        # scores above the threshold take `above`; capping them here keeps a tiny threshold from overflowing
        below = np.minimum(scores, threshold) * target / threshold if threshold > 0 else scores  # (0: none below)
        mapped = np.where(scores >= threshold, above, below)
    return Detections(detections.boxes, mapped, list(detections.labels))


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU matrix between (n, 4) and (m, 4) arrays of `[x1, y1, x2, y2]` boxes (degenerate pairs: 0)."""
    return box_overlaps(a, b)[0]


def _check(per_model: list[Detections], names: list[str], weights: list[float]) -> None:
    if not per_model:
        raise ValueError("fuse needs the detections of at least one model")
    if len(names) != len(per_model) or len(weights) != len(per_model):
        raise ValueError(f"{len(per_model)} models' detections but {len(names)} names and {len(weights)} weights")
    if any(w <= 0 for w in weights):
        raise ValueError(f"ensemble weights must be > 0, got {weights}")
    for name, detections in zip(names, per_model):
        boxes = detections.boxes
        if len(boxes) and (boxes.min() < 0.0 or boxes.max() > 1.0):
            raise ValueError(f"detector {name!r} gave boxes outside 0..1; normalise by the image size first")


def fuse(
    per_model: list[Detections],
    names: list[str],
    weights: list[float],
    settings: FusionSettings = FusionSettings(),
    attribute: bool = True,
) -> list[dict]:
    """Fuses one image's detections from several models into detection records.

    Args:
        per_model: Each model's detections for the image (same order as `names`).
        names: The models' short names, used in each result's `sources`.
        weights: One ensemble weight per model.
        settings: WBF settings.
        attribute: Fill `sources` (False leaves them empty: calibration only counts the boxes).

    Returns:
        `{"label", "confidence", "bbox", "sources"}` dicts, most confident first. `sources` lists
        the models whose boxes went into the fused box (each input box is attributed to the fused
        box of its label that it overlaps most).
    """
    _check(per_model, names, weights)
    if len(per_model) == 1:
        records = per_model[0].as_records()
        for record in records:
            record["sources"] = [names[0]]
        return one_label_per_object(sorted(records, key=lambda r: -r["confidence"]), *settings.thinning)
    from ensemble_boxes import weighted_boxes_fusion

    vocabulary = sorted({label for detections in per_model for label in detections.labels})
    if not vocabulary:
        return []
    index = {label: i for i, label in enumerate(vocabulary)}
    boxes, scores, labels = weighted_boxes_fusion(
        [d.boxes.tolist() for d in per_model],
        [d.scores.tolist() for d in per_model],
        [[index[label] for label in d.labels] for d in per_model],
        weights=list(weights),
        iou_thr=settings.iou_thr,
        skip_box_thr=settings.skip_box_thr,
        conf_type=settings.conf_type,
    )
    fused_labels = np.array([vocabulary[int(i)] for i in labels], dtype=object)
    sources = (
        _attribute(per_model, names, boxes, fused_labels, settings) if attribute else [set() for _ in fused_labels]
    )
    return one_label_per_object(_records(boxes, scores, fused_labels, sources, names), *settings.thinning)


def box_overlaps(a, b=None) -> tuple[np.ndarray, np.ndarray]:
    """IoU and intersection over the smaller box (IoS) between (n, 4) and (m, 4) arrays of `[x1, y1, x2, y2]`
    boxes (`b`: `a` itself), as torchvision's box_iou computes IoU; 0 where the union or the smaller box has
    no area."""
    a = np.asarray(a, dtype=np.float64).reshape(-1, 4)
    b = a if b is None else np.asarray(b, dtype=np.float64).reshape(-1, 4)
    area_a, area_b = ((np.clip(x[:, 2] - x[:, 0], 0.0, None) * np.clip(x[:, 3] - x[:, 1], 0.0, None)) for x in (a, b))
    width = np.minimum(a[:, None, 2], b[None, :, 2]) - np.maximum(a[:, None, 0], b[None, :, 0])
    height = np.minimum(a[:, None, 3], b[None, :, 3]) - np.maximum(a[:, None, 1], b[None, :, 1])
    inter = np.clip(width, 0.0, None) * np.clip(height, 0.0, None)
    union = area_a[:, None] + area_b[None, :] - inter
    smaller = np.minimum(area_a[:, None], area_b[None, :])
    iou = np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)
    return iou, np.divide(inter, smaller, out=np.zeros_like(inter), where=smaller > 0)


def thinned(iou: np.ndarray, ios: np.ndarray, agnostic_iou: float, agnostic_ios: float = 1.0) -> list[int]:
    """Indices (in order) kept by greedy class-agnostic thinning of boxes given most confident first: a box
    is dropped when its IoU with a kept one exceeds `agnostic_iou` or its IoS exceeds `agnostic_ios`."""
    kept: list[int] = []
    for index in range(len(iou)):
        if not kept or not ((iou[index, kept] > agnostic_iou).any() or (ios[index, kept] > agnostic_ios).any()):
            kept.append(index)
    return kept


def one_label_per_object(records: list[dict], agnostic_iou: float, agnostic_ios: float = 1.0) -> list[dict]:
    """Detection records (most confident first) thinned so that no two of any classes overlap more
    than `agnostic_iou`, nor lie inside one another beyond `agnostic_ios` of the smaller (class-agnostic
    NMS: the more confident stays; equal scores keep the given order); unchanged when both are 1."""
    if (agnostic_iou >= 1.0 and agnostic_ios >= 1.0) or len(records) < 2:
        return records
    iou, ios = box_overlaps([r["bbox"] for r in records])
    return [records[i] for i in thinned(iou, ios, agnostic_iou, agnostic_ios)]


def _attribute(per_model, names, boxes, fused_labels, settings: FusionSettings) -> list[set[str]]:
    """Which models' boxes went into each fused box. WBF does not say, so every input box is
    attributed to the fused box of its label that it overlaps most (each input box went into
    exactly one cluster); one IoU matrix per model and label, so 300 boxes cost milliseconds."""
    sources: list[set[str]] = [set() for _ in fused_labels]
    for label in set(fused_labels):
        candidates = np.flatnonzero(fused_labels == label)
        for name, detections in zip(names, per_model):
            mine = np.array([lab == label for lab in detections.labels], dtype=bool)
            mine &= detections.scores >= settings.skip_box_thr
            if not mine.any():
                continue
            overlaps = box_iou(detections.boxes[mine], boxes[candidates])
            for row in overlaps:
                if row.max() > 0:
                    sources[candidates[int(row.argmax())]].add(name)
    return sources


def _records(boxes, scores, fused_labels, sources, names) -> list[dict]:
    return [
        {
            "label": str(label),
            "confidence": round(float(min(score, 1.0)), 4),
            "bbox": [round(float(v), 6) for v in np.clip(box, 0.0, 1.0)],
            "sources": [name for name in names if name in found],
        }
        for box, score, label, found in zip(boxes, scores, fused_labels, sources)
    ]
