"""File helpers, YOLO dataset reading and the ground-truth CV source, including bad input."""

from __future__ import annotations

import io
import json
import logging
import math
import shutil
from pathlib import Path

import numpy as np
import pytest
from conftest import tar_shards
from hypothesis import example, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from PIL import Image

from helpers.core.io import atomic_write_text, iter_jsonl, write_metrics
from helpers.cv.extract import ground_truth_outputs
from helpers.cv.yolo_data import label_path, load_data_yaml, read_labels


def test_atomic_write_leaves_no_partial_files(tmp_path):
    target = tmp_path / "sub" / "out.txt"
    atomic_write_text(target, "one")
    atomic_write_text(target, "two")
    assert target.read_text() == "two"
    assert [p.name for p in target.parent.iterdir()] == ["out.txt"]


_JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=8,
)


@given(arrays=st.lists(st.lists(_JSON_VALUES, max_size=4), min_size=1, max_size=3), indent=st.sampled_from([None, 1]))
def test_files_filled_side_by_side_hold_each_array_as_json_writes_it(tmp_path_factory, arrays, indent):
    """`AtomicFiles` and `JsonArrayWriter`, the one-pass exports' writers: each file the text `json.dumps` gives its
    items (any JSON values, any text), however their adds interleave; only the files asked for in the folder."""
    from helpers.core.io import AtomicFiles, JsonArrayWriter

    folder = tmp_path_factory.mktemp("files")
    paths = [folder / f"part_{index}.json" for index in range(len(arrays))]
    with AtomicFiles(paths) as files:
        writers = [JsonArrayWriter(files[path], indent) for path in paths]
        for row in range(max(map(len, arrays))):  # a row to each file in turn, as a pass over the rows gives them
            for writer, items in zip(writers, arrays):
                if row < len(items):
                    writer.add(items[row])
        for writer in writers:
            writer.end()
    for path, items in zip(paths, arrays):
        assert path.read_text(encoding="utf-8") == json.dumps(items, ensure_ascii=False, indent=indent)
    assert sorted(folder.iterdir()) == paths


def test_files_filled_side_by_side_stay_as_they_were_when_the_writing_fails(tmp_path):
    from helpers.core.io import AtomicFiles

    paths = [tmp_path / "a.json", tmp_path / "new" / "b.json"]
    paths[0].write_text("earlier")
    with pytest.raises(KeyError), AtomicFiles(paths) as files:
        files[paths[0]].write("half")
        raise KeyError("a row")
    assert paths[0].read_text() == "earlier" and not paths[1].exists()
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["a.json", "new"], "no temporary file left"


def test_iter_jsonl_reports_bad_lines_with_their_numbers(tmp_path):
    path = tmp_path / "in.jsonl"
    path.write_text('{"a": 1}\n\nnot json\n[1, 2]\n{"b": 2}\n')
    lines = list(iter_jsonl(path))
    assert [line.record for line in lines] == [{"a": 1}, None, None, {"b": 2}]
    assert lines[1].error.startswith(f"{path}:3: not valid JSON")
    assert "expected a JSON object, got list" in lines[2].error and lines[2].line_number == 4


def test_write_metrics_converts_numpy_and_non_finite_values(tmp_path):
    path = write_metrics(
        tmp_path / "m.json", {"n": np.int64(3), "x": np.float32(0.5), "bad": math.nan, "p": Path("/a")}
    )
    assert json.loads(path.read_text()) == {"n": 3, "x": 0.5, "bad": None, "p": "/a"}


def test_label_path_and_malformed_label_lines(tmp_path):
    assert label_path(Path("/d/images/train/images/a.jpg")) == Path("/d/images/train/labels/a.txt")
    labels = tmp_path / "a.txt"
    labels.write_text("0 0.5 0.5 0.2 0.4\n\n1 0.1 0.1 0.4 0.4\n")
    assert read_labels(labels, ["plastic", "glass"]) == [
        ("plastic", [0.4, 0.3, 0.6, 0.7]),
        ("glass", [0.0, 0.0, 0.3, 0.3]),  # clipped to the image
    ]
    labels.write_text("0 0.5 0.5 0.2 0.4\n7 0.5 0.5 0.2 0.2\n")
    with pytest.raises(ValueError, match=r"a\.txt:2: class 7 is not one of the dataset's 2 names"):
        read_labels(labels, ["plastic", "glass"])
    labels.write_text("0 0.5 0.5 0.2\n")
    with pytest.raises(ValueError, match=r"a\.txt:1: expected 'class x_center"):
        read_labels(labels, ["plastic", "glass"])
    assert read_labels(tmp_path / "missing.txt", ["plastic"]) == []
    labels.write_text("0 0.5 0.5 0.2 0.4 0.1 0.1 2 0.9 0.95 1\n")  # a pose label: its box, then keypoints
    assert read_labels(labels, ["plastic"], keypoints=True) == [("plastic", [0.4, 0.3, 0.6, 0.7])]
    (tmp_path / "pose.yaml").write_text(f"path: {tmp_path}\ntrain: .\nnames: [plastic]\nkpt_shape: [2, 3]\n")
    assert load_data_yaml(tmp_path / "pose.yaml").keypoints, "kpt_shape: a pose dataset"


@hypothesis_settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.floats(0, 1), st.floats(0, 1)), min_size=3, max_size=12), st.integers(0, 1))
def test_a_polygon_label_reads_as_the_box_ultralytics_makes_of_it(points, class_id):
    """Segmentation and oriented-box datasets (TACO in YOLO format, drone OBB sets) label polygons:
    their upright box is the one Ultralytics trains a detector on (`segments2boxes`)."""
    import tempfile

    from ultralytics.utils.ops import segments2boxes, xywh2xyxy

    from helpers.cv.yolo_data import label_box

    numbers = [v for point in points for v in point]
    expected = xywh2xyxy(segments2boxes([np.array(points, dtype=np.float32)]))[0]
    assert np.allclose(label_box(numbers), expected, atol=1e-6)
    with tempfile.TemporaryDirectory() as folder:
        labels = Path(folder) / "a.txt"
        labels.write_text(f"{class_id} " + " ".join(f"{v:.6f}" for v in numbers) + "\n")
        [(name, box)] = read_labels(labels, ["plastic", "glass"])
        assert name == ["plastic", "glass"][class_id] and np.allclose(box, expected, atol=2e-6)
        labels.write_text(f"{class_id} " + " ".join(f"{v:.6f}" for v in numbers[:-1]) + "\n")  # a number short
        with pytest.raises(ValueError, match=r"a\.txt:1: expected .* or a polygon"):
            read_labels(labels, ["plastic", "glass"])


def test_segment_and_oriented_box_predictions_read_as_their_upright_boxes(tmp_path):
    from helpers.cv.predictions import PredictedDetector
    from helpers.cv.sources import ImageItem

    (tmp_path / "labels").mkdir()
    (tmp_path / "labels" / "a.txt").write_text(
        "0 0.1 0.2 0.5 0.1 0.4 0.6 0.9\n"  # a segment (3 points) and its confidence
        "1 0.2 0.2 0.6 0.2 0.6 0.4 0.2 0.4 0.8\n"  # an oriented box (4 corners)
        "1 0.5 0.5 0.2 0.2 0.7\n"  # a box
    )
    (tmp_path / "labels" / "b.txt").write_text("0 0.1 0.2 0.5 0.1 0.4 0.6\n")  # a segment without confidence
    detector = PredictedDetector(tmp_path / "labels", None, names=["plastic", "glass"], conf=0.0)
    found, missing_conf = detector.predict_items([ImageItem(tmp_path, f"{n}.jpg", None) for n in "ab"])
    assert np.allclose(found.boxes, [[0.1, 0.1, 0.5, 0.6], [0.2, 0.2, 0.6, 0.4], [0.4, 0.4, 0.6, 0.6]])
    assert found.scores.tolist() == [0.9, 0.8, 0.7] and found.labels == ["plastic", "glass", "glass"]
    assert isinstance(missing_conf, ValueError) and "save_conf=True" in str(missing_conf)


def test_data_yaml_with_text_list_and_missing_entries(tmp_path, tiny_demo):
    (tmp_path / "list.txt").write_text(
        "\n".join(str(p) for p in sorted((tiny_demo / "test" / "images").iterdir())) + "\n"
    )
    (tmp_path / "data.yaml").write_text(
        f"path: {tiny_demo}\ntest: {tmp_path / 'list.txt'}\nnames: [plastic, glass, metal, paper, organic]\n"
    )
    dataset = load_data_yaml(tmp_path / "data.yaml")
    assert list(dataset.splits) == ["test"] and len(dataset.splits["test"]) == 2
    (tmp_path / "data.yaml").write_text("train: nowhere/images\nnames: [a]\n")
    with pytest.raises(FileNotFoundError, match="nowhere/images"):
        load_data_yaml(tmp_path / "data.yaml")
    with pytest.raises(FileNotFoundError, match="absent.yaml"):
        load_data_yaml(tmp_path / "absent.yaml")


def test_ground_truth_reports_corrupt_and_empty_images_and_keeps_the_rest(tmp_path, tiny_demo):
    dataset = tmp_path / "set"
    shutil.copytree(tiny_demo, dataset, symlinks=True)
    images = sorted((dataset / "train" / "images").iterdir())
    images[0].write_bytes(images[0].read_bytes()[:200])  # truncated JPEG
    images[1].write_bytes(b"")  # empty file
    result = ground_truth_outputs(dataset / "data.yaml", tmp_path / "cv.jsonl")
    assert len(result.records) == 10 and len(result.errors) == 2
    assert {e["image"] for e in result.errors} == {f"train/images/{images[0].name}", f"train/images/{images[1].name}"}
    assert all(e["error"] for e in result.errors)
    written = [line.record for line in iter_jsonl(tmp_path / "cv.jsonl")]
    assert written == result.records
    assert len(list(iter_jsonl(tmp_path / "cv.errors.jsonl"))) == 2
    record = written[0]
    assert set(record) == {"image", "split", "width", "height", "detections", "scene"}
    assert record["scene"]["confidence"] == 1.0 and record["scene"]["class"] in {"grass", "sandy", "rocky", "marshy"}
    for detection in (d for r in written for d in r["detections"]):
        x1, y1, x2, y2 = detection["bbox"]
        assert 0 <= x1 < x2 <= 1 and 0 <= y1 < y2 <= 1 and detection["sources"] == ["ground_truth"]


@hypothesis_settings(max_examples=150, deadline=None)
@given(st.binary(max_size=60).map(lambda b: b.replace(b"\r", b"")), st.integers(1, 8))
def test_a_half_written_last_line_is_cut_reading_only_the_end(data, tail):
    import tempfile

    from helpers.core.lines import repair_last_line

    with tempfile.TemporaryDirectory() as folder:
        output = Path(folder) / "cv.jsonl"
        output.write_bytes(data)
        repaired = repair_last_line(output, tail=tail)  # a tiny tail: the backwards search crosses chunks
        whole = data == b"" or data.endswith(b"\n")
        assert repaired == (not whole)
        assert output.read_bytes() == (data if whole else data[: data.rfind(b"\n") + 1])


def test_resuming_a_big_output_keeps_its_keys_not_its_records(tmp_path):
    """Resuming 10^7 photos must not hold 10^7 records (nor the file's bytes): only their keys."""
    import tracemalloc

    from helpers.cv.files import scan_keys

    record = {"detections": [{"label": "plastic", "confidence": 0.9, "bbox": [0.1, 0.2, 0.3, 0.4]}] * 24}
    output = tmp_path / "cv.jsonl"
    with output.open("w") as file:
        for index in range(10_000):
            file.write(json.dumps({"image": f"p{index}.jpg", **record, "scene": {"class": "grass"}}) + "\n")
        file.write('{"image": "p-half')  # killed mid-line
    scan_keys(tmp_path / "absent.jsonl")  # imports: not the file's memory
    tracemalloc.start()
    keys, repaired = scan_keys(output)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    size = output.stat().st_size
    assert repaired and keys == {f"p{index}.jpg" for index in range(10_000)}
    assert peak < size / 4, f"peak {peak} bytes for a {size}-byte output"


# file and folder names that sort differently as strings and as path parts ("a-c/x" < "a/b" < "a.jpg")
_NAMES = st.text(alphabet="aA-._0", min_size=1, max_size=4).filter(lambda name: name not in (".", ".."))
_TREES = st.recursive(
    st.sampled_from(["", ".jpg", ".JPG", ".png", ".txt"]),  # a file, its name's ending
    lambda children: st.dictionaries(_NAMES, children, max_size=4),  # a folder
    max_leaves=12,
)


@hypothesis_settings(max_examples=60, deadline=None)
@given(tree=st.dictionaries(_NAMES, _TREES, max_size=5), links=st.booleans())
@example(tree={"0": {"...": ".jpg"}}, links=False)  # a random draw's: a name of dots before its ending went unlisted
def test_a_folder_lists_its_photos_as_sorted_paths_of_its_files_and_links(tmp_path_factory, tree, links):
    """`walk_images` (scandir, no call per file) lists what `sorted` of `rglob`'s files and links with a
    photo's ending listed: the same photos, in the same order; a linked folder is not entered."""
    from helpers.core.photo_datasets import IMAGE_SUFFIXES
    from helpers.cv.yolo_data import list_images, walk_images

    root = tmp_path_factory.mktemp("tree")

    def build(folder: Path, entries: dict) -> None:
        for name, entry in entries.items():
            path = folder / (name if isinstance(entry, dict) else name + entry)
            if path.exists():  # "a" + ".jpg" may be a folder's name too
                continue
            if isinstance(entry, dict):
                path.mkdir()
                build(path, entry)
            else:
                path.write_bytes(b"")

    build(root, tree)
    if links:  # a broken link, loops and a linked folder
        (root / "broken.jpg").symlink_to(root / "gone.jpg")
        (root / "loop.png").symlink_to(root)
        (root / "self.jpg").symlink_to(root / "self.jpg")
        (root / "linked").symlink_to(root)
    files = [path for path in root.rglob("*") if path.is_file() or path.is_symlink()]
    expected = sorted(path for path in files if path.suffix.lower() in IMAGE_SUFFIXES)
    assert list_images(root) == expected
    assert list(walk_images(root)) == [path.relative_to(root).as_posix() for path in expected]


_NAME_TEXT = st.text(st.characters(codec="utf-8", exclude_characters="/\0"), min_size=1, max_size=20)


@hypothesis_settings(max_examples=300, deadline=None)
@given(folders=st.lists(_NAME_TEXT, max_size=3), name=_NAME_TEXT)
def test_a_name_s_ending_is_path_s_suffix_so_folders_tar_shards_and_videos_list_alike(folders, name):
    """`name_suffix` (a folder's photos, a tar shard's members, a video's key) reads a file's ending as `Path.suffix`
    does: "...jpg" ends ".jpg", which `os.path.splitext` says has none (a tar member so named was not listed)."""
    from pathlib import PurePosixPath

    from helpers.core.io import name_suffix

    assert name_suffix("/".join([*folders, name])) == PurePosixPath(name).suffix.lower()


def test_a_tar_shard_s_photo_named_with_dots_before_its_ending_is_listed(tmp_path):
    import tarfile

    from helpers.core.photo_datasets import IMAGE_SUFFIXES
    from helpers.core.tar_photos import shard_photos

    with tarfile.open(tmp_path / "00000.tar", "w") as shard:
        for member in ("a/...jpg", "a/b.JPG", "a/.jpg", "a/notes.txt"):
            info = tarfile.TarInfo(member)
            info.size = 3
            shard.addfile(info, io.BytesIO(b"abc"))
    assert [key for key, _ in shard_photos(tmp_path / "00000.tar", IMAGE_SUFFIXES)] == [
        "00000.tar/a/...jpg",
        "00000.tar/a/b.JPG",
    ]


def test_a_tree_deeper_than_python_recurses_is_listed(tmp_path):
    """The folders were walked by recursion: a tree 1,500 folders deep (a copy loop, a mirrored
    archive) stopped the listing, and the run, with RecursionError."""
    from helpers.cv.yolo_data import walk_images

    folder = tmp_path
    for _ in range(1500):  # one at a time: pathlib's mkdir(parents=True) recurses too
        folder = folder / "d"
        folder.mkdir()
    (folder / "deep.jpg").write_bytes(b"")
    (tmp_path / "top.jpg").write_bytes(b"")
    try:
        assert list(walk_images(tmp_path)) == ["d/" * 1500 + "deep.jpg", "top.jpg"]
    finally:  # removed from the bottom up: pytest's removal of old temporary folders (rmtree) recurses
        (folder / "deep.jpg").unlink()
        while folder != tmp_path:
            folder.rmdir()
            folder = folder.parent


def test_a_folder_of_photos_lists_in_about_150_bytes_a_photo(tmp_path):
    """At 10^7 photos the listing is what a run holds for all of them: an item keeps its key and the
    source's shared root (measured: ~150 bytes a photo here; with a `Path` each it was ~590)."""
    import tracemalloc

    from helpers.cv.sources import open_image_source

    count = 20_000
    for folder in range(20):
        (tmp_path / f"camera_{folder:02d}").mkdir()
        for index in range(count // 20):
            (tmp_path / f"camera_{folder:02d}" / f"IMG_{index:07d}.jpg").write_bytes(b"")
    tracemalloc.start()
    try:
        source = open_image_source(tmp_path)
        held, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(source.items) == count and source.items[-1].path == tmp_path / "camera_19" / "IMG_0000999.jpg"
    assert held / count < 300, f"{held / count:.0f} bytes a photo"


def test_photos_in_tar_shards_are_listed_and_read_where_they_lie(tiny_demo, tmp_path, caplog):
    """`--images shards/` (WebDataset, img2dataset): each shard's photo members, keyed `<shard>/<member>`,
    read at their offset as the files they were; the gallery's and exports' `PhotoKeys` find them by key;
    a shard cut short keeps the photos before the cut, with a warning."""
    from helpers.core.photo_datasets import PhotoKeys, photos_for
    from helpers.cv.sources import decode_image, open_image_source

    photos = tar_shards(tiny_demo, tmp_path / "shards")
    source = open_image_source(tmp_path / "shards")
    keys = [f"{shard:05d}.tar/{shard:05d}{position:04d}.jpg" for shard, n in ((0, 3), (1, 2)) for position in range(n)]
    assert source.kind == "webdataset" and [item.key for item in source.items] == keys
    for item, photo in zip(source.items, photos, strict=True):
        image, size = decode_image(item)
        with Image.open(photo) as original:
            assert size == original.size and np.array_equal(np.asarray(image), np.asarray(original.convert("RGB")))
    assert source.items[4].name == f"{tmp_path / 'shards' / '00001.tar'} [000010001.jpg]"
    keys_of = PhotoKeys(tmp_path / "shards")
    assert [keys_of.read_bytes(key) for key in reversed(keys)] == [p.read_bytes() for p in reversed(photos)]
    assert keys_of.exists(keys[1]) and not keys_of.exists("00000.tar/gone.jpg")
    one = open_image_source(tmp_path / "shards" / "00001.tar")  # one shard: keys start with its name
    assert [item.key for item in one.items] == keys[3:]
    assert photos_for(tmp_path / "shards" / "00001.tar").read_bytes(keys[3]) == photos[3].read_bytes()

    whole = (tmp_path / "shards" / "00000.tar").read_bytes()
    cut = source.items[2].row + 100  # in the third photo's data (a row is where its data starts)
    (tmp_path / "shards" / "00000.tar").write_bytes(whole[:cut])
    with caplog.at_level(logging.WARNING):
        again = open_image_source(tmp_path / "shards")
    assert [item.key for item in again.items] == keys, "listed: the cut photo's header was read"
    assert "00000.tar: a shard that cannot be read past its 3 photos listed" in caplog.text
    with pytest.raises(OSError, match="cut short in 000000002.jpg"):
        decode_image(again.items[2])


def test_the_metadata_files_a_mac_writes_beside_photos_are_passed_over_not_listed(tiny_demo, tmp_path, caplog):
    """A Mac copying photos to an exFAT card, a drive or an SMB share writes `._DJI_0001.JPG` beside each (its
    metadata, AppleDouble), and its tar files hold them as members: listed as photos, each was an error line (no
    image reads) and doubled a run's failures. Passed over, logged; a photo named `._` stays a photo."""
    import tarfile

    from helpers.core.io import APPLE_DOUBLE
    from helpers.cv.sources import open_image_source

    card = tmp_path / "card"
    (card / "DCIM").mkdir(parents=True)
    photos = sorted((tiny_demo / "train" / "images").glob("*.jpg"))[:2]
    for photo in photos:
        shutil.copy(photo, card / "DCIM" / photo.name)
        (card / "DCIM" / f"._{photo.name}").write_bytes(APPLE_DOUBLE + b"\x00\x02\x00\x00Mac OS X        " + bytes(64))
    shutil.copy(photos[0], card / "._kept.jpg")  # a photo named so
    expected = ["._kept.jpg", *(f"DCIM/{photo.name}" for photo in photos)]
    with caplog.at_level(logging.INFO, logger="helpers"):
        assert [item.key for item in open_image_source(card).items] == expected
    assert "2 macOS metadata file(s) passed over" in caplog.text
    (tmp_path / "shards").mkdir()
    with tarfile.open(tmp_path / "shards" / "00000.tar", "w") as archive:  # as a Mac's tar holds them
        for name in sorted(path.relative_to(card).as_posix() for path in card.rglob("*.jpg")):
            archive.add(card / name, name)
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="helpers"):
        keys = [item.key for item in open_image_source(tmp_path / "shards").items]
    assert sorted(keys) == sorted(f"00000.tar/{name}" for name in expected)
    assert "00000.tar: 2 macOS metadata member(s) passed over" in caplog.text


def test_tar_shards_extract_as_their_photos_do_and_export_and_show_from_where_they_lie(
    tiny_demo, tiny_cv_models, tmp_path
):
    """The records of photos in tar shards are those of the same photos as files (keys aside); the
    gallery and the hf export read them from the shards by key."""
    from conftest import cv_models_settings

    from helpers.cv.extract import ExtractConfig, run_extraction
    from helpers.describer.exports import export
    from helpers.describer.gallery import write_gallery

    photos = tar_shards(tiny_demo, tmp_path / "shards")
    (tmp_path / "files").mkdir()
    for photo in photos:
        shutil.copy(photo, tmp_path / "files" / photo.name)
    records = {}
    for name in ("shards", "files"):
        settings = cv_models_settings(tiny_cv_models, images=str(tmp_path / name))
        run = run_extraction(ExtractConfig(output=str(tmp_path / f"{name}.jsonl"), **settings))
        records[name] = [json.loads(line) for line in open(run["output"], encoding="utf-8")]
    assert [r["image"].split("/")[0] for r in records["shards"]] == ["00000.tar"] * 3 + ["00001.tar"] * 2
    strip = [{k: v for k, v in r.items() if k != "image"} for r in records["shards"]]
    assert strip == [{k: v for k, v in r.items() if k != "image"} for r in records["files"]]

    described = tmp_path / "described.jsonl"
    rows = [{"id": r["image"], "description": "Litter.", "source": "grammar"} for r in records["shards"]]
    described.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    counts = export("hf", described, tmp_path / "ds", tmp_path / "shards.jsonl", tmp_path / "shards")
    import datasets

    saved = datasets.load_from_disk(str(tmp_path / "ds")).cast_column("image", datasets.Image(decode=False))
    assert counts["exported"] == 5 and [row["image"]["bytes"] for row in saved] == [p.read_bytes() for p in photos]
    page = write_gallery(described, tmp_path / "page.html", cv=tmp_path / "shards.jsonl")  # photos from the manifest
    assert page["photos"] == 5 and page["problems"] == 0


_MEMBER_NAMES = st.lists(
    st.text(st.characters(codec="utf-8", categories=["L", "N"], include_characters="-_ ."), min_size=1, max_size=40),
    min_size=1,
    max_size=5,
).map("/".join)


@hypothesis_settings(max_examples=60, deadline=None)
@given(
    members=st.lists(st.tuples(_MEMBER_NAMES, st.binary(max_size=700)), max_size=8),
    form=st.sampled_from(["ustar", "gnu", "pax"]),
    folder=st.booleans(),
)
def test_the_shard_listing_reads_headers_as_tarfile_does(tmp_path_factory, members, form, folder):
    """Shards are listed from their headers by `helpers.core.tar_photos` (about 3x `TarFile`): the same
    files at the same offsets as `tarfile` reads, whatever the names (long ones in a ustar prefix, or
    in GNU or pax extension headers, which go to `tarfile`) and sizes; folders are no photos."""
    import io
    import tarfile

    from helpers.core.tar_photos import shard_members, tarfile_members

    shard = tmp_path_factory.mktemp("shard") / "00000.tar"
    formats = {"ustar": tarfile.USTAR_FORMAT, "gnu": tarfile.GNU_FORMAT, "pax": tarfile.PAX_FORMAT}
    with tarfile.open(shard, "w", format=formats[form]) as archive:
        if folder:
            archive.addfile(_folder("photos"))
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            try:
                archive.addfile(info, io.BytesIO(data))
            except ValueError:  # a name ustar cannot hold (too long for name and prefix): not written
                continue
    assert shard_members(shard) == tarfile_members(shard)
    assert [name for name, _ in shard_members(shard)[0]] == [
        m.name for m in tarfile.open(shard).getmembers() if m.isfile()
    ]


def _folder(name: str):
    import tarfile

    info = tarfile.TarInfo(name)
    info.type = tarfile.DIRTYPE
    return info
