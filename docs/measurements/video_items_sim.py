"""How well the roll-up's distinct items (`helpers.describer.video_items`, BoT-SORT over 01's boxes)
count the items a video shows, on simulated detections where the truth is known: by the interval
between the frames 01 reads (`video_interval`) and how fast the camera moves, against the sightings
(every counted detection of every frame) the roll-up states beside them.

    python docs/measurements/video_items_sim.py --out docs/measurements/video_items_sim.json

The simulation, per case and seed: litter items lie on the ground (uniform positions; boxes 1% to 4%
of the frame wide, a half-metre item from a drone 30 m up to a bottle near a trail camera; aspect 1:2 to
2:1); the camera looks straight at it and moves sideways at `speed` frame widths a second (0: a trail
camera; 0.1: a drone at 5 m/s, 30 m up, with an 84-degree lens) for `seconds`. Each frame, an item in
full view is detected with probability `1 - miss` at a counted confidence (0.55 to 0.95), else, half
the time, at a confidence below the threshold (which the tracker uses to keep a track); a detected box
moves by up to 10% of its size, its label is drawn at random with probability `flip`. The truth: the
items detected (counted) at least once. Each case with no camera motion given to the tracker, and with
the true motion off by up to `--motion_error` (uniform; 01's measured error is
`docs/measurements/camera_motion_cpu.json`'s); then a still camera whose detector misses 30% of the
time, by `track_lost_s`. The detector in this simulation is invented; the tracker, the
policy and the counting are the product's. Summed over `--seeds` seeds.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
from measured import commit, save

from helpers.core.contract import Policy
from helpers.describer.options import TRACK_LOST_S
from helpers.describer.video_items import VideoItems

LABELS = ("plastic", "glass", "metal", "paper")
INTERVALS = (0.1, 0.2, 0.5, 1.0)  # seconds between the frames read (01's video_interval)
SPEEDS = (0.0, 0.05, 0.1, 0.2)  # frame widths a second
LOST_SECONDS = (1.0, 2.0, 5.0, 10.0)  # the roll-up's track_lost_s
POLICY = Policy()


def _items(rng: np.random.Generator, speed: float, seconds: float) -> dict[str, np.ndarray]:
    """Items on the ground, in frame widths (x along the camera's path) and frame heights (y)."""
    length = 1 + speed * seconds
    count = int(rng.integers(8, 13) * length)  # about ten in a frame's view
    width = rng.uniform(0.01, 0.04, count)
    height = width * rng.uniform(0.5, 2.0, count) * 16 / 9  # the frame is 16:9: y in frame heights
    return {
        "x": rng.uniform(0, length, count),
        "y": rng.uniform(0.05, 0.95, count),
        "w": width,
        "h": height,
        "label": rng.integers(0, len(LABELS), count),
    }


def _frame(rng, items, left: float, miss: float, flip: float) -> tuple[list[dict], list[int]]:
    """The detections of the frame whose left edge is at `left`, and the items counted in it."""
    detections, counted = [], []
    x0 = items["x"] - items["w"] / 2 - left
    in_view = np.flatnonzero((x0 >= 0) & (x0 + items["w"] <= 1))
    for i in in_view:
        seen = rng.random() >= miss
        if not seen and rng.random() < 0.5:
            continue  # missed outright
        shift = rng.uniform(-0.1, 0.1, 2) * [items["w"][i], items["h"][i]]
        scale = 1 + rng.uniform(-0.1, 0.1, 2)
        cx, cy = items["x"][i] - left + shift[0], items["y"][i] + shift[1]
        w, h = items["w"][i] * scale[0], items["h"][i] * scale[1]
        label = items["label"][i] if rng.random() >= flip else rng.integers(0, len(LABELS))
        confidence = rng.uniform(0.55, 0.95) if seen else rng.uniform(0.2, 0.45)
        box = [max(0.0, cx - w / 2), max(0.0, cy - h / 2), min(1.0, cx + w / 2), min(1.0, cy + h / 2)]
        detections.append({"label": LABELS[label], "confidence": float(confidence), "bbox": box})
        if seen:
            counted.append(int(i))
    return detections, counted


def _case(
    speed: float,
    interval: float,
    miss: float,
    flip: float,
    seconds: float,
    seeds: int,
    motion_error: float | None,
    lost_s: float = TRACK_LOST_S,
) -> dict:
    truth = sightings = distinct = frames = 0
    tracking = 0.0
    for seed in range(seeds):
        rng = np.random.default_rng(seed)
        items = _items(rng, speed, seconds)
        counter = VideoItems(POLICY, lost_s)
        seen: set[int] = set()
        for step in range(int(seconds / interval) + 1):
            detections, counted = _frame(rng, items, speed * step * interval, miss, flip)
            seen.update(counted)
            sightings += len(counted)
            started = time.perf_counter()
            motion = None
            if motion_error is not None and step:  # 01's camera_motion: the shift, off by up to motion_error
                error = rng.uniform(-motion_error, motion_error, 2)
                motion = [[1, 0, -speed * interval + error[0]], [0, 1, error[1]]]
            counter.add(round(step * interval * 1000), detections, motion)
            tracking += time.perf_counter() - started
            frames += 1
        truth += len(seen)
        distinct += sum(counter.counts().values())
    return {
        "speed_frame_widths_per_s": speed,
        "interval_s": interval,
        "miss": miss,
        "camera_motion_error": motion_error,
        "track_lost_s": lost_s,
        "items_truth": truth,
        "sightings": sightings,
        "distinct_items": distinct,
        "distinct_error": round(distinct / truth - 1, 3),
        "sightings_error": round(sightings / truth - 1, 3),
        "tracking_ms_per_frame": round(1000 * tracking / frames, 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=60.0, help="each simulated video's length")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--flip", type=float, default=0.1, help="chance a detection gives another label")
    parser.add_argument(
        "--motion_error", type=float, default=0.001, help="01's camera_motion off by up to this (frame sizes), uniform"
    )
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    cases = [
        _case(speed, interval, miss, args.flip, args.seconds, args.seeds, motion_error)
        for motion_error in (None, args.motion_error)
        for miss in (0.1, 0.3)
        for speed in SPEEDS
        for interval in INTERVALS
    ]
    # how long a lost item is kept, where misses are many and the camera still (a trail camera)
    lost = [
        _case(0.0, interval, 0.3, args.flip, args.seconds, args.seeds, args.motion_error, lost_s)
        for lost_s in LOST_SECONDS
        for interval in INTERVALS
    ]
    result = {
        "what": "distinct items (BoT-SORT over simulated boxes) and sightings, against the items counted at all",
        "commit": commit(),
        "seconds": args.seconds,
        "seeds": args.seeds,
        "flip": args.flip,
        "min_confidence": POLICY.min_confidence,
        "cases": cases,
        "still_camera_by_track_lost_s": lost,
    }
    save(result, args.out)


if __name__ == "__main__":
    main()
