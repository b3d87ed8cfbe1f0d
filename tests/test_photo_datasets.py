"""Photos held in a Hugging Face dataset (`helpers.core.photo_datasets`): listed and read where they
lie (save_to_disk folders, Parquet files), extracted as from a folder, shown and exported by key."""

from __future__ import annotations

import io
import json
import multiprocessing
import shutil
import tempfile
import threading
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import cv_models_settings
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from PIL import Image

from helpers.core import photo_datasets
from helpers.core.io import iter_jsonl
from helpers.core.photo_datasets import PhotoDataset, PhotoKeys
from helpers.cv.extract import ExtractConfig, run_extraction
from helpers.cv.sources import load_image, open_image_source

PHOTO = pa.struct([("bytes", pa.binary()), ("path", pa.string())])


def _png(index: int) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (12 + index, 9), (index * 40, 90, 30)).save(buffer, "PNG")
    return buffer.getvalue()


def _dataset(rows: list[dict]):
    import datasets

    features = datasets.Features({"image": datasets.Image(), "tag": datasets.Value("string")})
    return datasets.Dataset.from_dict(
        {"image": [row["image"] for row in rows], "tag": [row["tag"] for row in rows]}, features=features
    )


def test_save_to_disk_folders_and_parquet_files_list_their_photos_by_stored_path(tmp_path):
    photos = {f"{'north' if i % 2 else 'south'}/p{i}.png": _png(i) for i in range(5)}
    rows = [{"image": {"bytes": data, "path": key}, "tag": f"t{i}"} for i, (key, data) in enumerate(photos.items())]
    dataset = _dataset(rows)
    dataset.save_to_disk(str(tmp_path / "saved"), num_shards=2)
    dataset.to_parquet(str(tmp_path / "one.parquet"))
    (tmp_path / "shards").mkdir()
    for index in range(2):  # as the Hub (and `desclm export --format hf`) shard a dataset
        dataset.shard(2, index, contiguous=True).to_parquet(str(tmp_path / "shards" / f"train-{index}.parquet"))
    for location in ("saved", "one.parquet", "shards"):
        photo_dataset = PhotoDataset(tmp_path / location)
        # `datasets`' save_to_disk keeps only each photo's file name; its Parquet keeps the path as given
        stored = [Path(key).name for key in photos] if location == "saved" else list(photos)
        assert [key for key, _ in photo_dataset.keys()] == stored, location
        assert [photo_dataset.read(row) for row in range(5)] == list(photos.values()), location
        assert photo_dataset.column == "image"
    keyed = PhotoDataset(tmp_path / "shards", key_column="tag")
    assert [key for key, _ in keyed.keys()] == [f"t{i}" for i in range(5)]
    # a DatasetDict: the splits in order, each photo's split said; stored paths repeat across them: row numbers
    import datasets

    datasets.DatasetDict({"train": dataset, "test": dataset.select([0, 1])}).save_to_disk(str(tmp_path / "dict"))
    split_dataset = PhotoDataset(tmp_path / "dict")
    assert list(split_dataset.keys()) == [(f"train/{i}", "train") for i in range(5)] + [
        ("test/0", "test"),
        ("test/1", "test"),
    ]
    assert split_dataset.read(6) == photos["north/p1.png"]
    (tmp_path / "photos").mkdir()  # a photo folder holding a Parquet file without photos stays a photo folder
    (tmp_path / "photos" / "p.png").write_bytes(_png(0))
    pq.write_table(pa.table({"image": ["p.png"], "detections": ["[]"]}), tmp_path / "photos" / "cv.parquet")
    assert (
        open_image_source(tmp_path / "photos").kind == "folder" and open_image_source(tmp_path / "shards").kind == "hf"
    )
    photos_by_key = PhotoKeys(tmp_path / "dict")
    assert photos_by_key.read_bytes("test/1") == photos["north/p1.png"] and not photos_by_key.exists("test/2")


def test_a_dataset_that_cannot_be_read_as_asked_says_why(tmp_path):
    table = pa.table({"a": pa.array([{"bytes": _png(0), "path": "x.png"}], PHOTO), "b": pa.array([None], PHOTO)})
    pq.write_table(table, tmp_path / "two.parquet")
    with pytest.raises(ValueError, match=r"several image columns \['a', 'b'\]: name one with image_column"):
        PhotoDataset(tmp_path / "two.parquet")
    with pytest.raises(ValueError, match="no column 'photo' \\(image_column\\)"):
        PhotoDataset(tmp_path / "two.parquet", image_column="photo")
    with pytest.raises(ValueError, match="no column 'id' \\(key_column\\)"):
        PhotoDataset(tmp_path / "two.parquet", image_column="a", key_column="id")
    with pytest.raises(ValueError, match=r"two.parquet row 0: no photo in column 'b'"):
        PhotoDataset(tmp_path / "two.parquet", image_column="b").read(0)
    pq.write_table(pa.table({"id": ["a", "a"], "text": ["x", "y"]}), tmp_path / "none.parquet")
    with pytest.raises(ValueError, match="no image column"):
        PhotoDataset(tmp_path / "none.parquet")
    with pytest.raises(ValueError, match="column 'text' holds string, not images"):
        PhotoDataset(tmp_path / "none.parquet", image_column="text")
    outside = tmp_path / "outside.png"  # `datasets` keeps a photo it was given by path outside the dataset
    outside.write_bytes(_png(3))
    column = pa.array(
        [{"bytes": None, "path": str(outside)}, {"bytes": None, "path": str(tmp_path / "gone.png")}], PHOTO
    )
    pq.write_table(pa.table({"image": column, "id": ["a", "a"]}), tmp_path / "linked.parquet")
    linked = PhotoDataset(tmp_path / "linked.parquet")
    assert linked.read(0) == _png(3)
    with pytest.raises(ValueError, match="linked.parquet row 1: its photo is the file .*gone.png, not readable"):
        linked.read(1)
    with pytest.raises(ValueError, match="rows 0 and 1 share id 'a': keys must be unique"):
        list(PhotoDataset(tmp_path / "linked.parquet", key_column="id").keys())
    (tmp_path / "shards").mkdir()
    pq.write_table(table, tmp_path / "shards" / "a.parquet")
    (tmp_path / "shards" / "b.parquet").write_bytes((tmp_path / "two.parquet").read_bytes()[:100])  # cut short
    with pytest.raises(ValueError, match=r"b.parquet: not a readable Parquet file of the dataset"):
        PhotoDataset(tmp_path / "shards", image_column="a")


def _write_parts(folder: Path, paths: list, split_at: int) -> Path:
    """A folder of one or two Parquet files of photos (rows[:split_at], rows[split_at:]) with these stored paths."""
    folder.mkdir(parents=True, exist_ok=True)
    split_at = min(split_at, len(paths))
    for name, part in (("a", paths[:split_at]), ("b", paths[split_at:])):
        if part or name == "a" and not paths:
            column = pa.array([{"bytes": f"photo {path}".encode(), "path": path} for path in part], PHOTO)
            pq.write_table(pa.table({"image": column}), folder / f"{name}.parquet", row_group_size=2)
    return folder


@hypothesis_settings(max_examples=40, deadline=None)
@given(
    st.lists(st.one_of(st.none(), st.sampled_from(["", "1", "a.jpg", "b/a.jpg", "c.png", "ü d.jpg"])), max_size=6),
    st.integers(0, 6),
)
def test_keys_are_the_stored_paths_or_rows_and_all_rows_when_two_would_share_one(paths, split_at):
    with tempfile.TemporaryDirectory() as folder:  # one data file or two: keys are read a file at a time
        keys = [key for key, _ in PhotoDataset(_write_parts(Path(folder) / "photos", paths, split_at)).keys()]
    named = [path or str(row) for row, path in enumerate(paths)]  # a photo without a stored path: its row
    assert keys == (named if len(set(named)) == len(named) else [str(row) for row in range(len(paths))])
    assert len(set(keys)) == len(keys), "every photo has its own key"


@hypothesis_settings(max_examples=30, deadline=None)
@given(st.integers(1, 9), st.integers(0, 9), st.data())
def test_photo_keys_find_every_row_in_any_order_holding_none_passed_in_order(count, split_at, data):
    """Exports ask for a dataset's photos in its order: read on from the last one found, no map of
    every row is held; in any other order (repeats, a missing key) the answers are the same."""
    with tempfile.TemporaryDirectory() as folder:
        paths = [f"p{row}.jpg" for row in range(count)]
        photos = PhotoKeys(_write_parts(Path(folder) / "photos", paths, split_at))
        for key in paths:  # in order
            assert photos.read_bytes(key) == f"photo {key}".encode()
            assert photos._passed == {}, "nothing passed over, nothing kept"
        photos = PhotoKeys(Path(folder) / "photos")
        for done, key in enumerate(reversed(paths), start=1):  # backwards: the keys passed over wait, and go
            assert photos.read_bytes(key) == f"photo {key}".encode()
            assert len(photos._passed) == count - done
        asked = data.draw(st.lists(st.sampled_from([*paths, "missing.jpg"]), max_size=3 * count))
        photos = PhotoKeys(Path(folder) / "photos")
        photos.RECENT = data.draw(st.integers(1, 3))  # few recent ones: a repeat far back reads round again
        for key in asked:
            if key == "missing.jpg":
                assert not photos.exists(key)
            else:
                assert photos.read_bytes(key) == f"photo {key}".encode()


@pytest.fixture(scope="module")
def photo_dataset(tiny_demo, tmp_path_factory):
    """Four demo photos in a save_to_disk folder, then a row that is no photo and a row without one."""
    root = tmp_path_factory.mktemp("photo_dataset")
    photos = sorted((tiny_demo / "train" / "images").glob("*.jpg"))[:4]
    (root / "folder").mkdir()
    for photo in photos:
        shutil.copy(photo, root / "folder" / photo.name)
    rows = [{"image": {"bytes": photo.read_bytes(), "path": photo.name}, "tag": photo.stem} for photo in photos]
    rows += [{"image": {"bytes": b"not a photo", "path": "bad.jpg"}, "tag": "bad"}, {"image": None, "tag": "none"}]
    _dataset(rows).save_to_disk(str(root / "dataset"), num_shards=2)
    return root, [photo.name for photo in photos]


def test_photos_in_a_dataset_extract_as_from_a_folder_and_a_bad_row_costs_one_line(
    photo_dataset, tiny_cv_models, tmp_path
):
    root, names = photo_dataset
    runs = {}
    for name in ("folder", "dataset"):
        config = ExtractConfig(
            images=str(root / name), output=str(tmp_path / f"{name}.jsonl"), **cv_models_settings(tiny_cv_models)
        )
        runs[name] = (config, run_extraction(config))
    folder_records = [line.record for line in iter_jsonl(tmp_path / "folder.jsonl")]
    dataset_records = [line.record for line in iter_jsonl(tmp_path / "dataset.jsonl")]
    assert dataset_records == folder_records and [r["image"] for r in dataset_records] == names
    errors = [line.record for line in iter_jsonl(tmp_path / "dataset.errors.jsonl")]
    assert [error["image"] for error in errors] == ["bad.jpg", "5"], "a photo without a stored path: its row"
    assert "row 4" in errors[0]["error"] and "not an image file" in errors[0]["error"]
    assert "00002.arrow row 2: no photo in column 'image'" in errors[1]["error"], "the second file's third row"
    config, first = runs["dataset"]
    assert (first["processed"], first["failed"]) == (4, 2)
    again = run_extraction(config)
    assert (again["already_done"], again["processed"], again["failed"]) == (4, 0, 2), "resumes by key"
    manifest = json.loads((tmp_path / "dataset.manifest.json").read_text())
    assert manifest["source_kind"] == "hf"


def test_the_ray_decoding_task_reads_a_dataset_row_as_the_local_engine_does(photo_dataset):
    pytest.importorskip("ray")
    from helpers.engine.ray_data import _decode_rows

    root, names = photo_dataset
    items = open_image_source(root / "dataset").items
    batch = {  # the columns Ray Data hands the task (numpy arrays), as RayEngine lists the photos
        "key": np.array([item.key for item in items]),
        "split": np.array([item.split or "" for item in items]),
        "row": np.array([-1 if item.row is None else item.row for item in items]),
        "column": np.array([item.column for item in items]),
        "position": np.arange(len(items)),
    }
    decoded = _decode_rows(batch, min_side=0, root=str(root / "dataset"), taken=False)
    assert decoded["row"].tolist() == batch["row"].tolist(), "a photo's row goes on to the model actors"
    for index, item in enumerate(items[:4]):
        assert np.array_equal(decoded["image"][index], np.asarray(load_image(item))) and not decoded["error"][index]
    assert "not an image file" in decoded["error"][4] and "no photo" in decoded["error"][5]


def test_the_gallery_and_the_exports_show_and_copy_a_datasets_photos_by_key(photo_dataset, tmp_path):
    from helpers.describer.exports import export
    from helpers.describer.gallery import write_gallery

    root, names = photo_dataset
    described = tmp_path / "described.jsonl"
    rows = [{"id": name, "description": "One plastic item on grass.", "source": "grammar"} for name in names]
    rows.append({"id": "gone.jpg", "description": "No litter is visible.", "source": "grammar"})
    described.write_text("".join(json.dumps(row) + "\n" for row in rows))
    page = write_gallery(described, tmp_path / "page" / "gallery.html", images=root / "dataset")
    assert page["photos"] == 5 and page["problems"] == 1, "a key the dataset lacks costs its picture"
    assert len(list((tmp_path / "page" / "gallery_thumbs").glob("*.jpg"))) == 4
    counts = export("hf", described, tmp_path / "exported", images=root / "dataset")
    assert (counts["exported"], counts["problems"]) == (4, 1)
    exported = PhotoDataset(tmp_path / "exported" / "parquet")
    assert [key for key, _ in exported.keys()] == names, "the export names its photos by their keys again"
    assert [exported.read(row) for row in range(4)] == [(root / "folder" / name).read_bytes() for name in names]


def test_the_gallerys_sample_is_all_its_dataset_map_holds(photo_dataset, tmp_path):
    """Of a dataset of 10^7 photos the gallery shows a sample: the key -> row map holds the sample's keys
    (about a GB for every key), and the page its thumbnails."""
    from helpers.core.photo_datasets import PhotoKeys
    from helpers.describer.gallery import write_gallery

    root, names = photo_dataset
    photos = PhotoKeys(root / "dataset")
    photos.only(names[1:3])
    assert photos.read_bytes(names[2]) == (root / "folder" / names[2]).read_bytes()
    assert len(photos._rows) == 2 and not photos.exists(names[0]), "a key outside the sample is not looked up"
    described = tmp_path / "described.jsonl"
    described.write_text(
        "".join(json.dumps({"id": name, "description": "No litter is visible."}) + "\n" for name in names)
    )
    page = write_gallery(described, tmp_path / "page" / "gallery.html", images=root / "dataset", max_photos=2, seed=3)
    assert (page["described"], page["photos"], page["problems"]) == (4, 2, 0)
    assert len(list((tmp_path / "page" / "gallery_thumbs").glob("*.jpg"))) == 2


def _jpeg(index: int) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (20 + index, 15), (90, index * 40, 30)).save(buffer, "JPEG")
    return buffer.getvalue()


def test_llava_and_coco_exports_copy_a_datasets_photos_into_files_named_as_the_json_says(tmp_path):
    """--image_folder: photos kept in a dataset (keys without extensions: `train/0`) become files that
    LLaVA's --image_folder and COCO tools open, written as stored; a rerun keeps them; a name two
    photos would share costs the second its row; a stale file from an earlier export is replaced."""
    import datasets
    from pycocotools.coco import COCO

    from helpers.describer.exports import export

    photos = {"train/0": _png(0), "train/1": _jpeg(1), "train/2": _png(2), "validation/0": _jpeg(3)}
    split_rows = {"train": [], "validation": []}
    for key, data in photos.items():
        split_rows[key.split("/")[0]].append({"image": {"bytes": data, "path": None}, "tag": key})
    datasets.DatasetDict({split: _dataset(rows) for split, rows in split_rows.items()}).save_to_disk(
        str(tmp_path / "dataset")
    )
    described = tmp_path / "described.jsonl"
    rows = [{"id": key, "description": f"Photo {key}.", "captions": [f"Photo {key}.", "Another."]} for key in photos]
    rows.insert(2, {"id": "train/9", "description": "Not in the dataset.", "source": "grammar"})
    described.write_text("".join(json.dumps(row) + "\n" for row in rows))
    (tmp_path / "files" / "train").mkdir(parents=True)
    (tmp_path / "files" / "train" / "2.png").write_bytes(b"an earlier export's other photo")
    counts = export(
        "llava", described, tmp_path / "llava.json", images=tmp_path / "dataset", image_folder=tmp_path / "files"
    )
    assert (counts["exported"], counts["problems"], counts["photos_written"]) == (4, 1, 4)
    entries = json.loads((tmp_path / "llava.json").read_text())
    names = ["train/0.png", "train/1.jpg", "train/2.png", "validation/0.jpg"]
    assert [entry["image"] for entry in entries] == [name for name in names for _ in range(2)]
    for name, data in zip(names, photos.values()):
        assert (tmp_path / "files" / name).read_bytes() == data, "as stored, never re-encoded"
        with Image.open(tmp_path / "files" / name) as image:
            assert image.format == ("PNG" if name.endswith(".png") else "JPEG")
    problem = json.loads((tmp_path / "llava.json.errors.jsonl").read_text())
    assert problem["id"] == "train/9" and "no photo 'train/9'" in problem["error"]
    from helpers.describer.check import check_file  # the export checks against 01's records, keyed train/0 ...

    scene = {"class": "grass", "confidence": 0.9}
    records = "".join(json.dumps({"image": key, "detections": [], "scene": scene}) + "\n" for key in photos)
    (tmp_path / "cv.jsonl").write_text(records)
    summary = check_file(tmp_path / "cv.jsonl", tmp_path / "llava.json", tmp_path / "verdicts.jsonl")
    assert (summary["checked"], summary["errors"]) == (8, 0), "a file's name leads back to its photo's key"
    # COCO into the same folder: every file is there already; sizes read from the photos
    counts = export(
        "coco", described, tmp_path / "coco.json", images=tmp_path / "dataset", image_folder=tmp_path / "files"
    )
    assert (counts["exported"], counts["photos_written"], counts["photos_kept"]) == (4, 0, 4)
    coco = COCO(str(tmp_path / "coco.json"))
    images = coco.loadImgs(coco.getImgIds())
    assert [image["file_name"] for image in images] == names
    for image in images:
        with Image.open(tmp_path / "files" / image["file_name"]) as photo:
            assert (image["width"], image["height"]) == photo.size
        assert len(coco.getAnnIds(imgIds=image["id"])) == 2
    # keys by a column: "a" (a PNG) would be named "a.png", another photo's key: that row costs its line
    clash = _dataset(
        [
            {"image": {"bytes": _png(0), "path": None}, "tag": "a"},
            {"image": {"bytes": _jpeg(1), "path": None}, "tag": "a.png"},
        ]
    )
    clash.save_to_disk(str(tmp_path / "clash"))
    (tmp_path / "clash.jsonl").write_text(
        "".join(json.dumps({"id": key, "description": "x"}) + "\n" for key in ("a", "a.png"))
    )
    counts = export(
        "llava",
        tmp_path / "clash.jsonl",
        tmp_path / "clash.json",
        images=tmp_path / "clash",
        key_column="tag",
        image_folder=tmp_path / "clash_files",
    )
    assert (counts["exported"], counts["problems"]) == (1, 1)
    assert [entry["image"] for entry in json.loads((tmp_path / "clash.json").read_text())] == ["a.png"]
    assert (tmp_path / "clash_files" / "a.png").read_bytes() == _png(0), "the first photo's file is kept"
    with pytest.raises(ValueError, match="embeds the photos"):
        export("hf", described, tmp_path / "hf", images=tmp_path / "dataset", image_folder=tmp_path / "files")
    with pytest.raises(ValueError, match="give the photos"):
        export("llava", described, tmp_path / "other.json", image_folder=tmp_path / "files")


@hypothesis_settings(max_examples=200, deadline=None)
@given(
    st.text(alphabet=st.sampled_from(list("ab/\\.ü -_")), max_size=14), st.sampled_from(["", ".jpg", ".PNG", ".txt"])
)
def test_a_photos_file_name_stays_inside_its_folder_and_ends_as_a_photo(key, ending):
    from helpers.core.photo_datasets import IMAGE_SUFFIXES, photo_file_name

    key += ending
    try:
        name = photo_file_name(key, _png(0))
    except ValueError as error:
        assert "names no file" in str(error) and not key.replace("\\", "/").strip("/.")
        return
    parts = name.split("/")
    assert all(part not in ("", ".", "..") for part in parts) and "\\" not in name
    assert (Path("/folder") / name).resolve().is_relative_to("/folder")
    assert Path(name).suffix.lower() in IMAGE_SUFFIXES
    plain = all(part not in ("", ".", "..") for part in key.split("/")) and "\\" not in key
    if plain and Path(key).suffix.lower() in IMAGE_SUFFIXES:
        assert name == key, "a photo's own name is kept"


def _as_format(box: list[float], size: tuple[int, int], bbox_format: str) -> list[float]:
    (x1, y1, x2, y2), (width, height) = box, size
    if bbox_format == "yolo":
        return [(x1 + x2) / 2, (y1 + y2) / 2, x2 - x1, y2 - y1]
    if bbox_format == "albumentations":
        return list(box)
    pixels = [x1 * width, y1 * height, x2 * width, y2 * height]
    return (
        pixels if bbox_format == "pascal_voc" else [pixels[0], pixels[1], pixels[2] - pixels[0], pixels[3] - pixels[1]]
    )


def test_a_detection_datasets_boxes_are_the_ground_truth_its_yolo_labels_give(tiny_demo, tmp_path):
    """The demo set's photos, labels and scenes as a Hub-style detection DatasetDict (an `objects`
    column of ClassLabel categories and boxes in each bbox_format; `boxes` and text `labels` in one; a
    `scene` column): extracting its labels gives the YOLO data.yaml's records, `validation` read as
    the val split; a box outside its photo costs that photo."""
    import datasets

    yolo = open_image_source(tiny_demo / "data.yaml")
    names = yolo.class_names
    scene_names = sorted(set(yolo.scenes.values()))
    yolo_records = {}
    for line in iter_jsonl(
        run_extraction(
            ExtractConfig(
                images=str(tiny_demo / "data.yaml"), output=str(tmp_path / "data_yaml.jsonl"), detections_from="labels"
            )
        )["output"]
    ):
        yolo_records[Path(line.record["image"]).name] = line.record
    assert all(record["scene"]["class"] in scene_names for record in yolo_records.values())
    for bbox_format in ("coco", "pascal_voc", "albumentations", "yolo"):
        torchvision_style = bbox_format == "albumentations"  # `boxes` and text `labels`
        box_name, category_name = ("boxes", "labels") if torchvision_style else ("bbox", "category")
        features = datasets.Features(
            {
                "image": datasets.Image(),
                "objects": datasets.Sequence(
                    {
                        box_name: datasets.Sequence(datasets.Value("float64"), length=4),
                        category_name: datasets.Value("string")
                        if torchvision_style
                        else datasets.ClassLabel(names=names),
                    }
                ),
                "scene": datasets.ClassLabel(names=scene_names) if bbox_format == "coco" else datasets.Value("string"),
            }
        )
        splits = {"train": [], "validation": []}
        for item in yolo.items:
            if item.split not in ("train", "val"):
                continue
            size = (yolo_records[item.path.name]["width"], yolo_records[item.path.name]["height"])
            boxes = yolo.truth_boxes(item)
            objects = {
                box_name: [_as_format(box, size, bbox_format) for _, box in boxes],
                category_name: [name if torchvision_style else names.index(name) for name, _ in boxes],
            }
            scene = yolo.scenes[item.key]
            row = {
                "image": {"bytes": item.path.read_bytes(), "path": item.path.name},
                "objects": objects,
                "scene": scene_names.index(scene) if bbox_format == "coco" else scene,
            }
            splits["train" if item.split == "train" else "validation"].append(row)
        outside = {
            box_name: [_as_format([0.5, 0.5, 1.5, 0.9], size, bbox_format)],
            category_name: [names[0] if torchvision_style else 0],
        }
        splits["validation"].append(
            {"image": {"bytes": item.path.read_bytes(), "path": "outside.jpg"}, "objects": outside, "scene": None}
        )
        rows = {
            split: {name: [row[name] for row in rows] for name in ("image", "objects", "scene")}
            for split, rows in splits.items()
        }
        folder = tmp_path / bbox_format
        datasets.DatasetDict(
            {split: datasets.Dataset.from_dict(values, features=features) for split, values in rows.items()}
        ).save_to_disk(str(folder))
        config = ExtractConfig(
            images=str(folder),
            output=str(tmp_path / f"{bbox_format}.jsonl"),
            detections_from="labels",
            bbox_format=bbox_format,
        )
        run = run_extraction(config)
        records = [line.record for line in iter_jsonl(tmp_path / f"{bbox_format}.jsonl")]
        assert len(records) == 10 and run["failed"] == 1, bbox_format
        for record in records:
            expected = yolo_records[record["image"]]
            assert record["split"] == expected["split"] and record["split"] in ("train", "val")
            assert record["scene"] == expected["scene"], (bbox_format, record["image"])
            assert [d["label"] for d in record["detections"]] == [d["label"] for d in expected["detections"]]
            for mine, theirs in zip(record["detections"], expected["detections"]):
                assert mine["bbox"] == pytest.approx(theirs["bbox"], abs=2e-6), (bbox_format, record["image"])
        errors = [line.record for line in iter_jsonl(tmp_path / f"{bbox_format}.errors.jsonl")]
        assert [e["image"] for e in errors] == ["outside.jpg"] and "is not a box inside the" in errors[0]["error"]


def _read_in_child(location: str, answers) -> None:
    dataset = photo_datasets.open_photo_dataset(location)
    answers.put([dataset.read(row) for row in range(dataset.num_rows)])


def test_a_forked_child_opens_and_reads_a_dataset_while_a_thread_of_its_parent_held_the_locks(tmp_path):
    photos = [_png(index) for index in range(3)]
    location = str(tmp_path / "one.parquet")
    _dataset([{"image": {"bytes": data, "path": f"p{i}.png"}, "tag": ""} for i, data in enumerate(photos)]).to_parquet(
        location
    )
    opened = photo_datasets.open_photo_dataset(location)
    holding, release = threading.Event(), threading.Event()

    def hold() -> None:  # a loader thread in the middle of an opening, and of a row group's read
        with photo_datasets._OPENING, opened._row_groups._lock:
            holding.set()
            release.wait()

    holder = threading.Thread(target=hold)
    holder.start()
    holding.wait()
    context = multiprocessing.get_context("fork")
    answers = context.Queue()
    child = context.Process(target=_read_in_child, args=(location, answers))
    try:
        child.start()
        read = answers.get(timeout=120)  # without its own locks, the child waits for ever
    finally:
        release.set()
        holder.join()
        child.join(timeout=30)
        if child.is_alive():
            child.kill()
    assert read == photos
    assert child.exitcode == 0
