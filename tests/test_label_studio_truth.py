"""A Label Studio review's boxes as ground truth (`helpers.cv.label_studio_truth`): its JSON and JSON-MIN
exports read as 01's images, keyed as the photos' CV records already are. The fixtures are Label Studio
1.23.2's own exports of a real review (tests/data, written by docs/measurements/label_studio_import.py)."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

DATA = Path(__file__).parent / "data"


@pytest.fixture
def photos(tmp_path) -> Path:
    """Stand-ins for the reviewed photos (make demo's, not in a fresh clone), at their records' keys and sizes."""
    for line in (DATA / "label_studio_cv.jsonl").read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        (tmp_path / "photos" / record["image"]).parent.mkdir(parents=True, exist_ok=True)
        Image.new("RGB", (record["width"], record["height"]), (90, 120, 60)).save(tmp_path / "photos" / record["image"])
    return tmp_path / "photos"


def _reviewed_boxes(name: str = "label_studio_export.json") -> dict[str, list[tuple[str, list[float]]]]:
    """Each reviewed photo's boxes as a JSON export holds them: its newest annotation not cancelled, each
    rectangle's percents over 100 as [x1, y1, x2, y2]."""
    boxes = {}
    for task in json.loads((DATA / name).read_text(encoding="utf-8")):
        kept = [annotation for annotation in task["annotations"] if not annotation["was_cancelled"]]
        if kept:
            newest = max(kept, key=lambda annotation: annotation["created_at"])
            values = [r["value"] for r in newest["result"] if r["type"] == "rectanglelabels"]
            boxes[task["data"]["photo_id"] if "photo_id" in task["data"] else task["data"]["id"]] = [
                (
                    v["rectanglelabels"][0],
                    [v["x"] / 100, v["y"] / 100, (v["x"] + v["width"]) / 100, (v["y"] + v["height"]) / 100],
                )
                for v in values
            ]
    return boxes


def test_a_review_s_json_and_json_min_exports_are_its_photos_with_their_reviewed_boxes(photos):
    """The reviewed photos (the cancelled task's not among them), keyed as their CV records are, each with its
    newest annotation's boxes and labels as given; JSON, JSON-MIN and the export of tasks that named their photo
    data.id (an earlier review's, its own boxes) read alike."""
    from helpers.cv.sources import open_image_source

    expected = _reviewed_boxes()
    records = [json.loads(line)["image"] for line in (DATA / "label_studio_cv.jsonl").read_text().splitlines()]
    assert len(expected) == 4 and set(expected) < set(records), "four reviewed of five, keyed as the records"
    for name in ("label_studio_export.json", "label_studio_export_min.json", "label_studio_export_data_id.json"):
        expected = _reviewed_boxes(
            "label_studio_export_data_id.json" if "data_id" in name else "label_studio_export.json"
        )
        source = open_image_source(DATA / name, image_root=photos)
        assert source.kind == "label_studio" and source.has_ground_truth, name
        assert [item.key for item in source.items] == list(expected) and all(i.path.is_file() for i in source.items)
        for item in source.items:
            truth = source.truth_boxes(item)
            assert [label for label, _ in truth] == [label for label, _ in expected[item.key]], name
            assert all(
                abs(u - v) < 1e-6
                for (_, a), (_, b) in zip(truth, expected[item.key], strict=True)
                for u, v in zip(a, b)
            )


def test_extraction_from_a_review_gives_records_keyed_as_the_originals_with_its_boxes(photos, tmp_path):
    """`desclm extract --images <the JSON export> --image_root <the photos> --detections_from labels`: a record per
    reviewed photo, keyed as 01 keyed it before (so it joins the earlier records), its detections the reviewed
    boxes (with detectors instead, they are each record's `ground_truth`, as a data.yaml's labels are)."""
    from helpers.cv.config import ExtractConfig
    from helpers.cv.extract import run_extraction

    config = ExtractConfig(
        images=str(DATA / "label_studio_export.json"),
        image_root=str(photos),
        output=str(tmp_path / "truth.jsonl"),
        detections_from="labels",
    )
    run = run_extraction(config)
    records = {r["image"]: r for r in map(json.loads, open(run["output"], encoding="utf-8"))}
    expected = _reviewed_boxes()
    assert list(records) == list(expected)
    for key, boxes in expected.items():
        read = sorted((d["label"], *d["bbox"]) for d in records[key]["detections"])
        assert [box[0] for box in read] == sorted(label for label, _ in boxes)
        drawn = sorted((label, *box) for label, box in boxes)
        assert all(abs(u - v) < 1e-6 for a, b in zip(read, drawn, strict=True) for u, v in zip(a[1:], b[1:]))


def _task(value: dict, **result) -> dict:
    box = {"type": "rectanglelabels", "from_name": "label", "to_name": "image", "value": value} | result
    annotation = {"id": 1, "created_at": "2026-12-06T10:00:00Z", "was_cancelled": False, "result": [box]}
    return {"id": 7, "data": {"image": "/data/local-files/?d=photos/a.jpg"}, "annotations": [annotation]}


def test_a_turned_box_is_its_upright_extent_and_a_bad_box_is_its_photo_s_problem(tmp_path, caplog):
    """A box turned 90 degrees about its top-left corner (in pixels: 100 x 50 on a 1000 x 500 photo) covers
    from 50 pixels left of that corner to it, and 100 down; a task made elsewhere is named by its local files
    URL; a box without numbers costs its photo's truth, named, not the file; an unreviewed task is no photo."""
    from helpers.cv.label_studio_truth import load_label_studio

    turned = {"x": 50.0, "y": 20.0, "width": 10.0, "height": 10.0, "rotation": 90, "rectanglelabels": ["can"]}
    broken = {"x": "left", "y": 0, "width": 1, "height": 1, "rectanglelabels": ["can"]}
    unlabelled = {"x": 1, "y": 1, "width": 1, "height": 1, "rectanglelabels": []}
    unreviewed = {"id": 9, "data": {"image": "/data/local-files/?d=photos/c.jpg"}, "annotations": []}
    tasks = [_task(turned, original_width=1000, original_height=500), _task(broken), unreviewed, _task(unlabelled)]
    tasks[1]["data"]["image"] = "/data/local-files/?d=photos/b.jpg"
    tasks[3]["data"]["image"] = "/data/local-files/?d=photos/d.jpg"
    (tmp_path / "export.json").write_text(json.dumps(tasks), encoding="utf-8")
    dataset = load_label_studio(tmp_path / "export.json", tmp_path)
    names = ["photos/a.jpg", "photos/b.jpg", "photos/d.jpg"]
    assert [photo.relative_to(tmp_path).as_posix() for photo in dataset.images] == names
    assert "rectanglelabels must be a list of label texts" in dataset.problems[tmp_path / "photos/d.jpg"]
    ((label, box),) = dataset.boxes[tmp_path / "photos/a.jpg"]
    assert label == "can" and box == pytest.approx([0.45, 0.2, 0.5, 0.4])
    assert dataset.boxes[tmp_path / "photos/b.jpg"] == [] and "result 1" in dataset.problems[tmp_path / "photos/b.jpg"]
    tasks[0]["data"] = {"image": "photos/a.jpg"}
    (tmp_path / "export.json").write_text(json.dumps(tasks), encoding="utf-8")
    with pytest.raises(ValueError, match="entry 1: no data.photo_id"):
        load_label_studio(tmp_path / "export.json", tmp_path)
    # a task its cloud storage made names its photo by URL: outside a folder here, passed over; all of them, refused
    tasks[0]["data"] = {"image": "s3://bucket/a.jpg"}
    (tmp_path / "export.json").write_text(json.dumps(tasks), encoding="utf-8")
    with caplog.at_level(logging.WARNING):
        kept = load_label_studio(tmp_path / "export.json", tmp_path)
    assert [photo.name for photo in kept.images] == ["b.jpg", "d.jpg"]
    assert "1 reviewed tasks passed over, their photo outside image_root" in caplog.text
    (tmp_path / "export.json").write_text(json.dumps(tasks[:1]), encoding="utf-8")
    with pytest.raises(ValueError, match=r"s3://bucket/a\.jpg lies outside image_root .*every other reviewed task"):
        load_label_studio(tmp_path / "export.json", tmp_path)


PERCENT = st.floats(0, 100, allow_nan=False)


@settings(max_examples=80, deadline=None)
@given(st.lists(st.tuples(PERCENT, PERCENT, PERCENT, PERCENT, st.text(min_size=1, max_size=12)), max_size=6))
def test_upright_boxes_read_back_as_their_percents_in_0_to_1_labels_as_given(boxes):
    """Any upright rectangles a reviewer draws (percent corners and sizes, any label text): read back in the
    order drawn, each [x, y, x + width, y + height] / 100 clipped to the photo, its label exactly as written."""
    import tempfile

    from helpers.cv.label_studio_truth import load_label_studio

    results = [
        {"type": "rectanglelabels", "value": {"x": x, "y": y, "width": w, "height": h, "rectanglelabels": [label]}}
        for x, y, w, h, label in boxes
    ]
    annotation = {"id": 1, "created_at": "t", "was_cancelled": False, "result": results}
    task = {"id": 1, "data": {"photo_id": "a.jpg", "image": "x"}, "annotations": [annotation]}
    with tempfile.TemporaryDirectory() as folder:
        (Path(folder) / "export.json").write_text(json.dumps([task]), encoding="utf-8")
        dataset = load_label_studio(Path(folder) / "export.json", folder)
        read = dataset.boxes[Path(folder).resolve() / "a.jpg"]
    assert [label for label, _ in read] == [label for *_, label in boxes]
    for (_, box), (x, y, w, h, _) in zip(read, boxes, strict=True):
        assert box == pytest.approx([x / 100, y / 100, min(1.0, (x + w) / 100), min(1.0, (y + h) / 100)], abs=1e-6)


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=12,
)
RESULT = st.fixed_dictionaries(
    {
        "type": st.sampled_from(["rectanglelabels", "textarea"]),
        "value": JSON_VALUES
        | st.fixed_dictionaries(
            {
                "x": JSON_VALUES,
                "y": JSON_VALUES,
                "width": JSON_VALUES,
                "height": JSON_VALUES,
                "rectanglelabels": JSON_VALUES,
            }
        ),
    }
)
TASK = st.fixed_dictionaries(
    {
        "data": st.fixed_dictionaries({"photo_id": JSON_VALUES, "image": JSON_VALUES}),
        "annotations": JSON_VALUES
        | st.lists(
            st.fixed_dictionaries({"result": JSON_VALUES | st.lists(RESULT, max_size=3), "was_cancelled": JSON_VALUES}),
            max_size=2,
        ),
    }
)


@settings(max_examples=300, deadline=None)
@given(st.lists(TASK, min_size=1, max_size=4))
def test_any_export_the_reader_is_given_reads_or_is_refused_with_a_reason(tasks):
    """Whatever a file's tasks hold (a hand-edited export, another tool's): the reader gives photos with boxes,
    a box it cannot read being its photo's named problem, or refuses the file naming the entry; nothing else."""
    import tempfile

    from helpers.cv.label_studio_truth import load_label_studio

    with tempfile.TemporaryDirectory() as folder:
        (Path(folder) / "export.json").write_text(json.dumps(tasks), encoding="utf-8")
        try:
            dataset = load_label_studio(Path(folder) / "export.json", folder)
        except ValueError as error:
            assert "entry" in str(error)
            return
    for photo in dataset.images:
        assert all(0 <= v <= 1 for _, box in dataset.boxes[photo] for v in box)
        assert all(isinstance(label, str) for label, _ in dataset.boxes[photo])
