"""CV records and descriptions made inside `datasets.Dataset.map` against `desclm extract` and `desclm describe`
over the same photos, side by side in one run: the seconds each takes and whether they agree.

    python docs/measurements/dataset_map.py --out docs/measurements/dataset_map_demo_cpu.json

Needs make demo's photos, CV models and describer (data/demo, models/demo, models/description_llm). Takes the
first `--photos` of the demo's train photos; extraction with the demo's settings (batch 16), the map without
its cache (`keep_in_memory`), the photo column decoded by datasets as `load_dataset("imagefolder")` gives it
(the map reads it undecoded: `with_cv_columns`). Each engine runs `--repeats` times, alternating, after one
warm-up of each; the fastest run counts. The records compared: each photo's detections and scene; the
descriptions: each of `desclm describe`'s lines (of the same records, `detections` and `scene`) against the row's.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from datasets import Dataset, Features, Image

from helpers.cv.config import ExtractConfig
from helpers.cv.dataset_map import with_cv_columns
from helpers.cv.extract import run_extraction
from helpers.describer.dataset_map import with_descriptions
from helpers.describer.describe import Describer

MODELS = Path("models/demo")
SETTINGS = {
    "yolo_weights": str(MODELS / "yolo_detector.pt"),
    "hf_model": str(MODELS / "rtdetr"),
    "scene_weights": str(MODELS / "scene_classifier.pt"),
    "ensemble_weights_file": str(MODELS / "ensemble.json"),
    "batch_size": 16,
}


def _extract(files: list[Path], folder: Path) -> tuple[float, dict]:
    listing, output = folder / "photos.txt", folder / "cv.jsonl"
    listing.write_text("".join(f"{file}\n" for file in files))
    for path in folder.glob("cv*"):
        path.unlink()
    started = time.perf_counter()
    run_extraction(ExtractConfig(images=str(listing), output=str(output), **SETTINGS))
    seconds = time.perf_counter() - started
    records = [json.loads(line) for line in output.read_text().splitlines()]
    return seconds, {record["image"]: record for record in records}


def _mapped(files: list[Path]) -> tuple[float, Dataset]:
    photos = Dataset.from_dict({"image": [str(file) for file in files]}, features=Features(image=Image()))
    started = time.perf_counter()
    mapped = with_cv_columns(photos, map_arguments={"keep_in_memory": True}, **SETTINGS)
    return time.perf_counter() - started, mapped.remove_columns("image")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=int, default=160)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--describer", default="models/description_llm")
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    files = sorted(Path("data/demo/train/images").resolve().glob("*.jpg"))[: args.photos]
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        extract_seconds, map_seconds = [], []
        for _repeat in range(args.repeats + 1):  # the first of each a warm-up
            seconds, records = _extract(files, folder)
            extract_seconds.append(seconds)
            seconds, mapped = _mapped(files)
            map_seconds.append(seconds)
        rows = mapped.to_list()
        by_name = [records[str(file)] for file in files]
        same_records = sum(
            row["detections"] == record["detections"] and row["scene"] == record["scene"]
            for row, record in zip(rows, by_name, strict=True)
        )

        describer = Describer.load(args.describer)
        cv_records = [{"detections": r["detections"], "scene": r["scene"]} for r in by_name]
        api_seconds, map_describe_seconds = [], []
        for _repeat in range(args.repeats + 1):
            started = time.perf_counter()
            described = describer.describe_all(cv_records)
            api_seconds.append(time.perf_counter() - started)
            started = time.perf_counter()
            columns = with_descriptions(mapped, args.describer, map_arguments={"keep_in_memory": True})
            map_describe_seconds.append(time.perf_counter() - started)
        same_sentences = sum(
            row["description"] == result.text and row["description_source"] == result.source
            for row, result in zip(columns.to_list(), described, strict=True)
        )
    best = {
        name: min(times[1:])
        for name, times in {
            "extract": extract_seconds,
            "extract_map": map_seconds,
            "describe": api_seconds,
            "describe_map": map_describe_seconds,
        }.items()
    }
    result = {
        "photos": len(files),
        "settings": SETTINGS,
        "repeats": args.repeats,
        "seconds": {"extract": extract_seconds, "extract_map": map_seconds},
        "describe_seconds": {"describe_all": api_seconds, "describe_map": map_describe_seconds},
        "photos_per_second": {name: round(len(files) / seconds, 2) for name, seconds in best.items()},
        "map_over_extract": round(best["extract"] / best["extract_map"], 3),
        "map_over_describe_all": round(best["describe"] / best["describe_map"], 3),
        "same_records": same_records,
        "same_sentences": same_sentences,
    }
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(
        json.dumps(
            {
                k: result[k]
                for k in (
                    "photos_per_second",
                    "map_over_extract",
                    "map_over_describe_all",
                    "same_records",
                    "same_sentences",
                )
            }
        )
    )


if __name__ == "__main__":
    main()
