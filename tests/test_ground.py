"""Where on the ground a box lies (helpers.core.ground): checked against a camera built another way (an
aerospace yaw-pitch-roll rotation from scipy, a pinhole projection), known footprints, and geodesics (pyproj)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from helpers.core.ground import FULL_FRAME_DIAGONAL_MM, MIN_DEPRESSION_DEG, CameraPose, box_on_ground, pose_problem


def _pose(height=40.0, yaw=0.0, pitch=-90.0, roll=0.0, focal=24.0, latitude=47.3769, longitude=8.5417):
    taken = {"latitude": latitude, "longitude": longitude, "relative_altitude": height}
    taken |= {"camera_yaw": yaw, "camera_pitch": pitch, "camera_roll": roll, "focal_35mm": focal}
    return CameraPose.of(taken)


def _camera_to_ned(pose: CameraPose) -> np.ndarray:
    """The camera's axes (x right, y down in the image, z its view) in north-east-down, built as an aircraft's:
    yaw about down, then pitch about its right wing (nose up positive), then roll about its nose (right wing
    down positive); the optical frame's right, down, forward are the body's y, z, x."""
    from scipy.spatial.transform import Rotation

    body = Rotation.from_euler("ZYX", [pose.yaw, pose.pitch, pose.roll], degrees=True).as_matrix()
    return body[:, [1, 2, 0]]


def _pixel(pose: CameraPose, east: float, north: float, width: int, height: int) -> tuple[float, float] | None:
    """Where a ground point (metres from right below the camera) shows in the photo (0..1), None behind it."""
    seen = _camera_to_ned(pose).T @ np.array([north, east, pose.height])
    if seen[2] <= 0:
        return None
    focal = pose.focal_35mm * math.hypot(width, height) / FULL_FRAME_DIAGONAL_MM
    return (focal * seen[0] / seen[2] + width / 2) / width, (focal * seen[1] / seen[2] + height / 2) / height


@settings(max_examples=300, deadline=None)
@given(
    height=st.floats(1, 300),
    yaw=st.floats(-180, 180),
    pitch=st.floats(-90, 10),
    roll=st.floats(-20, 20),
    focal=st.floats(14, 200),
    size=st.sampled_from([(4000, 3000), (5280, 3956), (1920, 1080), (640, 640), (3000, 4000)]),
    x=st.floats(0, 1),
    y=st.floats(0, 1),
)
def test_a_placed_point_shows_where_it_was_in_the_photo(height, yaw, pitch, roll, focal, size, x, y):
    """Any pose, any point of the photo: placed on the ground, then seen through a camera built from an
    aircraft's yaw-pitch-roll rotation, it shows at the same point; unplaced only when its line of sight is
    less than MIN_DEPRESSION_DEG below the horizon."""
    pose = _pose(height, yaw, pitch, roll, focal)
    placed = pose.offset(x, y, *size)
    focal_px = focal * math.hypot(*size) / FULL_FRAME_DIAGONAL_MM
    sight = _camera_to_ned(pose) @ np.array([(x - 0.5) * size[0] / focal_px, (y - 0.5) * size[1] / focal_px, 1])
    depression = math.degrees(math.asin(sight[2] / np.linalg.norm(sight)))  # below the horizon: positive
    if placed is None:
        assert depression <= MIN_DEPRESSION_DEG + 1e-9
        return
    assert depression >= MIN_DEPRESSION_DEG - 1e-9
    seen = _pixel(pose, *placed, *size)
    assert seen is not None and math.dist(seen, (x, y)) < 1e-9


def test_looking_straight_down_the_frame_spans_what_its_lens_and_height_say():
    """40 m up with a 24 mm-equivalent lens: the frame's diagonal spans 40 * 43.27 / 24 = 72.1 m, a 4:3 frame
    57.7 by 43.3 m; at heading 0 its top is north, its right east; its centre right below the camera."""
    pose = _pose()
    assert pose.offset(0.5, 0.5, 4000, 3000) == pytest.approx((0, 0), abs=1e-9)
    corners = pose.offset(0, 0, 4000, 3000), pose.offset(1, 1, 4000, 3000)
    assert math.dist(*corners) == pytest.approx(40 * FULL_FRAME_DIAGONAL_MM / 24)
    assert pose.offset(0.5, 0, 4000, 3000) == pytest.approx((0, 43.27 * 40 / 24 * 3 / 5 / 2), abs=0.01)
    assert pose.offset(1, 0.5, 4000, 3000) == pytest.approx((57.69 / 2, 0), abs=0.01)
    # facing east, the frame's top is east; twice as high, everything twice as far
    assert _pose(yaw=90).offset(0.5, 0, 4000, 3000) == pytest.approx((21.63, 0), abs=0.01)
    assert _pose(height=80, yaw=90).offset(0.5, 0, 4000, 3000) == pytest.approx((43.27, 0), abs=0.01)


@pytest.mark.parametrize("yaw", [-120.0, 0.0, 30.0, 181.0])
def test_an_oblique_view_looks_ahead_along_its_heading(yaw):
    """Pitched 45 degrees down, the frame's centre lies one height ahead along the heading; 10 degrees down,
    1 / tan(10 degrees) heights; level or 3 degrees down, it is not placed (near the horizon)."""
    for pitch, reach in ((-45.0, 30.0), (-10.0, 30.0 / math.tan(math.radians(10)))):
        east, north = _pose(30.0, yaw, pitch).offset(0.5, 0.5, 4000, 3000)
        assert (east, north) == pytest.approx(
            (reach * math.sin(math.radians(yaw)), reach * math.cos(math.radians(yaw)))
        )
    assert _pose(30.0, yaw, 0.0).offset(0.5, 0.5, 4000, 3000) is None
    assert _pose(30.0, yaw, -3.0).offset(0.5, 0.5, 4000, 3000) is None


@settings(max_examples=100, deadline=None)
@given(
    latitude=st.floats(-80, 80),
    longitude=st.floats(-179, 179),
    east=st.floats(-300, 300),
    north=st.floats(-300, 300),
)
def test_metres_from_the_camera_become_degrees_as_the_ellipsoid_measures_them(latitude, longitude, east, north):
    """A place `east` and `north` metres away lies that far on the WGS 84 ellipsoid (pyproj's geodesic),
    within a centimetre (plus the coordinates' rounding to 1e-7 degrees, about 1 cm)."""
    from pyproj import Geod

    pose = _pose(latitude=latitude, longitude=longitude)
    place = pose.place(east, north)
    _, _, distance = Geod(ellps="WGS84").inv(longitude, latitude, *place)
    assert abs(distance - math.hypot(east, north)) < 0.02


def test_a_box_on_the_ground_has_its_size_in_metres():
    """A box a tenth of a 4000-pixel frame wide, 40 m up with a 24 mm-equivalent lens, looking down: 5.77 m
    wide; its centre at its place; its distance from right below the camera."""
    pose = _pose()
    placed = box_on_ground(pose, [0.7, 0.45, 0.8, 0.55], 4000, 3000)
    metres_per_pixel = 40 * FULL_FRAME_DIAGONAL_MM / 24 / 5000
    assert placed["width_m"] == pytest.approx(400 * metres_per_pixel, abs=0.01)
    assert placed["length_m"] == pytest.approx(300 * metres_per_pixel, abs=0.01)
    east = 0.25 * 4000 * metres_per_pixel
    assert placed["distance_m"] == pytest.approx(east, abs=0.01)
    assert (placed["longitude"], placed["latitude"]) == pose.place(east, 0)
    assert box_on_ground(_pose(pitch=-20), [0.4, 0.0, 0.6, 0.1], 4000, 3000) is None  # its top above the horizon


def test_a_pose_needs_every_field_and_names_a_value_that_is_none():
    taken = {"latitude": 47.0, "longitude": 8.0, "relative_altitude": 40.0, "camera_yaw": 10.0}
    taken |= {"camera_pitch": -90.0, "focal_35mm": 24.0}
    assert CameraPose.of(taken) is not None and CameraPose.of(taken).roll == 0  # roll not given: level
    for name in ("latitude", "relative_altitude", "camera_yaw", "camera_pitch", "focal_35mm"):
        assert CameraPose.of({k: v for k, v in taken.items() if k != name}) is None, name
    assert CameraPose.of(taken | {"relative_altitude": 0.0}) is None  # on the ground: nothing to look down from
    assert "camera_pitch 'down'" in pose_problem(taken | {"camera_pitch": "down"})
    assert "focal_35mm 0" in pose_problem(taken | {"focal_35mm": 0})
    assert pose_problem(taken) is None and CameraPose.of(taken | {"camera_yaw": float("nan")}) is None


def test_the_items_export_puts_each_stated_item_where_it_lies(tmp_path):
    """A generated survey: items at known places on the ground (pyproj's geodesic from the drone's position),
    shown in a straight-down and an oblique photo where a camera built as an aircraft's would show them. The
    geojson_items export places each stated item within 5 cm of its truth; a box above the horizon, a photo
    without a pose, one with a pose value that is no number: counted, each apart."""
    import json

    import geopandas
    from pyproj import Geod

    from helpers.describer.exports import export

    geod, size = Geod(ellps="WGS84"), (4000, 3000)
    drone = {"latitude": 47.3769, "longitude": 8.5417, "altitude": 452.5, "time": "2026-05-01T10:22:31"}
    poses = {
        "down.jpg": {"relative_altitude": 40.0, "camera_yaw": 30.0, "camera_pitch": -90.0, "focal_35mm": 24.0},
        "ahead.jpg": {"relative_altitude": 25.0, "camera_yaw": -100.0, "camera_pitch": -30.0, "focal_35mm": 24.0},
    }
    items = {  # east, north (metres from right below the drone), label, confidence
        "down.jpg": [(10.0, 5.0, "PET bottle", 0.9), (-12.0, -3.5, "can", 0.8), (3.0, 3.0, "can", 0.2)],
        "ahead.jpg": [(-60.0, 2.0, "plastic bag", 0.7)],
    }
    records, truth = [], []
    for image, pose in poses.items():
        camera = CameraPose.of(drone | pose)
        detections = []
        for east, north, label, confidence in items[image]:
            x, y = _pixel(camera, east, north, *size)
            detections.append(
                {"label": label, "confidence": confidence, "bbox": [x - 0.005, y - 0.005, x + 0.005, y + 0.005]}
            )
            if confidence >= 0.5:
                azimuth = math.degrees(math.atan2(east, north))
                truth.append(
                    (*geod.fwd(drone["longitude"], drone["latitude"], azimuth, math.hypot(east, north))[:2], label)
                )
        records.append(
            {"image": image, "width": size[0], "height": size[1], "detections": detections, "taken": drone | pose}
        )
    records[1]["detections"].append({"label": "kite", "confidence": 0.9, "bbox": [0.45, 0.0, 0.55, 0.02]})  # sky
    records.append({"image": "old_drone.jpg", "width": 4000, "height": 3000, "detections": [], "taken": drone})
    bad = drone | poses["down.jpg"] | {"relative_altitude": "high"}
    records.append({"image": "bad.jpg", "width": 4000, "height": 3000, "detections": [], "taken": bad})
    for record in records:
        record["scene"] = None
    (tmp_path / "cv.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    (tmp_path / "described.jsonl").write_text(
        "".join(json.dumps({"id": r["image"], "description": "."}) + "\n" for r in records)
    )

    counts = export("geojson_items", tmp_path / "described.jsonl", tmp_path / "items.geojson", tmp_path / "cv.jsonl")
    assert (counts["exported"], counts["items"], counts["items_unplaced"]) == (2, 3, 1)
    assert (counts["without_pose"], counts["problems"]) == (1, 1)
    error = json.loads((tmp_path / "items.geojson.errors.jsonl").read_text())
    assert error["id"] == "bad.jpg" and "relative_altitude 'high'" in error["error"]

    frame = geopandas.read_file(tmp_path / "items.geojson")
    assert list(frame["label"]) == [label for *_, label in truth] and frame.crs.to_epsg() == 4326
    for point, (longitude, latitude, _) in zip(frame.geometry, truth, strict=True):
        assert geod.inv(point.x, point.y, longitude, latitude)[2] < 0.05
    # a box 0.01 of the frame wide, straight down from 40 m with a 24 mm-equivalent lens: 40 px of 1.44 cm
    assert list(frame["width_m"][:2]) == pytest.approx([0.58, 0.58], abs=0.01)
    assert list(frame["distance_m"][:2]) == pytest.approx([math.hypot(10, 5), math.hypot(12, 3.5)], abs=0.02)
    assert set(frame["image"]) == {"down.jpg", "ahead.jpg"} and frame["time"][0].isoformat() == drone["time"]


def test_items_on_ground_below_the_take_off_point_are_placed_when_told_how_far(tmp_path):
    """A beach surveyed from the cliff top the drone took off from: its photos say 25 m above take-off, the
    beach lies 15 m below it. Told so (`below_takeoff_m`, `--ground_below_takeoff_m`), the items are placed
    within 5 cm; not told, 40% too near the drone."""
    import json

    from pyproj import Geod

    from helpers.describer.exports import export

    geod, size = Geod(ellps="WGS84"), (4000, 3000)
    drone = {"latitude": -33.89, "longitude": 151.27, "relative_altitude": 25.0, "camera_yaw": 45.0}
    drone |= {"camera_pitch": -90.0, "focal_35mm": 24.0}
    truth = CameraPose.of(drone, below_takeoff_m=15.0)
    assert truth.height == 40.0 and CameraPose.of(drone, below_takeoff_m=-25.0) is None  # not above that ground
    places = [(12.0, -5.0), (-8.0, 14.0)]
    boxes = []
    for east, north in places:
        x, y = _pixel(truth, east, north, *size)
        boxes.append({"label": "can", "confidence": 0.9, "bbox": [x - 0.004, y - 0.004, x + 0.004, y + 0.004]})
    record = {"image": "beach.jpg", "width": size[0], "height": size[1], "detections": boxes, "taken": drone}
    (tmp_path / "cv.jsonl").write_text(json.dumps(record | {"scene": None}) + "\n")
    (tmp_path / "described.jsonl").write_text(json.dumps({"id": "beach.jpg", "description": "."}) + "\n")
    rows, cv = tmp_path / "described.jsonl", tmp_path / "cv.jsonl"
    export("geojson_items", rows, tmp_path / "told.geojson", cv, below_takeoff_m=15.0)
    export("geojson_items", rows, tmp_path / "untold.geojson", cv)
    told, untold = (
        json.loads((tmp_path / name).read_text())["features"] for name in ("told.geojson", "untold.geojson")
    )
    for (east, north), placed, assumed in zip(places, told, untold, strict=True):
        longitude, latitude = geod.fwd(
            drone["longitude"], drone["latitude"], math.degrees(math.atan2(east, north)), math.hypot(east, north)
        )[:2]
        assert geod.inv(*placed["geometry"]["coordinates"], longitude, latitude)[2] < 0.05
        assert assumed["properties"]["distance_m"] == pytest.approx(math.hypot(east, north) * 25 / 40, abs=0.02)
