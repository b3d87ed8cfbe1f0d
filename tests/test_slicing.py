"""Sliced inference (`slice_size`, helpers.cv.slicing): tiles laid out as SAHI lays them, boxes mapped back
to the photo, duplicates across tiles merged, and the run on real models on both pre-processing paths."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import cv_models_settings
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image, ImageDraw
from scipy import ndimage

from helpers.cv.config import ExtractConfig
from helpers.cv.detectors import Detections
from helpers.cv.extract import run_extraction
from helpers.cv.fusion import box_overlaps
from helpers.cv.slicing import SlicedDetector, merged, slice_windows
from helpers.cv.tensors import DevicePhotos


@settings(max_examples=200, deadline=None)
@given(
    width=st.integers(1, 3000),
    height=st.integers(1, 3000),
    size=st.integers(32, 1024),
    overlap=st.floats(0.0, 0.9),
)
def test_tiles_cover_the_photo_within_it_and_overlap_as_asked(width, height, size, overlap):
    windows = slice_windows(width, height, size, overlap)
    if width <= size and height <= size:
        assert windows == []  # the whole-photo pass sees it all
        return
    covered = np.zeros((height, width), dtype=bool)
    for left, top, right, bottom in windows:
        assert 0 <= left < right <= width and 0 <= top < bottom <= height
        assert right - left == min(size, width) and bottom - top == min(size, height)
        covered[top:bottom, left:right] = True
    assert covered.all()
    # neighbours along a row overlap by at least the asked share of a tile (the last one by more)
    lefts = sorted({w[0] for w in windows})
    for first, second in zip(lefts, lefts[1:]):
        assert first + min(size, width) - second >= int(size * overlap) - 1


def _sahi_windows(width: int, height: int, size: int, overlap: float) -> list[tuple[int, ...]]:
    """SAHI's `get_slice_bboxes` layout, restated: rows and columns a tile minus the overlap's whole pixels
    apart, until one reaches the edge, the tile that passes it moved back to end there."""
    step = size - int(overlap * size)
    windows, top = [], 0
    while True:
        bottom = top + size
        left = 0
        while True:
            right = left + size
            end_x, end_y = min(right, width), min(bottom, height)
            windows.append((max(0, end_x - size), max(0, end_y - size), end_x, end_y))
            if right >= width:
                break
            left += step
        if bottom >= height:
            break
        top += step
    return windows


@settings(max_examples=300, deadline=None)
@given(width=st.integers(1, 3000), height=st.integers(1, 3000), size=st.integers(32, 1024), overlap=st.floats(0, 0.9))
def test_tiles_are_the_ones_sahi_lays_out(width, height, size, overlap):
    """The same windows as SAHI's slicing (which also tiles a photo no larger than a tile: one tile, the photo)."""
    ours = slice_windows(width, height, size, overlap)
    expected = _sahi_windows(width, height, size, overlap)
    assert ours == (expected if ours else []) and (ours or expected == [(0, 0, width, height)])


@settings(max_examples=100, deadline=None)
@given(
    boxes=st.lists(
        st.tuples(st.floats(0, 0.9), st.floats(0, 0.9), st.floats(0.01, 0.1), st.floats(0.01, 0.1), st.floats(0, 1)),
        max_size=25,
    ),
    labels=st.lists(st.sampled_from(["plastic", "glass"]), min_size=25, max_size=25),
)
def test_merging_leaves_no_label_lying_inside_its_own_kind_and_keeps_the_most_confident(boxes, labels):
    detections = Detections(
        np.array([[x, y, x + w, y + h] for x, y, w, h, _ in boxes]).reshape(-1, 4),
        np.array([score for *_, score in boxes]),
        labels[: len(boxes)],
    )
    kept = merged(detections, 0.5)
    for label in set(kept.labels):
        mine = [i for i, name in enumerate(kept.labels) if name == label]
        _, ios = box_overlaps(kept.boxes[mine])
        assert (ios[np.triu_indices(len(mine), 1)] <= 0.5).all()
        best = max(score for score, name in zip(detections.scores, detections.labels) if name == label)
        assert max(kept.scores[mine]) == best


class _RedSquares:
    """A detector that finds red squares as a model at a 64 px input would: the photo (or tile) resized so its
    longest side is 64, then each red blob of at least 3 x 3 pixels is one box."""

    name, class_names, forward_seconds, side = "squares", ["plastic"], 0.0, 64

    def __init__(self) -> None:
        self.calls: list[int] = []

    def predict(self, images):
        self.calls.append(len(images))
        return [self._found(np.asarray(image.convert("RGB"))) for image in images]

    def predict_tensors(self, photos):
        self.calls.append(len(photos.tensors))
        return [self._found(tensor.permute(1, 2, 0).numpy()) for tensor in photos.tensors]

    def _found(self, pixels) -> Detections:
        height, width = pixels.shape[:2]
        scale = self.side / max(width, height)
        small = Image.fromarray(pixels).resize((max(1, round(width * scale)), max(1, round(height * scale))))
        red = np.asarray(small).astype(int)
        mask = (red[..., 0] > 150) & (red[..., 1] < 100)
        regions, _ = ndimage.label(mask)
        boxes = [
            [
                s[1].start / mask.shape[1],
                s[0].start / mask.shape[0],
                s[1].stop / mask.shape[1],
                s[0].stop / mask.shape[0],
            ]
            for s in ndimage.find_objects(regions)
            if s[0].stop - s[0].start >= 3 and s[1].stop - s[1].start >= 3
        ]
        return Detections(np.array(boxes).reshape(-1, 4), np.full(len(boxes), 0.9), ["plastic"] * len(boxes))


def _field(squares: list[tuple[int, int]], side: int = 30) -> Image.Image:
    image = Image.new("RGB", (1200, 900), (90, 110, 80))
    draw = ImageDraw.Draw(image)
    for left, top in squares:
        draw.rectangle([left, top, left + side - 1, top + side - 1], fill=(220, 30, 30))
    return image


# on a tile edge, in two tiles' overlap, in four tiles' overlap, near a corner, in the open
SQUARES = [(250, 100), (420, 300), (415, 415), (1160, 860), (700, 600)]


@pytest.mark.parametrize("on_tensors", [False, True])
def test_small_objects_a_photo_hides_are_found_on_tiles_each_once_where_they_are(on_tensors):
    photo = _field(SQUARES)
    plain = _RedSquares()
    detector = SlicedDetector(_RedSquares(), size=256, overlap=0.2)
    if on_tensors:
        found = detector.predict_tensors(DevicePhotos.upload([photo, photo], "cpu"))
        alone = plain.predict_tensors(DevicePhotos.upload([photo], "cpu"))[0]
    else:
        found = detector.predict([photo, photo])
        alone = plain.predict([photo])[0]
    assert len(alone) == 0  # 30 px squares are 1.6 px at the model's input: the whole photo shows none
    truth = np.array([[x / 1200, y / 900, (x + 30) / 1200, (y + 30) / 900] for x, y in SQUARES])
    for result in found:
        assert len(result) == len(SQUARES)  # each once, though the overlaps showed several twice or four times
        iou, _ = box_overlaps(truth, result.boxes)
        assert (iou.max(axis=1) > 0.6).all()
    tiles = len(slice_windows(1200, 900, 256, 0.2))
    assert max(detector.detector.calls) <= 2 and sum(detector.detector.calls) == 2 + 2 * tiles  # batch-sized calls


def test_sliced_extraction_runs_on_both_paths_and_is_part_of_the_output_settings(tmp_path, tiny_demo, tiny_cv_models):
    records = {}
    for preprocess in ("library", "tensor"):
        output = tmp_path / f"{preprocess}.jsonl"
        models = cv_models_settings(tiny_cv_models, slice_size=160, batch_size=3)
        config = ExtractConfig(images=str(tiny_demo / "data.yaml"), output=str(output), preprocess=preprocess, **models)
        summary = run_extraction(config)
        assert summary["processed"] == 12 and summary["failed"] == 0, summary
        records[preprocess] = [json.loads(line) for line in output.read_text().splitlines()]
        manifest = json.loads(output.with_name(f"{preprocess}.manifest.json").read_text())
        assert manifest["slicing"] == {"size": 160, "overlap": 0.2}
    assert [r["image"] for r in records["library"]] == [r["image"] for r in records["tensor"]]
    # another tiling is another output: a resume with it is refused, naming the settings
    config = ExtractConfig(
        images=str(tiny_demo / "data.yaml"),
        output=str(tmp_path / "library.jsonl"),
        preprocess="library",
        **cv_models_settings(tiny_cv_models, slice_size=200, batch_size=3),
    )
    with pytest.raises(ValueError, match="slicing"):
        run_extraction(config)


@pytest.mark.parametrize("size, overlap", [(16, 0.2), (256, 1.0), (256, -0.1)])
def test_a_tiling_that_cannot_work_is_refused(size, overlap):
    with pytest.raises(ValueError, match="slice_"):
        ExtractConfig(images="photos", yolo_weights="best.pt", slice_size=size, slice_overlap=overlap)


def test_the_extraction_benchmark_says_it_times_whole_photos():
    from helpers.cv.bench import benchmark

    with pytest.raises(ValueError, match="slice_size 0"):
        benchmark(ExtractConfig(images="photos", yolo_weights="best.pt", slice_size=256))


def test_calibration_scores_the_detectors_on_tiles_as_extraction_runs_them(tiny_demo, tiny_cv_models, monkeypatch):
    from helpers.cv import calibrate
    from helpers.cv.calibrate import collect_detections
    from helpers.cv.detectors import UltralyticsDetector
    from helpers.cv.sources import open_image_source

    config = ExtractConfig(
        images=str(tiny_demo / "data.yaml"),
        yolo_weights=str(tiny_cv_models / "yolo_detector.pt"),
        device="cpu",
        imgsz=160,
        slice_size=160,
        preprocess="library",
    )
    monkeypatch.setattr(calibrate, "COLLECT_CONF", 0.0)  # the smoke detector's scores are all below 0.05
    per_model, _ = collect_detections(config)
    photos = [item.path for item in open_image_source(tiny_demo / "data.yaml").items if item.split == "val"]
    detector = UltralyticsDetector(config.yolo_weights, conf=0.0, imgsz=160, device="cpu")
    expected = SlicedDetector(detector, 160).predict([Image.open(path).convert("RGB") for path in photos])
    assert [d.labels for d in per_model["yolo"]] == [d.labels for d in expected] and len(expected[0]) > 0
    assert all(np.allclose(a.boxes, b.boxes) for a, b in zip(per_model["yolo"], expected))
    whole = collect_detections(ExtractConfig(**{**config.__dict__, "slice_size": 0}))[0]["yolo"]
    assert [len(d) for d in whole] != [len(d) for d in per_model["yolo"]]  # the tiles found more, or merged some
