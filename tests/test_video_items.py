"""A video's distinct items (helpers.describer.video_items): boxes followed across frames, moved by the
camera's motion 01 measures from the pixels (helpers.core.camera_motion)."""

from __future__ import annotations

import json
import random
from collections import Counter
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from helpers.core.contract import Policy
from helpers.core.ground import CameraPose, box_on_ground
from helpers.core.video_frames import split_frame_key
from helpers.cv.batch import decode_batches
from helpers.cv.sources import open_image_source
from helpers.describer.rollup import rollup_table, summarize, summarize_file
from helpers.describer.video_items import VideoItems

SIZE = (640, 360)  # the generated video's frames
PAN = 80  # pixels a second the camera moves right over the ground
RATE = 10  # frames a second


def _ground(width: int, height: int, seed: int = 0) -> np.ndarray:
    """Textured ground (noise at several scales, as grass and gravel look from above), RGB."""
    rng = np.random.default_rng(seed)
    ground = np.zeros((height, width))
    for scale in (2, 4, 8, 16, 32, 64):
        coarse = Image.fromarray((rng.random((height // scale + 2, width // scale + 2)) * 255).astype(np.uint8))
        ground += np.asarray(coarse.resize((width + 2 * scale, height + 2 * scale), Image.BICUBIC))[:height, :width]
    ground = (ground - ground.min()) / (ground.max() - ground.min()) * 255
    return np.repeat(ground[..., None], 3, axis=2).astype(np.uint8)


@pytest.fixture(scope="module")
def panning_video(tmp_path_factory) -> Path:
    """A drone's pass: the camera moves right over textured ground at PAN pixels a second for 8 s."""
    path = tmp_path_factory.mktemp("pan") / "DJI_0001.MP4"
    ground = _ground(SIZE[0] + PAN * 9, SIZE[1] + 40)
    with av.open(str(path), "w") as video:
        stream = video.add_stream("libx264", rate=Fraction(RATE))
        stream.width, stream.height, stream.pix_fmt = *SIZE, "yuv420p"
        for index in range(8 * RATE):
            left = PAN * index // RATE
            view = np.ascontiguousarray(ground[20 : 20 + SIZE[1], left : left + SIZE[0]])
            video.mux(stream.encode(av.VideoFrame.from_ndarray(view, format="rgb24")))
        video.mux(stream.encode())
    return path


def _measured_motions(video: Path, interval: float, shuffled: bool) -> dict[str, list | None]:
    from helpers.core import camera_motion

    camera_motion._KEPT.clear()  # nothing kept from another reading
    items = list(open_image_source(str(video), video_interval=interval).items)
    if shuffled:
        random.Random(0).shuffle(items)
    return {d.item.key: d.motion for batch in decode_batches(items, 4, 2, 0, False, interval) for d in batch}


def test_01_measures_a_panning_cameras_motion_between_listed_frames_in_any_order(panning_video):
    """Each listed frame's motion is the pan since the frame before (a shift of PAN x interval pixels, to
    the left in the frame), to 0.001 of the frame; the same whether frames are decoded in order or shuffled."""
    interval = 0.5
    motions = _measured_motions(panning_video, interval, shuffled=False)
    assert motions.pop("DJI_0001.MP4/00000.000s.jpg") is None  # the first frame has none before it
    expected = np.array([[1, 0, -PAN * interval / SIZE[0]], [0, 1, 0]])
    assert len(motions) == 15
    errors = [np.abs(np.array(motion) - expected).max() for motion in motions.values()]
    assert max(errors) < 0.001, errors  # 0.00045 at most here
    assert _measured_motions(panning_video, interval, shuffled=True) == {
        "DJI_0001.MP4/00000.000s.jpg": None,
        **motions,
    }


@pytest.mark.parametrize("degrees", [0.0, 5.0, -10.0])
def test_a_turning_and_moving_cameras_motion_is_measured(degrees):
    """A camera that turns (a drone's yaw) as it moves: the measured map is the true one to 0.001."""
    from helpers.core.camera_motion import grey_copy, measured_motion

    ground = Image.fromarray(_ground(2 * SIZE[0], 2 * SIZE[1], seed=4))
    angle = np.radians(degrees)
    turn = np.array([[np.cos(angle), np.sin(angle), 0], [-np.sin(angle), np.cos(angle), 0], [0, 0, 1]])

    def view(centre_x: float, turned: bool) -> tuple[Image.Image, np.ndarray]:  # the view and its ground-to-frame map
        to_frame = np.array([[1, 0, SIZE[0] / 2], [0, 1, SIZE[1] / 2], [0, 0, 1]]) @ (turn if turned else np.eye(3))
        to_frame = to_frame @ np.array([[1, 0, -centre_x], [0, 1, -SIZE[1]], [0, 0, 1]])
        inverse = np.linalg.inv(to_frame)
        return ground.transform(SIZE, Image.Transform.AFFINE, tuple(inverse[:2].ravel()), Image.BILINEAR), to_frame

    (before, first), (after, second) = view(SIZE[0] * 0.9, False), view(SIZE[0] * 1.0, True)
    normalise = np.diag([1 / SIZE[0], 1 / SIZE[1], 1])
    truth = (normalise @ second @ np.linalg.inv(first) @ np.linalg.inv(normalise))[:2]
    measured = measured_motion(grey_copy(before), grey_copy(after))
    assert measured is not None and np.abs(np.array(measured) - truth).max() < 0.001


def test_a_cut_between_unrelated_frames_has_no_motion():
    """Two unrelated views (a cut): the corners followed do not agree on one motion, so none is stated."""
    from helpers.core.camera_motion import grey_copy, measured_motion

    before, after = (Image.fromarray(_ground(*SIZE, seed=seed)) for seed in (1, 2))
    assert measured_motion(grey_copy(before), grey_copy(after)) is None
    flat = Image.new("RGB", SIZE, (90, 120, 60))  # calm water, fresh snow: nothing to follow
    assert measured_motion(grey_copy(flat), grey_copy(flat)) is None


def _sightings(on_ground: list[tuple[float, float, str]], left: float, side: int = 14) -> dict[int, dict]:
    """Detections of the items on the ground (x, y in pixels; a label) wholly in the view whose left edge
    is at `left` pixels, by item: boxes `side` pixels square, normalised."""
    detections = {}
    for index, (x, y, label) in enumerate(on_ground):
        x0, y0 = x - left - side / 2, y - side / 2
        if 0 <= x0 and x0 + side <= SIZE[0]:
            box = [x0 / SIZE[0], y0 / SIZE[1], (x0 + side) / SIZE[0], (y0 + side) / SIZE[1]]
            detections[index] = {"label": label, "confidence": 0.8, "bbox": [round(v, 6) for v in box]}
    return detections


def _drone_pass(video: Path) -> tuple[list[dict], list[tuple[float, float, str]], list[int]]:
    """01's records of the panning video's frames every 0.5 s with its measured `camera_motion`, their
    detections those of a dozen items on the ground; the items, and the item of each sighting."""
    rng = np.random.default_rng(3)
    labels = rng.choice(["plastic", "glass"], 12)
    places = rng.uniform([20, 30], [1200, 330], (12, 2))
    on_ground = [(float(x), float(y), str(label)) for (x, y), label in zip(places, labels)]
    records, shown = [], []
    for key, motion in _measured_motions(video, 0.5, shuffled=False).items():
        in_view = _sightings(on_ground, PAN * split_frame_key(key)[1] / 1000)
        shown += in_view
        record = {"image": key, "detections": list(in_view.values()), "scene": None}
        records.append(record | ({"camera_motion": motion} if motion else {}))
    return records, on_ground, shown


def test_a_drone_pass_counts_each_item_once_with_01s_camera_motion_and_not_without(panning_video, tmp_path):
    """Litter on the ground the camera passes over: with the motion 01 measured from the video, each item
    counts once however many frames show it, by its label; without it the tracks break (so the motion is
    what does it)."""
    records, on_ground, shown = _drone_pass(panning_video)
    items = Counter(on_ground[index][2] for index in set(shown))
    assert sum(items.values()) >= 6 and len(shown) > 3 * sum(items.values())  # items, each in many frames

    followed = summarize(records)[0]
    assert followed["distinct_per_category"] == dict(items) and followed["distinct_items"] == len(set(shown))
    still = summarize([{k: v for k, v in record.items() if k != "camera_motion"} for record in records])[0]
    assert still["distinct_items"] > 2 * len(set(shown))

    cv = tmp_path / "cv.jsonl"  # from the file too, as `desclm summarize` reads it
    cv.write_text("".join(json.dumps(record) + "\n" for record in records), encoding="utf-8")
    assert summarize_file(cv).summaries[0]["distinct_items"] == len(set(shown))


def test_desclm_summarize_lists_each_distinct_item_once_with_where_its_best_frame_was_taken(panning_video, tmp_path):
    """`--items`: one line (row, map point) per distinct item, first seen first: its label, when it was
    first and last seen, in how many frames, and its most sure frame with the frame's time and place; on the
    map where its box lies on the ground when that frame says the camera's pose, else where it was taken."""
    from helpers.commands.summarize import main

    records, on_ground, shown = _drone_pass(panning_video)
    for index, record in enumerate(records):  # the drone flies east: half the frames say where they were taken
        if index % 2:
            seconds = split_frame_key(record["image"])[1] / 1000
            record["taken"] = {
                "time": f"2026-05-01T10:00:{seconds:06.3f}",
                "latitude": 46.5,
                "longitude": 6.6 + seconds / 1e4,
            }
        if index % 8 == 3:  # some say the drone's height and the camera's view too (a flight record's)
            record["taken"] |= {"relative_altitude": 30.0, "camera_yaw": 90.0, "camera_pitch": -90.0, "focal_35mm": 24}
            record |= {"width": SIZE[0], "height": SIZE[1]}
    cv = tmp_path / "placed.jsonl"
    cv.write_text("".join(json.dumps(record) + "\n" for record in records), encoding="utf-8")
    assert main([str(cv), "--items", str(tmp_path / "items.jsonl"), "-q"]) == 0
    items = [json.loads(line) for line in (tmp_path / "items.jsonl").read_text(encoding="utf-8").splitlines()]
    times = [split_frame_key(record["image"])[1] / 1000 for record in records]
    seen_at = [t for record, t in zip(records, times) for _ in record["detections"]]  # a time per sighting
    truth = sorted(
        (
            *(f(t for t, i in zip(seen_at, shown) if i == index) for f in (min, max)),
            on_ground[index][2],
            shown.count(index),
        )
        for index in set(shown)
    )
    assert sorted((i["first_seen_s"], i["last_seen_s"], i["label"], i["frames"]) for i in items) == truth
    assert [item["first_seen_s"] for item in items] == sorted(item["first_seen_s"] for item in items)
    assert all(item["video"] == "DJI_0001.MP4" and item["frame"].startswith("DJI_0001.MP4/") for item in items)
    by_frame = {record["image"]: record for record in records}
    for item in items:  # its best frame's own detection and `taken`
        assert item["bbox"] in [d["bbox"] for d in by_frame[item["frame"]]["detections"]]
        assert item.get("taken") == by_frame[item["frame"]].get("taken")
    assert not list(tmp_path.glob("*.partial.jsonl"))  # the staged items are gone

    assert main([str(cv), "--items", str(tmp_path / "items.geojson"), "-q"]) == 0
    mapped = json.loads((tmp_path / "items.geojson").read_text(encoding="utf-8"))["features"]
    placed = [item for item in items if "taken" in item]
    assert 0 < len(mapped) == len(placed) < len(items)
    on_ground = []
    for item, feature in zip(placed, mapped, strict=True):
        pose = CameraPose.of(item["taken"])
        ground = box_on_ground(pose, item["bbox"], *SIZE) if pose else None
        assert item.get("ground") == ground
        where = (
            [ground["longitude"], ground["latitude"]]
            if ground
            else [item["taken"][k] for k in ("longitude", "latitude")]
        )
        assert feature["geometry"]["coordinates"] == where
        assert feature["properties"]["placed"] == ("ground" if ground else "camera")
        on_ground.append(ground is not None)
    assert any(on_ground) and not all(on_ground)
    assert main([str(cv), "--items", str(tmp_path / "items.csv"), "-q"]) == 0
    rows = (tmp_path / "items.csv").read_text(encoding="utf-8-sig").splitlines()
    assert rows[0].startswith("video,label,first_seen_s") and len(rows) == len(items) + 1
    assert rows[0].endswith(",ground_latitude,ground_longitude,width_m,length_m,distance_m")


def test_a_still_cameras_items_count_once_through_misses_and_label_flips():
    """A trail camera: three items in view for a minute, each missed now and then (for less than
    `lost_s`) and called another label now and then: three items, each by the label most frames give."""
    rng = np.random.default_rng(0)
    boxes = {"plastic": [0.1, 0.1, 0.16, 0.2], "glass": [0.5, 0.5, 0.53, 0.56], "metal": [0.8, 0.2, 0.9, 0.3]}
    items = VideoItems(Policy(), lost_s=2.0)
    for second in range(60):
        detections = []
        for label, box in boxes.items():
            if second % 7 == 3 and label == "glass":
                continue  # missed a frame
            given_label = "paper" if rng.random() < 0.2 else label
            confidence = float(rng.uniform(0.55, 0.95)) if rng.random() > 0.1 else 0.3  # sometimes below the threshold
            detections.append({"label": given_label, "confidence": confidence, "bbox": box})
        assert items.add(second * 1000, detections)
    assert items.counts() == {"plastic": 1, "glass": 1, "metal": 1}
    assert not items.add(59_000, [])  # out of time order: refused, nothing added


frame_detections = st.lists(
    st.lists(
        st.tuples(
            st.sampled_from(["plastic", "glass", "e-waste"]),
            st.floats(0.0, 1.0),
            st.floats(0.0, 0.9),
            st.floats(0.0, 0.9),
            st.floats(0.0, 0.3),
            st.floats(0.0, 0.3),
        ),
        max_size=6,
    ),
    max_size=25,
)


@settings(max_examples=150, deadline=None)
@given(frames=frame_detections, motion=st.booleans())
def test_distinct_items_lie_between_the_most_in_a_frame_and_the_sightings(frames, motion):
    """Whatever the boxes: each counted detection belongs to exactly one distinct item, and items in one
    frame are distinct, so the count is at least the most counted in a frame and at most all sightings."""
    policy = Policy()
    items = VideoItems(policy)
    counted = []
    for index, boxes in enumerate(frames):
        detections = [
            {"label": label, "confidence": confidence, "bbox": [x, y, x + w, y + h]}
            for label, confidence, x, y, w, h in boxes
        ]
        warp = [[1.0, 0.0, -0.01 * index], [0.0, 1.0, 0.0]] if motion else None
        assert items.add(index * 200, detections, warp)
        counted.append(sum(d["confidence"] >= policy.min_confidence for d in detections))
    distinct = sum(items.counts().values())
    assert max(counted, default=0) <= distinct <= sum(counted)


def test_a_frame_out_of_order_or_without_boxes_is_said_and_a_bad_motion_is_a_named_line(tmp_path):
    """The roll-up says when a video's count started afresh (its frames out of time order) and gives no
    distinct count when a counted detection has no box; a malformed `camera_motion` costs its line."""
    plastic = {"label": "plastic", "confidence": 0.9, "bbox": [0.1, 0.1, 0.2, 0.2]}
    frames = [{"image": f"clip.mp4/0000{s}.000s.jpg", "detections": [plastic], "scene": None} for s in (0, 1, 2)]
    afresh = summarize([*frames, frames[0]])[0]
    assert afresh["distinct_items"] == 2 and afresh["counted_afresh"] == 1
    assert "counted afresh once, its items may count twice" in afresh["paragraph"]
    unboxed = [*frames, {**frames[0], "image": "clip.mp4/00003.000s.jpg", "detections": [{**plastic, "bbox": None}]}]
    summary = summarize(unboxed)[0]
    assert summary["distinct_items"] is None and summary["distinct_per_category"] is None
    assert "Distinct items not counted: 1 detection without a box" in summary["paragraph"]
    photo = {"image": "site/IMG_1.jpg", "detections": [plastic], "scene": None}
    header, rows = rollup_table(summarize([*frames, photo]))  # the .md and .csv reports' table
    assert header[:5] == ["group", "photos", "with litter", "items", "distinct items"]
    assert [row[:5] for row in rows] == [["clip.mp4", 3, 3, 3, 1], ["site", 1, 1, 1, ""]]

    cv = tmp_path / "cv.jsonl"
    lines = [frames[0], {**frames[1], "camera_motion": [[1, 0], [0, 1]]}, {**frames[2], "camera_motion": "still"}]
    cv.write_text("".join(json.dumps(record) + "\n" for record in lines), encoding="utf-8")
    rolled = summarize_file(cv)
    assert [problem["line"] for problem in rolled.problems] == [2, 3]
    assert all("camera_motion" in problem["error"] for problem in rolled.problems)
    assert rolled.records == 1
