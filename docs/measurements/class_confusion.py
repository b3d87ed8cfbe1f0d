"""Which classes the demo detectors confuse (issue 14): per detector, each ground-truth object of the
demo set's training split against the best-scoring box of the detector that overlaps it (IoU >= 0.3),
kept at one threshold for every build so builds compare like for like.

    python docs/measurements/class_confusion.py --out docs/measurements/class_confusion_demo_cpu.json \
        --build "generator 4=data/demo/data.yaml,models/demo" --build "generator 3=OLD/data.yaml,OLD_MODELS"

Each build is a demo set and the demo models trained on it (`desclm demo dataset` and
`models`). The training split is the one the detectors learnt from: confusion there is what the
recipe could not learn, not what it failed to generalise. "-" is an object no box found.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from collections import Counter
from pathlib import Path

THRESHOLD = 0.25  # Ultralytics' own default confidence, for both detectors
SPLIT = "train"


def confusion(records: list[dict], model: str, min_confidence: float) -> dict[str, dict[str, int]]:
    """Ground-truth class -> the class of the best overlapping box of `model` ("-" when none)."""
    from helpers.cv.fusion import box_iou

    counts: dict[str, Counter] = {}
    for record in records:
        boxes = [d for d in record["model_detections"].get(model, []) if d["confidence"] >= min_confidence]
        for truth in record["ground_truth"]["detections"]:
            overlaps = box_iou([truth["bbox"]], [d["bbox"] for d in boxes])[0] if boxes else []
            overlapping = [d for d, overlap in zip(boxes, overlaps) if overlap >= 0.3]
            said = max(overlapping, key=lambda d: d["confidence"])["label"] if overlapping else "-"
            counts.setdefault(truth["label"], Counter())[said] += 1
    return {label: dict(said) for label, said in sorted(counts.items())}


def measure(data_yaml: str, models: str) -> dict:
    from helpers.core.contract import Policy
    from helpers.core.io import iter_jsonl
    from helpers.cv import ExtractConfig, run_extraction

    with tempfile.TemporaryDirectory(prefix="desclm-confusion-") as work:
        output = Path(work) / "cv.jsonl"
        config = ExtractConfig(
            images=data_yaml, output=str(output), yolo_weights=f"{models}/yolo_detector.pt",
            hf_model=f"{models}/rtdetr", scene_weights="", ensemble_weights_file="",
            yolo_conf=THRESHOLD, hf_conf=THRESHOLD, device="cpu",
        )  # fmt: skip
        run_extraction(config)
        records = [r for r in (line.record for line in iter_jsonl(output)) if r and r.get("split") == SPLIT]
    # 01 puts each detector's scores on the describer's scale: THRESHOLD lands on min_confidence
    result = {"photos": len(records), "models_manifest": json.loads(Path(models, "manifest.json").read_text())}
    for model in ("yolo", "hf"):
        table = confusion(records, model, Policy().min_confidence)
        right = sum(said.get(label, 0) for label, said in table.items())
        found = sum(n for said in table.values() for label, n in said.items() if label != "-")
        result[model] = {"confusion": table, "found": found, "right_class_of_found": round(right / max(1, found), 3)}
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", required=True)
    parser.add_argument("--build", action="append", required=True, help="NAME=DATA_YAML,MODELS_DIR")
    args = parser.parse_args()
    builds = {}
    for build in args.build:
        name, paths = build.split("=", 1)
        data_yaml, models = paths.split(",")
        builds[name] = measure(data_yaml, models)
        for model in ("yolo", "hf"):
            print(f"{name} {model}: {builds[name][model]['right_class_of_found']} of found boxes the right class")
    command = "python docs/measurements/class_confusion.py " + " ".join(f'--build "{b}"' for b in args.build)
    result = {"command": command, "machine": "2 CPU cores", "threshold": THRESHOLD, "split": SPLIT, "builds": builds}
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
