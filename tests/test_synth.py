"""The pairs stage: model input, splits by image, determinism, coverage, bad records, CLI, notebook."""

from __future__ import annotations

import json
import subprocess
import sys

import datasets
import pytest

from helpers.core.contract import Policy, Style
from helpers.core.io import iter_jsonl, write_jsonl
from helpers.cv.extract import ground_truth_outputs
from helpers.pairs.synth import SynthConfig, build_pairs
from helpers.text.linearize import linearize
from helpers.text.variants import variant_of

GOOD = {"detections": [{"label": "plastic", "confidence": 0.9}], "scene": {"class": "grass", "confidence": 0.9}}


@pytest.fixture(scope="module")
def cv_file(tiny_demo, tmp_path_factory):
    path = tmp_path_factory.mktemp("cv") / "cv.jsonl"
    ground_truth_outputs(tiny_demo / "data.yaml", path)
    return path


def test_model_input_is_aggregated_thresholded_linked_and_short():
    record = {
        "detections": [
            {"label": "Plastic", "confidence": 0.92},
            {"label": "plastic ", "confidence": 0.55},
            {"label": "tire", "confidence": 0.81},
            {"label": "glass", "confidence": 0.2},
        ],
        "scene": {"class": "grass", "confidence": 0.95},
    }
    assert (
        linearize(record, "linked_slots", Policy())
        == "litter: 2 plastic; 1 slotA after plastic; end after slotA | scene: grass | style: plain words"
    )
    assert (
        linearize(record, "linked_end", Policy())
        == "litter: 2 plastic; 1 tire after plastic; end after tire | scene: grass | style: plain words"
    )
    assert (
        linearize(record, "linked", Policy(), Style("varied", "digits"))
        == "litter: 2 plastic; 1 tire after plastic | scene: grass | style: varied digits"
    )
    assert (
        linearize(record, "compact", Policy())
        == "litter: 2 plastic; 1 tire | scene: grass | confidence: 0.55-0.92 0.81 0.95 | style: plain words"
    )
    assert (
        linearize({"detections": [], "scene": {"class": "grass", "confidence": 0.79}}, "linked_slots", Policy())
        == "litter: none | scene: none | style: plain words"
    )
    assert (
        linearize({"detections": [], "scene": {"class": "grass", "confidence": 0.79}}, "compact", Policy())
        == "litter: none | scene: none | confidence: none | style: plain words"
    )
    crowded = {
        "detections": [{"label": name, "confidence": 0.9} for name in ["plastic", "glass", "metal", "tire", "rope"] * 6]
    }
    assert len(linearize(crowded, "linked_slots", Policy()).split()) < 30, "30 detections stay a short input"
    assert linearize(crowded, "compact", Policy()).startswith(
        "litter: 6 plastic; 6 glass; 6 metal; 6 tire; 6 rope |"
    ), "most frequent first, ties as first detected"
    assert (
        linearize(crowded, "linked_end", Policy())
        == "litter: 6 plastic; 6 glass after plastic; 6 metal after glass; 6 tire after metal; 6 rope after tire;"
        " end after rope | scene: none | style: plain words"
    )
    assert '"confidence": 0.2' in linearize(record, "seed_json", Policy()), "the original format keeps every detection"
    with pytest.raises(ValueError, match="input_format"):
        linearize(record, "xml", Policy())
    assert linearize(record, "linked_end", Policy(min_confidence=0.1)).startswith(
        "litter: 2 plastic; 1 tire after plastic; 1 glass after tire; end after glass |"
    )


def test_pairs_keep_split_by_image_and_load_with_datasets(cv_file, tmp_path):
    result = build_pairs(SynthConfig(cv_outputs=str(cv_file), output_dir=str(tmp_path / "pairs"), synthetic_records=30))
    images_per_split = {
        split: {p["image"] for p in pairs if p["origin"] == "image"} for split, pairs in result.pairs.items()
    }
    assert {len(v) for v in images_per_split.values()} and images_per_split["train"].isdisjoint(images_per_split["val"])
    assert images_per_split["val"].isdisjoint(images_per_split["test"]) and images_per_split["train"].isdisjoint(
        images_per_split["test"]
    )
    photos_val = [p for p in result.pairs["val"] if p["origin"] == "image"]
    assert photos_val and all(p["image"].startswith("valid/") for p in photos_val), "01's split is kept"
    assert {p["origin"] for p in result.pairs["test"]} == {"image"}, "coverage goes to train only"
    hard = [p for p in result.pairs["val"] if p["origin"] == "hard"]
    assert {p["image"] for p in hard} == {f"hard/{i:06d}" for i in range(120)}  # validation sees hard records too
    assert max(len(p["cv"]["detections"]) for p in hard) >= 15 and all(
        p["image"] not in images_per_split["train"] for p in hard
    )
    assert sum(p["origin"] == "synthetic" for p in result.pairs["train"]) == 90
    loaded = datasets.load_dataset(
        "json", data_files={s: str(tmp_path / "pairs" / f"{s}.jsonl") for s in ("train", "val", "test")}
    )
    assert loaded["val"].num_rows == len(result.pairs["val"]) and {"image", "split", "cv", "input", "output"} <= set(
        loaded["val"].column_names
    )
    for pairs in result.pairs.values():
        per_image = {}
        for pair in pairs:
            per_image.setdefault(pair["image"], []).append(pair["input"])
        assert all(len(inputs) == len(set(inputs)) for inputs in per_image.values()), "each a different variant"
    plain = build_pairs(SynthConfig(str(cv_file), str(tmp_path / "plain"), synthetic_records=0, variants=0))
    for pairs in plain.pairs.values():
        per_image = {}
        for pair in pairs:
            per_image.setdefault(pair["image"], []).append(pair["output"])
        assert all(len(outputs) == len(set(outputs)) for outputs in per_image.values()), "variations are distinct"


def test_seeded_split_without_01_splits(tmp_path):
    records = [{"image": f"img_{i:03d}.jpg", **GOOD} for i in range(200)]
    write_jsonl(tmp_path / "cv.jsonl", records)
    result = build_pairs(
        SynthConfig(
            cv_outputs=str(tmp_path / "cv.jsonl"),
            output_dir=str(tmp_path / "p"),
            synthetic_records=0,
            validation_hard_records=0,
            variations_per_image=1,
        )
    )
    sizes = {split: len(pairs) for split, pairs in result.pairs.items()}
    assert sizes == {"train": 160, "val": 20, "test": 20}
    other = build_pairs(
        SynthConfig(
            cv_outputs=str(tmp_path / "cv.jsonl"),
            output_dir=str(tmp_path / "q"),
            synthetic_records=0,
            variations_per_image=1,
            seed=1,
        )
    )
    assert {p["image"] for p in other.pairs["val"]} != {p["image"] for p in result.pairs["val"]}


def test_same_seed_same_files_other_seed_other_files(cv_file, tmp_path):
    def run(seed, name):
        build_pairs(
            SynthConfig(cv_outputs=str(cv_file), output_dir=str(tmp_path / name), seed=seed, synthetic_records=20)
        )
        return {s: (tmp_path / name / f"{s}.jsonl").read_bytes() for s in ("train", "val", "test")}

    assert run(0, "a") == run(0, "b")
    assert run(0, "a")["train"] != run(1, "c")["train"]


def test_bad_records_are_reported_and_counted_the_rest_processed(tmp_path):
    lines = [
        json.dumps({"image": "a.jpg", **GOOD}),
        json.dumps({"image": "b.jpg", "scene": GOOD["scene"]}),
        json.dumps({"image": "c.jpg", "detections": [{"label": "glass", "confidence": 1.5}]}),
        "{broken json",
        json.dumps({"image": "d.jpg", "detections": [{"label": "", "confidence": 0.9}]}),
        json.dumps({"image": "a.jpg", **GOOD}),
        json.dumps({"image": "e.jpg", **GOOD}),
    ]
    (tmp_path / "cv.jsonl").write_text("\n".join(lines) + "\n")
    result = build_pairs(
        SynthConfig(
            cv_outputs=str(tmp_path / "cv.jsonl"),
            output_dir=str(tmp_path / "p"),
            synthetic_records=0,
            validation_hard_records=0,
        )
    )
    assert sum(len(p) for p in result.pairs.values()) == 2 * 3
    errors = [e["error"] for e in result.errors]
    assert len(errors) == 5 and [e["line"] for e in result.errors] == [2, 3, 4, 5, 6]
    assert "'detections'" in errors[0] and "detections[0].confidence" in errors[1] and "not valid JSON" in errors[2]
    assert "detections[0].label" in errors[3] and "more than once" in errors[4]
    assert len(list(iter_jsonl(tmp_path / "p" / "errors.jsonl"))) == 5


def test_a_record_the_grammar_fails_on_costs_that_record_only(tmp_path, monkeypatch):
    import helpers.pairs.synth as synth

    describe = synth.describe

    def failing_describe(record, *args, **kwargs):
        if record["detections"] and record["detections"][0]["label"] == "crash":
            raise ValueError("the grammar crashed")
        return describe(record, *args, **kwargs)

    monkeypatch.setattr(synth, "describe", failing_describe)
    crash = {"detections": [{"label": "crash", "confidence": 0.9}], "scene": GOOD["scene"]}
    lines = [{"image": "a.jpg", **GOOD}, {"image": "b.jpg", **crash}, {"image": "c.jpg", **GOOD}]
    (tmp_path / "cv.jsonl").write_text("".join(json.dumps(line) + "\n" for line in lines))
    config = SynthConfig(
        cv_outputs=str(tmp_path / "cv.jsonl"),
        output_dir=str(tmp_path / "p"),
        synthetic_records=0,
        validation_hard_records=0,
    )
    result = build_pairs(config)
    assert sorted({pair["image"] for pairs in result.pairs.values() for pair in pairs}) == ["a.jpg", "c.jpg"]
    assert [error["error"] for error in result.errors] == [
        "image 'b.jpg': no pairs written: ValueError: the grammar crashed"
    ]
    assert list(iter_jsonl(tmp_path / "p" / "errors.jsonl"))[0].record["image"] == "b.jpg"


def test_extra_pairs_are_mixed_into_train_and_unfaithful_ones_rejected(cv_file, tmp_path):
    write_jsonl(
        tmp_path / "extra.jsonl",
        [
            {"cv": GOOD, "output": "A single piece of plastic sits on the grass."},
            {"cv": GOOD, "output": "Two plastic bottles on the grass."},
            {"cv": {"detections": "none"}, "output": "x"},
        ],
    )
    result = build_pairs(
        SynthConfig(
            cv_outputs=str(cv_file),
            output_dir=str(tmp_path / "p"),
            synthetic_records=0,
            extra_pairs=str(tmp_path / "extra.jsonl"),
        )
    )
    extra = [p for p in result.pairs["train"] if p["origin"] == "extra"]
    assert [p["output"] for p in extra] == ["A single piece of plastic sits on the grass."]
    variant = variant_of(GOOD, 0, 8)  # as the describer would choose it for this record
    assert (
        extra[0]["input"]
        == f"litter: 1 plastic; end after plastic | scene: grass | style: plain words | variant: {variant}"
    )
    assert len(result.errors) == 2 and "cv implies" in result.errors[0]["error"]


def test_cli_keeps_order_reports_bad_lines_and_exits_non_zero(tmp_path):
    lines = [
        json.dumps({"id": "x1", **GOOD}),
        json.dumps({"id": "x2", "detections": [{"label": "glass", "confidence": -1}]}),
        "oops",
        json.dumps(GOOD),
    ]
    (tmp_path / "in.jsonl").write_text("\n".join(lines) + "\n")
    command = [
        sys.executable,
        "-m",
        "helpers",
        "synth",
        "--input",
        str(tmp_path / "in.jsonl"),
        "--output",
        str(tmp_path / "out.jsonl"),
    ]
    finished = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert finished.returncode == 1 and "2 invalid line(s)" in finished.stderr
    out = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert [o["id"] for o in out] == ["x1", "x2", 3, 4]
    assert (
        "description" in out[0]
        and "detections[0].confidence" in out[1]["error"]
        and "not valid JSON" in out[2]["error"]
    )
    assert out[3]["description"][0].isupper()
    (tmp_path / "good.jsonl").write_text(lines[0] + "\n")
    command[5] = str(tmp_path / "good.jsonl")
    assert subprocess.run(command, capture_output=True, timeout=120).returncode == 0


def _synth_input(path, count: int, broken: tuple[int, ...] = ()) -> list[bytes]:
    """`count` generated records as lines (`random_cv`, each with an id), line numbers in `broken` not JSON."""
    import random

    from helpers.text.synthetic import random_cv

    rng = random.Random(5)
    lines = [json.dumps({"id": f"p{n}", **random_cv(rng, max_detections=5)}).encode() for n in range(1, count + 1)]
    for number in broken:
        lines[number - 1] = b'{"detections": [oops'
    path.write_bytes(b"".join(line + b"\n" for line in lines))
    return lines


def test_synth_on_workers_writes_the_lines_this_process_writes(tmp_path):
    """Blocks of lines written on two worker processes, in order, a broken line mid-block costing that line."""
    from helpers.pairs.synth import describe_file

    _synth_input(tmp_path / "in.jsonl", 40, broken=(9, 23))
    style = Style.parse("varied digits")
    here = describe_file(tmp_path / "in.jsonl", tmp_path / "here.jsonl", 3, Policy(), style, workers=0)
    on_workers = describe_file(tmp_path / "in.jsonl", tmp_path / "pool.jsonl", 3, Policy(), style, workers=2, block=7)
    assert here == on_workers == 2
    assert (tmp_path / "pool.jsonl").read_bytes() == (tmp_path / "here.jsonl").read_bytes()
    rows = [line.record for line in iter_jsonl(tmp_path / "pool.jsonl")]
    assert [row["id"] for row in rows] == [f"p{n}" if n not in (9, 23) else n for n in range(1, 41)]
    assert "line 23" in rows[22]["error"] and all(
        "description" in row for i, row in enumerate(rows) if i not in (8, 22)
    )


def test_synth_writes_more_captions_each_faithful_and_distinct_the_description_first(tmp_path):
    """--num_captions 3: each row's `captions` the description (the one a single caption's run writes) and up to two
    other distinct grammar sentences, each stating the record's facts; the llava export gives each its entry."""
    from helpers.describer.exports import export
    from helpers.pairs.synth import describe_file
    from helpers.text.facts import extract
    from helpers.text.grammar import facts

    lines = _synth_input(tmp_path / "in.jsonl", 30, broken=(4,))
    assert describe_file(tmp_path / "in.jsonl", tmp_path / "one.jsonl", 0, Policy(), num_captions=1) == 1
    assert describe_file(tmp_path / "in.jsonl", tmp_path / "three.jsonl", 0, Policy(), num_captions=3) == 1
    one = [line.record for line in iter_jsonl(tmp_path / "one.jsonl")]
    three = [line.record for line in iter_jsonl(tmp_path / "three.jsonl")]
    assert [row.get("description") for row in three] == [row.get("description") for row in one]
    assert "captions" not in one[0] and "error" in three[3]
    for raw, row in zip(lines, three, strict=True):
        if "error" in row:
            continue
        record, captions = json.loads(raw), row["captions"]
        assert captions[0] == row["description"] and len(set(captions)) == len(captions) <= 3, captions
        labels = [d["label"] for d in record["detections"]]
        assert all(extract(caption, labels).facts() == facts(record) for caption in captions), captions
    assert any(len(row.get("captions", ())) == 3 for row in three), "more captions are written"
    counts = export("llava", tmp_path / "three.jsonl", tmp_path / "llava.json")
    entries = json.loads((tmp_path / "llava.json").read_text())
    assert counts["exported"] == 29 and len(entries) == sum(len(row.get("captions", ())) for row in three)


def test_a_killed_synth_run_resumes_after_the_lines_it_wrote(tmp_path, kill_part_way):
    """Killed part-way (a crash), run again: the lines it wrote are kept, the rest written, the file the one an
    uninterrupted run writes, and the errors of both runs counted."""
    from helpers.pairs.synth import SYNTH_BLOCK, describe_file

    count = 4 * SYNTH_BLOCK
    _synth_input(tmp_path / "in.jsonl", count, broken=(2, count - 1))
    output, partial = tmp_path / "out.jsonl", tmp_path / ".out.jsonl.partial"
    command = [sys.executable, "-m", "helpers", "synth", "--input", str(tmp_path / "in.jsonl"), "--output", str(output)]
    written = kill_part_way(command, partial, lines=SYNTH_BLOCK)
    assert SYNTH_BLOCK <= written < count, f"the kill should land part-way ({written} of {count})"
    assert not output.exists(), "a killed run leaves no output under its final name"
    finished = subprocess.run([*command, "--workers", "0"], capture_output=True, text=True, timeout=300)
    assert finished.returncode == 1 and "2 invalid line(s)" in finished.stderr, finished.stderr[-2000:]
    assert f"resuming {output} after {written} of {count} lines" in finished.stderr
    describe_file(tmp_path / "in.jsonl", tmp_path / "whole.jsonl", 0, Policy(), Style(), workers=0)
    assert output.read_bytes() == (tmp_path / "whole.jsonl").read_bytes()
    assert not partial.exists()


def test_synth_reads_a_file_as_it_goes_so_memory_stays_flat(tmp_path):
    """10^7 records must not be held: four times the lines (each run past the first blocks) take hardly more memory,
    where holding each output row until the end took about as much again as the output (1.9 MB more here)."""
    import tracemalloc

    from helpers.pairs.synth import SYNTH_BLOCK, describe_file

    line = json.dumps(GOOD)
    peaks, sizes = [], []
    for blocks in (1, 2, 8):  # the first run warms the reader's caches, which are not the file's
        source, output = tmp_path / f"in{blocks}.jsonl", tmp_path / f"out{blocks}.jsonl"
        source.write_text("".join(line[:-1] + f', "id": "p{n}"}}\n' for n in range(blocks * SYNTH_BLOCK)))
        tracemalloc.start()
        assert describe_file(source, output, 0, Policy()) == 0
        peaks.append(tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()
        sizes.append(output.stat().st_size)
    assert peaks[2] - peaks[1] < (sizes[2] - sizes[1]) / 4, f"peaks {peaks[1:]} for outputs of {sizes[1:]} bytes"


def test_notebook_02_runs_with_papermill(cv_file, tmp_path, papermill_run):
    parameters = {
        "cv_outputs": cv_file,
        "output_dir": tmp_path / "pairs",
        "synthetic_records": 50,
        "comparison_records": 50,
    }
    papermill_run("02_synth_descriptions", tmp_path / "02.ipynb", parameters, timeout=300)
    metrics = json.loads((tmp_path / "pairs" / "synth.metrics.json").read_text())
    hard = 120 * 3  # validation_hard_records, 3 variations each
    assert metrics["pairs"] == {"train": 8 * 3 + 150, "val": 6 + hard, "test": 6} and metrics["errors"] == 0
    assert metrics["comparison"]["synthetic/grammar"]["faithful_pct"] == 100.0
    assert metrics["comparison"]["synthetic/original"]["faithful_pct"] < 90.0
