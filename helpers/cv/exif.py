"""When and where a photo was taken, from its EXIF: what a drone or trail camera writes in every photo.

    {"image": "flight_3/DJI_0042.JPG", ..., "taken": {"time": "2026-05-01T10:22:31+02:00",
     "latitude": 47.375139, "longitude": 8.536181, "altitude": 412.5}}

`time` is the capture time (`DateTimeOriginal`, else `DateTimeDigitized`, else `DateTime`) in ISO 8601,
with its fraction of a second and its offset from UTC when the camera wrote them (`SubSecTimeOriginal`,
`OffsetTimeOriginal`); without one, the offset is the difference from the GPS receiver's own UTC time of the
photo (`GPSDateStamp`, `GPSTimeStamp`) where the photo has a position and that difference is a whole quarter
hour give or take `GPS_CLOCK_SLACK_S` (a camera clock set to its time zone); else it is the camera's local
time. `latitude` and `longitude` are degrees (WGS 84, as GPS gives them; south and west negative),
`altitude` metres above sea level (below: negative). A field the photo lacks is left out, and a photo with
neither time nor position has no `taken`. A position the receiver marked void (`GPSStatus` V) or at exactly
0, 0 (what cameras without a fix write) is no position. A value that cannot be read (a zero denominator, a
latitude past 90, a date like 2026:13:45) is left out and named in `problems`: the photo's record is written
all the same.

Where the photo says how it was taken, `taken` also holds the drone's height and the camera's view, which
place its boxes on the ground (`helpers.core.ground`): `relative_altitude` (metres above the take-off
point), `camera_yaw`, `camera_pitch`, `camera_roll` (the gimbal's, degrees), from DJI's XMP
(`drone-dji:RelativeAltitude`, `GimbalYawDegree`, `GimbalPitchDegree`, `GimbalRollDegree`, read by Pillow
with defusedxml), and `focal_35mm` (EXIF's `FocalLengthIn35mmFilm`, millimetres; 0 is unknown).
"""

from __future__ import annotations

import datetime
import math
import re
from typing import Any

from PIL import ExifTags, Image

from helpers.core.figures import ALTITUDE_DECIMALS, COORDINATE_DECIMALS
from helpers.core.ground import POSE_LIMITS

GPS = ExifTags.IFD.GPSInfo
EXIF = ExifTags.IFD.Exif
# tag numbers (ExifTags.GPS and ExifTags.Base name them)
LATITUDE_REF, LATITUDE, LONGITUDE_REF, LONGITUDE, ALTITUDE_REF, ALTITUDE, STATUS = 1, 2, 3, 4, 5, 6, 9
GPS_TIME, GPS_DATE = 7, 29  # the receiver's UTC time of day (hours, minutes, seconds) and date (YYYY:MM:DD)
GPS_CLOCK_SLACK_S = 120  # a camera clock this far from a quarter hour off the GPS's UTC still gives the offset
UTC_OFFSETS_H = (-12, 14)  # the time zones there are
WITH_OFFSET = re.compile(r"[+-]\d\d:\d\d$")  # an ISO time that says its UTC offset
TIMES = ((0x9003, 0x9291, 0x9011), (0x9004, 0x9292, 0x9012))  # (time, its sub-seconds, its offset): original, digitized
IFD0_TIME = 0x0132  # DateTime: the file's last change, often the capture; used last
EXIF_TIME_FORMAT = "%Y:%m:%d %H:%M:%S"
FOCAL_35MM = 0xA405  # FocalLengthIn35mmFilm
XMP_POSE = {  # `taken` field: DJI's XMP name (drone-dji namespace)
    "relative_altitude": "RelativeAltitude",
    "camera_yaw": "GimbalYawDegree",
    "camera_pitch": "GimbalPitchDegree",
    "camera_roll": "GimbalRollDegree",
}
XMP_KEYS = ("xmp", "XML:com.adobe.xmp")  # where Pillow keeps a photo's XMP packet (JPEG and WebP; PNG)
POSE_DECIMALS = 2  # as DJI writes them: centimetres, hundredths of a degree


def photo_taken(image: Image.Image) -> dict[str, Any] | None:
    """The photo's `taken` (see the module docstring), None when its EXIF says neither when nor where.

    Args:
        image: The opened photo (before `exif_transpose`, which drops its EXIF orientation only).
    """
    taken: dict[str, Any] = {}
    problems: list[str] = []
    try:
        exif = image.getexif()
        gps, details = exif.get_ifd(GPS), exif.get_ifd(EXIF)
    except Exception as error:  # noqa: BLE001 - a corrupt EXIF block costs the photo's `taken`, not its record
        return {"problems": [f"EXIF unreadable: {type(error).__name__}: {error}"]}
    time = _time(exif, details, problems)
    if time:
        taken["time"] = time
    taken |= _position(gps, problems)
    if time and "latitude" in taken and not WITH_OFFSET.search(time):
        taken["time"] = time + _offset_from_gps(time, gps, problems)
    taken |= _pose(image, details, problems)
    if problems:
        taken["problems"] = problems
    return taken or None


def _time(exif: Image.Exif, details: dict, problems: list[str]) -> str | None:
    """The capture time as ISO 8601 text, or None."""
    candidates = [(details.get(time), details.get(fraction), details.get(offset)) for time, fraction, offset in TIMES]
    candidates.append((exif.get(IFD0_TIME), None, None))
    for text, fraction, offset in candidates:
        text = _text(text)
        if not text or not text.strip(" :0\x00"):  # blank, or "0000:00:00 00:00:00" (no clock)
            continue
        try:
            moment = datetime.datetime.strptime(text.strip(), EXIF_TIME_FORMAT)
        except ValueError:
            problems.append(f"capture time {text!r} is not a date and time (YYYY:MM:DD HH:MM:SS)")
            return None
        iso = moment.isoformat()
        fraction = _text(fraction).strip()
        if fraction.isdigit() and fraction.isascii():
            iso += "." + fraction
        offset = _text(offset).strip()
        if offset:
            try:
                datetime.datetime.strptime(offset, "%z")
                iso += offset
            except ValueError:
                problems.append(f"UTC offset {offset!r} is not +HH:MM or -HH:MM (the time is local)")
        return iso
    return None


def _offset_from_gps(local: str, gps: dict, problems: list[str]) -> str:
    """The UTC offset ("+02:00") of a camera's local time `local` that the GPS block's UTC time of the same
    photo gives, "" when it gives none (no GPS time, or not a quarter hour's difference: a stale fix)."""
    if gps.get(GPS_TIME) is None or gps.get(GPS_DATE) is None:
        return ""
    try:
        hours, minutes, seconds = (_number(part) for part in gps[GPS_TIME])
        day = datetime.datetime.strptime(_text(gps[GPS_DATE]).strip(), "%Y:%m:%d")
        utc = day + datetime.timedelta(hours=hours, minutes=minutes, seconds=seconds)
    except (TypeError, ValueError, ZeroDivisionError, OverflowError) as error:
        problems.append(f"GPS time {gps[GPS_DATE]!r} {gps[GPS_TIME]!r} unreadable: {error}")
        return ""
    try:
        ahead = (datetime.datetime.fromisoformat(local) - utc).total_seconds()
    except (ValueError, OverflowError):  # a fraction of a second no clock writes
        return ""
    quarters = round(ahead / 900)
    off_the_quarter = abs(ahead - 900 * quarters) > GPS_CLOCK_SLACK_S
    if off_the_quarter or not UTC_OFFSETS_H[0] * 4 <= quarters <= UTC_OFFSETS_H[1] * 4:
        return ""
    sign, minutes = ("-" if quarters < 0 else "+"), abs(quarters) * 15
    return f"{sign}{minutes // 60:02d}:{minutes % 60:02d}"


def _position(gps: dict, problems: list[str]) -> dict[str, float]:
    """`latitude`, `longitude` and `altitude` as far as the GPS block gives them."""
    if not gps or _text(gps.get(STATUS)).strip().upper() == "V":
        return {}
    found: dict[str, float] = {}
    for name, tag, ref_tag, negative, limit in (
        ("latitude", LATITUDE, LATITUDE_REF, "S", 90.0),
        ("longitude", LONGITUDE, LONGITUDE_REF, "W", 180.0),
    ):
        if gps.get(tag) is None:
            continue
        try:
            degrees = _degrees(gps[tag])
        except (TypeError, ValueError, ZeroDivisionError) as error:
            problems.append(f"GPS {name} {gps[tag]!r} unreadable: {error}")
            continue
        if not abs(degrees) <= limit:
            problems.append(f"GPS {name} {degrees:g} is past {limit:g} degrees")
            continue
        ref = _text(gps.get(ref_tag)).strip().upper()
        found[name] = round(-degrees if ref == negative else degrees, COORDINATE_DECIMALS)
    if len(found) < 2 or (found["latitude"] == 0 and found["longitude"] == 0):
        if len(found) == 1:
            problems.append(f"GPS position without its {'longitude' if 'latitude' in found else 'latitude'}")
        return {}
    if gps.get(ALTITUDE) is not None:
        try:
            metres = _number(gps[ALTITUDE])
        except (TypeError, ValueError, ZeroDivisionError) as error:
            problems.append(f"GPS altitude {gps[ALTITUDE]!r} unreadable: {error}")
        else:
            below = gps.get(ALTITUDE_REF) in (1, b"\x01", "\x01", "1")
            found["altitude"] = round(-metres if below else metres, ALTITUDE_DECIMALS)
    return found


def _pose(image: Image.Image, details: dict, problems: list[str]) -> dict[str, float]:
    """The drone's height and the camera's angles (DJI's XMP) and its 35 mm-equivalent focal length (EXIF)."""
    found: dict[str, float] = {}
    said = _xmp_values(image, problems) if any(key in image.info for key in XMP_KEYS) else {}
    for name, xmp_name in XMP_POSE.items():
        if xmp_name not in said:
            continue
        low, high = POSE_LIMITS[name]
        try:
            value = float(said[xmp_name])
        except (TypeError, ValueError):
            problems.append(f"XMP {xmp_name} {str(said[xmp_name])[:40]!r} is not a number")
            continue
        if not low <= value <= high:  # NaN too
            problems.append(f"XMP {xmp_name} {value:g} is outside {low:g}..{high:g}")
            continue
        found[name] = round(value, POSE_DECIMALS)
    if details.get(FOCAL_35MM) is not None:
        try:
            focal = _number(details[FOCAL_35MM])
        except (TypeError, ValueError) as error:
            problems.append(f"FocalLengthIn35mmFilm {details[FOCAL_35MM]!r} unreadable: {error}")
        else:
            low, high = POSE_LIMITS["focal_35mm"]
            if low <= focal <= high:
                found["focal_35mm"] = round(focal, POSE_DECIMALS)
            elif focal != 0:  # 0: the camera does not know
                problems.append(f"FocalLengthIn35mmFilm {focal:g} is outside {low:g}..{high:g} mm")
    return found


def _xmp_values(image: Image.Image, problems: list[str]) -> dict[str, Any]:
    """The XMP packet's DJI pose values by name (as attributes or elements of its descriptions)."""
    try:
        xmp = image.getxmp()
    except Exception as error:  # noqa: BLE001 - a broken XMP packet costs the pose, not the record
        problems.append(f"XMP unreadable: {type(error).__name__}: {error}")
        return {}
    wanted, found = set(XMP_POSE.values()), {}
    stack: list[Any] = [xmp]
    while stack:
        node = stack.pop()
        if isinstance(node, list):
            stack.extend(node)
        elif isinstance(node, dict):
            for key, value in node.items():
                if key in wanted and isinstance(value, str):
                    found.setdefault(key, value.strip())
                else:
                    stack.append(value)
    return found


def _degrees(value: Any) -> float:
    """Degrees from EXIF's (degrees, minutes, seconds) rationals (or one number of degrees).

    Raises:
        ValueError: Not one to three finite numbers, or minutes or seconds out of 0..60.
    """
    parts = [_number(part) for part in (value if isinstance(value, tuple | list) else (value,))]
    if not 1 <= len(parts) <= 3:
        raise ValueError(f"{len(parts)} numbers, not degrees, minutes, seconds")
    if any(not 0 <= part <= 60 for part in parts[1:]):
        raise ValueError("minutes and seconds run from 0 to 60")
    return sum(part / 60**place for place, part in enumerate(parts))


def _number(value: Any) -> float:
    """A finite number from an EXIF rational (a zero denominator reads as NaN in Pillow).

    Raises:
        ValueError: Not a finite number.
    """
    if isinstance(value, str | bytes):
        raise ValueError("text, not a number")
    number = float(value)
    if not math.isfinite(number):
        raise ValueError("not a finite number (a zero denominator?)")
    return number


def _text(value: Any) -> str:
    """An EXIF text value as text (Pillow gives some as bytes); None as ""."""
    if value is None:
        return ""
    if isinstance(value, bytes):
        return value.decode("ascii", "replace").rstrip("\x00")
    return str(value).rstrip("\x00")
