"""Videos read as their frames (helpers.core.video_frames): the frame on screen at each listed time,
in any order; turned as a person sees it; when and where it was taken; and 01, the gallery and the
exports treating each frame as a photo."""

from __future__ import annotations

import datetime
import io
import json
import logging
import random
import struct
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from PIL import Image

from helpers.core.flight_record import flight_record, sidecar_of, subtitle_taken
from helpers.core.ground import POSE_LIMITS
from helpers.core.video_frames import (
    VIDEO_SUFFIXES,
    decode_frame,
    demuxed_length,
    frame_key,
    frame_taken,
    frame_times,
    parse_iso6709,
    read_frame,
    split_frame_key,
    video_duration,
)
from helpers.cv.sources import decode_photo, open_image_source, select

CREATED = "2026-05-01T10:22:31.000000Z"
LOCATION = "+47.3751-008.5362+412.500/"


def _write_video(
    path: Path, frames: list[np.ndarray], rate, codec="png", container=None, options=None, muxer=None, **tags
) -> Path:
    """`frames` (RGB arrays of one size) as a video at `rate` frames a second, with container `tags`
    (`muxer`: the container's options)."""
    with av.open(str(path), "w", format=container, options=muxer or {}) as video:
        video.metadata.update(tags)
        stream = video.add_stream(codec, rate=Fraction(rate), options=options or {})
        stream.height, stream.width = frames[0].shape[:2]
        stream.pix_fmt = {"png": "rgb24", "mjpeg": "yuvj420p"}.get(codec, "yuv420p")
        for frame in frames:
            video.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
        video.mux(stream.encode())
    return path


def _numbered(count: int, size=(64, 48)) -> list[np.ndarray]:
    """Frames that differ from each other (a colour a frame) with a white corner at the top left."""
    frames = []
    for index in range(count):
        frame = np.zeros((size[1], size[0], 3), np.uint8)
        frame[..., 0], frame[..., 1] = (index * 37) % 256, (index * 11) % 256
        frame[:8, :8] = 255
        frames.append(frame)
    return frames


def _on_screen(video: Path) -> callable:
    """The frame on screen at a time (ms), from decoding the whole video in order: the reference."""
    with av.open(str(video)) as container:
        stream = container.streams.video[0]
        decoded = [(frame.pts, np.asarray(frame.to_image())) for frame in container.decode(stream)]
        start, base = stream.start_time or 0, stream.time_base

    def frame_at(milliseconds: int) -> np.ndarray:
        target = start + milliseconds * base.denominator // (1000 * base.numerator)
        shown = [image for pts, image in decoded if pts <= target]
        return shown[-1] if shown else decoded[0][1]

    return frame_at


@settings(max_examples=200, deadline=None)
@given(
    folder=st.text(st.characters(codec="utf-8", exclude_characters="/\0"), max_size=20),
    stem=st.text(st.characters(codec="utf-8", exclude_characters="/\0"), min_size=1, max_size=20),
    suffix=st.sampled_from(sorted(VIDEO_SUFFIXES)).map(lambda s: random.Random(s).choice([s, s.upper()])),
    milliseconds=st.integers(0, 10**9),
)
def test_a_frames_key_gives_back_its_video_and_time(folder, stem, suffix, milliseconds):
    video = f"{folder}/{stem}{suffix}" if folder else f"{stem}{suffix}"
    key = frame_key(video, milliseconds)
    assert split_frame_key(key) == (video, milliseconds) and key.endswith("s.jpg")
    assert split_frame_key(video) is None and split_frame_key(f"{folder}/{stem}.jpg") is None
    assert split_frame_key(key.replace("s.jpg", ".jpg")) is None


@settings(max_examples=200, deadline=None)
@given(latitude=st.floats(-90, 90), longitude=st.floats(-180, 180), altitude=st.none() | st.floats(-500, 9000))
def test_a_phones_iso6709_location_reads_back(latitude, longitude, altitude):
    text = f"{latitude:+08.4f}{longitude:+09.4f}" + (f"{altitude:+08.3f}" if altitude is not None else "") + "/"
    position = parse_iso6709(text)
    if round(latitude, 4) == 0 and round(longitude, 4) == 0:
        assert position == {}  # what a phone without a fix writes
        return
    assert abs(position["latitude"] - latitude) <= 5e-5 and abs(position["longitude"] - longitude) <= 5e-5
    assert ("altitude" in position) == (altitude is not None)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=40) | st.from_regex(r"[+-]\d{1,400}(\.\d*)?[+-]\d{1,400}([+-]\d{1,400})?/?", fullmatch=True))
@example("+47.1+008.2+" + "9" * 400 + "/")  # an altitude read as infinity
def test_any_location_text_is_a_position_or_a_named_problem(text):
    try:
        position = parse_iso6709(text)
    except ValueError as error:
        assert repr(text[:60])[:-1] in str(error)
    else:
        assert set(position) <= {"latitude", "longitude", "altitude"}
        assert all(np.isfinite(value) for value in position.values())


@pytest.mark.parametrize(
    "codec, container, options",
    [("libx264", "mp4", {"g": "12", "bf": "2"}), ("mjpeg", "avi", {})],
    ids=["h264 with B-frames", "mjpeg avi (trail cameras)"],
)
def test_each_listed_frame_is_the_one_on_screen_read_in_order_or_not(tmp_path, codec, container, options):
    video = _write_video(tmp_path / f"clip.{container}", _numbered(90), 30, codec, container, options)
    times = frame_times(video, 0.25)
    assert times == list(range(0, 3000, 250))
    on_screen = _on_screen(video)
    for order in (times, random.Random(1).sample(times, len(times)), times[::-1]):
        for milliseconds in order:
            assert np.array_equal(np.asarray(read_frame(video, milliseconds)), on_screen(milliseconds)), milliseconds
    assert np.array_equal(np.asarray(read_frame(video, 2999)), on_screen(2999))  # past the last listed: the last


def test_a_variable_frame_rate_videos_listed_frames_are_the_ones_on_screen(tmp_path):
    """Phones record at a variable frame rate: frames come at irregular times, and each listed time still
    gets the frame on screen then (by presentation time, not by a frame count at a nominal rate)."""
    rng = random.Random(3)
    shown_at = sorted(rng.sample(range(1, 2990), 40)) + [0]  # milliseconds, irregular gaps
    video_path = tmp_path / "phone.mp4"
    with av.open(str(video_path), "w") as video:
        stream = video.add_stream("libx264", rate=30)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        stream.time_base = Fraction(1, 1000)
        stream.codec_context.time_base = Fraction(1, 1000)
        for picture, at in zip(_numbered(len(shown_at)), sorted(shown_at), strict=True):
            frame = av.VideoFrame.from_ndarray(picture, format="rgb24")
            frame.pts, frame.time_base = at, Fraction(1, 1000)
            video.mux(stream.encode(frame))
        video.mux(stream.encode())
    on_screen = _on_screen(video_path)
    times = frame_times(video_path, 0.05)
    assert len(times) > len(shown_at)  # listed more often than frames come: some frames at several times
    for milliseconds in random.Random(4).sample(times, len(times)):
        assert np.array_equal(np.asarray(read_frame(video_path, milliseconds)), on_screen(milliseconds)), milliseconds


def test_threads_reading_one_videos_frames_at_once_each_get_the_frame_on_screen(tmp_path):
    """Decoding threads share a video's readers (each taken by one thread at a time): in list order, shuffled
    or one frame asked by many threads, every answer is the frame on screen then."""
    from concurrent.futures import ThreadPoolExecutor

    video = _write_video(tmp_path / "clip.mp4", _numbered(90), 30, "libx264", options={"g": "15", "bf": "2"})
    on_screen = _on_screen(video)
    times = frame_times(video, 0.1)
    asked = times + random.Random(2).sample(times, len(times)) + [1500] * 8
    with ThreadPoolExecutor(max_workers=4) as pool:
        frames = list(pool.map(lambda milliseconds: np.asarray(read_frame(video, milliseconds)), asked))
    assert all(np.array_equal(frame, on_screen(ms)) for frame, ms in zip(frames, asked, strict=True))


def test_a_portrait_phone_video_is_shown_upright(tmp_path):
    """A phone stores a portrait video on its side with a display rotation (QuickTime's track matrix)."""
    video = _write_video(tmp_path / "clip.mp4", _numbered(4, (64, 48)), 2, "libx264")
    data = bytearray(video.read_bytes())
    box = data.find(b"tkhd") - 4
    matrix = box + (48 if data[box + 8] == 0 else 60)  # version 0 or 1 header before the matrix
    struct.pack_into(">9i", data, matrix, 0, 0x10000, 0, -0x10000, 0, 0, 0, 0, 0x40000000)  # a quarter clockwise
    turned = tmp_path / "portrait.mp4"
    turned.write_bytes(bytes(data))
    frame = np.asarray(read_frame(turned, 0))
    assert frame.shape == (64, 48, 3)  # upright: taller than wide
    assert frame[:8, -8:].mean() > 200 and frame[:8, :8].mean() < 50  # the stored top-left corner, turned
    drafted, size = decode_frame(turned, 0, min_side=16)  # for a small model: converted at half size
    assert size == (48, 64) and drafted.size == (24, 32)
    reduced = np.asarray(Image.fromarray(frame).reduce(2), dtype=np.int16)
    assert np.abs(np.asarray(drafted, dtype=np.int16) - reduced).mean() < 0.5  # the same picture, smaller (0.04)


def test_a_frame_is_taken_at_the_videos_creation_time_plus_its_own(tmp_path):
    video = _write_video(tmp_path / "clip.mov", _numbered(6), 2, creation_time=CREATED, location=LOCATION)
    assert frame_taken(video, 1500) == {
        "time": "2026-05-01T10:22:32.500+00:00",
        "latitude": 47.3751,
        "longitude": -8.5362,
        "altitude": 412.5,
    }
    iphone = {"creation_time": CREATED, "com.apple.quicktime.creationdate": "2026-05-01T12:22:31+0200"}
    local = _write_video(tmp_path / "IMG_0042.MOV", _numbered(6), 2, muxer={"movflags": "use_metadata_tags"}, **iphone)
    assert frame_taken(local, 1500) == {"time": "2026-05-01T12:22:32.500+02:00"}  # the phone's local time
    bare = _write_video(tmp_path / "bare.mov", _numbered(2), 2)
    odd = _write_video(tmp_path / "odd.mov", _numbered(2), 2, location="somewhere")
    assert frame_taken(bare, 0) is None
    assert frame_taken(odd, 0) == {
        "problems": ["location 'somewhere' is not an ISO 6709 point (+DD.DDDD+DDD.DDDD[+AAA.AAA]/)"]
    }


def test_a_folder_lists_its_videos_frames_among_its_photos_and_a_bad_video_costs_one_line(tmp_path):
    folder = tmp_path / "field"
    folder.mkdir()
    Image.new("RGB", (32, 24)).save(folder / "a.jpg")
    _write_video(folder / "b.mp4", _numbered(5), 2, "libx264")
    (folder / "c.avi").write_bytes(b"not a video at all")
    source = open_image_source(folder, video_interval=1.0)
    keys = [item.key for item in source.items]
    assert keys == [
        "a.jpg",
        "b.mp4/00000.000s.jpg",
        "b.mp4/00001.000s.jpg",
        "b.mp4/00002.000s.jpg",
        "c.avi/00000.000s.jpg",
    ]
    image, size, _ = decode_photo(source.items[2])
    assert size == (64, 48) and image.size == size
    with pytest.raises(av.error.FFmpegError, match="c.avi"):
        decode_photo(source.items[-1])
    shards = [[item.key for item in select(source.items, num_shards=3, shard_index=k)] for k in range(3)]
    assert sorted(sum(shards, [])) == sorted(keys)  # each photo and frame in one shard
    assert sum(any(key.startswith("b.mp4/") for key in shard) for shard in shards) == 1  # a video's frames together
    alone = open_image_source(folder / "b.mp4", video_interval=0.5)  # one video as the images
    assert alone.kind == "video" and len(alone.items) == 5 and alone.items[0].path == folder / "b.mp4"


def test_extract_describes_a_videos_frames_as_it_does_the_same_pictures_as_photos(tiny_demo, tiny_cv_models, tmp_path):
    """A clip holding four photos as frames (lossless, one a second): its frames' records are the photos'
    (keys and `taken` aside); a bad video is one error line; another interval refuses to resume; the
    exports and the gallery read each frame back by key."""
    from conftest import cv_models_settings

    from helpers.core.photo_datasets import photos_of_cv_output
    from helpers.cv.extract import ExtractConfig, run_extraction
    from helpers.describer.exports import export
    from helpers.describer.gallery import write_gallery

    size = (160, 120)
    photos = sorted((tiny_demo / "train" / "images").glob("*.jpg"))[:4]
    pictures = [np.asarray(Image.open(photo).convert("RGB").resize(size)) for photo in photos]
    (tmp_path / "files").mkdir()
    (tmp_path / "clips").mkdir()
    for index, picture in enumerate(pictures):
        Image.fromarray(picture).save(tmp_path / "files" / f"{index}.png")
    _write_video(tmp_path / "clips" / "survey.mov", pictures, 1, creation_time=CREATED, location=LOCATION)
    (tmp_path / "clips" / "truncated.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(100))
    records = {}
    for name in ("clips", "files"):
        settings = cv_models_settings(tiny_cv_models, images=str(tmp_path / name), yolo_conf=0.0, hf_conf=0.0)
        run = run_extraction(ExtractConfig(output=str(tmp_path / f"{name}.jsonl"), **settings))
        records[name] = [json.loads(line) for line in open(run["output"], encoding="utf-8")]
    frames = [f"survey.mov/0000{second}.000s.jpg" for second in range(4)]
    assert [record["image"] for record in records["clips"]] == frames
    errors = [json.loads(line) for line in open(tmp_path / "clips.errors.jsonl", encoding="utf-8")]
    assert [error["image"] for error in errors] == ["truncated.mp4/00000.000s.jpg"] and "truncated.mp4" in errors[0][
        "error"
    ]
    assert sum(len(record["detections"]) for record in records["files"]) > 0  # there is something to compare
    plain = [{k: v for k, v in record.items() if k not in ("image", "taken")} for record in records["clips"]]
    assert plain == [{k: v for k, v in record.items() if k != "image"} for record in records["files"]]
    assert records["clips"][3]["taken"]["time"] == "2026-05-01T10:22:34.000+00:00"
    assert not any("camera_motion" in record for record in records["clips"])  # a cut each second: no motion

    other = cv_models_settings(tiny_cv_models, images=str(tmp_path / "clips"), video_interval=0.5)
    with pytest.raises(ValueError, match="video_interval"):
        run_extraction(ExtractConfig(output=str(tmp_path / "clips.jsonl"), **other))

    photos_again = photos_of_cv_output(tmp_path / "clips.jsonl")
    assert np.array_equal(np.asarray(photos_again.image(frames[2])), pictures[2])  # the gallery's: as decoded
    copied = np.asarray(Image.open(io.BytesIO(photos_again.read_bytes(frames[2]))), dtype=np.int16)  # the exports'
    assert copied.shape == (120, 160, 3) and np.abs(copied - pictures[2]).mean() < 3  # a JPEG of it (2.3 here)
    described = tmp_path / "described.jsonl"
    rows = [{"id": key, "description": "Litter.", "source": "grammar"} for key in frames]
    described.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    copied = export(
        "llava",
        described,
        tmp_path / "llava.json",
        tmp_path / "clips.jsonl",
        tmp_path / "clips",
        image_folder=tmp_path / "images",
    )
    assert copied["exported"] == 4 and copied["photos_written"] == 4
    assert Image.open(tmp_path / "images" / frames[1]).format == "JPEG"
    page = write_gallery(described, tmp_path / "page.html", cv=tmp_path / "clips.jsonl")
    assert page["photos"] == 4 and page["problems"] == 0
    thumbs = sorted((tmp_path / "page_thumbs").glob("*.jpg"))  # made from the frames as decoded
    assert len(thumbs) == 4 and all(Image.open(thumb).size == (160, 120) for thumb in thumbs)
    from test_gallery import BROWSER, _dom, _page_data

    played = {card["img"]: card["v"] for card in _page_data(tmp_path / "page.html")["cards"]}
    assert played == {key: ["clips/survey.mov", second] for second, key in enumerate(frames)}  # relative to the page
    if BROWSER:  # the card's link plays the video from the frame's moment
        assert 'class="play" href="clips/survey.mov#t=2"' in _dom(tmp_path / "page.html")


def test_a_folders_typescript_files_are_not_listed_as_videos_and_its_transport_streams_are(tmp_path, caplog):
    """`.ts` is both a recorder's MPEG transport stream and TypeScript source: a folder's TypeScript files
    are left out (said in the log), its streams listed as their frames."""
    _write_video(tmp_path / "recorder.ts", _numbered(4), 2, "mpeg2video", container="mpegts")
    (tmp_path / "web").mkdir()
    (tmp_path / "web" / "app.ts").write_text("export const answer: number = 42;\n", encoding="utf-8")
    (tmp_path / "web" / "empty.ts").write_bytes(b"")
    Image.new("RGB", (32, 24)).save(tmp_path / "photo.jpg")
    with caplog.at_level(logging.WARNING):
        source = open_image_source(tmp_path, video_interval=1.0)
    assert [item.key for item in source.items] == [
        "photo.jpg",
        "recorder.ts/00000.000s.jpg",
        "recorder.ts/00001.000s.jpg",
    ]
    assert "2 .ts files are not MPEG transport streams (TypeScript source?)" in caplog.text


def test_a_trail_cameras_avi_date_is_its_local_clock(tmp_path):
    """Trail cameras write the recording's date in an AVI `IDIT` chunk, without an offset: the frame's time
    is the camera's clock, as a photo's EXIF time without an offset is."""
    video = _write_video(tmp_path / "plain.avi", _numbered(6), 2, "mjpeg", "avi")
    data = bytearray(video.read_bytes())
    date = b"Mon Mar 10 15:04:43 2026\n\0"
    chunk = b"IDIT" + struct.pack("<I", len(date)) + date
    after_avih = data.find(b"avih") + 8 + struct.unpack_from("<I", data, data.find(b"avih") + 4)[0]
    data[after_avih:after_avih] = chunk  # inside the header list, after the main header
    hdrl = data.find(b"hdrl") - 8  # its LIST's size, then the file's, grow by the chunk
    struct.pack_into("<I", data, hdrl + 4, struct.unpack_from("<I", data, hdrl + 4)[0] + len(chunk))
    struct.pack_into("<I", data, 4, struct.unpack_from("<I", data, 4)[0] + len(chunk))
    dated = tmp_path / "IMG_0042.AVI"
    dated.write_bytes(bytes(data))
    assert frame_taken(dated, 2500) == {"time": "2026-03-10T15:04:45.500"}
    assert np.array_equal(np.asarray(read_frame(dated, 2500)), np.asarray(read_frame(video, 2500)))


def test_a_streams_length_from_its_packets_is_its_stated_length(tmp_path):
    """The length of a video that states none is read from its packets' times (here checked where one is stated)."""
    video = _write_video(tmp_path / "clip.mkv", _numbered(45), 30, "libx264", "matroska", {"bf": "2"})
    with av.open(str(video)) as container:
        stream = container.streams.video[0]
        from_packets = demuxed_length(container, stream)
    assert from_packets == pytest.approx(video_duration(video), abs=1e-3) and from_packets == pytest.approx(
        1.5, abs=1e-3
    )


def _srt_time(milliseconds: int) -> str:
    hours, rest = divmod(milliseconds, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    return f"{hours:02d}:{minutes:02d}:{rest // 1000:02d},{rest % 1000:03d}"


def _dji_subtitle(number: int, start: int, end: int, moment, latitude, longitude, altitude, old: bool) -> str:
    """One subtitle as DJI drones write them: the newer bracketed fields, or the Phantom's GPS(...)."""
    if old:
        said = f"HOME(8.5,47.3) {moment:%Y.%m.%d %H:%M:%S}\nGPS({longitude:.6f},{latitude:.6f},16) BAROMETER:40.1"
    else:
        said = (
            f'<font size="28">FrameCnt: {number}, DiffTime: {end - start}ms\n{moment:%Y-%m-%d %H:%M:%S}.'
            f"{moment.microsecond // 1000:03d}\n[iso: 100] [shutter: 1/1000.0] [fnum: 2.8] [latitude: {latitude:.6f}] "
            f"[longitude: {longitude:.6f}] [rel_alt: 40.000 abs_alt: {altitude:.3f}] </font>"
        )
    return f"{number}\n{_srt_time(start)} --> {_srt_time(end)}\n{said}\n\n"


@settings(max_examples=60, deadline=None)
@given(
    points=st.lists(
        st.tuples(st.floats(-89.9, 89.9), st.floats(-179.9, 179.9), st.floats(-400, 8000)), min_size=1, max_size=6
    ),
    first=st.datetimes(datetime.datetime(2015, 1, 1), datetime.datetime(2040, 1, 1)),
    step=st.integers(33, 2000),
    old=st.booleans(),
)
def test_a_drones_flight_record_says_when_and_where_each_frame_was(tmp_path_factory, points, first, step, old):
    first = first.replace(microsecond=first.microsecond // 1000 * 1000 if not old else 0)
    folder = tmp_path_factory.mktemp("flight")
    text = "".join(
        _dji_subtitle(n + 1, n * step, (n + 1) * step, first + datetime.timedelta(milliseconds=n * step), *p, old)
        for n, p in enumerate(points)
    )
    (folder / "DJI_0042.SRT").write_text(text, encoding="utf-8")
    record = flight_record(sidecar_of(folder / "DJI_0042.MP4"))
    for n, (latitude, longitude, altitude) in enumerate(points):
        said = record.at(n * step + step // 2)  # mid-subtitle
        moment = first + datetime.timedelta(milliseconds=n * step)
        if old:
            assert said["time"] == moment.replace(microsecond=0).isoformat(timespec="seconds")
        else:
            assert said["time"] == moment.isoformat(timespec="milliseconds")
        if round(latitude, 6) == 0 and round(longitude, 6) == 0:
            assert "latitude" not in said
            continue
        assert abs(said["latitude"] - latitude) <= 1e-6 and abs(said["longitude"] - longitude) <= 1e-6
        assert said.get("altitude") == (None if old else round(round(altitude, 3), 2))


@settings(max_examples=300, deadline=None)
@given(st.text(st.sampled_from("[]():,.-+ 0123456789\nGPSlatitudelongtudeabs_alt") | st.characters(), max_size=120))
def test_any_subtitle_gives_known_fields_or_named_problems(text):
    said = subtitle_taken(text)
    assert set(said) <= {"time", "latitude", "longitude", "altitude", "problems", *POSE_LIMITS}
    assert all(np.isfinite(said[name]) for name in ("latitude", "longitude", "altitude") if name in said)
    assert all(POSE_LIMITS[name][0] <= said[name] <= POSE_LIMITS[name][1] for name in POSE_LIMITS if name in said)


@pytest.mark.parametrize(
    ("said", "pose"),
    [
        (  # an enterprise drone: the gimbal's angles, focal length in millimetres, zoom as a ratio
            "FrameCnt: 7 2026-05-01 10:22:43.512\n[focal_len: 31.70] [dzoom_ratio: 2.00], [latitude: 47.375139] "
            "[longitude: 8.536181]\n[rel_alt: 55.200 abs_alt: 283.900] [gb_yaw: -77.4 gb_pitch: -62.5 gb_roll: 0.3]",
            {"relative_altitude": 55.2, "camera_yaw": -77.4, "camera_pitch": -62.5, "camera_roll": 0.3}
            | {"focal_35mm": 63.4},
        ),
        (  # a consumer drone: no gimbal, focal length in tenths of a millimetre, zoom in ten-thousandths
            '<font size="28">SrtCnt : 1, DiffTime : 33ms\n2026-05-01 10:22:43.512\n[iso : 120] [fnum : 170] '
            "[focal_len : 240] [dzoom_ratio: 10000, delta:0],[latitude: 47.375139] [longitude: 8.536181] "
            "[rel_alt: 45.000 abs_alt: 111.890] </font>",
            {"relative_altitude": 45.0, "focal_35mm": 24.0},
        ),
        ("[latitude: 47.375139] [longitude: 8.536181] [focal_len : 0]", {}),  # 0: the camera does not know
    ],
)
def test_a_subtitle_says_the_drones_height_and_the_cameras_view_as_drones_write_them(said, pose):
    taken = subtitle_taken(said)
    assert {name: value for name, value in taken.items() if name in POSE_LIMITS} == pose
    assert "problems" not in taken
    assert subtitle_taken("[rel_alt: 40.0] [gb_pitch: -200.0]") == {
        "relative_altitude": 40.0,
        "problems": ["camera_pitch -200 is outside -180..180"],
    }


def test_a_drone_videos_frames_take_their_place_from_the_flight_record(tmp_path):
    """Beside DJI_0001.MP4, DJI_0001.SRT: each frame listed from the folder is placed where the drone was then."""
    _write_video(tmp_path / "DJI_0001.MP4", _numbered(6), 2, "libx264", creation_time=CREATED, location=LOCATION)
    moments = [datetime.datetime(2026, 5, 1, 12, 22, 31) + datetime.timedelta(milliseconds=500 * n) for n in range(6)]
    subtitles = [
        _dji_subtitle(n + 1, 500 * n, 500 * (n + 1), m, 47.0 + n / 1000, 8.5, 450.0, False)
        for n, m in enumerate(moments)
    ]
    (tmp_path / "DJI_0001.SRT").write_text("".join(subtitles), encoding="utf-8")
    source = open_image_source(tmp_path, video_interval=1.0)
    taken = [decode_photo(item, taken=True)[2] for item in source.items]
    assert taken == [
        {
            "time": moments[n].isoformat(timespec="milliseconds"),
            "latitude": 47.0 + n / 1000,
            "longitude": 8.5,
            "altitude": 450.0,
            "relative_altitude": 40.0,
        }
        for n in (0, 2, 4)
    ]


@settings(max_examples=200, deadline=None)
@given(
    kinds=st.lists(st.sampled_from(["photo", "a.mp4", "b.mov"]), max_size=40),
    threads=st.integers(1, 16),
)
def test_a_batch_is_decoded_in_runs_of_one_videos_frames_and_photos_alone(kinds, threads):
    """Each decoding thread takes a run: a photo alone, or consecutive frames of one video (up to the
    batch's share of a thread), so a thread decodes on through a video instead of every thread seeking in it."""
    from helpers.core.video_frames import FRAME
    from helpers.cv.batch import decoding_runs
    from helpers.cv.sources import ImageItem

    root = Path("/photos")
    items = [
        ImageItem(root, f"p{n}.jpg", None) if kind == "photo" else ImageItem(root, frame_key(kind, n), None, n, FRAME)
        for n, kind in enumerate(kinds)
    ]
    runs = decoding_runs(items, threads)
    assert [item for run in runs for item in run] == items
    longest = -(-len(items) // threads)
    for run in runs:
        assert len(run) == 1 or (len({item.path for item in run}) == 1 and run[0].column == FRAME)
        assert len(run) <= max(longest, 1)
    for before, after in zip(runs, runs[1:]):  # a run ends only where it must
        joinable = before[-1].column == after[0].column == FRAME and before[-1].path == after[0].path
        assert not joinable or len(before) == longest


def test_more_loader_threads_than_cores_split_a_videos_frames_among_the_cores_only(tmp_path, monkeypatch):
    """Threads beyond the cores wait on remote photos' requests (a bucket's auto loader_threads): a video's frames
    are split into as many runs as cores, each decoded on through by one thread, not into a run a thread (each run
    seeks, and from a bucket reads ahead on its own); every frame still its own."""
    import helpers.cv.batch as batch_module

    video = _write_video(tmp_path / "clip.mp4", _numbered(16), 4, "libx264")
    items = open_image_source(video, video_interval=0.5).items
    runs = []
    split = batch_module.decoding_runs
    monkeypatch.setattr(batch_module, "cpu_cores", lambda: 2)
    monkeypatch.setattr(
        batch_module, "decoding_runs", lambda chunk, threads: runs.append(split(chunk, threads)) or runs[-1]
    )
    decoded = [d for batch in batch_module.decode_batches(items, 8, 16) for d in batch]
    assert [d.item.key for d in decoded] == [item.key for item in items] and not any(d.error for d in decoded)
    assert [[len(run) for run in chunk] for chunk in runs] == [[4, 4]]


def test_a_process_that_read_videos_still_starts_others_with_a_preexec_fn(tmp_path):
    """Ray starts its processes with subprocess's `preexec_fn` (a fork that runs Python before `exec`): in
    that child, freeing a video reader its parent had open waited forever for FFmpeg's decoding threads
    (a fork has none), so Ray's start hung in any process that had read a video's frames."""
    import os
    import signal
    import subprocess
    import sys

    video = _write_video(tmp_path / "clip.mp4", _numbered(30), 10, codec="libx264", options={"g": "5"})
    code = (
        "import subprocess, sys\nfrom concurrent.futures import ThreadPoolExecutor\nfrom pathlib import Path\n"
        "from helpers.core.video_frames import decode_frame\n"
        f"video = Path({str(video)!r})\n"
        "with ThreadPoolExecutor(2) as pool:\n"
        "    list(pool.map(lambda ms: decode_frame(video, ms), [2900, 0, 1500, 700, 2200, 100]))\n"
        "started = subprocess.run([sys.executable, '-c', 'print(1)'], preexec_fn=lambda: None, capture_output=True)\n"
        "print('started' if started.stdout.strip() == b'1' else started)\n"
    )
    process = subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True
    )
    try:
        out, err = process.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)  # the hung fork too
        out, err = process.communicate()
    assert out.strip() == "started", err[-2000:]
