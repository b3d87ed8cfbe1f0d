"""What one label per object (`agnostic_iou`) does to the demo's sentences, side by side in one run.

    python docs/measurements/one_label_per_object.py --out docs/measurements/one_label_per_object_demo_cpu.json

make demo's detectors (models/demo, as built on this machine) are calibrated on the demo set's
validation split twice: with the grid as it was (one label per object off) and with it tried (the
grid calibration now searches). Each choice is then measured on 120 unseen photos (a fresh demo set's
test split, seeds 1-3): per-photo count accuracy, littered photos called clean, what went wrong on
the rest (only misses, only extras, the right total with a wrong class, mixed), and the photos each
gets right that the other does not. With `--describer` (a trained models/description_llm, after
make demo), each choice also runs end to end through 01 and the describer as notebook 04 measures it
(`helpers.demo.truth_bench`).
"""

from __future__ import annotations

import argparse
import json
import logging
import platform
import tempfile
from collections import Counter
from pathlib import Path

MODELS = "models/demo"
SEEDS = (1, 2, 3)
PHOTOS = 40
KEYS = ("conf", "weights", "conf_type", "agnostic_iou")


def measure(models: str, describer: bool) -> dict:
    from helpers.core.contract import Policy
    from helpers.cv import ExtractConfig
    from helpers.cv.calibrate import calibrate, collect_detections, photo_counts, write_ensemble_file
    from helpers.demo.truth_bench import error_kind, unseen_detections, unseen_truth

    least = Policy().min_confidence
    config = ExtractConfig(images="data/demo/data.yaml", yolo_weights=f"{models}/yolo_detector.pt",
                           hf_model=f"{models}/rtdetr", device="cpu")  # fmt: skip
    val_detections, val_truths = collect_detections(config)
    unseen, truths = unseen_detections(models, SEEDS, PHOTOS)
    arms, exact = {}, {}
    with tempfile.TemporaryDirectory(prefix="desclm-one-label-") as work:
        for name, tried in (("off (the grid before)", (1.0,)), ("tried (the grid now)", None)):
            result = calibrate(val_detections, val_truths, **({"agnostic_ious": tried} if tried else {}))
            choice = {k: result["choice"][k] for k in KEYS}
            counted = photo_counts(unseen, choice, least)
            exact[name] = [said == truth for said, truth in zip(counted, truths, strict=True)]
            kinds = Counter(error_kind(said, truth) for said, truth in zip(counted, truths, strict=True))
            arms[name] = {
                "choice": choice,
                "validation_count_accuracy": result["choice"]["count_accuracy"],
                "unseen_exact": sum(exact[name]),
                "unseen_littered_called_clean": sum(t.total() > 0 and not s for s, t in zip(counted, truths)),
                "unseen_kinds": dict(kinds.most_common()),
            }
            if describer:  # end to end, as notebook 04 measures it, with this choice as the ensemble file
                file = write_ensemble_file(Path(work) / f"{len(arms)}.json", {**result, "significance": None})
                ends = [unseen_truth(seed, PHOTOS, yolo_weights=config.yolo_weights, hf_model=config.hf_model,
                                     scene_weights=f"{models}/scene_classifier.pt",
                                     ensemble_weights_file=str(file))["end_to_end"] for seed in SEEDS]  # fmt: skip
                arms[name]["end_to_end_true_photos"] = sum(round(e["true"] * PHOTOS) for e in ends)
                arms[name]["end_to_end_littered_called_clean"] = sum(e["littered_called_clean"] for e in ends)
    off, tried = exact.values()
    manifest = json.loads(Path(models, "manifest.json").read_text())
    return {
        "models": {"scores": manifest["scores"], "seconds": manifest["seconds"]},
        "validation_photos": len(val_truths),
        "unseen_photos": len(truths),
        "arms": arms,
        "unseen_only_exact_with": {
            "tried": sum(t and not o for o, t in zip(off, tried)),
            "off": sum(o and not t for o, t in zip(off, tried)),
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", required=True)
    parser.add_argument("--describer", action="store_true", help="also end to end (needs models/description_llm)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    command = f"python docs/measurements/one_label_per_object.py --out {args.out}" + " --describer" * args.describer
    result = {"command": command, "machine": f"2 CPU cores ({platform.processor() or platform.machine()})",
              **measure(MODELS, args.describer)}  # fmt: skip
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
