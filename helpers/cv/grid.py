"""The calibration grid's counting: per photo, the category counts an ensemble setting gives after
fusion and the describer's threshold, fused once per photo for every class-agnostic thinning (one label
per object, parts of an object); big grids run in worker processes (`group_counts`)."""

from __future__ import annotations

import multiprocessing
import sys
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor

import numpy as np

from helpers.cv.detectors import Detections
from helpers.cv.fusion import FusionSettings, align_scores, box_overlaps, fuse, thinned

PARALLEL_FROM = 20_000  # fusions (photos x settings) from which worker processes repay their start


def _kept(detections: Detections, threshold: float) -> Detections:
    keep = detections.scores >= threshold
    return Detections(
        detections.boxes[keep], detections.scores[keep], [n for n, k in zip(detections.labels, keep) if k]
    )


Thinning = tuple[float, float]  # class-agnostic thinning limits: (agnostic_iou, agnostic_ios)


def thinning_of(setting: dict) -> Thinning:
    """A setting's thinning limits; settings from before a limit was tried leave it off, as 01 did then."""
    defaults = FusionSettings()
    return setting.get("agnostic_iou", defaults.agnostic_iou), setting.get("agnostic_ios", defaults.agnostic_ios)


def photo_counts_each(
    per_model: dict[str, list[Detections]],
    setting: dict,
    thinnings: tuple[Thinning, ...],
    min_confidence: float,
    iou_thr: float = 0.55,
) -> dict[Thinning, list[Counter]]:
    """Per photo, the counts `setting` gives with each class-agnostic thinning in `thinnings` (the setting's
    own is ignored): the thinning comes after fusion, so each photo is fused once for all."""
    names = list(per_model)
    fusion = FusionSettings(iou_thr=iou_thr, conf_type=setting["conf_type"])
    counted: dict[Thinning, list[Counter]] = {limits: [] for limits in thinnings}
    for index in range(len(per_model[names[0]])):
        mine = [
            align_scores(_kept(per_model[name][index], setting["conf"][name]), setting["conf"][name], min_confidence)
            for name in names
        ]  # on the describer's scale, as 01 fuses them
        fused = fuse(mine, names, [setting["weights"][name] for name in names], fusion, attribute=False)
        # most confident first, so boxes below the describer's threshold never thin one above it
        described = [r for r in fused if r["confidence"] >= min_confidence]
        iou, ios = box_overlaps([r["bbox"] for r in described])
        everything = Counter(r["label"] for r in described)
        apart = ~np.eye(len(described), dtype=bool)  # a box with itself is no overlap
        most_iou, most_ios = (float(m[apart].max()) if len(described) > 1 else 0.0 for m in (iou, ios))
        for limits in thinnings:
            if most_iou <= limits[0] and most_ios <= limits[1]:  # most photos: no pair over a limit, nothing thinned
                counted[limits].append(everything)
            else:
                counted[limits].append(Counter(described[i]["label"] for i in thinned(iou, ios, *limits)))
    return counted


_WORKER: dict = {}  # a calibration worker process's detections and threshold (set by _start_worker)


def _start_worker(per_model: dict[str, list[Detections]], min_confidence: float) -> None:
    import torch  # a forked child must not use the parent's OpenMP pool, as in torch's DataLoader workers

    torch.set_num_threads(1)
    _WORKER.update(per_model=per_model, min_confidence=min_confidence)


def _fused_counts(group: list[dict], per_model: dict[str, list[Detections]], min_confidence: float) -> dict:
    return photo_counts_each(per_model, group[0], tuple(thinning_of(s) for s in group), min_confidence)


def _worker_counts(group: list[dict]) -> dict[Thinning, list[Counter]]:
    return _fused_counts(group, **_WORKER)


def group_counts(
    per_model: dict[str, list[Detections]], groups: list[list[dict]], min_confidence: float, workers: int
) -> Iterator[dict[Thinning, list[Counter]]]:
    """`photo_counts_each` of every group, in order: on Linux in `workers` forked processes once the grid repays
    starting them (spawned ones would re-run a calling script that has no `__main__` guard; macOS's system
    libraries are not safe to fork); elsewhere in this process."""
    fusions = len(next(iter(per_model.values()))) * len(groups)
    if workers <= 1 or fusions < PARALLEL_FROM or not sys.platform.startswith("linux"):
        yield from (_fused_counts(group, per_model, min_confidence) for group in groups)
        return
    fork = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(workers, fork, _start_worker, (per_model, min_confidence)) as pool:
        yield from pool.map(_worker_counts, groups, chunksize=8)
