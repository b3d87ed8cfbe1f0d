"""What thinning boxes on parts of an object (`agnostic_ios`, calibration version 5) does on photos the
models never saw, side by side in one run.

    python docs/measurements/part_boxes.py models/demo --out docs/measurements/part_boxes_demo_cpu.json

For a demo model folder: the detections on the demo validation split (calibration's photos) and on the
test photos of fresh demo sets of seeds 1-3, 4-6 and 7-9 (120 unseen photos each). Calibration on the
validation photos twice, without the part thinning (as version 4) and with it (now); for each choice the
counts on every unseen group. And, for the choice without it, where the boxes that over-count come from:
each described box matched to the labelled box it overlaps most (IoU >= 0.3), a second box on an
already matched object being an extra on that object, with its IoU and intersection over the smaller box
(IoS) with the first; pairs of boxes on two different labelled objects, for comparison.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from collections import Counter
from pathlib import Path

import numpy as np

SETTING_KEYS = ("conf", "weights", "conf_type", "agnostic_iou", "agnostic_ios")
GROUPS = {"seeds 1-3": (1, 2, 3), "seeds 4-6": (4, 5, 6), "seeds 7-9": (7, 8, 9)}


def _unseen(models: str, seeds: tuple[int, ...]) -> tuple[dict, list, list]:
    """Each detector's detections, the labelled counts and the labelled boxes of fresh demo test photos."""
    from helpers.cv import ExtractConfig, collect_detections
    from helpers.cv.sources import open_image_source
    from helpers.cv.yolo_data import read_labels
    from helpers.demo.dataset import DemoDatasetSpec, build_dataset

    found_all: dict[str, list] = {}
    truths, boxes = [], []
    for seed in seeds:
        with tempfile.TemporaryDirectory(prefix="desclm-parts-") as work:
            build_dataset(Path(work) / "demo", DemoDatasetSpec(seed=seed, n_train=0, n_valid=0, n_test=40))
            config = ExtractConfig(images=str(Path(work) / "demo" / "data.yaml"), device="cpu",
                                   yolo_weights=f"{models}/yolo_detector.pt", hf_model=f"{models}/rtdetr",
                                   scene_weights="", ensemble_weights_file="")  # fmt: skip
            found, truth = collect_detections(config, "test")
            source = open_image_source(config.images)
            items = [item for item in source.items if item.split == "test"]
            boxes += [read_labels(source.ground_truth_path(item), source.class_names) for item in items]
        for name, detections in found.items():
            found_all.setdefault(name, []).extend(detections)
        truths += truth
    return found_all, truths, boxes


def _counts(found: dict, truths: list, setting: dict) -> dict:
    from helpers.cv.calibrate import photo_counts

    said = photo_counts(found, setting, 0.5)
    return {
        "photos": len(truths),
        "exact": sum(s == t for s, t in zip(said, truths, strict=True)),
        "littered_called_clean": sum(t.total() > 0 and not s for s, t in zip(said, truths, strict=True)),
        "clean_called_littered": sum(t.total() == 0 and s.total() > 0 for s, t in zip(said, truths, strict=True)),
        "over_counted_categories": sum(s[k] > t[k] for s, t in zip(said, truths, strict=True) for k in s),
    }


def _extra_boxes(found: dict, labelled: list, setting: dict) -> dict:
    """Described boxes on an already matched labelled object vs pairs of boxes on two objects."""
    from helpers.cv.fusion import FusionSettings, align_scores, box_overlaps, fuse
    from helpers.cv.grid import _kept

    names = list(found)
    fusion = FusionSettings(conf_type=setting["conf_type"], agnostic_iou=setting["agnostic_iou"])
    extras, pairs, kinds = [], [], Counter()
    for index, truth in enumerate(labelled):
        mine = [align_scores(_kept(found[n][index], setting["conf"][n]), setting["conf"][n], 0.5) for n in names]
        fused = [r for r in fuse(mine, names, [setting["weights"][n] for n in names], fusion, attribute=False)
                 if r["confidence"] >= 0.5]  # fmt: skip
        if not truth:
            kinds["false box, nothing labelled"] += len(fused)
        if not fused or not truth:
            continue
        iou, ios = box_overlaps([r["bbox"] for r in fused])
        on_truth = box_overlaps([r["bbox"] for r in fused], [box for _, box in truth])[0]
        first: dict[int, int] = {}  # labelled object -> the most confident box matched to it
        for box in range(len(fused)):
            target = int(np.argmax(on_truth[box]))
            if on_truth[box, target] < 0.3:
                kinds["false box elsewhere"] += 1
            elif target in first:
                kinds["extra box on a matched object"] += 1
                extras.append((round(float(iou[box, first[target]]), 3), round(float(ios[box, first[target]]), 3)))
            else:
                first[target] = box
        kept = sorted(first.values())
        pairs += [round(float(ios[a, b]), 3) for i, a in enumerate(kept) for b in kept[i + 1 :] if ios[a, b] > 0]
    return {
        "described_boxes": dict(kinds),
        "extra_boxes_iou_ios": sorted(extras, key=lambda e: e[1]),
        "extra_boxes_with_iou_under_0.5": sum(e[0] < 0.5 for e in extras),
        "extra_boxes_with_ios_over_0.7": sum(e[1] > 0.7 for e in extras),
        "two_objects_ios_over_0.7": sum(p > 0.7 for p in pairs),
        "two_objects_overlapping": len(pairs),
    }


def measure(models: str, data_yaml: str) -> dict:
    from helpers.cv import ExtractConfig, collect_detections
    from helpers.cv.calibrate import calibrate

    config = ExtractConfig(images=data_yaml, yolo_weights=f"{models}/yolo_detector.pt", hf_model=f"{models}/rtdetr",
                           scene_weights="", ensemble_weights_file="", device="cpu")  # fmt: skip
    val_found, val_truths = collect_detections(config)
    unseen = {group: _unseen(models, seeds) for group, seeds in GROUPS.items()}
    rules = {"without part thinning (version 4)": calibrate(val_found, val_truths, agnostic_ioss=(1.0,)),
             "with part thinning (now)": calibrate(val_found, val_truths)}  # fmt: skip
    before = rules["without part thinning (version 4)"]["choice"]
    return {
        "models": models,
        "validation_photos": len(val_truths),
        "rules": {
            rule: {
                "setting": {k: result["choice"].get(k, 1.0) for k in SETTING_KEYS},
                "validation": _counts(val_found, val_truths, result["choice"]),
                **{group: _counts(found, truths, result["choice"]) for group, (found, truths, _) in unseen.items()},
            }
            for rule, result in rules.items()
        },
        "extra_boxes_before": {
            group: _extra_boxes(found, boxes, before) for group, (found, _, boxes) in unseen.items()
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("models", help="a demo model folder (with manifest.json)")
    parser.add_argument("--data", default="data/demo/data.yaml", help="the demo set it was built on")
    parser.add_argument("--out", required=True, help="JSON file to write")
    args = parser.parse_args()
    result = measure(args.models, args.data)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result["rules"], indent=2))


if __name__ == "__main__":
    main()
