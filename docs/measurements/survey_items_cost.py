"""What placing a survey's items on the ground and matching them costs `desclm summarize`, side by side: the
roll-up of the same simulated flight's records (`survey_items_sim.py`'s: 40 m up, consumer drone's pose
errors) with their poses, and with the poses left out (no placing, no matching), by how densely items lie.

    python docs/measurements/survey_items_cost.py --out docs/measurements/survey_items_cost_cpu.json

Each roll-up is timed `--repeats` times (the best kept), in one process, one after the other.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
from measured import commit, save
from survey_items_sim import DENSITIES, FIELD_M, LABELS, POSE_ERRORS, _flight, _records

from helpers.core.ground import POSE_FIELDS
from helpers.describer.rollup import summarize


def _best_seconds(records: list[dict], repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        summarize(records, by=lambda record: "flight")
        best = min(best, time.perf_counter() - started)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, default=None, help="JSON file to write (default: print only)")
    args = parser.parse_args()
    cases = []
    for density in DENSITIES:
        rng = np.random.default_rng(0)
        count = rng.poisson(density * FIELD_M[0] * FIELD_M[1])
        items = rng.uniform((0, 0), FIELD_M, (count, 2))
        labels, sizes = rng.choice(LABELS, count), rng.uniform(0.1, 0.5, count)
        records, _ = _records(rng, _flight(rng, POSE_ERRORS["consumer_gnss"]), items, labels, sizes)
        unplaced = [r | {"taken": {k: v for k, v in r["taken"].items() if k not in POSE_FIELDS}} for r in records]
        placed_s, unplaced_s = _best_seconds(records, args.repeats), _best_seconds(unplaced, args.repeats)
        cases.append(
            {
                "density_per_m2": density,
                "photos": len(records),
                "detections_per_photo": round(sum(len(r["detections"]) for r in records) / len(records), 1),
                "ms_per_photo_placed": round(1000 * placed_s / len(records), 3),
                "ms_per_photo_without_pose": round(1000 * unplaced_s / len(records), 3),
                "ratio": round(placed_s / unplaced_s, 2),
            }
        )
    save({"measured_at": commit(), "repeats": args.repeats, "cases": cases}, args.out)


if __name__ == "__main__":
    main()
