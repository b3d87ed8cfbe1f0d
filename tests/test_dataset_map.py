"""CV records and descriptions made inside `datasets.Dataset.map` (helpers.cv.dataset_map,
helpers.describer.dataset_map): the same as `desclm extract` and `desclm describe` write, a bad row costing its
row only, typed columns, map's cache and processes."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from conftest import cv_models_settings
from datasets import ClassLabel, Dataset, DatasetDict, Features, Image, List, Value, load_from_disk
from datasets.fingerprint import Hasher
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image as PILImage

from helpers.cv.config import ExtractConfig
from helpers.cv.dataset_map import ExtractColumns, with_cv_columns
from helpers.cv.extract import run_extraction
from helpers.describer.dataset_map import DescribeColumns, save_records, with_descriptions
from helpers.describer.describe import Describer

GPS, EXIF = 0x8825, 0x8769


@pytest.fixture(scope="module")
def photo_folder(tiny_demo, tmp_path_factory):
    """The tiny demo's train photos and one of them geotagged and timed, as a camera writes it."""
    folder = tmp_path_factory.mktemp("map_photos")
    for photo in sorted((tiny_demo / "train" / "images").glob("*.jpg")):
        shutil.copy(photo, folder / photo.name)
    exif = PILImage.Exif()
    exif[GPS] = {1: "N", 2: (47.0, 22.0, 30.5), 3: "E", 4: (8.0, 32.0, 10.25)}
    exif[EXIF] = {0x9003: "2026:05:01 10:22:31"}
    with PILImage.open(folder / "train_00000.jpg") as image:
        image.save(folder / "tagged.jpg", exif=exif)
    return folder


@pytest.fixture(scope="module")
def folder_records(photo_folder, tiny_cv_models, tmp_path_factory):
    """`desclm extract`'s records of the photo folder, by photo name."""
    output = tmp_path_factory.mktemp("map_extract") / "cv.jsonl"
    run_extraction(ExtractConfig(images=str(photo_folder), output=str(output), **cv_models_settings(tiny_cv_models)))
    return {record["image"]: record for record in map(json.loads, output.read_text().splitlines())}


def _columns_of(record: dict) -> dict:
    """What the map's columns hold of a record of `desclm extract`."""
    return {"detections": record["detections"], "scene": record["scene"], "taken": record.get("taken")}


def _without_photos(dataset):
    return dataset.remove_columns([name for name in dataset.column_names if name == "image"])


def test_cv_columns_are_the_records_desclm_extract_writes_and_a_bad_photo_costs_its_row(
    photo_folder, folder_records, tiny_cv_models, tmp_path
):
    names = sorted(folder_records)
    paths = [str(photo_folder / name) for name in names]
    rows = [{"bytes": None, "path": path} for path in paths]
    rows[3:3] = [{"bytes": b"not a photo", "path": None}]  # mid-batch: rows 0-3 are the first batch of 4
    rows.append({"bytes": b"", "path": "empty.jpg"})
    photos = Dataset.from_dict(
        {"image": rows, "n": list(range(len(rows)))}, features=Features(image=Image(), n=Value("int64"))
    )

    mapped = with_cv_columns(photos, **cv_models_settings(tiny_cv_models))

    assert mapped.features["image"] == Image()  # decoded as it was, though read as bytes inside the map
    assert mapped.column_names == ["image", "n", "detections", "scene", "taken", "cv_error", "width", "height"]
    table = _without_photos(mapped).to_list()
    broken, empty = table.pop(3), table.pop()
    assert broken["cv_error"].startswith("ValueError: row 3: not an image file")
    assert empty["cv_error"] == "ValueError: row 10 (empty.jpg): empty photo (0 bytes)"
    assert broken["detections"] is None and broken["scene"] is None  # not looked at, not "nothing there"
    assert broken["width"] is None and broken["height"] is None
    for name, row in zip(names, table, strict=True):
        record = folder_records[name]
        expected = _columns_of(record)
        taken = row.pop("taken")
        assert {k: row[k] for k in ("detections", "scene")} == {k: expected[k] for k in ("detections", "scene")}
        assert row["cv_error"] is None
        assert (row["width"], row["height"]) == (record["width"], record["height"])
        if expected["taken"] is None:
            assert taken is None
        else:  # the column holds every field of `taken`, those the photo lacks None
            assert {k: v for k, v in taken.items() if v is not None} == expected["taken"]
    assert folder_records["tagged.jpg"]["taken"]["latitude"] == pytest.approx(47.375139, abs=1e-6)
    assert sum(len(row["detections"]) for row in table) > 0  # (the tiny detectors find boxes at conf 0.01)


def test_photos_decoded_by_datasets_bytes_and_paths_give_the_same_records(photo_folder, tiny_cv_models):
    """Each form a photo column comes in: PIL images (a map without the cast), bytes, paths; decoded in full here
    (`draft_decode` off), as datasets decodes them."""
    config = ExtractConfig(images="", draft_decode=False, **cv_models_settings(tiny_cv_models))
    files = sorted(photo_folder.glob("*.jpg"))[:4]
    forms = {
        "pil": [PILImage.open(io.BytesIO(file.read_bytes())) for file in files],
        "bytes": [{"bytes": file.read_bytes(), "path": None} for file in files],
        "path": [str(file) for file in files],
    }
    extract = ExtractColumns(config)
    columns = {form: extract({"image": photos}) for form, photos in forms.items()}
    assert columns["pil"] == columns["bytes"] == columns["path"]
    assert all(error is None for error in columns["pil"]["cv_error"])


def test_a_first_batch_without_a_detection_still_types_the_column(tiny_cv_models, photo_folder):
    """datasets types an untyped column from its first batch: a first batch without a box (here: photos that
    cannot be read) would make `detections` a column of nulls that no later box fits. The map's columns are
    typed."""
    unread = [{"bytes": b"not a photo", "path": None}] * 4
    files = unread + [{"bytes": f.read_bytes(), "path": None} for f in sorted(photo_folder.glob("*.jpg"))]
    photos = Dataset.from_dict({"image": files}, features=Features(image=Image()))

    mapped = with_cv_columns(photos, **cv_models_settings(tiny_cv_models))

    assert mapped["detections"][:4] == [None] * 4 and all(mapped["cv_error"][:4])
    assert any(mapped["detections"][4:]) and not any(mapped["cv_error"][4:])


def test_the_cache_sees_the_settings_and_the_model_files_not_the_loaded_models(tiny_cv_models, photo_folder, tmp_path):
    settings = cv_models_settings(tiny_cv_models)
    config = ExtractConfig(images="", **settings)
    loaded = ExtractColumns(config)
    loaded.extractor()
    assert Hasher.hash(loaded) == Hasher.hash(ExtractColumns(config))
    assert Hasher.hash(ExtractColumns(ExtractConfig(images="", **(settings | {"hf_conf": 0.4})))) != Hasher.hash(loaded)
    models = tmp_path / "models"
    shutil.copytree(tiny_cv_models, models)
    before = Hasher.hash(ExtractColumns(ExtractConfig(images="", **cv_models_settings(models))))
    os.utime(models / "yolo_detector.pt", ns=(1, 1))  # the same path, another file
    assert Hasher.hash(ExtractColumns(ExtractConfig(images="", **cv_models_settings(models)))) != before

    files = [str(path) for path in sorted(photo_folder.glob("*.jpg"))]
    Dataset.from_dict({"image": files}, features=Features(image=Image())).save_to_disk(tmp_path / "photos")
    photos = load_from_disk(tmp_path / "photos")
    first = with_cv_columns(photos, **settings)
    again = with_cv_columns(photos, **settings)
    assert again.cache_files == first.cache_files and first.cache_files[0]["filename"].startswith(str(tmp_path))


def test_columns_the_map_adds_are_never_overwritten_and_labels_are_refused(tiny_cv_models, model_dir):
    photos = Dataset.from_dict({"image": ["a.jpg"], "scene": ["beach"]})
    with pytest.raises(ValueError, match=r"already has the column\(s\) scene .*remove_columns\(\['scene'\]\)"):
        with_cv_columns(photos, image_column="image", **cv_models_settings(tiny_cv_models))
    described = Dataset.from_dict({"detections": [[]], "description": ["a sentence of the user's"]})
    with pytest.raises(ValueError, match="already has the column"):
        with_descriptions(described, model_dir)
    with pytest.raises(ValueError, match="labels and saved predictions are read by desclm extract"):
        ExtractColumns(ExtractConfig(images="", detections_from="labels"))
    with pytest.raises(ValueError, match="has no Image column: name the photos' column"):
        with_cv_columns(Dataset.from_dict({"file": ["a.jpg"]}), **cv_models_settings(tiny_cv_models))


def test_processes_are_refused_where_forked_after_the_models_ran(tiny_cv_models, photo_folder):
    import multiprocess

    if multiprocess.get_start_method(allow_none=True) not in (None, "fork"):
        pytest.skip("processes start by spawn here")
    settings = cv_models_settings(tiny_cv_models)
    ExtractColumns(ExtractConfig(images="", **settings)).extractor()  # this process has run the models
    photos = Dataset.from_dict({"image": [str(next(photo_folder.glob("*.jpg")))]}, features=Features(image=Image()))
    with pytest.raises(RuntimeError, match="set_start_method\\('spawn'\\)"):
        with_cv_columns(photos, num_proc=2, **settings)


PROCESSES = """
import json, sys
from datasets import Dataset, Features, Image
from helpers.cv.dataset_map import with_cv_columns
from helpers.describer.dataset_map import with_descriptions
settings, files, model, out = json.loads(sys.argv[1])
photos = Dataset.from_dict({"image": files}, features=Features(image=Image()))
described = with_descriptions(with_cv_columns(photos, num_proc=2, **settings), model, num_proc=2)
described.remove_columns("image").to_json(out)
"""


def test_processes_of_a_fresh_process_give_what_one_process_gives(tiny_cv_models, photo_folder, model_dir, tmp_path):
    """`num_proc` processes, each loading its own models (on its own GPU where there are several: `with_rank`)."""
    settings = cv_models_settings(tiny_cv_models)
    files = [str(path) for path in sorted(photo_folder.glob("*.jpg"))]
    out = tmp_path / "processes.jsonl"
    arguments = json.dumps([settings, files, str(model_dir), str(out)])
    subprocess.run([sys.executable, "-c", PROCESSES, arguments], check=True, timeout=600, capture_output=True)
    photos = Dataset.from_dict({"image": files}, features=Features(image=Image()))
    alone = _without_photos(with_descriptions(with_cv_columns(photos, **settings), model_dir)).to_list()
    assert [json.loads(line) for line in out.read_text().splitlines()] == alone


def _described_by_the_command(records: list[dict], model_dir: Path, folder: Path, *options: str) -> list[dict]:
    (folder / "records.jsonl").write_text("".join(json.dumps(record) + "\n" for record in records))
    command = [sys.executable, "-m", "helpers", "describe", str(model_dir), "--input", str(folder / "records.jsonl")]
    subprocess.run([*command, "--output", str(folder / "out.jsonl"), "-q", *options], check=True, timeout=300)
    return [json.loads(line) for line in (folder / "out.jsonl").read_text().splitlines()]


def _pair_records(pairs_dir: Path) -> list[dict]:
    """Records the tiny describer learned from (its pairs'): ones it writes sentences of, not only the grammar."""
    lines = (pairs_dir / "train.jsonl").read_text().splitlines()[:12]
    return [{"detections": cv["detections"], "scene": cv["scene"]} for cv in (json.loads(line)["cv"] for line in lines)]


def test_descriptions_are_what_desclm_describe_writes_and_a_bad_row_costs_its_row(pairs_dir, model_dir, tmp_path):
    records = _pair_records(pairs_dir)
    expected = _described_by_the_command(records, model_dir, tmp_path, "--max_grammar_share", "1")
    assert {line["source"] for line in expected} & {"model", "rerank"}  # the model's sentences, not only the grammar's
    rows = {"detections": [r["detections"] for r in records], "scene": [r["scene"] for r in records]}
    rows["cv_error"] = [None] * len(records)
    rows["detections"].insert(2, [{"label": "", "confidence": 0.9, "bbox": [0.1, 0.1, 0.2, 0.2], "sources": []}])
    rows["scene"].insert(2, None)
    rows["cv_error"].insert(2, None)
    rows["detections"].insert(4, None)  # a photo 01 could not read
    rows["scene"].insert(4, None)
    rows["cv_error"].insert(4, "ValueError: row 4: not an image file")
    dataset = Dataset.from_dict(rows)

    described = with_descriptions(dataset, model_dir, map_arguments={"batch_size": 3}).to_list()

    invalid, unread = described.pop(2), described.pop(3)
    assert invalid["description"] is None and invalid["description_source"] is None
    assert invalid["description_error"] == "row 2: detections[0].label must be a non-empty string, got ''"
    assert unread["description_error"] == "row 4: no CV record: ValueError: row 4: not an image file"
    assert [(row["description"], row["description_source"]) for row in described] == [
        (line["description"], line["source"]) for line in expected
    ]
    assert all(row["description_error"] is None for row in described)


def test_several_captions_a_dataset_dict_and_a_streamed_dataset(pairs_dir, model_dir):
    records = _pair_records(pairs_dir)
    results = Describer.load(model_dir, num_captions=3).describe_all(records)  # what desclm describe writes
    expected = [
        {"description": r.text, "captions": list(r.captions), "caption_sources": list(r.caption_sources)}
        for r in results
    ]
    rows = Dataset.from_dict({"detections": [r["detections"] for r in records], "scene": [r["scene"] for r in records]})
    splits = DatasetDict(train=rows.select(range(5)), test=rows.select(range(5, len(records))))

    described = with_descriptions(splits, model_dir, num_captions=3)
    streamed = with_descriptions(rows.to_iterable_dataset(), model_dir, num_captions=3)

    both = described["train"].to_list() + described["test"].to_list()
    assert [row["captions"] for row in both] == [line["captions"] for line in expected]
    assert [row["caption_sources"] for row in both] == [line["caption_sources"] for line in expected]
    assert [row["description"] for row in streamed] == [line["description"] for line in expected]
    assert DescribeColumns(model_dir, num_captions=3).columns[-2:] == ("captions", "caption_sources")


def test_a_labelled_datasets_boxes_are_each_rows_ground_truth_as_desclm_extract_writes_it(
    tiny_demo, tiny_cv_models, tmp_path
):
    """A Hub-style detection dataset (an `objects` column of ClassLabel categories and COCO pixel boxes): each row's
    `ground_truth` is its record's of `desclm extract` over the saved dataset; a box outside its photo costs that
    row's labels, not its detections."""
    from helpers.cv.sources import open_image_source

    yolo = open_image_source(tiny_demo / "data.yaml")
    names = yolo.class_names
    features = Features(
        image=Image(),
        objects={"bbox": List(List(Value("float64"), length=4)), "category": List(ClassLabel(names=names))},
    )
    rows = {"image": [], "objects": []}
    for item in [item for item in yolo.items if item.split == "train"][:5]:
        with PILImage.open(item.path) as photo:
            width, height = photo.size
        boxes = yolo.truth_boxes(item)
        pixels = [[x1 * width, y1 * height, (x2 - x1) * width, (y2 - y1) * height] for _, (x1, y1, x2, y2) in boxes]
        rows["image"].append({"bytes": item.path.read_bytes(), "path": item.path.name})
        rows["objects"].append({"bbox": pixels, "category": [names.index(name) for name, _ in boxes]})
    rows["image"].insert(2, {"bytes": item.path.read_bytes(), "path": "outside.jpg"})
    rows["objects"].insert(2, {"bbox": [[width / 2, height / 2, width, 10.0]], "category": [0]})
    Dataset.from_dict(rows, features=features).save_to_disk(tmp_path / "labelled")
    settings = cv_models_settings(tiny_cv_models)
    output = tmp_path / "cv.jsonl"
    run_extraction(ExtractConfig(images=str(tmp_path / "labelled"), output=str(output), **settings))
    records = [json.loads(line) for line in output.read_text().splitlines()]

    mapped = _without_photos(with_cv_columns(load_from_disk(tmp_path / "labelled"), **settings)).to_list()

    assert [record["image"] for record in records] == [image["path"] for image in rows["image"]]
    assert sum(bool(record["ground_truth"]["detections"]) for i, record in enumerate(records) if i != 2) >= 3
    for record, row in zip(records, mapped, strict=True):
        assert row["detections"] == record["detections"]
        assert row["ground_truth"] == record.get("ground_truth")
    assert "is not a box inside the 384x288 photo" in records[2]["ground_truth_error"]
    assert mapped[2]["ground_truth_error"].startswith("row 2: objects[0].bbox")
    assert "is not a box inside the 384x288 photo" in mapped[2]["ground_truth_error"]
    assert not any(row["ground_truth_error"] for i, row in enumerate(mapped) if i != 2)


def _box(label: str, left: float, confidence: float = 0.9) -> dict:
    return {"label": label, "confidence": confidence, "bbox": [left, 0.1, left + 0.1, 0.3], "sources": ["yolo"]}


def test_each_description_is_compared_with_its_rows_labels(model_dir):
    """Labels (a `ground_truth` column) against what each description states: true where the counts are the
    labels', a labelled item the detectors missed (and so the faithful sentence misses), an item the labels do not
    hold; a row without labels is compared with nothing."""
    truth = lambda *labels: {  # noqa: E731
        "detections": [{"label": label, "bbox": [0.1 * i, 0.1, 0.1 * i + 0.1, 0.3]} for i, label in enumerate(labels)],
        "scene": {"class": "unknown", "confidence": 0.0},
    }
    rows = {
        "detections": [
            [_box("plastic", 0.1), _box("plastic", 0.5)],
            [_box("plastic", 0.1)],
            [_box("plastic", 0.1), _box("glass", 0.5)],
            [_box("metal", 0.1)],
            [_box("paper", 0.1), _box("paper", 0.3, confidence=0.2)],  # one under the describer's threshold
        ],
        "ground_truth": [
            truth("plastic", "plastic"),
            truth("plastic", "metal"),
            truth("plastic"),
            None,
            truth("paper"),
        ],
    }
    described = with_descriptions(Dataset.from_dict(rows), model_dir).to_list()

    labels = [row["labels"] for row in described]
    assert labels[0] == {"true": True, "missed": [], "invented": [], "count_error": 0}
    assert labels[1] == {"true": False, "missed": ["metal"], "invented": [], "count_error": 1}
    assert labels[2] == {"true": False, "missed": [], "invented": ["glass"], "count_error": 1}
    assert labels[3] is None
    assert labels[4] == {"true": True, "missed": [], "invented": [], "count_error": 0}
    assert all(row["description_error"] is None for row in described)


def test_saved_records_are_the_files_desclm_commands_read(
    tiny_cv_models, photo_folder, folder_records, model_dir, tmp_path
):
    """`save_records`: the saved photos, CV records, their errors and descriptions, keyed as `--images` finds the
    photos; an export reads them as it reads desclm extract's and describe's files."""
    from helpers.describer.exports import export

    features = Features(image=Image())
    files = [{"bytes": path.read_bytes(), "path": path.name} for path in sorted(photo_folder.glob("*.jpg"))]
    files.insert(7, {"bytes": b"not a photo", "path": "junk.jpg"})
    photos = DatasetDict(
        train=Dataset.from_dict({"image": files[:6]}, features=features),
        validation=Dataset.from_dict({"image": files[6:]}, features=features),
    )
    described = with_descriptions(with_cv_columns(photos, **cv_models_settings(tiny_cv_models)), model_dir)

    saved = save_records(described, tmp_path / "run")

    records = [json.loads(line) for line in Path(saved["cv"]).read_text().splitlines()]
    errors = [json.loads(line) for line in Path(saved["cv_errors"]).read_text().splitlines()]
    lines = [json.loads(line) for line in Path(saved["described"]).read_text().splitlines()]
    good = [file["path"] for file in files if file["path"] != "junk.jpg"]
    assert [record["image"] for record in records] == good == [line["id"] for line in lines]
    assert [record["split"] for record in records] == ["train"] * 6 + ["val"] * (len(good) - 6)
    assert [record["detections"] for record in records] == [
        row["detections"]
        for split in described.values()
        for row in split.remove_columns("image")
        if row["detections"] is not None
    ]
    sizes = [(row["width"], row["height"]) for split in described.values() for row in split.remove_columns("image")]
    assert [(record["width"], record["height"]) for record in records] == [size for size in sizes if size[0]]
    assert {r["image"]: r.get("taken") for r in records} == {n: folder_records[n].get("taken") for n in good}
    assert errors == [{"image": "junk.jpg", "split": "val", "error": errors[0]["error"]}]
    assert errors[0]["error"].startswith("ValueError: row 1 (junk.jpg): not an image file")
    assert [line["description"] for line in lines] == [
        row["description"]
        for split in described.values()
        for row in split.remove_columns("image")
        if row["detections"] is not None
    ]
    assert saved["records"] == saved["descriptions"] == len(good) and saved["without_record"] == 1

    with pytest.raises(ValueError, match="IterableDataset: a streamed dataset cannot be saved"):
        save_records(described["train"].to_iterable_dataset(), tmp_path / "streamed")

    counts = export(
        "coco", Path(saved["described"]), tmp_path / "captions.json", Path(saved["cv"]), Path(saved["photos"])
    )
    assert counts["problems"] == 0
    captions = json.loads((tmp_path / "captions.json").read_text())
    assert sorted(image["file_name"] for image in captions["images"]) == sorted(good)


def _png(number: int) -> bytes:
    buffer = io.BytesIO()
    PILImage.new("RGB", (4, 3), (number % 256, number // 256, 7)).save(buffer, "PNG")
    return buffer.getvalue()


NAMES = st.text(alphabet=st.sampled_from("ab/ .-_é写0"), min_size=1, max_size=10)


@given(names=st.lists(NAMES, min_size=1, max_size=6), splits=st.integers(min_value=0, max_value=6))
@settings(max_examples=25, deadline=None)
def test_each_saved_records_key_finds_its_own_photo(names, splits):
    """Whatever the photos' stored names (repeated, in folders, not ASCII, in two splits), each record
    `save_records` writes has a key of its own, and `--images` (the saved dataset) finds that row's photo by it."""
    from helpers.core.photo_datasets import PhotoKeys

    features = Features(image=Image(), detections=List({"label": Value("string")}))
    rows = [{"bytes": _png(index), "path": f"{name}.png"} for index, name in enumerate(names)]
    columns = {"image": rows, "detections": [[] for _ in rows]}
    dataset = Dataset.from_dict(columns, features=features)
    if 0 < splits < len(rows):
        dataset = DatasetDict(train=dataset.select(range(splits)), test=dataset.select(range(splits, len(rows))))
    with tempfile.TemporaryDirectory() as folder:
        saved = save_records(dataset, folder)
        keys = [json.loads(line)["image"] for line in Path(saved["cv"]).read_text().splitlines()]
        assert len(set(keys)) == len(rows)
        photos = PhotoKeys(Path(saved["photos"]))
        assert [photos.read_bytes(key) for key in keys] == [row["bytes"] for row in rows]
