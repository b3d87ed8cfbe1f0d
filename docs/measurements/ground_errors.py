"""How far an item's place on the ground (`helpers.core.ground`) moves when what places it is a little off:
the compass (the gimbal's yaw), the gimbal's pitch and roll, the drone's height above the ground (a
barometer's drift, ground higher or lower than the take-off point), and the lens's focal length (a camera
that states its 35 mm equivalent by the frame's width, not its diagonal). Computed with the product's own
placing, for a 4:3 frame and a 24 mm-equivalent lens (DJI Mini, Air and Mavic main cameras), straight down
from 30, 60 and 100 m and 45 degrees down from 30 m, at the frame's centre, halfway to a corner, and a corner
(straight down) or the middle of the frame's top and bottom edges (oblique).

    python docs/measurements/ground_errors.py --out docs/measurements/ground_errors.json

A GPS error moves every place by itself (a consumer drone's is a metre or two; RTK a few centimetres) and
is not in the table. No photo is read: the errors are those the geometry makes of the stated offsets.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
from pathlib import Path

from measured import commit, save

from helpers.core.ground import FULL_FRAME_DIAGONAL_MM, CameraPose

SIZE = (4000, 3000)  # a 4:3 frame, pixels
FOCAL_35MM = 24.0
VIEWS = {  # name: (height m, pitch degrees, points of the frame (x, y), 0..1)
    "down_30m": (30.0, -90.0, {"centre": (0.5, 0.5), "halfway": (0.75, 0.75), "corner": (1.0, 1.0)}),
    "down_60m": (60.0, -90.0, {"centre": (0.5, 0.5), "halfway": (0.75, 0.75), "corner": (1.0, 1.0)}),
    "down_100m": (100.0, -90.0, {"centre": (0.5, 0.5), "halfway": (0.75, 0.75), "corner": (1.0, 1.0)}),
    "ahead_45deg_30m": (30.0, -45.0, {"bottom": (0.5, 1.0), "centre": (0.5, 0.5), "top": (0.5, 0.0)}),
}


def _errors(pose: CameraPose) -> dict[str, CameraPose]:
    """The pose with each source of error on its own."""
    # the same lens's equivalent as a camera stating it by the frame's width (36 mm) writes it
    width_focal = FOCAL_35MM * math.hypot(*SIZE) / FULL_FRAME_DIAGONAL_MM * 36.0 / SIZE[0]
    return {
        "yaw_2deg": dataclasses.replace(pose, yaw=pose.yaw + 2.0),
        "pitch_1deg": dataclasses.replace(pose, pitch=pose.pitch + 1.0),
        "roll_1deg": dataclasses.replace(pose, roll=pose.roll + 1.0),
        "height_1m": dataclasses.replace(pose, height=pose.height + 1.0),
        "height_10pct": dataclasses.replace(pose, height=pose.height * 1.1),
        "focal_by_width": dataclasses.replace(pose, focal_35mm=width_focal),
    }


def measure() -> dict:
    views = {}
    for name, (height, pitch, points) in VIEWS.items():
        pose = CameraPose(8.5417, 47.3769, height, 0.0, pitch, 0.0, FOCAL_35MM)
        rows = {}
        for point, (x, y) in points.items():
            true = pose.offset(x, y, *SIZE)
            row = {"distance_m": round(math.hypot(*true), 2)}
            for source, wrong in _errors(pose).items():
                moved = wrong.offset(x, y, *SIZE)
                row[source] = round(math.dist(true, moved), 2) if moved else None
            rows[point] = row
        views[name] = {"height_m": height, "pitch_deg": pitch, "points": rows}
    return {
        "measured_at": commit(),
        "frame": {"pixels": list(SIZE), "focal_35mm": FOCAL_35MM},
        "errors_m": views,  # metres the place moves, each source on its own
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=None, help="JSON file to write (default: print only)")
    save(measure(), parser.parse_args().out)


if __name__ == "__main__":
    main()
