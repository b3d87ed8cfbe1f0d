"""Tables and figures for notebook 01's report: what was found, and (with ground truth) how well."""

from __future__ import annotations

import dataclasses
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from helpers.core.figures import MAP_POINTS, position_of, positions_map
from helpers.core.ground import CameraPose
from helpers.core.io import iter_jsonl
from helpers.core.sampling import Reservoir, sample_stream
from helpers.core.settings import setting
from helpers.cv.detectors import Detections
from helpers.cv.evaluation import detection_metrics, scene_metrics
from helpers.cv.fusion import CONF_TYPES, FusionSettings, fuse
from helpers.cv.sources import ImageSource, load_image, open_image_source


@dataclass
class ExtractReport:
    """Notebook 01's report settings (beside ExtractConfig's)."""

    sample_images: int = setting(6, "photos drawn with their boxes in the report")
    seed: int = setting(0, "which photos the report draws")


def load_records(path) -> list[dict]:
    """The records of an output file, in file order (all in memory: for the labelled photos' scores)."""
    return [line.record for line in iter_jsonl(path) if not line.error]


def first_errors(path, count: int = 20) -> tuple[int, list[dict]]:
    """How many error lines an errors file holds, and the first `count` of them (read as a stream)."""
    first, total = [], 0
    for line in iter_jsonl(path) if Path(path).exists() else []:
        if line.error:
            continue
        total += 1
        if len(first) < count:
            first.append(line.record)
    return total, first


CONFIDENCE_BINS = np.linspace(0, 1, 21)


@dataclass
class OutputSummary:
    """What the report shows of an output, from one pass over it (10^7 records are never held)."""

    overview: dict  # counts per class, scene and split; detections per image
    detections_per_image: Counter  # images by their number of detections
    confidence_counts: np.ndarray  # detections per bin of CONFIDENCE_BINS
    sample: list[dict]  # a seeded uniform sample of the records, in file order (for `sample_grid`)
    positions: np.ndarray  # (longitude, latitude, detections) of a seeded sample of the photos with a position


def summarize_output(path, sample_size: int = 0, seed: int = 0) -> OutputSummary:
    """`OutputSummary` of the output file at `path`, reading it as a stream."""
    per_class, per_scene, per_split, per_image, per_bin = Counter(), Counter(), Counter(), Counter(), Counter()
    taken = Counter()  # photos whose record says when, where, or names an unreadable EXIF value
    placed: Reservoir[tuple[float, float, int]] = Reservoir(MAP_POINTS, seed)
    bins = len(CONFIDENCE_BINS) - 1

    def records():
        for line in iter_jsonl(path):
            if line.error:
                continue
            record = line.record
            labels = [d["label"] for d in record["detections"]]
            per_class.update(labels)
            per_scene[record["scene"]["class"]] += 1
            per_split[str(record.get("split"))] += 1
            per_image[len(labels)] += 1
            per_bin.update(min(max(int(d["confidence"] * bins), 0), bins - 1) for d in record["detections"])
            when_where = record.get("taken") or {}
            taken.update(name for name in ("time", "latitude", "problems") if name in when_where)
            taken["pose"] += CameraPose.of(when_where) is not None
            if place := position_of(when_where):
                placed.add((*place, len(labels)))
            yield record

    sample, images = sample_stream(records(), sample_size, seed)
    detections = sum(count * images_with for count, images_with in per_image.items())
    overview = {
        "images": images,
        "detections": int(detections),
        "per_class": dict(per_class.most_common()),
        "per_scene": dict(per_scene.most_common()),
        "per_split": dict(per_split.most_common()),
        "detections_per_image_mean": detections / images if images else 0.0,
        # when and where (`taken`, from the photos' EXIF: helpers.cv.exif)
        "with_time": taken["time"],
        "with_position": taken["latitude"],
        "taken_problems": taken["problems"],
        "with_pose": taken["pose"],  # and the drone's height and camera's view: their boxes can be placed on the ground
    }
    confidences = np.array([per_bin.get(index, 0) for index in range(bins)])
    return OutputSummary(overview, per_image, confidences, sample, np.array(placed.sample, dtype=float).reshape(-1, 3))


def positions_figure(summary: OutputSummary):
    """Where the photos were taken (their records' `taken`), each a dot coloured by its detections
    (`helpers.core.figures.positions_map`); None when no photo says."""
    points, with_position = summary.positions, summary.overview["with_position"]
    sampled = f" (a sample of {len(points)})" if len(points) < with_position else ""
    return positions_map(points, f"Where {with_position} photos were taken{sampled}", "detections")


def distribution_figure(summary: OutputSummary):
    """Detections per image, detection confidences, and scenes, side by side."""
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(1, 3, figsize=(13, 3.2))
    counts = summary.detections_per_image
    most = max(counts, default=0)
    axes[0].bar(range(most + 1), [counts.get(n, 0) for n in range(most + 1)], width=1.0, color="tab:blue")
    axes[0].set(title="Detections per image", xlabel="detections", ylabel="images")
    edges = CONFIDENCE_BINS
    axes[1].bar(edges[:-1], summary.confidence_counts, width=np.diff(edges), align="edge", color="tab:orange")
    axes[1].set(title="Detection confidence", xlabel="confidence", ylabel="detections")
    scenes = summary.overview["per_scene"]
    axes[2].bar(list(scenes), list(scenes.values()), color="tab:green")
    axes[2].set(title="Scenes", ylabel="images")
    figure.tight_layout()
    return figure


def sample_grid(records: list[dict], source: ImageSource, columns: int = 3):
    """`records` (a few: `OutputSummary.sample`) drawn on their photos with their fused boxes and
    labels, shown as the models saw them (`load_image`: turned as their EXIF says); from a labelled
    source (a YOLO data.yaml or COCO .json), the annotated boxes too, dashed white. A record whose
    photo the source no longer lists is left out."""
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    wanted = {record.get("image") for record in records}
    items = {item.key: item for item in source.items if item.key in wanted}
    chosen = [record for record in records if record.get("image") in items]
    rows = max(1, -(-len(chosen) // columns))
    figure, axes = plt.subplots(rows, columns, figsize=(4.2 * columns, 3.3 * rows), squeeze=False)
    colours = plt.get_cmap("tab10")
    labels = sorted({d["label"] for r in chosen for d in r["detections"]})
    truths = ground_truth(source, chosen) if source.has_ground_truth else []
    for index, (axis, record) in enumerate(zip(axes.flat, chosen)):
        image = load_image(items[record["image"]])
        axis.imshow(image)
        width, height = image.size
        for truth in truths[index] if truths else []:
            x1, y1, x2, y2 = truth["bbox"]
            box = (x1 * width, y1 * height), (x2 - x1) * width, (y2 - y1) * height
            axis.add_patch(Rectangle(*box, fill=False, color="white", lw=1.2, ls="--"))
        for detection in record["detections"]:
            x1, y1, x2, y2 = detection["bbox"]
            colour = colours(labels.index(detection["label"]) % 10)
            axis.add_patch(
                Rectangle(
                    (x1 * width, y1 * height), (x2 - x1) * width, (y2 - y1) * height, fill=False, color=colour, lw=1.5
                )
            )
            axis.text(
                x1 * width,
                y1 * height,
                f"{detection['label']} {detection['confidence']:.2f}",
                color="white",
                fontsize=7,
                bbox={"facecolor": colour, "alpha": 0.8, "pad": 1, "lw": 0},
            )
        axis.set_title(
            f"{record['image']}\nscene: {record['scene']['class']} ({record['scene']['confidence']:.2f})", fontsize=8
        )
    for axis in axes.flat:
        axis.axis("off")
    figure.tight_layout()
    return figure


def ground_truth(source: ImageSource, records: list[dict]) -> list[list[dict]]:
    """The annotated boxes of each record's image (YOLO and COCO sources), in record order."""
    items = {item.key: item for item in source.items}
    return [[{"label": n, "bbox": b} for n, b in source.truth_boxes(items[r["image"]])] for r in records]


def _per_model(record: dict, name: str) -> Detections:
    rows = record.get("model_detections", {}).get(name, [])
    return Detections([d["bbox"] for d in rows], [d["confidence"] for d in rows], [d["label"] for d in rows])


SPLIT_ORDER = ("test", "val", "train")  # held-out photos first: train photos are what the detectors learned


def evaluate_by_split(
    images,
    records: list[dict],
    weights: dict[str, float],
    settings: FusionSettings,
    threshold: float = 0.5,
    image_root: str = "",
    label_map: dict | None = None,
) -> dict[str, dict]:
    """`evaluate_against_truth` per split, test first ("all" when the source has no splits): numbers
    pooled over train and test would mix what the detectors learned from with what they never saw.
    `images`: as `evaluate_against_truth` takes it."""
    # once: a COCO file is parsed, a folder listed
    source = images if isinstance(images, ImageSource) else open_image_source(images, image_root, label_map)
    by_split: dict[str, list[dict]] = {}
    for record in records:
        by_split.setdefault(record.get("split") or "all", []).append(record)
    order = sorted(by_split, key=lambda s: (SPLIT_ORDER.index(s) if s in SPLIT_ORDER else len(SPLIT_ORDER), s))
    return {split: evaluate_against_truth(source, by_split[split], weights, settings, threshold) for split in order}


def by_split_table(evaluations: dict[str, dict], key: str) -> pd.DataFrame:
    """One of the evaluations' tables ("detectors", "conf_types", "per_class") with the split named in the index."""
    return pd.concat({split: evaluation[key] for split, evaluation in evaluations.items()}, names=["split"])


def evaluate_against_truth(
    images,
    records: list[dict],
    weights: dict[str, float],
    settings: FusionSettings,
    threshold: float = 0.5,
    image_root: str = "",
    label_map: dict | None = None,
) -> dict:
    """Per-detector and fused mAP@0.5/precision/recall, the effect of `conf_type`, and scene accuracy.

    Args:
        images: The YOLO data.yaml or COCO .json the records came from (`image_root`, `label_map`: as 01
            read it), or that source already opened (`open_image_source`; a Hugging Face dataset's so).
        records: 01's records, with `model_detections`.
        weights: Ensemble weight per detector name.
        settings: The fusion settings used (the comparison varies only `conf_type`; thinning as used).
        threshold: Confidence a detection needs to count in precision/recall; 0.5 is what
            stage 02 keeps by default (`min_confidence`).

    Returns:
        `{"detectors": DataFrame, "conf_types": DataFrame, "scene": dict, "per_class": DataFrame}`.
    """
    source = images if isinstance(images, ImageSource) else open_image_source(images, image_root, label_map)
    truths = ground_truth(source, records)
    names = list(weights)
    rows, per_class = [], {}
    candidates = {name: [_per_model(r, name).as_records() for r in records] for name in names}
    candidates["fused"] = [r["detections"] for r in records]
    for name, predictions in candidates.items():
        result = detection_metrics(predictions, truths, threshold=threshold)
        rows.append(
            {
                "model": name,
                "map50": result["map50"],
                "precision": result["precision"],
                "recall": result["recall"],
                "detections": sum(len(p) for p in predictions),
            }
        )
        per_class[name] = {label: v["ap50"] for label, v in result["per_class"].items()}
    conf_rows = []
    if len(names) > 1:
        for conf_type in CONF_TYPES:
            variant = dataclasses.replace(settings, conf_type=conf_type)  # one label per object as 01 ran it
            fused = [
                fuse([_per_model(r, n) for n in names], names, [weights[n] for n in names], variant) for r in records
            ]
            result = detection_metrics(fused, truths, threshold=threshold)
            single = [d for f in fused for d in f if len(d["sources"]) == 1]
            conf_rows.append(
                {
                    "conf_type": conf_type,
                    "map50": result["map50"],
                    "precision": result["precision"],
                    "recall": result["recall"],
                    f"kept_at_{threshold}": sum(d["confidence"] >= threshold for f in fused for d in f),
                    "single_model_boxes": len(single),
                    f"single_model_kept_at_{threshold}": sum(d["confidence"] >= threshold for d in single),
                }
            )
    truth_scenes = [source.scenes.get(r["image"], "unknown") for r in records]
    scene = scene_metrics([r["scene"]["class"] for r in records], truth_scenes) if source.scenes else {}
    return {
        "detectors": pd.DataFrame(rows).set_index("model"),
        "conf_types": pd.DataFrame(conf_rows).set_index("conf_type") if conf_rows else pd.DataFrame(),
        "per_class": pd.DataFrame(per_class),
        "scene": scene,
    }


def confusion_figure(scene: dict):
    """The scene confusion matrix as a heat map (rows: true scene)."""
    import matplotlib.pyplot as plt

    matrix = np.array(scene["confusion"])
    figure, axis = plt.subplots(figsize=(4.5, 3.8))
    axis.imshow(matrix, cmap="Blues")
    axis.set_xticks(range(len(scene["labels"])), scene["labels"], rotation=45, ha="right")
    axis.set_yticks(range(len(scene["labels"])), scene["labels"])
    for (i, j), value in np.ndenumerate(matrix):
        axis.text(j, i, str(value), ha="center", va="center", color="black" if value < matrix.max() / 2 else "white")
    axis.set(xlabel="predicted", ylabel="true", title=f"Scene accuracy {scene['accuracy']:.1%}")
    figure.tight_layout()
    return figure
