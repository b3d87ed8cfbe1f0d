"""How well the roll-up's distinct items of a fixed camera (`helpers.describer.fixed_items`) count the items
its photos show, on simulated trail-camera photo series where the truth is known: by the overlap that makes
two boxes one item (`fixed_min_iou`) and how many items lie in view.

    python docs/measurements/fixed_items_sim.py --out docs/measurements/fixed_items_sim.json

The simulation, per case and seed: `items` litter items lie in a fixed camera's view (uniform places; boxes
1% to 5% of the frame wide, aspect 1:2 to 2:1), each there for a random part of a series of 300 photos (left,
then taken away, as at a dumping spot). Each photo detects an item in view with probability 0.8 at a counted
confidence (0.55 to 0.95), its box's sides moved by up to `jitter` of its size, one in ten given a label drawn
at random. The truth: the items detected at least once. The detector is invented; the matching is the
product's. Summed over `--seeds` seeds.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from measured import commit, save

from helpers.core.contract import Policy
from helpers.describer.fixed_items import FixedItems
from helpers.describer.options import FIXED_MIN_IOU

LABELS = ("plastic", "glass", "metal", "paper")
PHOTOS = 300
ITEMS = (5, 20, 60)  # items in view over the series
JITTERS = (0.05, 0.1, 0.2)  # how far a box's sides move, a share of its size
MIN_IOUS = (0.1, 0.2, 0.3, 0.5, 0.7)


def _series(rng: np.random.Generator, count: int, jitter: float) -> tuple[list[dict], int]:
    """The photos' records and how many items were detected at least once."""
    widths = rng.uniform(0.01, 0.05, count)
    heights = widths * rng.uniform(0.5, 2.0, count)
    corners = rng.uniform(0, 1, (count, 2)) * (1 - np.stack([widths, heights], axis=1))
    there = np.sort(rng.integers(0, PHOTOS, (count, 2)), axis=1)  # from, to (photo numbers)
    labels = rng.choice(LABELS, count)
    records, detected = [], set()
    for photo in range(PHOTOS):
        detections = []
        for item in np.flatnonzero((there[:, 0] <= photo) & (photo <= there[:, 1]) & (rng.random(count) < 0.8)):
            size = np.array([widths[item], heights[item]])
            box = np.concatenate([corners[item], corners[item] + size])
            box += rng.uniform(-jitter, jitter, 4) * np.tile(size, 2)
            label = labels[item] if rng.random() >= 0.1 else str(rng.choice(LABELS))
            detections.append({"label": label, "confidence": float(rng.uniform(0.55, 0.95)), "bbox": box.tolist()})
            detected.add(int(item))
        records.append({"image": f"IMG_{photo:04d}.JPG", "detections": detections, "scene": None})
    return records, len(detected)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--out", type=Path, default=None, help="JSON file to write (default: print only)")
    args = parser.parse_args()
    cases = []
    for count in ITEMS:
        for jitter in JITTERS:
            for min_iou in MIN_IOUS:
                found = truth = sightings = 0
                for seed in range(args.seeds):
                    records, detected = _series(np.random.default_rng(seed), count, jitter)
                    items = FixedItems(Policy(), min_iou)
                    for record in records:
                        items.add(record["image"], record)
                    found, truth = found + len(items.sightings), truth + detected
                    sightings += sum(len(record["detections"]) for record in records)
                cases.append(
                    {
                        "items": count,
                        "jitter": jitter,
                        "min_iou": min_iou,
                        "true_items": truth,
                        "sightings": sightings,
                        "distinct_items": found,
                        "distinct_error": round(found / truth - 1, 4),
                        "sightings_error": round(sightings / truth - 1, 4),
                    }
                )
    save({"measured_at": commit(), "seeds": args.seeds, "default_min_iou": FIXED_MIN_IOU, "cases": cases}, args.out)


if __name__ == "__main__":
    main()
