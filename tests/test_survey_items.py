"""A photo survey's distinct items on the ground (helpers.describer.survey_items): overlapping photos of items
whose places are known, seen through straight-down cameras, count each item once; the roll-up says so."""

from __future__ import annotations

import json
import math
from collections import Counter

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from helpers.core.contract import Policy
from helpers.core.ground import FULL_FRAME_DIAGONAL_MM, metres_from, place_from
from helpers.describer.rollup import rollup_table, summarize
from helpers.describer.survey_items import SurveyItems

ORIGIN = (8.5417, 47.3769)  # the field's south-west corner
SIZE, HEIGHT, FOCAL = (4000, 3000), 40.0, 24.0
PIXEL_M = HEIGHT * FULL_FRAME_DIAGONAL_MM / FOCAL / math.hypot(*SIZE)  # metres a pixel, straight down


def _photo(name: str, east: float, north: float, items: list[tuple[float, float, str]], pose=True) -> dict:
    """A straight-down photo's record, its camera `east`, `north` metres from the origin facing north: a box
    0.4 m square round each item in full view."""
    longitude, latitude = place_from(*ORIGIN, east, north)
    taken = {"latitude": latitude, "longitude": longitude}
    if pose:
        taken |= {"relative_altitude": HEIGHT, "camera_yaw": 0.0, "camera_pitch": -90.0, "focal_35mm": FOCAL}
    detections, shows = [], []  # shows: the items in view (this test's own field)
    for index, (item_east, item_north, label) in enumerate(items):
        x = 0.5 + (item_east - east) / PIXEL_M / SIZE[0]
        y = 0.5 - (item_north - north) / PIXEL_M / SIZE[1]
        half = (0.2 / PIXEL_M / SIZE[0], 0.2 / PIXEL_M / SIZE[1])
        if half[0] <= x <= 1 - half[0] and half[1] <= y <= 1 - half[1]:
            box = [x - half[0], y - half[1], x + half[0], y + half[1]]
            detections.append({"label": label, "confidence": 0.8, "bbox": box})
            shows.append(index)
    record = {"image": name, "width": SIZE[0], "height": SIZE[1], "detections": detections, "scene": None}
    return record | {"taken": taken, "shows": shows}


def _survey(seed: int = 0) -> tuple[list[dict], list[tuple[float, float, str]]]:
    """Twelve overlapping photos (two lines of six, 13 m apart along a line, 23 m between lines) over 40 items."""
    rng = np.random.default_rng(seed)
    items = [
        (float(e), float(n), str(label))
        for (e, n), label in zip(rng.uniform(0, 60, (40, 2)), rng.choice(["plastic", "glass"], 40))
    ]
    photos = [
        _photo(f"flight/DJI_{6 * line + k:04d}.JPG", 15 + 23 * line, 13 * k, items)
        for line in range(2)
        for k in range(6)
    ]
    return photos, items


def test_overlapping_survey_photos_count_each_item_once_where_it_lies():
    photos, items = _survey()
    shown = {index for photo in photos for index in photo["shows"]}
    sightings = sum(len(photo["detections"]) for photo in photos)
    assert sightings > 2.5 * len(shown)  # each item in several photos

    survey = SurveyItems(Policy())
    for photo in photos:
        assert survey.add(photo["image"], photo)
    found = survey.items()
    assert len(found) == len(shown)
    for item in found:  # each where an item lies, its label, in as many photos as show it
        east, north = metres_from(*ORIGIN, item["ground"]["longitude"], item["ground"]["latitude"])
        nearest = min(items, key=lambda truth: math.hypot(truth[0] - east, truth[1] - north))
        assert math.hypot(nearest[0] - east, nearest[1] - north) < 0.05 and item["label"] == nearest[2]
        assert item["frames"] == sum(items.index(nearest) in photo["shows"] for photo in photos)
        assert item["video"] is None and item["frame"] in {photo["image"] for photo in photos}

    summary = summarize(photos)[0]
    labels = {label: sum(items[index][2] == label for index in shown) for label in ("plastic", "glass")}
    assert summary["items"] == sightings and summary["ground_items"] == len(shown)
    assert summary["ground_per_category"] == {label: n for label, n in labels.items() if n}
    assert (summary["photos_placed"], summary["photos_not_placed"]) == (12, 0)
    assert (
        f"Placed on the ground from 12 photos (an item in overlapping photos counts once), {len(shown)} distinct items"
        in summary["paragraph"]
    )


def test_two_items_in_one_photo_stay_two_and_photos_without_a_pose_are_said():
    """Two items 0.5 m apart in each of two photos: two items (a photo's detections are never one item); a
    photo without the camera's pose is not placed, and the paragraph says so."""
    pair = [(20.0, 20.0, "plastic"), (20.5, 20.0, "plastic")]
    photos = [_photo("a.jpg", 20, 18, pair), _photo("b.jpg", 21, 22, pair), _photo("c.jpg", 20, 20, pair, pose=False)]
    summary = summarize(photos, by=lambda record: "site")[0]
    assert summary["ground_items"] == 2 and summary["items"] == 6
    assert (summary["photos_placed"], summary["photos_not_placed"]) == (2, 1)
    assert "Not placed: 1 photo with litter without the camera's pose." in summary["paragraph"]
    unboxed = _photo("d.jpg", 20, 20, pair)
    del unboxed["detections"][0]["bbox"]
    aside = summarize([unboxed], by=lambda record: "site")[0]
    assert (aside["ground_items"], aside["items_not_placed"]) == (1, 1)
    assert "1 distinct item: 1 plastic. Not placed: 1 item without a box." in aside["paragraph"]
    unplaced = summarize([_photo("c.jpg", 20, 20, pair, pose=False)], by=lambda record: "other")[0]
    assert "ground_items" not in unplaced  # none placed: not said
    header, rows = rollup_table([summary, unplaced])
    assert header[4] == "items on the ground" and [row[4] for row in rows] == [2, ""]


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.lists(st.tuples(st.floats(0, 30), st.floats(0, 30)), max_size=6),
        min_size=1,
        max_size=6,
    ),
    st.floats(0.1, 5),
)
def test_distinct_items_lie_between_the_most_in_a_photo_and_the_sightings(photos, radius):
    """Whatever the photos show and whatever the radius: no fewer items than one photo shows, no more than
    the sightings; every sighting is an item's (the items' photos add up to them)."""
    survey = SurveyItems(Policy(), radius)
    shown = []
    for index, places in enumerate(photos):
        record = _photo(f"{index}.jpg", 15, 15, [(e, n, "plastic") for e, n in places])
        survey.add(record["image"], record)
        shown.append(len(record["detections"]))
    found = survey.items()
    assert max(shown) <= len(found) <= sum(shown)
    assert sum(item["frames"] for item in found) == sum(shown)


def test_summarize_lists_a_surveys_items_and_names_a_pose_that_is_no_pose(tmp_path):
    from helpers.commands.summarize import main

    photos, _ = _survey(1)
    photos[3]["taken"]["camera_pitch"] = "down"
    cv = tmp_path / "cv.jsonl"
    cv.write_text("".join(json.dumps(photo) + "\n" for photo in photos), encoding="utf-8")
    assert main([str(cv), "--items", str(tmp_path / "items.jsonl"), "--output", str(tmp_path / "r.json"), "-q"]) == 1
    rolled = json.loads((tmp_path / "r.json").read_text())["groups"][0]
    assert rolled["photos"] == 11 and rolled["photos_placed"] == 11  # the bad line not counted
    errors = [json.loads(line) for line in open(tmp_path / "r.json.errors.jsonl")]
    assert errors[0]["line"] == 4 and "camera_pitch 'down'" in errors[0]["error"]
    listed = [json.loads(line) for line in open(tmp_path / "items.jsonl")]
    assert len(listed) == rolled["ground_items"] and all(item["ground"] for item in listed)
    lower = [photo | {"taken": photo["taken"] | {"relative_altitude": 30.0}} for photo in photos]  # a 10 m drop
    cliff = tmp_path / "cliff.jsonl"
    cliff.write_text("".join(json.dumps(photo) + "\n" for photo in lower), encoding="utf-8")
    told = [str(cliff), "--items", str(tmp_path / "cliff.jsonl.items.jsonl"), "--ground_below_takeoff_m", "10", "-q"]
    assert main(told) == 1  # told the ground lies 10 m below take-off: the same items where they lie
    again = [json.loads(line) for line in open(tmp_path / "cliff.jsonl.items.jsonl")]
    assert [item["ground"]["longitude"] for item in again] == pytest.approx(
        [i["ground"]["longitude"] for i in listed], abs=2e-7
    )
    assert [item["ground"]["latitude"] for item in again] == pytest.approx(
        [i["ground"]["latitude"] for i in listed], abs=2e-7
    )
    assert main([str(cv), "--items", str(tmp_path / "items.geojson"), "-q"]) == 1
    mapped = json.loads((tmp_path / "items.geojson").read_text())["features"]
    assert [f["geometry"]["coordinates"] for f in mapped] == [
        [i["ground"]["longitude"], i["ground"]["latitude"]] for i in listed
    ]
    assert {f["properties"]["placed"] for f in mapped} == {"ground"}

    assert main([str(cv), "--output", str(tmp_path / "report.md"), "-q"]) == 1  # the report: a map of the items
    report = (tmp_path / "report.md").read_text(encoding="utf-8")
    assert "![Where the distinct items lie on the ground](report.items.png)" in report
    with Image.open(tmp_path / "report.items.png") as drawn:
        assert drawn.size[0] > 300
    from helpers.describer.rollup import rollup_items_map, summarize_file

    figure = rollup_items_map(summarize_file(cv))
    drawn = {c.get_label(): len(c.get_offsets()) for c in figure.axes[0].collections}
    labels = Counter(item["label"] for item in listed)
    assert drawn == {f"{label} ({n})": n for label, n in labels.items()}
