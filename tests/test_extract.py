"""01's engine: detector backends, fusion, label mapping, bad images, resume after a kill, shards."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections import Counter
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from conftest import cv_models_settings
from hypothesis import given, settings
from hypothesis import strategies as st
from torchvision.ops import nms

from helpers.core.contract import Policy
from helpers.core.io import iter_jsonl
from helpers.cv.detectors import Detections, HFDetector, SceneClassifier, UltralyticsDetector, normalise_label
from helpers.cv.evaluation import average_precision, detection_metrics, scene_metrics
from helpers.cv.extract import ExtractConfig, run_extraction
from helpers.cv.files import merge_shards, scan_keys
from helpers.cv.fusion import FusionSettings, align_scores, box_iou, fuse, one_label_per_object
from helpers.cv.sources import open_image_source, select


def _images(tiny_demo, count=3):
    from PIL import Image

    paths = sorted((tiny_demo / "train" / "images").glob("*.jpg"))[:count]
    return [Image.open(p).convert("RGB") for p in paths]


def _check_detections(result: Detections, names: set[str]):
    assert result.boxes.shape == (len(result), 4)
    assert ((result.boxes >= 0) & (result.boxes <= 1)).all(), "boxes are normalised to 0..1"
    assert (result.boxes[:, 2] >= result.boxes[:, 0]).all() and (result.boxes[:, 3] >= result.boxes[:, 1]).all()
    assert ((result.scores >= 0) & (result.scores <= 1)).all()
    assert set(result.labels) <= names


def test_ultralytics_backend_loads_a_saved_yolo_and_returns_normalised_boxes(tmp_path, tiny_demo):
    import torch
    from ultralytics import YOLO

    from helpers.demo.yolo import yolo_model_yaml

    spec = yaml.safe_load((tiny_demo / "data.yaml").read_text())
    weights = tmp_path / "yolo.pt"
    torch.manual_seed(0)
    model = YOLO(
        str(yolo_model_yaml(tmp_path, len(spec["names"]), 0.25, "detect"))
    )  # random init, the package's YOLOv8 layout
    model.model.names = {
        i: name.upper() for i, name in spec["names"].items()
    }  # names as a user's model might have them
    model.save(str(weights))
    detector = UltralyticsDetector(weights, conf=0.0, imgsz=160, device="cpu", label_map={"PLASTIC": "plastic"})
    results = detector.predict(_images(tiny_demo))
    assert len(results) == 3 and sum(len(r) for r in results) > 0, "an untrained model at conf 0 still proposes boxes"
    for result in results:
        # as given (issue 32): mapped where the map says, else the model's own names
        _check_detections(result, {"plastic"} | {name.upper() for name in spec["names"].values()} - {"PLASTIC"})
    assert detector.forward_seconds > 0


@pytest.mark.parametrize("task", ["segment", "obb"])
def test_segmentation_and_oriented_box_checkpoints_are_read_for_their_boxes(task, tmp_path, tiny_demo):
    """Litter models are often trained to segment (TACO) or, from drones, to find oriented boxes: their
    boxes are what Ultralytics' own results give (an oriented box's upright one), and extraction runs."""
    import numpy as np
    import torch
    from ultralytics import YOLO

    from helpers.demo.yolo import yolo_model_yaml

    torch.manual_seed(0)
    model = YOLO(str(yolo_model_yaml(tmp_path, 2, 0.25, task)))  # random init
    model.model.names = {0: "plastic", 1: "Glass Jar"}
    model.save(str(tmp_path / f"{task}.pt"))
    detector = UltralyticsDetector(tmp_path / f"{task}.pt", conf=0.0, imgsz=160, device="cpu")
    images = _images(tiny_demo)
    theirs = YOLO(str(tmp_path / f"{task}.pt")).predict(images, imgsz=160, conf=0.0, device="cpu", verbose=False)
    ours = detector.predict(images)
    assert sum(len(d) for d in ours) > 0, "an untrained model at conf 0 still proposes boxes"
    for mine, result, image in zip(ours, theirs, images, strict=True):
        boxes = result.boxes if task == "segment" else result.obb
        width, height = image.size
        assert np.allclose(mine.boxes, np.clip(boxes.xyxy.numpy() / [width, height, width, height], 0, 1), atol=1e-6)
        assert np.allclose(mine.scores, boxes.conf.numpy()) and set(mine.labels) <= {"plastic", "Glass Jar"}
    config = ExtractConfig(
        images=str(tiny_demo / "test" / "images"),
        output=str(tmp_path / "cv.jsonl"),
        yolo_weights=str(tmp_path / f"{task}.pt"),
        hf_model="",
        scene_weights="",
        imgsz=160,
        yolo_conf=0.0,
    )
    summary = run_extraction(config)
    assert summary["processed"] == 2 and summary["failed"] == 0, summary


def test_ultralytics_rtdetr_checkpoint_is_recognised_by_auto_kind(tmp_path, tiny_demo):
    import torch
    from ultralytics import RTDETR

    torch.manual_seed(0)
    RTDETR("rtdetr-l.yaml").save(str(tmp_path / "rtdetr.pt"))  # random init, the package's own layout
    detector = UltralyticsDetector(tmp_path / "rtdetr.pt", conf=0.0, imgsz=160, device="cpu")
    assert type(detector.model).__name__ == "RTDETR"
    results = detector.predict(_images(tiny_demo, 1))
    assert len(results[0]) > 0
    _check_detections(results[0], set(detector.class_names))


def test_hf_backend_loads_a_saved_rtdetr_with_a_separate_processor_folder(tmp_path, tiny_demo):
    import torch
    from transformers import RTDetrForObjectDetection, RTDetrImageProcessor

    from helpers.demo.rtdetr import small_rtdetr_config

    torch.manual_seed(0)
    names = ["Bottle", "glass", "metal"]
    RTDetrForObjectDetection(small_rtdetr_config(names)).save_pretrained(tmp_path / "model")
    RTDetrImageProcessor(size={"height": 128, "width": 128}).save_pretrained(tmp_path / "processor")
    detector = HFDetector(
        tmp_path / "model", tmp_path / "processor", conf=0.0, device="cpu", label_map={"bottle": "plastic"}
    )
    images = _images(tiny_demo)
    results = detector.predict(images)
    assert len(results) == 3 and all(len(r) > 0 for r in results)
    for result in results:
        _check_detections(result, {"plastic", "glass", "metal"})
    with pytest.raises(FileNotFoundError, match="missing_model"):
        HFDetector(tmp_path / "missing_model", device="cpu")


def test_scene_classifier_and_wrong_checkpoint_kinds(tiny_cv_models, tiny_demo):
    classifier = SceneClassifier(tiny_cv_models / "scene_classifier.pt", imgsz=64, device="cpu")
    scenes = classifier.predict(_images(tiny_demo, 2))
    assert [set(s) for s in scenes] == [{"class", "confidence"}] * 2
    assert all(s["class"] in {"grass", "sandy", "rocky", "marshy"} and 0 <= s["confidence"] <= 1 for s in scenes)
    with pytest.raises(ValueError, match="not a detector"):
        UltralyticsDetector(tiny_cv_models / "scene_classifier.pt", device="cpu")
    with pytest.raises(ValueError, match="not a classifier"):
        SceneClassifier(tiny_cv_models / "yolo_detector.pt", device="cpu")


def test_label_mapping_is_case_insensitive_and_writes_labels_as_given():
    mapping = {"Bottle ": "plastic", "CAN": "Metal"}
    assert normalise_label("bottle", mapping) == "plastic"
    assert normalise_label(" can", mapping) == "Metal"
    assert normalise_label("  Tire ", mapping) == "Tire", "as given, trimmed (issue 32)"


def test_wbf_fuses_overlapping_boxes_and_names_their_sources():
    yolo = Detections([[0.10, 0.10, 0.30, 0.30], [0.60, 0.60, 0.80, 0.80]], [0.9, 0.8], ["plastic", "glass"])
    hf = Detections([[0.12, 0.10, 0.32, 0.30], [0.10, 0.10, 0.30, 0.30]], [0.6, 0.7], ["plastic", "metal"])
    fused = fuse([yolo, hf], ["yolo", "hf"], [1.0, 1.0], FusionSettings(iou_thr=0.55, conf_type="max"))
    by_label = {f["label"]: f for f in fused}
    assert sorted(by_label) == ["glass", "metal", "plastic"], "class-aware: the metal box is not fused with plastic"
    # WBF's box: coordinates averaged with the scores as weights
    expected = (0.9 * np.array([0.10, 0.10, 0.30, 0.30]) + 0.6 * np.array([0.12, 0.10, 0.32, 0.30])) / 1.5
    assert np.allclose(by_label["plastic"]["bbox"], expected, atol=1e-5)
    assert by_label["plastic"]["sources"] == ["yolo", "hf"] and by_label["plastic"]["confidence"] == pytest.approx(0.9)
    assert by_label["glass"]["sources"] == ["yolo"] and by_label["glass"]["confidence"] == pytest.approx(0.8)
    voted = {f["label"]: f for f in fuse([yolo, hf], ["yolo", "hf"], [1.0, 1.0], FusionSettings(conf_type="avg"))}
    assert voted["glass"]["confidence"] == pytest.approx(0.4), "the avg trap: one of two models -> half the confidence"
    assert voted["plastic"]["confidence"] == pytest.approx(0.75)


def test_one_label_per_object_keeps_the_most_confident_of_boxes_of_other_classes_on_it():
    """One can that the YOLO calls metal and RT-DETR plastic is one object, not two; a glass jar
    elsewhere and a same-class neighbour far enough away stay."""
    yolo = Detections([[0.10, 0.10, 0.30, 0.30], [0.60, 0.60, 0.80, 0.80]], [0.9, 0.8], ["metal", "glass"])
    hf = Detections([[0.11, 0.10, 0.31, 0.31], [0.35, 0.10, 0.55, 0.30]], [0.7, 0.6], ["plastic", "metal"])
    both = fuse([yolo, hf], ["yolo", "hf"], [1.0, 1.0], FusionSettings(conf_type="max"))
    assert sorted(f["label"] for f in both) == ["glass", "metal", "metal", "plastic"], "off by default"
    one = fuse([yolo, hf], ["yolo", "hf"], [1.0, 1.0], FusionSettings(conf_type="max", agnostic_iou=0.5))
    assert [(f["label"], f["confidence"]) for f in one] == [("metal", 0.9), ("glass", 0.8), ("metal", 0.6)]
    assert one[0]["sources"] == ["yolo"], "the plastic box went to its own (dropped) cluster"
    alone = fuse([hf], ["hf"], [1.0], FusionSettings(agnostic_iou=0.5))
    assert [f["label"] for f in alone] == ["plastic", "metal"], "no overlap above 0.5: both kept"
    stacked = Detections([[0.1, 0.1, 0.3, 0.3], [0.1, 0.1, 0.3, 0.29]], [0.5, 0.55], ["paper", "organic"])
    assert [f["label"] for f in fuse([stacked], ["yolo"], [1.0], FusionSettings(agnostic_iou=0.5))] == ["organic"]
    with pytest.raises(ValueError, match="agnostic_iou"):
        FusionSettings(agnostic_iou=0.0)


@settings(max_examples=150, deadline=None)
@given(
    boxes=st.lists(
        st.tuples(
            st.floats(0.0, 0.8),
            st.floats(0.0, 0.8),
            st.floats(0.02, 0.2),
            st.floats(0.02, 0.2),
            st.sampled_from([0.9, 0.7, 0.5, 0.3]),
            st.sampled_from(["plastic", "glass", "metal"]),
        ),
        max_size=12,
    ),
    iou=st.floats(0.1, 1.0),
    ios=st.sampled_from([1.0, 0.9, 0.7, 0.3]),
)
def test_one_label_per_object_leaves_no_two_boxes_overlapping_more_than_the_limits(boxes, iou, ios):
    records = sorted(
        (
            {"label": lab, "confidence": c, "bbox": [x, y, x + w, y + h], "sources": [str(i)]}  # sources: an id here
            for i, (x, y, w, h, c, lab) in enumerate(boxes)
        ),
        key=lambda r: -r["confidence"],
    )
    kept = one_label_per_object(records, iou, ios)
    assert kept == [r for r in records if r in kept], "a subset, in the same (most confident first) order"
    if iou >= 1.0 and ios >= 1.0:
        assert kept == records
    if ios >= 1.0 and len(records) > 1:  # IoU alone: torchvision's NMS, ranks as scores (ties keep the order)
        ranks = torch.arange(len(records), 0, -1, dtype=torch.float64)
        boxes = torch.tensor([r["bbox"] for r in records], dtype=torch.float64)
        assert kept == [records[i] for i in sorted(nms(boxes, ranks, iou).tolist())]

    def inside(a: list[float], b: list[float]) -> float:  # intersection over the smaller box
        width, height = min(a[2], b[2]) - max(a[0], b[0]), min(a[3], b[3]) - max(a[1], b[1])
        smaller = min((a[2] - a[0]) * (a[3] - a[1]), (b[2] - b[0]) * (b[3] - b[1]))
        return max(width, 0) * max(height, 0) / smaller

    overlaps = box_iou([r["bbox"] for r in kept], [r["bbox"] for r in kept])
    assert np.all(overlaps[~np.eye(len(kept), dtype=bool)] <= iou + 1e-9)
    assert all(inside(a["bbox"], b["bbox"]) <= ios + 1e-9 for i, a in enumerate(kept) for b in kept[i + 1 :])
    for dropped in (r for r in records if r not in kept):  # each was hidden by a box at least as confident
        hiders = [
            k
            for k in kept
            if box_iou([dropped["bbox"]], [k["bbox"]])[0, 0] > iou or inside(dropped["bbox"], k["bbox"]) > ios
        ]
        assert hiders and max(k["confidence"] for k in hiders) >= dropped["confidence"]


def test_a_box_on_part_of_an_object_is_thinned_and_a_neighbour_kept():
    """Half a banana peel boxed inside the whole one overlaps it little by IoU (0.4) but lies wholly
    inside it: `agnostic_ios` drops it; a can lying partly over the peel (a third of it inside) stays."""
    peel = [0.10, 0.10, 0.50, 0.30]
    part, can = [0.10, 0.10, 0.26, 0.30], [0.45, 0.15, 0.60, 0.30]
    found = Detections([peel, part, can], [0.9, 0.7, 0.8], ["organic", "organic", "metal"])
    by_iou = fuse([found], ["yolo"], [1.0], FusionSettings(agnostic_iou=0.5))
    assert [f["label"] for f in by_iou] == ["organic", "metal", "organic"], "IoU 0.4: one label per object keeps it"
    both = fuse([found], ["yolo"], [1.0], FusionSettings(agnostic_iou=0.5, agnostic_ios=0.8))
    assert [(f["label"], f["bbox"]) for f in both] == [("organic", peel), ("metal", can)]
    with pytest.raises(ValueError, match="agnostic_ios"):
        FusionSettings(agnostic_ios=1.5)


@settings(max_examples=200, deadline=None)
@given(
    scores=st.lists(st.floats(0.0, 1.0), min_size=1, max_size=20),
    threshold=st.floats(0.0, 1.0),
    target=st.floats(0.01, 0.99),
)
def test_aligned_scores_put_the_detector_threshold_on_the_describer_threshold(scores, threshold, target):
    boxes = [[0.1, 0.1, 0.2, 0.2]] * len(scores)
    aligned = align_scores(Detections(boxes, scores, ["plastic"] * len(scores)), threshold, target).scores
    raw = np.array(scores)
    assert np.all((aligned >= target) == (raw >= threshold)), "kept by the detector <=> described"
    order = np.argsort(raw, kind="stable")
    assert np.all(np.diff(aligned[order]) >= -1e-12), "the detector's ranking is kept"
    assert np.all((aligned >= 0) & (aligned <= 1))
    assert np.allclose(align_scores(Detections(boxes, scores, ["plastic"] * len(scores)), target, target).scores, raw)


def test_aligned_scores_map_the_threshold_exactly_and_reject_a_bad_target():
    found = Detections([[0.1, 0.1, 0.2, 0.2]] * 4, [0.0, 0.2, 0.3, 1.0], ["plastic"] * 4)
    assert align_scores(found, 0.2, 0.5).scores.tolist() == pytest.approx([0.0, 0.5, 0.5625, 1.0])
    assert align_scores(found, 0.8, 0.5).scores.tolist() == pytest.approx([0.0, 0.125, 0.1875, 1.0])
    with pytest.raises(ValueError, match="target"):
        align_scores(found, 0.2, 1.0)


def test_single_detector_passes_through_and_bad_fusion_input_raises_instead_of_exiting():
    alone = Detections([[0.1, 0.1, 0.3, 0.3], [0.12, 0.1, 0.32, 0.3]], [0.6, 0.9], ["plastic", "plastic"])
    fused = fuse([alone], ["yolo"], [1.0])
    assert [f["confidence"] for f in fused] == [0.9, 0.6], "overlapping boxes of one model are not merged"
    assert all(f["sources"] == ["yolo"] for f in fused)
    with pytest.raises(ValueError, match="2 names and 1 weights"):
        fuse([alone, alone], ["a", "b"], [1.0])
    with pytest.raises(ValueError, match="conf_type"):
        FusionSettings(conf_type="mean")
    outside = Detections([[10, 10, 30, 30]], [0.9], ["plastic"])
    with pytest.raises(ValueError, match="outside 0..1"):
        fuse([outside, alone], ["a", "b"], [1.0, 1.0])


def test_detection_and_scene_metrics_on_hand_made_cases():
    truth = [[{"label": "plastic", "bbox": [0.1, 0.1, 0.3, 0.3]}, {"label": "glass", "bbox": [0.5, 0.5, 0.7, 0.7]}]]
    perfect = [
        [
            {"label": "plastic", "confidence": 0.9, "bbox": [0.1, 0.1, 0.3, 0.3]},
            {"label": "glass", "confidence": 0.8, "bbox": [0.5, 0.5, 0.7, 0.7]},
        ]
    ]
    assert detection_metrics(perfect, truth)["map50"] == pytest.approx(1.0)
    shifted = [
        [
            {"label": "plastic", "confidence": 0.9, "bbox": [0.2, 0.2, 0.4, 0.4]},
            {"label": "metal", "confidence": 0.8, "bbox": [0.5, 0.5, 0.7, 0.7]},
        ]
    ]
    result = detection_metrics(shifted, truth)
    assert result["map50"] == 0.0 and result["precision"] == 0.0 and result["recall"] == 0.0
    # a false positive ranked above the true one halves precision at full recall
    assert average_precision(np.array([0.9, 0.8]), np.array([False, True]), 1) == pytest.approx(0.5)
    scenes = scene_metrics(["grass", "sandy", "grass"], ["grass", "grass", "grass"])
    assert scenes["accuracy"] == pytest.approx(2 / 3) and scenes["confusion"] == [[2, 1], [0, 0]]


def _folder_with_bad_images(tiny_demo, tmp_path, count=6):
    folder = tmp_path / "photos"
    (folder / "sub").mkdir(parents=True)
    for index, path in enumerate(sorted((tiny_demo / "train" / "images").glob("*.jpg"))[:count]):
        shutil.copy(path, folder / ("sub" if index % 2 else ".") / path.name)
    (folder / "empty.jpg").write_bytes(b"")
    good = next(folder.glob("*.jpg")).read_bytes()
    (folder / "truncated.png").write_bytes(good[: len(good) // 3])  # wrong suffix and cut short
    (folder / "notes.txt").write_text("not an image")
    return folder


def test_corrupt_and_empty_images_are_reported_and_the_rest_succeed(tmp_path, tiny_demo, tiny_cv_models):
    folder = _folder_with_bad_images(tiny_demo, tmp_path)
    config = ExtractConfig(images=str(folder), output=str(tmp_path / "cv.jsonl"), **cv_models_settings(tiny_cv_models))
    run = run_extraction(config)
    records = [line.record for line in iter_jsonl(tmp_path / "cv.jsonl")]
    errors = [line.record for line in iter_jsonl(tmp_path / "cv.errors.jsonl")]
    assert run["processed"] == 6 and run["failed"] == 2
    assert sorted(e["image"] for e in errors) == ["empty.jpg", "truncated.png"] and all(e["error"] for e in errors)
    assert any(r["image"].startswith("sub/") for r in records), "folders are searched recursively; keys are relative"
    for record in records:
        assert record["width"] == 384 and record["height"] == 288 and record["split"] is None
        assert set(record["scene"]) == {"class", "confidence"}
        assert set(record["model_detections"]) == {"yolo", "hf"}
        # every box a detector kept (at 0.01 or 0.3) is on the describer's scale: at or above its 0.5
        kept = [d["confidence"] for boxes in record["model_detections"].values() for d in boxes]
        assert all(confidence >= Policy().min_confidence for confidence in kept)
        for detection in record["detections"]:
            assert 0 <= min(detection["bbox"]) and max(detection["bbox"]) <= 1
            assert detection["sources"] and set(detection["sources"]) <= {"yolo", "hf"}
    manifest = json.loads((tmp_path / "cv.manifest.json").read_text())
    calibrated = json.loads((tiny_cv_models / "ensemble.json").read_text())  # the demo build calibrates the ensemble
    assert [d["name"] for d in manifest["detectors"]] == ["yolo", "hf"]
    assert manifest["fusion"]["conf_type"] == calibrated["conf_type"]
    assert [d["conf"] for d in manifest["detectors"]] == [0.01, 0.3]  # given parameters win over the file
    assert manifest["scores_aligned_to"] == Policy().min_confidence
    assert any(boxes for record in records for boxes in record["model_detections"].values()), "the check saw boxes"
    # the images are fixed: a rerun retries only the failed ones, and their errors are not duplicated
    (folder / "empty.jpg").unlink()
    again = run_extraction(config)
    assert again["already_done"] == 6 and again["processed"] == 0 and again["failed"] == 1
    assert [e["image"] for e in iter_jsonl_records(tmp_path / "cv.errors.jsonl")] == ["truncated.png"]
    with pytest.raises(ValueError, match=r"other models or settings \(fusion.iou_thr: 0.55 -> 0.7\)"):
        run_extraction(ExtractConfig(**{**config.__dict__, "iou_thr": 0.7}))
    restarted = run_extraction(ExtractConfig(**{**config.__dict__, "iou_thr": 0.7, "restart_on_change": True}))
    assert restarted["already_done"] == 0 and restarted["processed"] == 6, "make demo's rebuilt models start over"
    assert json.loads((tmp_path / "cv.manifest.json").read_text())["fusion"]["iou_thr"] == 0.7
    (tmp_path / "cv.manifest.json").unlink()  # issue 15, item 11: then nobody knows what made the records
    with pytest.raises(ValueError, match="manifest .* is missing"):
        run_extraction(ExtractConfig(**{**config.__dict__, "yolo_conf": 0.3}))
    assert len(list(iter_jsonl(tmp_path / "cv.jsonl"))) == 6, "the old records are untouched"


def iter_jsonl_records(path):
    return [line.record for line in iter_jsonl(path)]


def test_a_run_killed_part_way_and_rerun_yields_every_image_once(tmp_path, tiny_demo, tiny_cv_models, kill_part_way):
    output = tmp_path / "cv.jsonl"
    params = tmp_path / "params.yaml"
    params.write_text(
        yaml.safe_dump(
            {
                "images": str(tiny_demo / "data.yaml"),
                "output": str(output),
                **cv_models_settings(tiny_cv_models, batch_size=1),
            }
        )
    )
    command = [sys.executable, "-m", "helpers", "extract", "--params", str(params)]
    partial = tmp_path / ".cv.jsonl.partial"  # work in progress; the output appears when complete (issue 35)
    written = kill_part_way(command, partial)
    assert 3 <= written < 12, f"the kill should land part-way ({written} of 12 written)"
    assert not output.exists(), "a killed run leaves no output under its final name"
    with open(partial, "ab") as handle:  # as if the kill had landed mid-line
        handle.write(b'{"image": "valid/images/valid_0')
    done, repaired = scan_keys(partial)
    assert repaired and len(done) == written
    subprocess.run(command, check=True, capture_output=True, timeout=300)
    keys = [r["image"] for r in iter_jsonl_records(output)]
    expected = [item.key for item in open_image_source(tiny_demo / "data.yaml").items]
    assert Counter(keys) == Counter(expected), "every image exactly once"
    assert not partial.exists() and json.loads((tmp_path / "cv.manifest.json").read_text())["complete"]


def test_shards_cover_the_images_exactly_once_and_merge_refuses_overlaps(tmp_path, tiny_demo):
    items = open_image_source(tiny_demo / "data.yaml").items
    shards = [select(items, num_shards=3, shard_index=i) for i in range(3)]
    assert sorted(i.key for shard in shards for i in shard) == sorted(i.key for i in items)
    assert select(items, num_shards=3, shard_index=1) == shards[1], "deterministic"
    with pytest.raises(ValueError, match="shard_index"):
        select(items, num_shards=3, shard_index=3)
    outputs = []
    for index in range(3):
        run = run_extraction(
            ExtractConfig(
                images=str(tiny_demo / "data.yaml"),
                output=str(tmp_path / "cv.jsonl"),
                detections_from="labels",
                num_shards=3,
                shard_index=index,
            )
        )
        outputs.append(run["output"])
    assert [os.path.basename(o) for o in outputs] == [
        "cv.shard-0of3.jsonl",
        "cv.shard-1of3.jsonl",
        "cv.shard-2of3.jsonl",
    ]
    merged = merge_shards(outputs, tmp_path / "cv.jsonl")
    keys = [r["image"] for r in iter_jsonl_records(tmp_path / "cv.jsonl")]
    assert merged["records"] == len(items) and keys == sorted(i.key for i in items), "each once, sorted"
    by_key = {r["image"]: r for output in outputs for r in iter_jsonl_records(output)}
    assert list(iter_jsonl_records(tmp_path / "cv.jsonl")) == [by_key[key] for key in keys], "records as written"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".merge-")] == [], "the sort's scratch removed"
    with pytest.raises(ValueError, match="once each"):
        merge_shards([outputs[0], outputs[0], outputs[1]], tmp_path / "twice.jsonl")
    # Issue 35, item 5: an incomplete set was merged (23 of 40 records, exit 0)
    with pytest.raises(ValueError, match=r"shards \[0\] of 3 given: every shard of one run is needed"):
        merge_shards([outputs[0]], tmp_path / "only0.jsonl")
    # Issue 35, item 3: a merge whose output is one of its shards overwrote it
    before = Path(outputs[1]).read_bytes()
    with pytest.raises(ValueError, match="input file"):
        merge_shards(outputs, outputs[1])
    assert Path(outputs[1]).read_bytes() == before and not (tmp_path / "only0.jsonl").exists()
    with open(outputs[0], "a") as shard:  # an image of shard 1 also in shard 0
        shard.write(before.split(b"\n")[0].decode() + "\n")
    with pytest.raises(ValueError, match="are in"):
        merge_shards(outputs, tmp_path / "overlap.jsonl")
    assert not (tmp_path / "overlap.jsonl").exists()


def test_image_list_file_and_missing_inputs(tmp_path, tiny_demo):
    listing = tmp_path / "list.txt"
    paths = sorted((tiny_demo / "test" / "images").glob("*.jpg"))
    listing.write_text(f"# field photos\n{paths[0]}\n{paths[1]}\n{paths[0]}\n")
    source = open_image_source(listing)
    assert source.kind == "list" and [i.path for i in source.items] == paths[:2], "duplicates listed once"
    with pytest.raises(FileNotFoundError, match="nowhere"):
        open_image_source(tmp_path / "nowhere")
    with pytest.raises(ValueError, match="no detector"):
        ExtractConfig(images=str(listing), yolo_weights="", hf_model="")
    with pytest.raises(TypeError, match="images"):
        ExtractConfig(yolo_weights="best.pt")  # no photos named: a command says "--images is required"


def test_01_runs_through_papermill_on_a_few_demo_images(tmp_path, tiny_demo, tiny_cv_models, papermill_run):
    output = tmp_path / "cv.jsonl"
    parameters = {
        "images": tiny_demo / "data.yaml",
        "output": output,
        "max_images": 5,
        "sample_images": 2,
        **cv_models_settings(tiny_cv_models),
    }
    papermill_run("01_cv_extract", tmp_path / "01.ipynb", parameters, timeout=300)
    metrics = json.loads((tmp_path / "cv.metrics.json").read_text())
    assert metrics["images"] == 5 and metrics["failed"] == 0 and metrics["detections_from"] == "models"
    assert list(metrics["detectors"]) == ["train"], "per split (issue 32): the first five photos are train photos"
    assert set(metrics["detectors"]["train"]) == {"yolo", "hf", "fused"}
    assert set(metrics["conf_types"]["train"]) == {"avg", "max", "box_and_model_avg", "absent_model_aware_avg"}
    scenes = open_image_source(tiny_demo / "data.yaml").scenes
    records = [json.loads(line) for line in output.read_text().splitlines()]
    right = [r["scene"]["class"] == scenes[r["image"]] for r in records]
    assert metrics["scene_accuracy"]["train"] == pytest.approx(sum(right) / len(right))
    assert metrics["images_per_second"] > 0


def test_benchmark_command_runs_both_ways_on_the_same_images(tmp_path, tiny_demo, tiny_cv_models):
    from helpers.cv.bench import benchmark

    config = ExtractConfig(
        images=str(tiny_demo / "data.yaml"),
        output=str(tmp_path / "unused.jsonl"),
        max_images=4,
        **cv_models_settings(tiny_cv_models),
    )
    result = benchmark(config, repeats=1)
    assert result["images"] == 4
    assert result["models_alone_images_per_second"] > 0 and result["extraction_images_per_second"] > 0
    assert result["overhead"] == pytest.approx(
        result["models_alone_images_per_second"] / result["extraction_images_per_second"] - 1
    )


def test_a_benchmark_whose_photos_fail_is_refused_naming_the_first_error(tiny_demo, tiny_cv_models, monkeypatch):
    """A package missing where the benchmark runs (WBF's ensemble_boxes, whose import needs numba) fails every
    photo at fusion: a speed of photos that failed measures nothing, so the benchmark stops, saying why."""
    import sys

    from helpers.cv.bench import benchmark

    config = ExtractConfig(
        images=str(tiny_demo / "data.yaml"), output="", max_images=2, **cv_models_settings(tiny_cv_models)
    )
    monkeypatch.setitem(sys.modules, "ensemble_boxes", None)  # `import ensemble_boxes` raises ImportError
    with pytest.raises(RuntimeError, match=r"2 of 2 photos failed in the library pipeline.*ensemble_boxes"):
        benchmark(config, repeats=1)


def test_average_precision_agrees_with_ultralytics_within_the_measured_gap():
    """Same detections, two implementations: COCO's step rule here, Ultralytics' trapezoid (max gap measured 0.015)."""
    from ultralytics.utils.metrics import compute_ap

    rng = np.random.default_rng(1)
    gaps = []
    for _ in range(300):
        count, positives = int(rng.integers(1, 60)), int(rng.integers(1, 40))
        confidences, hits = rng.random(count), rng.random(count) < rng.random()
        hits[np.cumsum(hits) > positives] = False
        order = np.argsort(-confidences, kind="stable")
        found = np.cumsum(hits[order])
        theirs = compute_ap(found / positives, found / np.arange(1, count + 1))[0]
        gaps.append(abs(average_precision(confidences, hits.astype(float), positives) - theirs))
    assert max(gaps) < 0.02 and np.mean(gaps) < 0.005
    perfect = average_precision(np.array([0.9, 0.8]), np.array([1.0, 1.0]), 2)
    assert perfect == pytest.approx(1.0), "a perfect detector scores 1 (Ultralytics: 0.995, its trapezoid)"


def test_images_of_every_mode_decode_to_their_real_content(tmp_path):
    """Issue 15, item 5: a 16-bit PNG became all white; alpha, palette and CMYK must decode too."""
    from PIL import Image

    from helpers.cv.sources import ImageItem, load_image

    ramp = np.linspace(0, 65535, 64 * 48).reshape(48, 64).astype(np.uint16)
    Image.fromarray(ramp).save(tmp_path / "deep.png")
    Image.new("RGBA", (8, 8), (255, 0, 0, 0)).save(tmp_path / "clear.png")
    Image.new("CMYK", (8, 8), (0, 255, 255, 0)).save(tmp_path / "cmyk.jpg")
    Image.new("P", (8, 8), 0).save(tmp_path / "palette.png")

    def pixels(name):
        return np.asarray(load_image(ImageItem(tmp_path, name, None)), dtype=float)

    deep = pixels("deep.png")
    assert Image.open(tmp_path / "deep.png").mode == "I;16" and deep.shape == (48, 64, 3)
    assert deep.min() == 0 and deep.max() == 255 and 120 < deep.mean() < 135, "scaled from 16 bits, not clipped"
    assert (pixels("clear.png") == 128).all(), "fully transparent pixels lie on grey, not on their hidden colour"
    assert pixels("cmyk.jpg")[..., 0].mean() > 200 and pixels("cmyk.jpg")[..., 1:].mean() < 60, "CMYK red is red"
    assert pixels("palette.png").shape == (8, 8, 3)


def test_every_listed_path_reaches_the_output_or_the_errors(tmp_path, tiny_demo, tiny_cv_models):
    """Issue 15, items 7 and 12: links to nothing or to themselves, empty and text files are errors, named."""
    folder = tmp_path / "photos"
    folder.mkdir()
    shutil.copy(next((tiny_demo / "train" / "images").glob("*.jpg")), folder / "good.jpg")
    (folder / "dangling.jpg").symlink_to(folder / "gone.jpg")
    (folder / "loop.jpg").symlink_to(folder / "loop.jpg")
    (folder / "empty.jpg").write_bytes(b"")
    (folder / "text.jpg").write_text("not an image")
    config = ExtractConfig(images=str(folder), output=str(tmp_path / "cv.jsonl"), **cv_models_settings(tiny_cv_models))
    run_extraction(config)
    done = [r["image"] for r in iter_jsonl_records(tmp_path / "cv.jsonl")]
    errors = {e["image"]: e["error"] for e in iter_jsonl_records(tmp_path / "cv.errors.jsonl")}
    assert done == ["good.jpg"] and sorted(errors) == ["dangling.jpg", "empty.jpg", "loop.jpg", "text.jpg"]
    assert (
        "link" in errors["dangling.jpg"]
        and "empty file" in errors["empty.jpg"]
        and "not an image" in errors["text.jpg"]
    )

    # an output that is one of the listed photos is refused before anything is written (found by its name)
    photo = folder / "sub" / "kept.jpg"
    photo.parent.mkdir()
    shutil.copy(folder / "good.jpg", photo)
    with pytest.raises(ValueError, match=r"kept\.jpg is an input file of this command"):
        run_extraction(replace(config, output=str(photo)))
    assert (
        photo.read_bytes() == (folder / "good.jpg").read_bytes() and not (folder / "sub" / "kept.errors.jsonl").exists()
    )


def test_01_reports_each_conf_type_with_the_one_label_per_object_setting_it_ran(tiny_demo):
    """The conf_type comparison varies conf_type only: its row for the conf_type 01 used is 01's output."""
    from helpers.cv.report import evaluate_against_truth

    source = open_image_source(tiny_demo / "data.yaml")
    item = next(i for i in source.items if i.split == "test")
    truth = [{"label": n, "bbox": b} for n, b in source.truth_boxes(item)]
    box = truth[0]["bbox"] if truth else [0.1, 0.1, 0.3, 0.3]
    yolo = Detections([box], [0.9], ["plastic"])
    hf = Detections([box], [0.8], ["metal"])  # the same object under another label
    settings = FusionSettings(conf_type="max", agnostic_iou=0.5)
    record = {
        "image": item.key,
        "scene": {"class": "grass", "confidence": 1.0},
        "detections": fuse([yolo, hf], ["yolo", "hf"], [1.0, 1.0], settings),
        "model_detections": {"yolo": yolo.as_records(), "hf": hf.as_records()},
    }
    found = evaluate_against_truth(tiny_demo / "data.yaml", [record], {"yolo": 1.0, "hf": 1.0}, settings)
    assert found["conf_types"].loc["max", "kept_at_0.5"] == len(record["detections"]) == 1
    assert found["detectors"].loc["fused", "detections"] == 1


def test_the_reports_summary_reads_the_output_once_and_holds_a_sample(tmp_path):
    """01's tables and figures come from one pass over the output (a 10^7-photo run is not loaded):
    the counts all records give, and a seeded sample of `sample_size` records."""
    import random

    import numpy as np

    from helpers.cv.report import CONFIDENCE_BINS, first_errors, summarize_output
    from helpers.text.synthetic import random_cv

    rng = random.Random(4)
    scene = {"class": "grass", "confidence": 0.9}  # as 01 writes every record: with its scene
    records = [
        {"image": f"p{i}.jpg", "split": ["train", "val"][i % 2], "scene": scene, **random_cv(rng)} for i in range(300)
    ]
    (tmp_path / "cv.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records) + "{broken\n")
    summary = summarize_output(tmp_path / "cv.jsonl", sample_size=6, seed=1)
    labels = Counter(d["label"] for r in records for d in r["detections"])
    assert summary.overview["per_class"] == dict(labels) and summary.overview["images"] == 300
    assert summary.overview["per_scene"] == dict(Counter(r["scene"]["class"] for r in records))
    assert summary.overview["per_split"] == {"train": 150, "val": 150}
    assert summary.detections_per_image == Counter(len(r["detections"]) for r in records)
    confidences = [d["confidence"] for r in records for d in r["detections"]]
    assert np.abs(summary.confidence_counts - np.histogram(confidences, CONFIDENCE_BINS)[0]).sum() <= 2, "edges"
    assert summary.confidence_counts.sum() == len(confidences)
    images = [r["image"] for r in summary.sample]
    assert len(images) == 6 and images == sorted(images, key=lambda k: int(k[1:-4])), "in file order"
    assert images == [r["image"] for r in summarize_output(tmp_path / "cv.jsonl", 6, seed=1).sample]
    errors = [{"image": f"e{i}.jpg", "error": "not an image file"} for i in range(25)]
    (tmp_path / "cv.errors.jsonl").write_text("".join(json.dumps(e) + "\n" for e in errors))
    assert first_errors(tmp_path / "cv.errors.jsonl", 20) == (25, errors[:20])
    assert first_errors(tmp_path / "none.errors.jsonl") == (0, [])
