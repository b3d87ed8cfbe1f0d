"""Descriptions as columns of a Hugging Face dataset, made inside `Dataset.map`: for CV records already in a
`datasets.Dataset` in Python (`helpers.cv.dataset_map.with_cv_columns`' columns, an hf export's, a dataset whose
`detections` and `scene` columns are laid out as 01's records), without writing them out for `desclm describe`.

    from helpers.describer import with_descriptions
    photos = with_descriptions(photos, "models/description_llm")      # Describer.load's settings by name too

or, as any function of `map` (`DescribeColumns` is one):

    describe = DescribeColumns("models/description_llm")
    photos = photos.map(describe, batched=True, batch_size=1024, features=describe.features(photos.features))

Each row gets `description` (the guarded sentence, `Describer.describe_all`: what `desclm describe` writes for the
row's record, its `detections` and `scene`: a model trained with wording variants draws the row's from that record,
so a row is described alike in every run), `description_source` (model, rerank, grammar, ...; desclm describe's
`source`) and `description_error`: None, or why the row has no description (its record is invalid, naming the field;
its photo has no CV record, its `cv_error`; the model or guard failed on it alone), its description then None: one
bad row costs its row only. With `num_captions` above 1, also `captions` and `caption_sources` (the description
first), as desclm describe writes them. Of rows with labels (a `ground_truth` column: `with_cv_columns` of a dataset
with labelled boxes), `labels`: whether the description is true to them, the categories it missed and invented, its
count error (`helpers.describer.truth.compare`, as 04's truth report and `desclm check` compare; a faithful
description of detectors that missed an item is untrue to the photo), None for a row without labels. The model loads
in the process that first calls the function; `map`'s cache, fingerprint and processes are as
`helpers.cv.dataset_map` says (the model folder's files stand for the model). `save_records` writes the rows as the
files every desclm command reads (the gallery, the exports, check, summarize).
"""

from __future__ import annotations

import logging
from pathlib import Path

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
from helpers.describer.batch import AUTO_BATCH_SIZE
from helpers.describer.truth import LABELS_UNREADABLE, compare, truth_facts

logger = logging.getLogger(__name__)
DESCRIPTION_COLUMNS = ("description", "description_source", "description_error")  # the columns always added
CAPTION_COLUMNS = ("captions", "caption_sources")  # and with num_captions above 1
LABELS = "labels"  # and of rows with labels (a `ground_truth` column): the description against them
LABELS_FIELDS = ("true", "missed", "invented", "count_error")  # of `compare`, as desclm check's `labels`
MAP_BATCH = 1024  # rows a call of the map: as many as the largest auto batch on a GPU (helpers.describer.batch)


class DescribeColumns:
    """`Dataset.map`'s function (`batched=True`) adding each row's description as columns; see the module
    docstring.

    Args:
        model_dir: The describer's folder (notebook 03's).
        batch_size: Records a generation batch (0: the describer's auto batch).
        load: More of `Describer.load`'s settings by name (`backend`, `dtype`, `style`, `num_captions`, ...).
    """

    def __init__(self, model_dir: str | Path, batch_size: int = AUTO_BATCH_SIZE, **load) -> None:
        self.model_dir, self.batch_size, self.load = str(model_dir), batch_size, load
        self.columns = DESCRIPTION_COLUMNS + (CAPTION_COLUMNS if load.get("num_captions", 1) > 1 else ())
        self.model_stamp = files_stamp(self.model_dir)
        self._describer = None

    def __getstate__(self) -> dict:  # what `map` hashes and sends to its processes: never the loaded model
        return {
            "model_dir": self.model_dir,
            "batch_size": self.batch_size,
            "load": self.load,
            "model": self.model_stamp,
        }

    def __setstate__(self, state: dict) -> None:
        self.__init__(state["model_dir"], state["batch_size"], **state["load"])

    def features(self, features):
        """The map's output features: `features` (the dataset's) and the added columns'."""
        from datasets import Features, List, Value

        refuse_taken_columns(features, self._columns(features))
        added = {name: Value("string") for name in DESCRIPTION_COLUMNS}
        if CAPTION_COLUMNS[0] in self.columns:
            added |= {name: List(Value("string")) for name in CAPTION_COLUMNS}
        if "ground_truth" in features:
            missed, invented = List(Value("string")), List(Value("string"))
            added[LABELS] = {
                "true": Value("bool"),
                "missed": missed,
                "invented": invented,
                "count_error": Value("int64"),
            }
        return Features({**features, **added})

    def _columns(self, names) -> tuple[str, ...]:
        """The columns added to a dataset with these columns: `labels` too where it has `ground_truth`."""
        return self.columns + ((LABELS,) if "ground_truth" in names else ())

    def describer(self, rank: int | None = None):
        """The describer, loaded at the first call (on `rank`'s device: `rank_device`)."""
        if self._describer is None:
            from helpers.describer.describe import Describer

            device = rank_device(self.load.get("device", "auto"), rank)
            self._describer = Describer.load(self.model_dir, **(self.load | {"device": device}))
            models_loaded()
        return self._describer

    def __call__(self, batch: dict, *extra) -> dict:
        """The batch's added columns, a value per row in order (`map` passes indices and rank after the batch
        when asked: `with_indices`, `with_rank`)."""
        indices, rank = split_extra(extra)
        if "detections" not in batch:
            raise ValueError(f"no 'detections' column among the dataset's columns {sorted(batch)}")
        columns: dict[str, list] = {name: [] for name in self._columns(batch)}
        refuse_taken_columns(batch, tuple(columns))
        count = len(batch["detections"])
        names = [f"row {index}" for index in (indices or range(count))]
        scenes = batch.get("scene", [None] * count)
        missing = batch.get("cv_error", [None] * count)
        results: list = [f"{name}: no CV record: {why}" if why else None for name, why in zip(names, missing)]
        chosen = [position for position in range(count) if results[position] is None]
        records = [_record(batch["detections"][position], scenes[position]) for position in chosen]
        if chosen:
            described = self.describer(rank).describe_all(records, self.batch_size, [names[p] for p in chosen])
            for position, result in zip(chosen, described, strict=True):
                results[position] = result
        truths = batch.get("ground_truth", [None] * count)
        for result, truth, name in zip(results, truths, names):
            error = result if isinstance(result, str) else result.error
            columns["description_error"].append(error)
            columns["description"].append(None if error else result.text)
            columns["description_source"].append(None if error else result.source)
            if CAPTION_COLUMNS[0] in self.columns:
                columns["captions"].append(None if error else list(result.captions))
                columns["caption_sources"].append(None if error else list(result.caption_sources))
            if LABELS in columns:
                columns[LABELS].append(_against_labels(result, truth, name) if not error else None)
        return columns


def _against_labels(description, truth: dict | None, name: str) -> dict | None:
    """A description against its row's labels (`ground_truth`), as 04's truth report and desclm check compare them:
    true, the categories missed and invented, the count error; None for a row without labels, or whose labels are
    not laid out as 01's (a warning names it)."""
    try:
        facts = truth_facts({"ground_truth": truth})
    except LABELS_UNREADABLE as error:
        logger.warning(
            "%s: its ground_truth cannot be read (%s: %s): no labels compared", name, type(error).__name__, error
        )
        return None
    if facts is None:
        return None
    compared = compare(description.said, facts)
    return {field: compared[field] for field in LABELS_FIELDS}


def _record(detections, scene) -> dict:
    """A row's CV record, as the describer reads one (a scene of None: no scene)."""
    return {"detections": detections} | ({"scene": scene} if scene is not None else {})


def with_descriptions(
    dataset,
    model_dir: str | Path,
    *,
    batch_size: int = AUTO_BATCH_SIZE,
    num_proc: int | None = None,
    map_arguments: dict | None = None,
    **load,
):
    """The dataset (a `Dataset`, `DatasetDict`, `IterableDataset` or `IterableDatasetDict`) with each row's
    description as columns (`DescribeColumns`; see the module docstring).

    Args:
        dataset: Rows with `detections` (and `scene`, and `cv_error`) columns.
        model_dir: The describer's folder.
        batch_size: Records a generation batch (0: the describer's auto batch).
        num_proc: `map`'s processes (not for an iterable dataset), each on its own GPU where there are several.
        map_arguments: More of `map`'s arguments (`batch_size`, rows a call: 1024; `cache_file_name`, ...).
        load: `Describer.load`'s settings by name.

    Returns:
        The same kind of dataset.
    """
    describe = DescribeColumns(model_dir, batch_size, **load)

    def one(part):
        features = describe.features(known_features(part))
        done = mapped(part, describe, features, MAP_BATCH, num_proc, map_arguments, "desclm: descriptions")
        if errors := rows_with(done, "description_error"):
            logger.warning("%d of %d rows have no description (why: each row's description_error)", errors, len(done))
        return done

    return each_split(dataset, one)


RECORD_FIELDS = ("detections", "scene", "taken", "ground_truth", "ground_truth_error")  # a CV record's, where there
DESCRIBED = "described.jsonl"  # `save_records`' files in its folder: the rows' descriptions (desclm describe's),
CV_RECORDS = "cv.jsonl"  # their CV records (desclm extract's),
CV_ERRORS = "cv.errors.jsonl"  # the photos without one,
PHOTOS = "photos"  # and the dataset itself (`save_to_disk`), the photos `--images` names


def save_records(dataset, folder: str | Path, image_column: str = "") -> dict:
    """The rows `with_cv_columns` and `with_descriptions` made, as the files every desclm command reads: the dataset
    saved (`photos/`, `save_to_disk`: the photos for `--images`), its CV records (`cv.jsonl`, a row a photo with a
    record, as desclm extract writes them: `image` the photo's key in the saved dataset, as `--images` finds it,
    its split of a `DatasetDict`, `width` and `height` where the dataset has them), the photos without one
    (`cv.errors.jsonl`, with why) and, where the rows are described, the descriptions (`described.jsonl`, as desclm
    describe writes them, `id` the key; a row without a description its error line). Then

        desclm gallery folder/described.jsonl --cv folder/cv.jsonl --images folder/photos --output page.html
        desclm export folder/described.jsonl --format llava --cv folder/cv.jsonl --images folder/photos ...

    Each file is written whole or not at all (atomically), the columns read a block at a time.

    Args:
        dataset: A `Dataset` or `DatasetDict` with `with_cv_columns`' columns (and `with_descriptions`').
        folder: Where the files go (made if missing).
        image_column: The photos' column ("": the dataset's one Image column).

    Returns:
        The files' paths (`photos`, `cv`, `cv_errors`, `described`) and how many `records`, photos
        `without_record` and `descriptions` they hold.

    Raises:
        ValueError: The dataset has no `detections` column, or is streamed (an `IterableDataset`).
    """
    from datasets import DatasetDict

    from helpers.core.io import atomic_write_text
    from helpers.core.photo_datasets import SPLIT_NAMES, open_photo_dataset
    from helpers.core.records import json_line

    if not hasattr(dataset, "save_to_disk"):  # a streamed dataset: its photos are read once, not kept
        raise ValueError(
            f"{type(dataset).__name__}: a streamed dataset cannot be saved: make a Dataset of it first "
            "(Dataset.from_generator)"
        )
    parts = list(dataset.values()) if isinstance(dataset, DatasetDict) else [dataset]
    names = set(parts[0].column_names)
    if "detections" not in names:
        raise ValueError("the dataset has no 'detections' column: give it its CV records first (with_cv_columns)")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    dataset.save_to_disk(str(folder / PHOTOS))
    saved = open_photo_dataset(str(folder / PHOTOS), image_column)
    wanted = (*RECORD_FIELDS, "width", "height", "cv_error", *DESCRIPTION_COLUMNS, *CAPTION_COLUMNS)
    columns = [name for name in wanted if name in names]

    def rows():  # (key, split, the row's columns): its key and split as `--images` finds the saved photo (as 01)
        keys = saved.keys()
        for part in parts:
            for block in part.select_columns(columns).iter(batch_size=1000):
                for index in range(len(block[columns[0]])):
                    key, split = next(keys)
                    yield key, SPLIT_NAMES.get(split, split), {name: block[name][index] for name in columns}

    counts = {"records": 0, "without_record": 0, "descriptions": 0}

    def records():
        for key, split, row in rows():
            if row.get("cv_error") is None:
                counts["records"] += 1
                record = {"image": key, "split": split}
                record |= {n: row[n] for n in ("width", "height") if isinstance(row.get(n), int)}
                record |= {n: row[n] for n in RECORD_FIELDS if row.get(n) is not None}
                if "taken" in record:  # the column holds every field of `taken`; a record, those the photo has
                    record["taken"] = {field: value for field, value in record["taken"].items() if value is not None}
                yield json_line(record)

    def errors():
        for key, split, row in rows():
            if row.get("cv_error") is not None:
                counts["without_record"] += 1
                yield json_line({"image": key, "split": split, "error": row["cv_error"]})

    def described():
        for key, _, row in rows():
            if row.get("cv_error") is not None:
                continue  # (no record: no line, as desclm describe reads only the records)
            counts["descriptions"] += row.get("description") is not None
            if row.get("description") is None:
                yield json_line({"id": key, "error": row.get("description_error")})
                continue
            line = {"id": key, "description": row["description"], "source": row["description_source"]}
            if row.get("captions") is not None:
                line |= {"captions": row["captions"], "caption_sources": row["caption_sources"]}
            yield json_line(line)

    paths = {"photos": folder / PHOTOS, "cv": atomic_write_text(folder / CV_RECORDS, records())}
    paths["cv_errors"] = atomic_write_text(folder / CV_ERRORS, errors())
    if "description" in names:
        paths["described"] = atomic_write_text(folder / DESCRIBED, described())
    return {name: str(path) for name, path in paths.items()} | counts
