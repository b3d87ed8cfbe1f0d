"""What reading when and where each photo was taken (`read_exif`, on by default) costs 01: decoding 12 MP
drone-sized JPEGs as extraction decodes them (drafted to a 640-pixel detector's side, and in full), with
and without the EXIF reading, side by side in one run on this machine.

    python docs/measurements/exif_cost.py --out docs/measurements/exif_cost_cpu.json

The photos are generated (smooth fields with grain, as a drone photo of ground compresses) and carry a
camera's EXIF: capture time, UTC offset, GPS position and altitude, 35 mm-equivalent focal length; and a DJI
drone's XMP packet (`DJI_XMP`: its height, gimbal and flight angles, speeds, calibration, as DJI writes
them). Best of `--repeats`, alternating; the EXIF reading is also timed alone (the photo's header opened,
its EXIF read), the surest measure of what it adds, since the decodes' own spread is larger.
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

DJI_XMP = {  # the drone-dji values a DJI Mavic 3's photo carries (its XMP packet, about 2 KB)
    "AbsoluteAltitude": "+452.50",
    "RelativeAltitude": "+40.20",
    "GimbalRollDegree": "+0.00",
    "GimbalYawDegree": "-12.30",
    "GimbalPitchDegree": "-90.00",
    "FlightRollDegree": "+1.20",
    "FlightYawDegree": "-11.90",
    "FlightPitchDegree": "-2.10",
    "FlightXSpeed": "+4.1",
    "FlightYSpeed": "-0.3",
    "FlightZSpeed": "+0.0",
    "CamReverse": "0",
    "GimbalReverse": "0",
    "SelfData": "Undefined",
    "CalibratedFocalLength": "2850.00",
    "CalibratedOpticalCenterX": "2000.00",
    "CalibratedOpticalCenterY": "1500.00",
    "RtkFlag": "0",
    "DewarpFlag": "0",
    "DewarpData": "2026-05-01;2850.0,2850.0,3.5,-2.1,-0.11,0.04,0.0,0.0,-0.01",
}


def _xmp() -> bytes:
    attributes = "".join(f'\n    drone-dji:{name}="{value}"' for name, value in DJI_XMP.items())
    return (
        '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        '<rdf:Description rdf:about="DJI Meta Data" xmlns:tiff="http://ns.adobe.com/tiff/1.0/" '
        'xmlns:exif="http://ns.adobe.com/exif/1.0/" xmlns:xmp="http://ns.adobe.com/xap/1.0/" '
        'xmlns:drone-dji="http://www.dji.com/drone-dji/1.0/" tiff:Make="DJI" xmp:CreateDate="2026-05-01T10:22:31"'
        f"{attributes}></rdf:Description></rdf:RDF></x:xmpmeta>"
    ).encode()


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
        exif[0x8769] = {0x9003: "2026:05:01 10:22:31", 0x9011: "+02:00", 0xA405: 24}
        name = f"DJI_{index:04d}.JPG"
        photo = Image.fromarray(np.clip(field + grain, 0, 255).astype(np.uint8))
        photo.save(folder / name, quality=90, exif=exif, xmp=_xmp())
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
        said = [decode_photo(item, 640, True)[2] for item in items]
        assert all(taken["latitude"] and taken["camera_pitch"] == -90 for taken in said), "each says where and how"
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
