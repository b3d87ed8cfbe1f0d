"""A drone's flight record beside its video: DJI drones write `DJI_0042.SRT` next to `DJI_0042.MP4`, a
subtitle a frame (or a second) saying when and where the drone was, which no other part of the video says.

    1
    00:00:12,500 --> 00:00:12,533
    <font size="28">FrameCnt: 376, DiffTime: 33ms
    2026-05-01 10:22:43.512
    [iso: 100] [shutter: 1/1000.0] [fnum: 2.8] [latitude: 47.375139] [longitude: 8.536181]
    [rel_alt: 40.000 abs_alt: 452.500] </font>                              (one line in the file)

Older drones (Phantom 3 and 4, Mavic Pro) write `GPS(8.536181,47.375139,16) BAROMETER:40.1` and
`2026.05.01 10:22:43`; some firmware spells `longtitude`. A frame's `taken` is the subtitle shown at its
time: the clock time as written (the drone's local clock, no offset), latitude and longitude (degrees;
0, 0 is no fix), altitude `abs_alt` (metres above sea level; `rel_alt`, above the take-off point, and
the old format's third GPS number are not). A subtitle without a value leaves it out; a value that
cannot be read is named in `problems`. The subtitles are parsed by `srt`.

What places a frame's boxes on the ground (`helpers.core.ground`), where a subtitle says it:
`relative_altitude` (`rel_alt`), `camera_yaw`, `camera_pitch`, `camera_roll` (`gb_yaw`, `gb_pitch`,
`gb_roll`: the gimbal's, which enterprise drones write) and `focal_35mm` (`focal_len` times `dzoom_ratio`:
written with a decimal point in millimetres and times; without one, as consumer drones write them, in tenths
of a millimetre, `240`, and ten-thousandths, `10000`).
"""

from __future__ import annotations

import bisect
import datetime
import functools
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from helpers.core.figures import ALTITUDE_DECIMALS, COORDINATE_DECIMALS
from helpers.core.ground import POSE_LIMITS

SIDECAR_SUFFIXES = (".SRT", ".srt")
RECORDS_KEPT = 8  # flight records kept parsed (a 30-minute flight's is ~54,000 subtitles)
NUMBER = r"([-+]?\d+(?:\.\d+)?)"
CLOCK = re.compile(r"(\d{4})[-./](\d{2})[-./](\d{2})[ T]+(\d{2}):(\d{2}):(\d{2})(?:[.,:](\d+))?")
LATITUDE = re.compile(rf"\[\s*latitude\s*:\s*{NUMBER}\s*\]", re.IGNORECASE)
LONGITUDE = re.compile(rf"\[\s*longt?itude\s*:\s*{NUMBER}\s*\]", re.IGNORECASE)
ABSOLUTE_ALTITUDE = re.compile(rf"abs_alt\s*:\s*{NUMBER}", re.IGNORECASE)
OLD_GPS = re.compile(rf"GPS\s*\(\s*{NUMBER}\s*,\s*{NUMBER}", re.IGNORECASE)  # (longitude, latitude, ...)
POSE = {  # `taken` field: its subtitle key
    "relative_altitude": "rel_alt",
    "camera_yaw": "gb_yaw",
    "camera_pitch": "gb_pitch",
    "camera_roll": "gb_roll",
}
POSE_VALUES = {name: re.compile(rf"\b{key}\s*:\s*{NUMBER}", re.IGNORECASE) for name, key in POSE.items()}
FOCAL = re.compile(rf"\bfocal_len\s*:\s*{NUMBER}", re.IGNORECASE)
DIGITAL_ZOOM = re.compile(rf"\bdzoom_ratio\s*:\s*{NUMBER}", re.IGNORECASE)
WHOLE_SCALES = {FOCAL: 10, DIGITAL_ZOOM: 10_000}  # a value written without a decimal point is in these parts
POSE_DECIMALS = 2


@dataclass
class FlightRecord:
    """A video's subtitles, in time order: each one's start (milliseconds) and what it says."""

    starts: list[int] = field(default_factory=list)
    taken: list[dict[str, Any]] = field(default_factory=list)
    problem: str = ""  # why the file could not be read ("": it could)

    def at(self, milliseconds: int) -> dict[str, Any] | None:
        """What the subtitle on screen at `milliseconds` says (the last to start by then), None before the first."""
        index = bisect.bisect_right(self.starts, milliseconds) - 1
        return self.taken[index] if index >= 0 else None


def sidecar_of(video: Path) -> Path | None:
    """The flight record beside `video` (`DJI_0042.SRT` for `DJI_0042.MP4`), None when there is none."""
    for suffix in SIDECAR_SUFFIXES:
        sidecar = video.with_suffix(suffix)
        if sidecar.is_file():
            return sidecar
    return None


def flight_record(sidecar: Path, stamp: tuple | None = None) -> FlightRecord:
    """The parsed flight record (kept for the last `RECORDS_KEPT` files, until one changes: `stamp`, what changes
    with it, its size and time when not given; a remote one's version)."""
    if stamp is None:
        stat = sidecar.stat()
        stamp = (stat.st_size, stat.st_mtime_ns)
    return _parsed(sidecar, stamp)


@functools.lru_cache(maxsize=RECORDS_KEPT)
def _parsed(sidecar: Path, stamp: tuple) -> FlightRecord:
    import srt

    try:
        text = sidecar.read_bytes().decode("utf-8-sig", "replace")
        subtitles = sorted(srt.parse(text, ignore_errors=True), key=lambda subtitle: subtitle.start)
    except (OSError, ValueError, srt.SRTParseError) as error:
        return FlightRecord(problem=f"flight record {sidecar.name} unreadable: {error}")
    record = FlightRecord()
    for subtitle in subtitles:
        record.starts.append(subtitle.start // datetime.timedelta(milliseconds=1))
        record.taken.append(subtitle_taken(subtitle.content))
    return record


def subtitle_taken(text: str) -> dict[str, Any]:
    """`time`, `latitude`, `longitude`, `altitude` and `problems`, as far as one subtitle says them."""
    taken: dict[str, Any] = {}
    problems: list[str] = []
    if clock := CLOCK.search(text):
        year, month, day, hour, minute, second, fraction = clock.groups()
        try:
            moment = datetime.datetime(int(year), int(month), int(day), int(hour), int(minute), int(second))
        except ValueError:
            problems.append(f"time {clock.group(0)!r} is not a date and time")
        else:
            milliseconds = int((fraction or "0")[:3].ljust(3, "0"))
            moment += datetime.timedelta(milliseconds=milliseconds)
            taken["time"] = moment.isoformat(timespec="milliseconds" if fraction else "seconds")
    latitude, longitude = LATITUDE.search(text), LONGITUDE.search(text)
    if latitude and longitude:
        position = (float(latitude.group(1)), float(longitude.group(1)))
    elif old := OLD_GPS.search(text):
        position = (float(old.group(2)), float(old.group(1)))
    else:
        position = None
    if position is not None and not (abs(position[0]) <= 90 and abs(position[1]) <= 180):
        problems.append(f"position {position[0]:g}, {position[1]:g} is past the poles or the date line")
    elif position is not None and position != (0.0, 0.0):  # 0, 0: no fix
        taken["latitude"], taken["longitude"] = (round(value, COORDINATE_DECIMALS) for value in position)
        if (altitude := ABSOLUTE_ALTITUDE.search(text)) and math.isfinite(metres := float(altitude.group(1))):
            taken["altitude"] = round(metres, ALTITUDE_DECIMALS)
        elif altitude:
            problems.append(f"altitude {altitude.group(1)[:20]!r} is no number of metres")
    taken |= _pose(text, problems)
    if problems:
        taken["problems"] = problems
    return taken


def _pose(text: str, problems: list[str]) -> dict[str, float]:
    """The drone's height above take-off, the gimbal's angles and the 35 mm-equivalent focal length a subtitle
    says (see the module docstring)."""
    found: dict[str, float] = {}
    for name, pattern in POSE_VALUES.items():
        if said := pattern.search(text):
            found[name] = float(said.group(1))
    if focal := FOCAL.search(text):
        zoom = DIGITAL_ZOOM.search(text)
        found["focal_35mm"] = _scaled(focal, FOCAL) * (_scaled(zoom, DIGITAL_ZOOM) if zoom else 1.0)
    for name, value in list(found.items()):
        low, high = POSE_LIMITS[name]
        if low <= value <= high:
            found[name] = round(value, POSE_DECIMALS)
        elif name == "focal_35mm" and value == 0:  # what a camera that does not know writes
            del found[name]
        else:
            problems.append(f"{name} {value:g} is outside {low:g}..{high:g}")
            del found[name]
    return found


def _scaled(said: re.Match, pattern: re.Pattern) -> float:
    """A subtitle's number in its unit: whole numbers are in `WHOLE_SCALES`' parts of it."""
    text = said.group(1)
    return float(text) if "." in text else float(text) / WHOLE_SCALES[pattern]
