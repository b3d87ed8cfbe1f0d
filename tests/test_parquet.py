"""`--format parquet` (issue 33): every JSONL output read back from its Parquet copy, value for value."""

from __future__ import annotations

import json

import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from helpers.core.parquet import ROWS_PER_GROUP, write_parquet

text = st.text(max_size=12)  # any characters: U+2028, surrogates aside (JSON lines carry none), quotes, newlines
number = st.floats(allow_nan=False, allow_infinity=False) | st.integers(-(2**70), 2**70)
scalar = st.none() | st.booleans() | number | text
anything = st.recursive(scalar, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(text, inner, max_size=3))
detection = st.fixed_dictionaries(
    {"label": text, "confidence": number, "bbox": st.lists(number, max_size=4)},
    optional={"sources": st.lists(text, max_size=2)},
)
record = st.fixed_dictionaries(
    {"id": text | st.integers()},  # every line the commands write has an id (or an image)
    optional={
        "image": text | anything,  # a known column: typed while every value fits, else JSON text
        "width": st.integers(0, 2**40) | anything,
        "detections": st.lists(detection, max_size=3) | anything,
        "scene": st.fixed_dictionaries({"class": text, "confidence": number}) | anything,
        "captions": st.lists(text, max_size=3),
        "extra": anything,  # an unknown column
    },
)


def _read_back(path) -> list[dict]:
    table = pq.read_table(path)
    json_columns = set(json.loads(table.schema.metadata[b"desclm_json_columns"]))

    def value_of(name, value):
        return json.loads(value) if name in json_columns and value is not None else value

    return [{name: value_of(name, value) for name, value in row.items()} for row in table.to_pylist()]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(records=st.lists(record, min_size=1, max_size=6))
def test_parquet_holds_every_value_of_the_jsonl(tmp_path, records):
    source = tmp_path / "out.jsonl"
    source.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    rows = _read_back(write_parquet(source))
    columns = list(dict.fromkeys(name for r in records for name in r))
    assert [list(row) for row in rows] == [columns] * len(records)
    # a field a record lacks reads back as null, like one it holds as null
    assert rows == [{name: r.get(name) for name in columns} for r in records]


def test_known_fields_keep_their_types_and_groups_are_bounded(tmp_path):
    source = tmp_path / "cv.jsonl"
    detection = {"label": "PET bottle", "confidence": 0.9, "bbox": [0, 0, 1, 1], "sources": ["yolo"]}
    good = {"image": "a.jpg", "detections": [detection]}
    source.write_text("".join(json.dumps({**good, "image": f"{i}.jpg"}) + "\n" for i in range(ROWS_PER_GROUP + 5)))
    parquet = pq.ParquetFile(write_parquet(source))
    assert str(parquet.schema_arrow.field("detections").type).startswith("list<element: struct<label: string")
    assert parquet.metadata.num_row_groups == 2 and parquet.metadata.num_rows == ROWS_PER_GROUP + 5
    source.write_text(json.dumps(good) + "\n" + json.dumps({**good, "detections": [{"label": 1}]}) + "\n")
    table = pq.read_table(write_parquet(source))
    assert json.loads(table.schema.metadata[b"desclm_json_columns"]) == ["detections"], "a label that is no text"
    assert json.loads(table.column("detections")[1].as_py()) == [{"label": 1}]
    source.write_text(json.dumps(good) + "\n{}\n")
    with pytest.raises(ValueError, match=r"cv.jsonl:2: an empty object"):
        write_parquet(source)
