"""Notebook 04's "true about the photo" section: the three-column table and the worst photos."""

from __future__ import annotations

import textwrap
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd

from helpers.core.photo_datasets import PhotoKeys, photos_of_cv_output
from helpers.describer.truth import COLUMNS, worst_photos

# Each measure with its unit in its name: one unit per column of `truth_table`.
ROW_NAMES = {
    "true": "described truly (%)",
    "counts_exact": "all counts exact (%)",
    "missed_categories": "categories missed (count)",
    "invented_categories": "categories invented (count)",
    "mean_count_error": "mean count error (items per photo)",
    "littered_called_clean": "littered photos called clean (count)",
    "clean_called_littered": "clean photos called littered (count)",
    "scene_right": "scene right (count)",
    "scene_wrong": "scene wrong (count)",
    "scene_not_stated": "scene not stated (count)",
}
COLUMN_NAMES = {
    "end_to_end": "sentence from detectors",
    "describer_on_truth": "sentence from ground truth",
    "detectors": "detectors' output",
}


def photos_of(pairs_dir: str | Path) -> PhotoKeys | None:
    """The photos the test records' keys name (02's CV outputs -> 01's manifest: its folder, or its
    Hugging Face dataset with the columns 01 read), if known."""
    from helpers.core.contract import pairs_cv_outputs
    from helpers.core.paths import resolve

    cv_outputs = pairs_cv_outputs(resolve(pairs_dir))
    return photos_of_cv_output(resolve(cv_outputs)) if cv_outputs else None


def truth_table(summary: dict) -> pd.DataFrame:
    """Rows: end to end, the describer on ground truth, the detectors; columns: the per-photo
    measures, each in one unit (named in the column)."""
    table = {}
    for column in COLUMNS:
        values = summary[column]
        table[COLUMN_NAMES[column]] = {
            name: 100 * values[key] if key in ("true", "counts_exact") else values[key]
            for key, name in ROW_NAMES.items()
        }
    return pd.DataFrame(table).T.round(2)


def _draw_boxes(axis, detections, width: int, height: int, colour: str, style: str) -> None:
    for detection in detections:
        if not detection.get("bbox"):
            continue
        x1, y1, x2, y2 = detection["bbox"]
        axis.add_patch(
            plt.Rectangle(
                (x1 * width, y1 * height),
                (x2 - x1) * width,
                (y2 - y1) * height,
                fill=False,
                edgecolor=colour,
                linestyle=style,
                linewidth=1.5,
            )
        )


def plot_worst_photos(
    rows: list[dict],
    records: dict[str, dict],
    photos: PhotoKeys | None,
    path: Path,
    count: int = 6,
    min_confidence: float = 0.5,
) -> Path | None:
    """The photos whose sentence is furthest from the truth: ground-truth boxes dashed green, the
    detectors' boxes (above the model's threshold) solid red, both sentences under each photo.
    Returns None when there is nothing to draw or the photos are not on this machine."""
    worst = [row for row in worst_photos(rows, count) if photos and photos.exists(str(row["id"]))]
    if not worst:
        return None
    columns = min(3, len(worst))
    lines = (len(worst) + columns - 1) // columns
    figure, axes = plt.subplots(lines, columns, figsize=(5 * columns, 5.2 * lines), squeeze=False)
    for axis in axes.flat:
        axis.axis("off")
    for axis, row in zip(axes.flat, worst):
        record = records[row["id"]]
        image = photos.image(str(row["id"]))
        axis.imshow(image)
        width, height = image.size
        _draw_boxes(axis, record["ground_truth"]["detections"], width, height, "lime", "--")
        kept = [d for d in record["detections"] if d["confidence"] >= min_confidence]
        _draw_boxes(axis, kept, width, height, "red", "-")
        caption = [f"said: {row['sentence']}", f"true: {row['truth_sentence']}"]
        axis.set_title("\n".join(textwrap.fill(part, 60) for part in caption), fontsize=8, loc="left")
    figure.tight_layout()
    figure.savefig(path, dpi=90)
    plt.close(figure)
    return path
