"""What `desclm export --max_side` costs and saves: an hf export of 12 MP drone-sized JPEGs as stored, shrunk to a
768-pixel longer side in this process, and shrunk on worker processes, side by side in one run on this machine.

    python docs/measurements/export_photos.py --out docs/measurements/export_photos_cpu.json

The photos are `exif_cost.py`'s (smooth fields with grain, as a drone photo of ground compresses, with a camera's
EXIF and a DJI drone's XMP). Each export is a fresh folder (best of `--repeats`, alternating); the photos' bytes
are those the dataset's `image` column holds.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from pathlib import Path

from exif_cost import _photos
from measured import commit, save

from helpers.core.device import cpu_cores
from helpers.core.photo_rewrite import PhotoRewrite
from helpers.describer.exports import export


def _image_bytes(folder: Path) -> int:
    import pyarrow.parquet as pq

    table = pq.read_table(folder / "parquet", columns=["image"])
    return sum(len(image["bytes"]) for image in table.column("image").to_pylist())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--photos", type=int, default=48)
    parser.add_argument("--max_side", type=int, default=768)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    workers = cpu_cores()
    ways = {
        "as stored": (PhotoRewrite(), 0),
        f"max_side {args.max_side}, in this process": (PhotoRewrite(max_side=args.max_side), 0),
        f"max_side {args.max_side}, {workers} workers": (PhotoRewrite(max_side=args.max_side), workers),
    }
    with tempfile.TemporaryDirectory() as work:
        work = Path(work)
        (work / "photos").mkdir()
        items = _photos(work / "photos", args.photos, (4000, 3000), args.seed)
        rows = "".join(json.dumps({"id": item.key, "description": "No litter."}) + "\n" for item in items)
        (work / "described.jsonl").write_text(rows)
        best, sizes = {}, {}
        for _ in range(args.repeats):
            for name, (rewrite, processes) in ways.items():
                shutil.rmtree(work / "out", ignore_errors=True)
                start = time.perf_counter()
                counts = export(
                    "hf",
                    work / "described.jsonl",
                    work / "out",
                    images=work / "photos",
                    rewrite=rewrite,
                    workers=processes,
                )
                best[name] = min(best.get(name, float("inf")), time.perf_counter() - start)
                assert counts["exported"] == args.photos, counts
                sizes[name] = _image_bytes(work / "out") / args.photos
    names = list(ways)
    result = {
        "what": "desclm export --format hf of generated 4000x3000 JPEGs (exif_cost.py's), this CPU",
        "commit": commit(),
        "cpu_cores": workers,
        "photos": args.photos,
        "repeats": args.repeats,
        "photos_per_second": {name: round(args.photos / seconds, 2) for name, seconds in best.items()},
        "megabytes_per_photo": {name: round(size / 1e6, 3) for name, size in sizes.items()},
        "shrunk_over_as_stored_time": round(best[names[1]] / best[names[0]], 2),
        "workers_over_this_process_speed": round(best[names[1]] / best[names[2]], 2),
        "shrunk_over_as_stored_bytes": round(sizes[names[1]] / sizes[names[0]], 4),
    }
    save(result, args.out)


if __name__ == "__main__":
    main()
