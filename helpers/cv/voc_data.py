"""A Pascal VOC dataset (CVAT's "PASCAL VOC 1.1" export, Datumaro's, LabelImg's, Roboflow's) as photos with
ground truth.

    desclm extract --images voc_dataset/ --detections_from labels ...

The folder holds `Annotations/` (an XML file per photo: its `filename`, `size` and each `object`'s `name` and
`bndbox`) and `JPEGImages/` (the photos), each possibly in folders below (an item named `flight1/img7` is
`Annotations/flight1/img7.xml`); `ImageSets/Main/<split>.txt` lists each split's photos by that name (train,
val, test: the records' splits; CVAT's `default` is none). Every photo in `JPEGImages/` is one, its annotation
file found by its `filename` (else by its own path), a photo without one holding no object (Datumaro writes none
for a photo without boxes; a clean photo is truth too). Its boxes are pixels as
written, the corners' coordinates from the photo's top-left corner (Datumaro's and so CVAT's way, read back
as they read it; the VOC devkit's 1-based integers are then a pixel off at most), normalised by the `size` to
[x1, y1, x2, y2] in 0..1, as YOLO labels are read; each `name` as written, the blanks at its ends aside (an
indented file's). Objects marked `difficult` are kept (VOC's evaluation ignores them; they are litter all the
same). A `scenes.csv` beside `Annotations/` gives each photo's scene, as beside a data.yaml. An annotation file
that cannot be read, or a box without its numbers, is its photo's problem, not the dataset's.
"""

from __future__ import annotations

import csv
import os
import xml.etree.ElementTree as ElementTree
from pathlib import Path

from helpers.core.io import file_head, is_mac_metadata
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
    pictures, notes = root / "JPEGImages", root / "Annotations"
    photos = {  # each photo by its item name: its path under JPEGImages/ without its extension
        path.relative_to(pictures).with_suffix("").as_posix(): path
        for path in sorted(pictures.rglob("*"))
        if path.suffix.lower() in IMAGE_SUFFIXES and not is_mac_metadata(path.name, file_head(str(path)))
    }
    for split, name in VOC_SPLITS.items():
        listed = root / "ImageSets" / "Main" / f"{split}.txt"
        if listed.is_file():
            for line in listed.read_text(encoding="utf-8-sig").split():
                if line in photos:
                    splits[Path(os.path.abspath(photos[line]))] = name
    for annotation in sorted(notes.rglob("*.xml")):
        if is_mac_metadata(annotation.name, file_head(str(annotation))):  # `._0001.xml`: a Mac's copy wrote it
            continue
        item = annotation.relative_to(notes).with_suffix("").as_posix()
        try:
            tree = ElementTree.parse(annotation)
        except (ElementTree.ParseError, OSError) as error:
            photo = Path(os.path.abspath(photos.get(item, pictures / item)))
            dataset.images.append(photo)
            dataset.problems[photo] = f"{annotation}: not readable as VOC XML: {error}"
            continue
        named = (tree.findtext("filename") or "").strip()
        photo = pictures / named if named and (pictures / named).is_file() else photos.get(item, pictures / named)
        photo = Path(os.path.abspath(photo))
        dataset.images.append(photo)
        dataset.boxes[photo] = []
        try:
            width, height = (float(tree.findtext(f"size/{side}") or "nan") for side in ("width", "height"))
            if not (width > 0 and height > 0):
                raise ValueError(f"size must give a width and height in pixels above 0, got {width} x {height}")
            for number, element in enumerate(tree.findall("object"), start=1):
                dataset.boxes[photo].append(_box(element, number, width, height, dataset.names))
        except ValueError as error:
            dataset.problems[photo] = f"{annotation}: {error}"
            dataset.boxes[photo] = []
    for photo in (Path(os.path.abspath(path)) for path in photos.values()):
        if photo not in dataset.boxes and photo not in dataset.problems:  # no annotation file: no object in it
            dataset.images.append(photo)
            dataset.boxes[photo] = []
    dataset.images.sort()
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
    box = [xmin / width, ymin / height, xmax / width, ymax / height]  # pixels as written (see the module docstring)
    return label, [round(min(max(v, 0.0), 1.0), 6) for v in box]
