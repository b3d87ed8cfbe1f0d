"""Ensemble calibration on a labelled validation split, by what the settings do to the sentences.

    desclm calibrate --params my_01.yaml      # images: a YOLO data.yaml with a val split

mAP rewards ranking boxes; a sentence needs the right *counts*. So each detector's confidence
threshold, the ensemble weights, WBF's `conf_type`, whether to keep one label per object
(`agnostic_iou`) and to drop boxes lying inside a more confident one (`agnostic_ios`: parts of an object;
see `helpers.cv.fusion`) are chosen by per-photo count accuracy: the share of
validation photos where every category's count after fusion and the describer's confidence threshold
equals the labelled count. A threshold that wins on a spike of a hundred photos generalises worse than
one on a plateau, so settings are ranked by their count accuracy averaged with that of their threshold
neighbours (each detector's threshold one grid step either way, the rest unchanged:
`neighbourhood_accuracy`; ties: the setting's own accuracy, fewer littered photos with nothing
counted, thresholds nearer the middle). Measured on two demo builds' 120 unseen photos: every count right
on 75 and 79 instead of 73 and 67 (`docs/01_cv_extract.md`). As in 01, each detector's scores are first
mapped so that its threshold is the describer's (`helpers.cv.fusion.align_scores`): a threshold of
0.2 means "describe what this detector scores 0.2 or more". A detector that only adds false boxes
ends with the smallest weight (with `conf_type="max"` its lone boxes then fall below the
describer's threshold: excluded in effect). The choice, its validation numbers and the table of the
best settings go to the ensemble file 01 reads (`ensemble_weights_file`).

Detections saved by a detector (`yolo_predictions`, `hf_predictions`: Ultralytics save_txt labels or
COCO results, `helpers.cv.predictions`) calibrate without running it; the file then records the
predictions' fingerprint, unless the detector's weights are given beside them.

With a few dozen validation photos the best of 2,430 settings wins partly by chance, so the command keeps
the current settings unless the best one is better beyond chance: an exact one-sided McNemar test on the
photos where the two disagree (made exact by one only) must give p < `SIGNIFICANCE`. The file says why.
"""

from __future__ import annotations

import itertools
import json
import logging
import math
from collections import Counter
from pathlib import Path

from helpers.core.contract import Policy
from helpers.core.device import cpu_cores
from helpers.core.io import atomic_write_text
from helpers.core.logs import progress
from helpers.core.outputs import check_writes
from helpers.core.paths import resolve
from helpers.cv.detectors import Detections, resolve_device, uses_half, uses_tensors
from helpers.cv.grid import group_counts, photo_counts_each, thinning_of
from helpers.cv.slicing import sliced

logger = logging.getLogger(__name__)
THRESHOLDS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
WEIGHTS = (0.1, 0.5, 1.0, 2.0, 10.0)  # the second detector's weight, the first's being 1
CONF_TYPES = ("max", "avg", "box_and_model_avg")
AGNOSTIC_IOUS = (1.0, 0.5)  # one label per object: off, or fused boxes overlapping more than half thinned
AGNOSTIC_IOSS = (1.0, 0.9, 0.8, 0.7)  # parts of an object: off, or boxes this much inside a more confident one thinned
COLLECT_CONF = 0.05  # detections are collected once at this threshold; the grid filters them
SIGNIFICANCE = 0.05  # the calibrated setting replaces the current one only below this p-value


def photo_counts(
    per_model: dict[str, list[Detections]], setting: dict, min_confidence: float, iou_thr: float = 0.55
) -> list[Counter]:
    """Per photo, the counts one setting gives after fusion and the describer's threshold."""
    limits = thinning_of(setting)
    return photo_counts_each(per_model, setting, (limits,), min_confidence, iou_thr)[limits]


def _scored(counted: list[Counter], truths: list[Counter], setting: dict) -> dict:
    exact = sum(said == truth for said, truth in zip(counted, truths, strict=True))
    clean = sum(sum(truth.values()) > 0 and not said for said, truth in zip(counted, truths, strict=True))
    return {**setting, "count_accuracy": exact / max(1, len(truths)), "littered_called_clean": clean}


def score_settings(
    per_model: dict[str, list[Detections]],
    truths: list[Counter],
    setting: dict,
    min_confidence: float,
    iou_thr: float = 0.55,
) -> dict:
    """Per-photo count accuracy (and littered photos with nothing counted) of one setting."""
    return _scored(photo_counts(per_model, setting, min_confidence, iou_thr), truths, setting)


def mcnemar_p(better: int, worse: int) -> float:
    """Exact one-sided McNemar p-value: the chance of at least `better` of the `better + worse`
    photos where two settings disagree going to the new one if neither were better."""
    total = better + worse
    return sum(math.comb(total, k) for k in range(better, total + 1)) / 2**total if total else 1.0


def significance(
    per_model: dict[str, list[Detections]], truths: list[Counter], current: dict, best: dict, min_confidence: float
) -> dict:
    """Photos made exact by `best` only (`better`) and by `current` only (`worse`), and the p-value."""
    old = [said == truth for said, truth in zip(photo_counts(per_model, current, min_confidence), truths, strict=True)]
    new = [said == truth for said, truth in zip(photo_counts(per_model, best, min_confidence), truths, strict=True)]
    better = sum(n and not o for o, n in zip(old, new, strict=True))
    worse = sum(o and not n for o, n in zip(old, new, strict=True))
    return {"better": better, "worse": worse, "p_value": mcnemar_p(better, worse), "alpha": SIGNIFICANCE}


def candidate_settings(
    names: list[str], agnostic_ious: tuple[float, ...] = AGNOSTIC_IOUS, agnostic_ioss: tuple[float, ...] = AGNOSTIC_IOSS
) -> list[dict]:
    """Every grid point: a threshold per detector, the weights and (for several detectors) a conf_type,
    each with every class-agnostic thinning (`agnostic_iou`, `agnostic_ios`)."""
    thinnings = [{"agnostic_iou": g, "agnostic_ios": h} for g, h in itertools.product(agnostic_ious, agnostic_ioss)]
    if len(names) == 1:
        return [
            {"conf": {names[0]: t}, "weights": {names[0]: 1.0}, "conf_type": "max", **thin}
            for t, thin in itertools.product(THRESHOLDS, thinnings)
        ]
    if len(names) != 2:
        raise ValueError(f"calibration takes one or two detectors, got {names}")
    first, second = names
    return [
        {"conf": {first: a, second: b}, "weights": {first: 1.0, second: w}, "conf_type": c, **thin}
        for a, b, w, c, thin in itertools.product(THRESHOLDS, THRESHOLDS, WEIGHTS, CONF_TYPES, thinnings)
    ]


def neighbourhood_accuracy(rows: list[dict]) -> list[dict]:
    """`rows` with `neighbourhood_accuracy`: the mean count accuracy of each row and the rows whose
    thresholds are each at most one step of `THRESHOLDS` away, all else equal (up to 3 x 3 settings)."""
    step = {t: i for i, t in enumerate(THRESHOLDS)}

    def place(row: dict) -> tuple[str, tuple[int, ...]]:
        rest = json.dumps([row["weights"], row["conf_type"], thinning_of(row)], sort_keys=True)
        return rest, tuple(step[row["conf"][name]] for name in sorted(row["conf"]))

    accuracy = {place(row): row["count_accuracy"] for row in rows}
    scored = []
    for row in rows:
        rest, at = place(row)
        near = [
            accuracy.get((rest, tuple(a + d for a, d in zip(at, move, strict=True))))
            for move in itertools.product((-1, 0, 1), repeat=len(at))
        ]
        near = [value for value in near if value is not None]
        scored.append({**row, "neighbourhood_accuracy": sum(near) / len(near)})
    return scored


def calibrate(
    per_model: dict[str, list[Detections]],
    truths: list[Counter],
    policy: Policy = Policy(),
    keep: int = 10,
    agnostic_ious: tuple[float, ...] = AGNOSTIC_IOUS,
    agnostic_ioss: tuple[float, ...] = AGNOSTIC_IOSS,
    workers: int = 0,
) -> dict:
    """The best setting by per-photo count accuracy over its threshold neighbourhood, and the `keep` best rows
    behind the choice (`agnostic_ious`, `agnostic_ioss`: the thinnings tried; (1.0,) leaves one off;
    `workers`: processes for the grid, 0 for one per core)."""
    settings = candidate_settings(list(per_model), agnostic_ious, agnostic_ioss)
    fusions: dict[str, list[dict]] = {}  # settings that differ only in their thinning share one fusion per photo
    for setting in settings:
        fused_alike = {**setting, "agnostic_iou": None, "agnostic_ios": None}
        fusions.setdefault(json.dumps(fused_alike, sort_keys=True), []).append(setting)
    groups = list(fusions.values())
    rows = []
    with progress(total=len(settings), desc="calibrate", unit="setting") as bar:
        counts = group_counts(per_model, groups, policy.min_confidence, workers or cpu_cores())
        for group, counted in zip(groups, counts, strict=True):
            rows += [_scored(counted[thinning_of(setting)], truths, setting) for setting in group]
            bar.update(len(group))

    rows = neighbourhood_accuracy(rows)

    def rank(row: dict) -> tuple:
        middle = sum(abs(t - 0.5) for t in row["conf"].values())
        return (
            -row["neighbourhood_accuracy"],
            -row["count_accuracy"],
            row["littered_called_clean"],
            middle,
            json.dumps(row, sort_keys=True),
        )

    rows.sort(key=rank)
    return {"choice": rows[0], "table": rows[:keep], "photos": len(truths), "settings_tried": len(rows)}


def write_ensemble_file(
    path: str | Path, result: dict, baseline: dict | None = None, detectors: dict[str, str] | None = None
) -> Path:
    """The ensemble (calibration) file 01 reads: weights, thresholds and conf_type, with the numbers behind
    them, and `detectors`: the fingerprints of the weights it was made for (01 uses it for those only)."""
    choice = result["choice"]
    tested = result.get("significance")
    kept = " (the current settings kept: the best was not better beyond chance)" if result.get("kept_current") else ""
    content = {
        "detectors": detectors or {},
        "weights": choice["weights"],
        "conf": choice["conf"],
        "conf_type": choice["conf_type"],
        "agnostic_iou": choice["agnostic_iou"],
        "agnostic_ios": thinning_of(choice)[1],
        "from": f"calibration: per-photo count accuracy on {result['photos']} validation photos, averaged over "
        f"neighbouring thresholds{kept}",
        "significance": tested,
        "validation": {
            "count_accuracy": choice["count_accuracy"],
            "littered_called_clean": choice["littered_called_clean"],
            "photos": result["photos"],
            "before": baseline,
        },
        "table": result["table"],
        "scores_aligned_to": Policy().min_confidence,  # thresholds mean what 01 makes of them (align_scores)
    }
    return atomic_write_text(path, json.dumps(content, indent=2) + "\n")


def collect_detections(config, split: str = "val") -> tuple[dict[str, list[Detections]], list[Counter]]:
    """Every configured detector's detections (at `COLLECT_CONF`) on the labelled `split`, and the truths;
    a photo that cannot be decoded, or whose saved detections cannot be read, is left out (a warning
    counts them).

    Raises:
        ValueError: The image source has no labels, or no image of that split.
    """
    from helpers.cv.batch import decode_batches, decode_side, predict_with, predicted_detector
    from helpers.cv.detectors import load_detector
    from helpers.cv.tensors import DevicePhotos

    source = config.image_source()
    if not source.has_ground_truth:
        raise ValueError(
            "calibration needs labelled photos (a YOLO data.yaml, a COCO .json or a Hugging Face dataset with "
            f"boxes), got {source.kind} {config.images}"
        )
    if any(item.split for item in source.items):
        items = [item for item in source.items if item.split == split][: config.max_images or None]
    else:  # a COCO file has no splits: all its photos are the held-out set
        logger.info("%s names no splits: calibrating on all its photos", config.images)
        items = source.items[: config.max_images or None]
    if not items:
        raise ValueError(f"{config.images} has no {split!r} images to calibrate on")
    truths = [Counter(name for name, _ in source.truth_boxes(item)) for item in items]
    # the scores extraction will see: the same precision and pre-processing as `desclm extract` on this device
    device = resolve_device(config.device)
    half, tensors = uses_half(config.precision, device), uses_tensors(config.preprocess, device)
    per_model, unreadable, detectors = {}, {}, {}
    for spec in config.detector_specs():
        spec.conf = COLLECT_CONF
        if spec.backend == "predictions":  # saved detections: read, no photo decoded
            found = predicted_detector(config, source, spec).predict_items(items)
            unreadable |= {
                index: str(problem) for index, problem in enumerate(found) if isinstance(problem, ValueError)
            }
            per_model[spec.name] = found
            continue
        detectors[spec.name] = load_detector(
            spec, imgsz=config.imgsz, device=device, half=half, shared_label_map=config.label_map
        )
        if config.slice_size:  # scored as extraction will run it
            detectors[spec.name] = sliced(detectors[spec.name], config)
        per_model[spec.name] = []
    # each photo decoded once for every detector, as extraction decodes it (threads ahead, JPEGs at the
    # detectors' side); one that cannot be read is left out
    min_side = decode_side(list(detectors.values())) if config.draft_decode else 0
    threads = config.decoding_threads(source.root)
    position = 0
    for batch in decode_batches(items, config.batch_size, threads, min_side) if detectors else ():
        images = [decoded.image for decoded in batch if not decoded.error]
        unreadable |= {position + i: f"{d.item.name}: {d.error}" for i, d in enumerate(batch) if d.error}
        photos = DevicePhotos.upload(images, device) if tensors and images else None
        for name, detector in detectors.items():
            found = iter(predict_with(detector, images, photos) if images else [])
            per_model[name] += [None if decoded.error else next(found) for decoded in batch]
        position += len(batch)
    if unreadable:  # as in extraction, a photo that cannot be read (or its saved detections) is left out, and said
        first = min(unreadable)
        logger.warning(
            "%d of %d photos left out of the calibration: they or their saved detections cannot be read (first: %s)",
            len(unreadable),
            len(items),
            unreadable[first],
        )
        kept = [index for index in range(len(items)) if index not in unreadable]
        per_model = {name: [found[index] for index in kept] for name, found in per_model.items()}
        truths = [truths[index] for index in kept]
        if not truths:
            raise ValueError(f"no photo's saved detections could be read: {unreadable[first]}")
    return per_model, truths


def calibrate_ensemble(config, output: str | Path) -> dict:
    """Collects `config`'s detectors on the val split, calibrates and writes the ensemble file to
    `output`; returns the result with `baseline` (the settings `config` had, scored the same way).

    Raises:
        ValueError: `output` is one of the files the run reads (the data.yaml, a model file).
    """
    read = [config.images, *config.detector_weights().values(), config.scene_weights]
    check_writes([resolve(output)], [resolve(path) for path in read if path and resolve(path).is_file()])
    per_model, truths = collect_detections(config)
    specs = {spec.name: spec for spec in config.detector_specs()}
    current = {
        "conf": {n: config.conf_of(n) for n in per_model},
        "weights": {n: specs[n].weight for n in per_model},
        "conf_type": config.fusion().conf_type,
        "agnostic_iou": config.fusion().agnostic_iou,
        "agnostic_ios": config.fusion().agnostic_ios,
    }
    result = calibrate_against(per_model, truths, current)
    write_ensemble_file(output, result, result["baseline"], config.detector_fingerprints())
    return {**result, "output": str(output)}


def calibrate_against(per_model: dict[str, list[Detections]], truths: list[Counter], current: dict) -> dict:
    """`calibrate`, then the best setting only if it beats `current` beyond chance, else `current`
    (`kept_current`); with `baseline` (`current` scored) and the test behind the choice."""
    min_confidence = Policy().min_confidence
    baseline = score_settings(per_model, truths, current, min_confidence)
    result = calibrate(per_model, truths)
    tested = significance(per_model, truths, current, result["choice"], min_confidence)
    kept = tested["p_value"] >= SIGNIFICANCE
    return {
        **result,
        "choice": baseline if kept else result["choice"],
        "kept_current": kept,
        "significance": tested,
        "baseline": baseline,
    }
