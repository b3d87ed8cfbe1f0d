"""COCO ground truth (issue 32, item 3): a COCO instances JSON is accepted wherever a YOLO data.yaml
is, read with pycocotools, and gives the same truth as the YOLO layout of the same labels."""

from __future__ import annotations

import json
import shutil

import pytest
from PIL import Image

from helpers.cv.config import ExtractConfig
from helpers.cv.extract import run_extraction
from helpers.cv.sources import open_image_source


def _coco_of(data_yaml, names_as=lambda name: name) -> dict:
    """The YOLO dataset's labels as a COCO instances file (pixel boxes), beside its data.yaml."""
    source = open_image_source(data_yaml)
    categories = [{"id": 10 + i, "name": names_as(name)} for i, name in enumerate(source.class_names)]
    ids = {name: 10 + i for i, name in enumerate(source.class_names)}
    images, annotations = [], []
    for number, item in enumerate(source.items, start=1):
        with Image.open(item.path) as photo:
            width, height = photo.size
        images.append({"id": number, "file_name": item.key, "width": width, "height": height})
        for name, (x1, y1, x2, y2) in source.truth_boxes(item):
            box = [x1 * width, y1 * height, (x2 - x1) * width, (y2 - y1) * height]
            annotations.append(
                {
                    "id": len(annotations) + 1,
                    "image_id": number,
                    "category_id": ids[name],
                    "bbox": box,
                    "area": box[2] * box[3],
                    "iscrowd": 0,
                }
            )
    annotations.append({"id": 999, "image_id": 1, "category_id": 10, "bbox": [0, 0, 5, 5], "area": 25, "iscrowd": 1})
    return {"images": images, "annotations": annotations, "categories": categories}


@pytest.fixture
def both_layouts(tiny_demo, tmp_path):
    folder = tmp_path / "dataset"
    shutil.copytree(tiny_demo, folder)
    (folder / "instances.json").write_text(json.dumps(_coco_of(folder / "data.yaml")))
    return folder


def test_coco_and_yolo_truth_of_the_same_photos_are_the_same(both_layouts, tmp_path):
    yolo, coco = (open_image_source(both_layouts / name) for name in ("data.yaml", "instances.json"))
    assert coco.kind == "coco" and coco.has_ground_truth and [i.key for i in coco.items] == [i.key for i in yolo.items]
    for a, b in zip(yolo.items, coco.items, strict=True):
        truth_yolo, truth_coco = yolo.truth_boxes(a), coco.truth_boxes(b)
        assert [n for n, _ in truth_yolo] == [n for n, _ in truth_coco], "crowd regions left out"
        assert all(abs(u - v) < 1e-5 for (_, p), (_, q) in zip(truth_yolo, truth_coco) for u, v in zip(p, q))
    records = {}
    for name in ("data.yaml", "instances.json"):
        config = ExtractConfig(
            images=str(both_layouts / name), output=str(tmp_path / f"{name}.jsonl"), detections_from="labels"
        )
        run = run_extraction(config)
        records[name] = [json.loads(line) for line in open(run["output"], encoding="utf-8")]
    for a, b in zip(records["data.yaml"], records["instances.json"], strict=True):  # the truth as detections
        assert a["image"] == b["image"] and a["scene"] == b["scene"], "scenes.csv beside either file"
        assert [d["label"] for d in a["detections"]] == [d["label"] for d in b["detections"]]
        assert all(
            abs(u - v) < 1e-5 for p, q in zip(a["detections"], b["detections"]) for u, v in zip(p["bbox"], q["bbox"])
        )


def test_category_names_go_through_the_label_map_and_image_root_moves_the_photos(both_layouts, tmp_path):
    coco = _coco_of(both_layouts / "data.yaml", names_as=lambda name: f"{name.title()} Item")
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "instances.json").write_text(json.dumps(coco))
    label_map = {f"{name} item": name for name in ("plastic", "glass", "metal", "paper", "organic")}
    source = open_image_source(tmp_path / "elsewhere" / "instances.json", both_layouts, label_map)
    assert all(item.path.is_file() for item in source.items), "file_names under image_root"
    names = {name for item in source.items for name, _ in source.truth_boxes(item)}
    assert names and names <= set(label_map.values())
    unmapped = open_image_source(tmp_path / "elsewhere" / "instances.json", both_layouts)
    assert {n for i in unmapped.items for n, _ in unmapped.truth_boxes(i)} <= {f"{n.title()} Item" for n in names}


@pytest.mark.parametrize(
    ("change", "named"),
    [
        (lambda c: c.pop("categories"), "no 'categories' list"),
        (lambda c: c["images"][0].pop("width"), r"images\[0\] .* 'width' and 'height'"),
        (lambda c: c["annotations"][0].update(category_id=77), r"annotations\[0\]: category_id 77"),
    ],
)
def test_a_broken_coco_file_is_refused_naming_the_field(both_layouts, change, named):
    coco = _coco_of(both_layouts / "data.yaml")
    change(coco)
    (both_layouts / "broken.json").write_text(json.dumps(coco))
    with pytest.raises(ValueError, match=named):
        open_image_source(both_layouts / "broken.json")


def test_a_bad_box_costs_that_photos_truth_only(both_layouts):
    coco = _coco_of(both_layouts / "data.yaml")
    coco["annotations"][0]["bbox"] = [1, 2, float("nan"), 4]
    (both_layouts / "one_bad.json").write_text(json.dumps(coco))
    source = open_image_source(both_layouts / "one_bad.json")
    first = source.items[0]
    with pytest.raises(ValueError, match=r"annotations\[0\]: bbox"):
        source.truth_boxes(first)
    assert all(isinstance(source.truth_boxes(item), list) for item in source.items[1:])


def test_calibration_collects_the_coco_truth_on_all_its_photos(both_layouts, tiny_cv_models):
    from collections import Counter

    from helpers.cv.calibrate import collect_detections

    config = ExtractConfig(
        images=str(both_layouts / "instances.json"), yolo_weights=str(tiny_cv_models / "yolo_detector.pt"), device="cpu"
    )
    per_model, truths = collect_detections(config, split="val")
    yolo = open_image_source(both_layouts / "data.yaml")
    assert truths == [Counter(name for name, _ in yolo.truth_boxes(item)) for item in yolo.items], "no splits: all"
    assert len(per_model["yolo"]) == len(yolo.items)


def test_category_names_come_in_id_order(both_layouts):
    coco = _coco_of(both_layouts / "data.yaml")
    coco["categories"] = [{"id": i, "name": f"class {i}"} for i in (12, 2, 10, 1)]
    coco["annotations"] = []
    (both_layouts / "ids.json").write_text(json.dumps(coco))
    assert open_image_source(both_layouts / "ids.json").class_names == ["class 1", "class 2", "class 10", "class 12"]
