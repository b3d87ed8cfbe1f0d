"""Photos in object storage (`--images s3://bucket/photos/`), listed, read and shown where they lie
(`helpers.core.remote`): against moto's S3 server, which s3fs reaches over HTTP as it reaches AWS, and fsspec's
in-memory file system for what needs no server."""

from __future__ import annotations

import json
import shutil
import socket
import tempfile
from dataclasses import replace
from pathlib import Path

import fsspec
import numpy as np
import pytest
from conftest import cv_models_settings, tar_shards
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from helpers.core.io import APPLE_DOUBLE
from helpers.core.paths import require_photos
from helpers.core.photo_datasets import IMAGE_SUFFIXES, photos_for
from helpers.core.remote import remote_folder, remote_photos
from helpers.cv.extract import ExtractConfig, run_extraction
from helpers.cv.sources import ImageItem, load_image, open_image_source
from helpers.cv.yolo_data import walk_images

BUCKET = "litter-survey"


def _lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def s3(tiny_demo, tmp_path_factory):
    """A bucket on moto's S3 server holding the tiny demo's train photos under `flights/`, with a file that is no
    photo, a Mac's `._` file, a note and a video that cannot be read beside them; and a local folder of the same
    files. Yields (the photos' URL, the local folder, the file system)."""
    moto_server = pytest.importorskip("moto.server")
    s3fs = pytest.importorskip("s3fs")
    port = _free_port()
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    environment = {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}",
    }
    with pytest.MonkeyPatch.context() as patch:
        for name, value in environment.items():
            patch.setenv(name, value)
        s3fs.S3FileSystem.clear_instance_cache()  # a file system made before, for another endpoint, is not reused
        fs = s3fs.S3FileSystem()
        fs.mkdir(BUCKET)
        local = tmp_path_factory.mktemp("remote") / "flights"
        shutil.copytree(tiny_demo / "train" / "images", local / "day1")
        (local / "day1" / "broken.jpg").write_bytes(b"not a photo")
        (local / "._day1.jpg").write_bytes(APPLE_DOUBLE + b"\x00" * 60)
        (local / "notes.txt").write_text("flight notes")
        (local / "day1" / "clip.mp4").write_bytes(b"\x00" * 64)
        fs.put(str(local), f"{BUCKET}/flights", recursive=True)
        yield f"s3://{BUCKET}/flights/", local, fs
        s3fs.S3FileSystem.clear_instance_cache()
    server.stop()


def test_extract_reads_photos_in_s3_where_they_lie_as_it_reads_a_local_copy(s3, tiny_cv_models, tmp_path):
    """The records of `desclm extract --images s3://...` are those of the same photos in a local folder, keyed
    alike; a file that is no photo, and a video that cannot be read, each cost a line naming its URL; the manifest
    names the URL, so the gallery finds the photos; a rerun resumes (nothing done twice), and takes a photo uploaded
    since."""
    url, local, fs = s3
    settings = cv_models_settings(tiny_cv_models)
    remote_summary = run_extraction(ExtractConfig(images=url, output=str(tmp_path / "remote.jsonl"), **settings))
    run_extraction(ExtractConfig(images=str(local), output=str(tmp_path / "local.jsonl"), **settings))

    remote, here = (_lines(tmp_path / f"{name}.jsonl") for name in ("remote", "local"))
    assert remote == here and len(remote) == 8
    assert [record["image"] for record in remote] == [f"day1/train_{i:05d}.jpg" for i in range(8)]
    errors = _lines(tmp_path / "remote.errors.jsonl")
    assert [error["image"] for error in errors] == ["day1/broken.jpg", "day1/clip.mp4/00000.000s.jpg"]
    assert f"{url}day1/broken.jpg: not an image file" in errors[0]["error"]
    assert f"Invalid data found when processing input: '{url}day1/clip.mp4'" in errors[1]["error"]
    assert remote_summary["selected_images"] == 10  # the photos, the broken one and the video's frame: no `._`, note
    manifest = json.loads((tmp_path / "remote.manifest.json").read_text())
    assert manifest["image_root"] == url.rstrip("/")

    # a photo uploaded since, in a folder of its own: listed again, not as this process saw the bucket before
    fs.pipe(f"{BUCKET}/flights/day2/late.jpg", (local / "day1" / "train_00000.jpg").read_bytes())
    try:
        again = run_extraction(ExtractConfig(images=url, output=str(tmp_path / "remote.jsonl"), **settings))
    finally:
        fs.rm(f"{BUCKET}/flights/day2/late.jpg")
    assert (again["already_done"], again["processed"]) == (8, 1)
    late = _lines(tmp_path / "remote.jsonl")
    assert late[:8] == remote and late[8]["image"] == "day2/late.jpg"
    assert late[8]["detections"] == remote[0]["detections"]


def test_annotate_describes_photos_in_s3(s3, tiny_cv_models, model_dir, tmp_path):
    """`desclm annotate --images s3://...`: each photo in the bucket extracted and described in one run; the file that
    is no photo and the video that cannot be read one error line each among the CV errors."""
    from helpers.engine.annotate import AnnotateOptions, annotate
    from helpers.engine.options import EngineOptions

    url, _, _ = s3
    config = ExtractConfig(images=url, output=str(tmp_path / "cv.jsonl"), **cv_models_settings(tiny_cv_models))
    options = AnnotateOptions(describer=str(model_dir), described=str(tmp_path / "described.jsonl"))
    summary = annotate(config, options, EngineOptions())
    assert (summary["processed"], summary["failed"]) == (8, 2)
    described = _lines(tmp_path / "described.jsonl")
    assert sorted(row["id"] for row in described) == [f"day1/train_{i:05d}.jpg" for i in range(8)]
    assert all(row.get("description") for row in described)
    assert [row["image"] for row in _lines(tmp_path / "cv.errors.jsonl")] == [
        "day1/broken.jpg",
        "day1/clip.mp4/00000.000s.jpg",
    ]


def test_gallery_and_exports_show_and_copy_photos_from_s3(s3, tmp_path):
    """The gallery finds the photos where the records' manifest says (the bucket) and draws a thumbnail of each; the
    llava export copies each photo's bytes from the bucket; Label Studio's tasks name each photo by its URL (its
    cloud storage serves them); a photo rewritten in the bucket is a new version."""
    from helpers.describer.exports import export
    from helpers.describer.gallery import write_gallery

    url, local, fs = s3
    keys = [f"day1/train_{i:05d}.jpg" for i in range(8)]
    records = [{"image": key, "detections": [], "scene": {"class": "grass", "confidence": 0.9}} for key in keys]
    (tmp_path / "cv.jsonl").write_text("".join(json.dumps(record) + "\n" for record in records))
    manifest = {"image_root": url.rstrip("/"), "images": url}
    (tmp_path / "cv.manifest.json").write_text(json.dumps(manifest))
    described = [{"id": key, "description": "There is no litter on grass.", "source": "grammar"} for key in keys]
    (tmp_path / "described.jsonl").write_text("".join(json.dumps(row) + "\n" for row in described))

    page = write_gallery(tmp_path / "cv.jsonl", tmp_path / "page.html")
    assert page["photos"] == 8 and page["problems"] == 0
    assert len(list((tmp_path / "page_thumbs").iterdir())) == 8

    photos = require_photos(url, "Photos")
    export(
        "llava",
        tmp_path / "described.jsonl",
        tmp_path / "llava.json",
        tmp_path / "cv.jsonl",
        photos,
        image_folder=tmp_path / "copied",
    )
    entries = json.loads((tmp_path / "llava.json").read_text())
    assert [entry["image"] for entry in entries] == keys
    assert all((tmp_path / "copied" / key).read_bytes() == (local / key).read_bytes() for key in keys)

    export("label_studio", tmp_path / "described.jsonl", tmp_path / "tasks.json", tmp_path / "cv.jsonl", photos)
    tasks = json.loads((tmp_path / "tasks.json").read_text())
    assert [task["data"]["image"] for task in tasks] == [f"{url}{key}" for key in keys]

    found = photos_for(photos)
    before = found.version(keys[0])
    fs.pipe(f"{BUCKET}/flights/{keys[0]}", (local / keys[1]).read_bytes())
    assert found.version(keys[0]) != before and found.read_bytes(keys[0]) == (local / keys[1]).read_bytes()
    fs.pipe(f"{BUCKET}/flights/{keys[0]}", (local / keys[0]).read_bytes())


def test_a_video_in_a_folder_that_cannot_be_listed_is_asked_of_alone_once(drone_clip):
    """A bucket whose objects may be read but not listed (no s3:ListBucket): the video's frames are read, its size
    and version asked of it once, not once a frame (each reader's file asks s3fs's own once)."""
    from unittest import mock

    from upath import UPath

    import helpers.core.video_frames as video_frames

    local, url = drone_clip
    remote = UPath(url)
    asked = []
    info = remote.fs.info

    def counted_info(path, **kwargs):
        asked.append(path)
        return info(path, **kwargs)

    refused = PermissionError("Access Denied (s3:ListBucket)")
    with (
        mock.patch.object(remote.fs, "ls", side_effect=refused),
        mock.patch.object(remote.fs, "info", counted_info),
    ):
        video_frames.close_videos()
        frames = [video_frames.decode_frame(remote, milliseconds)[0] for milliseconds in (0, 1000, 2500, 500)]
    video_frames.close_videos()
    assert [np.asarray(frame).tobytes() for frame in frames] == [
        np.asarray(video_frames.decode_frame(local, milliseconds)[0]).tobytes() for milliseconds in (0, 1000, 2500, 500)
    ]
    assert len(asked) == 2  # ours, kept; s3fs's for the reader's file (the object's ETag, which each read checks)


def test_videos_in_s3_are_read_where_they_lie_as_a_local_copy_is(s3, tiny_demo, tiny_cv_models, tmp_path):
    """A bucket's folder of drone videos: each video's frames listed and described as a local copy's are (the same
    records, a flight record beside a video placing its frames), a TypeScript `.ts` left out, a video that cannot
    be read one error line naming its URL; one video's URL is its frames; the gallery and the exports read each
    frame back by key from the bucket."""
    import datetime

    from PIL import Image
    from test_video_frames import _dji_subtitle, _write_video

    from helpers.core.photo_datasets import photos_of_cv_output
    from helpers.cv.sources import open_image_source
    from helpers.describer.gallery import write_gallery

    _, _, fs = s3
    local = tmp_path / "clips"
    local.mkdir()
    photos = sorted((tiny_demo / "train" / "images").glob("*.jpg"))[:6]
    pictures = [np.asarray(Image.open(photo).convert("RGB").resize((160, 120))) for photo in photos]
    _write_video(local / "DJI_0001.MP4", pictures, 2, "libx264", options={"g": "2"})  # a keyframe a second
    moments = [datetime.datetime(2026, 5, 1, 12, 22, 31) + datetime.timedelta(seconds=n) for n in range(3)]
    subtitles = [
        _dji_subtitle(n + 1, 1000 * n, 1000 * (n + 1), m, 47 + n / 1000, 8.5, 450, False) for n, m in enumerate(moments)
    ]
    (local / "DJI_0001.SRT").write_text("".join(subtitles), encoding="utf-8")
    (local / "app.ts").write_text("export const answer: number = 42;\n", encoding="utf-8")
    (local / "bad.avi").write_bytes(b"not a video at all")
    fs.put(str(local), f"{BUCKET}/clips", recursive=True)
    url = f"s3://{BUCKET}/clips/"
    settings = cv_models_settings(tiny_cv_models, yolo_conf=0.0, hf_conf=0.0)
    for name, images in (("remote", url), ("local", str(local))):
        run_extraction(ExtractConfig(images=images, output=str(tmp_path / f"{name}.jsonl"), **settings))
    remote, here = (_lines(tmp_path / f"{name}.jsonl") for name in ("remote", "local"))
    frames = [f"DJI_0001.MP4/0000{second}.000s.jpg" for second in range(3)]
    assert remote == here and [record["image"] for record in remote] == frames
    assert sum(len(record["detections"]) for record in remote) > 0  # there is something to compare
    assert [record["taken"]["latitude"] for record in remote] == [47.0, 47.001, 47.002]  # the flight record's
    errors = _lines(tmp_path / "remote.errors.jsonl")
    assert [error["image"] for error in errors] == ["bad.avi/00000.000s.jpg"] and f"{url}bad.avi" in errors[0]["error"]

    one = open_image_source(f"{url}DJI_0001.MP4", video_interval=2.0)
    assert (one.kind, [item.key for item in one.items]) == ("video", frames[::2])

    found = photos_of_cv_output(tmp_path / "remote.jsonl")
    assert found.is_video_frame(frames[1]) and not found.is_video_frame("DJI_0002.MP4/00001.000s.jpg")
    local_frames = photos_of_cv_output(tmp_path / "local.jsonl")
    assert np.array_equal(np.asarray(found.image(frames[1])), np.asarray(local_frames.image(frames[1])))
    assert found.read_bytes(frames[2]) == local_frames.read_bytes(frames[2])  # the same JPEG of the frame
    assert found.version(frames[1]).endswith("|1000") and found.version(frames[1]) != found.version(frames[2])
    described = [{"id": key, "description": "Litter.", "source": "grammar"} for key in frames]
    (tmp_path / "described.jsonl").write_text("".join(json.dumps(row) + "\n" for row in described))
    page = write_gallery(tmp_path / "described.jsonl", tmp_path / "page.html", cv=tmp_path / "remote.jsonl")
    assert page["photos"] == 3 and page["problems"] == 0 and len(list((tmp_path / "page_thumbs").iterdir())) == 3
    fs.rm(f"{BUCKET}/clips", recursive=True)


@pytest.fixture(scope="module")
def drone_clip(s3, tmp_path_factory):
    """A 4-second H.264 video (a keyframe each second, noisy frames that differ: ~300 KB) on this machine and in the
    bucket: (its path, its URL)."""
    from test_video_frames import _numbered, _write_video

    noise = np.random.default_rng(0).integers(0, 64, (40, 72, 96, 3), dtype=np.uint8)
    frames = [frame + noise[n] for n, frame in enumerate(_numbered(40, size=(96, 72)))]
    video = _write_video(tmp_path_factory.mktemp("clip") / "DJI_0002.MP4", frames, 10, "libx264", options={"g": "10"})
    s3[2].put(str(video), f"{BUCKET}/clip/DJI_0002.MP4")
    yield video, f"s3://{BUCKET}/clip/DJI_0002.MP4"
    s3[2].rm(f"{BUCKET}/clip", recursive=True)


@hypothesis_settings(max_examples=25, deadline=None)
@given(
    block=st.integers(min_value=8 * 1024, max_value=512 * 1024),
    times=st.lists(st.integers(min_value=0, max_value=4500), min_size=1, max_size=8),
)
def test_a_remote_videos_frames_are_a_local_copys_whatever_the_request_size_and_order(drone_clip, block, times):
    """A video in the bucket read in requests of any size, its frames asked for in any order (decoded on, sought
    back and forth), gives the frames a local copy gives, and its length."""
    from unittest import mock

    from upath import UPath

    import helpers.core.video_frames as video_frames

    local, url = drone_clip
    remote = UPath(url)
    with mock.patch.multiple(video_frames, VIDEO_BLOCK=block, PROBE_BLOCK=block):
        video_frames.close_videos()  # readers opened now, with these requests
        assert video_frames.frame_times(remote, 0.5) == video_frames.frame_times(local, 0.5)
        with video_frames._opened(remote, block) as there, video_frames._opened(local) as here:  # read on after opening
            lengths = [video_frames.demuxed_length(opened, opened.streams.video[0]) for opened in (there, here)]
        assert lengths[0] == lengths[1] > 0
        for milliseconds in times:
            here, size = video_frames.decode_frame(local, milliseconds)
            there, remote_size = video_frames.decode_frame(remote, milliseconds)
            assert np.array_equal(np.asarray(there), np.asarray(here)) and remote_size == size
    video_frames.close_videos()


def test_a_datasets_parquet_files_in_s3_are_read_where_they_lie_as_a_local_copy_is(
    s3, tiny_demo, tiny_cv_models, tmp_path
):
    """A Hugging Face dataset's Parquet files in the bucket (a Hub dataset's `data/` mirrored there): its photos
    listed by their stored paths from the path column alone (not the photos' bytes), extracted as from a local
    copy, a bad row one error line naming the dataset's URL; one file's URL is its rows; the exports copy each photo
    from the bucket by key, the gallery shows them, a Ray decoding task reads its rows there; a save_to_disk folder
    there is refused, saying what to do."""
    import io

    from PIL import Image
    from test_photo_datasets import _dataset

    import helpers.core.photo_datasets as photo_datasets
    from helpers.cv.batch import decode_batches
    from helpers.cv.sources import open_image_source
    from helpers.describer.exports import export
    from helpers.describer.gallery import write_gallery

    _, _, fs = s3
    photos = sorted((tiny_demo / "train" / "images").glob("*.jpg"))[:4]
    rows = [{"image": {"bytes": photo.read_bytes(), "path": photo.name}, "tag": photo.stem} for photo in photos]
    grain = np.random.default_rng(0).integers(0, 256, (480, 640, 3), dtype=np.uint8)  # a photo of 0.9 MB
    large = io.BytesIO()
    Image.fromarray(grain).save(large, "PNG")
    rows.append({"image": {"bytes": large.getvalue(), "path": "grain.png"}, "tag": "grain"})
    rows.append({"image": {"bytes": b"not a photo", "path": "bad.jpg"}, "tag": "bad"})
    dataset = _dataset(rows)
    local = tmp_path / "data"
    local.mkdir()
    for index in range(2):
        part = dataset.shard(2, index, contiguous=True)  # the first file one row group, the second a group a row
        part.to_parquet(str(local / f"train-0000{index}-of-00002.parquet"), batch_size=1 if index else 100)
    fs.put(str(local), f"{BUCKET}/hub/data", recursive=True)
    url = f"s3://{BUCKET}/hub/data/"

    read = {}  # each remote Parquet file's bytes fetched
    opened = photo_datasets._remote_parquet

    def counted(file):  # the bytes each request to the storage brought (what its file's cache fetched)
        handle = opened(file)
        fetch = handle.cache.fetcher

        def fetching(start, end):
            data = fetch(start, end)
            read[file.name] = read.get(file.name, 0) + len(data)
            return data

        handle.cache.fetcher = fetching
        return handle

    photo_datasets._remote_parquet = counted
    try:
        listed = open_image_source(url)
    finally:
        photo_datasets._remote_parquet = opened
    keys = [*(photo.name for photo in photos), "grain.png", "bad.jpg"]
    assert listed.kind == "hf" and [item.key for item in listed.items] == keys
    holding = (local / "train-00001-of-00002.parquet").stat().st_size  # the large photo's file
    assert read["train-00001-of-00002.parquet"] < holding / 8, "its footer and its path column, not its photos"

    settings = cv_models_settings(tiny_cv_models)
    for name, images in (("remote", url), ("local", str(local))):
        run_extraction(ExtractConfig(images=images, output=str(tmp_path / f"{name}.jsonl"), **settings))
    remote, here = (_lines(tmp_path / f"{name}.jsonl") for name in ("remote", "local"))
    assert remote == here and [record["image"] for record in remote] == [*(photo.name for photo in photos), "grain.png"]
    errors = _lines(tmp_path / "remote.errors.jsonl")
    assert [error["image"] for error in errors] == ["bad.jpg"]
    assert f"{url.rstrip('/')} (row 5, bad.jpg): not an image file" in errors[0]["error"]

    one = open_image_source(f"{url}train-00001-of-00002.parquet")
    assert [item.key for item in one.items] == keys[3:]

    read.clear()
    photo_datasets.forget_photo_datasets()  # opened afresh: no row group kept from the extraction above
    photo_datasets._remote_parquet = counted
    try:  # the first file's three photos, a loader thread each: its one row group read once, the threads sharing it
        decoded = [d for batch in decode_batches(listed.items[:3], 3, 3) for d in batch]
    finally:
        photo_datasets._remote_parquet = opened
    assert [d.item.key for d in decoded if d.image is not None] == keys[:3]
    first = (local / "train-00000-of-00002.parquet").stat().st_size
    assert read["train-00000-of-00002.parquet"] < first + 2**16, "the file (and its footer, opened for reading)"

    described = [{"id": photo.name, "description": "Litter.", "source": "grammar"} for photo in photos]
    (tmp_path / "described.jsonl").write_text("".join(json.dumps(row) + "\n" for row in described))
    counts = export("hf", tmp_path / "described.jsonl", tmp_path / "exported", images=require_photos(url, "Photos"))
    assert counts["exported"] == 4
    exported = photo_datasets.PhotoDataset(tmp_path / "exported" / "parquet")
    assert [exported.read(row) for row in range(4)] == [photo.read_bytes() for photo in photos]
    page = write_gallery(tmp_path / "described.jsonl", tmp_path / "page.html", cv=tmp_path / "remote.jsonl")
    assert page["photos"] == 4 and page["problems"] == 0  # the photos the records' manifest names: the bucket's

    from helpers.engine.ray_data import _decode_rows

    batch = {  # the columns Ray Data hands the task, as RayEngine lists the photos
        "key": np.array([item.key for item in listed.items]),
        "split": np.array([item.split or "" for item in listed.items]),
        "row": np.array([item.row for item in listed.items]),
        "column": np.array([item.column for item in listed.items]),
        "position": np.arange(len(listed.items)),
    }
    decoded = _decode_rows(batch, min_side=0, root=url, taken=False)  # a Ray decoding task's, from the bucket
    assert [bool(error) for error in decoded["error"]] == [False] * 5 + [True]

    dataset.save_to_disk(str(tmp_path / "saved"))
    fs.put(str(tmp_path / "saved"), f"{BUCKET}/saved", recursive=True)
    with pytest.raises(ValueError, match="save_to_disk dataset .* on this machine only"):
        open_image_source(f"s3://{BUCKET}/saved")
    fs.rm(f"{BUCKET}/hub", recursive=True)
    fs.rm(f"{BUCKET}/saved", recursive=True)


def test_a_remote_location_that_cannot_be_read_is_one_line_naming_it(tmp_path):
    """Nothing there, one file, a protocol nobody knows: each a one-line error naming the URL; an output or other
    input given as a URL is refused, not written to a folder named `s3:` here."""
    memory = fsspec.filesystem("memory")
    memory.pipe("/errors/photos/a.jpg", b"x")
    with pytest.raises(FileNotFoundError, match="memory://errors/none"):
        remote_folder("memory://errors/none", "Photos")
    with pytest.raises(NotADirectoryError, match="one file: memory://errors/photos/a.jpg"):
        remote_folder("memory://errors/photos/a.jpg", "Photos")
    with pytest.raises(ValueError, match="nosuchstore://x"):
        remote_folder("nosuchstore://x/photos", "Photos")
    config = ExtractConfig(images="memory://errors/photos", output="s3://bucket/cv.jsonl", yolo_weights="best.pt")
    with pytest.raises(ValueError, match="s3://bucket/cv.jsonl: a remote location where a path on this machine"):
        config.output_path()
    memory.rm("/errors", recursive=True)


def test_auto_loader_threads_wait_out_a_remote_buckets_round_trips():
    """`loader_threads: 0` is one thread per core for photos here, at least REMOTE_LOADER_THREADS for photos in a
    bucket (each waits out its request); a number given is taken as it is."""
    from helpers.core.device import cpu_cores
    from helpers.cv.config import REMOTE_LOADER_THREADS

    here, there = (ExtractConfig(images=images, yolo_weights="best.pt") for images in ("photos", "s3://b/photos/"))
    assert here.decoding_threads() == cpu_cores()
    assert there.decoding_threads() == max(cpu_cores(), REMOTE_LOADER_THREADS)
    assert ExtractConfig(images="s3://b/photos/", yolo_weights="best.pt", loader_threads=3).decoding_threads() == 3
    listed = ExtractConfig(images="week.txt", yolo_weights="best.pt")  # a list of URLs: its source's root a bucket
    assert listed.decoding_threads("s3://b") == max(cpu_cores(), REMOTE_LOADER_THREADS)


NAMES = st.text(alphabet="aAb0._- ", min_size=1, max_size=4).filter(lambda name: name not in (".", ".."))
SUFFIXES = st.sampled_from([".jpg", ".JPG", ".png", ".txt", ""])
FILES = st.lists(st.tuples(st.lists(NAMES, max_size=3), NAMES, SUFFIXES), min_size=1, max_size=12)


@given(files=FILES)
def test_a_remote_folder_lists_its_photos_in_the_order_and_keys_of_a_local_copy(files):
    """Whatever the names (dots, dashes, spaces, case, depth), a remote folder's photos are the keys a local copy's
    walk gives, in its order: a run over the bucket and over a copy writes the same records in the same order."""
    memory = fsspec.filesystem("memory")
    with tempfile.TemporaryDirectory() as folder:
        root, written = Path(folder), set()
        for parents, name, suffix in files:
            key = "/".join([*parents, name + suffix])
            if any(k.startswith(key + "/") or key.startswith(k + "/") for k in written):
                continue  # a name both a file and a folder
            written.add(key)
            (root / key).parent.mkdir(parents=True, exist_ok=True)
            (root / key).write_bytes(b"photo")
            memory.pipe(f"/walk/{key}", b"photo")
        try:
            listed = remote_photos(remote_folder("memory://walk", "Photos"), IMAGE_SUFFIXES)
        finally:
            memory.rm("/walk", recursive=True)
        assert listed == list(walk_images(root))


def test_tar_shards_in_s3_are_listed_once_and_read_where_they_lie(s3, tiny_demo, tiny_cv_models, tmp_path, monkeypatch):
    """`--images s3://bucket/shards/` (WebDataset, img2dataset): the records of the photos in the shards are those of
    a local copy, keyed alike; each shard's listing is kept, so a rerun and the gallery's and exports' photo lookup
    read no shard's headers again, until the shard is written again; one shard's URL is its photos; a photo larger
    than the first request is read whole."""
    import tarfile

    import helpers.core.tar_photos as tar_photos
    from helpers.core.photo_datasets import photos_of_cv_output
    from helpers.cv.sources import open_image_source
    from helpers.describer.exports import export

    _, _, fs = s3
    monkeypatch.setattr(tar_photos, "LISTINGS", tmp_path / "listings")
    local = tmp_path / "shards"
    photos = tar_shards(tiny_demo, local)
    long_name = "survey-" * 16 + ".jpg"  # past a ustar header's 100 bytes: a pax header, which `tarfile` lists
    with tarfile.open(local / "00002.tar", "w", format=tarfile.PAX_FORMAT) as archive:
        archive.add(photos[0], long_name)
    fs.put(str(local), f"{BUCKET}/shards", recursive=True)
    url = f"s3://{BUCKET}/shards/"
    settings = cv_models_settings(tiny_cv_models)
    remote_run = run_extraction(ExtractConfig(images=url, output=str(tmp_path / "remote.jsonl"), **settings))
    run_extraction(ExtractConfig(images=str(local), output=str(tmp_path / "local.jsonl"), **settings))
    remote, here = (_lines(tmp_path / f"{name}.jsonl") for name in ("remote", "local"))
    assert remote == here and remote_run["processed"] == 6 and remote_run["failed"] == 0
    assert [record["image"] for record in remote][-1] == f"00002.tar/{long_name}"
    assert len(list((tmp_path / "listings").iterdir())) == 3, "one listing kept a shard"

    def no_header_read(*args, **kwargs):
        raise AssertionError("a shard's headers read again")

    with monkeypatch.context() as reading:
        reading.setattr(tar_photos._Readahead, "__call__", no_header_read)
        reading.setattr(tar_photos, "tarfile_members", no_header_read)
        reading.setattr(tar_photos, "FIRST_READ", 1024)  # smaller than every photo: the rest in a second request
        again = run_extraction(ExtractConfig(images=url, output=str(tmp_path / "remote.jsonl"), **settings))
        assert (again["already_done"], again["processed"]) == (6, 0)
        found = photos_of_cv_output(tmp_path / "remote.jsonl")  # the gallery's and exports' lookup, by the manifest
        expected = [*photos, photos[0]]
        assert [found.read_bytes(record["image"]) for record in remote] == [p.read_bytes() for p in expected]
        one = open_image_source(f"{url}00001.tar")
        assert [item.key for item in one.items] == [record["image"] for record in remote[3:5]]
    # Label Studio's S3 storage serves objects, not a shard's members: the tasks are refused, not named so
    described = [{"id": record["image"], "description": "Litter.", "source": "grammar"} for record in remote]
    (tmp_path / "described.jsonl").write_text("".join(json.dumps(row) + "\n" for row in described))
    with pytest.raises(ValueError, match="tar shards are no files Label Studio can serve"):
        export(
            "label_studio",
            tmp_path / "described.jsonl",
            tmp_path / "tasks.json",
            tmp_path / "remote.jsonl",
            require_photos(url, "Photos"),
        )

    fs.pipe(f"{BUCKET}/shards/00001.tar", (local / "00000.tar").read_bytes())  # written again: listed again
    relisted = open_image_source(url)
    assert [item.key.replace("00001.tar", "00000.tar") for item in relisted.items[3:6]] == [
        record["image"] for record in remote[:3]
    ]
    fs.rm(f"{BUCKET}/shards", recursive=True)


@hypothesis_settings(max_examples=40, deadline=None)
@given(
    members=st.lists(st.tuples(NAMES.map(lambda name: f"{name}.jpg"), st.binary(max_size=3000)), max_size=6),
    pax=st.booleans(),
    listing_block=st.integers(min_value=512, max_value=8192),
    first_read=st.integers(min_value=0, max_value=4096),
    span_read=st.integers(min_value=0, max_value=8192),
    taken=st.lists(st.booleans(), min_size=6, max_size=6),
)
def test_a_remote_shard_lists_and_reads_as_a_local_copy_whatever_the_request_sizes(
    members, pax, listing_block, first_read, span_read, taken
):
    """A remote shard's headers, read in requests of any size, list the files a local copy lists at the same offsets,
    and each member read back in requests of any size is its bytes, alone or with others in a request."""
    import io
    import tarfile
    from unittest import mock

    from upath import UPath

    import helpers.core.tar_photos as tar_photos

    data = io.BytesIO()
    with tarfile.open(fileobj=data, mode="w", format=tarfile.PAX_FORMAT if pax else tarfile.USTAR_FORMAT) as archive:
        for name, content in members:
            info = tarfile.TarInfo(name)
            info.size = len(content)
            archive.addfile(info, io.BytesIO(content))
    memory = fsspec.filesystem("memory")
    memory.pipe("/shards/00000.tar", data.getvalue())
    with (
        tempfile.TemporaryDirectory() as folder,
        mock.patch.multiple(
            tar_photos,
            LISTINGS=Path(folder) / "listings",
            LISTING_BLOCK=listing_block,
            FIRST_READ=first_read,
            SPAN_READ=span_read,
        ),
    ):
        (Path(folder) / "00000.tar").write_bytes(data.getvalue())
        try:
            listed, problem = tar_photos.shard_members(UPath("memory://shards/00000.tar"))
            assert (listed, problem) == tar_photos.shard_members(Path(folder) / "00000.tar")
            assert tar_photos.shard_members(UPath("memory://shards/00000.tar")) == (listed, None), "from the cache"
            read = [tar_photos.read_member(UPath("memory://shards/00000.tar"), offset) for _, offset in listed]
            some = [offset for (_, offset), take in zip(listed, taken) if take]  # the photos of a run, as listed
            together = tar_photos.read_members(UPath("memory://shards/00000.tar"), some)
        finally:
            memory.rm("/shards", recursive=True)
    assert [name for name, _ in listed] == [name for name, _ in members]
    assert read == [content for _, content in members]
    assert together == [content for (_, content), take in zip(members, taken) if take]


def test_a_batchs_photos_of_a_remote_shard_are_read_in_one_request_each_its_own_error(tiny_demo, tmp_path):
    """Extraction's loader threads read a batch's consecutive photos of a remote shard in one request, decoded as
    from a local copy; a photo cut short at the shard's end is its own error."""
    from unittest import mock

    import helpers.core.tar_photos as tar_photos
    from helpers.core.remote import remote_range
    from helpers.cv.batch import decode_batches, read_shard_runs
    from helpers.cv.sources import open_image_source

    tar_shards(tiny_demo, tmp_path / "shards")
    whole = (tmp_path / "shards" / "00001.tar").read_bytes()
    cut = open_image_source(tmp_path / "shards").items[-1].row + 100  # in the last photo's data
    (tmp_path / "shards" / "00001.tar").write_bytes(whole[:cut])
    memory = fsspec.filesystem("memory")
    memory.put(str(tmp_path / "shards"), "/runs/shards", recursive=True)
    requests = []

    def counted(path, start, end):
        requests.append(path.name)
        return remote_range(path, start, end)

    try:
        with mock.patch.object(tar_photos, "LISTINGS", tmp_path / "listings"):
            remote_items = open_image_source("memory://runs/shards").items
            with mock.patch.object(tar_photos, "remote_range", counted):
                remote = [d for batch in decode_batches(remote_items, 8, 4, 64) for d in batch]
            read_by_a_ray_task = read_shard_runs(remote_items)  # a Ray decoding task's block, read so
    finally:
        memory.rm("/runs", recursive=True)
    local = [d for batch in decode_batches(open_image_source(tmp_path / "shards").items, 8, 1, 64) for d in batch]
    assert [d.item.key for d in remote] == [d.item.key for d in local] and len(remote) == 5
    assert [np.asarray(d.image).tobytes() for d in remote[:4]] == [np.asarray(d.image).tobytes() for d in local[:4]]
    assert remote[4].image is None and "cut short in 000010001.jpg" in remote[4].error and "cut short" in local[4].error
    assert requests == ["00000.tar", "00001.tar", "00001.tar"], "a request a shard, then the cut photo alone"
    local_items = open_image_source(tmp_path / "shards").items
    assert read_by_a_ray_task == [tar_photos.read_member(item.path, item.row) for item in local_items[:4]] + [None]


def test_a_remote_shard_that_cannot_be_read_costs_its_photos_with_a_warning(tiny_demo, tmp_path, caplog):
    """A shard the storage refuses (permissions, say) is named in a warning and its photos go unlisted; the other
    shards' photos are listed, and nothing is kept of the refused one (the next run lists it again)."""
    import logging
    from unittest import mock

    import helpers.core.tar_photos as tar_photos
    from helpers.cv.sources import open_image_source

    tar_shards(tiny_demo, tmp_path / "shards")
    memory = fsspec.filesystem("memory")
    memory.put(str(tmp_path / "shards"), "/refused/shards", recursive=True)
    info = type(memory).info

    def refusing(fs, path, **kwargs):
        if path.endswith("00000.tar"):
            raise PermissionError(f"Access Denied: {path}")
        return info(fs, path, **kwargs)

    try:
        with (
            mock.patch.object(tar_photos, "LISTINGS", tmp_path / "listings"),
            mock.patch.object(type(memory), "info", refusing),
            caplog.at_level(logging.WARNING),
        ):
            keys = [item.key for item in open_image_source("memory://refused/shards").items]
    finally:
        memory.rm("/refused", recursive=True)
    assert keys == ["00001.tar/000010000.jpg", "00001.tar/000010001.jpg"]
    assert (
        "00000.tar: a shard that cannot be read past its 0 photos listed: PermissionError: Access Denied" in caplog.text
    )
    assert len(list((tmp_path / "listings").iterdir())) == 1, "only the listed shard's listing kept"


def test_a_list_of_photo_urls_is_read_as_a_local_list_of_the_same_photos_keyed_by_their_object_keys(
    s3, tiny_cv_models, tmp_path
):
    """`--images week.txt` whose lines are URLs (an inventory's, `aws s3 ls`'s): the photos read where they lie, in
    the list's order, each once, keyed by their keys in the bucket (whatever else a list grown later names); the
    records are a local list's of the same photos; an object not there costs a line naming its URL; the gallery
    finds the photos through the manifest. A list in the bucket names its photos by URL or by keys beside it."""
    from unittest import mock

    s3fs = pytest.importorskip("s3fs")
    url, local, fs = s3
    names = [f"day1/train_{i:05d}.jpg" for i in (3, 0, 5)]
    listed = tmp_path / "week.txt"
    lines = ["\ufeff# last week's flights", f"{url}{names[0]}\r", "", f"  {url}{names[1]}", f"{url}{names[0]}"]
    listed.write_text("\n".join([*lines, f"{url}{names[2]}", f"{url}day1/gone.jpg"]) + "\n")
    same_here = local.parent / "week-here.txt"  # the same photos, as paths beside the local copy's folder
    same_here.write_text("".join(f"flights/{name}\n" for name in names))
    settings = cv_models_settings(tiny_cv_models)
    asked = []
    asked_for_size = s3fs.S3FileSystem._info

    async def counted_info(self, path, **kwargs):
        asked.append(path)
        return await asked_for_size(self, path, **kwargs)

    try:
        with mock.patch.object(s3fs.S3FileSystem, "_info", counted_info):
            summary = run_extraction(
                ExtractConfig(images=str(listed), output=str(tmp_path / "listed.jsonl"), **settings)
            )
        run_extraction(ExtractConfig(images=str(same_here), output=str(tmp_path / "here.jsonl"), **settings))
    finally:
        same_here.unlink()
    records = _lines(tmp_path / "listed.jsonl")
    assert records == _lines(tmp_path / "here.jsonl")
    assert [record["image"] for record in records] == [f"flights/{name}" for name in names]
    assert (summary["processed"], summary["failed"]) == (3, 1)
    assert not asked, "a photo is one GET, its size not asked first"
    [error] = _lines(tmp_path / "listed.errors.jsonl")
    assert error["image"] == "flights/day1/gone.jpg" and f"{url}day1/gone.jpg: no such object" in error["error"]
    assert json.loads((tmp_path / "listed.manifest.json").read_text())["image_root"].rstrip("/") == f"s3://{BUCKET}"
    photos = photos_for(listed, cv=tmp_path / "listed.jsonl")
    assert photos.read_bytes(f"flights/{names[1]}") == (local / names[1]).read_bytes()
    from helpers.engine.ray_data import _decode_rows

    items = open_image_source(str(listed)).items
    batch = {  # the columns Ray Data hands a decoding task, as RayEngine lists the photos
        "key": np.array([item.key for item in items]),
        "split": np.array([""] * len(items)),
        "row": np.array([-1] * len(items)),
        "column": np.array([item.column for item in items]),
        "position": np.arange(len(items)),
    }
    decoded = _decode_rows(batch, min_side=0, root=items[0].root, taken=False)  # a Ray task's, from the bucket
    assert [bool(error) for error in decoded["error"]] == [False, False, False, True]
    assert [np.asarray(image).shape[:2] for image in decoded["image"][:3]] == [
        np.asarray(load_image(ImageItem(local, name, None))).shape[:2] for name in names
    ]
    # the list grown by a photo elsewhere in the bucket: the records written before kept, the new one added
    fs.pipe(f"{BUCKET}/later/late.jpg", (local / names[1]).read_bytes())
    with listed.open("a") as grown:
        grown.write(f"s3://{BUCKET}/later/late.jpg\n")
    try:
        again = run_extraction(ExtractConfig(images=str(listed), output=str(tmp_path / "listed.jsonl"), **settings))
    finally:
        fs.rm(f"{BUCKET}/later/late.jpg")
    assert (again["already_done"], again["processed"]) == (3, 1)
    assert _lines(tmp_path / "listed.jsonl")[:3] == records

    # a list in the bucket: keys beside it, or URLs; one above its folder is refused naming its line
    fs.pipe(f"{BUCKET}/lists/urls.txt", f"{url}{names[2]}\n".encode())
    fs.pipe(f"{BUCKET}/lists/above.txt", b"train_00001.jpg\n../flights/day1/train_00002.jpg\n")
    fs.pipe(f"{BUCKET}/flights/day1/beside.txt", b"train_00001.jpg\n./train_00002.jpg\n")
    try:
        beside = open_image_source(f"s3://{BUCKET}/flights/day1/beside.txt")
        urls = open_image_source(f"s3://{BUCKET}/lists/urls.txt")
        with pytest.raises(ValueError, match=r"above\.txt: line 2: '\.\./flights.*not inside the list's folder"):
            open_image_source(f"s3://{BUCKET}/lists/above.txt")
    finally:
        fs.rm(f"{BUCKET}/lists", recursive=True)
        fs.rm(f"{BUCKET}/flights/day1/beside.txt")
    assert [item.key for item in beside.items] == ["train_00001.jpg", "train_00002.jpg"]
    assert str(beside.root) == f"{url}day1"
    here = ImageItem(local / "day1", "train_00002.jpg", None)
    assert np.array_equal(np.asarray(load_image(beside.items[1])), np.asarray(load_image(here)))
    assert [str(item.path) for item in urls.items] == [f"{url}{names[2]}"] and urls.items[
        0
    ].key == f"flights/{names[2]}"


def test_a_list_names_its_photos_one_way_in_one_bucket_or_says_which_line_does_not(tmp_path):
    mixed = tmp_path / "mixed.txt"
    mixed.write_text("a.jpg\n# a comment\ns3://survey/b.jpg\n")
    with pytest.raises(ValueError, match=r"mixed\.txt: line 1: 'a\.jpg' is a path, while line 3 is a URL"):
        open_image_source(str(mixed))
    two = tmp_path / "two.txt"
    two.write_text("s3://survey/a.jpg\ns3://other/b.jpg\n")
    with pytest.raises(ValueError, match=r"two\.txt: line 2: s3://other/b\.jpg is not in s3://survey, as line 1 is"):
        open_image_source(str(two))
    folder = tmp_path / "folder.txt"
    folder.write_text("s3://survey/flights/\n")
    with pytest.raises(ValueError, match=r"folder\.txt: line 1: s3://survey/flights/ names no photo"):
        open_image_source(str(folder))


SEGMENT = st.text(st.sampled_from("abcXYZ019 _-.ü"), min_size=1, max_size=6).filter(lambda s: s.strip(" .") == s)


@hypothesis_settings(max_examples=60, deadline=None)
@given(
    st.lists(st.lists(SEGMENT, min_size=1, max_size=3).map("/".join), min_size=1, max_size=5),
    st.sampled_from(["s3", "S3", "gs"]),
    st.lists(st.sampled_from(["", "# a note", "   ", "#s3://other/x.jpg"]), max_size=4),
    st.booleans(),
    st.sampled_from(["\n", "\r\n"]),
)
def test_a_url_list_gives_its_bucket_and_each_urls_key_in_order(keys, protocol, others, bom, newline):
    from helpers.core.remote import bucket_keys, list_lines

    urls = [f"{protocol}://survey-2026/{key}" for key in keys]
    lines = [*others, *(f" {u} " if i % 2 else u for i, u in enumerate(urls))]  # notes first, spaces around some
    text = ("\ufeff" if bom else "") + newline.join(lines) + newline
    entries = list_lines(text.encode())
    assert [entry for _, entry in entries] == urls
    assert all(
        text.encode().split(b"\n")[number - 1].strip().decode().lstrip("\ufeff") == entry for number, entry in entries
    )
    assert bucket_keys(entries, "week.txt") == (f"{protocol.lower()}://survey-2026", keys)


def _box_task(data: dict, label: str) -> dict:
    """A Label Studio task of these data, reviewed: one box of `label` at 10%..30% of the photo each way."""
    value = {"x": 10.0, "y": 10.0, "width": 20.0, "height": 20.0, "rectanglelabels": [label]}
    result = [{"type": "rectanglelabels", "from_name": "label", "to_name": "image", "value": value}]
    return {"data": data, "annotations": [{"result": result, "created_at": "2026-12-01T10:00:00Z"}]}


def test_labels_kept_here_read_their_photos_in_s3_by_image_root(s3, tiny_cv_models, tmp_path):
    """A COCO file, a Label Studio export and a LLaVA file here, their photos in the bucket (`--image_root
    s3://bucket/flights/`): the photos read where they lie, keyed as below a local copy of the folder, the truth
    joined to them (the records are the local copy's); Label Studio's tasks by photo_id (desclm's) or by the URL its
    cloud storage gave (`s3://...`); a task's or an entry's photo outside the root passed over, a COCO file's refused
    naming it."""
    from PIL import Image

    url, local, _ = s3
    names = ["day1/train_00000.jpg", "day1/train_00001.jpg"]
    images = []
    for index, name in enumerate(names):
        with Image.open(local / name) as photo:
            images.append({"id": index, "file_name": name, "width": photo.width, "height": photo.height})
    coco = {
        "images": images,
        "categories": [{"id": 1, "name": "plastic bottle"}],
        "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [4, 4, 20, 10]}],
    }
    (tmp_path / "coco.json").write_text(json.dumps(coco))
    settings = cv_models_settings(tiny_cv_models)
    for root, name in ((url, "remote"), (str(local), "here")):
        config = ExtractConfig(images=str(tmp_path / "coco.json"), image_root=root, **settings)
        run_extraction(replace(config, output=str(tmp_path / f"{name}.jsonl")))
    records = _lines(tmp_path / "remote.jsonl")
    assert records == _lines(tmp_path / "here.jsonl") and [record["image"] for record in records] == names
    assert [len(record["ground_truth"]["detections"]) for record in records] == [0, 1]
    coco["images"][0]["file_name"] = "../elsewhere/a.jpg"
    (tmp_path / "outside.json").write_text(json.dumps(coco))
    with pytest.raises(ValueError, match=r"images\[0\] file_name: \.\./elsewhere/a\.jpg lies outside image_root"):
        open_image_source(str(tmp_path / "outside.json"), url)

    tasks = [
        _box_task({"image": f"{url}{names[0]}"}, "can"),  # Label Studio's S3 storage made it
        _box_task({"photo_id": names[1], "image": f"https://storage.example/{names[1]}"}, "bottle"),  # desclm's
        _box_task({"image": f"s3://another-bucket/{names[0]}"}, "can"),
    ]
    (tmp_path / "reviewed.json").write_text(json.dumps(tasks))
    reviewed = open_image_source(str(tmp_path / "reviewed.json"), url)
    assert [item.key for item in reviewed.items] == names
    assert [str(item.path) for item in reviewed.items] == [f"{url}{name}" for name in names]
    assert [reviewed.truth_boxes(item) for item in reviewed.items] == [
        [("can", [0.1, 0.1, 0.3, 0.3])],
        [("bottle", [0.1, 0.1, 0.3, 0.3])],
    ]
    entries = [{"image": names[0]}, {"image": f"{url}{names[1]}"}, {"image": "../elsewhere/a.jpg"}]
    (tmp_path / "llava.json").write_text(json.dumps(entries))
    llava = open_image_source(str(tmp_path / "llava.json"), url)
    assert [item.key for item in llava.items] == names and str(llava.root) == url.rstrip("/")
    assert np.array_equal(np.asarray(load_image(llava.items[1])), np.asarray(load_image(reviewed.items[1])))


@hypothesis_settings(max_examples=60, deadline=None)
@given(st.lists(SEGMENT, min_size=1, max_size=4).map("/".join), st.sampled_from(["", "./", "day9/../", "day9/./../"]))
def test_a_name_below_a_remote_image_root_is_its_key_and_one_outside_it_has_none(key, detour):
    from helpers.core.paths import key_under

    root = "s3://survey-2026/flights"
    assert key_under(root, detour + key) == key  # a relative name, `..` and `.` taken out lexically
    assert key_under(root + "/", f"{root}/{detour}{key}") == key  # a URL inside the folder
    assert key_under(root, f"../{key}") is None and key_under(root, f"/{key}") is None
    assert key_under(root, f"s3://survey-2026/elsewhere/{key}") is None
    assert key_under(root, f"{root}-old/{key}") is None, "a folder whose name starts with the root's is not inside it"
