"""Where on the ground a box lies: from where the camera was and how it looked when the photo was taken.

A drone's photo says where the drone was (its `taken` latitude and longitude), but an item at the frame's edge
lies tens of metres from there: at 40 m with a 24 mm-equivalent lens looking straight down, a 4:3 frame spans
58 by 43 m. With the drone's height and the camera's angles and focal length (01 reads them from DJI's XMP
and EXIF, or a flight record's subtitle, into `taken`):

    relative_altitude  metres above the take-off point (DJI's RelativeAltitude, a subtitle's rel_alt)
    camera_yaw         degrees clockwise from north the camera faces (the gimbal's yaw)
    camera_pitch       degrees above the horizon (-90: straight down)
    camera_roll        degrees the camera is turned clockwise about its view (0 when not given)
    focal_35mm         the lens's 35 mm-equivalent focal length (by the diagonal, as EXIF defines it)

a point of the photo is placed where its line of sight meets the ground: a pinhole camera (no lens
distortion: DJI's JPEGs come corrected), over flat ground as high as the take-off point, or as far below it
as the user says (`below_takeoff_m`: a beach surveyed from the cliff top the drone took off from; a slope or
a building under the drone still moves the place; RTK-free GPS is off by a metre or two). A line of sight less than
`MIN_DEPRESSION_DEG` below the horizon is not placed: it meets the ground so far away that a degree of
error in the gimbal's pitch moves the place by more than twice the height. Offsets become degrees on the
WGS 84 ellipsoid's local radii (over a few hundred metres, far below the GPS error).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

from helpers.core.figures import COORDINATE_DECIMALS, is_number, position_of

FULL_FRAME_DIAGONAL_MM = math.hypot(36.0, 24.0)  # the 35 mm film frame, by whose diagonal EXIF's equivalent is defined
MIN_DEPRESSION_DEG = 5.0  # there a point lies 11.4 heights away, and a degree of pitch moves it 2.3 heights
SIN_MIN_DEPRESSION = math.sin(math.radians(MIN_DEPRESSION_DEG))
WGS84_A = 6_378_137.0  # metres, the equator's radius
WGS84_E2 = 6.694_379_990_14e-3  # the ellipsoid's eccentricity squared
POSE_FIELDS = ("relative_altitude", "camera_yaw", "camera_pitch", "focal_35mm")  # `taken` fields a place needs
POSE_LIMITS = {  # each field's range: beyond it the value is a fault, not a pose
    "relative_altitude": (0.0, 10_000.0),
    "camera_yaw": (-360.0, 360.0),
    "camera_pitch": (-180.0, 180.0),
    "camera_roll": (-180.0, 180.0),
    "focal_35mm": (1.0, 5_000.0),
}


@dataclass(frozen=True)
class CameraPose:
    """A camera's place (`longitude`, `latitude`, degrees; `height` metres above the ground) and its view."""

    longitude: float
    latitude: float
    height: float
    yaw: float
    pitch: float
    roll: float
    focal_35mm: float

    @classmethod
    def of(cls, taken, below_takeoff_m: float = 0.0) -> CameraPose | None:
        """The pose a record's `taken` gives over ground `below_takeoff_m` metres below the take-off point
        (negative: above it), None when it lacks a field (`pose_problem` says which is wrong) or the camera
        is not above that ground."""
        place = position_of(taken)
        if place is None or pose_problem(taken) or not all(is_number(taken.get(name)) for name in POSE_FIELDS):
            return None
        height = float(taken["relative_altitude"]) + below_takeoff_m
        if height <= 0:
            return None  # on the ground (or below it): no height to look down from
        return cls(
            longitude=place[0],
            latitude=place[1],
            height=height,
            yaw=float(taken["camera_yaw"]),
            pitch=float(taken["camera_pitch"]),
            roll=float(taken.get("camera_roll") or 0.0),
            focal_35mm=float(taken["focal_35mm"]),
        )

    @functools.cached_property
    def _axes(self) -> tuple[tuple[float, ...], tuple[float, ...], tuple[float, ...]]:
        """Where the camera looks, its right and its up (east, north, up), worked out once per pose."""
        yaw, pitch, roll = (math.radians(angle) for angle in (self.yaw, self.pitch, self.roll))
        forward = (math.sin(yaw) * math.cos(pitch), math.cos(yaw) * math.cos(pitch), math.sin(pitch))
        right = (math.cos(yaw), -math.sin(yaw), 0.0)
        up = (-math.sin(yaw) * math.sin(pitch), -math.cos(yaw) * math.sin(pitch), math.cos(pitch))
        # rolled clockwise: the right side goes down
        rolled_right = tuple(math.cos(roll) * r - math.sin(roll) * u for r, u in zip(right, up, strict=True))
        rolled_up = tuple(math.sin(roll) * r + math.cos(roll) * u for r, u in zip(right, up, strict=True))
        return forward, rolled_right, rolled_up

    def offset(self, x: float, y: float, width: float, height: float) -> tuple[float, float] | None:
        """Metres east and north of the camera where the photo's point (`x`, `y`: 0..1 of its `width` and
        `height` pixels, from the top left) lies on the ground; None above or near the horizon."""
        focal = self.focal_35mm * math.hypot(width, height) / FULL_FRAME_DIAGONAL_MM  # in pixels
        across, down = (x - 0.5) * width / focal, (y - 0.5) * height / focal
        forward, right, up = self._axes
        sight = [f + across * r - down * u for f, r, u in zip(forward, right, up, strict=True)]
        if sight[2] >= -SIN_MIN_DEPRESSION * math.hypot(*sight):
            return None
        reach = self.height / -sight[2]
        return reach * sight[0], reach * sight[1]

    def place(self, east: float, north: float) -> tuple[float, float]:
        """(longitude, latitude) of the point `east` and `north` metres from the camera."""
        return place_from(self.longitude, self.latitude, east, north)


def _metres_per_radian(latitude: float) -> tuple[float, float]:
    """Metres a radian of longitude and of latitude span at `latitude` (degrees), on the WGS 84 ellipsoid."""
    latitude = math.radians(latitude)
    curve = 1 - WGS84_E2 * math.sin(latitude) ** 2
    meridian, normal = WGS84_A * (1 - WGS84_E2) / curve**1.5, WGS84_A / math.sqrt(curve)
    return normal * max(math.cos(latitude), 1e-9), meridian


def place_from(longitude: float, latitude: float, east: float, north: float) -> tuple[float, float]:
    """(longitude, latitude) of the point `east` and `north` metres from (`longitude`, `latitude`), the metres
    measured at the latitude halfway (near the poles a degree of longitude shrinks within a few hundred metres)."""
    halfway = latitude + math.degrees(north / _metres_per_radian(latitude)[1]) / 2
    across, along = _metres_per_radian(halfway)
    moved = longitude + math.degrees(east / across), latitude + math.degrees(north / along)
    return round(moved[0], COORDINATE_DECIMALS), round(moved[1], COORDINATE_DECIMALS)


def metres_from(longitude: float, latitude: float, to_longitude: float, to_latitude: float) -> tuple[float, float]:
    """Metres east and north from (`longitude`, `latitude`) to the other point, measured at the latitude halfway:
    `place_from`'s inverse (a few kilometres away: within a part in a thousand)."""
    across, along = _metres_per_radian((latitude + to_latitude) / 2)
    return math.radians(to_longitude - longitude) * across, math.radians(to_latitude - latitude) * along


def pose_problem(taken) -> str | None:
    """Why a `taken`'s pose fields cannot be a pose (a value that is no number, or out of range), else None.
    Missing fields are no problem (the photo says less)."""
    if not isinstance(taken, dict):
        return None
    for name, (low, high) in POSE_LIMITS.items():
        value = taken.get(name)
        if value is None:
            continue
        if not is_number(value) or not low <= value <= high:
            return f"taken: {name} {value!r} is not a number in {low:g}..{high:g}"
    return None


def box_on_ground(pose: CameraPose, bbox, width: float, height: float) -> dict | None:
    """Where a box (`bbox` [x1, y1, x2, y2], 0..1) lies on the ground: `longitude` and `latitude` of its centre,
    its `width_m` (between its left and right sides' middles), `length_m` (its top's and bottom's) and
    `distance_m` (its centre's from right below the camera), metres rounded to centimetres; None when its
    centre or a side is not placed (near or above the horizon)."""
    x1, y1, x2, y2 = bbox
    middle_x, middle_y = (x1 + x2) / 2, (y1 + y2) / 2
    points = [pose.offset(x, y, width, height) for x, y in ((middle_x, middle_y), (x1, middle_y), (x2, middle_y))]
    points += [pose.offset(x, y, width, height) for x, y in ((middle_x, y1), (middle_x, y2))]
    if any(point is None for point in points):
        return None
    centre, left, right, top, bottom = points
    longitude, latitude = pose.place(*centre)
    return {
        "longitude": longitude,
        "latitude": latitude,
        "width_m": round(math.dist(left, right), 2),
        "length_m": round(math.dist(top, bottom), 2),
        "distance_m": round(math.hypot(*centre), 2),
    }
