"""What reading a video's frames costs 01, side by side in one run on this machine: each listed frame
read as 01 lists and decodes them (`decode_batches` with one thread per core, each thread decoding on
through a run of frames), the same frames read in order by one thread, the same frames each sought on
its own (a fresh reader per frame: from the keyframe before it), and every frame of the video decoded
in order, none converted (with the cores FFmpeg's decoder used meanwhile); a decoded frame converted to
an RGB image by PyAV's `to_image` and as 01 does (the same pixels, checked); and a 3840x2160 clip's
frames converted in full or drafted for a 640-pixel model (at half size, as a JPEG is drafted).

    python docs/measurements/video_frames.py --out docs/measurements/video_frames_cpu.json

The clip is generated: 1920x1080 H.264 at 30 frames a second, a keyframe a second (as drones and phones
write), B-frames, moving textured ground. Best of `--repeats`, alternating.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import av
import numpy as np
from measured import commit, drone_clip, save
from PIL import Image

from helpers.core.video_frames import close_videos, read_frame
from helpers.cv.batch import decode_batches
from helpers.cv.sources import open_image_source

CONVERSIONS = {
    "to_image": lambda frame: frame.to_image(),  # PyAV's
    "Image.fromarray(to_ndarray)": lambda frame: Image.fromarray(frame.to_ndarray(format="rgb24")),  # 01's
}
UHD_MODEL_SIDE = 640  # a detector's input: a 4K frame is converted at 1920x1080 for it


def _every_frame(path: Path) -> int:
    """Decodes every frame in order (none converted): the frames counted."""
    with av.open(str(path)) as container:
        return sum(1 for _ in container.decode(video=0))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--intervals", type=float, nargs="+", default=[1.0, 0.2])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--uhd_seconds", type=int, default=4, help="the 3840x2160 clip's length")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    threads = os.cpu_count() or 1
    results: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as folder:
        clip = drone_clip(Path(folder) / "flight.mp4", args.seconds, args.seed)
        uhd = drone_clip(Path(folder) / "flight_4k.mp4", args.uhd_seconds, args.seed, (3840, 2160))
        uhd_items = open_image_source(uhd, video_interval=1.0).items
        with av.open(str(clip)) as container:
            sample = [frame for _, frame in zip(range(30), container.decode(video=0))]
        assert all(np.array_equal(np.asarray(frame.to_image()), frame.to_ndarray(format="rgb24")) for frame in sample)
        best: dict[str, float] = {}
        frames = 0
        for _ in range(args.repeats):
            for interval in args.intervals:
                items = open_image_source(clip, video_interval=interval).items
                for name in ("as 01 reads them", "one thread, in order", "each sought"):
                    close_videos()  # no video left open from the last way
                    start = time.perf_counter()
                    if name == "as 01 reads them":
                        decoded = [
                            one for batch in decode_batches(items, 16, threads) for one in batch if not one.error
                        ]
                        assert len(decoded) == len(items)
                    else:
                        for item in items:
                            if name == "each sought":
                                close_videos()  # a fresh reader: the frame sought
                            read_frame(clip, item.row)
                    key = f"every {interval:g} s, {name}"
                    best[key] = min(best.get(key, float("inf")), (time.perf_counter() - start) / len(items))
            for min_side in (0, UHD_MODEL_SIDE):  # a 4K clip, every second, for a 640-pixel model: drafted or not
                close_videos()
                start = time.perf_counter()
                decoded = [one for batch in decode_batches(uhd_items, 16, threads, min_side) for one in batch]
                assert all(not one.error and one.size == (3840, 2160) for one in decoded)
                key = f"3840x2160 every 1 s, as 01 reads them, {'drafted' if min_side else 'in full'}"
                best[key] = min(best.get(key, float("inf")), (time.perf_counter() - start) / len(uhd_items))
            for name, convert in CONVERSIONS.items():  # a decoded 1080p frame to an RGB image, both ways
                start = time.perf_counter()
                for frame in sample:
                    convert(frame)
                key = f"1920x1080 frame converted, {name}"
                best[key] = min(best.get(key, float("inf")), (time.perf_counter() - start) / len(sample))
            start, cpu = time.perf_counter(), time.process_time()
            frames = _every_frame(clip)
            wall = time.perf_counter() - start
            cores_used = (time.process_time() - cpu) / wall  # FFmpeg's own decoding threads, in this one call
            best["every frame decoded in order"] = min(
                best.get("every frame decoded in order", float("inf")), wall / frames
            )
    per_frame = {name: seconds * 1000 for name, seconds in best.items()}
    for interval in args.intervals:
        results[f"{interval:g}"] = {
            "sought_over_as_01_reads": per_frame[f"every {interval:g} s, each sought"]
            / per_frame[f"every {interval:g} s, as 01 reads them"],
            "as_01_reads_over_every_frame_of_the_clip": per_frame[f"every {interval:g} s, as 01 reads them"]
            * (args.seconds / interval)
            / (per_frame["every frame decoded in order"] * frames),
        }
    save(
        {
            "commit": commit(),
            "clip": {
                "size": [1920, 1080],
                "rate": 30,
                "seconds": args.seconds,
                "keyframe_every_s": 1,
                "frames": frames,
            },
            "threads": threads,
            "decoder_cores_used": cores_used,  # the last repeat's: CPU time over wall time, one thread decoding
            "conversion_to_image_over_01s": per_frame["1920x1080 frame converted, to_image"]
            / per_frame["1920x1080 frame converted, Image.fromarray(to_ndarray)"],
            "uhd_clip_seconds": args.uhd_seconds,
            "uhd_in_full_over_drafted": per_frame["3840x2160 every 1 s, as 01 reads them, in full"]
            / per_frame["3840x2160 every 1 s, as 01 reads them, drafted"],
            "repeats": args.repeats,
            "milliseconds_per_listed_frame": per_frame,
            "by_interval": results,
        },
        args.out,
    )


if __name__ == "__main__":
    main()
