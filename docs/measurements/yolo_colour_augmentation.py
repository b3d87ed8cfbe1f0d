"""What Ultralytics' colour augmentation does to the demo YOLO's classes, side by side in one run.

    python docs/measurements/yolo_colour_augmentation.py --out docs/measurements/yolo_colour_augmentation_demo_cpu.json

The demo YOLO is trained twice on this machine, same photos (data/demo), seed and recipe, once with
Ultralytics' default HSV augmentation (saturation and brightness scaled by up to 70% and 40%) and once
with the demo recipe's (20% and 15%). Each is calibrated on the validation split with make demo's
RT-DETR as make demo calibrates (`calibrate_demo`), then measured on 120 unseen photos (a fresh demo
set's test split, seeds 1-3): mAP@0.5, per-photo count accuracy, what went wrong on the rest, and end
to end through make demo's describer as notebook 04 measures it (`helpers.demo.truth_bench`). Needs
make demo's models (models/demo, models/description_llm). About 18 minutes on 2 CPU cores.
"""

from __future__ import annotations

import argparse
import json
import logging
import platform
import tempfile
import time
from collections import Counter
from dataclasses import replace
from pathlib import Path

DATA = Path("data/demo/data.yaml")
MODELS = Path("models/demo")
SEEDS = (1, 2, 3)
PHOTOS = 40
KEYS = ("conf", "weights", "conf_type", "agnostic_iou")
# Ultralytics' defaults (ultralytics/cfg/default.yaml); the demo recipe's are in helpers.demo.models
ULTRALYTICS_HSV = {"hsv_h": 0.015, "hsv_s": 0.7, "hsv_v": 0.4}


def measure_arm(folder: Path, overrides: dict, train_seed: int) -> tuple[dict, list[bool]]:
    """Trains the demo YOLO into `folder` with `overrides`, calibrates it with make demo's RT-DETR, and
    scores it on the unseen photos; returns the arm's numbers and which unseen photos it counts exactly."""
    from helpers.core.contract import Policy
    from helpers.cv.calibrate import photo_counts
    from helpers.demo.models import DemoModelsSpec, calibrate_demo, evaluate_models, train_yolo_detector
    from helpers.demo.truth_bench import error_kind, unseen_detections, unseen_truth

    spec = replace(DemoModelsSpec(), seed=train_seed)
    began = time.perf_counter()
    train_yolo_detector(DATA.resolve(), folder, spec, folder, **overrides)
    seconds = round(time.perf_counter() - began)
    for name in ("rtdetr", "scene_classifier.pt"):  # make demo's, so only the YOLO differs
        (folder / name).symlink_to((MODELS / name).resolve())
    scores = evaluate_models(folder, DATA.resolve(), spec)
    weights, ensemble = calibrate_demo(folder, DATA.resolve(), spec)
    choice = {**{k: ensemble[k] for k in ("conf", "conf_type", "agnostic_iou")}, "weights": weights}
    unseen, truths = unseen_detections(str(folder), SEEDS, PHOTOS)
    counted = photo_counts(unseen, choice, Policy().min_confidence)
    exact = [said == truth for said, truth in zip(counted, truths, strict=True)]
    extract = {
        "yolo_weights": str(folder / "yolo_detector.pt"),
        "hf_model": str(MODELS / "rtdetr"),
        "scene_weights": str(MODELS / "scene_classifier.pt"),
        "ensemble_weights_file": str(folder / "ensemble.json"),
    }
    ends = [unseen_truth(seed, PHOTOS, **extract)["end_to_end"] for seed in SEEDS]
    calibration = json.loads((folder / "ensemble.json").read_text())
    arm = {
        "overrides": overrides,
        "yolo_seconds": seconds,
        "scores": scores,
        "choice": {k: choice[k] for k in KEYS},
        "validation_count_accuracy": ensemble["count_accuracy"],
        "validation_photos": calibration["validation"]["photos"],
        "defaults_kept": "current settings kept" in calibration["from"],  # the significance test's verdict
        "significance": calibration["significance"],
        "unseen_exact": sum(exact),
        "unseen_kinds": dict(Counter(error_kind(s, t) for s, t in zip(counted, truths, strict=True)).most_common()),
        "end_to_end_true_photos": sum(round(e["true"] * PHOTOS) for e in ends),
        "end_to_end_littered_called_clean": sum(e["littered_called_clean"] for e in ends),
        "littered_photos": sum(e["littered_photos"] for e in ends),
    }
    return arm, exact


def measure(train_seed: int) -> dict:
    from helpers.demo.models import YOLO_COLOUR_AUGMENTATION

    arms, exact = {}, {}
    with tempfile.TemporaryDirectory(prefix="desclm-colour-") as work:
        for name, overrides in (("Ultralytics default", ULTRALYTICS_HSV), ("demo recipe", {})):
            folder = Path(work) / str(len(arms))
            folder.mkdir()
            arms[name], exact[name] = measure_arm(folder, overrides, train_seed)
    default, demo = exact.values()
    return {
        "train_seed": train_seed,
        "demo_recipe_hsv": YOLO_COLOUR_AUGMENTATION,
        "unseen_photos": len(demo),
        "arms": arms,
        "unseen_only_exact_with": {
            "demo recipe": sum(d and not u for u, d in zip(default, demo)),
            "Ultralytics default": sum(u and not d for u, d in zip(default, demo)),
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", required=True)
    parser.add_argument("--train-seed", type=int, default=0, help="the YOLO's training seed (make demo's: 0)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    command = f"python docs/measurements/yolo_colour_augmentation.py --out {args.out} --train-seed {args.train_seed}"
    result = {"command": command, "machine": f"2 CPU cores ({platform.processor() or platform.machine()})",
              **measure(args.train_seed)}  # fmt: skip
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
