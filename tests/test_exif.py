"""When and where a photo was taken (helpers.cv.exif): EXIF capture time and GPS position read as a
camera writes them, unreadable values named, and 01's records carrying them (`read_exif`)."""

from __future__ import annotations

import datetime
import io
import json
import shutil

from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from helpers.cv.config import ExtractConfig
from helpers.cv.exif import photo_taken
from helpers.cv.extract import run_extraction

GPS, EXIF = 0x8825, 0x8769


def _dms(degrees: float) -> tuple[float, float, float]:
    """Degrees as a camera writes them: whole degrees, whole minutes, seconds."""
    whole = int(degrees)
    minutes = int((degrees - whole) * 60)
    return float(whole), float(minutes), round((degrees - whole - minutes / 60) * 3600, 4)


def _exif(latitude=None, longitude=None, altitude=None, time=None, offset=None, gps_extra=None) -> Image.Exif:
    exif = Image.Exif()
    gps = dict(gps_extra or {})
    if latitude is not None:
        gps |= {1: "S" if latitude < 0 else "N", 2: _dms(abs(latitude))}
    if longitude is not None:
        gps |= {3: "W" if longitude < 0 else "E", 4: _dms(abs(longitude))}
    if altitude is not None:
        gps |= {5: b"\x01" if altitude < 0 else b"\x00", 6: abs(altitude)}
    if gps:
        exif[GPS] = gps
    if time is not None:
        exif[EXIF] = {0x9003: time} | ({0x9011: offset} if offset else {})
    return exif


def _opened(exif: Image.Exif, size=(32, 24), fmt="JPEG") -> Image.Image:
    buffer = io.BytesIO()
    Image.new("RGB", size, (90, 140, 60)).save(buffer, fmt, exif=exif)
    buffer.seek(0)
    return Image.open(buffer)


@settings(max_examples=150, deadline=None)
@given(
    latitude=st.floats(-90, 90),
    longitude=st.floats(-180, 180),
    altitude=st.one_of(st.none(), st.floats(-400, 9000)),
    moment=st.datetimes(
        datetime.datetime(1990, 1, 1), datetime.datetime(2099, 12, 31)
    ),  # four-digit years, as cameras write
    offset=st.one_of(st.none(), st.sampled_from(["+02:00", "-05:30", "+00:00"])),
)
def test_a_cameras_time_and_position_read_back(latitude, longitude, altitude, moment, offset):
    moment = moment.replace(microsecond=0)
    taken = photo_taken(_opened(_exif(latitude, longitude, altitude, moment.strftime("%Y:%m:%d %H:%M:%S"), offset)))
    assert taken["time"] == moment.isoformat() + (offset or "")
    if round(latitude, 7) == 0 and round(longitude, 7) == 0:
        assert "latitude" not in taken  # 0, 0: a camera without a fix
        return
    # the seconds as rationals: a centimetre's precision kept
    assert abs(taken["latitude"] - latitude) < 1e-6 and abs(taken["longitude"] - longitude) < 1e-6
    assert (taken.get("altitude") is None) == (altitude is None)
    if altitude is not None:
        assert abs(taken["altitude"] - altitude) <= 0.01
    assert "problems" not in taken


def test_a_photo_without_exif_has_no_taken_and_partial_exif_gives_its_part():
    assert photo_taken(_opened(Image.Exif())) is None
    assert photo_taken(_opened(Image.Exif(), fmt="PNG")) is None
    assert photo_taken(_opened(_exif(time="2026:05:01 06:12:00"))) == {"time": "2026-05-01T06:12:00"}
    assert photo_taken(_opened(_exif(47.5, 8.25))) == {"latitude": 47.5, "longitude": 8.25}
    sub = _exif(time="2026:05:01 06:12:00")
    sub[EXIF] = {**sub[EXIF], 0x9291: "25"}
    assert photo_taken(_opened(sub)) == {"time": "2026-05-01T06:12:00.25"}
    ifd0 = Image.Exif()
    ifd0[0x0132] = "2025:12:31 23:59:59"  # DateTime only: what some trail cameras write
    assert photo_taken(_opened(ifd0)) == {"time": "2025-12-31T23:59:59"}


def test_no_fix_is_no_position():
    assert photo_taken(_opened(_exif(0.0, 0.0, 300.0))) is None
    assert photo_taken(_opened(_exif(47.5, 8.25, gps_extra={9: "V"}))) is None  # the receiver's void mark
    assert photo_taken(_opened(_exif(time="0000:00:00 00:00:00"))) is None  # a camera with no clock set


def test_unreadable_values_are_named_and_the_rest_kept():
    bad_latitude = _exif(latitude=47.5, longitude=8.25, time="2026:05:01 06:12:00")
    bad_latitude[GPS] = {**bad_latitude[GPS], 2: (95.0, 0.0, 0.0)}
    taken = photo_taken(_opened(bad_latitude))
    assert taken["time"] == "2026-05-01T06:12:00" and "latitude" not in taken and "longitude" not in taken
    assert taken["problems"] == ["GPS latitude 95 is past 90 degrees", "GPS position without its latitude"]

    bad_minutes = _exif(47.5, 8.25)
    bad_minutes[GPS] = {**bad_minutes[GPS], 4: (8.0, 75.0, 0.0)}
    assert "minutes and seconds run from 0 to 60" in photo_taken(_opened(bad_minutes))["problems"][0]

    assert photo_taken(_opened(_exif(time="2026:13:45 06:12:00"))) == {
        "problems": ["capture time '2026:13:45 06:12:00' is not a date and time (YYYY:MM:DD HH:MM:SS)"]
    }
    taken = photo_taken(_opened(_exif(time="2026:05:01 06:12:00", offset="+25:00")))
    assert taken["time"] == "2026-05-01T06:12:00" and "UTC offset '+25:00'" in taken["problems"][0]


def test_a_zero_denominator_is_a_problem_not_a_number(tmp_path):
    from PIL.TiffImagePlugin import IFDRational

    exif = _exif(47.5, 8.25, 100.0)
    exif[GPS] = {**exif[GPS], 6: IFDRational(5, 0)}
    path = tmp_path / "a.jpg"
    Image.new("RGB", (8, 8)).save(path, exif=exif)
    with Image.open(path) as image:
        taken = photo_taken(image)
    assert taken["latitude"] == 47.5 and "altitude" not in taken
    assert taken["problems"][0].startswith("GPS altitude") and "zero denominator" in taken["problems"][0]


def test_extract_records_say_when_and_where_unless_told_not_to(tiny_demo, tmp_path):
    photos = tmp_path / "photos"
    shutil.copytree(tiny_demo, photos)
    images = sorted((photos / "train/images").iterdir())
    written = {
        images[0]: _exif(-33.8568, 151.2153, 12.5, "2026:03:14 07:45:10", "+11:00"),
        images[1]: _exif(time="2026:03:14 07:46:00"),
        images[2]: _exif(95.0, 10.0),  # a latitude past the pole: named, the record kept
    }
    for path, exif in written.items():
        with Image.open(path) as image:
            image.load()
            image.save(path, exif=exif)  # the photo's own bytes otherwise: labels still fit

    run = run_extraction(
        ExtractConfig(
            images=str(photos / "data.yaml"), output=str(tmp_path / "cv.jsonl"), detections_from="labels", device="cpu"
        )
    )
    records = {r["image"]: r for r in map(json.loads, open(run["output"], encoding="utf-8"))}
    assert run["failed"] == 0 and run["taken_problems"] == 1
    keyed = {f"train/images/{path.name}": path for path in images}
    assert records[f"train/images/{images[0].name}"]["taken"] == {
        "time": "2026-03-14T07:45:10+11:00",
        "latitude": -33.8568,
        "longitude": 151.2153,
        "altitude": 12.5,
    }
    assert records[f"train/images/{images[1].name}"]["taken"] == {"time": "2026-03-14T07:46:00"}
    assert records[f"train/images/{images[2].name}"]["taken"]["problems"][0] == "GPS latitude 95 is past 90 degrees"
    assert [key for key, record in records.items() if "taken" in record] == [
        key for key in keyed if keyed[key] in written
    ]

    quiet = run_extraction(
        ExtractConfig(
            images=str(photos / "data.yaml"),
            output=str(tmp_path / "none.jsonl"),
            detections_from="labels",
            device="cpu",
            read_exif=False,
        )
    )
    assert not any("taken" in json.loads(line) for line in open(quiet["output"], encoding="utf-8"))
