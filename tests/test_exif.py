"""When and where a photo was taken (helpers.cv.exif): EXIF capture time and GPS position read as a
camera writes them, unreadable values named, and 01's records carrying them (`read_exif`)."""

from __future__ import annotations

import datetime
import io
import json
import math
import shutil
import subprocess
import sys
import tarfile
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from PIL import Image

from helpers.core.contract import Policy
from helpers.core.ground import POSE_LIMITS, metres_from
from helpers.core.strip_location import without_location
from helpers.cv.config import ExtractConfig
from helpers.cv.exif import photo_taken
from helpers.cv.extract import run_extraction
from helpers.cv.report import positions_figure, summarize_output

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


EXIF_VALUES = st.one_of(
    st.text(max_size=24),
    st.binary(max_size=12),
    st.integers(0, 2**32 - 1),
    st.floats(allow_nan=True, allow_infinity=True),
    st.tuples(st.floats(0, 1e6), st.floats(0, 1e6), st.floats(0, 1e6)),
    st.lists(st.integers(0, 255), max_size=4).map(tuple),
)


@pytest.mark.filterwarnings("ignore:Metadata Warning")  # Pillow's, reading the malformed tags written here
@settings(max_examples=200, deadline=None)
@given(
    gps=st.dictionaries(st.sampled_from([0, 1, 2, 3, 4, 5, 6, 7, 9, 29]), EXIF_VALUES, max_size=8),
    times=st.dictionaries(st.sampled_from([0x9003, 0x9004, 0x9011, 0x9291, 0xA405]), EXIF_VALUES, max_size=4),
)
def test_any_exif_values_give_a_taken_or_a_named_problem_never_an_exception(gps, times):
    exif = Image.Exif()
    if gps:
        exif[GPS] = gps
    if times:
        exif[EXIF] = times
    try:
        photo = _opened(exif)
    except Exception:  # noqa: BLE001 - a value Pillow cannot write is no photo to read
        assume(False)
    taken = photo_taken(photo)
    assert taken is None or set(taken) <= {"time", "latitude", "longitude", "altitude", "problems", "focal_35mm"}
    json.dumps(taken, allow_nan=False)  # a record's field: finite numbers and text only
    if taken and "latitude" in taken:
        assert abs(taken["latitude"]) <= 90 and abs(taken["longitude"]) <= 180


@settings(max_examples=150, deadline=None)
@given(
    quarters=st.integers(-48, 56),
    drift=st.integers(-120, 120),
    moment=st.datetimes(datetime.datetime(2000, 1, 2), datetime.datetime(2090, 12, 30)),
)
def test_a_local_clock_takes_its_utc_offset_from_the_gps_time_of_the_photo(quarters, drift, moment):
    """A camera that writes its local time without an offset and a GPS fix with the receiver's UTC time:
    the time says the offset (any zone, a quarter hour's steps, the camera's clock up to two minutes off),
    across midnight and the date line."""
    local = moment.replace(microsecond=0)
    utc = local - datetime.timedelta(minutes=15 * quarters, seconds=drift)
    exif = _exif(47.5, 8.25, time=local.strftime("%Y:%m:%d %H:%M:%S"))
    exif[GPS] = {**exif[GPS], 7: (float(utc.hour), float(utc.minute), float(utc.second)), 29: utc.strftime("%Y:%m:%d")}
    offset = datetime.timezone(datetime.timedelta(minutes=15 * quarters))
    assert photo_taken(_opened(exif))["time"] == local.replace(tzinfo=offset).isoformat()


def test_a_stale_or_unreadable_gps_time_leaves_the_time_local():
    exif = _exif(47.5, 8.25, time="2026:05:01 10:22:31")
    exif[GPS] = {**exif[GPS], 7: (8.0, 5.0, 30.0), 29: "2026:05:01"}  # 2 h 17 min: a fix from before
    assert photo_taken(_opened(exif)) == {"time": "2026-05-01T10:22:31", "latitude": 47.5, "longitude": 8.25}
    exif[GPS] = {**exif[GPS], 29: "2026:13:01"}
    assert "GPS time '2026:13:01'" in photo_taken(_opened(exif))["problems"][0]
    exif = _exif(47.5, 8.25, time="2026:05:01 10:22:31", offset="+03:00")  # the camera's own offset first
    exif[GPS] = {**exif[GPS], 7: (8.0, 22.0, 31.0), 29: "2026:05:01"}
    assert photo_taken(_opened(exif))["time"] == "2026-05-01T10:22:31+03:00"


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


def _dji_xmp(values: dict[str, str], as_elements: bool = False) -> bytes:
    """An XMP packet as DJI drones write it: the drone-dji values as attributes of its description (or, as
    some tools rewrite them, as its elements)."""
    if as_elements:
        inner = "".join(f"<drone-dji:{name}>{value}</drone-dji:{name}>" for name, value in values.items())
        attributes = ""
    else:
        inner, attributes = "", "".join(f' drone-dji:{name}="{value}"' for name, value in values.items())
    return (
        '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        f'<rdf:Description rdf:about="DJI Meta Data" xmlns:drone-dji="http://www.dji.com/drone-dji/1.0/"{attributes}>'
        f"{inner}</rdf:Description></rdf:RDF></x:xmpmeta>"
    ).encode()


def _dji_photo(xmp: bytes | None, focal_35mm=None, size=(32, 24)) -> Image.Image:
    exif = _exif(47.375139, 8.536181, 452.5, "2026:05:01 10:22:31")
    if focal_35mm is not None:
        exif[EXIF] = {**exif[EXIF], 0xA405: focal_35mm}
    buffer = io.BytesIO()
    Image.new("RGB", size, (90, 140, 60)).save(buffer, "JPEG", exif=exif, **({"xmp": xmp} if xmp else {}))
    buffer.seek(0)
    return Image.open(buffer)


DJI_POSE = {"RelativeAltitude": "+40.20", "GimbalYawDegree": "-12.30", "GimbalPitchDegree": "-90.00"}


@pytest.mark.parametrize("as_elements", [False, True])
def test_a_drone_photo_says_its_height_and_the_cameras_view(as_elements):
    """DJI's XMP (height above take-off, the gimbal's angles) and EXIF's 35 mm-equivalent focal length: what
    places the photo's boxes on the ground."""
    taken = photo_taken(_dji_photo(_dji_xmp(DJI_POSE | {"GimbalRollDegree": "+0.40"}, as_elements), 24))
    assert taken == {
        "time": "2026-05-01T10:22:31",
        "latitude": 47.375139,
        "longitude": 8.536181,
        "altitude": 452.5,
        "relative_altitude": 40.2,
        "camera_yaw": -12.3,
        "camera_pitch": -90.0,
        "camera_roll": 0.4,
        "focal_35mm": 24.0,
    }


def test_a_drone_photos_unreadable_pose_values_are_named_and_the_rest_kept():
    taken = photo_taken(_dji_photo(_dji_xmp(DJI_POSE | {"GimbalPitchDegree": "down", "GimbalYawDegree": "+999"}), 0))
    assert (taken["relative_altitude"], taken["latitude"]) == (40.2, 47.375139)
    assert "camera_pitch" not in taken and "camera_yaw" not in taken and "focal_35mm" not in taken  # 0: unknown
    assert taken["problems"] == [
        "XMP GimbalYawDegree 999 is outside -360..360",
        "XMP GimbalPitchDegree 'down' is not a number",
    ]
    broken = photo_taken(_dji_photo(b"<x:xmpmeta><unclosed"))
    assert broken["latitude"] == 47.375139 and broken["problems"][0].startswith("XMP unreadable: ParseError")


@settings(max_examples=150, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(["RelativeAltitude", "GimbalYawDegree", "GimbalPitchDegree", "GimbalRollDegree"]),
        st.one_of(st.floats(allow_nan=True, allow_infinity=True).map(lambda v: f"{v:+}"), st.text("+-.0123456789e x")),
        max_size=4,
    )
)
def test_any_drone_pose_values_give_a_pose_field_in_range_or_a_named_problem(values):
    from xml.sax.saxutils import quoteattr

    packet = _dji_xmp({name: quoteattr(value)[1:-1] for name, value in values.items()})
    taken = photo_taken(_dji_photo(packet))
    json.dumps(taken, allow_nan=False)
    pose = {name: value for name, value in taken.items() if name in POSE_LIMITS}
    assert all(POSE_LIMITS[name][0] <= value <= POSE_LIMITS[name][1] for name, value in pose.items())
    assert len(pose) + len(taken.get("problems", [])) == len(values)  # each value read, or named


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


WRITTEN = (  # EXIF written into the first train photos: a full fix, a time alone, a latitude past the pole, ...
    _exif(-33.8568, 151.2153, 12.5, "2026:03:14 07:45:10", "+11:00"),
    _exif(time="2026:03:14 07:46:00"),
    _exif(95.0, 10.0),
    _exif(-33.857, 151.216),  # a position without a time
)


@pytest.fixture(scope="module")
def exif_photos(tiny_demo, tmp_path_factory):
    """The demo photos, three of them with EXIF (`WRITTEN`), and their records made from their labels."""
    folder = tmp_path_factory.mktemp("exif")
    shutil.copytree(tiny_demo, folder / "photos")
    for index, (path, exif) in enumerate(zip(sorted((folder / "photos/train/images").iterdir()), WRITTEN)):
        with Image.open(path) as image:
            image.load()
            drone = {"xmp": _dji_xmp(DJI_POSE)} if index == 3 else {}  # a drone's: its height and camera's view
            if drone:
                exif = Image.Exif()
                exif.load(WRITTEN[3].tobytes())
                exif[EXIF] = {0xA405: 24}  # its lens: 24 mm-equivalent
            image.save(path, exif=exif, **drone)  # the photo's own pixels otherwise: its labels still fit
    config = ExtractConfig(
        images=str(folder / "photos/data.yaml"), output=str(folder / "cv.jsonl"), detections_from="labels", device="cpu"
    )
    return folder, run_extraction(config)


def test_extract_records_say_when_and_where_unless_told_not_to(exif_photos):
    folder, run = exif_photos
    records = [json.loads(line) for line in open(run["output"], encoding="utf-8")]
    assert run["failed"] == 0 and run["taken_problems"] == 1 and len(records) == 12
    firsts = sorted(record["image"] for record in records if record["image"].startswith("train/"))[: len(WRITTEN)]
    taken = {record["image"]: record["taken"] for record in records if "taken" in record}
    assert list(taken) == firsts  # the photos without EXIF have no `taken`
    assert taken[firsts[0]] == {
        "time": "2026-03-14T07:45:10+11:00",
        "latitude": -33.8568,
        "longitude": 151.2153,
        "altitude": 12.5,
    }
    assert taken[firsts[1]] == {"time": "2026-03-14T07:46:00"}
    assert taken[firsts[2]] == {"problems": ["GPS latitude 95 is past 90 degrees", "GPS position without its latitude"]}
    assert taken[firsts[3]] == {"latitude": -33.857, "longitude": 151.216} | {
        "relative_altitude": 40.2,
        "camera_yaw": -12.3,
        "camera_pitch": -90.0,
        "focal_35mm": 24.0,
    }

    summary = summarize_output(run["output"])  # what notebook 01 shows and saves
    overview = summary.overview
    assert (overview["with_time"], overview["with_position"], overview["taken_problems"]) == (2, 2, 1)
    assert overview["with_pose"] == 1  # the drone's photo: its items can be placed on the ground
    drawn = positions_figure(summary).axes[0].collections[0]  # the map: a dot per photo with a position
    counts = [len(records[[r["image"] for r in records].index(key)]["detections"]) for key in (firsts[0], firsts[3])]
    assert drawn.get_offsets().tolist() == [[151.2153, -33.8568], [151.216, -33.857]]
    assert drawn.get_array().tolist() == counts

    config = ExtractConfig(
        images=str(folder / "photos/data.yaml"),
        output=str(folder / "none.jsonl"),
        detections_from="labels",
        device="cpu",
        read_exif=False,
    )
    unplaced = run_extraction(config)["output"]
    assert not any("taken" in json.loads(line) for line in open(unplaced, encoding="utf-8"))
    assert positions_figure(summarize_output(unplaced)) is None


def test_the_geojson_export_maps_the_described_photos_as_gis_tools_read_it(exif_photos):
    """The chain a surveyor runs: photos with EXIF -> records -> sentences -> GeoJSON, read by geopandas."""
    import geopandas

    folder, run = exif_photos
    desclm = [sys.executable, "-m", "helpers"]
    subprocess.run(
        [*desclm, "synth", "--input", "cv.jsonl", "--output", "described.jsonl", "-q"], cwd=folder, check=True
    )
    export = "export described.jsonl --format geojson --cv cv.jsonl --output map.geojson -q".split()
    finished = subprocess.run([*desclm, *export], cwd=folder, capture_output=True, text=True)
    # photos without a position are no fault: counted and said, not error lines
    assert finished.returncode == 0 and "10 photos have no GPS position" in finished.stderr
    assert not (folder / "map.geojson.errors.jsonl").exists()

    frame = geopandas.read_file(folder / "map.geojson")
    records = {r["image"]: r for r in map(json.loads, open(run["output"], encoding="utf-8"))}
    sentences = {r["id"]: r["description"] for r in map(json.loads, open(folder / "described.jsonl"))}
    mapped = [image for image, record in records.items() if "latitude" in record.get("taken", {})]
    assert list(frame["image"]) == mapped and frame.crs.to_epsg() == 4326
    point = frame.geometry[0]
    assert (point.x, point.y, point.has_z, frame["altitude"][0]) == (151.2153, -33.8568, False, 12.5)
    assert frame["time"][0].isoformat() == "2026-03-14T07:45:10+11:00"  # read as a time with its offset
    assert frame["description"][0] == sentences[mapped[0]]
    assert frame["time"].isna()[1] and frame["altitude"].isna()[1]  # what the photo lacks, missing
    counts = [Counter(d["label"] for d in records[image]["detections"]) for image in mapped]
    columns = set().union(*counts)
    assert columns and set(frame.columns) == {
        *columns,
        "id",
        "image",
        "time",
        "altitude",
        "scene",
        "items",
        "description",
        "geometry",
    }
    for index, count in enumerate(counts):  # every feature has every label's column: 0 where it has none
        assert {label: int(frame[label][index]) for label in columns} == {label: count[label] for label in columns}
        assert int(frame["items"][index]) == count.total()

    items = [*export[:3], "geojson_items", *export[4:]]  # the drone's photo's items, where they lie
    items[items.index("map.geojson")] = "items.geojson"
    finished = subprocess.run([*desclm, *items], cwd=folder, capture_output=True, text=True)
    assert finished.returncode == 0 and "lack a position, height or camera pose" in finished.stderr
    placed = geopandas.read_file(folder / "items.geojson")
    drone = next(r for r in records.values() if "focal_35mm" in r.get("taken", {}))
    stated = [d for d in drone["detections"] if d["confidence"] >= Policy().min_confidence]
    assert stated and list(placed["label"]) == [d["label"] for d in stated] and set(placed["image"]) == {drone["image"]}
    # 40 m up with a 24 mm-equivalent lens: each within the frame's half diagonal (36.06 m) of the drone
    for point in placed.geometry:
        east, north = metres_from(drone["taken"]["longitude"], drone["taken"]["latitude"], point.x, point.y)
        assert math.hypot(east, north) <= 40.2 * 43.27 / 24 / 2

    export[export.index("map.geojson")] = "map.geojsonl"  # a feature a line: the same table
    subprocess.run([*desclm, *export], cwd=folder, check=True, capture_output=True)
    assert len((folder / "map.geojsonl").read_text().splitlines()) == len(mapped)
    lines = geopandas.read_file(folder / "map.geojsonl")
    assert lines.equals(frame) and lines.crs.to_epsg() == 4326


def test_the_csv_export_has_when_and_where_columns_when_some_record_says(exif_photos):
    import csv

    from helpers.describer.exports import export

    folder, run = exif_photos
    records = [json.loads(line) for line in open(run["output"], encoding="utf-8")]
    (folder / "rows.jsonl").write_text(
        "".join(json.dumps({"id": r["image"], "description": "."}) + "\n" for r in records)
    )
    export("csv", folder / "rows.jsonl", folder / "taken.csv", Path(run["output"]))
    with open(folder / "taken.csv", encoding="utf-8-sig", newline="") as file:
        table = list(csv.DictReader(file))
    for record, row in zip(records, table, strict=True):
        taken = record.get("taken", {})
        assert [row[name] for name in ("time", "latitude", "longitude")] == [
            str(taken.get(name, "")) for name in ("time", "latitude", "longitude")
        ]
    assert sum(bool(row["latitude"]) for row in table) == 2
    (folder / "plain.jsonl").write_text(
        "".join(json.dumps({k: v for k, v in r.items() if k != "taken"}) + "\n" for r in records)
    )
    export("csv", folder / "rows.jsonl", folder / "plain.csv", folder / "plain.jsonl")
    header = (folder / "plain.csv").read_text(encoding="utf-8-sig").splitlines()[0]
    assert header == "id,image,scene,detections,source,description"  # no record says: the columns as before


def test_the_dataset_exports_carry_when_and_where_each_photo_was_taken(exif_photos):
    """A VLM's training data keeps the photo's time and place: the hf export's `taken` column and the
    webdataset sample's JSON hold 01's `taken` (time, latitude, longitude, altitude; None where unknown)."""
    import tarfile

    import datasets

    from helpers.describer.exports import export

    folder, run = exif_photos
    records = [json.loads(line) for line in open(run["output"], encoding="utf-8")]
    (folder / "rows.jsonl").write_text(
        "".join(json.dumps({"id": r["image"], "description": "."}) + "\n" for r in records)
    )
    export("hf", folder / "rows.jsonl", folder / "ds", Path(run["output"]))
    export("webdataset", folder / "rows.jsonl", folder / "wds", Path(run["output"]))
    with tarfile.open(folder / "wds" / "00000.tar") as shard:
        samples = [json.load(shard.extractfile(m)) for m in shard.getmembers() if m.name.endswith(".json")]
    fields = ("time", "latitude", "longitude", "altitude", *POSE_LIMITS)
    for record, example, sample in zip(records, datasets.load_from_disk(str(folder / "ds")), samples, strict=True):
        said = {name: value for name, value in record.get("taken", {}).items() if name in fields}
        expected = {name: said.get(name) for name in fields} if said else None
        assert example["taken"] == expected and sample["taken"] == expected, record["image"]
    assert sum(example["taken"] is not None for example in datasets.load_from_disk(str(folder / "ds"))) == 3
    lenses = [(example["taken"] or {}).get("focal_35mm") for example in datasets.load_from_disk(str(folder / "ds"))]
    assert [lens for lens in lenses if lens is not None] == [24.0]  # the drone's photo says how it was taken


def test_a_geojson_export_names_a_position_that_is_no_place_and_skips_photos_without_one(tmp_path):
    from helpers.describer.exports import export

    places = [{"latitude": 47.5, "longitude": 8.25}, {"latitude": 47.5, "longitude": 181.0}, {"time": "2026-05-01"}]
    box = {"label": "PET bottle", "confidence": 0.9}
    records = [{"image": f"{i}.jpg", "detections": [box], "scene": None, "taken": t} for i, t in enumerate(places)]
    records.append({"image": "3.jpg", "detections": [{"label": "x"}], "taken": places[0]})  # no confidence
    (tmp_path / "cv.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    rows = [{"id": r["image"], "description": "A PET bottle."} for r in records]
    (tmp_path / "described.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    counts = export("geojson", tmp_path / "described.jsonl", tmp_path / "map.geojson", tmp_path / "cv.jsonl")
    assert (counts["exported"], counts["problems"], counts["without_position"]) == (1, 2, 1)
    errors = [json.loads(line) for line in open(tmp_path / "map.geojson.errors.jsonl")]
    assert [e["id"] for e in errors] == ["1.jpg", "3.jpg"] and "no place on Earth" in errors[0]["error"]
    assert "confidence" in errors[1]["error"]
    features = json.loads((tmp_path / "map.geojson").read_text())["features"]
    assert features[0]["geometry"] == {"type": "Point", "coordinates": [8.25, 47.5]}
    assert features[0]["properties"]["PET bottle"] == 1  # the label as given, its own column

    # a describe run's own threshold: what its sentences state
    export(
        "geojson", tmp_path / "described.jsonl", tmp_path / "strict.geojson", tmp_path / "cv.jsonl", policy=Policy(0.95)
    )
    strict = json.loads((tmp_path / "strict.geojson").read_text())["features"][0]["properties"]
    assert strict["items"] == 0 and "PET bottle" not in strict


def test_heic_photos_from_phones_are_read_upright_with_their_exif(tiny_demo, tmp_path):
    """A phone's HEIC photo (pi-heif opens it, as for Ultralytics): decoded as a person sees it (its turn
    applied), its labels fitting, when and where read from its EXIF."""
    import numpy as np
    import pillow_heif  # writes HEIC (pi-heif only reads)

    from helpers.cv.sources import ImageItem, decode_photo

    photos = tmp_path / "photos"
    shutil.copytree(tiny_demo, photos)
    upright = {}
    for turned, path in enumerate(sorted((photos / "train/images").glob("*.jpg"))[:2]):
        with Image.open(path) as image:
            upright[path.with_suffix(".heic").name] = image.convert("RGB")
        exif = _exif(-33.8568, 151.2153, 12.5, "2026:03:14 07:45:10")
        stored = upright[path.with_suffix(".heic").name]
        if turned:  # stored on its side, as a phone held upright stores it: EXIF says turn it (6)
            stored, exif[0x0112] = stored.transpose(Image.Transpose.ROTATE_90), 6
        heif = pillow_heif.from_pillow(stored)
        heif.info["exif"] = exif.tobytes()
        heif.save(path.with_suffix(".heic"), quality=95)
        path.unlink()  # the photo is the HEIC now; its label file is unchanged

    for name, original in upright.items():
        image, size, taken = decode_photo(ImageItem(photos / "train/images", name, None), 0, True)
        assert size == original.size == image.size
        assert np.abs(np.asarray(image, float) - np.asarray(original, float)).mean() < 4, "upright, as encoded"
        assert taken == {"time": "2026-03-14T07:45:10", "latitude": -33.8568, "longitude": 151.2153, "altitude": 12.5}

    config = ExtractConfig(
        images=str(photos / "data.yaml"), output=str(tmp_path / "cv.jsonl"), detections_from="labels", device="cpu"
    )
    run = run_extraction(config)
    records = {r["image"]: r for r in map(json.loads, open(run["output"], encoding="utf-8"))}
    assert run["failed"] == 0 and all(records[f"train/images/{name}"]["taken"] for name in upright)


# Exports without where the photos were taken (helpers.core.strip_location, `desclm export --strip_location`)


def _jpeg(exif: Image.Exif, xmp: bytes | None = None, comment: bytes = b"", icc: bytes | None = None, seed=0) -> bytes:
    pixels = np.random.default_rng(seed).integers(0, 255, (40, 56, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    extra = {"xmp": xmp} if xmp else {}
    extra |= {"comment": comment} if comment else {}
    extra |= {"icc_profile": icc} if icc else {}
    Image.fromarray(pixels).save(buffer, "JPEG", exif=exif, quality=90, **extra)
    return buffer.getvalue()


def _scan(data: bytes) -> bytes:
    """The JPEG's compressed pixels on (from its start of scan)."""
    return data[data.index(b"\xff\xda") :]


@settings(max_examples=80, deadline=None)
@given(
    latitude=st.floats(-89, 89),
    longitude=st.floats(-179, 179),
    with_time=st.booleans(),
    with_xmp=st.booleans(),
    comment=st.binary(max_size=40),
    icc=st.booleans(),
    seed=st.integers(0, 5),
)
def test_a_jpeg_loses_its_place_and_keeps_its_pixels_and_time(
    latitude, longitude, with_time, with_xmp, comment, icc, seed
):
    exif = _exif(latitude, longitude, 40.5, "2026:05:01 10:22:31" if with_time else None)
    exif[0x010F] = "DJI"  # the camera's make
    exif[EXIF] = {**(exif[EXIF] if EXIF in exif else {}), 0x927C: b"maker notes: 47.375, 8.536"}
    icc_profile = b"\x00" * 128 if icc else None
    data = _jpeg(exif, _dji_xmp(DJI_POSE) if with_xmp else None, comment, icc_profile, seed)
    stripped = without_location(data)
    assert _scan(stripped) == _scan(data)  # not re-encoded
    before, after = Image.open(io.BytesIO(data)), Image.open(io.BytesIO(stripped))
    assert np.array_equal(np.asarray(before), np.asarray(after))
    taken = photo_taken(after) or {}
    assert not {"latitude", "longitude", "altitude", "relative_altitude"} & set(taken)
    assert taken.get("time") == ("2026-05-01T10:22:31" if with_time else None)
    assert after.getexif().get(0x010F) == "DJI" and GPS not in after.getexif()
    assert 0x927C not in after.getexif().get_ifd(EXIF)  # the maker's notes, where some repeat the place
    assert after.info.get("comment", b"") == comment and after.info.get("icc_profile") == icc_profile
    assert "xmp" not in after.info
    assert without_location(stripped) == stripped  # nothing more to take


def test_a_png_is_written_again_without_its_place_and_other_formats_are_refused_when_they_say_one():
    pixels = np.random.default_rng(1).integers(0, 255, (24, 32, 3), dtype=np.uint8)
    exif = _exif(47.5, 8.25, time="2026:05:01 06:12:00")
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, "PNG", exif=exif)
    stripped = Image.open(io.BytesIO(without_location(buffer.getvalue())))
    assert np.array_equal(np.asarray(stripped), pixels) and photo_taken(stripped) is None
    webp = io.BytesIO()
    Image.fromarray(pixels).save(webp, "WEBP", exif=exif, lossless=True)
    with pytest.raises(ValueError, match="WEBP photo's GPS position cannot be removed without re-encoding"):
        without_location(webp.getvalue())
    plain = io.BytesIO()
    Image.fromarray(pixels).save(plain, "WEBP", lossless=True)
    assert without_location(plain.getvalue()) == plain.getvalue()  # says no place: as it is
    with pytest.raises(ValueError, match="not a photo"):
        without_location(b"not a photo at all")


def test_export_strip_location_publishes_photos_and_records_without_their_place(exif_photos):
    """hf, webdataset, LLaVA with --image_folder and csv over 01's records of photos with GPS in their EXIF:
    no photo, record or column says where; each photo's pixels (its compressed bytes) and time as they were."""
    import datasets

    from helpers.describer.exports import export

    folder, run = exif_photos
    records = [json.loads(line) for line in open(run["output"], encoding="utf-8")]
    lines = "".join(json.dumps({"id": r["image"], "description": "."}) + "\n" for r in records)
    (folder / "rows.jsonl").write_text(lines)
    rows, cv, photos = folder / "rows.jsonl", Path(run["output"]), folder / "photos/data.yaml"
    originals = {r["image"]: (folder / "photos" / r["image"]).read_bytes() for r in records}
    placed = [key for key, data in originals.items() if "latitude" in (photo_taken(Image.open(io.BytesIO(data))) or {})]
    assert len(placed) == 2  # photos that say where they were taken

    export("hf", rows, folder / "private_ds", cv, photos, strip_location=True)
    export("webdataset", rows, folder / "private_wds", cv, photos, strip_location=True)
    copies = folder / "private_photos"
    export("llava", rows, folder / "private.json", cv, photos, image_folder=copies, strip_location=True)
    export("csv", rows, folder / "private.csv", cv, strip_location=True)

    dataset = datasets.load_from_disk(str(folder / "private_ds"))
    with tarfile.open(folder / "private_wds" / "00000.tar") as shard:
        members = {m.name: shard.extractfile(m).read() for m in shard.getmembers()}
    photo_bytes = [e["image"]["bytes"] for e in dataset.cast_column("image", datasets.Image(decode=False))]
    photo_bytes += [data for name, data in members.items() if name.endswith(".jpg")]
    photo_bytes += [(copies / key).read_bytes() for key in originals]
    assert len(photo_bytes) == 3 * len(originals)
    scans = {_scan(data): key for key, data in originals.items()}
    for data in photo_bytes:  # each photo: no place, its own compressed pixels
        assert not {"latitude", "longitude"} & set(photo_taken(Image.open(io.BytesIO(data))) or {})
        assert _scan(data) in scans
    stripped = [data for data in photo_bytes if scans[_scan(data)] in placed]
    assert stripped and all(data != originals[scans[_scan(data)]] for data in stripped)

    assert all((example["taken"] or {}).get("latitude") is None for example in dataset)
    assert sum(bool((example["taken"] or {}).get("time")) for example in dataset) == 2  # the times kept
    samples = [json.loads(data) for name, data in members.items() if name.endswith(".json")]
    assert all((sample.get("taken") or {}).get("latitude") is None for sample in samples)
    header = (folder / "private.csv").read_text(encoding="utf-8-sig").splitlines()[0]
    assert "latitude" not in header and "time" in header
    with pytest.raises(ValueError, match="a map of where the photos were taken"):
        export("geojson", rows, folder / "map.geojson", cv, strip_location=True)
