"""What reading when and where each photo was taken (`read_exif`, on by default) costs 01: decoding 12 MP
drone-sized JPEGs as extraction decodes them (drafted to a 640-pixel detector's side, and in full), with
and without the EXIF reading, side by side in one run on this machine.

    python docs/measurements/exif_cost.py --out docs/measurements/exif_cost_cpu.json

The photos are generated (smooth fields with grain, as a drone photo of ground compresses) and carry a
camera's EXIF: capture time, UTC offset, GPS position and altitude. Best of `--repeats`, alternating; the
EXIF reading is also timed alone (the photo's header opened, its EXIF read), the surest measure of what
it adds, since the decodes' own spread is larger.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
from measured import commit, save
from PIL import Image

from helpers.cv.exif import photo_taken
from helpers.cv.sources import ImageItem, decode_photo


def _photos(folder: Path, count: int, size: tuple[int, int], seed: int) -> list[ImageItem]:
    rng = np.random.default_rng(seed)
    width, height = size
    items = []
    for index in range(count):
        coarse = rng.integers(0, 255, (height // 100, width // 100, 3), dtype=np.uint8)
        field = np.asarray(Image.fromarray(coarse).resize(size, Image.Resampling.BILINEAR), dtype=np.int16)
        grain = rng.integers(-12, 13, (height, width, 3), dtype=np.int16)
        exif = Image.Exif()
        exif[0x8825] = {1: "N", 2: (47.0, 22.0, 30.5 + index), 3: "E", 4: (8.0, 32.0, 10.25), 5: b"\x00", 6: 412.5}
        exif[0x8769] = {0x9003: "2026:05:01 10:22:31", 0x9011: "+02:00"}
        name = f"DJI_{index:04d}.JPG"
        Image.fromarray(np.clip(field + grain, 0, 255).astype(np.uint8)).save(folder / name, quality=90, exif=exif)
        items.append(ImageItem(folder, name, None))
    return items


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--photos", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    size = (4000, 3000)
    with tempfile.TemporaryDirectory() as folder:
        items = _photos(Path(folder), args.photos, size, args.seed)
        assert all(decode_photo(item, 640, True)[2]["latitude"] for item in items), "each photo says where"
        best: dict[str, float] = {}
        for _ in range(args.repeats):
            for side, decode in (("drafted to 640", 640), ("full", 0)):
                for taken in (False, True):
                    name = f"{side}, {'with' if taken else 'without'} EXIF"
                    start = time.perf_counter()
                    for item in items:
                        decode_photo(item, decode, taken)
                    best[name] = min(best.get(name, float("inf")), time.perf_counter() - start)
            start = time.perf_counter()  # the reading alone: the photo opened (its header), its EXIF read
            for item in items:
                with Image.open(item.path) as image:
                    photo_taken(image)
            best["EXIF read alone"] = min(best.get("EXIF read alone", float("inf")), time.perf_counter() - start)
    per_photo = {name: seconds / args.photos * 1000 for name, seconds in best.items()}
    result = {
        "commit": commit(),
        "photos": args.photos,
        "size": list(size),
        "repeats": args.repeats,
        "milliseconds_per_photo": per_photo,
        "with_over_without": {
            side: per_photo[f"{side}, with EXIF"] / per_photo[f"{side}, without EXIF"]
            for side in ("drafted to 640", "full")
        },
        # the reading alone against the cheapest decode: what it can add at most
        "read_alone_over_drafted_decode": per_photo["EXIF read alone"] / per_photo["drafted to 640, without EXIF"],
    }
    save(result, args.out)


if __name__ == "__main__":
    main()
