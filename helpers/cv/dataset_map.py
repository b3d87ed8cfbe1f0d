"""01's CV records as columns of a Hugging Face dataset, made inside `Dataset.map`: for photos already in a
`datasets.Dataset` in Python (a notebook's `load_dataset("imagefolder", ...)`, a dataset of the Hub's, a
streamed `IterableDataset`), without writing them out for `desclm extract` first.

    from datasets import load_dataset
    from helpers.cv import ExtractConfig, with_cv_columns
    photos = load_dataset("imagefolder", data_dir="/data/photos", split="train")
    photos = with_cv_columns(photos, yolo_weights="best.pt", scene_weights="scene.pt")   # desclm extract's settings

or, as any function of `map` (`ExtractColumns` is one; `config` an `ExtractConfig`, its `images` unused):

    extract = ExtractColumns(config, image_column="image")
    photos = photos.cast_column("image", Image(decode=False))   # bytes: JPEGs drafted, EXIF read as 01 does
    photos = photos.map(extract, batched=True, batch_size=16, features=extract.features(photos.features))

Each row gets `detections` (a list of `label`, `confidence`, `bbox` [x1, y1, x2, y2] in 0..1 and the detectors that
found it, `sources`), `scene` (`class`, `confidence`) and `taken` (when and where, from its EXIF; None where unknown
or `read_exif` is off), and where the dataset has neither a `width` nor a `height` column those (the photo's size as
a person sees it), as `desclm extract` writes them for the same photo with the same settings (the same models,
fusion and thresholds: `helpers.cv.batch.BatchExtractor`), and `cv_error`: None, or why the photo has no record
(unreadable, or a model failed on it alone), its detections and scene then None, not empty: one bad photo costs its
row only. A dataset with labelled boxes (an objects column, found as 01 finds it: `objects_column`, `bbox_format`,
`helpers.cv.hf_truth`) also gets `ground_truth`, its labels as 01's records carry them, which `with_descriptions`
compares each description with (`labels`), or `ground_truth_error` (its labels cannot be read; the photo is still
detected). The columns are typed (`cv_features`): `datasets` infers a column's type from the first batch, and a
first batch without a detection would type `detections` as empty lists, which a later batch's boxes cannot be cast
to.

The models load in the process that first calls the function, once. `map`'s cache and fingerprint see the settings
and the models' files (their sizes and times), not the loaded models: the same settings over the same dataset come
back from the cache, and `num_proc` processes each load their own; with `with_rank=True` (as `with_cv_columns`
passes for `num_proc`), process k runs on GPU k modulo the GPUs there are (datasets' way to use several GPUs: start
them by spawn, `multiprocess.set_start_method("spawn")`, as its documentation says; forked ones are refused once the
models have run here, `helpers.core.dataset_maps.check_processes`). On the CPU one process already uses every core.
01's other outputs are `desclm extract`'s (each detector's own detections, resuming, manifests), and so is its pace
at scale: `map` hands over one batch at a time, so a batch's photos are decoded (on `loader_threads`) and then
detected, where `desclm extract` decodes the next batches while the models run. `with_descriptions`
(`helpers.describer.dataset_map`) describes the rows.
"""

from __future__ import annotations

import json
import logging
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

from PIL import Image

from helpers.core.dataset_maps import (
    each_split,
    files_stamp,
    known_features,
    mapped,
    models_loaded,
    rank_device,
    refuse_taken_columns,
    rows_with,
    split_extra,
)
from helpers.core.ground import POSE_LIMITS
from helpers.cv.batch import BatchExtractor, Decoded
from helpers.cv.config import ExtractConfig
from helpers.cv.detectors import UNKNOWN_SCENE
from helpers.cv.hf_truth import ObjectsReader, objects_column_of
from helpers.cv.labels import normalise_label
from helpers.cv.sources import ImageItem, ImageSource, decode_bytes, decode_opened

logger = logging.getLogger(__name__)
CV_COLUMNS = ("detections", "scene", "taken", "cv_error")  # the columns `ExtractColumns` adds
TRUTH_COLUMNS = ("ground_truth", "ground_truth_error")  # and of a dataset with labelled boxes (`objects`)
SIZE_COLUMNS = ("width", "height")  # and, asked for (`sizes`), the photo's size as 01's records hold it
TAKEN_NUMBERS = ("latitude", "longitude", "altitude", *POSE_LIMITS)  # `taken`'s numeric fields (helpers.cv.exif)


def cv_features() -> dict:
    """The added columns' `datasets` features (see the module docstring)."""
    from datasets import List, Value

    box = {
        "label": Value("string"),
        "confidence": Value("float64"),
        "bbox": List(Value("float64")),
        "sources": List(Value("string")),
    }
    taken = {"time": Value("string")} | {name: Value("float64") for name in TAKEN_NUMBERS}
    return {
        "detections": List(box),
        "scene": {"class": Value("string"), "confidence": Value("float64")},
        "taken": taken | {"problems": List(Value("string"))},
        "cv_error": Value("string"),
    }


def truth_features() -> dict:
    """The labels' columns' `datasets` features: 01's `ground_truth` (the labelled boxes, the scene unknown)."""
    from datasets import List, Value

    box = {"label": Value("string"), "bbox": List(Value("float64"))}
    scene = {"class": Value("string"), "confidence": Value("float64")}
    return {"ground_truth": {"detections": List(box), "scene": scene}, "ground_truth_error": Value("string")}


class ExtractColumns:
    """`Dataset.map`'s function (`batched=True`) adding each photo's CV record as columns; see the module docstring.

    Args:
        config: The extraction's settings (`desclm extract`'s); its models detect (`detections_from` models).
        image_column: The photos' column: `datasets` Image values (decoded, or not: `{"bytes", "path"}`), bytes
            or paths.
        objects: How the dataset's labelled boxes read (`ObjectsReader`), if it has them: each row then also gets
            `ground_truth` as 01 writes it, or `ground_truth_error` (its labels cannot be read; the photo is
            still detected).
        sizes: Also `width` and `height`, the photo's size as a person sees it (turned as its EXIF says), as 01's
            records hold it (`with_cv_columns` asks for them where the dataset has neither column).

    Raises:
        ValueError: Detections read from labels or saved predictions (that is `desclm extract`'s).
    """

    def __init__(
        self,
        config: ExtractConfig,
        image_column: str = "image",
        objects: ObjectsReader | None = None,
        sizes: bool = False,
    ) -> None:
        if config.detections_from != "models":
            raise ValueError(
                f"detections_from {config.detections_from!r}: a dataset's map runs the models; labels and saved "
                "predictions are read by desclm extract --images <the saved dataset>"
            )
        self.config, self.image_column, self.objects = config, image_column, objects
        self.sizes = sizes
        self.columns = CV_COLUMNS + (TRUTH_COLUMNS if objects is not None else ()) + (SIZE_COLUMNS if sizes else ())
        self.models_stamp = files_stamp(
            config.yolo_weights,
            config.hf_model,
            config.hf_processor,
            config.scene_weights,
            config.ensemble_weights_file,
        )
        self._extractor: BatchExtractor | None = None

    def __getstate__(self) -> dict:  # what `map` hashes and sends to its processes: never the loaded models
        state = {"config": self.config, "image_column": self.image_column, "objects": self.objects}
        return state | {"sizes": self.sizes, "models": self.models_stamp}

    def __setstate__(self, state: dict) -> None:
        self.__init__(state["config"], state["image_column"], state["objects"], state["sizes"])

    def features(self, features):
        """The map's output features: `features` (the dataset's) and the added columns' (`cv_features`)."""
        from datasets import Features, Value

        refuse_taken_columns(features, self.columns)
        added = cv_features() | (truth_features() if self.objects is not None else {})
        added |= {side: Value("int32") for side in SIZE_COLUMNS} if self.sizes else {}
        return Features({**features, **added})

    def extractor(self, rank: int | None = None) -> BatchExtractor:
        """The models, loaded at the first call (on `rank`'s device: `rank_device`)."""
        if self._extractor is None:
            config = replace(self.config, device=rank_device(self.config.device, rank))
            self._extractor = BatchExtractor(config, ImageSource("list", Path.cwd(), []))
            models_loaded()
        return self._extractor

    def __call__(self, batch: dict, *extra) -> dict:
        """The batch's added columns, a value per row in order (`map` passes indices and rank after the batch
        when asked: `with_indices`, `with_rank`)."""
        indices, rank = split_extra(extra)
        if self.image_column not in batch:
            raise ValueError(f"no photo column {self.image_column!r} among the dataset's columns {sorted(batch)}")
        refuse_taken_columns(batch, self.columns)
        photos = batch[self.image_column]
        names = [f"row {index}" for index in (indices or range(len(photos)))]
        extractor = self.extractor(rank)
        min_side, exif = extractor.min_side, self.config.read_exif
        threads = self.config.loader_threads or os.cpu_count() or 1
        with ThreadPoolExecutor(max_workers=min(threads, max(len(photos), 1))) as pool:
            decoded = list(pool.map(lambda args: _decoded(*args, min_side, exif), enumerate(zip(photos, names))))
        result = extractor(decoded)
        records = {(record := json.loads(line))["image"]: record for line in result.lines}
        errors = {(error := json.loads(line))["image"]: error["error"] for line in result.error_lines}
        columns: dict[str, list] = {name: [] for name in self.columns}
        for position in range(len(photos)):
            record = records.get(str(position))
            error = errors.get(str(position), None if record else "no record came back for this photo")
            columns["detections"].append(None if record is None else [_detection(d) for d in record["detections"]])
            columns["scene"].append(None if record is None else _scene(record["scene"]))
            columns["taken"].append(None if record is None else record.get("taken"))
            columns["cv_error"].append(None if record is not None else error)
            if self.sizes:
                columns["width"].append(None if record is None else record["width"])
                columns["height"].append(None if record is None else record["height"])
            if self.objects is not None:
                truth, why = (None, None) if record is None else self._truth(batch, position, record, names[position])
                columns["ground_truth"].append(truth)
                columns["ground_truth_error"].append(why)
        return columns

    def _truth(self, batch: dict, position: int, record: dict, name: str) -> tuple[dict | None, str | None]:
        """A row's `ground_truth` as 01 writes it (its labelled boxes, labels through `label_map`, its scene unknown),
        or why its labels cannot be read. Pixel boxes are scaled by the row's `width` and `height` where the
        dataset has them, else by the photo's size (`helpers.cv.hf_truth.DatasetTruth`, as 01 does)."""
        sides = [batch[side][position] if side in batch else None for side in ("width", "height")]
        sized = all(isinstance(side, int | float) and not isinstance(side, bool) and side > 0 for side in sides)
        size = (float(sides[0]), float(sides[1])) if sized else (float(record["width"]), float(record["height"]))
        try:
            boxes = self.objects.boxes(batch[self.objects.column][position], lambda: size, name)
        except ValueError as error:
            return None, str(error)
        detections = [{"label": normalise_label(label, self.config.label_map), "bbox": box} for label, box in boxes]
        return {"detections": detections, "scene": dict(UNKNOWN_SCENE)}, None


def _detection(detection: dict) -> dict:
    """A record's detection with exactly the column's fields."""
    return {
        "label": detection["label"],
        "confidence": detection["confidence"],
        "bbox": detection["bbox"],
        "sources": detection.get("sources", []),
    }


def _scene(scene: dict) -> dict:
    return {"class": scene["class"], "confidence": scene["confidence"]}


def _decoded(position: int, photo_and_name: tuple, min_side: int, exif: bool) -> Decoded:
    """A batch's photo decoded as 01 decodes it (`helpers.cv.sources.decode_bytes`), or why it cannot be: its
    key is its place in the batch."""
    photo, name = photo_and_name
    item = ImageItem(Path.cwd(), str(position), None)
    if isinstance(photo, dict):  # datasets' undecoded Image: its bytes, else (None) its file
        name = f"{name} ({photo['path']})" if photo.get("path") else name
        photo = photo.get("path") if photo.get("bytes") is None else photo["bytes"]
    try:
        if isinstance(photo, Image.Image):  # opened by `datasets` (decoded and turned upright by it)
            image, size, taken = decode_opened(photo, min_side, exif)
        else:
            if isinstance(photo, str | os.PathLike):
                photo = Path(photo).read_bytes()
            if not isinstance(photo, bytes | bytearray | memoryview) and photo is not None:
                raise ValueError(f"{name}: not a photo but a {type(photo).__name__}")
            image, size, taken = decode_bytes(bytes(photo or b""), name, min_side, exif)
        return Decoded(item, image, size, "", taken)
    except Exception as error:  # noqa: BLE001 - any unreadable photo is its row's error, never the map's
        return Decoded(item, None, (0, 0), f"{type(error).__name__}: {error}")


def photo_column(features, image_column: str = "") -> str:
    """The photos' column: `image_column`, else the dataset's one Image column.

    Raises:
        ValueError: The column is not there, or the dataset has no Image column or several.
    """
    from datasets import Image as ImageFeature

    if image_column:
        if image_column not in features:
            raise ValueError(f"no column {image_column!r} in the dataset (its columns: {', '.join(features)})")
        return image_column
    images = [name for name, feature in features.items() if isinstance(feature, ImageFeature)]
    if len(images) != 1:
        found = f"Image columns {', '.join(images)}" if images else "no Image column"
        raise ValueError(f"the dataset has {found}: name the photos' column (image_column)")
    return images[0]


def with_cv_columns(
    dataset,
    config: ExtractConfig | None = None,
    *,
    image_column: str = "",
    num_proc: int | None = None,
    map_arguments: dict | None = None,
    **settings,
):
    """The dataset (a `Dataset`, `DatasetDict`, `IterableDataset` or `IterableDatasetDict`) with its photos' CV
    records as columns (`ExtractColumns`; see the module docstring).

    Args:
        dataset: The photos.
        config: The extraction's settings (None: the defaults), its `images` unused ...
        settings: ... and settings of `ExtractConfig` by name, over it (`yolo_weights="best.pt"`, `batch_size=32`).
        image_column: The photos' column ("": the settings' `image_column`, else the dataset's one Image column).
        num_proc: `map`'s processes (not for an iterable dataset), each on its own GPU where there are several.
        map_arguments: More of `map`'s arguments (`cache_file_name`, `load_from_cache_file`, ...).

    Returns:
        The same kind of dataset, its photo column as it was (decoded or not).

    Raises:
        TypeError, ValueError: A setting `ExtractConfig` does not take or refuses.
    """
    from datasets import Image as ImageFeature

    config = replace(config, **settings) if config is not None else ExtractConfig(images="", **settings)
    made: dict[tuple, ExtractColumns] = {}  # one function for the splits alike, so their models load once

    def one(part):
        features = known_features(part)
        column = photo_column(features, image_column or config.image_column)
        schema = features.arrow_schema
        objects = objects_column_of(schema, config.objects_column)
        reader = ObjectsReader.of(schema, features.to_dict(), objects, config.bbox_format) if objects else None
        sizes = not set(SIZE_COLUMNS) & set(features)  # (a detection dataset's own are its boxes' frame)
        extract = made.setdefault((column, reader, sizes), ExtractColumns(config, column, reader, sizes))
        given = features[column]
        undecoded = part.cast_column(column, ImageFeature(decode=False)) if isinstance(given, ImageFeature) else part
        features = extract.features(undecoded.features)
        done = mapped(undecoded, extract, features, config.batch_size, num_proc, map_arguments, "desclm: CV records")
        done = done.cast_column(column, given) if isinstance(given, ImageFeature) else done
        if errors := rows_with(done, "cv_error"):
            logger.warning("%d of %d photos have no CV record (why: each row's cv_error)", errors, done.num_rows)
        if reader and (unread := rows_with(done, "ground_truth_error")):
            logger.warning("%d photos' labels cannot be read (why: each row's ground_truth_error)", unread)
        return done

    return each_split(dataset, one)
