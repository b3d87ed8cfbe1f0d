"""How the camera moved between two listed frames of a video, measured from their pixels: what lets the
roll-up follow an item across a moving drone's frames (`helpers.describer.video_items`), where boxes
alone lose it (`docs/measurements/video_items_sim.json`).

    camera_motion(video, 12500, frame, step_ms=500, min_side=640)   # [[1.0, 0.0, -0.0213], [0.0, 1.0, 0.0011]]

The motion is the affine map (rotation, uniform scale, shift: the camera turning, climbing, moving) from
the frame listed before (`step_ms` earlier) to this one, in the records' normalised coordinates (x in
frame widths, y in frame heights): a point of the earlier frame at (x, y) is at (a x + b y + c, d x + e
y + f) in this one. It is measured as Ultralytics' BoT-SORT measures it (its GMC "sparseOptFlow"):
corners found in a grey copy of the earlier frame (`MOTION_WIDTH` wide), followed into this frame by
pyramidal Lucas-Kanade optical flow (starting from the whole frame's shift, found by phase correlation,
so far moves are followed; from where the corners were when that fails, as when the camera turns), the
map fitted to them with RANSAC (OpenCV), so items that move themselves (an animal, a blown bag) do not
count. None where it cannot be measured: the first frame,
a surface without texture (calm water, fresh snow, sky), a cut.

The frame before is decoded as it is for its own record (`decode_frame`, the same pixels), unless its
grey copy is still kept (`FRAMES_KEPT`): a video's frames decoded in order cost one decoding each, and
the motion is the same whichever thread read which frame.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from pathlib import Path

import numpy as np
from PIL import Image

from helpers.core.video_frames import decode_frame

MOTION_WIDTH = 480  # frames are compared as grey copies this wide
FRAMES_KEPT = 64  # grey copies kept for the frame after (a run's next frame, another thread's)
# fewer corners, farther apart, than Ultralytics' GMC finds (1000, 1 pixel): as accurate here, and faster
CORNERS = {"maxCorners": 200, "qualityLevel": 0.01, "minDistance": 8, "blockSize": 3}
FLOW = {"winSize": (21, 21), "maxLevel": 3}
LEAST_POINTS = 12  # fewer corners followed, or agreeing, than this: the motion is not measured
AGREEING = 0.5  # nor when fewer than this share of the corners followed agree on one motion
DECIMALS = 6  # a motion's numbers in the record

_KEPT: OrderedDict[tuple[str, int, int], np.ndarray] = OrderedDict()  # (video, milliseconds, min_side): grey
_LOCK = threading.Lock()


def camera_motion(
    video: Path, milliseconds: int, image: Image.Image, step_ms: int, min_side: int = 0
) -> list[list[float]] | None:
    """The camera's motion from the frame `step_ms` before to this one (`image`: the frame shown at
    `milliseconds`, as `decode_frame` gave it with `min_side`), normalised; None where not measured
    (see the module docstring).

    Raises:
        av.error.FFmpegError, OSError, ValueError: The frame before cannot be decoded.
    """
    this = _keep((str(video), milliseconds, min_side), grey_copy(image))
    if milliseconds < step_ms or step_ms <= 0:
        return None
    earlier = (str(video), milliseconds - step_ms, min_side)
    with _LOCK:
        before = _KEPT.get(earlier)
    if before is None:
        before = _keep(earlier, grey_copy(decode_frame(video, milliseconds - step_ms, min_side)[0]))
    return measured_motion(before, this)


def grey_copy(image: Image.Image) -> np.ndarray:
    """The frame in grey, `MOTION_WIDTH` wide (its aspect kept)."""
    grey = image.convert("L")
    if (factor := grey.width // MOTION_WIDTH) > 1:
        grey = grey.reduce(factor)  # whole-pixel blocks averaged first: several times faster than resizing
    height = max(1, round(image.height * MOTION_WIDTH / image.width))
    return np.asarray(grey.resize((MOTION_WIDTH, height), Image.Resampling.BILINEAR))


def measured_motion(before: np.ndarray, after: np.ndarray) -> list[list[float]] | None:
    """The affine map (rotation, uniform scale, shift) from grey frame `before` to `after` (the same size),
    normalised to their width and height; None when too few corners follow or agree."""
    import cv2

    corners = cv2.goodFeaturesToTrack(before, mask=None, **CORNERS)
    if corners is None or len(corners) < LEAST_POINTS:
        return None
    # the shift of the whole frame first (phase correlation), for the flow to start from: far moves are
    # followed so; when the camera turns the shift misleads, and the flow starts from where the corners were
    (dx, dy), _ = cv2.phaseCorrelate(before.astype(np.float32), after.astype(np.float32))
    for guess in (corners + np.array([dx, dy], dtype=np.float32), None):
        flags = cv2.OPTFLOW_USE_INITIAL_FLOW if guess is not None else 0
        followed, found, _ = cv2.calcOpticalFlowPyrLK(before, after, corners, guess, flags=flags, **FLOW)
        found = found.ravel() == 1
        if found.sum() < LEAST_POINTS:
            continue
        matrix, agreeing = cv2.estimateAffinePartial2D(corners[found], followed[found], method=cv2.RANSAC)
        if matrix is not None and agreeing is not None and agreeing.sum() >= max(LEAST_POINTS, AGREEING * found.sum()):
            break
    else:
        return None
    height, width = before.shape
    scale = np.array([[1, height / width, 1 / width], [width / height, 1, 1 / height]])
    return (np.round(matrix * scale, DECIMALS) + 0.0).tolist()  # + 0.0: no -0.0 in the record


def _keep(key: tuple[str, int, int], grey: np.ndarray) -> np.ndarray:
    with _LOCK:
        _KEPT[key] = grey
        _KEPT.move_to_end(key)
        while len(_KEPT) > FRAMES_KEPT:
            _KEPT.popitem(last=False)
    return grey
