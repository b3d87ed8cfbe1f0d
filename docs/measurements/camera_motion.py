"""How well and at what cost 01 measures a video's camera motion between listed frames
(`helpers.core.camera_motion`, the `camera_motion` of each frame's record): generated 1920x1080 H.264
flights over textured ground (a keyframe a second), the camera panning, turning and climbing at known
rates, so the true motion between any two frames is known; each listed frame read as 01 reads them
(`decode_batches`), its measured motion against the truth (the largest difference of the six numbers,
in frame sizes); and the time of decoding each listed frame alone (`decode_photo`, what 01 did before)
beside decoding it with its motion (`decode_item`), in order on one thread, side by side.

    python docs/measurements/camera_motion.py --out docs/measurements/camera_motion_cpu.json

The ground is noise at several scales (grass and gravel from above). Frames are drafted for a 640-pixel
model as 01 drafts them (1920x1080 converted at 960x540).
"""

from __future__ import annotations

import argparse
import math
import tempfile
import time
from fractions import Fraction
from functools import partial
from pathlib import Path

import av
import numpy as np
from measured import commit, save
from PIL import Image

from helpers.core import camera_motion
from helpers.core.video_frames import close_videos
from helpers.cv.batch import decode_batches, decode_item
from helpers.cv.sources import decode_photo, open_image_source

SIZE = (1920, 1080)
RATE = 30
SECONDS = 10
MODEL_SIDE = 640
# (name, pan in frame widths a second, turn in degrees a second, climb: scale change a second)
FLIGHTS = (
    ("still", 0.0, 0.0, 0.0),
    ("pan 0.05/s", 0.05, 0.0, 0.0),
    ("pan 0.1/s (5 m/s at 30 m)", 0.1, 0.0, 0.0),
    ("pan 0.2/s", 0.2, 0.0, 0.0),
    ("pan 0.1/s, turn 5 deg/s", 0.1, 5.0, 0.0),
    ("pan 0.1/s, climb 2%/s", 0.1, 0.0, 0.02),
)
INTERVALS = (0.2, 0.5, 1.0)


def _ground(width: int, height: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    ground = np.zeros((height, width), dtype=np.float32)
    for scale in (2, 4, 8, 16, 32, 64, 128):
        coarse = Image.fromarray((rng.random((height // scale + 2, width // scale + 2)) * 255).astype(np.uint8))
        resized = coarse.resize((width + 2 * scale, height + 2 * scale), Image.BICUBIC)
        ground += np.asarray(resized, dtype=np.float32)[:height, :width] * math.sqrt(scale)
    ground = (ground - ground.min()) / (ground.max() - ground.min()) * 255
    return np.repeat(ground[..., None], 3, axis=2).astype(np.uint8)


def _camera(seconds: float, pan: float, turn: float, climb: float) -> np.ndarray:
    """The 3x3 map from ground pixels to the frame's pixels at `seconds`."""
    width, height = SIZE
    angle = math.radians(turn * seconds)
    scale = 1 / (1 + climb * seconds)  # climbing: the ground looks smaller
    centre = np.array([width, 1.5 * height]) + [pan * width * seconds, 0]  # where the camera looks on the ground
    cos, sin = math.cos(angle) * scale, math.sin(angle) * scale
    rotate = np.array([[cos, sin, 0], [-sin, cos, 0], [0, 0, 1]])
    to_centre = np.array([[1, 0, -centre[0]], [0, 1, -centre[1]], [0, 0, 1]])
    to_frame = np.array([[1, 0, width / 2], [0, 1, height / 2], [0, 0, 1]])
    return to_frame @ rotate @ to_centre


def _flight(path: Path, ground: Image.Image, pan: float, turn: float, climb: float) -> Path:
    with av.open(str(path), "w") as video:
        stream = video.add_stream("libx264", rate=Fraction(RATE), options={"g": str(RATE)})
        stream.width, stream.height, stream.pix_fmt = *SIZE, "yuv420p"
        for index in range(SECONDS * RATE):
            from_frame = np.linalg.inv(_camera(index / RATE, pan, turn, climb))  # PIL maps output to input
            view = ground.transform(SIZE, Image.Transform.AFFINE, tuple(from_frame[:2].ravel()), Image.BILINEAR)
            video.mux(stream.encode(av.VideoFrame.from_ndarray(np.asarray(view), format="rgb24")))
        video.mux(stream.encode())
    return path


def _true_motion(seconds: float, interval: float, pan: float, turn: float, climb: float) -> np.ndarray:
    """The normalised map from the frame `interval` before to the frame at `seconds`."""
    pixels = _camera(seconds, pan, turn, climb) @ np.linalg.inv(_camera(seconds - interval, pan, turn, climb))
    width, height = SIZE
    normalise = np.diag([1 / width, 1 / height, 1])
    return (normalise @ pixels @ np.linalg.inv(normalise))[:2]


def _timed(items, load) -> float:
    started = time.perf_counter()
    for item in items:
        load(item)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    ground = Image.fromarray(_ground(SIZE[0] * 4, SIZE[1] * 3, args.seed))
    flights = []
    with tempfile.TemporaryDirectory() as folder:
        for number, (name, pan, turn, climb) in enumerate(FLIGHTS):
            video = _flight(Path(folder) / f"{number}.mp4", ground, pan, turn, climb)
            for interval in INTERVALS:
                camera_motion._KEPT.clear()
                close_videos()
                items = list(open_image_source(str(video), video_interval=interval).items)
                decoded = [d for batch in decode_batches(items, 16, 2, MODEL_SIDE, False, interval) for d in batch]
                errors, unmeasured = [], 0
                for frame in decoded[1:]:
                    seconds = frame.item.row / 1000
                    if frame.motion is None:
                        unmeasured += 1
                        continue
                    truth = _true_motion(seconds, interval, pan, turn, climb)
                    errors.append(float(np.abs(np.array(frame.motion) - truth).max()))
                flights.append(
                    {
                        "flight": name,
                        "interval_s": interval,
                        "frames": len(decoded) - 1,
                        "not_measured": unmeasured,
                        "error_max": round(max(errors, default=float("nan")), 6),
                        "error_median": round(float(np.median(errors)) if errors else float("nan"), 6),
                    }
                )
                print(flights[-1])
        # cost: each listed frame of the 0.1/s pan decoded alone, then with its motion; in order, one thread
        video = Path(folder) / "2.mp4"  # FLIGHTS[2]
        costs = {}
        for interval in INTERVALS:
            items = list(open_image_source(str(video), video_interval=interval).items)
            alone, with_motion = [], []
            for _ in range(3):  # best of three, alternating
                close_videos()
                alone.append(_timed(items, partial(decode_photo, min_side=MODEL_SIDE)))
                close_videos()
                camera_motion._KEPT.clear()
                with_motion.append(_timed(items, partial(decode_item, min_side=MODEL_SIDE, video_interval=interval)))
            costs[str(interval)] = {
                "frames": len(items),
                "decode_ms_per_frame": round(1000 * min(alone) / len(items), 2),
                "decode_and_motion_ms_per_frame": round(1000 * min(with_motion) / len(items), 2),
                "ratio": round(min(with_motion) / min(alone), 3),
            }
            print(interval, costs[str(interval)])
    result = {
        "what": "01's camera_motion against the true motion of generated flights, and what measuring it costs",
        "commit": commit(),
        "size": list(SIZE),
        "frame_rate": RATE,
        "model_side": MODEL_SIDE,
        "flights": flights,
        "cost_pan_0.1": costs,
    }
    save(result, args.out)


if __name__ == "__main__":
    main()
