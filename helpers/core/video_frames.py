"""Frames of videos (trail-camera clips, drone footage, phone videos) read as photos: one frame every
`video_interval` seconds of each video, decoded where it lies (PyAV, FFmpeg's decoders).

    desclm extract --images clips/ --video_interval 2 ...   # a folder of photos and videos alike

A frame's key is its video's key and the time into the video it was shown at, in milliseconds,
`DCIM/clip_0042.MP4/00012.500s.jpg` (the frame on screen 12.5 s in): unique, stable across runs, read
back by `PhotoKeys` for the gallery and the exports (as a JPEG; the name ends in `.jpg` so an
exported copy is one), and the same whether frames are read in order or one by one. "On screen at
t" is the last frame whose presentation time is not after t, counted from the video's first frame,
so a variable frame rate (phones) or B-frames change nothing. A video is listed at 0, interval,
2 x interval, ... up to its duration; one that cannot be opened is listed as its frame at 0 s, whose
decoding names the video's problem in the errors file: a bad video costs one line.

Frames are shown as the video says a person sees them (a phone's portrait video is stored on its
side with a display rotation). When and where a frame was taken (`read_exif`): the video's
`creation_time` (MP4/MOV: UTC by the standard, though some cameras write their local clock there; an
iPhone's `com.apple.quicktime.creationdate`, its local time with the offset, is preferred; an AVI's
`IDIT` date: the camera's clock, no offset) plus the frame's time, and the `location` a phone
writes (ISO 6709, `+47.3751+008.5362+412.500/`); a DJI drone's flight record beside the video
(`DJI_0042.SRT`, `helpers.core.flight_record`) says when and where for each frame.

A video in object storage (`s3://bucket/clips/DJI_0042.MP4`, a `UPath`: `helpers.core.remote`) is read where it
lies, as FFmpeg reads a local one, through its file system's file: in ranged requests of `VIDEO_BLOCK` bytes read
ahead (`PROBE_BLOCK` when it is opened for its length alone). What its folder holds (each file's size and version,
a flight record beside it) is asked once a folder per process (`remote_entries`; `forget_remote_folders` asks again).
"""

from __future__ import annotations

import contextlib
import datetime
import functools
import gc
import io
import math
import os
import re
import threading
from collections import OrderedDict, defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from PIL import Image

from helpers.core.figures import ALTITUDE_DECIMALS, COORDINATE_DECIMALS
from helpers.core.flight_record import SIDECAR_SUFFIXES, flight_record, sidecar_of
from helpers.core.io import name_suffix
from helpers.core.remote import is_remote, remote_range, remote_version

DEFAULT_VIDEO_INTERVAL = 1.0  # seconds between the frames listed (`video_interval`)
SHORTEST_INTERVAL = 0.001  # a frame's time is in milliseconds
FRAME = "video"  # an ImageItem's column for a frame of a video (its row: the frame's time in milliseconds)
# what FFmpeg reads and cameras write (Ultralytics' VID_FORMATS less .gif, which Pillow reads as a photo)
VIDEO_SUFFIXES = frozenset(
    {".mp4", ".mov", ".m4v", ".avi", ".mkv", ".webm", ".mts", ".m2ts", ".ts", ".mpg", ".mpeg", ".wmv", ".asf", ".3gp"}
)
FRAME_NAME = re.compile(r"(?P<seconds>\d{5,})\.(?P<milliseconds>\d{3})s\.jpg")
FRAME_QUALITY = 95  # a frame read back as a file (gallery, exports): JPEG at this quality
FORWARD_SECONDS = 4.0  # a frame this far after the last one read is decoded on to, a farther one sought
READERS_KEPT = 32  # video readers kept open, free or in use (a decoding thread's each, and more)
ISO6709 = re.compile(r"(?P<latitude>[+-]\d+(?:\.\d*)?)(?P<longitude>[+-]\d+(?:\.\d*)?)(?P<altitude>[+-]\d+(?:\.\d*)?)?")
POSITION = ("latitude", "longitude", "altitude")
# when a video began: an iPhone's local time with its UTC offset first, else the file's (UTC by the MP4 standard)
CREATION_TAGS = ("com.apple.quicktime.creationdate", "creation_time")
LOCATION_TAGS = ("location", "com.apple.quicktime.location.ISO6709")  # a phone's position, as FFmpeg names it
TS_SYNC, TS_PACKET = b"\x47", 188  # an MPEG transport stream's packets: each starts with this byte
# A remote video's requests (bytes read ahead of FFmpeg's reads): frames are decoded on through a few MB at a time
# (a 4K drone video is ~12 MB a second); its length is read from its header and its first packets alone.
VIDEO_BLOCK = 4 * 2**20
PROBE_BLOCK = 256 * 2**10


def is_video(key: str) -> bool:
    """Whether a file name or key ends in a video's extension (no `Path` made: a listing asks it of 10^7 keys,
    and `Path` interns each part of each); by `Path.suffix`'s rule, as a folder's photos are listed (`name_suffix`)."""
    return name_suffix(key) in VIDEO_SUFFIXES


def is_transport_stream(path: Path) -> bool:
    """Whether a `.ts` file is an MPEG transport stream (what cameras and recorders write: 188-byte packets
    starting with the sync byte 0x47, or 192-byte ones with a 4-byte time first), not TypeScript source;
    a file that cannot be read is taken as one (its opening then says why). A remote file's first bytes are one
    request."""
    try:
        if is_remote(path):
            start = remote_range(path, 0, TS_PACKET + 5)
        else:
            with open(path, "rb") as file:
                start = file.read(TS_PACKET + 5)
    except Exception:  # noqa: BLE001 - unreadable (a remote one: any error of its storage): decoding says why
        return True
    return any(start[offset : offset + 1] == TS_SYNC for offset in (0, 4)) if start else False


def frame_key(video_key: str, milliseconds: int) -> str:
    """The key of the frame `milliseconds` into the video `video_key`: `clip.mp4/00012.500s.jpg`."""
    return f"{video_key}/{milliseconds // 1000:05d}.{milliseconds % 1000:03d}s.jpg"


def split_frame_key(key: str) -> tuple[str, int] | None:
    """(the video's key, the frame's time in milliseconds) of a frame's key, else None."""
    video, _, name = key.rpartition("/")
    found = FRAME_NAME.fullmatch(name)
    if not found or not is_video(video):
        return None
    return video, int(found["seconds"]) * 1000 + int(found["milliseconds"])


def frame_times(video: Path, interval: float) -> list[int]:
    """The times (milliseconds) of the frames listed for `video`: 0, interval, 2 x interval, ... before
    its end; [0] when it cannot be opened or says no duration (decoding that frame names the problem)."""
    try:
        duration = video_duration(video)
    except Exception:  # noqa: BLE001 - any unreadable video is one error line, at its frame 0
        return [0]
    step = round(interval * 1000)
    return list(range(0, max(1, math.ceil(duration * 1000)), step))


def video_duration(video: Path) -> float:
    """The video's length in seconds: its video stream's, else its container's, else from its packets'
    times (a stream that states none; read, not decoded).

    Raises:
        av.error.FFmpegError, OSError: It cannot be opened.
        ValueError: It has no video stream.
    """
    import av

    with _opened(video, PROBE_BLOCK) as container:
        stream = _video_stream(container, video)
        if stream.duration and stream.time_base:
            return float(stream.duration * stream.time_base)
        if container.duration:
            return container.duration / av.time_base
        return demuxed_length(container, stream)


def demuxed_length(container, stream) -> float:
    """The stream's length in seconds from its packets' times (first to the end of the last)."""
    first = end = None
    for packet in container.demux(stream):
        if packet.pts is not None:
            first = packet.pts if first is None else min(first, packet.pts)
            end = max(end if end is not None else packet.pts, packet.pts + (packet.duration or 0))
    return float((end - first) * stream.time_base) if first is not None else 0.0


@contextlib.contextmanager
def _opened(video: Path, block: int = VIDEO_BLOCK) -> Iterator:
    """The video opened by FFmpeg (PyAV's container), closed after; a remote one through its file system's file,
    `block` bytes a request (read ahead), its errors naming its URL as a local one's name its path."""
    import av

    if not is_remote(video):
        with av.open(str(video)) as container:
            yield container
        return
    with _remote_file(video, block) as file:  # open while the container reads from it
        with _naming(video):
            container = av.open(file)
        with container:
            yield container


def _remote_file(video: Path, block: int):
    """The remote video's file, read `block` bytes ahead; its size known from its folder's listing, not asked."""
    entry = remote_entries(video).get(video.name)
    known = {"size": entry["size"]} if entry and entry.get("size") is not None else {}
    try:
        return video.fs.open(video.path, "rb", block_size=block, cache_type="readahead", **known)
    except TypeError:  # a file system whose files take no size
        return video.fs.open(video.path, "rb", block_size=block, cache_type="readahead")


@contextlib.contextmanager
def _naming(video: Path) -> Iterator[None]:
    """FFmpeg's errors reading a remote video through a file object, naming its URL (they name none)."""
    import av

    try:
        yield
    except av.error.FFmpegError as error:
        if error.filename not in (None, "", "<none>"):  # (PyAV's name for a file object's)
            raise
        raise type(error)(error.errno, error.strerror, str(video)) from None


def _video_stream(container, video: Path):
    if not container.streams.video:
        raise ValueError(f"{video}: no video stream")
    return container.streams.video[0]


def read_frame(video: Path, milliseconds: int) -> Image.Image:
    """The frame on screen `milliseconds` into the video, as 8-bit RGB turned as a person sees it
    (`decode_frame` in full)."""
    return decode_frame(video, milliseconds)[0]


def decode_frame(video: Path, milliseconds: int, min_side: int = 0) -> tuple[Image.Image, tuple[int, int]]:
    """The frame on screen `milliseconds` into the video, as 8-bit RGB turned as a person sees it, and
    its full size (width, height as shown).

    With `min_side`, the frame is converted at the smallest of 1/1, 1/2, 1/4, 1/8 of its size still at
    least `min_side` pixels both ways, as a JPEG is drafted for the models (`helpers.cv.sources`): a
    4K frame for a 640-pixel detector is converted from YUV as 1920x1080, in the same step.

    Videos stay open (`READERS_KEPT` readers in all), each with as many readers as threads read it at
    once: a thread takes the free reader that can decode on to its frame (no keyframe due between the
    reader's last frame and it), else seeks one (from the keyframe before its frame), else opens one.
    So a video's frames listed in order are decoded once each by one thread, and in parallel by many
    where seeking costs no more than decoding on (frames a keyframe interval apart or more).

    Raises:
        av.error.FFmpegError, OSError: The video cannot be read there.
        ValueError: It has no video stream, or no frame at all.
    """
    reader = _READERS.acquire(video, milliseconds)  # this thread's alone until released
    try:
        frame = reader.frame_at(milliseconds)
        shorter = min(frame.width, frame.height)
        reduction = max((factor for factor in (1, 2, 4, 8) if shorter // factor >= min_side), default=1)
        smaller = {"width": frame.width // reduction, "height": frame.height // reduction, "interpolation": "AREA"}
        # as an array, then a PIL image: the same pixels as `to_image`, faster (docs/measurements/video_frames_cpu.json)
        rgb = frame.to_ndarray(format="rgb24", **(smaller if min_side and reduction > 1 else {}))
        image = Image.fromarray(rgb)  # converted before the reader is free: its decoder owns the frame's buffers
        rotation, stored = frame.rotation, (frame.width, frame.height)
    except Exception:
        _READERS.release(reader, failed=True)
        raise
    _READERS.release(reader)
    turned = round(rotation or 0) % 180 == 90
    return _upright(image, rotation), stored[::-1] if turned else stored


def frame_jpeg(video: Path, milliseconds: int) -> bytes:
    """`read_frame` as a JPEG file's bytes (what the gallery shows and the exports write)."""
    buffer = io.BytesIO()
    read_frame(video, milliseconds).save(buffer, "JPEG", quality=FRAME_QUALITY)
    return buffer.getvalue()


class _OpenVideos:
    """The readers of the videos read last (`READERS_KEPT` of them kept free; a dropped one closes once no
    thread uses it), and which are in use."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._open: OrderedDict[tuple[str, int, int], list[_Reader]] = OrderedDict()  # least recently used first

    def acquire(self, video: Path, milliseconds: int) -> _Reader:
        """A reader of `video` for the frame at `milliseconds`, used by this thread alone until `release`:
        a free one that decodes on to it, else a free one (it seeks), else a new one."""
        key = (str(video), *_stamp(video))  # a video replaced since is opened afresh
        with self._lock:
            free = [reader for reader in self._open.get(key, []) if not reader.busy]
            reader = min(free, key=lambda reader: not reader.decodes_on_to(milliseconds), default=None)
            if reader is not None:
                reader.busy = True
                self._open.move_to_end(key)
                return reader
        reader = _Reader(video, key)  # opened outside the lock: another thread reads on meanwhile
        reader.busy = True
        with self._lock:
            self._open.setdefault(key, []).append(reader)
            self._open.move_to_end(key)
            self._trim()
        return reader

    def release(self, reader: _Reader, failed: bool = False) -> None:
        """The reader is free again; one whose decoding failed (its state unknown) is dropped."""
        with self._lock:
            reader.busy = False
            readers = self._open.get(reader.key, [])
            if failed and reader in readers:
                readers.remove(reader)

    def _trim(self) -> None:
        """Drops free readers, least recently used videos first, while more than `READERS_KEPT` are open."""
        count = sum(map(len, self._open.values()))
        for key in list(self._open):
            if count <= READERS_KEPT:
                return
            readers = self._open[key]
            for reader in [reader for reader in readers if not reader.busy][: count - READERS_KEPT]:
                readers.remove(reader)
                count -= 1
            if not readers:
                del self._open[key]

    def clear(self) -> None:
        with self._lock:
            self._open.clear()


_READERS = _OpenVideos()
_PARENTS_READERS: list = []  # in a forked child: its parent's readers, never freed there (see `_forked`)


def _forked() -> None:
    """In a forked child (Ray's and subprocess's `preexec_fn`, multiprocessing's fork): its own readers
    (its parent's lock may be held), and none of the parent's FFmpeg decoders freed. Freeing one waits for
    its decoding threads, which a child does not have: the child hung (Ray's start after 01 read a video,
    in the same process). So the parent's readers stay referenced, and the objects there are at the fork
    are left out of the child's garbage collection (`gc.freeze`: a dropped decoder in a reference cycle)."""
    _PARENTS_READERS.append(_READERS._open)
    _READERS.__init__()
    _LISTING_LOCKS.clear()  # (one may be held by a thread of the parent's)
    gc.freeze()


os.register_at_fork(after_in_child=_forked)


def close_videos() -> None:
    """Lets go of the videos kept open (each closes once no thread reads it) and of the remote folders' listings:
    the next frame opens its video afresh."""
    _READERS.clear()
    forget_remote_folders()


class _Reader:
    """One open video: its decoder, the last frame it gave and the one decoded after it."""

    def __init__(self, video: Path, key) -> None:
        import av

        self.video, self.key = video, key
        self.busy = False  # a thread is reading with it (`_OpenVideos`)
        self.file = _remote_file(video, VIDEO_BLOCK) if is_remote(video) else None
        with _naming(video):
            self.container = av.open(self.file if self.file is not None else str(video))
        self.stream = _video_stream(self.container, video)
        self.start = self.stream.start_time or 0
        self.frames = None  # the decoder's frames since the last seek
        self.last = self.ahead = None
        self.keyframe = self.keyframe_gap = None  # the last keyframe decoded, and the gap before it (pts)

    def _target(self, milliseconds: int) -> int:
        """A time from the first frame as the stream's time stamp."""
        base = self.stream.time_base
        return self.start + milliseconds * base.denominator // (1000 * base.numerator)

    def decodes_on_to(self, milliseconds: int) -> bool:
        """Whether the frame at `milliseconds` is reached by decoding on from the last one, not by seeking."""
        last = self.last.pts if self.last is not None and self.last.pts is not None else None
        target = self._target(milliseconds)
        return self.frames is not None and last is not None and last <= target and self._decode_on(last, target)

    def frame_at(self, milliseconds: int):
        """The last frame whose time is not after `milliseconds` from the first frame (the first frame
        for a time before it)."""
        with _naming(self.video):
            return self._frame_at(milliseconds)

    def _frame_at(self, milliseconds: int):
        target = self._target(milliseconds)
        if not self.decodes_on_to(milliseconds):
            self._seek(target)
        self._decode_to(target)
        if self.last is None and self.ahead is not None and target > self.start:
            self._seek(self.start)  # the seek landed after the time (a file without an index): from the start
            self._decode_to(target)
        if self.last is None:  # the time is before the first frame: the first frame
            if self.ahead is None:
                raise ValueError(f"{self.video}: no frame could be decoded at {milliseconds / 1000:.3f} s")
            return self.ahead
        return self.last

    def _decode_on(self, last: int, target: int) -> bool:
        """Whether decoding on from the frame at `last` to `target` beats seeking: no keyframe is due
        between them (seeking would start there, past the frames before it), and it is near."""
        if self.keyframe is not None and self.keyframe_gap and last < self.keyframe + self.keyframe_gap <= target:
            return False
        return (target - last) * self.stream.time_base <= FORWARD_SECONDS

    def _decode_to(self, target: int) -> None:
        """Decodes on until the next frame is after `target` (or the video ends), noting the keyframes."""
        while self.ahead is None or self.ahead.pts is None or self.ahead.pts <= target:
            if self.ahead is not None:
                self.last = self.ahead
            self.ahead = next(self.frames, None)
            if self.ahead is None:  # the end
                return
            if self.ahead.key_frame and self.ahead.pts is not None:
                if self.keyframe is not None and self.ahead.pts > self.keyframe:
                    self.keyframe_gap = self.ahead.pts - self.keyframe  # the video's keyframe interval, as seen
                self.keyframe = self.ahead.pts

    def _seek(self, target: int) -> None:
        """To the keyframe at or before `target` (time-base units); the decoder starts again there."""
        if self.frames is not None:
            self.frames.close()  # now, not when the garbage collector finds it (perhaps in a forked child)
        self.container.seek(target, stream=self.stream, backward=True, any_frame=False)
        self.frames = self.container.decode(self.stream)
        self.last = self.ahead = self.keyframe = None

    def __del__(self) -> None:
        if getattr(self, "frames", None) is not None:
            self.frames.close()
        container = getattr(self, "container", None)
        if container is not None:
            container.close()
        if getattr(self, "file", None) is not None:
            self.file.close()


def _upright(image: Image.Image, rotation: int) -> Image.Image:
    """The decoded frame as shown: turned by the video's display rotation (degrees counterclockwise)."""
    turns = {90: Image.Transpose.ROTATE_90, 180: Image.Transpose.ROTATE_180, 270: Image.Transpose.ROTATE_270}
    turn = turns.get(round(rotation or 0) % 360)
    return image.transpose(turn) if turn is not None else image


def frame_taken(video: Path, milliseconds: int) -> dict[str, Any] | None:
    """When and where the frame was taken, as `helpers.cv.exif` writes a photo's `taken`: the video's
    creation time plus the frame's time, its location; a drone's flight record beside the video
    (`helpers.core.flight_record`) says both for each frame, and is preferred. None when nothing says."""
    recorded = video_metadata(video, _stamp(video))
    taken: dict[str, Any] = {}
    if "start" in recorded:
        start = datetime.datetime.fromisoformat(recorded["start"])
        taken["time"] = (start + datetime.timedelta(milliseconds=milliseconds)).isoformat(timespec="milliseconds")
    taken |= recorded.get("position", {})
    problems = list(recorded.get("problems", []))
    if sidecar := _sidecar(video):
        record = flight_record(sidecar, _stamp(sidecar))
        said = record.at(milliseconds) or {}
        if "latitude" in said:  # the drone's position replaces the video's own (altitude included)
            taken = {name: value for name, value in taken.items() if name not in POSITION}
        taken |= {name: value for name, value in said.items() if name != "problems"}
        problems += ([record.problem] if record.problem else []) + said.get("problems", [])
    if problems:
        taken["problems"] = problems
    return taken or None


def _stamp(video: Path) -> tuple:
    """What changes when the file may have: its size and time; a remote one's version, from its folder's listing."""
    if is_remote(video):
        entries = remote_entries(video)
        if video.name not in entries:  # not in its folder's listing (one that cannot be listed): asked once
            entries[video.name] = video.fs.info(video.path)
        return (remote_version(video, entries[video.name]),)
    stat = video.stat()
    return stat.st_size, stat.st_mtime_ns


def _sidecar(video: Path) -> Path | None:
    """`sidecar_of`: a remote video's from its folder's listing (no request a frame)."""
    if not is_remote(video):
        return sidecar_of(video)
    entries = remote_entries(video)
    return next((video.with_suffix(s) for s in SIDECAR_SUFFIXES if video.with_suffix(s).name in entries), None)


_REMOTE_FOLDERS: dict[str, dict[str, dict]] = {}  # a remote folder's URL: its files' `info` by name
_LISTING_LOCKS: defaultdict[str, threading.Lock] = defaultdict(threading.Lock)  # one listing of a folder at once


def remote_entries(file: Path) -> dict[str, dict]:
    """The files in a remote file's folder, by name: each one's `info` (size, version), one listing a folder per
    process (until `forget_remote_folders`; the threads that open its videos at once wait for it). Empty where it
    cannot be listed (a bucket whose objects may be read but not listed), kept so: each video then asked of alone."""
    folder = str(file.parent)
    with _LISTING_LOCKS[folder]:
        if folder not in _REMOTE_FOLDERS:
            try:
                listed = file.fs.ls(file.parent.path, detail=True)
            except Exception:  # noqa: BLE001 - its storage's error, whatever it is: reading the video names it
                listed = []
            _REMOTE_FOLDERS[folder] = {entry["name"].rstrip("/").rpartition("/")[2]: entry for entry in listed}
        return _REMOTE_FOLDERS[folder]


def forget_remote_folders() -> None:
    """Lets go of the remote folders' listings (`remote_entries`): a folder is listed again when next asked of."""
    _REMOTE_FOLDERS.clear()


@functools.lru_cache(maxsize=64)
def video_metadata(video: Path, stamp: tuple) -> dict[str, Any]:
    """The video's creation time ("start", ISO 8601), its position and problems reading them, read once a
    video (`stamp` changes with the file)."""
    found: dict[str, Any] = {"problems": []}
    try:
        with _opened(video, PROBE_BLOCK) as container:
            tags = {**_video_stream(container, video).metadata, **container.metadata}
    except Exception:  # noqa: BLE001 - the frame's decoding names an unreadable video
        return found
    tag = next((tag for tag in CREATION_TAGS if str(tags.get(tag, "")).strip()), None)
    created = str(tags[tag]).strip() if tag else ""
    if created:
        try:
            start = datetime.datetime.fromisoformat(created)
        except ValueError:
            found["problems"].append(f"{tag} {created!r} is not an ISO 8601 time")
        else:
            found["start"] = start.isoformat()  # MP4's is UTC ("Z"); an AVI's IDIT has no offset: the camera's clock
    location = next((tags[tag] for tag in LOCATION_TAGS if tags.get(tag)), "")
    if location:
        try:
            found["position"] = parse_iso6709(location)
        except ValueError as error:
            found["problems"].append(str(error))
    return found


def parse_iso6709(text: str) -> dict[str, float]:
    """`latitude`, `longitude` (degrees) and `altitude` (metres, when given) of an ISO 6709 point in
    decimal degrees, as phones write it (`+47.3751+008.5362+412.500/`). {} for 0, 0 (no fix).

    Raises:
        ValueError: Not such a point, past the poles or the date line, or an altitude past any number.
    """
    found = ISO6709.match(text.strip())
    if not found or found.end() != len(text.strip().rstrip("/").rstrip()):
        raise ValueError(f"location {_shown(text)} is not an ISO 6709 point (+DD.DDDD+DDD.DDDD[+AAA.AAA]/)")
    latitude, longitude = float(found["latitude"]), float(found["longitude"])
    if not (abs(latitude) <= 90 and abs(longitude) <= 180):
        raise ValueError(f"location {_shown(text)} is past the poles or the date line")
    if latitude == 0 and longitude == 0:
        return {}
    position = {"latitude": round(latitude, COORDINATE_DECIMALS), "longitude": round(longitude, COORDINATE_DECIMALS)}
    if found["altitude"] is not None:
        if not math.isfinite(altitude := float(found["altitude"])):  # hundreds of digits read as infinity
            raise ValueError(f"location {_shown(text)}: its altitude is no number of metres")
        position["altitude"] = round(altitude, ALTITUDE_DECIMALS)
    return position


def _shown(text: str, most: int = 60) -> str:
    """A value for a message: its repr, cut at `most` characters."""
    return repr(text) if len(text) <= most else f"{text[:most]!r}..."
