"""Ground truth held in a Hugging Face object-detection dataset, as the Hub's detection datasets
and the `transformers` object-detection guide lay it out.

    desclm extract --images litter_ds/ --detections_from labels            # an oracle detector
    desclm calibrate --images litter_ds/ --yolo_weights best.pt ...          # its validation split

Each photo's boxes are an objects column (`objects_column`; by default the one column holding a box field,
`bbox`, `bboxes`, `boxes` or `box`, and a category field: `category`, `category_id`, `label`, `labels`,
`class` or `class_id`; an hf export's `detections`, predictions at any confidence, only when named), either
a struct of lists (`datasets.Sequence({...})`) or a list of structs. A category is its `ClassLabel` name, or
the text itself. `bbox_format` says how a box is written: `coco` ([x, y, width, height] in pixels: the
guide's and the Hub's usual, and an hf export's with --objects), `pascal_voc` ([x1, y1, x2, y2] in pixels,
as `transformers`' post-processing gives them), `albumentations` ([x1, y1, x2, y2] normalised) or `yolo`
([x_center, y_center, width, height] normalised). Pixel boxes are normalised by the row's `width` and
`height` columns where the dataset has them, else by the photo's size as a person sees it (turned as its
EXIF says, as 01's records are), and rounded as a YOLO label's. A box that is not four finite numbers, lies
outside the photo or has its corners swapped makes that photo's ground truth an error (its record says why),
never the run's. Splits come from a `DatasetDict`: `validation` (or `valid`) is the `val` split that
calibration uses. A `scene` column (text, a `ClassLabel`, or desclm's own class and confidence) is each
photo's ground-truth scene, as a data.yaml's `scenes.csv` is.
"""

from __future__ import annotations

import functools
import io
import logging
import math
from collections.abc import Callable
from dataclasses import dataclass

from helpers.core.photo_datasets import PhotoDataset, open_photo_dataset, seen_size

CATEGORY_FIELDS = ("category", "category_id", "label", "labels", "class", "class_id")
BOX_FIELDS = ("bbox", "bboxes", "boxes", "box")
BBOX_FORMATS = ("coco", "pascal_voc", "albumentations", "yolo")
logger = logging.getLogger(__name__)

SCENE_COLUMN = "scene"
DESCLM_DETECTIONS = "detections"  # an hf export's column of the CV records' detections
DEFAULT_BBOX_FORMAT = "coco"


def _fields(column_type) -> list[str]:
    """The field names of an objects column: a struct's, or a list of structs' items'."""
    import pyarrow as pa

    if pa.types.is_list(column_type) or pa.types.is_large_list(column_type):
        column_type = column_type.value_type
    return [field.name for field in column_type] if pa.types.is_struct(column_type) else []


def category_field(fields: list[str]) -> str | None:
    return next((name for name in CATEGORY_FIELDS if name in fields), None)


def box_field(fields: list[str]) -> str | None:
    return next((name for name in BOX_FIELDS if name in fields), None)


def is_desclm_detections(dataset: PhotoDataset, name: str) -> bool:
    """Whether a column is an hf export's `detections` (the dataset has its `description` and `captions` too): the CV
    records' predictions at any confidence (not labels), their boxes [x1, y1, x2, y2] in 0..1."""
    return _exported_detections(dataset.schema, name)


def _exported_detections(schema, name: str) -> bool:
    fields = _fields(schema.field(name).type)
    exported = {"description", "captions"} <= set(schema.names)
    return exported and name == DESCLM_DETECTIONS and {"label", "confidence", "bbox"} <= set(fields)


def find_objects_column(dataset: PhotoDataset, name: str = "") -> str | None:
    """The objects column: `name` (checked), else the one column with a bbox and a category field, else None. An hf
    export's `detections` (`is_desclm_detections`) are predictions at any confidence, no labels: read only when named
    (its --objects column holds the boxes its descriptions state).

    Raises:
        ValueError: `name` is not a column of boxes and categories, or several columns are.
    """
    return objects_column_of(dataset.schema, name, str(dataset.location))


def objects_column_of(schema, name: str = "", where: str = "the dataset") -> str | None:
    """`find_objects_column` of a dataset's Arrow `schema` (`where` names the dataset in errors)."""
    if name:
        if name not in schema.names:
            raise ValueError(f"{where}: no column {name!r} (objects_column); it has {schema.names}")
        fields = _fields(schema.field(name).type)
        if box_field(fields) is None or category_field(fields) is None:
            raise ValueError(
                f"{where}: column {name!r} holds {fields or 'no fields'}, not one of "
                f"{', '.join(BOX_FIELDS)} and one of {', '.join(CATEGORY_FIELDS)} (objects_column)"
            )
        return name
    found = [
        field.name
        for field in schema
        if box_field(_fields(field.type)) is not None
        and category_field(_fields(field.type)) is not None
        and not _exported_detections(schema, field.name)  # predictions, not labels: named, or none
    ]
    if len(found) > 1:
        raise ValueError(f"{where}: several columns of boxes {found}: name one with objects_column")
    return found[0] if found else None


def _class_names(feature, field: str) -> list[str] | None:
    """A `ClassLabel`'s names for `field` inside a column's feature description, if `datasets` wrote one."""
    if isinstance(feature, list):
        return next((names for item in feature if (names := _class_names(item, field))), None)
    if not isinstance(feature, dict):
        return None
    if feature.get("_type") == "ClassLabel":
        return [str(name) for name in feature.get("names") or []]
    if field in feature:
        return _class_names(feature[field], "")
    return _class_names(feature.get("feature"), field) if "feature" in feature else None


@dataclass(frozen=True)
class ObjectsReader:
    """How a dataset's objects column reads (see the module docstring): its box and category fields, the category
    names of its `ClassLabel`, the boxes' format. Picklable: `helpers.cv.dataset_map` sends it to `map`'s
    processes."""

    column: str
    field: str | None  # the category field
    box_field: str | None
    names: tuple[str, ...] | None  # the ClassLabel's names, if any
    bbox_format: str = DEFAULT_BBOX_FORMAT

    @classmethod
    def of(cls, schema, features: dict, column: str, bbox_format: str, where: str = "the dataset") -> ObjectsReader:
        """The reader of `column` of a dataset with this Arrow `schema` and `features` (datasets' description of
        them, as `Features.to_dict()` writes it). An hf export's `detections` are read as their boxes are written,
        [x1, y1, x2, y2] in 0..1, whatever `bbox_format` says.

        Raises:
            ValueError: An unknown `bbox_format`.
        """
        if bbox_format not in BBOX_FORMATS:
            raise ValueError(f"bbox_format must be one of {', '.join(BBOX_FORMATS)}, got {bbox_format!r}")
        if _exported_detections(schema, column) and bbox_format != "albumentations":
            logger.warning("%s: %s holds desclm's boxes, [x1, y1, x2, y2] in 0..1: read so", where, column)
            bbox_format = "albumentations"
        fields = _fields(schema.field(column).type)
        names = _class_names(features.get(column), category_field(fields))
        return cls(column, category_field(fields), box_field(fields), tuple(names) if names else None, bbox_format)

    @property
    def pixels(self) -> bool:
        """Whether its boxes are in pixels (and need the photo's size)."""
        return self.bbox_format not in ("yolo", "albumentations")

    def boxes(self, value, size: Callable[[], tuple[float, float]], where: str) -> list[tuple[str, list[float]]]:
        """A row's (category name, [x1, y1, x2, y2] normalised) pairs from its cell `value`; `size` gives the
        photo's (width, height) in pixels, asked for only where boxes are in pixels.

        Raises:
            ValueError: A box or category that cannot be read, naming `where` and the box.
        """
        if value is None:
            return []
        if isinstance(value, dict):  # a struct of lists (`datasets.Sequence`)
            boxes, categories = value.get(self.box_field) or [], value.get(self.field) or []
            if len(boxes) != len(categories):
                raise ValueError(f"{where}: {self.column} holds {len(boxes)} boxes and {len(categories)} categories")
            objects = [{self.box_field: box, self.field: category} for box, category in zip(boxes, categories)]
        else:  # a list of structs
            objects = [item or {} for item in value]
        scale = size() if objects and self.pixels else (1.0, 1.0)
        return [
            (self._name(item.get(self.field), where, index), self._box(item.get(self.box_field), scale, where, index))
            for index, item in enumerate(objects)
        ]

    def _name(self, category, where: str, index: int) -> str:
        if isinstance(category, str):
            return category
        if isinstance(category, int) and self.names and 0 <= category < len(self.names):
            return self.names[category]
        known = f"one of the {len(self.names)} ClassLabel names" if self.names else "named (no ClassLabel names)"
        raise ValueError(f"{where}: {self.column}[{index}].{self.field} is {category!r}, not {known}")

    def _box(self, bbox, size: tuple[float, float], where: str, index: int) -> list[float]:
        numbers = bbox if isinstance(bbox, list | tuple) else []
        if len(numbers) != 4 or not all(isinstance(v, int | float) and math.isfinite(v) for v in numbers):
            raise ValueError(f"{where}: {self.column}[{index}].{self.box_field} must be 4 finite numbers, got {bbox!r}")
        a, b, c, d = (float(v) for v in numbers)
        if self.bbox_format == "coco":
            a, b, c, d = a, b, a + c, b + d
        elif self.bbox_format == "yolo":
            a, b, c, d = a - c / 2, b - d / 2, a + c / 2, b + d / 2
        width, height = size
        box = [a / width, b / height, c / width, d / height]
        slack = 1e-3  # annotation tools round a box's edge to the pixel just outside the photo
        if not (-slack <= box[0] <= box[2] <= 1 + slack and -slack <= box[1] <= box[3] <= 1 + slack):
            raise ValueError(
                f"{where}: {self.column}[{index}].{self.box_field} {bbox!r} ({self.bbox_format}) is not a box "
                f"inside the {width:g}x{height:g} photo (is bbox_format right?)"
            )
        return [round(min(max(v, 0.0), 1.0), 6) for v in box]  # as a YOLO label's box


class DatasetTruth:
    """The labelled boxes of a dataset's rows (see the module docstring)."""

    def __init__(self, dataset: PhotoDataset, column: str, bbox_format: str = DEFAULT_BBOX_FORMAT) -> None:
        self.dataset = dataset
        self.reader = ObjectsReader.of(dataset.schema, dataset.features, column, bbox_format, str(dataset.location))
        self.sized = {"width", "height"} <= set(dataset.schema.names)

    def class_names(self) -> list[str]:
        return list(self.reader.names or [])

    def boxes(self, row: int) -> list[tuple[str, list[float]]]:
        """The row's (category name, [x1, y1, x2, y2] normalised) pairs.

        Raises:
            ValueError: A box or category that cannot be read, naming the row and the box.
        """
        value = self.dataset.cell(row, self.reader.column)
        return self.reader.boxes(value, lambda: self._size(row), self.dataset.where(row))

    def _size(self, row: int) -> tuple[float, float]:
        """The photo's (width, height) in pixels: the row's columns, else its header, turned as its EXIF says."""
        if self.sized:
            width, height = self.dataset.cell(row, "width"), self.dataset.cell(row, "height")
            if isinstance(width, int | float) and isinstance(height, int | float) and width > 0 and height > 0:
                return float(width), float(height)
        from PIL import Image

        with Image.open(io.BytesIO(self.dataset.read(row))) as image:
            width, height = seen_size(image)
        return float(width), float(height)


def dataset_scenes(dataset: PhotoDataset, keys: list[str]) -> dict[str, str]:
    """Each photo's ground-truth scene by key (`keys`: the rows'), from the `scene` column ({} without one).

    Raises:
        ValueError: A scene is a number outside the column's `ClassLabel` names (naming the row).
    """
    if SCENE_COLUMN not in dataset.schema.names:
        return {}
    names = _class_names(dataset.features.get(SCENE_COLUMN), "")
    scenes = {}
    for row, (key, value) in enumerate(zip(keys, dataset.values(SCENE_COLUMN))):
        if isinstance(value, dict):  # desclm's own layout (an hf export's `scene`: its class and confidence)
            value = value.get("class")
        if value is None or value == -1:  # `datasets`' ClassLabel for "no label"
            continue
        if isinstance(value, int) and not isinstance(value, bool):
            if not names or not 0 <= value < len(names):
                known = f"one of its {len(names)} ClassLabel names" if names else "named (no ClassLabel names)"
                raise ValueError(f"{dataset.where(row)}: {SCENE_COLUMN} is {value}, not {known}")
            value = names[value]
        scenes[key] = str(value)
    return scenes


@functools.lru_cache(maxsize=8)
def dataset_truth(location: str, image_column: str, objects_column: str, bbox_format: str) -> DatasetTruth:
    """`DatasetTruth` over a dataset, made once per process (Ray's model actors read it too)."""
    return DatasetTruth(open_photo_dataset(location, image_column), objects_column, bbox_format)
