"""The roll-up: every number in a group's paragraph is the sum over its records."""

from __future__ import annotations

import random
import re
from collections import Counter

import pytest
from conftest import rendered_markdown
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from helpers.describer.rollup import summarize, summarize_file
from helpers.text.grammar import facts
from helpers.text.synthetic import random_cv


def _records(seed: int, count: int) -> list[dict]:
    rng = random.Random(seed)
    return [{**random_cv(rng), "image": f"site_{rng.randint(1, 3)}/photo_{i:03d}.jpg"} for i in range(count)]


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10**6), count=st.integers(0, 40))
def test_rollup_numbers_equal_the_sums_of_their_records(seed, count):
    records = _records(seed, count)
    summaries = summarize(records, by="folder")
    assert summarize(iter(records), by="folder") == summaries, "records read once, as they come"
    assert sum(s["photos"] for s in summaries) == len(records)
    for summary in summaries:
        members = [r for r in records if r["image"].startswith(summary["group"] + "/")]
        counted = Counter()
        for record in members:
            counted.update(facts(record).counts)
        assert summary["photos"] == len(members)
        assert summary["items_per_category"] == dict(counted)
        assert summary["items"] == sum(counted.values())
        assert summary["photos_with_litter"] == sum(1 for r in members if facts(r).counts)
        assert sum(summary["scenes"].values()) == len(members)
        if counted:
            assert abs(sum(summary["share_per_category"].values()) - 1) < 1e-9
        ranked = sorted(
            ((r["image"].split("/")[-1], sum(facts(r).counts.values())) for r in members), key=lambda p: (-p[1], p[0])
        )
        assert summary["most_items"] == [{"photo": name, "items": n} for name, n in ranked if n][:3]
        paragraph = summary["paragraph"]
        photos = f"{len(members)} photo" + ("" if len(members) == 1 else "s")
        assert paragraph.startswith(f"{summary['group']}: {photos}, {summary['photos_with_litter']} with litter")
        for label, n in counted.items():
            assert re.search(rf"\b{n} {re.escape(label)} \(", paragraph), (label, n, paragraph)


def test_rollup_by_a_record_field_and_missing_values():
    records = [
        {"detections": [{"label": "plastic", "confidence": 0.9}], "scene": None, "site": "north"},
        {"detections": [], "scene": {"class": "grass", "confidence": 0.95}, "site": "north"},
        {"detections": [{"label": "glass", "confidence": 0.3}], "scene": None},
    ]
    by_site = {s["group"]: s for s in summarize(records, by="site")}
    assert set(by_site) == {"north", "(none)"}
    assert by_site["north"]["paragraph"] == (
        "north: 2 photos, 1 with litter (50%). 1 item: 1 plastic (100%). Scenes: not stated 1, grass 1. "
        "Most items: record 0 (1)."
    ), "a record without image or id is named by its place in its group"
    assert by_site["(none)"]["items"] == 0 and "No litter detected." in by_site["(none)"]["paragraph"]
    assert [s["group"] for s in summarize(records, by=lambda r: len(r["detections"]))] == ["1", "0"]


def test_labelled_photos_roll_up_how_truly_a_description_states_them_per_group():
    """Where 01's records hold labels, each group's paragraph says how many of its labelled photos a description
    (at the policy) states truly, as 04's truth report counts, and how many labelled items no stated detection found:
    a site where the detectors miss shows in the report. Unlabelled photos are not counted; unreadable labels are
    said, not fatal."""
    from helpers.describer.rollup import rollup_table

    plastic = {"label": "plastic", "confidence": 0.9, "bbox": [0.1, 0.1, 0.3, 0.3]}
    truth = {"detections": [{"label": "plastic", "bbox": [0.1, 0.1, 0.3, 0.3]}], "scene": {"class": "grass"}}
    grass = {"class": "grass", "confidence": 0.95}
    tire = {"label": "tire", "bbox": [0.5, 0.5, 0.9, 0.9]}
    records = [
        {"image": "north/a.jpg", "detections": [plastic], "scene": grass, "ground_truth": truth},
        {"image": "north/b.jpg", "detections": [plastic], "scene": grass,
         "ground_truth": {**truth, "detections": [*truth["detections"], tire]}},  # the tire missed
        {"image": "north/c.jpg", "detections": [plastic], "scene": grass},  # unlabelled
        {"image": "north/d.jpg", "detections": [], "scene": grass, "ground_truth": {"detections": [{"bbox": []}]}},
        {"image": "south/e.jpg", "detections": [plastic], "scene": grass},
    ]  # fmt: skip
    north, south = summarize(records, by="folder")
    assert (north["labelled_photos"], north["stated_truly"]) == (2, 1)
    assert (north["labelled_items"], north["labelled_items_not_found"]) == (3, 1)
    said = "Against the labels of 2 photos: 1 stated truly (50%); 1 of 3 labelled items not found. (1 photo with "
    assert said + "labels that cannot be read)" in north["paragraph"], north["paragraph"]
    assert "labelled_photos" not in south and "Against the labels" not in south["paragraph"]
    (only,) = summarize([records[3]], by="folder")  # its labels unreadable, and no other: said all the same
    assert only["labels_unreadable"] == 1 and only["paragraph"].endswith("1 photo with labels that cannot be read.")
    header, rows = rollup_table([north, south])
    at = header.index("labelled photos")
    assert header[at : at + 3] == ["labelled photos", "stated truly", "labelled items not found"]
    assert [row[at : at + 3] for row in rows] == [[2, 1, 1], ["", "", ""]]


def test_a_videos_frames_roll_up_as_frames_and_item_sightings():
    """A video's frames (01's `clip.mp4/00012.000s.jpg`) show an item again while it stays in view: their
    paragraph says frames and item sightings, the distinct items followed across them, and names the frames
    with most items by the time into the video."""
    plastic = {"label": "plastic", "confidence": 0.9, "bbox": [0.1, 0.1, 0.2, 0.2]}
    other = {"label": "plastic", "confidence": 0.8, "bbox": [0.6, 0.5, 0.7, 0.6]}
    records = [
        {"image": f"flight_1/DJI_0042.MP4/{second:05d}.000s.jpg", "detections": [plastic, other][:items], "scene": None}
        for second, items in enumerate([2, 2, 0, 1])
    ] + [{"image": "flight_1/IMG_0001.jpg", "detections": [plastic], "scene": None}]
    by_folder = {s["group"]: s for s in summarize(records, by="folder")}
    video, mixed = by_folder["flight_1/DJI_0042.MP4"], by_folder["flight_1"]
    assert video["paragraph"] == (
        "flight_1/DJI_0042.MP4: 4 video frames, 3 with litter (75%). 5 item sightings (an item in view in several "
        "frames counts in each): 5 plastic (100%). Followed across frames, 2 distinct items: 2 plastic. Scenes: not "
        "stated 4. Most items in a frame: DJI_0042.MP4 at 0 s (2), DJI_0042.MP4 at 1 s (2), DJI_0042.MP4 at 3 s (1)."
    )
    assert video["photos"] == 4 and video["items"] == 5  # the numbers keep their names
    assert video["distinct_items"] == 2 and video["distinct_per_category"] == {"plastic": 2}
    assert "distinct_items" not in mixed  # a photo's items are items
    assert mixed["paragraph"].startswith("flight_1: 1 photo, 1 with litter (100%). 1 item: 1 plastic")


def test_folder_groups_are_relative_to_the_images_root_and_a_flat_folder_is_named():
    """Issue 32, item 7: a flat folder was the group ".", absolute paths one group per parent."""
    record = {"detections": [{"label": "plastic", "confidence": 0.9}], "scene": None}
    flat = [{**record, "image": name} for name in ("a.jpg", "b.jpg")]
    assert [s["group"] for s in summarize(flat, by="folder")] == ["(top folder)"]
    assert [s["group"] for s in summarize(flat, by="folder", images_root="data/trail_cam")] == ["trail_cam"]
    nested = [{**record, "image": f"/photos/2026/{site}/x.jpg"} for site in ("north", "south", "north")]
    groups = summarize(nested, by="folder", images_root="/photos/2026")
    assert [(s["group"], s["photos"]) for s in groups] == [("north", 2), ("south", 1)]


def test_an_unknown_field_is_refused_naming_it_and_the_fields_there_are():
    records = [{**r, "site": "a", "camera": 3} for r in _records(1, 4)]
    with pytest.raises(ValueError, match=r"'nosuchfield'.*'camera', 'site'"):
        summarize(records, by="nosuchfield")
    records[0].pop("site")
    assert {s["group"] for s in summarize(records, by="site")} == {"a", "(none)"}, "some lack it: grouped apart"


def test_rollup_by_the_day_or_month_each_photo_was_taken():
    record = {"detections": [{"label": "plastic", "confidence": 0.9}], "scene": None}
    times = ["2026-05-01T06:12:00+02:00", "2026-05-01T23:59:59", "2026-05-02T00:00:01.5", None]
    records = [{**record, "taken": {"time": t}} if t else dict(record) for t in times]
    assert [(s["group"], s["photos"]) for s in summarize(records, by="day")] == [
        ("2026-05-01", 2),
        ("2026-05-02", 1),
        ("(none)", 1),
    ]
    assert [(s["group"], s["photos"]) for s in summarize(records, by="month")] == [("2026-05", 3), ("(none)", 1)]
    with pytest.raises(ValueError, match="taken.time"):
        summarize([record, {**record, "taken": {"latitude": 1.0, "longitude": 2.0}}], by="day")


def test_desclm_summarize_writes_the_roll_up_of_01s_records_and_a_bad_line_costs_that_line(tmp_path, capsys):
    import csv
    import json

    from helpers.commands.summarize import main

    records = _records(3, 12)
    for index, record in enumerate(records):
        record["taken"] = {"time": f"2026-05-0{1 + index % 2}T10:00:00"}
        if index < 5:  # these five say where, too
            record["taken"] |= {"latitude": 46.5 + index / 1e4, "longitude": 6.6}
        elif index < 8:  # no place on Earth: not drawn
            record["taken"] |= {"latitude": [float("nan"), True, 91.0][index - 5], "longitude": 6.6}
    lines = [json.dumps(record) for record in records]
    lines[4:4] = ["{not json", json.dumps({"image": "x.jpg", "detections": [{"label": "glass"}]})]
    cv = tmp_path / "cv.jsonl"
    cv.write_text("\n".join(lines) + "\n")

    assert main([str(cv), "-q"]) == 1  # two lines not counted
    assert capsys.readouterr().out == "".join(s["paragraph"] + "\n" for s in summarize(records, by="folder"))

    assert main([str(cv), "--output", str(tmp_path / "r.json"), "-q"]) == 1
    numbers = json.loads((tmp_path / "r.json").read_text())
    assert numbers["groups"] == summarize(records, by="folder") and numbers["records"] == len(records)
    errors = [json.loads(line) for line in (tmp_path / "r.json.errors.jsonl").read_text().splitlines()]
    assert [e["line"] for e in errors] == [5, 6] and "confidence" in errors[1]["error"]

    by_day = summarize(records, by="day")
    assert main([str(cv), "--by", "day", "--output", str(tmp_path / "r.csv"), "-q"]) == 1
    with open(tmp_path / "r.csv", encoding="utf-8-sig", newline="") as file:
        table = list(csv.DictReader(file))
    assert [(row["group"], int(row["photos"]), int(row["items"])) for row in table] == [
        (s["group"], s["photos"], s["items"]) for s in by_day
    ]
    for row, summary in zip(table, by_day, strict=True):
        assert {label: int(row[label]) for label in summary["items_per_category"]} == summary["items_per_category"]

    assert main([str(cv), "--by", "day", "--output", str(tmp_path / "r.md"), "--title", "Survey", "-q"]) == 1
    report = (tmp_path / "r.md").read_text()
    assert report.startswith("# Survey\n\n![Where the photos were taken](r.map.png)\n\n| group | photos |")
    with Image.open(tmp_path / "r.map.png") as picture:
        assert picture.format == "PNG" and picture.width > 300
    paragraphs = rendered_markdown(report).paragraphs[1:]  # after the map's (an image, no text)
    assert paragraphs == [s["paragraph"] for s in by_day], "as written, once each"
    assert report.count("\n| 2026-05-0") == 2

    with pytest.raises(SystemExit) as usage:
        main([str(cv), "--output", str(tmp_path / "r.txt")])
    assert usage.value.code == 2

    rolled = summarize_file(cv)  # the map's dots: the five photos with a position, coloured by items stated
    stated = [sum(facts(record).counts.values()) for record in records[:5]]
    assert rolled.positions.tolist() == [[6.6, 46.5 + i / 1e4, n] for i, n in enumerate(stated)]
    assert rolled.with_position == 5


@settings(max_examples=60, deadline=None)
@given(
    lines=st.lists(
        st.one_of(
            st.integers(0, 10**6).map(lambda seed: ("record", seed)),
            st.text(max_size=30).map(lambda text: ("text", text)),
            st.sampled_from(['{"detections": "none"}', "[]", "null", '{"image": "a.jpg"}']).map(lambda t: ("text", t)),
        ),
        max_size=20,
    )
)
def test_summarize_file_counts_every_valid_record_and_names_every_other_line(tmp_path_factory, lines):
    import json

    from helpers.describer.rollup import summarize_file
    from helpers.text.grammar import validate_record

    path = tmp_path_factory.mktemp("rollup") / "cv.jsonl"
    texts = [json.dumps(_records(value, 1)[0]) if kind == "record" else value for kind, value in lines]
    path.write_text("".join(text.replace("\n", " ").replace("\r", " ") + "\n" for text in texts), encoding="utf-8")
    valid, blank = [], 0
    for text in path.read_text(encoding="utf-8").split("\n")[:-1]:
        if not text.encode().strip():
            blank += 1  # no record, no problem (as every JSONL input reads them)
            continue
        try:
            record = json.loads(text)
            validate_record(record)
        except ValueError:
            continue
        valid.append(record)
    rolled = summarize_file(path)
    assert rolled.records == len(valid) and rolled.summaries == summarize(valid)
    assert len(rolled.problems) == len(texts) - len(valid) - blank
    assert all(isinstance(problem["line"], int) and problem["error"] for problem in rolled.problems)
