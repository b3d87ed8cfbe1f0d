"""Reading a COCO instances JSON (TACO, CVAT, Label Studio exports) as photos with ground truth.

    desclm extract --images annotations/instances_default.json [--image_root photos/] ...

The file is read with pycocotools (`COCO`, the reference reader). Each `images` entry is a photo:
`file_name` relative to the JSON's folder, unless `image_root` names another. Each annotation is a
box of its category's `name`, `[x, y, width, height]` in pixels, normalised here by the image's
`width` and `height` to `[x1, y1, x2, y2]` in 0..1, as YOLO labels are read
(`helpers.cv.yolo_data.read_labels`). Crowd regions (`iscrowd: 1`) mark many objects at once,
not one: they are left out of the counts, as COCO's own evaluation ignores them. A `scenes.csv`
beside the JSON (columns `image`, `scene`, as beside a YOLO data.yaml) gives each photo's scene.
"""

from __future__ import annotations

import contextlib
import csv
import io
import math
from dataclasses import dataclass, field
from pathlib import Path

from helpers.core.paths import photo_under, photos_root, require_file


@dataclass
class CocoDataset:
    """The photos of a COCO instances file and their labelled boxes."""

    root: Path  # the folder `file_name`s are relative to
    names: list[str]  # category names, in category id order
    images: list[Path] = field(default_factory=list)  # absolute paths, in the file's order
    boxes: dict[Path, list[tuple[str, list[float]]]] = field(default_factory=dict)  # photo -> (name, box)
    problems: dict[Path, str] = field(default_factory=dict)  # photo -> why its truth cannot be used
    scenes: dict[str, str] = field(default_factory=dict)  # `file_name` -> scene (scenes.csv beside the JSON)
    photo_of: dict = field(default_factory=dict)  # image id -> photo (for detection results)
    name_of: dict = field(default_factory=dict)  # category id -> name
    sizes: dict[Path, tuple[float, float]] = field(default_factory=dict)  # photo -> (width, height) in pixels


def _number(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def load_coco(path: str | Path, image_root: str | Path | None = None) -> CocoDataset:
    """Reads a COCO instances JSON (see the module docstring).

    Raises:
        ValueError: Naming the file and the field, when it is not a COCO instances file (no
            `images` or `categories`, an image without `file_name`/`width`/`height`, an annotation
            of an unknown image or category). A bad box is that photo's problem (`problems`), not
            the file's.
    """
    from pycocotools.coco import COCO

    file = require_file(path, "COCO instances JSON", kind="file")
    with contextlib.redirect_stdout(io.StringIO()):  # pycocotools prints its progress
        try:
            coco = COCO(str(file))
        except (ValueError, TypeError, KeyError) as error:
            raise ValueError(f"{file}: not a COCO instances file ({type(error).__name__}: {error})") from None
    dataset = coco.dataset
    for key in ("images", "categories"):
        if not isinstance(dataset.get(key), list):
            raise ValueError(f"{file}: no '{key}' list: not a COCO instances file")
    names_by_id = {}
    for index, category in enumerate(dataset["categories"]):
        if not isinstance(category, dict) or "id" not in category or not str(category.get("name", "")).strip():
            raise ValueError(f"{file}: categories[{index}] needs an 'id' and a 'name', got {category!r}")
        names_by_id[category["id"]] = str(category["name"])
    root = photos_root(image_root, file.parent)
    in_id_order = sorted(names_by_id, key=lambda k: (0, k, "") if isinstance(k, int) else (1, 0, str(k)))
    result = CocoDataset(root, [names_by_id[k] for k in in_id_order], name_of=names_by_id)
    photos = {}
    for index, image in enumerate(dataset["images"]):
        where = f"{file}: images[{index}]"
        if not isinstance(image, dict) or not isinstance(image.get("file_name"), str) or "id" not in image:
            raise ValueError(f"{where} needs an 'id' and a 'file_name', got {image!r}")
        if not all(_number(image.get(side)) and image[side] > 0 for side in ("width", "height")):
            raise ValueError(f"{where} ({image['file_name']}) needs a positive 'width' and 'height' (pixels)")
        # its path as extraction reads the photo from (`..` taken out: Label Studio's export goes up a folder)
        photo = photo_under(root, image["file_name"], f"{where} file_name")
        photos[image["id"]] = (photo, image["width"], image["height"])
        result.photo_of[image["id"]] = photo
        result.sizes[photo] = (image["width"], image["height"])
        result.images.append(photo)
        result.boxes.setdefault(photo, [])
    for index, annotation in enumerate(dataset.get("annotations") or []):
        where = f"{file}: annotations[{index}]"
        if annotation.get("image_id") not in photos:
            raise ValueError(f"{where}: image_id {annotation.get('image_id')!r} is not in 'images'")
        if annotation.get("category_id") not in names_by_id:
            raise ValueError(f"{where}: category_id {annotation.get('category_id')!r} is not in 'categories'")
        photo, width, height = photos[annotation["image_id"]]
        if annotation.get("iscrowd"):
            continue
        bbox = annotation.get("bbox")
        if not (isinstance(bbox, list) and len(bbox) == 4 and all(map(_number, bbox)) and bbox[2] >= 0 <= bbox[3]):
            result.problems.setdefault(photo, f"{where}: bbox must be [x, y, width, height] in pixels, got {bbox!r}")
            continue
        x, y, w, h = bbox
        box = [max(0.0, x / width), max(0.0, y / height), min(1.0, (x + w) / width), min(1.0, (y + h) / height)]
        result.boxes[photo].append((names_by_id[annotation["category_id"]], [round(v, 6) for v in box]))
    scenes_csv = file.parent / "scenes.csv"
    if scenes_csv.is_file():
        with open(scenes_csv, newline="", encoding="utf-8-sig") as handle:
            result.scenes = {row["image"]: row["scene"] for row in csv.DictReader(handle)}
    return result
