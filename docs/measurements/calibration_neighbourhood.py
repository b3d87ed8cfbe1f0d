"""Calibration's choice by a setting's own count accuracy or by its threshold neighbourhood, measured on
photos the models never saw.

    python docs/measurements/calibration_neighbourhood.py models/demo /tmp/other_build/models/demo \
        --out docs/measurements/calibration_neighbourhood_demo_cpu.json

For each demo model folder: the detections on the demo validation split (calibration's photos) and on
the test photos of fresh demo sets of seeds 1-3 (120 unseen photos, `unseen_detections`); calibration's
table on the validation photos; then, on the unseen photos, the counts of the setting each rule picks:
the best count accuracy (calibration before version 4: ties by fewer littered photos called clean, then
thresholds nearer the middle) and the best accuracy averaged over neighbouring thresholds (now).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

SETTING_KEYS = ("conf", "weights", "conf_type", "agnostic_iou")


def _key(row: dict) -> str:
    return json.dumps({k: row[k] for k in SETTING_KEYS}, sort_keys=True)


def measure(models: str, data_yaml: str = "data/demo/data.yaml") -> dict:
    from helpers.cv import ExtractConfig, collect_detections
    from helpers.cv.calibrate import calibrate
    from helpers.demo.truth_bench import unseen_detections

    config = ExtractConfig(images=data_yaml, yolo_weights=f"{models}/yolo_detector.pt", hf_model=f"{models}/rtdetr",
                           scene_weights="", ensemble_weights_file="", device="cpu")  # fmt: skip
    val_found, val_truths = collect_detections(config)
    unseen_found, unseen_truths = unseen_detections(models)
    table = calibrate(val_found, val_truths, keep=10**6)["table"]
    unseen = {_key(row): row for row in calibrate(unseen_found, unseen_truths, keep=10**6)["table"]}

    def own_accuracy(row: dict) -> tuple:
        middle = sum(abs(t - 0.5) for t in row["conf"].values())
        return -row["count_accuracy"], row["littered_called_clean"], middle, _key(row)

    picks = {"own accuracy (before)": min(table, key=own_accuracy), "neighbourhood accuracy (now)": table[0]}
    manifest = json.loads((Path(models) / "manifest.json").read_text())
    return {
        "models": models,
        "precision": manifest.get("precision", "float32"),
        "scores": manifest["scores"],
        "validation_photos": len(val_truths),
        "unseen_photos": len(unseen_truths),
        "unseen_littered_photos": sum(t.total() > 0 for t in unseen_truths),
        "rules": {
            rule: {
                "setting": {k: row[k] for k in SETTING_KEYS},
                "validation_exact": round(row["count_accuracy"] * len(val_truths)),
                "validation_littered_called_clean": row["littered_called_clean"],
                "unseen_exact": round(unseen[_key(row)]["count_accuracy"] * len(unseen_truths)),
                "unseen_littered_called_clean": unseen[_key(row)]["littered_called_clean"],
            }
            for rule, row in picks.items()
        },
        "unseen_best_of_grid": round(max(r["count_accuracy"] for r in unseen.values()) * len(unseen_truths)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("models", nargs="+", help="demo model folders (each with manifest.json)")
    parser.add_argument("--out", required=True, help="JSON file to write")
    args = parser.parse_args()
    builds = [measure(models) for models in args.models]
    Path(args.out).write_text(json.dumps({"builds": builds}, indent=2) + "\n")
    print(json.dumps([{b["models"]: b["rules"]} for b in builds], indent=2))


if __name__ == "__main__":
    main()
