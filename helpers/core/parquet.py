"""JSONL outputs as Parquet (`--format parquet`), for Ray Data, pandas, Spark and `datasets` to read.

The JSONL stays the output every run writes and resumes; once it is complete, `write_parquet`
streams it into `<stem>.parquet` beside it (row groups of `ROWS_PER_GROUP`, written atomically).
Columns: the CV contract's fields keep their nested types (`detections` a list of
{label, confidence, bbox, sources}, `scene` {class, confidence}), as do the describer's
(`description`, `source`, `captions`, ...). A column whose values all are text is text; any
other column, or a known one where a value does not fit its type, holds each value as JSON
text, so that nothing is dropped or changed: `json.loads` gives the value back.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from helpers.core.io import iter_jsonl

ROWS_PER_GROUP = 10_000
DETECTION = pa.struct(
    [
        ("label", pa.string()),
        ("confidence", pa.float64()),
        ("bbox", pa.list_(pa.float64())),
        ("sources", pa.list_(pa.string())),
    ]
)
KNOWN_TYPES = {
    "image": pa.string(),
    "split": pa.string(),
    "width": pa.int64(),
    "height": pa.int64(),
    "detections": pa.list_(DETECTION),
    "scene": pa.struct([("class", pa.string()), ("confidence", pa.float64())]),
    "description": pa.string(),
    "source": pa.string(),
    "captions": pa.list_(pa.string()),
    "caption_sources": pa.list_(pa.string()),
    "error": pa.string(),
}


def fits(value, kind: pa.DataType) -> bool:
    """Whether Arrow holds `value` as `kind` exactly: read back, it is the same value (no key dropped or
    added, no number turned)."""
    if value is None:
        return True
    if pa.types.is_string(kind):
        return isinstance(value, str)
    if pa.types.is_int64(kind):
        return isinstance(value, int) and not isinstance(value, bool) and -(2**63) <= value < 2**63
    if pa.types.is_float64(kind):  # an integer beyond 2**53 would come back another number
        exact_integer = isinstance(value, int) and not isinstance(value, bool) and abs(value) <= 2**53
        return isinstance(value, float) or exact_integer
    if pa.types.is_list(kind):
        return isinstance(value, list) and all(fits(item, kind.value_type) for item in value)
    if pa.types.is_struct(kind):
        names = {kind.field(i).name: kind.field(i).type for i in range(kind.num_fields)}
        # every field present: one left out would read back as null, one extra would be dropped
        return isinstance(value, dict) and set(value) == set(names) and all(fits(v, names[k]) for k, v in value.items())
    return False


def parquet_path(jsonl: Path) -> Path:
    return jsonl.with_suffix(".parquet")


def write_parquet(jsonl: str | Path, output: str | Path | None = None) -> Path:
    """Writes the complete JSONL output `jsonl` as Parquet (default `<stem>.parquet`); returns its path.

    Raises:
        ValueError: A line of `jsonl` is not a JSON object, or an empty one (a Parquet row needs a
            field; every line the commands write has `id` or `image`), naming the file and line.
    """
    jsonl = Path(jsonl)
    output = Path(output) if output else parquet_path(jsonl)
    columns: dict[str, pa.DataType] = {}
    for line in iter_jsonl(jsonl):  # first pass: the columns, and the type each can keep
        if line.error or not line.record:
            raise ValueError(line.error or f"{jsonl}:{line.line_number}: an empty object has no field to store")
        for name, value in line.record.items():
            kind = columns.setdefault(name, KNOWN_TYPES.get(name, pa.string()))
            if not pa.types.is_large_string(kind) and not fits(value, kind):
                columns[name] = pa.large_string()  # JSON text
    json_text = {name for name, kind in columns.items() if pa.types.is_large_string(kind)}
    schema = pa.schema([(name, pa.string() if name in json_text else kind) for name, kind in columns.items()])
    schema = schema.with_metadata({"desclm_json_columns": json.dumps(sorted(json_text))})
    temporary = output.with_name(f".{output.name}.partial")
    with pq.ParquetWriter(temporary, schema) as writer:
        rows: list[dict] = []
        for line in iter_jsonl(jsonl):
            rows.append(
                {
                    name: (json.dumps(line.record[name]) if name in line.record else None)
                    if name in json_text
                    else line.record.get(name)
                    for name in columns
                }
            )
            if len(rows) == ROWS_PER_GROUP:
                writer.write_table(pa.Table.from_pylist(rows, schema))
                rows = []
        if rows:
            writer.write_table(pa.Table.from_pylist(rows, schema))
    os.replace(temporary, output)
    return output
