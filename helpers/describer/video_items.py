"""Distinct items in a video: its frames' detections followed from frame to frame, so an item in view
for many frames counts once (the roll-up's "12 distinct items" beside "95 item sightings").

    items = VideoItems(Policy())
    for ms, record in frames_in_time_order:   # 01's records of one video, `clip.mp4/00012.500s.jpg`
        items.add(ms, record["detections"], record.get("camera_motion"))
    items.counts()                            # Counter({"plastic": 8, "glass": 4})

The tracker is BoT-SORT as Ultralytics ships it (`yolo track`'s default; its `botsort.yaml` settings,
no re-identification): boxes matched by overlap with where each track's Kalman filter expects it,
class-agnostic, low-confidence detections keeping a track alive. Its camera-motion compensation reads
the frames' pixels, which records do not hold: 01 measures the motion instead (`camera_motion`,
`helpers.core.camera_motion`) and the tracks are moved by it before each frame's matching. Without it
a moving camera breaks every track of a small item (`docs/measurements/video_items_sim.json`: on
simulated drone passes the distinct count is then near the sightings; with motion measured to a
thousandth of the frame, exact in most cases).

A track is confirmed by its first detection (Ultralytics waits for a second frame, to drop a detector's
flicker): every counted detection is an item already, which the sentences state, so one missed in the
next frame is lost for a while, not forgotten. An item's label is the one most of its counted
detections give (ties: the first given), so a detector that calls a bottle "plastic" in one frame and
"glass" in the next still counts one item. Every counted detection (at or above the policy's
`min_confidence`) belongs to exactly one distinct item: one the tracker could not place (a box of no
area) is its own. An item unseen for longer than `lost_s` seconds counts again when seen again.
"""

from __future__ import annotations

from collections import Counter

import numpy as np

from helpers.core.contract import Policy
from helpers.core.figures import is_number
from helpers.core.ground import CameraPose, box_on_ground
from helpers.core.video_frames import frame_key
from helpers.describer.options import TRACK_LOST_S
from helpers.text.grammar import canonical_label

# Ultralytics' botsort.yaml, less the thresholds the policy sets (a detection counts at min_confidence)
MATCH_THRESHOLD = 0.8  # a track and a box match when 1 - IoU x confidence is at most this
FUSE_SCORE = True
PROXIMITY_THRESHOLD, APPEARANCE_THRESHOLD = 0.5, 0.8  # for re-identification by appearance: not used (no pixels)


class _Boxes:
    """Detections as Ultralytics' trackers read them: `conf`, `cls`, `xywh` (centre, size) arrays that
    boolean masks index."""

    def __init__(self, xywh: np.ndarray, conf: np.ndarray, cls: np.ndarray) -> None:
        self.xywh, self.conf, self.cls = xywh, conf, cls

    def __len__(self) -> int:
        return len(self.conf)

    def __getitem__(self, index) -> _Boxes:
        return _Boxes(self.xywh[index], self.conf[index], self.cls[index])


def _tracker(policy: Policy):
    """BoT-SORT (`yolo track`'s default) as Ultralytics ships it, moved by the camera's motion 01 measured
    (`camera_motion`) where its own GMC would read the frame's pixels, which a record does not hold."""
    from ultralytics.trackers.bot_sort import BOTSORT
    from ultralytics.trackers.utils.stracks import multi_gmc
    from ultralytics.utils import IterableSimpleNamespace

    class Tracker(BOTSORT):
        warp: np.ndarray | None = None  # the camera's motion into the frame being added (2x3, normalised)

        def _pre_first_associate(self, strack_pool, unconfirmed, img, results_high) -> None:
            if self.warp is not None:
                multi_gmc(strack_pool, self.warp)
                multi_gmc(unconfirmed, self.warp)

        def _init_new_tracks(self, u_detection, detections, activated, refind=None) -> None:
            started = len(activated)
            super()._init_new_tracks(u_detection, detections, activated, refind)
            # confirmed at once, as on a video's first frame: every counted detection is an item already (the
            # sentences state it), so one missed in the next frame is lost for a while, not forgotten at once
            for track in activated[started:]:
                track.is_activated = True

    threshold = policy.min_confidence
    settings = IterableSimpleNamespace(
        track_high_thresh=threshold,  # a counted detection is matched first, and may start a track
        track_low_thresh=0.0,  # any other keeps a track alive (01 kept it above the detector's conf)
        new_track_thresh=threshold,
        track_buffer=1,  # set in frames once the frames' interval is known
        match_thresh=MATCH_THRESHOLD,
        fuse_score=FUSE_SCORE,
        gmc_method="none",  # the motion comes with the records
        proximity_thresh=PROXIMITY_THRESHOLD,
        appearance_thresh=APPEARANCE_THRESHOLD,
        with_reid=False,  # no pixels
    )
    return Tracker(settings)


class VideoItems:
    """One video's distinct items, counted as its frames are added in time order.

    Args:
        policy: Which detections count (`min_confidence`), as in the sentences.
        lost_s: An item unseen for longer than this (seconds) counts as a new one when seen again.
        below_takeoff_m: The ground the items lie on is this far below the take-off point (metres; negative:
            above it), for their places (`ground`).
    """

    def __init__(self, policy: Policy = Policy(), lost_s: float = TRACK_LOST_S, below_takeoff_m: float = 0.0) -> None:
        if not lost_s > 0:
            raise ValueError(f"lost_s must be > 0 seconds, got {lost_s!r}")
        self.policy, self.lost_s, self.below_takeoff_m = policy, lost_s, below_takeoff_m
        self.tracker = _tracker(policy)
        self.tracks: dict[int, _Item] = {}  # by track: what its counted detections say
        self.alone: list[_Item] = []  # counted detections no track took: an item each
        self.unboxed = 0  # counted detections without a box: they cannot be followed
        self.last_ms: int | None = None
        self.step_ms: int | None = None  # the frames' interval: the first gap between two frames

    def add(self, ms: int, detections: list[dict], motion=None, taken: dict | None = None, size=None) -> bool:
        """Add the frame shown at `ms` milliseconds: its record's detections, `camera_motion` (the affine
        map, 2 rows of 3, from the frame before's normalised coordinates to this one's; None: unknown,
        taken as still), `taken` (when and where, for the items it shows best) and `size` (its width and
        height in pixels, which with `taken`'s pose place its boxes on the ground). False, and nothing
        added, when it is not after the last frame added (out of time order)."""
        if self.last_ms is not None and ms <= self.last_ms:
            return False
        if self.last_ms is not None:
            gap = ms - self.last_ms
            if self.step_ms is None:
                self.step_ms = gap
                self.tracker.max_frames_lost = max(1, round(self.lost_s * 1000 / gap))
            # frames not in the records (an unreadable one, a gap): the tracks' filters move on without boxes
            # (and without the camera's motion, unknown there)
            self.tracker.warp = None
            missing = min(round(gap / self.step_ms) - 1, self.tracker.max_frames_lost + 1)
            for _ in range(max(0, missing)):
                self.tracker.update(_Boxes(np.zeros((0, 4)), np.zeros(0), np.zeros(0)))
        self.last_ms = ms
        self.tracker.warp = _warp(motion)
        self._track(ms, detections, (taken, size))
        return True

    def _track(self, ms: int, detections: list[dict], shown: tuple) -> None:
        threshold = self.policy.min_confidence
        boxed = [d for d in detections if d.get("bbox") is not None]
        self.unboxed += sum(d.get("bbox") is None and d["confidence"] >= threshold for d in detections)
        corners = np.array([d["bbox"] for d in boxed], dtype=float).reshape(-1, 4)
        xywh = np.concatenate([(corners[:, :2] + corners[:, 2:]) / 2, corners[:, 2:] - corners[:, :2]], axis=1)
        conf = np.array([d["confidence"] for d in boxed], dtype=float)
        self.tracker.update(_Boxes(xywh, conf, np.zeros(len(boxed))))
        frame = self.tracker.frame_id
        # the tracks matched or started in this frame, each with the index of its box
        track_of = {int(t.idx): t.track_id for t in self.tracker.tracked_stracks if t.frame_id == frame}
        for index, detection in enumerate(boxed):
            if detection["confidence"] < threshold:
                continue
            track = track_of.get(index)
            item = _Item(ms) if track is None else self.tracks.setdefault(track, _Item(ms))
            item.seen(ms, detection, shown)
            if track is None:
                self.alone.append(item)

    def counts(self) -> Counter[str]:
        """Distinct items per label: each track's most given label, and each detection no track took."""
        return Counter(item.label for item in (*self.tracks.values(), *self.alone))

    def items(self, video: str) -> list[dict]:
        """Each distinct item of `video` (its key), first seen first: its label, when it was first and
        last seen (seconds into the video), in how many frames, and the frame that shows it most surely
        (its key, the detection's confidence and box, the frame's `taken` when the record had one, and `ground`:
        where the box lies, `helpers.core.ground.box_on_ground`, when `taken` gives the camera's pose)."""
        items = sorted((*self.tracks.values(), *self.alone), key=lambda item: (item.first, item.best[1]))
        return [item.summary(video, self.below_takeoff_m) for item in items]


class _Item:
    """One distinct item as its counted detections say: labels, first and last time, frames, best sighting."""

    def __init__(self, ms: int) -> None:
        self.labels: Counter[str] = Counter()
        self.first = self.last = ms
        self.frames = 0
        # confidence, ms, box, and the frame's `taken` and size
        self.best: tuple[float, int, list, tuple] = (-1.0, ms, [], (None, None))

    def seen(self, ms: int, detection: dict, shown: tuple) -> None:
        self.labels[canonical_label(detection["label"])] += 1
        self.frames += 1  # a track takes one detection a frame
        self.last = ms
        if detection["confidence"] > self.best[0]:
            self.best = (detection["confidence"], ms, detection["bbox"], shown)

    @property
    def label(self) -> str:
        """The label most of its detections give (ties: the first given)."""
        return self.labels.most_common(1)[0][0]

    def summary(self, video: str, below_takeoff_m: float = 0.0) -> dict:
        confidence, ms, box, (taken, size) = self.best
        item = {
            "video": video,
            "label": self.label,
            "first_seen_s": self.first / 1000,
            "last_seen_s": self.last / 1000,
            "frames": self.frames,
            "frame": frame_key(video, ms),
            "confidence": confidence,
            "bbox": box,
        }
        if taken:
            item["taken"] = taken
        pose = CameraPose.of(taken, below_takeoff_m)
        if pose is not None and size and all(is_number(side) and side > 0 for side in size):
            clipped = [min(max(v, 0.0), 1.0) for v in box]
            if ground := box_on_ground(pose, clipped, *size):
                item["ground"] = ground
        return item


def _warp(motion) -> np.ndarray | None:
    """A record's `camera_motion` as a 2x3 array; None when it is absent or not 2 rows of 3 finite numbers."""
    if motion is None:
        return None
    try:
        warp = np.array(motion, dtype=float)
    except (TypeError, ValueError):
        return None
    return warp if warp.shape == (2, 3) and np.isfinite(warp).all() else None


def check_motion(motion, where: str) -> None:
    """Raises ValueError naming `where` when a record's `camera_motion` is there but not 2 rows of 3 finite
    numbers (01 writes it so; absent: not measured)."""
    if motion is not None and (isinstance(motion, str | bytes) or _warp(motion) is None):
        raise ValueError(f"{where}: camera_motion must be 2 rows of 3 finite numbers (or absent), got {motion!r:.80}")
