"""A fixed camera's distinct items (helpers.describer.fixed_items): a trail camera's photos of the same
litter count each item once; the roll-up says so when asked (`--fixed_cameras`)."""

from __future__ import annotations

import json

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from helpers.core.contract import Policy
from helpers.describer.fixed_items import FixedItems
from helpers.describer.options import Matching
from helpers.describer.rollup import rollup_table, summarize


def _camera(seed: int = 0, photos: int = 40) -> tuple[list[dict], list[tuple[list[float], str]]]:
    """A fixed camera's photos of six items left in view for parts of the series, each detected four times
    in five, its box's sides moved by up to 10% of its size, one label in ten drawn at random."""
    rng = np.random.default_rng(seed)
    items = []
    for column in range(3):
        for row in range(2):
            corner = [0.1 + 0.3 * column, 0.2 + 0.4 * row]
            items.append(([*corner, corner[0] + 0.04, corner[1] + 0.03], str(rng.choice(["plastic", "glass"]))))
    there = [(0, photos), (0, photos // 2), (photos // 4, photos), (5, 25), (10, photos), (0, 3)]
    records = []
    for photo in range(photos):
        detections = []
        for (box, label), (start, end) in zip(items, there, strict=True):
            if start <= photo < end and rng.random() < 0.8:
                moved = np.array(box) + rng.uniform(-0.1, 0.1, 4) * np.tile([0.04, 0.03], 2)
                said = label if rng.random() >= 0.1 else str(rng.choice(["plastic", "glass", "metal"]))
                detections.append({"label": said, "confidence": 0.8, "bbox": moved.tolist()})
        records.append({"image": f"cam_07/IMG_{photo:04d}.JPG", "detections": detections, "scene": None})
    return records, items


def test_a_trail_cameras_photos_count_each_item_once_by_its_label():
    records, items = _camera()
    sightings = sum(len(record["detections"]) for record in records)
    found = FixedItems(Policy())
    for record in records:
        found.add(record["image"], record)
    assert sightings > 5 * len(items) and len(found.sightings) == len(items)
    assert sorted(found.counts().elements()) == sorted(label for _, label in items)
    listed = found.items()
    assert sum(item["frames"] for item in listed) == sightings and {item["video"] for item in listed} == {None}

    summary = summarize(records, matching=Matching(fixed_min_iou=0.3))[0]
    assert summary["items"] == sightings and summary["fixed_items"] == len(items)
    assert (
        "Seen by a fixed camera in 40 photos (an item in several photos counts once), 6 distinct items"
        in (summary["paragraph"])
    )
    assert "fixed_items" not in summarize(records)[0]  # not asked: not said
    header, rows = rollup_table([summary])
    assert header[4] == "items, fixed camera" and rows[0][4] == len(items)


def test_two_items_side_by_side_in_one_photo_stay_two():
    touching = [{"label": "can", "confidence": 0.9, "bbox": [0.1, 0.1, 0.2, 0.2]}]
    touching.append({"label": "can", "confidence": 0.9, "bbox": [0.11, 0.1, 0.21, 0.2]})  # IoU 0.82
    found = FixedItems(Policy())
    for index in range(3):
        found.add(f"{index}.jpg", {"detections": touching})
    assert found.sightings == [3, 3]


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.lists(st.tuples(st.floats(0, 0.9), st.floats(0, 0.9), st.floats(0.01, 0.1)), max_size=6),
        min_size=1,
        max_size=8,
    ),
    st.floats(0.05, 1.0),
)
def test_distinct_items_lie_between_the_most_in_a_photo_and_the_sightings(photos, min_iou):
    found = FixedItems(Policy(), min_iou)
    shown = []
    for index, boxes in enumerate(photos):
        detections = [{"label": "can", "confidence": 0.9, "bbox": [x, y, x + side, y + side]} for x, y, side in boxes]
        found.add(f"{index}.jpg", {"detections": detections})
        shown.append(len(detections))
    assert max(shown) <= len(found.sightings) <= sum(shown) and sum(found.sightings) == sum(shown)


def test_summarize_fixed_cameras_counts_each_folders_items_and_lists_them(tmp_path):
    from helpers.commands.summarize import main

    records = _camera(0)[0] + [r | {"image": r["image"].replace("cam_07", "cam_09")} for r in _camera(1)[0]]
    cv = tmp_path / "cv.jsonl"
    cv.write_text("".join(json.dumps(record) + "\n" for record in records), encoding="utf-8")
    command = [
        str(cv),
        "--fixed_cameras",
        "--items",
        str(tmp_path / "items.jsonl"),
        "--output",
        str(tmp_path / "r.json"),
    ]
    assert main([*command, "-q"]) == 0
    groups = json.loads((tmp_path / "r.json").read_text())["groups"]
    assert [(g["group"], g["fixed_items"]) for g in groups] == [("cam_07", 6), ("cam_09", 6)]
    listed = [json.loads(line) for line in open(tmp_path / "items.jsonl")]
    assert len(listed) == 12 and {item["frame"].split("/")[0] for item in listed} == {"cam_07", "cam_09"}
