"""Sliced inference (`slice_size`) on small objects, side by side in one run.

    python docs/measurements/slicing.py --out docs/measurements/slicing_demo_cpu.json

make demo's detectors and calibrated ensemble (models/demo) on fresh demo photos they never saw (seed 11):
each photo alone (384 x 288, the size they were trained on); the same photos tiled 4 x 4 into 1536 x 1152
mosaics, where each object is a quarter of its size at the detectors' input, as small litter is in a drone
photo; those mosaics with `slice_size 384` (overlap 0.2: 20 tiles and the whole mosaic per detector); and
once more with the tiles' duplicates merged into union boxes (SAHI's default postprocess, NMM) instead of
the less confident dropped (desclm's, SAHI's NMS). Scored against the photos' labels at the describer's
threshold (`Policy.min_confidence`): precision and recall at IoU 0.5, the labelled objects' count error
(|said - labelled| per category and photo, a mosaic's boxes given to its photos by their centres, summed,
over the labelled objects), and the detector passes a mosaic costs.
"""

from __future__ import annotations

import argparse
import tempfile
from collections import Counter
from pathlib import Path

from measured import commit, save
from PIL import Image

GRID = 4  # photos per mosaic side
SEED = 11


def _mosaics(photos_yaml: Path, out: Path) -> Path:
    """The demo test photos of `photos_yaml` tiled GRID x GRID, with their YOLO labels moved along."""
    import yaml

    spec = yaml.safe_load(photos_yaml.read_text())
    images = sorted((photos_yaml.parent / "test" / "images").glob("*.jpg"))
    per_mosaic = GRID * GRID
    (out / "test" / "images").mkdir(parents=True)
    (out / "test" / "labels").mkdir(parents=True)
    for index in range(len(images) // per_mosaic):
        group = images[index * per_mosaic : (index + 1) * per_mosaic]
        width, height = Image.open(group[0]).size
        mosaic = Image.new("RGB", (width * GRID, height * GRID))
        lines = []
        for position, path in enumerate(group):
            column, row = position % GRID, position // GRID
            mosaic.paste(Image.open(path).convert("RGB"), (column * width, row * height))
            label_file = path.parent.parent / "labels" / f"{path.stem}.txt"
            for line in label_file.read_text().splitlines():
                name, x, y, w, h = line.split()
                x, y = (float(x) + column) / GRID, (float(y) + row) / GRID
                lines.append(f"{name} {x:.6f} {y:.6f} {float(w) / GRID:.6f} {float(h) / GRID:.6f}")
        mosaic.save(out / "test" / "images" / f"mosaic_{index:03d}.jpg", quality=95)
        (out / "test" / "labels" / f"mosaic_{index:03d}.txt").write_text("\n".join(lines) + "\n")
    (out / "data.yaml").write_text(yaml.safe_dump({"test": "test/images", "names": spec["names"]}))
    return out / "data.yaml"


def _cells(records: list[dict], grid: int) -> tuple[list[list[dict]], list[list[dict]]]:
    """Each record's detections and labelled boxes per photo of its mosaic (by box centre), so that a mosaic's
    errors are counted per photo, as the photos alone are (one photo's miss cannot cancel another's extra)."""
    said, truth = [], []
    for record in records:
        for cell in range(grid * grid):
            column, row = cell % grid, cell // grid

            def inside(box, column=column, row=row) -> bool:
                x, y = (box[0] + box[2]) / 2 * grid, (box[1] + box[3]) / 2 * grid
                return column <= x < column + 1 and row <= y < row + 1

            said.append([d for d in record["detections"] if inside(d["bbox"])])
            truth.append([t for t in record["ground_truth"]["detections"] if inside(t["bbox"])])
    return said, truth


def union_merged(detections, match_ios: float = 0.5):
    """SAHI's default postprocess (greedy NMM) for comparison: per label, most confident first, the boxes
    lying inside a kept one by more than `match_ios` of the smaller are merged into it (the union box)."""
    import numpy as np

    from helpers.cv.detectors import Detections
    from helpers.cv.fusion import box_overlaps

    kept_boxes, kept_scores, kept_labels = [], [], []
    labels = np.array(detections.labels, dtype=object)
    order = np.argsort(-detections.scores, kind="stable")
    for label in dict.fromkeys(labels[order]):
        mine = [int(i) for i in order if labels[i] == label]
        boxes = np.asarray(detections.boxes, dtype=float)[mine]
        _, ios = box_overlaps(boxes)
        taken = np.zeros(len(mine), dtype=bool)
        for position in range(len(mine)):
            if taken[position]:
                continue
            matches = [j for j in range(len(mine)) if not taken[j] and (j == position or ios[position, j] > match_ios)]
            taken[matches] = True
            group = boxes[matches]
            kept_boxes.append([*group[:, :2].min(axis=0), *group[:, 2:].max(axis=0)])
            kept_scores.append(detections.scores[mine[position]])
            kept_labels.append(label)
    return Detections(np.asarray(kept_boxes).reshape(-1, 4), np.asarray(kept_scores), kept_labels)


def _scored(records: list[dict], threshold: float, grid: int = 1) -> dict:
    from helpers.cv.evaluation import detection_metrics

    said, truth = _cells(records, grid)
    said = [[d for d in found if d["confidence"] >= threshold] for found in said]
    metrics = detection_metrics(said, truth, threshold)
    labelled = sum(len(t) for t in truth)
    errors = 0
    for detections, boxes in zip(said, truth):
        counted, labelled_counts = Counter(d["label"] for d in detections), Counter(t["label"] for t in boxes)
        errors += sum(abs(counted[k] - labelled_counts[k]) for k in counted | labelled_counts)
    return {
        "images": len(records),
        "photos": len(truth),
        "labelled_objects": labelled,
        "said_objects": sum(len(s) for s in said),
        "precision": round(metrics["precision"], 4),
        "recall": round(metrics["recall"], 4),
        "count_error_per_object": round(errors / labelled, 4),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=int, default=160, help="fresh demo photos (a multiple of 16)")
    parser.add_argument("--slice_size", type=int, default=384)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()

    from helpers.core.contract import Policy
    from helpers.core.io import iter_jsonl
    from helpers.cv import ExtractConfig, run_extraction, slicing
    from helpers.cv.slicing import DEFAULT_OVERLAP, slice_windows

    kept_merge = slicing.merged  # desclm's: the less confident duplicate dropped (SAHI's NMS postprocess)
    from helpers.demo.dataset import DemoDatasetSpec, build_dataset
    from helpers.demo.notebooks import DEMO_DETECTORS

    threshold = Policy().min_confidence
    detectors = {**DEMO_DETECTORS, "scene_weights": ""}  # the scene plays no part here
    results = {}
    with tempfile.TemporaryDirectory(prefix="desclm-slicing-") as work:
        work = Path(work)
        build_dataset(work / "demo", DemoDatasetSpec(seed=SEED, n_train=0, n_valid=0, n_test=args.photos))
        photos_yaml = work / "demo" / "data.yaml"
        mosaics = _mosaics(photos_yaml, work / "mosaics")
        runs = {
            "photos alone": {"images": str(photos_yaml)},
            "mosaics": {"images": str(mosaics)},
            f"mosaics, slice_size {args.slice_size}": {"images": str(mosaics), "slice_size": args.slice_size},
        }
        runs[f"mosaics, slice_size {args.slice_size}, duplicates merged into union boxes (SAHI's NMM)"] = {
            "images": str(mosaics),
            "slice_size": args.slice_size,
        }
        for name, settings in runs.items():
            output = work / f"{len(results)}.jsonl"
            slicing.merged = union_merged if "union" in name else kept_merge
            run_extraction(ExtractConfig(output=str(output), **detectors, **settings))
            records = [line.record for line in iter_jsonl(output) if line.record]
            results[name] = _scored(records, threshold, 1 if name == "photos alone" else GRID)
    save(
        {
            "commit": commit(),
            "seed": SEED,
            "photos": args.photos,
            "mosaic": f"{GRID} x {GRID} photos of 384 x 288",
            "slice_overlap": DEFAULT_OVERLAP,
            # each detector's passes over one mosaic: the whole of it and its tiles
            "passes_per_mosaic": 1 + len(slice_windows(384 * GRID, 288 * GRID, args.slice_size, DEFAULT_OVERLAP)),
            "threshold": threshold,
            "results": results,
        },
        args.out,
    )


if __name__ == "__main__":
    main()
