"""Exports of described photos in the formats their users' tools read (`desclm export`).

    desclm export --format hf    described.jsonl --cv cv.jsonl --images photos/ --output out/litter_ds
    desclm export --format llava described.jsonl --images photos/ --output llava.json
    desclm export --format coco  described.jsonl --cv cv.jsonl --output captions_coco.json
    desclm export --format csv   described.jsonl --cv cv.jsonl --output described.csv

Each described row (`desclm describe`'s output: `id`, `description`, `captions` with
`--num_captions`) is joined with the CV record it came from (`--cv`: by the record's `id`, else
its `image`, else its line number, as `describe` names its rows) and with its photo (`--images`:
the folder the records' `image` paths are relative to):

- **hf**: a Hugging Face dataset (`id`, `image` as the `datasets.Image` feature with the photo's
  bytes, `description`, `captions`, `source`, `detections`, `scene`), saved with `save_to_disk`
  (`datasets.load_from_disk(out)`) and as Parquet shards in `out/parquet/`
  (`load_dataset("parquet", data_files="out/parquet/*.parquet")`);
- **llava**: LLaVA-style conversations, one entry per caption (`id`, `image`, `conversations`:
  human `<image>` + `prompt`, gpt the caption);
- **coco**: COCO captions (`images`, `annotations` with `image_id` and `caption`), as
  `pycocotools.coco.COCO` loads them;
- **csv**: one row per photo for spreadsheets (UTF-8 with a byte-order mark, which Excel needs):
  id, image, scene, the counts, source, description, caption_1..k.

A row that cannot be exported (an error row of `describe`, an unreadable line, a record or photo
not found) costs that row: it is listed in `<output>.errors.jsonl` and counted, the rest are
written. Outputs are written atomically and never over an input.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import math
import shutil
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from helpers.core.io import atomic_write_text, iter_jsonl, partial_dir, replace_dir, write_jsonl
from helpers.core.logs import progress
from helpers.core.outputs import check_writes
from helpers.core.records import record_id
from helpers.describer.options import EXPORT_FORMATS as FORMATS
from helpers.describer.options import ExportOptions

logger = logging.getLogger(__name__)

LLAVA_PROMPT = ExportOptions.prompt
PARQUET_SHARD_BYTES = 500 * 2**20  # as `datasets` shards a dataset for the Hub


@dataclass
class ExportRow:
    """One described photo, joined with its CV record."""

    id: object
    captions: list[str]  # the description first
    source: str
    record: dict | None = None  # the CV record (`--cv`), or None
    image: str | None = None  # the record's `image` (relative to the images root), else the row's id

    @property
    def description(self) -> str:
        return self.captions[0]


@dataclass
class Joined:
    """The rows to export and the ones that cannot be, each with why."""

    rows: list[ExportRow] = field(default_factory=list)
    problems: list[dict] = field(default_factory=list)


def _key(value) -> str:
    """A join key: ids compare as their JSON text ("7" and 7 are different ids)."""
    return json.dumps(value, sort_keys=True, ensure_ascii=False)


def join_described(described: Path, cv: Path | None = None) -> Joined:
    """The described rows (and their CV records, with `cv`), in the described file's order."""
    records: dict[str, dict] = {}
    joined = Joined()
    if cv is not None:
        for line in iter_jsonl(cv):
            if line.record is not None:
                records.setdefault(_key(record_id(line.record, line.line_number)), line.record)
    for line in iter_jsonl(described):
        row = line.record
        if row is None:
            joined.problems.append({"line": line.line_number, "error": line.error})
            continue
        if "error" in row or not isinstance(row.get("description"), str):
            why = row.get("error") or "no 'description' (not a row of desclm describe?)"
            joined.problems.append({"line": line.line_number, "id": row.get("id"), "error": f"not described: {why}"})
            continue
        given = [str(c) for c in row["captions"]] if isinstance(row.get("captions"), list) else []
        captions = [row["description"], *(c for c in given if c != row["description"])]  # the description first
        record = records.get(_key(row.get("id"))) if cv is not None else None
        if cv is not None and record is None:
            joined.problems.append(
                {"line": line.line_number, "id": row.get("id"), "error": f"no CV record with this id in {cv}"}
            )
            continue
        image = (record or {}).get("image") or (row["id"] if isinstance(row.get("id"), str) else None)
        joined.rows.append(ExportRow(row.get("id"), captions, row.get("source", ""), record, image))
    return joined


def _photo(row: ExportRow, images: Path | None) -> Path | None:
    return images / row.image if images is not None and row.image else None


def _detections(record: dict | None) -> list[dict]:
    return [
        {
            "label": str(d.get("label")),
            "confidence": float(d.get("confidence")),
            "bbox": [float(v) for v in d["bbox"]] if d.get("bbox") is not None else None,
        }
        for d in (record or {}).get("detections") or []
    ]


def _scene(record: dict | None) -> dict | None:
    scene = (record or {}).get("scene")
    if not isinstance(scene, dict) or scene.get("class") is None:
        return None
    confidence = scene.get("confidence")
    return {"class": str(scene["class"]), "confidence": float(confidence) if confidence is not None else None}


def _hf_features(with_images: bool, with_records: bool):
    from datasets import Features, Image, List, Value

    features = {"id": Value("string")}
    if with_images:
        features["image"] = Image()
    features |= {"description": Value("string"), "captions": List(Value("string")), "source": Value("string")}
    if with_records:
        box = {"label": Value("string"), "confidence": Value("float64"), "bbox": List(Value("float64"))}
        features |= {"detections": List(box), "scene": {"class": Value("string"), "confidence": Value("float64")}}
    return Features(features)


def _hf_examples(rows: tuple[ExportRow, ...], images: Path | None, sink: dict) -> Iterator[dict]:
    problems = sink["problems"]
    for row in progress(rows, desc="export hf", unit="photo"):
        example = {"id": row.id if isinstance(row.id, str) else _key(row.id)}
        if images is not None:
            photo = _photo(row, images)
            try:
                example["image"] = {"bytes": photo.read_bytes(), "path": row.image}
            except (OSError, AttributeError) as error:
                problems.append({"id": row.id, "error": f"photo not read: {photo}: {error}"})
                continue
        example |= {"description": row.description, "captions": row.captions, "source": row.source}
        if row.record is not None:
            try:
                example |= {"detections": _detections(row.record), "scene": _scene(row.record)}
            except (TypeError, ValueError, KeyError) as error:  # a record the describer never took
                problems.append({"id": row.id, "error": f"CV record not readable: {type(error).__name__}: {error}"})
                continue
        yield example


def export_hf(rows: list[ExportRow], output: Path, images: Path | None, problems: list[dict]) -> int:
    """`save_to_disk` into `output`, Parquet shards into `output/parquet`; returns the examples written."""
    from datasets import Dataset

    partial = partial_dir(output)
    features = _hf_features(images is not None, any(row.record is not None for row in rows))
    # Tuples and a dict, not lists: `datasets` splits list arguments into shards of the generator.
    sink: dict[str, list] = {"problems": []}  # filled by the generator (it runs once, in this process)
    dataset = Dataset.from_generator(
        _hf_examples,
        features=features,
        gen_kwargs={"rows": tuple(rows), "images": images, "sink": sink},
        cache_dir=str(partial / ".cache"),
    )
    collected = sink["problems"]
    problems.extend(collected)
    shards = max(1, math.ceil(dataset.data.nbytes / PARQUET_SHARD_BYTES))
    dataset.save_to_disk(str(partial / "dataset"), num_shards=shards)
    (partial / "dataset" / "parquet").mkdir()
    for index in range(shards):
        shard = dataset.shard(shards, index, contiguous=True)
        shard.to_parquet(str(partial / "dataset" / "parquet" / f"train-{index:05d}-of-{shards:05d}.parquet"))
    finished = partial / "dataset"
    del dataset
    replace_dir(finished, output)
    shutil.rmtree(partial, ignore_errors=True)
    return len(rows) - len(collected)


def llava_json(rows: list[ExportRow], prompt: str = LLAVA_PROMPT) -> list[dict]:
    """LLaVA-style entries: one per caption (ids `<id>` for one caption, `<id>-<k>` for more)."""
    entries = []
    for row in rows:
        base = row.id if isinstance(row.id, str) else _key(row.id)
        for index, caption in enumerate(row.captions):
            entries.append(
                {
                    "id": base if len(row.captions) == 1 else f"{base}-{index}",
                    "image": row.image,
                    "conversations": [
                        {"from": "human", "value": f"<image>\n{prompt}"},
                        {"from": "gpt", "value": caption},
                    ],
                }
            )
    return entries


def _size(row: ExportRow, images: Path | None) -> tuple[int, int] | None:
    """(width, height): the CV record's, else read from the photo's header, else None."""
    record = row.record or {}
    if isinstance(record.get("width"), int) and isinstance(record.get("height"), int):
        return record["width"], record["height"]
    photo = _photo(row, images)
    if photo is not None and photo.is_file():
        from PIL import Image

        try:
            with Image.open(photo) as image:
                return image.size
        except OSError:
            return None
    return None


def coco_captions(rows: list[ExportRow], images: Path | None = None) -> dict:
    """COCO captions: an image per photo (ids 1..N in row order, `desclm_id` its row id), an
    annotation per caption."""
    coco_images, annotations = [], []
    for number, row in enumerate(rows, start=1):
        image = {"id": number, "file_name": row.image, "desclm_id": row.id}
        if size := _size(row, images):
            image |= {"width": size[0], "height": size[1]}
        coco_images.append(image)
        for caption in row.captions:
            annotations.append({"id": len(annotations) + 1, "image_id": number, "caption": caption})
    return {
        "info": {"description": "desclm captions", "version": "1.0"},
        "licenses": [],
        "images": coco_images,
        "annotations": annotations,
    }


def _counts(record: dict | None) -> str:
    labels = Counter(str(d.get("label")) for d in (record or {}).get("detections") or [])
    return "; ".join(f"{n} × {label}" for label, n in labels.most_common())


def csv_text(rows: list[ExportRow]) -> str:
    """A spreadsheet of the rows: one photo per row, a column per caption."""
    width = max((len(row.captions) for row in rows), default=1)
    columns = ["id", "image", "scene", "detections", "source", "description"]
    columns += [f"caption_{k}" for k in range(1, width + 1)] if width > 1 else []
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(columns)
    for row in rows:
        scene = _scene(row.record)
        cells = [row.id, row.image or "", scene["class"] if scene else "", _counts(row.record), row.source]
        cells += [row.description] + (row.captions + [""] * (width - len(row.captions)) if width > 1 else [])
        writer.writerow(cells)
    return "\ufeff" + buffer.getvalue()


def errors_path(output: Path) -> Path:
    return output.with_name(f"{output.name}.errors.jsonl")


def export(
    fmt: str,
    described: Path,
    output: Path,
    cv: Path | None = None,
    images: Path | None = None,
    prompt: str = LLAVA_PROMPT,
) -> dict:
    """Writes one export (see the module docstring); returns its counts.

    Returns:
        {"format", "rows", "exported", "problems", "output"}; problems are also written to
        `<output>.errors.jsonl` (an old one is removed when there are none).

    Raises:
        ValueError: An unknown format, an output over an input (or a folder holding one), or an
            output folder/file of the wrong kind; checked before any work.
    """
    if fmt not in FORMATS:
        raise ValueError(f"unknown export format {fmt!r}: one of {', '.join(FORMATS)}")
    inputs = [path for path in (described, cv) if path is not None]
    errors = errors_path(output)
    if fmt == "hf":
        if output.exists() and not output.is_dir():
            raise ValueError(f"{output} is a file: the hf export writes a folder")
        inside = [p for p in inputs + ([images] if images else []) if p.resolve().is_relative_to(output.resolve())]
        if inside:
            raise ValueError(
                f"{output} holds the input {inside[0]}: the export would replace it; choose another folder"
            )
        check_writes([errors], inputs)
    else:
        check_writes([output, errors], inputs)
    joined = join_described(described, cv)
    problems = list(joined.problems)
    if fmt == "hf":
        exported = export_hf(joined.rows, output, images, problems)
    elif fmt == "llava":
        atomic_write_text(output, json.dumps(llava_json(joined.rows, prompt), ensure_ascii=False, indent=1) + "\n")
        exported = len(joined.rows)
    elif fmt == "coco":
        atomic_write_text(output, json.dumps(coco_captions(joined.rows, images), ensure_ascii=False) + "\n")
        exported = len(joined.rows)
    else:
        atomic_write_text(output, csv_text(joined.rows))
        exported = len(joined.rows)
    if problems:
        write_jsonl(errors, problems)
        logger.warning("%d rows not exported: %s lists them", len(problems), errors)
    elif errors.exists():
        errors.unlink()
    logger.info("%s export: %d photos written to %s", fmt, exported, output)
    rows = len(joined.rows) + len(joined.problems)
    return {"format": fmt, "rows": rows, "exported": exported, "problems": len(problems), "output": str(output)}
