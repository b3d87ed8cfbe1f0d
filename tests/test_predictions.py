"""Existing predictions in (issue 32, item 5): Ultralytics save_txt labels and COCO detection results
of the demo detector give the records that running the detector gives."""

from __future__ import annotations

import json
import shutil

import pytest

from helpers.cv.config import ExtractConfig
from helpers.cv.detectors import UltralyticsDetector
from helpers.cv.extract import run_extraction
from helpers.cv.predictions import from_ultralytics
from helpers.cv.sources import load_image, open_image_source

CONF = 0.001  # low: the smoke-built detector scores its boxes that low


def _records(config: ExtractConfig) -> list[dict]:
    run = run_extraction(config)
    return [json.loads(line) for line in open(run["output"], encoding="utf-8")]


def _same(ran: list[dict], read: list[dict]) -> None:
    assert [r["image"] for r in ran] == [r["image"] for r in read]
    assert sum(len(r["detections"]) for r in ran) > 0, "something to compare"
    for a, b in zip(ran, read, strict=True):
        assert [d["label"] for d in a["detections"]] == [d["label"] for d in b["detections"]], a["image"]
        for x, y in zip(a["detections"], b["detections"], strict=True):
            assert abs(x["confidence"] - y["confidence"]) < 2e-3
            assert all(abs(u - v) < 1e-4 for u, v in zip(x["bbox"], y["bbox"], strict=True))


@pytest.fixture
def photos(tiny_demo, tmp_path):
    folder = tmp_path / "dataset"
    shutil.copytree(tiny_demo, folder)
    return folder


def _config(images, output, **detector) -> ExtractConfig:
    return ExtractConfig(
        images=str(images), output=str(output), yolo_conf=CONF, draft_decode=False, device="cpu", **detector
    )


def test_save_txt_labels_give_the_records_running_the_detector_gives(tiny_cv_models, photos, tmp_path):
    from ultralytics import YOLO

    weights = tiny_cv_models / "yolo_detector.pt"
    YOLO(str(weights)).predict(
        str(photos / "train/images"),
        conf=CONF,
        save_txt=True,
        save_conf=True,
        project=str(tmp_path / "runs"),
        name="predict",
        device="cpu",
        verbose=False,
    )
    labels = tmp_path / "runs/predict/labels"
    assert any(labels.glob("*.txt"))
    images = photos / "train/images"
    ran = _records(_config(images, tmp_path / "ran.jsonl", yolo_weights=str(weights)))
    read = _records(_config(images, tmp_path / "read.jsonl", yolo_predictions=str(labels), yolo_weights=str(weights)))
    _same(ran, read)

    names = ",".join(YOLO(str(weights)).names.values())  # the same without the weights: names given
    _same(
        ran, _records(_config(images, tmp_path / "named.jsonl", yolo_predictions=str(labels), prediction_names=names))
    )

    first = sorted(labels.glob("*.txt"))[0]
    first.write_text(first.read_text() + "0 0.5 0.5 0.1 0.1\n")  # save_conf forgotten on one line
    run = run_extraction(_config(images, tmp_path / "bad.jsonl", yolo_predictions=str(labels), prediction_names=names))
    errors = [json.loads(line) for line in open(run["errors_output"], encoding="utf-8")]
    assert len(errors) == 1 and "save_conf=True" in errors[0]["error"] and run["processed"] == len(ran) - 1


def test_coco_results_give_the_records_running_the_detector_gives(tiny_cv_models, photos, tmp_path):
    from PIL import Image

    source = open_image_source(photos / "data.yaml")
    categories = [{"id": 1 + i, "name": name} for i, name in enumerate(source.class_names)]
    images, results = [], []
    detector = UltralyticsDetector(tiny_cv_models / "yolo_detector.pt", conf=CONF, device="cpu")
    for number, item in enumerate(source.items, start=1):
        with Image.open(item.path) as photo:
            width, height = photo.size
        images.append({"id": number, "file_name": item.key, "width": width, "height": height})
        found = detector.predict([load_image(item)])[0]
        for (x1, y1, x2, y2), score, label in zip(found.boxes, found.scores, found.labels, strict=True):
            box = [x1 * width, y1 * height, (x2 - x1) * width, (y2 - y1) * height]
            category = source.class_names.index(label) + 1
            results.append({"image_id": number, "category_id": category, "bbox": box, "score": float(score)})
    (photos / "instances.json").write_text(json.dumps({"images": images, "annotations": [], "categories": categories}))
    (tmp_path / "results.json").write_text(json.dumps(results))
    instances = photos / "instances.json"
    ran = _records(_config(instances, tmp_path / "ran.jsonl", yolo_weights=str(tiny_cv_models / "yolo_detector.pt")))
    read = _records(_config(instances, tmp_path / "read.jsonl", yolo_predictions=str(tmp_path / "results.json")))
    _same(ran, read)
    with pytest.raises(ValueError, match="give the COCO instances file as images"):
        run_extraction(
            _config(photos / "data.yaml", tmp_path / "x.jsonl", yolo_predictions=str(tmp_path / "results.json"))
        )


def test_ultralytics_results_from_python_are_the_detectors_detections(tiny_cv_models, photos):
    from ultralytics import YOLO

    item = open_image_source(photos / "data.yaml").items[0]
    result = YOLO(str(tiny_cv_models / "yolo_detector.pt")).predict(load_image(item), conf=CONF, verbose=False)[0]
    converted = from_ultralytics(result)
    direct = UltralyticsDetector(tiny_cv_models / "yolo_detector.pt", conf=CONF, device="cpu").predict(
        [load_image(item)]
    )[0]
    assert converted.labels == direct.labels and abs(converted.boxes - direct.boxes).max(initial=0) < 1e-6


def test_supervision_detections_from_python_are_the_detectors_detections(tiny_cv_models, photos):
    import supervision as sv
    from ultralytics import YOLO

    from helpers.cv.predictions import from_supervision

    item = open_image_source(photos / "data.yaml").items[0]
    image = load_image(item)
    result = YOLO(str(tiny_cv_models / "yolo_detector.pt")).predict(image, conf=CONF, verbose=False)[0]
    converted = from_supervision(sv.Detections.from_ultralytics(result), image.size)
    direct = UltralyticsDetector(tiny_cv_models / "yolo_detector.pt", conf=CONF, device="cpu").predict([image])[0]
    assert len(direct) > 0 and converted.labels == direct.labels
    assert abs(converted.boxes - direct.boxes).max() < 1e-6 and abs(converted.scores - direct.scores).max() < 1e-6
    names = YOLO(str(tiny_cv_models / "yolo_detector.pt")).names
    bare = sv.Detections(
        xyxy=result.boxes.xyxy.numpy(),
        confidence=result.boxes.conf.numpy(),
        class_id=result.boxes.cls.numpy().astype(int),
    )
    assert from_supervision(bare, image.size, names).labels == direct.labels, "class names from `names`"
