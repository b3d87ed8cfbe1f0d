"""Extraction that feeds the models (issue 31): photos decoded ahead on threads, pre-processing as
tensors on the models' device (`preprocess: tensor`) against each library's own, and the records'
agreement measure that compares them."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from conftest import cv_models_settings
from PIL import Image
from ultralytics.data.augment import LetterBox

from helpers.cv.config import ExtractConfig
from helpers.cv.detectors import uses_half, uses_tensors
from helpers.cv.evaluation import record_agreement
from helpers.cv.extract import run_extraction
from helpers.cv.sources import open_image_source
from helpers.cv.tensors import DevicePhotos, letterbox


def _photo(width: int, height: int, seed: int) -> Image.Image:
    rng = np.random.default_rng(seed)
    coarse = Image.fromarray(rng.integers(0, 256, (max(height // 16, 1), max(width // 16, 1), 3), dtype=np.uint8))
    return coarse.resize((width, height), Image.Resampling.BICUBIC)


@pytest.mark.parametrize(
    "sizes", [[(384, 288)] * 3, [(1000, 750), (640, 480)], [(300, 500), (512, 512), (97, 1201)], [(640, 640)]]
)
def test_letterbox_on_tensors_is_ultralytics_letterbox_within_one_level(sizes):
    photos = [_photo(w, h, seed) for seed, (w, h) in enumerate(sizes)]
    batch, placements = letterbox(DevicePhotos.upload(photos, "cpu"), 320, 32)
    same_shapes = len(set(sizes)) == 1  # as Ultralytics' predictor: the minimum rectangle for one size
    for photo, tensor, placement in zip(photos, batch, placements):
        expected = LetterBox(320, auto=same_shapes, stride=32)(image=np.asarray(photo))
        ours = (tensor.permute(1, 2, 0).numpy() * 255).round().astype(int)
        assert ours.shape == expected.shape
        assert np.abs(ours - expected.astype(int)).max() <= 1
        # the photo's far corner lands where the resized photo ends inside the padding
        corner = placement.to_photo(np.array([[placement.left, placement.top, 0, 0]]))[0][:2]
        assert corner == pytest.approx([0, 0], abs=1e-6)
        far = np.array([[0, 0, photo.width * placement.scale_x + placement.left, 0]])
        assert placement.to_photo(far)[0][2] == pytest.approx(photo.width)


def test_stretched_input_maps_boxes_back_to_the_photo():
    photo = _photo(400, 300, 0)
    batch, (placement,) = letterbox(DevicePhotos.upload([photo], "cpu"), 256, 32, stretch=True)
    assert tuple(batch.shape) == (1, 3, 256, 256)
    box = placement.to_photo(np.array([[0, 0, 256, 256]]))[0]
    assert box == pytest.approx([0, 0, 400, 300])


def test_each_model_input_made_on_tensors_is_the_library_input_within_one_level(tiny_demo, tiny_cv_models):
    """The HF processor on uploaded tensors and the scene classifier's transforms on tensors give the
    input each library makes from the PIL photo (the detectors' letterbox: the tests above)."""
    from helpers.cv.detectors import HFDetector, SceneClassifier

    photos = [Image.open(path).convert("RGB") for path in sorted((tiny_demo / "train" / "images").glob("*.jpg"))]
    photos.append(photos[0].resize((1000, 750)))  # two sizes in one batch
    uploaded = DevicePhotos.upload(photos, "cpu")
    detector = HFDetector(tiny_cv_models / "rtdetr")
    assert detector.takes_tensors, "transformers 5's processor runs on the uploaded tensors"
    expected = detector.processor(images=photos, return_tensors="pt")["pixel_values"]
    assert torch.equal(detector.model_input(uploaded)["pixel_values"], expected)
    scene = SceneClassifier(tiny_cv_models / "scene_classifier.pt", imgsz=64)
    scene.predict(photos[:1])  # sets its predictor up
    predictor = scene.model.predictor
    expected = predictor.preprocess(predictor.pre_transform([np.asarray(p)[..., ::-1].copy() for p in photos]))
    ours = scene.model_input(uploaded)
    assert ours.shape == expected.shape
    assert (ours - expected).abs().max().item() * 255 <= 1.001  # torchvision's antialiased resize vs PIL's


def test_tensor_pipeline_writes_every_photo_and_is_part_of_the_output_settings(tmp_path, tiny_demo, tiny_cv_models):
    """The whole run on tensors, with the smoke models (they answer every photo alike, so their records
    match the library run's exactly; the demo models' agreement is measured: 99.5% of boxes at IoU >= 0.9
    on 96 photos, docs/measurements/bench_extract_tensor_demo_cpu.json)."""
    models = cv_models_settings(tiny_cv_models, imgsz=128, batch_size=5)
    output = tmp_path / "tensor.jsonl"
    config = ExtractConfig(images=str(tiny_demo / "data.yaml"), output=str(output), preprocess="tensor", **models)
    summary = run_extraction(config)
    assert summary["processed"] == 12 and summary["failed"] == 0
    records = [json.loads(line) for line in output.read_text().splitlines()]
    assert sorted(r["image"] for r in records) == sorted(i.key for i in open_image_source(config.images).items)
    manifest = json.loads(output.with_name("tensor.manifest.json").read_text())
    assert manifest["preprocess"] == "tensor"
    # a resume the other way is refused, naming the setting
    config = ExtractConfig(images=str(tiny_demo / "data.yaml"), output=str(output), preprocess="library", **models)
    with pytest.raises(ValueError, match="preprocess"):
        run_extraction(config)


def test_record_agreement_matches_by_label_and_overlap():
    def record(image, detections, scene="grass", confidence=0.9):
        return {"image": image, "detections": detections, "scene": {"class": scene, "confidence": confidence}}

    box = {"label": "plastic", "confidence": 0.8, "bbox": [0.1, 0.1, 0.5, 0.5]}
    nudged = {**box, "confidence": 0.75, "bbox": [0.1, 0.1, 0.5, 0.51]}
    moved = {**box, "bbox": [0.3, 0.3, 0.7, 0.7]}
    relabelled = {**box, "label": "metal"}
    same = record_agreement([record("a", [box])], [record("a", [nudged])])
    assert same["matched_share"] == 1.0 and same["largest_confidence_difference"] == pytest.approx(0.05)
    assert record_agreement([record("a", [box])], [record("a", [moved])])["matched"] == 0
    assert record_agreement([record("a", [box])], [record("a", [relabelled])])["matched"] == 0
    # one box matched once, however many twins it has; a photo in one side only is counted
    double = record_agreement([record("a", [box]), record("b", [])], [record("a", [box, box], scene="sand")])
    assert double["matched"] == 1 and double["matched_share"] == 0.5
    assert double["unpaired_photos"] == 1 and double["same_scene_share"] == 0.0
    assert record_agreement([record("a", [])], [record("a", [])])["matched_share"] is None  # nothing to compare


def test_auto_settings_follow_the_device():
    assert not uses_half("auto", "cpu") and uses_half("auto", "cuda:0") and not uses_half("fp32", "cuda:0")
    assert uses_tensors("auto", "cuda:0") and not uses_tensors("auto", "cpu") and uses_tensors("tensor", "cpu")
    with pytest.raises(ValueError, match="fp16 needs a GPU"):
        uses_half("fp16", "cpu")
    with pytest.raises(ValueError, match="precision must be one of"):
        ExtractConfig(images="x", yolo_weights="y.pt", precision="bf16")
    with pytest.raises(ValueError, match="loader_threads"):
        ExtractConfig(images="x", yolo_weights="y.pt", loader_threads=-1)


class _MeanDetector:
    """A stand-in detector whose one box scores each photo's mean brightness: a record carries its photo."""

    def __init__(self, name: str) -> None:
        self.name, self.input_side, self.forward_seconds = name, 0, 0.0

    def predict(self, images):
        from helpers.cv.detectors import Detections

        return [
            Detections([[0.1, 0.1, 0.6, 0.6]], [float(np.asarray(image).mean()) / 255], ["plastic"]) for image in images
        ]


def test_photos_decoded_ahead_on_threads_give_the_records_of_one_thread(tmp_path):
    """Many loader threads, two batches ahead, against one: the same records, each with its own photo."""
    folder = tmp_path / "photos"
    folder.mkdir()
    sizes = [(64 + 8 * i, 48 + 4 * (i % 5)) for i in range(23)]
    for index, (width, height) in enumerate(sizes):
        _photo(width, height, index).save(folder / f"p{index:02d}.jpg", quality=95)
    outputs = {}
    for threads in (1, 6):
        output = tmp_path / f"threads{threads}.jsonl"
        config = ExtractConfig(
            images=str(folder), output=str(output), yolo_weights="stand-in.pt", batch_size=4, loader_threads=threads
        )
        run_extraction(config, [_MeanDetector("yolo")], None)
        outputs[threads] = output.read_text()
    assert outputs[1] == outputs[6]
    for line in outputs[6].splitlines():
        record = json.loads(line)
        with Image.open(folder / record["image"]) as photo:
            assert (record["width"], record["height"]) == photo.size
            mean = float(np.asarray(photo.convert("RGB")).mean()) / 255
        assert record["model_detections"]["yolo"][0]["confidence"] == pytest.approx(mean, abs=1e-4)


def _write_photos(folder, count: int) -> None:
    folder.mkdir()
    for index in range(count):
        _photo(80 + 4 * index, 60, index).save(folder / f"p{index:02d}.jpg", quality=95)


def test_a_batch_is_fused_while_the_models_run_on_the_next(tmp_path, monkeypatch):
    """The local engine makes a batch's records on a thread while the models take the next batch:
    the first fusion waits until the second batch reaches the detector (a sequential run never gets there)."""
    import threading

    from helpers.cv import batch as batch_module

    second_batch_in_the_models = threading.Event()
    fusion_saw_it = []
    real_fuse = batch_module.fuse

    def fuse(*args, **kwargs):
        if not fusion_saw_it:
            fusion_saw_it.append(second_batch_in_the_models.wait(timeout=60))
        return real_fuse(*args, **kwargs)

    class SecondBatchSignals(_MeanDetector):
        def predict(self, images):
            self.calls = getattr(self, "calls", 0) + 1
            if self.calls == 2:
                second_batch_in_the_models.set()
            return super().predict(images)

    monkeypatch.setattr(batch_module, "fuse", fuse)
    _write_photos(tmp_path / "photos", 8)
    config = ExtractConfig(
        images=str(tmp_path / "photos"), output=str(tmp_path / "cv.jsonl"), yolo_weights="x.pt", batch_size=4
    )
    summary = run_extraction(config, [SecondBatchSignals("yolo")], None)
    assert fusion_saw_it == [True]
    assert summary["processed"] == 8 and len((tmp_path / "cv.jsonl").read_text().splitlines()) == 8


def test_a_batch_whose_records_fail_is_made_again_photo_by_photo(tmp_path, monkeypatch, caplog):
    from helpers.cv import batch as batch_module

    real_fuse = batch_module.fuse
    calls = []

    def fuse(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:  # the first batch's second photo, on the records thread
            raise RuntimeError("fusion broke")
        return real_fuse(*args, **kwargs)

    monkeypatch.setattr(batch_module, "fuse", fuse)
    _write_photos(tmp_path / "photos", 8)
    config = ExtractConfig(
        images=str(tmp_path / "photos"), output=str(tmp_path / "cv.jsonl"), yolo_weights="x.pt", batch_size=4
    )
    summary = run_extraction(config, [_MeanDetector("yolo")], None)
    assert summary["processed"] == 8 and summary["failed"] == 0, "every photo made again, alone"
    assert "running them one at a time" in caplog.text
    keys = sorted(json.loads(line)["image"] for line in (tmp_path / "cv.jsonl").read_text().splitlines())
    assert keys == [f"p{index:02d}.jpg" for index in range(8)]
