"""What limits how true the demo's sentences are (issue 14), on the demo set's generator 4.

    python docs/measurements/demo_truth_limits.py headroom --out docs/measurements/demo_truth_headroom_cpu.json
    python docs/measurements/demo_truth_limits.py recipe --name "40 epochs" --epochs 40 --close-mosaic 4 \
        --out docs/measurements/demo_yolo_recipe_gen4_cpu.json      # adds one arm to the file

`headroom`: make demo's detectors (models/demo) on 120 unseen photos (a fresh demo set's test split,
seeds 1-3): per-photo count accuracy of the calibrated ensemble, of the YOLO alone at each threshold,
and of the best setting of calibration's grid chosen *on those very photos* (an upper bound for any
calibration), with the calibrated ensemble's exact share by objects per photo.

`recipe`: trains the demo YOLO with another epoch count or `close_mosaic` (the rest of make demo's
recipe, its RT-DETR and scene classifier unchanged), then measures what make demo measures: mAP@0.5
val/test, the calibration on the validation split, and end to end on the same unseen photos
(`helpers.demo.truth_bench`, the trained describer in models/description_llm).
"""

from __future__ import annotations

import argparse
import json
import logging
import tempfile
import time
from pathlib import Path

SEEDS = (1, 2, 3)
PHOTOS = 40


def headroom(models: str) -> dict:
    from helpers.core.contract import Policy
    from helpers.cv.calibrate import calibrate, photo_counts, score_settings
    from helpers.demo.truth_bench import unseen_detections

    per_model, truths = unseen_detections(models, SEEDS, PHOTOS)
    least = Policy().min_confidence
    ensemble = json.loads(Path(models, "ensemble.json").read_text())
    calibrated = {k: ensemble[k] for k in ("conf", "weights", "conf_type", "agnostic_iou") if k in ensemble}
    alone = {
        str(conf): score_settings({"yolo": per_model["yolo"]}, truths,
                                  {"conf": {"yolo": conf}, "weights": {"yolo": 1.0}, "conf_type": "max"}, least)
        for conf in (0.1, 0.2, 0.3, 0.4, 0.5)
    }  # fmt: skip
    best = calibrate(per_model, truths)["choice"]
    by_objects: dict[str, list[int]] = {}
    for said, truth in zip(photo_counts(per_model, calibrated, least), truths, strict=True):
        bucket = by_objects.setdefault(str(min(sum(truth.values()), 6)), [0, 0])  # "6": six or more
        bucket[0] += said == truth
        bucket[1] += 1
    return {
        "photos": len(truths),
        "calibrated": score_settings(per_model, truths, calibrated, least),
        "yolo_alone": alone,
        "best_on_these_photos": {
            k: best[k] for k in ("conf", "weights", "conf_type", "count_accuracy", "littered_called_clean")
        },  # fmt: skip
        "calibrated_exact_by_objects": {k: {"exact": e, "photos": n} for k, (e, n) in sorted(by_objects.items())},
    }


def recipe_arm(epochs: int, close_mosaic: int) -> dict:
    from helpers.demo.models import DemoModelsSpec, calibrate_demo, evaluate_models
    from helpers.demo.truth_bench import unseen_truth
    from helpers.demo.yolo import train_yolo_detector

    data = Path("data/demo/data.yaml").resolve()
    spec = DemoModelsSpec(yolo_epochs=epochs)
    with tempfile.TemporaryDirectory(prefix="desclm-recipe-") as work:
        out = Path(work)
        began = time.perf_counter()
        train_yolo_detector(data, out, spec, out, close_mosaic=close_mosaic)  # make demo's recipe otherwise
        seconds = round(time.perf_counter() - began)
        for name in ("rtdetr", "scene_classifier.pt"):
            (out / name).symlink_to(Path("models/demo", name).resolve())
        scores = evaluate_models(out, data, spec)
        weights, ensemble = calibrate_demo(out, data, spec)
        truth = {
            str(seed): unseen_truth(seed, PHOTOS, yolo_weights=f"{out}/yolo_detector.pt", hf_model=f"{out}/rtdetr",
                                    scene_weights=f"{out}/scene_classifier.pt",
                                    ensemble_weights_file=f"{out}/ensemble.json")["end_to_end"]
            for seed in SEEDS
        }  # fmt: skip
    return {
        "epochs": epochs, "close_mosaic": close_mosaic, "yolo_seconds": seconds, "scores": scores,
        "ensemble": {**ensemble, "weights": weights},
        "unseen_true_photos": sum(round(t["true"] * PHOTOS) for t in truth.values()),
        "unseen_littered_called_clean": sum(t["littered_called_clean"] for t in truth.values()),
        "unseen_littered_photos": sum(t["littered_photos"] for t in truth.values()),
    }  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("mode", choices=("headroom", "recipe"))
    parser.add_argument("--out", required=True)
    parser.add_argument("--name", default="")
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--close-mosaic", type=int, default=4)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    out = Path(args.out)
    if args.mode == "headroom":
        result = {"command": f"python docs/measurements/demo_truth_limits.py headroom --out {args.out}",
                  "machine": "2 CPU cores", "models": "models/demo", **headroom("models/demo")}  # fmt: skip
    else:
        result = json.loads(out.read_text()) if out.exists() else {"machine": "2 CPU cores", "arms": {}}
        result["arms"][args.name] = recipe_arm(args.epochs, args.close_mosaic)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2)[:3000])


if __name__ == "__main__":
    main()
