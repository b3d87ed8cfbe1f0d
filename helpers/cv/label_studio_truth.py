"""A Label Studio project's reviewed boxes as ground truth: its JSON (or JSON-MIN) export as 01's images.

    desclm extract --images label_studio_export.json --image_root data/photos --detections_from labels
    desclm extract --images label_studio_export.json --image_root data/photos --yolo_weights best.pt ...

People corrected the boxes of `desclm export --format label_studio`'s tasks; this reads them back keyed
by each task's `photo_id`, the key the photo's CV record already has, so the truth joins the records 01
made before (Label Studio's COCO and YOLO exports rename or re-root the photos: their truth joins only
records made from the export). A task is a photo when an annotation of it was submitted and not
cancelled: the newest such annotation's `rectanglelabels` boxes are its truth (none: a photo people
found clean); tasks nobody reviewed are passed over and counted. Each box is its percent of the photo
(`x`, `y`, `width`, `height`, the top-left corner, turned by `rotation` degrees about it) as
[x1, y1, x2, y2] in 0..1, a turned box its upright extent (in pixels, `original_width`/`height`), its
label the first of its labels, as given.

Photos are named by `photo_id` relative to `image_root` (the folder the export was made from), else, for
tasks made elsewhere, by their Label Studio local files URL's path (`/data/local-files/?d=photos/a.jpg`:
`photos/a.jpg`, relative to `image_root` as the document root), or by the URL its cloud storage gave them
(`s3://bucket/photos/a.jpg`, below an `image_root` in the bucket: `s3://bucket/photos/`; a task whose photo lies
outside `image_root` is passed over and counted); tasks desclm exported before `photo_id`
named it `data.id` (with `captions` beside it). JSON-MIN entries (one per annotation: the task's data and
each control's results merged, Label Studio's task id as `id`) are read the same way by their `photo_id`.
The file is read as a stream (`ijson`). A box that cannot be read is its photo's problem, not the file's.
"""

from __future__ import annotations

import logging
import math
from decimal import Decimal
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from helpers.core.io import json_array_items
from helpers.core.label_studio_exports import is_min_entry
from helpers.core.paths import photo_under, photos_root, require_file
from helpers.core.remote import is_remote
from helpers.cv.coco_data import CocoDataset

logger = logging.getLogger(__name__)


def is_label_studio_export(path: Path) -> bool:
    """Whether a `.json` array's first entry is a Label Studio task (its `data` with `annotations`) or a JSON-MIN
    annotation (`annotation_id`, `lead_time`), read without reading the rest."""
    try:
        first = next(json_array_items(path), None)
    except (ValueError, OSError):
        return False
    return _is_task(first) or is_min_entry(first)


def _is_task(entry) -> bool:
    return isinstance(entry, dict) and isinstance(entry.get("data"), dict) and "annotations" in entry


def load_label_studio(path: str | Path, image_root: str | Path | None = None) -> CocoDataset:
    """Reads a Label Studio JSON or JSON-MIN export's reviewed photos and their boxes (see the module
    docstring) as a dataset of photos with truth (the shape `load_coco` gives: `images`, `boxes`, `names`,
    `problems`).

    Raises:
        ValueError: Not a JSON array of Label Studio tasks or JSON-MIN entries, naming the entry; a task that
            names no photo, naming it and why; every reviewed task's photo outside `image_root` (not where the
            photos lie), naming the first.
    """
    file = require_file(path, "Label Studio JSON export", kind="file")
    root = photos_root(image_root, file.parent)
    newest: dict[str, tuple[str, list]] = {}  # photo key -> (its newest annotation's time, its results)
    unreviewed = 0
    for number, entry in enumerate(json_array_items(file), start=1):
        where = f"{file}: entry {number}"
        if _is_task(entry):
            key = _task_key(entry["data"], where)
            annotations = entry["annotations"] if isinstance(entry["annotations"], list) else []
            kept = [a for a in annotations if isinstance(a, dict) and not a.get("was_cancelled")]
            answers = [(str(a.get("created_at") or ""), _listed(a.get("result"))) for a in kept]
        elif is_min_entry(entry):
            key = _photo_id(entry.get("photo_id"), where)
            results = [v for value in entry.values() if isinstance(value, list) for v in value]
            boxes = [{"type": "rectanglelabels", "value": v} for v in results if _is_box_value(v)]
            answers = [(str(entry.get("created_at") or ""), boxes)] if entry.get("annotation_id") else []
        else:
            raise ValueError(f"{where}: neither a Label Studio task (data, annotations) nor a JSON-MIN entry")
        if not answers:
            unreviewed += 1
            continue
        latest = max(answers, key=lambda answer: answer[0])
        if key not in newest or latest[0] > newest[key][0]:
            newest[key] = latest
    if unreviewed:
        logger.info("%s: %d tasks nobody reviewed (no annotation kept) passed over", file, unreviewed)
    dataset = CocoDataset(root, [])
    outside = []
    for key, (_, results) in newest.items():
        try:
            photo = photo_under(root, key, f"{file}: task of {key}")
        except ValueError as error:  # a task's photo in another bucket or folder: that task, not the file
            outside.append(str(error))
            continue
        dataset.images.append(photo)
        dataset.boxes[photo] = []
        for place, result in enumerate(results):
            if not isinstance(result, dict) or result.get("type") != "rectanglelabels":
                continue
            try:
                label, box = _box(result)
            except (KeyError, TypeError, ValueError) as error:
                dataset.problems.setdefault(photo, f"{file}: {key}, result {place + 1}: {error}")
                continue
            if label not in dataset.names:
                dataset.names.append(label)
            dataset.boxes[photo].append((label, box))
    if outside and not dataset.images:  # no photo at all: image_root is not where the photos lie
        raise ValueError(f"{outside[0]} (and every other reviewed task's photo)")
    if outside:
        logger.warning(
            "%d reviewed tasks passed over, their photo outside image_root (the first: %s)", len(outside), outside[0]
        )
    return dataset


def _listed(value) -> list:
    return value if isinstance(value, list) else []


def _photo_id(value, where: str) -> str:
    if isinstance(value, str | int | Decimal) and not isinstance(value, bool) and str(value):
        return str(value)  # a number beyond 64 bits is read as a Decimal: its digits
    raise ValueError(f"{where}: no photo_id naming its photo (Label Studio's JSON-MIN writes its own task id as id)")


def _task_key(data: dict, where: str) -> str:
    """A task's photo: `photo_id`; `id` in tasks desclm exported before it (with `captions`); else the path of
    its Label Studio local files URL (`?d=`)."""
    if data.get("photo_id") is not None:
        return _photo_id(data["photo_id"], where)
    if data.get("id") is not None and "captions" in data:
        return _photo_id(data["id"], where)
    image = data.get("image")
    if isinstance(image, str) and is_remote(image) and not urlsplit(image).query:  # its cloud storage's (s3://...)
        return image
    served = parse_qs(urlsplit(image).query).get("d") if isinstance(image, str) else None
    if served:
        return served[0]
    raise ValueError(
        f"{where}: no data.photo_id, nor a Label Studio local files URL (?d=) or a cloud storage URL (s3://...) in "
        f"data.image: {image!r}"
    )


def _is_box_value(value) -> bool:
    return isinstance(value, dict) and isinstance(value.get("rectanglelabels"), list)


def _box(result: dict) -> tuple[str, list[float]]:
    """A `rectanglelabels` result's first label and its box [x1, y1, x2, y2] in 0..1 (see the module docstring).

    Raises:
        ValueError, KeyError, TypeError: A box without its label, numbers or (turned) photo size.
    """
    value = result["value"]
    labels = value["rectanglelabels"]
    if not (isinstance(labels, list) and labels and isinstance(labels[0], str)):
        raise ValueError(f"rectanglelabels must be a list of label texts, got {labels!r}")
    label = labels[0]
    x, y, width, height = (float(value[name]) / 100 for name in ("x", "y", "width", "height"))
    rotation = float(value.get("rotation") or 0.0)
    if not all(map(math.isfinite, (x, y, width, height, rotation))) or width < 0 or height < 0:
        raise ValueError(f"a box must be finite percents with a size >= 0, got {value!r}")
    if rotation % 360:  # turned about its top-left corner, in pixels: its upright extent
        pixels_w = float(result.get("original_width") or value.get("original_width"))
        pixels_h = float(result.get("original_height") or value.get("original_height"))
        turn = math.radians(rotation)
        corners = [(0.0, 0.0), (width * pixels_w, 0.0), (width * pixels_w, height * pixels_h), (0.0, height * pixels_h)]
        xs = [x + (u * math.cos(turn) - v * math.sin(turn)) / pixels_w for u, v in corners]
        ys = [y + (u * math.sin(turn) + v * math.cos(turn)) / pixels_h for u, v in corners]
        x, y, width, height = min(xs), min(ys), max(xs) - min(xs), max(ys) - min(ys)
    box = [max(0.0, x), max(0.0, y), min(1.0, x + width), min(1.0, y + height)]
    return label, [round(v, 6) for v in box]
