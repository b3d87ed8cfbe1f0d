"""The coco_instances export read by FiftyOne's own COCO detection importer: photos, boxes, labels and scores.

FiftyOne cannot join the project's environment (it pins its own versions of many packages), so this runs in an
environment of its own, with the project's `desclm` command called as a program:

    uv venv -p python3.11 /tmp/foenv && uv pip install --python /tmp/foenv/bin/python fiftyone
    /tmp/foenv/bin/python docs/measurements/fiftyone_coco_import.py --desclm .venv/bin/desclm \\
        --cv data/cv_outputs.jsonl --images data/demo --out docs/measurements/fiftyone_coco_import.json

It describes the CV records with the grammar (`desclm synth`), exports them as `coco_instances` with the photos
copied (`--image_folder`), and reads the export with `fiftyone.utils.coco.COCODetectionDatasetImporter`, the
importer `fo.Dataset.from_dir(dataset_type=fo.types.COCODetectionDataset, data_path=..., labels_path=...)` runs
(a dataset itself needs FiftyOne's MongoDB, which its wheel no longer carries and cannot be fetched offline). Each
sample's photo must exist, and each detection's label, confidence and box (FiftyOne's relative [x, y, width,
height]) must be its CV record's, in order, the box within 0.01 pixel (the export writes pixels to two decimals).
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from pathlib import Path

from measured import commit, described, export_arguments, records_by_image, save

TOLERANCE = 0.01  # pixels: the export writes boxes in pixels to 0.01 (half of it each way, width and height twice)


def main() -> None:
    args = export_arguments(__doc__.split("\n")[0])
    os.environ.setdefault("FIFTYONE_DO_NOT_TRACK", "true")
    import fiftyone
    from fiftyone.utils.coco import COCODetectionDatasetImporter

    desclm, cv, images = args.desclm, args.cv, args.images
    records = records_by_image(cv)
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        described(desclm, cv, root)
        export = [desclm, "export", "described.jsonl", "--format", "coco_instances", "--cv", cv, "--images", images]
        subprocess.run([*export, "--image_folder", "photos", "--output", "instances.json", "-q"], cwd=root, check=True)
        exported = json.loads((root / "instances.json").read_text(encoding="utf-8"))
        importer = COCODetectionDatasetImporter(
            data_path=str(root / "photos"), labels_path=str(root / "instances.json"), label_types=["detections"]
        )
        with importer:
            samples = list(importer)
        found, boxes, same, worst = 0, 0, 0, 0.0
        for (path, metadata, labels), image in zip(samples, exported["images"], strict=True):
            found += Path(path).is_file()
            record = records[image["file_name"]]
            read = labels.detections if labels is not None else []  # one label type: its Detections, else None
            for detection, truth in zip(read, record["detections"], strict=True):
                x1, y1, x2, y2 = (min(max(v, 0.0), 1.0) for v in truth["bbox"])
                sizes = (record["width"], record["height"]) * 2
                relative = zip(detection.bounding_box, (x1, y1, x2 - x1, y2 - y1), sizes)
                error = max(abs(a - b) * size for a, b, size in relative)  # in pixels
                worst = max(worst, error)
                boxes += 1
                same += (
                    detection.label == truth["label"]
                    and detection.confidence == truth["confidence"]
                    and error <= TOLERANCE
                    and (metadata.width, metadata.height) == (record["width"], record["height"])
                )
    save(
        {
            "commit": commit(),
            "fiftyone": fiftyone.__version__,
            "photos_exported": len(exported["images"]),
            "samples_read": len(samples),
            "photos_found": found,
            "detections_exported": len(exported["annotations"]),
            "detections_read": boxes,
            "detections_as_recorded": same,
            "largest_box_error_pixels": round(worst, 6),
            "tolerance": TOLERANCE,
        },
        args.out,
    )


if __name__ == "__main__":
    main()
