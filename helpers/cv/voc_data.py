"""A Pascal VOC dataset (CVAT's "PASCAL VOC 1.1" export, LabelImg's, Roboflow's) as photos with ground truth.

    desclm extract --images voc_dataset/ --detections_from labels ...

The folder holds `Annotations/` (an XML file per photo: its `filename`, `size` and each `object`'s `name` and
`bndbox`) and `JPEGImages/` (the photos); `ImageSets/Main/<split>.txt` lists each split's photos by name
(train, val, test: the records' splits; CVAT's `default` is none). Each annotation file is a photo, found in
`JPEGImages/` by its `filename` (else by its own name with the photo's extension), its boxes in pixels as
VOC writes them, 1-based and inclusive (`xmin` 1 is the first pixel column): normalised by the `size` to
[x1, y1, x2, y2] in 0..1, as YOLO labels are read; each `name` as written, the blanks at its ends aside (an
indented file's). Objects marked `difficult` are kept (VOC's evaluation
ignores them; they are litter all the same). A `scenes.csv` beside `Annotations/` gives each photo's scene,
as beside a data.yaml. An annotation file that cannot be read, or a box without its numbers, is its photo's
problem, not the dataset's.
"""

from __future__ import annotations

import csv
import os
import xml.etree.ElementTree as ElementTree
from pathlib import Path

from helpers.core.photo_datasets import IMAGE_SUFFIXES
from helpers.cv.coco_data import CocoDataset

VOC_SPLITS = {"train": "train", "val": "val", "test": "test"}  # ImageSets/Main/<name>.txt -> the records' split


def is_voc_dataset(folder: Path) -> bool:
    """Whether a folder is laid out as a Pascal VOC dataset: `Annotations/` beside `JPEGImages/`."""
    return (folder / "Annotations").is_dir() and (folder / "JPEGImages").is_dir()


def load_voc(folder: str | Path) -> tuple[CocoDataset, dict[Path, str]]:
    """Reads a Pascal VOC dataset (see the module docstring): its photos with their boxes (the shape `load_coco`
    gives: `images`, `boxes`, `names` in the order met, `problems`, `scenes`) and each photo's split."""
    root = Path(folder).resolve()
    dataset, splits = CocoDataset(root, []), {}
    photos = {path.stem: path for path in (root / "JPEGImages").iterdir() if path.suffix.lower() in IMAGE_SUFFIXES}
    for split, name in VOC_SPLITS.items():
        listed = root / "ImageSets" / "Main" / f"{split}.txt"
        if listed.is_file():
            for line in listed.read_text(encoding="utf-8-sig").split():
                if line in photos:
                    splits[photos[line]] = name
    for annotation in sorted((root / "Annotations").glob("*.xml")):
        try:
            tree = ElementTree.parse(annotation)
        except (ElementTree.ParseError, OSError) as error:
            photo = photos.get(annotation.stem, root / "JPEGImages" / annotation.stem)
            dataset.images.append(photo)
            dataset.problems[photo] = f"{annotation}: not readable as VOC XML: {error}"
            continue
        named = (tree.findtext("filename") or "").strip()
        photo = root / "JPEGImages" / named if named and (root / "JPEGImages" / named).is_file() else None
        photo = Path(os.path.abspath(photo or photos.get(annotation.stem, root / "JPEGImages" / named)))
        dataset.images.append(photo)
        dataset.boxes[photo] = []
        try:
            width, height = (float(tree.findtext(f"size/{side}") or "nan") for side in ("width", "height"))
            if not (width > 0 and height > 0):
                raise ValueError(f"size must give a width and height in pixels above 0, got {width} x {height}")
            for number, item in enumerate(tree.findall("object"), start=1):
                dataset.boxes[photo].append(_box(item, number, width, height, dataset.names))
        except ValueError as error:
            dataset.problems[photo] = f"{annotation}: {error}"
            dataset.boxes[photo] = []
    scenes_csv = root / "scenes.csv"
    if scenes_csv.is_file():
        with open(scenes_csv, newline="", encoding="utf-8-sig") as handle:
            dataset.scenes = {row["image"]: row["scene"] for row in csv.DictReader(handle)}
    return dataset, splits


def _box(item, number: int, width: float, height: float, names: list[str]) -> tuple[str, list[float]]:
    """An `object`'s name (as written; added to `names` when new) and its box [x1, y1, x2, y2] in 0..1.

    Raises:
        ValueError: No name, or a box whose corners are not numbers in order.
    """
    label = (item.findtext("name") or "").strip()
    corners = [item.findtext(f"bndbox/{side}") for side in ("xmin", "ymin", "xmax", "ymax")]
    try:
        xmin, ymin, xmax, ymax = (float(value) for value in corners)
    except (TypeError, ValueError):
        raise ValueError(f"object {number}: bndbox needs xmin, ymin, xmax and ymax in pixels, got {corners}") from None
    if not label or not (xmin <= xmax and ymin <= ymax):
        raise ValueError(f"object {number}: a name and a box with xmin <= xmax, ymin <= ymax, got {label!r} {corners}")
    if label not in names:
        names.append(label)
    box = [(xmin - 1) / width, (ymin - 1) / height, xmax / width, ymax / height]  # 1-based, inclusive pixels
    return label, [round(min(max(v, 0.0), 1.0), 6) for v in box]
