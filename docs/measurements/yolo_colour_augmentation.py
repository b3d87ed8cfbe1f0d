"""What Ultralytics' colour augmentation does to the demo YOLO's classes, side by side in one run.

    python docs/measurements/yolo_colour_augmentation.py --out docs/measurements/yolo_colour_augmentation_demo_cpu.json

The demo YOLO is trained twice on this machine, same photos (data/demo), seed and recipe, once with
Ultralytics' default HSV augmentation (saturation and brightness scaled by up to 70% and 40%) and once
with the demo recipe's (20% and 15%). Each is calibrated with make demo's RT-DETR as make demo
calibrates, twice: on the validation split's first 40 photos (as many as the split had before it
grew to 120; not the same photos, the scenes are balanced over the whole split) and on all 120.
Each choice is measured on 120 unseen photos (a fresh demo set's test split, seeds 1-3): per-photo
count accuracy, what went wrong on the rest, and end to end through make demo's describer as notebook
04 measures it (`helpers.demo.truth_bench`). Needs make demo's models (models/demo,
models/description_llm). About 20 minutes on 2 CPU cores. `yolo_colour_augmentation_val40_demo_cpu.json`
is this script's first version (commit 9257950) on the demo set's 40-photo validation split of then.
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
VALIDATION_PHOTOS = (40, 0)  # as many as the split had before (not the same photos), and all of it (0: all)
# Ultralytics' defaults (ultralytics/cfg/default.yaml); the demo recipe's are in helpers.demo.models
ULTRALYTICS_HSV = {"hsv_h": 0.015, "hsv_s": 0.7, "hsv_v": 0.4}


def calibrated(folder: Path, validation_photos: int) -> tuple[dict, dict]:
    """Calibrates the arm's ensemble as make demo does, on the first `validation_photos` of the val split
    (0: all); returns the choice and the file."""
    from helpers.cv import ExtractConfig, calibrate_ensemble

    config = ExtractConfig(images=str(DATA), yolo_weights=str(folder / "yolo_detector.pt"),
                           hf_model=str(MODELS / "rtdetr"), scene_weights="", ensemble_weights_file="",
                           device="cpu", max_images=validation_photos)  # fmt: skip
    path = folder / f"ensemble_{validation_photos}.json"
    calibrate_ensemble(config, path)
    saved = json.loads(path.read_text())
    return {k: saved[k] for k in KEYS}, saved


def measure_arm(folder: Path, overrides: dict, train_seed: int) -> tuple[dict, dict[int, list[bool]]]:
    """Trains the demo YOLO into `folder` with `overrides`, calibrates it with make demo's RT-DETR on 40
    and on all validation photos, and scores each choice on the unseen photos; returns the arm's numbers
    and which unseen photos each choice counts exactly."""
    from helpers.core.contract import Policy
    from helpers.cv.calibrate import photo_counts
    from helpers.demo.models import DemoModelsSpec, evaluate_models
    from helpers.demo.truth_bench import error_kind, unseen_detections, unseen_truth
    from helpers.demo.yolo import train_yolo_detector

    spec = replace(DemoModelsSpec(), seed=train_seed)
    began = time.perf_counter()
    train_yolo_detector(DATA.resolve(), folder, spec, folder, **overrides)
    seconds = round(time.perf_counter() - began)
    for name in ("rtdetr", "scene_classifier.pt"):  # make demo's, so only the YOLO differs
        (folder / name).symlink_to((MODELS / name).resolve())
    arm = {"overrides": overrides, "yolo_seconds": seconds, "scores": evaluate_models(folder, DATA.resolve(), spec)}
    unseen, truths = unseen_detections(str(folder), SEEDS, PHOTOS)
    exact = {}
    for photos in VALIDATION_PHOTOS:
        choice, saved = calibrated(folder, photos)
        counted = photo_counts(unseen, choice, Policy().min_confidence)
        exact[photos] = [said == truth for said, truth in zip(counted, truths, strict=True)]
        extract = {
            "yolo_weights": str(folder / "yolo_detector.pt"),
            "hf_model": str(MODELS / "rtdetr"),
            "scene_weights": str(MODELS / "scene_classifier.pt"),
            "ensemble_weights_file": str(folder / f"ensemble_{photos}.json"),
        }
        ends = [unseen_truth(seed, PHOTOS, **extract)["end_to_end"] for seed in SEEDS]
        arm[f"calibrated on {saved['validation']['photos']} validation photos"] = {
            "choice": choice,
            "defaults_kept": "current settings kept" in saved["from"],  # the significance test's verdict
            "significance": saved["significance"],
            "validation_count_accuracy": saved["validation"]["count_accuracy"],
            "unseen_exact": sum(exact[photos]),
            "unseen_kinds": dict(Counter(error_kind(s, t) for s, t in zip(counted, truths, strict=True)).most_common()),
            "end_to_end_true_photos": sum(round(e["true"] * PHOTOS) for e in ends),
            "end_to_end_littered_called_clean": sum(e["littered_called_clean"] for e in ends),
            "littered_photos": sum(e["littered_photos"] for e in ends),
        }
    return arm, exact


def measure(train_seed: int) -> dict:
    from helpers.demo.yolo import YOLO_COLOUR_AUGMENTATION

    arms, exact = {}, {}
    with tempfile.TemporaryDirectory(prefix="desclm-colour-") as work:
        for name, overrides in (("Ultralytics default", ULTRALYTICS_HSV), ("demo recipe", {})):
            folder = Path(work) / str(len(arms))
            folder.mkdir()
            arms[name], exact[name] = measure_arm(folder, overrides, train_seed)
    last = VALIDATION_PHOTOS[-1]
    default, demo = exact["Ultralytics default"][last], exact["demo recipe"][last]
    return {
        "train_seed": train_seed,
        "demo_recipe_hsv": YOLO_COLOUR_AUGMENTATION,
        "unseen_photos": len(demo),
        "arms": arms,
        "unseen_only_exact_with (all validation photos)": {
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
