"""Reading COCO JSON for `desclm check`: numbers as Decimal then float vs the C parser's floats, side by side.

    python docs/measurements/check_json_numbers.py --out docs/measurements/check_json_numbers_cpu.json

With `use_float=True` ijson's C parser stops the read at an integer beyond 64 bits or a float beyond
a double's range; with numbers as Decimal, each turned into a float after (`_with_floats`), it reads
them. `helpers.describer.check._json_items` reads with the floats, and again with Decimals only where
that read stopped. This times both ways, each as `_json_items` gives its items, over the same
generated COCO files (captions only, as COCO captions files are; and with a box, area and score of
floats per annotation), best of `--repeats`, taking turns; both must give the same items.
"""

from __future__ import annotations

import argparse
import json
import random
import tempfile
import time
from pathlib import Path

import ijson
from measured import commit, save

from helpers.describer.check import _with_floats


def coco(path: Path, annotations: int, boxes: bool, seed: int = 0) -> None:
    rng = random.Random(seed)
    images = [{"id": i, "file_name": f"site/{i:07d}.jpg", "width": 4000, "height": 3000} for i in range(annotations)]
    rows = []
    for i in range(annotations):
        row = {"id": i, "image_id": i, "caption": f"{rng.randint(1, 9)} plastic items lie on the grass."}
        if boxes:
            row |= {
                "bbox": [rng.uniform(0, 4000) for _ in range(4)],
                "area": rng.uniform(0, 1e6),
                "score": rng.random(),
            }
        rows.append(row)
    path.write_text(json.dumps({"images": images, "annotations": rows}))


def items(path: Path, prefix: str, use_float: bool):
    """`_json_items`' loop, one way."""
    with path.open("rb") as file:
        for number, item in enumerate(ijson.items(file, prefix, use_float=use_float), start=1):
            yield f"annotation {number}", number, item if use_float else _with_floats(item)


def floats_read(path: Path, prefix: str) -> list:
    return [item for _, _, item in items(path, prefix, use_float=True)]


def decimals_read(path: Path, prefix: str) -> list:
    return [item for _, _, item in items(path, prefix, use_float=False)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--annotations", type=int, default=200_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    ways = {"C parser floats": floats_read, "Decimal then float": decimals_read}
    result = {
        "what": "reading a COCO file's annotations as desclm check does, this CPU (one process)",
        "commit": commit(),
        "annotations": args.annotations,
        "repeats": args.repeats,
        "ijson_backend": ijson.backend,
        "files": {},
    }
    with tempfile.TemporaryDirectory() as work:
        for boxes in (False, True):
            path = Path(work) / f"coco_{boxes}.json"
            coco(path, args.annotations, boxes)
            best, items = dict.fromkeys(ways, float("inf")), {}
            for _ in range(args.repeats):
                for name, read in ways.items():
                    started = time.perf_counter()
                    items[name] = read(path, "annotations.item")
                    best[name] = min(best[name], time.perf_counter() - started)
            before, now = items.values()
            if before != now:
                raise RuntimeError("the two ways read other items")
            rates = {name: args.annotations / seconds for name, seconds in best.items()}
            result["files"]["captions with box, area and score floats" if boxes else "captions only"] = {
                "megabytes": round(path.stat().st_size / 2**20, 1),
                "annotations_per_second": {name: round(rate) for name, rate in rates.items()},
                "decimals_vs_floats": round(rates["Decimal then float"] / rates["C parser floats"], 3),
            }
    save(result, args.out)


if __name__ == "__main__":
    main()
