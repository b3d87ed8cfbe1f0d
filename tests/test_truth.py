"""True about the photo: ground truth rides from 01 to 04, and 04 measures sentences against it."""

from __future__ import annotations

import json
import random
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from helpers.describer.describe import Description
from helpers.describer.evaluate import TARGETS, TRUTH_TARGETS, verdict
from helpers.describer.truth import compare, summarise_truth, truth_facts, truth_record, truth_rows
from helpers.text.facts import extract
from helpers.text.grammar import Facts


def _record(truth_labels, truth_scene="grass", detected=(), scene="grass"):
    return {
        "id": "photo.jpg",
        "detections": [{"label": label, "confidence": 0.9} for label in detected],
        "scene": {"class": scene, "confidence": 0.95},
        "ground_truth": {
            "detections": [{"label": label, "bbox": [0.1, 0.1, 0.2, 0.2]} for label in truth_labels],
            "scene": {"class": truth_scene, "confidence": 1.0},
        },
    }


def test_each_kind_of_untruth_is_named():
    truth = Facts({"plastic": 2, "glass": 1}, "grass")
    exact = compare(Facts({"plastic": 2, "glass": 1}, "grass"), truth)
    assert exact["true"] and exact["count_error"] == 0 and exact["scene"] == "right"
    wrong = compare(Facts({"plastic": 3, "metal": 1}, "sand"), truth)
    assert wrong["missed"] == ["glass"] and wrong["invented"] == ["metal"]
    assert wrong["count_error"] == 1 + 1 + 1 and wrong["scene"] == "wrong" and not wrong["true"]
    assert compare(Facts({}, None), truth)["littered_called_clean"]
    unsure = compare(Facts({"plastic": 2, "glass": 1}, None), truth)
    assert unsure["true"] and unsure["scene"] == "not stated"  # leaving the scene out is no false statement
    clean = compare(Facts({"paper": 1}, "grass"), Facts({}, "grass"))
    assert clean["clean_called_littered"] and not clean["littered_called_clean"]
    assert compare(Facts({}, "grass"), Facts({}, None))["scene"] == "unknown"


def test_a_labelled_photo_s_truth_in_words_names_what_the_sentence_got_wrong():
    """`truth_line`, what Label Studio's reviewers read beside a sentence chosen by --truth."""
    from helpers.describer.truth import truth_line

    record = _record(["plastic", "plastic", "glass"])
    assert truth_line(Facts({"plastic": 2, "glass": 1}, "grass"), record) == (
        "labels: 2 × plastic, 1 × glass; scene grass. True to them."
    )
    assert truth_line(Facts({"plastic": 3, "glass": 1}, None), record).endswith("Untrue: counts off by 1.")
    assert truth_line(Facts({"plastic": 2, "metal": 1}, "sand"), record).endswith(
        "Untrue: missed glass; invented metal; scene wrong."
    )
    assert truth_line(Facts({}, None), {"detections": []}) is None, "no labels, nothing to say"
    boxes = [{"label": "plastic", "confidence": 0.9, "bbox": [0.1, 0.1, 0.2, 0.2]},  # on its label
             {"label": "glass", "confidence": 0.8, "bbox": [0.6, 0.6, 0.7, 0.7]},  # on none
             {"label": "plastic", "confidence": 0.2, "bbox": [0.1, 0.1, 0.2, 0.2]}]  # under the threshold  # fmt: skip
    line = truth_line(Facts({"plastic": 1, "glass": 1}, "grass"), record | {"detections": boxes}, 0.5)
    assert line.endswith("Untrue: counts off by 1. Boxes: 1 of 3 labelled found, 1 detection on no label."), line


_BOX = st.tuples(st.floats(0, 0.8), st.floats(0, 0.8), st.floats(0.05, 0.2), st.floats(0.05, 0.2)).map(
    lambda b: [b[0], b[1], b[0] + b[2], b[1] + b[3]]
)


@settings(max_examples=80, deadline=None)
@given(
    labelled=st.lists(st.tuples(st.sampled_from(["plastic", "glass", "tire"]), _BOX), max_size=8),
    dropped=st.integers(0, 8),
    seed=st.integers(0, 2**32 - 1),
)
def test_box_by_box_every_labelled_item_a_detection_finds_is_found_once(labelled, dropped, seed):
    """`unmatched_boxes`: detections on their labels (spelled as descriptions name them or not, in any order) find
    every labelled item and lie on no other; each labelled box without its detection is not found, each detection of a
    category nothing is labelled as is on no label, and one under the threshold finds nothing."""
    from helpers.describer.truth import boxed, unmatched_boxes

    rng = random.Random(seed)
    truth = {"detections": [{"label": label, "bbox": box} for label, box in labelled]}
    spelled = {"plastic": "Plastic_Bottle", "glass": " GLASS", "tire": "tire"}  # as a detector may write them
    kept = sorted(rng.sample(range(len(labelled)), max(0, len(labelled) - dropped)))
    found = [{"label": spelled[labelled[i][0]], "confidence": 0.9, "bbox": labelled[i][1]} for i in kept]
    found.append({"label": "crate", "confidence": 0.9, "bbox": [0.1, 0.1, 0.2, 0.2]})  # nothing labelled so
    found.append({"label": "glass", "confidence": 0.1, "bbox": [0.0, 0.0, 1.0, 1.0]})  # under the threshold
    rng.shuffle(found)
    missed, false = unmatched_boxes({"detections": found, "ground_truth": truth}, 0.5)
    not_kept = sorted((labelled[i][0], labelled[i][1]) for i in range(len(labelled)) if i not in kept)
    assert sorted((labelled[i][0], labelled[i][1]) for i in missed) == not_kept, "(of labels alike, either one)"
    assert [boxed({"detections": found})[i]["label"] for i in false] == ["crate"]


def test_the_describer_given_the_truth_and_the_end_to_end_sentence_are_kept_apart():
    record = _record(["plastic", "plastic", "glass"], detected=["plastic"])
    assert truth_facts(record) == Facts({"plastic": 2, "glass": 1}, "grass")
    assert truth_facts({"detections": []}) is None
    assert [d["confidence"] for d in truth_record(record)["detections"]] == [1.0, 1.0, 1.0]
    said = Description(
        "One plastic item on the grass.", "model", Facts({"plastic": 1}, "grass"), Facts({"plastic": 1}, "grass"), ()
    )
    everything = Facts({"plastic": 2, "glass": 1}, "grass")
    on_truth = Description("Two plastic items and a glass item on the grass.", "model", everything, everything, ())
    clean = _record([], detected=["paper"])
    said_clean = Description("A paper item.", "model", Facts({"paper": 1}, "grass"), Facts({"paper": 1}, "grass"), ())
    on_truth_clean = Description("Nothing.", "model", Facts({}, "grass"), Facts({}, "grass"), ())
    rows = truth_rows(
        [record, clean, {"id": "x", "detections": []}], [said, said_clean, said], [on_truth, on_truth_clean, on_truth]
    )
    assert len(rows) == 2  # the record without ground truth is left out
    summary = summarise_truth(rows, photos=4, unreadable=1)
    assert (summary["photos"], summary["with_ground_truth"], summary["ground_truth_unreadable"]) == (4, 2, 1)
    end, own, detectors = summary["end_to_end"], summary["describer_on_truth"], summary["detectors"]
    assert end["true"] == 0.0 and own["true"] == 1.0 and detectors["true"] == 0.0
    assert end["missed_categories"] == 1 and end["clean_called_littered"] == 1 and end["mean_count_error"] == 1.5
    assert end["littered_photos"] == 1 and end["scene_right"] == 2


def test_the_verdict_counts_the_end_to_end_numbers_when_they_exist():
    groups = {
        "test": {"guarded": {"faithful": 1.0}, "raw_model": {"faithful": 1.0}, "fallback_rate": 0.0},
        "many_detections": {"guarded": {"faithful": 1.0}, "raw_model": {"faithful": 0.9}, "fallback_rate": 0.0},
    }
    assert verdict(groups)["targets_met"]
    column = {"true": 1.0, "littered_called_clean": 0}
    good = {"with_ground_truth": 10, "end_to_end": dict(column), "describer_on_truth": column, "detectors": column}
    assert verdict(groups, TARGETS, good)["targets_met"]
    poor = {**good, "end_to_end": {"true": 0.15, "littered_called_clean": 10}}
    result = verdict(groups, TARGETS, poor)
    assert not result["targets_met"] and result["truth_end_to_end"] == 0.15 and result["littered_called_clean"] == 10
    assert result["targets"]["truth_end_to_end_min"] == TRUTH_TARGETS["truth_end_to_end_min"]


def test_extraction_of_a_labelled_source_carries_ground_truth_and_names_bad_label_files(
    tiny_demo, tiny_cv_models, tmp_path
):
    import shutil

    from helpers.cv.config import ExtractConfig
    from helpers.cv.extract import run_extraction

    data = tmp_path / "data"
    shutil.copytree(tiny_demo, data)
    broken = sorted((data / "test" / "labels").glob("*.txt"))[0]
    broken.write_text("7 0.5 0.5 0.1 0.1\n")  # a class outside names
    config = ExtractConfig(
        images=str(data / "data.yaml"),
        output=str(tmp_path / "cv.jsonl"),
        yolo_weights=str(tiny_cv_models / "yolo_detector.pt"),
        hf_model="",
        scene_weights=str(tiny_cv_models / "scene_classifier.pt"),
        ensemble_weights_file="",
        imgsz=160,
        scene_imgsz=64,
    )
    summary = run_extraction(config)
    records = [json.loads(line) for line in (tmp_path / "cv.jsonl").read_text().splitlines()]
    assert len(records) == 12 and summary["ground_truth_errors"] == 1
    bad = [r for r in records if "ground_truth_error" in r]
    assert len(bad) == 1 and broken.name in bad[0]["ground_truth_error"] and "class 7" in bad[0]["ground_truth_error"]
    scenes = {line.split(",")[0]: line.split(",")[2] for line in (data / "scenes.csv").read_text().splitlines()[1:]}
    for record in records:
        if "ground_truth" in record:
            assert record["ground_truth"]["scene"]["class"] == scenes[record["image"]]


def test_notebook_04_on_a_labelled_source_shows_the_three_columns(
    tiny_demo, tiny_cv_models, model_dir, tmp_path, papermill_run
):
    from helpers.cv.config import ExtractConfig
    from helpers.cv.extract import run_extraction
    from helpers.pairs.synth import SynthConfig, build_pairs

    run_extraction(
        ExtractConfig(
            images=str(tiny_demo / "data.yaml"),
            output=str(tmp_path / "cv.jsonl"),
            yolo_weights=str(tiny_cv_models / "yolo_detector.pt"),
            hf_model="",
            scene_weights=str(tiny_cv_models / "scene_classifier.pt"),
            ensemble_weights_file="",
            imgsz=160,
            scene_imgsz=64,
            yolo_conf=0.01,
        )
    )
    build_pairs(
        SynthConfig(cv_outputs=str(tmp_path / "cv.jsonl"), output_dir=str(tmp_path / "pairs"), synthetic_records=20)
    )
    parameters = {
        "model_dir": model_dir,
        "pairs_dir": tmp_path / "pairs",
        "output_dir": tmp_path / "eval",
        "stress_records": 4,
        "timing_records": 0,
        "gallery_size": 2,
    }
    papermill_run("04_evaluate", tmp_path / "04.ipynb", parameters)
    metrics = json.loads((tmp_path / "eval" / "metrics.json").read_text())
    truth = metrics["truth"]
    test_photos = len(
        {json.loads(line)["image"] for line in (tmp_path / "pairs" / "test.jsonl").read_text().splitlines()}
    )
    assert truth["with_ground_truth"] == truth["photos"] == test_photos > 0
    assert {"end_to_end", "describer_on_truth", "detectors"} <= set(truth)
    assert truth["describer_on_truth"]["true"] == 1.0  # the guarded describer states the truth when given it
    assert metrics["verdict"]["truth_photos"] == test_photos
    page = metrics["gallery"]  # the test photos' page: each card's truth as the report counts it
    assert page["photos"] == page["labelled"] == test_photos and page["problems"] == 0
    assert page["untrue"] == round((1 - truth["end_to_end"]["true"]) * test_photos)
    assert Path(page["output"]).is_file() and (tmp_path / "eval" / "gallery_thumbs").is_dir()
    assert metrics["verdict"]["targets_met"] == (
        metrics["verdict"]["truth_end_to_end"] >= TRUTH_TARGETS["truth_end_to_end_min"]
        and metrics["verdict"]["littered_called_clean"] == 0
        and metrics["verdict"]["guarded_faithful_min_stress"] == 1.0
        and metrics["verdict"]["fallback_rate_test"] <= TARGETS["fallback_rate_test_max"]
        and metrics["verdict"]["guarded_writing_errors"] == 0
    )
    rows = [json.loads(line) for line in (tmp_path / "eval" / "records.jsonl").read_text().splitlines()]
    stated = [r for r in rows if r["group"] == "test" and r["guarded"]["text"] and extract(r["guarded"]["text"]).items]
    # the provenance figure is drawn whenever a test photo's sentence states a count (its photo is on disk)
    assert (tmp_path / "eval" / "provenance.png").is_file() == bool(stated)
    executed = json.loads((tmp_path / "04.ipynb").read_text())
    [truth_cell] = [c for c in executed["cells"] if "truth_table(" in "".join(c["source"])]
    shown = json.dumps(truth_cell["outputs"])  # the table the cell displayed, not the notebook's prose
    for column in ("sentence from detectors", "sentence from ground truth", "detectors' output"):
        assert column in shown, column


def test_the_unseen_photo_benchmark_measures_fresh_photos_as_04_does(tiny_cv_models, model_dir):
    from helpers.demo.truth_bench import unseen_truth

    result = unseen_truth(
        seed=5,
        photos=4,
        model_dir=str(model_dir),
        yolo_weights=str(tiny_cv_models / "yolo_detector.pt"),
        hf_model="",
        scene_weights=str(tiny_cv_models / "scene_classifier.pt"),
        ensemble_weights_file=str(tiny_cv_models / "ensemble.json"),
        imgsz=160,
        scene_imgsz=64,
    )
    assert result["photos"] == result["with_ground_truth"] == 4 and result["seed"] == 5
    assert result["describer_on_truth"]["true"] == 1.0
    assert 0 <= result["end_to_end"]["true"] <= 1 and result["end_to_end"]["littered_photos"] >= 1


def test_each_kind_of_wrong_count_is_told_apart():
    from collections import Counter

    from helpers.demo.truth_bench import error_kind

    truth = Counter(plastic=2, metal=1)
    assert error_kind(Counter(plastic=2, metal=1), truth) == "exact"
    assert error_kind(Counter(plastic=1), truth) == "only misses"
    assert error_kind(Counter(plastic=3, metal=1, paper=1), truth) == "only extras"
    assert error_kind(Counter(plastic=2, paper=1), truth) == "right total, wrong class"
    assert error_kind(Counter(plastic=3, paper=1), truth) == "mixed"
    assert error_kind(Counter(), Counter()) == "exact" and error_kind(Counter(glass=1), Counter()) == "only extras"
