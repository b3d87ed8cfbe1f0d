"""The coco_instances and coco (captions) exports read by Datumaro, the library CVAT's dataset import runs.

Datumaro cannot join the project's environment (it pins its own versions of many packages), so this runs in an
environment of its own, with the project's `desclm` command called as a program:

    uv venv -p python3.11 /tmp/dmenv && uv pip install --python /tmp/dmenv/bin/python datumaro
    /tmp/dmenv/bin/python docs/measurements/datumaro_coco_import.py --desclm .venv/bin/desclm \\
        --cv data/cv_outputs.jsonl --images data/demo --out docs/measurements/datumaro_coco_import.json

It describes the CV records with the grammar (`desclm synth`), exports them as `coco_instances` and `coco` with
the photos copied (`--image_folder`), lays each out as a COCO dataset folder (`annotations/instances_default.json`
or `captions_default.json`, `images/default/`: what CVAT's COCO import takes zipped) and imports it with
`datumaro.Dataset.import_from`. Each item's photo must be found, each box its record's label, score and box (within
0.01 pixel: the export writes pixels to two decimals), each caption its description, and the import must log no
warning (Datumaro warns on every annotation that lacks a field it expects, such as `segmentation`). CVAT runs its
own fork of Datumaro; this is the upstream package.

Then `coco_instances` split (`--splits train=0.9,val=0.1`, a file per split, `instances_train.json` and
`instances_val.json`) laid out as Datumaro's COCO subsets (`annotations/instances_<split>.json`, the photos under
`images/<split>/`) and imported once: each subset must hold the photos of its file, each box as recorded, and the
labels one set of categories across the subsets.
"""

from __future__ import annotations

import json
import logging
import shutil
import subprocess
import tempfile
from pathlib import Path

from measured import commit, described, export_arguments, records_by_image, save

TOLERANCE = 0.01  # pixels: the export writes boxes in pixels to 0.01


class Warnings(logging.Handler):
    """Counts the warnings logged while a dataset is imported."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def _import(root: Path, name: str, kind: str, export: Path, photos: Path):
    """`export` laid out as a COCO dataset under root/name and imported as `kind`: (the dataset, its warnings)."""
    import datumaro

    folder = root / name
    (folder / "annotations").mkdir(parents=True)
    shutil.copyfile(export, folder / "annotations" / f"{kind.removeprefix('coco_')}_default.json")
    shutil.copytree(photos, folder / "images" / "default")
    warnings = Warnings()
    logging.getLogger().addHandler(warnings)
    try:
        dataset = datumaro.Dataset.import_from(str(folder), kind)
        items = list(dataset)  # read now, while the warnings are counted
    finally:
        logging.getLogger().removeHandler(warnings)
    return dataset, items, warnings.messages


def _boxes(items, labels, records: dict) -> tuple[int, int, float]:
    """(boxes read, boxes as recorded, the largest corner error in pixels) of the imported items."""
    boxes, same, worst = 0, 0, 0.0
    for item in items:
        record = records[item.id + Path(item.media.path).suffix]
        read = sorted(item.annotations, key=lambda annotation: annotation.id)  # the export's order
        for box, truth in zip(read, record["detections"], strict=True):
            x1, y1, x2, y2 = truth["bbox"]
            width, height = record["width"], record["height"]
            error = max(abs(a - b) for a, b in zip(box.points, (x1 * width, y1 * height, x2 * width, y2 * height)))
            worst = max(worst, error)
            boxes += 1
            same += (
                labels[box.label].name == truth["label"]
                and box.attributes.get("score") == truth["confidence"]
                and error <= TOLERANCE
            )
    return boxes, same, worst


def _split(root: Path, desclm: str, cv: str, images: str, records: dict) -> dict:
    """The split coco_instances export laid out as Datumaro's COCO subsets and imported."""
    import datumaro

    command = [desclm, "export", "described.jsonl", "--cv", cv, "--images", images, "--format", "coco_instances"]
    command += ["--splits", "train=0.9,val=0.1", "--image_folder", "split_photos", "--output", "split/instances.json"]
    subprocess.run([*command, "-q"], cwd=root, check=True)
    folder = root / "split_dataset"
    (folder / "annotations").mkdir(parents=True)
    exported = {}
    for name in ("train", "val"):
        path = root / "split" / f"instances_{name}.json"
        shutil.copyfile(path, folder / "annotations" / path.name)
        exported[name] = json.loads(path.read_text())
        for image in exported[name]["images"]:
            target = folder / "images" / name / image["file_name"]
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(root / "split_photos" / image["file_name"], target)
    warnings = Warnings()
    logging.getLogger().addHandler(warnings)
    try:
        dataset = datumaro.Dataset.import_from(str(folder), "coco_instances")
        items = list(dataset)
    finally:
        logging.getLogger().removeHandler(warnings)
    labels = dataset.categories()[datumaro.AnnotationType.label]
    boxes, same, worst = _boxes(items, labels, records)
    in_file = {
        name: {Path(i["file_name"]).with_suffix("").as_posix() for i in data["images"]}
        for name, data in exported.items()
    }
    return {
        "photos_exported": {name: len(data["images"]) for name, data in exported.items()},
        "items_read": {name: sum(item.subset == name for item in items) for name in exported},
        "items_in_their_file_s_subset": sum(item.id in in_file.get(item.subset, ()) for item in items),
        "categories_alike_in_the_files": exported["train"]["categories"] == exported["val"]["categories"],
        "labels_read": len(labels),
        "detections_read": boxes,
        "detections_as_recorded": same,
        "largest_box_error_pixels": round(worst, 6),
        "warnings": len(warnings.messages),
    }


def main() -> None:
    args = export_arguments(__doc__.split("\n")[0])
    import datumaro

    desclm, cv, images = args.desclm, args.cv, args.images
    records = records_by_image(cv)
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        descriptions = described(desclm, cv, root)
        export = [desclm, "export", "described.jsonl", "--cv", cv, "--images", images, "-q"]
        for fmt in ("coco_instances", "coco"):
            command = [*export, "--format", fmt, "--image_folder", f"{fmt}_photos", "--output", f"{fmt}.json"]
            subprocess.run(command, cwd=root, check=True)

        dataset, items, warned = _import(
            root, "instances", "coco_instances", root / "coco_instances.json", root / "coco_instances_photos"
        )
        labels = dataset.categories()[datumaro.AnnotationType.label]
        found = sum(Path(item.media.path).is_file() for item in items)
        boxes, same, worst = _boxes(items, labels, records)
        instances = {
            "photos_exported": len(json.loads((root / "coco_instances.json").read_text())["images"]),
            "items_read": len(items),
            "photos_found": found,
            "detections_read": boxes,
            "detections_as_recorded": same,
            "largest_box_error_pixels": round(worst, 6),
            "warnings": len(warned),
            "first_warning": warned[0] if warned else None,
        }

        dataset, items, warned = _import(root, "captions", "coco_captions", root / "coco.json", root / "coco_photos")
        captions = [(item, annotation) for item in items for annotation in item.annotations]
        as_described = sum(
            annotation.caption == descriptions[item.id + Path(item.media.path).suffix] for item, annotation in captions
        )
        captioned = {
            "items_read": len(items),
            "photos_found": sum(Path(item.media.path).is_file() for item in items),
            "captions_read": len(captions),
            "captions_as_described": as_described,
            "warnings": len(warned),
            "first_warning": warned[0] if warned else None,
        }
        split = _split(root, desclm, cv, images, records)
    save(
        {
            "commit": commit(),
            "datumaro": datumaro.__version__,
            "tolerance_pixels": TOLERANCE,
            "coco_instances": instances,
            "coco": captioned,
            "coco_instances_split": split,
        },
        args.out,
    )


if __name__ == "__main__":
    main()
