"""The webdataset export read by the `webdataset` package, as OpenCLIP's and other trainers' loaders read shards.

The tests read the export with `datasets.load_dataset("webdataset", ...)`; OpenCLIP and most trainers read tar
shards with the `webdataset` package itself, which is no dependency of the project, so this runs in an
environment of its own, with the project's `desclm` command called as a program:

    uv venv -p python3.11 /tmp/wdsenv && uv pip install --python /tmp/wdsenv/bin/python webdataset pillow
    /tmp/wdsenv/bin/python docs/measurements/webdataset_read.py --desclm .venv/bin/desclm \\
        --cv data/cv_outputs.jsonl --images data/demo --out docs/measurements/webdataset_read.json

It describes the CV records with the grammar (`desclm synth`), exports them as WebDataset shards twice (as
stored, and with `--max_side 128`), and reads each with `webdataset.WebDataset(...).decode("pil")`, as OpenCLIP's
`get_wds_dataset` does (its images decoded by PIL, without EXIF orientation): every sample must come back once,
its `txt` the description, its `json` the record's detections (label, confidence, box), its photo decoded at the
size the record (or `max_side`) gives, and the shards' `shards.json` must count them.
"""

from __future__ import annotations

import json
import subprocess
import tempfile
from pathlib import Path

from measured import commit, described, export_arguments, records_by_image, save

MAX_SIDE = 128


def _read(folder: Path, records: dict, descriptions: dict, max_side: int) -> dict:
    import webdataset

    shards = sorted(str(path) for path in folder.glob("*.tar"))
    dataset = webdataset.WebDataset(shards, shardshuffle=False).decode("pil").to_tuple("__key__", "jpg", "txt", "json")
    keys, same = [], 0
    for key, image, text, meta in dataset:
        keys.append(key)
        record = records[meta["image"]]
        width, height = record["width"], record["height"]
        if max_side and max(width, height) > max_side:
            scale = max_side / max(width, height)
            width, height = (max(round(width * scale), 1), max(round(height * scale), 1))
        same += (
            text == descriptions[meta["id"]] == meta["description"]
            and meta["detections"] == [{k: d[k] for k in ("label", "confidence", "bbox")} for d in record["detections"]]
            and abs(image.width - width) <= 1
            and abs(image.height - height) <= 1
        )
    listed = json.loads((folder / "shards.json").read_text(encoding="utf-8"))
    return {
        "shards": len(shards),
        "samples_read": len(keys),
        "distinct_keys": len(set(keys)),
        "samples_as_exported": same,
        "samples_listed": sum(shard["samples"] for shard in listed["shards"]),
    }


def main() -> None:
    args = export_arguments(__doc__.split("\n")[0])
    import webdataset

    desclm, cv, images = args.desclm, args.cv, args.images
    records = records_by_image(cv)
    result = {"commit": commit(), "webdataset": webdataset.__version__, "records": len(records)}
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        descriptions = described(desclm, cv, root)
        export = [desclm, "export", "described.jsonl", "--format", "webdataset", "--cv", cv, "--images", images, "-q"]
        for name, extra, max_side in (("as_stored", [], 0), ("max_side", ["--max_side", str(MAX_SIDE)], MAX_SIDE)):
            subprocess.run([*export, *extra, "--output", name], cwd=root, check=True)
            result[name] = _read(root / name, records, descriptions, max_side)
    result["max_side_pixels"] = MAX_SIDE
    save(result, args.out)


if __name__ == "__main__":
    main()
