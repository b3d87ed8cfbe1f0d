"""Scores on one scale (issue 14): end-to-end truth on unseen demo photos with the calibrated
ensemble (thresholds mapped onto the describer's, `helpers.cv.fusion.align_scores`) against the
defaults the calibration replaced (both detectors at 0.5 with conf_type "max", which the mapping
leaves unchanged, so that arm is exactly the ensemble before the change). Same photos, same
detectors, same describer; only the ensemble settings differ.

    python docs/measurements/aligned_scores.py --out docs/measurements/aligned_scores_demo_cpu.json --seeds 1 2 3

Needs make demo's models (models/demo, with the ensemble file the calibration wrote, and
models/description_llm). Each arm builds the fresh photos of each seed again (deterministic);
`totals` sums the photos over the seeds.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

DEFAULTS = {"yolo_conf": 0.5, "hf_conf": 0.5, "conf_type": "max", "ensemble_weights": [1.0, 1.0]}


def main() -> None:
    from helpers.demo.truth_bench import unseen_truth

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", required=True)
    parser.add_argument("--seeds", type=int, nargs="+", default=[1])
    parser.add_argument("--photos", type=int, default=40)
    args = parser.parse_args()
    ensemble = json.loads(Path("models/demo/ensemble.json").read_text())
    arms = {"calibrated, scores aligned": {}, "defaults (0.5, 0.5, max)": DEFAULTS}
    runs = {name: {seed: unseen_truth(seed, args.photos, **extract) for seed in args.seeds}
            for name, extract in arms.items()}  # fmt: skip
    keys = ("true_photos", "littered_called_clean", "littered_photos", "photos")
    totals = {name: dict.fromkeys(keys, 0) for name in runs}
    for name, by_seed in runs.items():
        for run in by_seed.values():
            end = run["end_to_end"]
            totals[name]["true_photos"] += round(end["true"] * run["with_ground_truth"])
            totals[name]["littered_called_clean"] += end["littered_called_clean"]
            totals[name]["littered_photos"] += end["littered_photos"]
            totals[name]["photos"] += run["with_ground_truth"]
    result = {
        "command": f"python docs/measurements/aligned_scores.py --out {args.out} --seeds "
        f"{' '.join(map(str, args.seeds))} --photos {args.photos}",
        "machine": "2 CPU cores",
        "ensemble": {k: ensemble[k] for k in ("conf", "weights", "conf_type", "validation", "significance")},
        "totals": totals,
        "runs": {
            name: {
                str(seed): {k: run[k] for k in ("photos", "end_to_end", "describer_on_truth")}
                for seed, run in by_seed.items()
            }
            for name, by_seed in runs.items()
        },  # fmt: skip
    }
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    for name, total in totals.items():
        print(f"{name}: {total['true_photos']} of {total['photos']} true, littered called clean "
              f"{total['littered_called_clean']} of {total['littered_photos']}")  # fmt: skip


if __name__ == "__main__":
    main()
