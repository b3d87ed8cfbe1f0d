"""Pascal VOC ground truth (`helpers.cv.voc_data`): a VOC folder (CVAT's, LabelImg's, Roboflow's export) as
01's images, its boxes the truth a data.yaml of the same labels gives."""

from __future__ import annotations

import json
import shutil
import xml.etree.ElementTree as ElementTree
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from helpers.core.io import APPLE_DOUBLE
from helpers.cv.config import ExtractConfig
from helpers.cv.extract import run_extraction
from helpers.cv.sources import open_image_source


def _annotation(filename: str, size: tuple[int, int], objects: list[tuple[str, list[int]]]) -> bytes:
    """A VOC annotation file as CVAT and LabelImg write one."""
    root = ElementTree.Element("annotation")
    ElementTree.SubElement(root, "filename").text = filename
    dimensions = ElementTree.SubElement(root, "size")
    for side, value in zip(("width", "height", "depth"), (*size, 3), strict=True):
        ElementTree.SubElement(dimensions, side).text = str(value)
    for name, corners in objects:
        item = ElementTree.SubElement(root, "object")
        ElementTree.SubElement(item, "name").text = name
        ElementTree.SubElement(item, "difficult").text = "0"
        box = ElementTree.SubElement(item, "bndbox")
        for side, value in zip(("xmin", "ymin", "xmax", "ymax"), corners, strict=True):
            ElementTree.SubElement(box, side).text = str(value)
    return ElementTree.tostring(root, encoding="utf-8")


def test_a_voc_folder_gives_the_truth_and_splits_of_the_same_labels_as_a_data_yaml(tiny_demo, tmp_path):
    """The tiny demo's YOLO labels written as VOC as Datumaro (CVAT) writes it: items named by their path
    (`Annotations/train/images/x.xml`, `filename` `train/images/x.jpg`), corners in pixels from the top-left.
    Each photo's boxes are the data.yaml's, its split from ImageSets/Main; extraction from labels takes them; an
    annotation file that is not XML costs its photo's truth, named."""
    labelled = open_image_source(tiny_demo / "data.yaml")
    voc = tmp_path / "voc"
    (voc / "ImageSets/Main").mkdir(parents=True)
    truth, splits = {}, {"train": [], "val": [], "test": []}
    for item in labelled.items:
        width, height = Image.open(item.path).size
        boxes = labelled.truth_boxes(item)
        truth[item.key] = boxes
        corners = [[x1 * width, y1 * height, x2 * width, y2 * height] for _, (x1, y1, x2, y2) in boxes]
        objects = [(label, box) for (label, _), box in zip(boxes, corners, strict=True)]
        name = str(Path(item.key).with_suffix(""))
        (voc / "JPEGImages" / item.key).parent.mkdir(parents=True, exist_ok=True)
        (voc / "Annotations" / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(item.path, voc / "JPEGImages" / item.key)
        (voc / "Annotations" / f"{name}.xml").write_bytes(_annotation(item.key, (width, height), objects))
        splits[item.split].append(name)
    for split, names in splits.items():
        (voc / "ImageSets/Main" / f"{split}.txt").write_text("\n".join(names) + "\n", encoding="utf-8")
    assert sum(len(boxes) for boxes in truth.values()) > 0, "boxes to compare"
    first = next(iter(truth))  # copied on a Mac to an exFAT card: its metadata beside a photo and its annotation
    for path in (voc / "JPEGImages" / first, voc / "Annotations" / Path(first).with_suffix(".xml")):
        path.with_name(f"._{path.name}").write_bytes(APPLE_DOUBLE + bytes(60))
    source = open_image_source(voc)
    assert source.kind == "voc" and source.has_ground_truth
    assert sorted(item.key for item in source.items) == sorted(f"JPEGImages/{key}" for key in truth)
    for item in source.items:
        expected = truth[item.key.removeprefix("JPEGImages/")]
        read = source.truth_boxes(item)
        assert [label for label, _ in read] == [label for label, _ in expected]
        assert all(abs(u - v) < 1e-5 for (_, a), (_, b) in zip(read, expected) for u, v in zip(a, b))
        assert item.split == next(i.split for i in labelled.items if f"JPEGImages/{i.key}" == item.key)
    run = run_extraction(ExtractConfig(images=str(voc), output=str(tmp_path / "cv.jsonl"), detections_from="labels"))
    records = [json.loads(line) for line in open(run["output"], encoding="utf-8")]
    assert {r["image"]: len(r["detections"]) for r in records} == {f"JPEGImages/{k}": len(b) for k, b in truth.items()}
    clean = next(path for path in sorted((voc / "Annotations").rglob("*.xml")) if "<object>" in path.read_text())
    clean.unlink()  # as Datumaro writes a photo without boxes: no annotation file
    photo = next(item for item in open_image_source(voc).items if item.path.stem == clean.stem)
    assert open_image_source(voc).truth_boxes(photo) == [], "a photo without its file: truth that it is clean"
    broken = sorted((voc / "Annotations").rglob("*.xml"))[0]
    broken.write_text("<annotation><filename>", encoding="utf-8")
    source = open_image_source(voc)
    item = next(item for item in source.items if item.path.stem == broken.stem)
    with pytest.raises(ValueError, match="not readable as VOC XML"):
        source.truth_boxes(item)


NAMES = st.text(st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=12).filter(str.strip)


@settings(max_examples=80, deadline=None)
@given(
    st.lists(
        st.tuples(NAMES, st.integers(1, 640), st.integers(1, 480), st.integers(0, 640), st.integers(0, 480)), max_size=5
    )
)
def test_any_objects_read_back_with_their_names_as_written_and_pixel_boxes_in_0_to_1(objects):
    """Any object names (XML-escaped by the writer: <, &, quotes, any script) and pixel boxes on a 640 x 480
    photo: read back in order, each name as written (its ends' blanks aside), its corners over the size."""
    import tempfile

    from helpers.cv.voc_data import load_voc

    boxes = [(name, [x - 1, y - 1, min(640, x + w), min(480, y + h)]) for name, x, y, w, h in objects]
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        (root / "Annotations").mkdir()
        (root / "JPEGImages").mkdir()
        (root / "JPEGImages/a.jpg").write_bytes(b"")
        (root / "Annotations/a.xml").write_bytes(_annotation("a.jpg", (640, 480), boxes))
        dataset, _ = load_voc(root)
        read = dataset.boxes[(root / "JPEGImages/a.jpg").resolve()]
    assert [label for label, _ in read] == [name.strip() for name, _ in boxes]
    for (_, box), (_, (x1, y1, x2, y2)) in zip(read, boxes, strict=True):
        assert box == pytest.approx([x1 / 640, y1 / 480, x2 / 640, y2 / 480], abs=1e-6)
