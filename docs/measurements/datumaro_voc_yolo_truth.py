"""Pascal VOC and YOLO folders as Datumaro writes them (what CVAT's export runs), read back as ground truth.

Datumaro cannot join the project's environment (it pins its own versions of many packages), so this runs in an
environment of its own, with the project's `desclm` command called as a program:

    uv venv -p python3.11 /tmp/dmenv && uv pip install --python /tmp/dmenv/bin/python datumaro
    /tmp/dmenv/bin/python docs/measurements/datumaro_voc_yolo_truth.py --desclm .venv/bin/desclm \\
        --cv data/cv_outputs.jsonl --images data/demo --out docs/measurements/datumaro_voc_yolo_truth.json

It describes the CV records with the grammar (`desclm synth`), exports their detections as `coco_instances` with
the photos copied, imports that with Datumaro as COCO, and has Datumaro write it again as a Pascal VOC folder
(`voc_detection`: `Annotations/`, `JPEGImages/`, `ImageSets/Main/`) and as a YOLO folder (`yolo`: `obj.names`,
`obj_<subset>_data/` with each label file beside its photo, no data.yaml), both with the photos. Then `desclm
extract --images <folder> --detections_from labels` reads each as ground truth: every photo must come back with its
record's boxes, labels as given, each corner within `TOLERANCE` (VOC writes whole pixels).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from pathlib import Path

from measured import commit, described, export_arguments, records_by_image, save

TOLERANCE = 1.0  # pixels: VOC writes a box's corners as whole pixels


def _read_back(desclm: str, root: Path, folder: str, records: dict[str, dict]) -> dict:
    """`folder` read as ground truth by desclm, against the records (matched by the photo's file name)."""
    output = f"{folder}_truth.jsonl"
    command = [desclm, "extract", "--images", folder, "--detections_from", "labels", "--output", output, "-q"]
    subprocess.run(command, cwd=root, check=True)
    read = [json.loads(line) for line in (root / output).read_text(encoding="utf-8").splitlines()]
    by_name = {Path(key).name: record for key, record in records.items()}
    photos, boxes, same, worst = 0, 0, 0, 0.0
    for record in read:
        truth = by_name[Path(record["image"]).name]
        photos += 1
        width, height = truth["width"], truth["height"]
        expected = sorted((d["label"], *d["bbox"]) for d in truth["detections"])
        found = sorted((d["label"], *d["bbox"]) for d in record["detections"])
        for a, b in zip(found, expected):
            error = max(abs(u - v) * side for u, v, side in zip(a[1:], b[1:], (width, height) * 2))
            worst = max(worst, error)
            boxes += 1
            same += a[0] == b[0] and error <= TOLERANCE
        boxes += abs(len(found) - len(expected))  # a box more or less: counted, never the same
    errors = root / f"{output.removesuffix('.jsonl')}.errors.jsonl"
    return {
        "photos_read": photos,
        "boxes_read": sum(len(record["detections"]) for record in read),
        "boxes_as_recorded": same,
        "boxes_compared": boxes,
        "largest_corner_error_pixels": round(worst, 6),
        "error_lines": len(errors.read_text().splitlines()) if errors.is_file() else 0,
    }


def main() -> None:
    args = export_arguments(__doc__.split("\n")[0])
    import datumaro

    desclm, cv = args.desclm, args.cv
    records = records_by_image(cv)
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        described(desclm, cv, root)
        command = [desclm, "export", "described.jsonl", "--cv", cv, "--images", args.images, "-q"]
        command += ["--format", "coco_instances", "--image_folder", "photos", "--output", "instances.json"]
        subprocess.run(command, cwd=root, check=True)
        (root / "coco" / "annotations").mkdir(parents=True)
        shutil.copyfile(root / "instances.json", root / "coco" / "annotations" / "instances_default.json")
        shutil.copytree(root / "photos", root / "coco" / "images" / "default")
        dataset = datumaro.Dataset.import_from(str(root / "coco"), "coco_instances")
        dataset.export(str(root / "voc"), "voc_detection", save_media=True)
        dataset.export(str(root / "yolo"), "yolo", save_media=True)
        exported = {
            name: sorted(str(path.relative_to(root / name)) for path in (root / name).iterdir())
            for name in ("voc", "yolo")
        }
        result = {
            "commit": commit(),
            "datumaro": datumaro.__version__,
            "tolerance_pixels": TOLERANCE,
            "photos_exported": len(json.loads((root / "instances.json").read_text())["images"]),
            "detections_exported": len(json.loads((root / "instances.json").read_text())["annotations"]),
            "voc": {"top": exported["voc"], **_read_back(desclm, root, "voc", records)},
            "yolo": {"top": exported["yolo"], **_read_back(desclm, root, "yolo", records)},
        }
    save(result, args.out)


if __name__ == "__main__":
    main()
