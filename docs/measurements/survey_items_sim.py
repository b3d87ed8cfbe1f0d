"""How well the roll-up's distinct items on the ground (`helpers.describer.survey_items`) count the items a
drone's mapping flight photographs, on simulated flights where the truth is known: by the matching radius
(`ground_radius_m`), how densely the items lie, and how far off the drone's recorded pose is.

    python docs/measurements/survey_items_sim.py --out docs/measurements/survey_items_sim.json

The simulation, per case and seed: litter items lie on a 120 by 90 m field (uniform places, `densities`
items a square metre: a clean meadow to a littered beach), each 0.1 to 0.5 m across. The drone flies
lines north and south over it at 40 m, looking straight down with a 24 mm-equivalent lens (4:3 frame,
4000 by 3000 pixels: 57.7 by 43.3 m, 1.44 cm a pixel), photos overlapping 70% along a line and 60% between
lines. Each photo's items in full view are detected with probability 0.8 at a counted confidence (0.55 to
0.95), their boxes' centres moved by up to 10% of their size, one in ten given a label drawn at random. The
pose each photo's record says is off from the true one as `POSE_ERRORS` state: the GPS position by a
random walk (a step a photo) plus noise, the compass (yaw) by a bias per flight direction plus noise, the
gimbal's pitch and roll by noise, the height by a bias for the flight (a barometer's, or ground not as high
as the take-off point). The truth: the items detected at least once. The detector and the errors are
invented (stated below); the placing and the matching are the product's. Summed over `--seeds` seeds.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import numpy as np
from measured import commit, save

from helpers.core.contract import Policy
from helpers.core.ground import FULL_FRAME_DIAGONAL_MM, metres_from, place_from
from helpers.describer.options import GROUND_RADIUS_M
from helpers.describer.survey_items import SurveyItems

LABELS = ("plastic", "glass", "metal", "paper")
FIELD_M = (120.0, 90.0)  # east, north
HEIGHT_M, FOCAL_35MM, SIZE = 40.0, 24.0, (4000, 3000)
OVERLAP = (0.7, 0.6)  # along a line, between lines
ORIGIN = (8.5417, 47.3769)  # longitude, latitude of the field's south-west corner
DENSITIES = (0.01, 0.05, 0.2)  # items a square metre
RADII_M = (0.5, 1.0, 2.0, 3.0, 4.0, 5.0)
POSE_ERRORS = {  # standard deviations (metres, degrees)
    "rtk": {
        "gps_step": 0.0,
        "gps_noise": 0.03,
        "yaw_bias": 0.3,
        "yaw_noise": 0.3,
        "tilt_noise": 0.2,
        "height_bias": 0.1,
    },
    "consumer_gnss": {
        "gps_step": 0.1,  # a random walk: about 1 m over a hundred photos
        "gps_noise": 0.3,
        "yaw_bias": 1.0,
        "yaw_noise": 1.0,
        "tilt_noise": 0.5,
        "height_bias": 1.0,
    },
}


def _flight(rng: np.random.Generator, errors: dict) -> list[dict]:
    """The photos' true places (metres east, north of the field's corner) and headings, and their recorded poses."""
    focal = FOCAL_35MM * math.hypot(*SIZE) / FULL_FRAME_DIAGONAL_MM
    across, along = (HEIGHT_M * side / focal for side in SIZE)  # the footprint: east (frame width), north
    step, spacing = along * (1 - OVERLAP[0]), across * (1 - OVERLAP[1])
    lines = np.arange(-across / 2 + spacing / 2, FIELD_M[0] + across / 2, spacing)
    bias = {heading: rng.normal(0, errors["yaw_bias"]) for heading in (0.0, 180.0)}
    height_bias, drift = rng.normal(0, errors["height_bias"]), np.zeros(2)
    photos = []
    for number, east in enumerate(lines):
        norths = np.arange(-along / 2 + step / 2, FIELD_M[1] + along / 2, step)
        heading = 0.0 if number % 2 == 0 else 180.0
        for north in norths if heading == 0 else norths[::-1]:
            drift += rng.normal(0, errors["gps_step"], 2) if errors["gps_step"] else 0
            seen = np.array([east, north]) + drift + rng.normal(0, errors["gps_noise"], 2)
            longitude, latitude = place_from(*ORIGIN, *seen)
            taken = {"latitude": latitude, "longitude": longitude, "relative_altitude": HEIGHT_M + height_bias}
            taken |= {"camera_yaw": heading + bias[heading] + rng.normal(0, errors["yaw_noise"])}
            taken |= {"camera_pitch": -90 + rng.normal(0, errors["tilt_noise"])}
            taken |= {"camera_roll": rng.normal(0, errors["tilt_noise"]), "focal_35mm": FOCAL_35MM}
            photos.append({"east": east, "north": north, "heading": heading, "taken": taken, "focal": focal})
    return photos


def _records(rng: np.random.Generator, photos: list[dict], items: np.ndarray, labels, sizes) -> tuple[list, set]:
    """Each photo's record (its detections of the items in full view, seen with the true pose) and the items
    detected at least once."""
    records, detected = [], set()
    for index, photo in enumerate(photos):
        turn = math.radians(photo["heading"])
        right, up = np.array([math.cos(turn), -math.sin(turn)]), np.array([math.sin(turn), math.cos(turn)])
        offsets = items - np.array([photo["east"], photo["north"]])
        x = offsets @ right / HEIGHT_M * photo["focal"] / SIZE[0] + 0.5
        y = -(offsets @ up) / HEIGHT_M * photo["focal"] / SIZE[1] + 0.5
        half = sizes / HEIGHT_M * photo["focal"] / 2 / np.array(SIZE)[:, None]  # half the box, x and y
        inside = (x - half[0] >= 0) & (x + half[0] <= 1) & (y - half[1] >= 0) & (y + half[1] <= 1)
        detections = []
        for item in np.flatnonzero(inside & (rng.random(len(items)) < 0.8)):
            centre = np.array([x[item], y[item]]) + rng.uniform(-0.1, 0.1, 2) * 2 * half[:, item]
            label = labels[item] if rng.random() >= 0.1 else str(rng.choice(LABELS))
            box = [*(centre - half[:, item]), *(centre + half[:, item])]
            detections.append({"label": label, "confidence": float(rng.uniform(0.55, 0.95)), "bbox": box})
            detected.add(int(item))
        records.append(
            {"image": f"DJI_{index:04d}.JPG", "width": SIZE[0], "height": SIZE[1], "detections": detections}
            | {"taken": photo["taken"], "scene": None}
        )
    return records, detected


def _case(density: float, errors_name: str, radius: float, seeds: int) -> dict:
    found = truth = sightings = 0
    misplaced = []
    for seed in range(seeds):
        rng = np.random.default_rng(seed)
        count = rng.poisson(density * FIELD_M[0] * FIELD_M[1])
        items = rng.uniform((0, 0), FIELD_M, (count, 2))
        labels, sizes = rng.choice(LABELS, count), rng.uniform(0.1, 0.5, count)
        photos = _flight(rng, POSE_ERRORS[errors_name])
        records, detected = _records(rng, photos, items, labels, sizes)
        survey = SurveyItems(Policy(), radius)
        for record in records:
            survey.add(record["image"], record)
        found += len(survey.spots)
        truth += len(detected)
        sightings += sum(len(record["detections"]) for record in records)
        true_places = items[sorted(detected)]
        for item in survey.items():  # each item found: how far from the nearest true item
            east, north = metres_from(*ORIGIN, item["ground"]["longitude"], item["ground"]["latitude"])
            misplaced.append(float(np.min(np.hypot(true_places[:, 0] - east, true_places[:, 1] - north))))
    return {
        "density_per_m2": density,
        "pose_errors": errors_name,
        "radius_m": radius,
        "true_items": truth,
        "sightings": sightings,
        "distinct_items": found,
        "distinct_error": round(found / truth - 1, 4),
        "sightings_error": round(sightings / truth - 1, 4),
        "median_place_error_m": round(float(np.median(misplaced)), 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--out", type=Path, default=None, help="JSON file to write (default: print only)")
    args = parser.parse_args()
    cases = [
        _case(density, errors, radius, args.seeds)
        for errors in POSE_ERRORS
        for density in DENSITIES
        for radius in RADII_M
    ]
    result = {
        "measured_at": commit(),
        "seeds": args.seeds,
        "default_radius_m": GROUND_RADIUS_M,
        "pose_errors": POSE_ERRORS,
        "cases": cases,
    }
    save(result, args.out)


if __name__ == "__main__":
    main()
