"""A photo survey's distinct items: each item once, however many overlapping photos show it.

A drone's mapping flight takes photos that overlap (70% along a line, 60% between lines is usual), so an item
on the ground shows in several photos and the roll-up's count of items counts it in each. Placed on the
ground (`helpers.core.ground`: the photo's position, the drone's height, the camera's angles and lens), the
same item's sightings in different photos lie close together, and other items farther apart:

- a photo's stated detections (at the describer's threshold) are placed where their boxes lie;
- each is matched to the nearest item already found within `radius_m` metres that no other detection of
  the photo took (closest pairs first: two detections in one photo are two items, as the detector says);
- a detection matched to none is a new item. An item's place is the mean of its sightings' (errors in the
  drone's position and angles average out), its label the one most of its detections give (ties: the
  first given), as a video's items' (`helpers.describer.video_items`).

The radius trades merging two items that lie close together against counting one twice when the photos'
poses disagree by more (`docs/measurements/survey_items_sim.json`). Photos whose records cannot place their
boxes (no pose, no size) are not matched; the items found are held until the group's count closes.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict

from helpers.core.contract import Policy
from helpers.core.figures import is_number
from helpers.core.ground import CameraPose, box_on_ground, metres_from, place_from
from helpers.core.matching import greedy_pairs
from helpers.describer.options import GROUND_RADIUS_M
from helpers.text.grammar import canonical_label


class _Spot:
    """One distinct item on the ground: where its sightings place it (metres from the survey's origin)."""

    __slots__ = ("number", "east", "north", "sightings", "labels", "best")

    def __init__(self, number: int, east: float, north: float) -> None:
        self.number, self.east, self.north, self.sightings = number, east, north, 0
        self.labels: Counter[str] = Counter()
        self.best: tuple = (-1.0,)  # confidence, photo key, box, taken, pose, size: its surest sighting

    def seen(self, east: float, north: float, photo: str, detection: dict, shown: tuple) -> None:
        """A sighting `east`, `north` metres from the survey's origin, in `photo` (`shown`: its `taken`, pose
        and size)."""
        self.sightings += 1
        self.east += (east - self.east) / self.sightings  # the mean of its sightings' places
        self.north += (north - self.north) / self.sightings
        self.labels[canonical_label(detection["label"])] += 1
        if detection["confidence"] > self.best[0]:
            self.best = (detection["confidence"], photo, detection["bbox"], *shown)


class SurveyItems:
    """A group of photos' distinct items on the ground (see the module docstring).

    Args:
        policy: Which detections count (`min_confidence`), as in the sentences.
        radius_m: Sightings in different photos this close (metres, on the ground) are one item.
        below_takeoff_m: The ground lies this far below the take-off point (metres; negative: above it).
    """

    def __init__(
        self, policy: Policy = Policy(), radius_m: float = GROUND_RADIUS_M, below_takeoff_m: float = 0.0
    ) -> None:
        if not radius_m > 0:
            raise ValueError(f"radius_m must be > 0 metres, got {radius_m!r}")
        self.policy, self.radius_m, self.below_takeoff_m = policy, radius_m, below_takeoff_m
        self.cells: dict[tuple[int, int], list[_Spot]] = defaultdict(list)  # by (east, north) // radius
        self.spots: list[_Spot] = []
        # (longitude, latitude) the metres are counted from: the first placed photo's camera
        self.origin: tuple[float, float] | None = None
        self.photos = 0  # photos whose stated detections were placed
        self.unplaced = 0  # stated detections of those photos too near the horizon to place
        self.unboxed = 0  # stated detections of those photos without a box

    def add(self, photo: str, record: dict) -> bool:
        """Add a photo's stated detections where they lie; False, and nothing added, when its record cannot
        place them (no pose in its `taken`, no `width` and `height`)."""
        taken, size = record.get("taken"), (record.get("width"), record.get("height"))
        pose = CameraPose.of(taken, self.below_takeoff_m)
        if pose is None or not all(is_number(side) and side > 0 for side in size):
            return False
        self.photos += 1
        if self.origin is None:
            self.origin = (pose.longitude, pose.latitude)
        camera = metres_from(*self.origin, pose.longitude, pose.latitude)
        placed = []
        for detection in record["detections"]:
            if detection["confidence"] < self.policy.min_confidence:
                continue
            if detection.get("bbox") is None:
                self.unboxed += 1
                continue
            x1, y1, x2, y2 = (min(max(v, 0.0), 1.0) for v in detection["bbox"])
            centre = pose.offset((x1 + x2) / 2, (y1 + y2) / 2, *size)  # its box's size is worked out for its best
            if centre is None:
                self.unplaced += 1
                continue
            placed.append((detection, (camera[0] + centre[0], camera[1] + centre[1])))
        matched = self._match([where for _, where in placed])
        for index, (detection, (east, north)) in enumerate(placed):
            spot = matched.get(index)
            if spot is None:
                spot = _Spot(len(self.spots), east, north)
                self.spots.append(spot)
            else:
                self.cells[self._cell(spot.east, spot.north)].remove(spot)
            spot.seen(east, north, photo, detection, (taken, pose, size))
            self.cells[self._cell(spot.east, spot.north)].append(spot)
        return True

    def _cell(self, east: float, north: float) -> tuple[int, int]:
        return math.floor(east / self.radius_m), math.floor(north / self.radius_m)

    def _match(self, places: list[tuple[float, float]]) -> dict[int, _Spot]:
        """Each place's item already found within the radius, closest pairs first, an item to one place."""
        pairs = []
        for index, (east, north) in enumerate(places):
            column, row = self._cell(east, north)
            for near_column in (column - 1, column, column + 1):
                for near_row in (row - 1, row, row + 1):
                    for spot in self.cells.get((near_column, near_row), ()):
                        distance = math.hypot(spot.east - east, spot.north - north)
                        if distance <= self.radius_m:
                            pairs.append((distance, index, spot.number))
        return {index: self.spots[number] for index, number in greedy_pairs(pairs).items()}

    def counts(self) -> Counter[str]:
        """Distinct items per label (each item's most given label)."""
        return Counter(spot.labels.most_common(1)[0][0] for spot in self.spots)

    def items(self) -> list[dict]:
        """Each distinct item, first found first, in `helpers.describer.rollup.ITEM_COLUMNS`' shape: no
        `video`, no times; `frames` the photos that show it, `frame` the one that shows it most surely (its
        key, confidence, box and `taken`), `ground` its place (the mean of its sightings') with its best
        sighting's size and distance from below the drone."""
        found = []
        for spot in self.spots:
            confidence, photo, box, taken, pose, size = spot.best
            longitude, latitude = place_from(*self.origin, spot.east, spot.north)
            ground = box_on_ground(pose, [min(max(v, 0.0), 1.0) for v in box], *size) or {}  # {}: an edge too far
            item = {
                "video": None,
                "label": spot.labels.most_common(1)[0][0],
                "first_seen_s": None,
                "last_seen_s": None,
                "frames": spot.sightings,
                "frame": photo,
                "confidence": confidence,
                "bbox": box,
                "taken": taken,
                "ground": ground | {"longitude": longitude, "latitude": latitude},
            }
            found.append(item)
        return found
