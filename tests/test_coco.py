"""COCO ground truth (issue 32, item 3): a COCO instances JSON is accepted wherever a YOLO data.yaml
is, read with pycocotools, and gives the same truth as the YOLO layout of the same labels."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
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


def test_file_names_that_go_up_a_folder_keep_their_truth(both_layouts, tmp_path):
    """Label Studio's COCO export names each photo relative to its own data folder (`../photos/north/p1.jpg`):
    the photo's truth is found by the path extraction reads it from, `..` and all."""
    coco = _coco_of(both_layouts / "data.yaml")
    for image in coco["images"]:
        image["file_name"] = f"../{both_layouts.name}/{image['file_name']}"
    (tmp_path / "export").mkdir()
    (tmp_path / "export" / "result.json").write_text(json.dumps(coco))
    exported = open_image_source(tmp_path / "export" / "result.json")
    labelled = open_image_source(both_layouts / "instances.json")
    assert [item.path for item in exported.items] == [item.path for item in labelled.items]
    assert [exported.truth_boxes(item) for item in exported.items] == [labelled.truth_boxes(i) for i in labelled.items]
    assert any(exported.truth_boxes(item) for item in exported.items)


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


def _part_photo(entry: dict) -> str | None:
    """The photo an entry names as an image part of its first turn, else None."""
    turns = entry.get("messages") or [{}]
    return next((part["image"] for part in turns[0].get("content", []) if part.get("type") == "image"), None)


_NAME_CHARACTERS = st.characters(codec="utf-8", categories=["L", "N"], include_characters=" -_")
_SEGMENTS = st.text(_NAME_CHARACTERS, min_size=1, max_size=8)


@settings(max_examples=40, deadline=None)
@given(
    entries=st.lists(
        st.one_of(
            st.builds(lambda parts: {"image": "/".join(parts)}, st.lists(_SEGMENTS, min_size=1, max_size=3)),
            st.builds(lambda names: {"image": names}, st.lists(_SEGMENTS.map(lambda s: s + ".jpg"), min_size=1)),
            st.just({"conversations": [{"from": "human", "value": "Hello"}]}),  # text only
            st.just({"image": 7}),  # not a path
            st.builds(lambda names: {"images": names}, st.lists(_SEGMENTS.map(lambda s: s + ".png"), max_size=2)),
            st.builds(  # the photo as an image part of the user's turn (Qwen-VL's and chat templates' form)
                lambda name: {"messages": [{"role": "user", "content": [{"type": "image", "image": name}]}]}, _SEGMENTS
            ),
        ),
        max_size=12,
    ),
    big_number=st.booleans(),
    lines=st.booleans(),
)
def test_a_llava_json_lists_its_entries_photos_once_each_in_order(tmp_path_factory, entries, big_number, lines):
    """`--images llava.json` (or `.jsonl`, an entry a line): each entry's `image` (or list of them; or `images`,
    LLaMA-Factory's and ms-swift's list) is a photo keyed by that path under `image_root`, once, in order;
    text-only entries (an empty list too), non-paths and (in JSONL) unreadable lines are passed over. A number
    beyond 64 bits (which ijson's C parser stops at) reads all the same."""
    from helpers.cv.sources import open_image_source

    folder = tmp_path_factory.mktemp("llava")
    document = [{"id": str(i), **entry, **({"score": 10**30} if big_number else {})} for i, entry in enumerate(entries)]
    name = "train.jsonl" if lines else "train.json"
    text = "".join(json.dumps(entry) + "\n{cut\n" for entry in document) if lines else json.dumps(document)
    (folder / name).write_text(text, encoding="utf-8")
    (folder / "images").mkdir()
    source = open_image_source(folder / name, image_root=folder / "images")
    named = [
        name
        for entry in entries
        if isinstance(photos := entry.get("image", entry.get("images", _part_photo(entry))), str | list)
        for name in (photos if isinstance(photos, list) else [photos])
        if name.strip()
    ]
    assert source.kind == "llava" and source.root == (folder / "images").resolve()
    expected = list(dict.fromkeys(os.path.normpath(name) for name in named))
    assert [item.key for item in source.items] == [Path(name).as_posix() for name in expected]


def test_a_broken_llava_json_is_named_before_any_work(tmp_path):
    from helpers.cv.sources import open_image_source

    (tmp_path / "cut.json").write_text('[{"image": "a.jpg"}, {"image": "b.j', encoding="utf-8")
    with pytest.raises(ValueError, match=r"cut.json: not valid JSON after entry 1"):
        open_image_source(tmp_path / "cut.json")


def test_a_llava_training_sets_photos_are_extracted_and_its_captions_checked_against_them(
    tiny_demo, tiny_cv_models, tmp_path
):
    """The loop a LLaVA set's user runs: its photos extracted by its own JSON (keys: the entries'
    `image`), then its captions checked against those records, every entry joined by `image`."""
    from conftest import cv_models_settings

    from helpers.describer.check import check_file

    photos = sorted(path.relative_to(tiny_demo).as_posix() for path in (tiny_demo / "train" / "images").glob("*.jpg"))
    entries = [
        {
            "id": f"e{i}",
            "image": name,
            "conversations": [
                {"from": "human", "value": "<image>\nWhat litter?"},
                {"from": "gpt", "value": "Two plastic items on grass."},
            ],
        }
        for i, name in enumerate(photos[:4] + photos[:1])  # a photo two entries ask about
    ]
    entries.insert(
        2, {"id": "chat", "conversations": [{"from": "human", "value": "Hi"}, {"from": "gpt", "value": "Hello."}]}
    )
    (tmp_path / "llava.json").write_text(json.dumps(entries), encoding="utf-8")
    settings_ = cv_models_settings(tiny_cv_models, images=str(tmp_path / "llava.json"), image_root=str(tiny_demo))
    run = run_extraction(ExtractConfig(output=str(tmp_path / "cv.jsonl"), **settings_))
    records = [json.loads(line) for line in open(run["output"], encoding="utf-8")]
    assert [record["image"] for record in records] == photos[:4], "each photo once, keyed by the entries' image"
    summary = check_file(tmp_path / "cv.jsonl", tmp_path / "llava.json", tmp_path / "verdicts.jsonl", workers=0)
    verdicts = [json.loads(line) for line in (tmp_path / "verdicts.jsonl").read_text().splitlines()]
    assert len([v for v in verdicts if "faithful" in v]) == 5 == summary["checked"], "every entry about a photo joined"
    assert summary["errors"] == 0 and summary["text_only"] == 1 and verdicts[2]["skipped"].startswith("text only")


def test_a_yolo_export_without_data_yaml_reads_its_names_file_and_labels(tiny_demo, tmp_path):
    """Label Studio's YOLO export (`classes.txt`, `images/`, `labels/`) and CVAT's YOLO 1.1 (`obj.names`, each
    label file beside its photo, in folders named as the items are: `obj_train_data/train/images/x.jpg`): the same
    photos' truth as the data.yaml's, the names from the file in class id order; extraction takes them as its
    detections; a blank line among the names is refused (it would shift every class id after it)."""
    import yaml

    labelled = open_image_source(tiny_demo / "data.yaml")
    names = yaml.safe_load((tiny_demo / "data.yaml").read_text())["names"]
    names = [names[k] for k in sorted(names)] if isinstance(names, dict) else names
    truth = {item.path.name: labelled.truth_boxes(item) for item in labelled.items}
    studio, cvat = tmp_path / "label_studio", tmp_path / "cvat"
    (studio / "images").mkdir(parents=True)
    (studio / "labels").mkdir()
    for item in labelled.items:
        label = item.path.parent.parent / "labels" / f"{item.path.stem}.txt"
        beside = cvat / "obj_train_data" / Path(item.key).parent  # `images` in its path: still beside
        beside.mkdir(parents=True, exist_ok=True)
        for photo, text in ((studio / "images", studio / "labels"), (beside, beside)):
            shutil.copyfile(item.path, photo / item.path.name)
            if label.exists():
                shutil.copyfile(label, text / label.name)
    (studio / "classes.txt").write_text("".join(f"{name}\n" for name in names), encoding="utf-8")
    (cvat / "obj.names").write_text("\n".join(names), encoding="utf-8")
    for folder in (studio, cvat):
        source = open_image_source(folder)
        assert source.kind == "yolo" and source.has_ground_truth and source.class_names == names
        assert {item.path.name: source.truth_boxes(item) for item in source.items} == truth
    assert sum(len(boxes) for boxes in truth.values()) > 0, "boxes to compare"
    run = run_extraction(ExtractConfig(images=str(studio), output=str(tmp_path / "cv.jsonl"), detections_from="labels"))
    records = [json.loads(line) for line in open(run["output"], encoding="utf-8")]
    assert {Path(r["image"]).name: [d["label"] for d in r["detections"]] for r in records} == {
        name: [label for label, _ in boxes] for name, boxes in truth.items()
    }
    (studio / "classes.txt").write_text("plastic\n\nglass\n", encoding="utf-8")
    with pytest.raises(ValueError, match="blank line"):
        open_image_source(studio)
