"""Ensemble calibration: thresholds, weights and conf_type chosen by per-photo count accuracy."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections import Counter
from concurrent.futures import ProcessPoolExecutor

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from helpers.cv.calibrate import (
    AGNOSTIC_IOUS,
    CONF_TYPES,
    THRESHOLDS,
    WEIGHTS,
    calibrate,
    neighbourhood_accuracy,
    photo_counts,
    photo_counts_each,
    score_settings,
)
from helpers.cv.config import DEFAULT_CONF, ExtractConfig
from helpers.cv.detectors import Detections
from helpers.cv.fusion import FusionSettings, align_scores, fuse


def _boxes(count: int, offset: float) -> np.ndarray:
    corners = np.array([[offset + 0.08 * i, 0.1] for i in range(count)]).reshape(-1, 2)
    return np.concatenate([corners, corners + 0.05], axis=1)


def _photos():
    """Photo i holds i plastic items. Detector "good" finds them at 0.6 plus one false glass box at
    0.3; detector "noisy" finds nothing real, only two confident false metal boxes per photo."""
    truths, good, noisy = [], [], []
    for count in range(4):
        truths.append(Counter({"plastic": count}) if count else Counter())
        boxes = np.concatenate([_boxes(count, 0.0), _boxes(1, 0.6)])
        good.append(Detections(boxes, [0.6] * count + [0.3], ["plastic"] * count + ["glass"]))
        noisy.append(Detections(_boxes(2, 0.3)[:, [0, 1, 2, 3]] + [0, 0.5, 0, 0.5], [0.95, 0.95], ["metal"] * 2))
    return truths, good, noisy


def test_calibration_picks_the_threshold_that_makes_counts_exact_and_drops_a_false_detector():
    truths, good, noisy = _photos()
    alone = calibrate({"good": good}, truths)["choice"]
    assert alone["count_accuracy"] == 1.0 and 0.3 < alone["conf"]["good"] <= 0.6  # drops the 0.3 glass, keeps 0.6
    low = score_settings({"good": good}, truths, {**alone, "conf": {"good": 0.2}}, 0.1)
    assert low["count_accuracy"] == 0.0  # below 0.3 the false glass box is counted on every photo
    both = calibrate({"good": good, "noisy": noisy}, truths)
    choice = both["choice"]
    assert choice["count_accuracy"] == 1.0 and choice["littered_called_clean"] == 0
    assert choice["weights"]["noisy"] == min(WEIGHTS)  # down-weighted: its lone boxes fall below the threshold
    equal = {"conf": {"good": 0.5, "noisy": 0.5}, "weights": {"good": 1.0, "noisy": 1.0}, "conf_type": "max"}
    assert score_settings({"good": good, "noisy": noisy}, truths, equal, 0.5)["count_accuracy"] == 0.0
    assert both["table"][0] == choice and len(both["table"]) == 10


def test_a_threshold_on_a_plateau_beats_a_lone_spike_of_accuracy():
    """One detector: 0.2 is the single best threshold but its neighbours count nothing right; 0.5-0.7
    are a little worse and alike. Averaged with its neighbours (edges: those that exist) 0.6 wins."""
    accuracies = dict(zip(THRESHOLDS, (0.0, 0.9, 0.0, 0.7, 0.8, 0.8, 0.8, 0.0, 0.0), strict=True))
    base = {"weights": {"yolo": 1.0}, "conf_type": "max", "agnostic_iou": 1.0, "littered_called_clean": 0}
    other = {**base, "agnostic_iou": 0.5}  # another setting's rows are not neighbours
    rows = [{**base, "conf": {"yolo": t}, "count_accuracy": a} for t, a in accuracies.items()]
    rows += [{**other, "conf": {"yolo": t}, "count_accuracy": 1.0} for t in THRESHOLDS[::2]]
    scored = {(r["agnostic_iou"], r["conf"]["yolo"]): r["neighbourhood_accuracy"] for r in neighbourhood_accuracy(rows)}
    assert scored[(1.0, 0.2)] == pytest.approx(0.3) and scored[(1.0, 0.6)] == pytest.approx(0.8)
    assert scored[(1.0, 0.1)] == pytest.approx(0.45)  # itself and 0.2 only
    assert scored[(0.5, 0.3)] == 1.0  # 0.2 and 0.4 are not in its grid
    two = [
        {**base, "conf": {"a": a, "b": b}, "count_accuracy": float(a == b == 0.5)}
        for a in THRESHOLDS
        for b in THRESHOLDS
    ]
    corner = {tuple(r["conf"].values()): r["neighbourhood_accuracy"] for r in neighbourhood_accuracy(two)}
    assert corner[(0.5, 0.5)] == pytest.approx(1 / 9) and corner[(0.4, 0.6)] == pytest.approx(1 / 9)
    assert corner[(0.3, 0.5)] == 0.0


def test_the_grid_in_worker_processes_gives_the_table_of_one_process(monkeypatch):
    from helpers.cv import grid

    truths, good, noisy = _photos()
    alone = calibrate({"good": good, "noisy": noisy}, truths, keep=10**6, workers=1)
    monkeypatch.setattr(grid, "PARALLEL_FROM", 0)  # this small grid would otherwise stay in this process
    started = []
    monkeypatch.setattr(grid, "ProcessPoolExecutor", lambda *a: started.append(a) or ProcessPoolExecutor(*a))
    assert calibrate({"good": good, "noisy": noisy}, truths, keep=10**6, workers=2) == alone
    assert len(started) == 1 and started[0][0] == 2


def test_a_detector_that_scores_low_is_calibrated_to_be_described():
    """Its true boxes score 0.3, a false one 0.15: the threshold between them makes every photo
    exact, because 01 maps a detector's threshold onto the describer's 0.5 (before that mapping a
    threshold under 0.5 changed nothing and every littered photo was called clean)."""
    truths, good, _ = _photos()
    shy = [Detections(d.boxes, [0.3 if label == "plastic" else 0.15 for label in d.labels], d.labels) for d in good]
    choice = calibrate({"shy": shy}, truths)["choice"]
    assert 0.15 < choice["conf"]["shy"] <= 0.3
    assert choice["count_accuracy"] == 1.0 and choice["littered_called_clean"] == 0
    at_half = score_settings({"shy": shy}, truths, {**choice, "conf": {"shy": 0.5}}, 0.5)
    assert at_half["count_accuracy"] == 0.25 and at_half["littered_called_clean"] == 3  # only the empty photo


def test_calibration_keeps_one_label_per_object_when_a_detector_doubles_them():
    """A detector that gives each object a second, slightly less confident label of another class:
    objects score 0.9 on some photos and 0.6 on others, their doubles 0.85 and 0.55, so no threshold
    separates them (one that drops 0.85 drops 0.6); one label per object makes every photo exact."""
    truths, doubled = [], []
    for count, score in ((1, 0.9), (2, 0.6), (0, 0.9), (3, 0.9), (1, 0.6)):
        truths.append(Counter({"plastic": count}) if count else Counter())
        boxes = _boxes(count, 0.0)
        doubled.append(
            Detections(
                np.concatenate([boxes, boxes + [0.002, 0.0, 0.002, 0.0]]),
                [score] * count + [score - 0.05] * count,
                ["plastic"] * count + ["glass"] * count,
            )
        )
    result = calibrate({"doubling": doubled}, truths)
    assert result["choice"]["count_accuracy"] == 1.0 and result["choice"]["agnostic_iou"] < 1.0
    no_thinning = {"agnostic_iou": 1.0, "agnostic_ios": 1.0}
    without = [{**result["choice"], "conf": {"doubling": t}, **no_thinning} for t in THRESHOLDS]
    best_without = max(score_settings({"doubling": doubled}, truths, s, 0.5)["count_accuracy"] for s in without)
    assert best_without < 1.0


def test_calibration_thins_boxes_on_parts_of_objects():
    """A detector that also boxes the left third of each object, as confidently as whole objects on other
    photos: no threshold and no IoU limit (the part overlaps its object by a third) separates them, thinning
    boxes that lie inside a more confident one makes every photo exact."""
    truths, parted = [], []
    for count, score in ((1, 0.9), (2, 0.6), (0, 0.9), (3, 0.9), (1, 0.6)):
        truths.append(Counter({"organic": count}) if count else Counter())
        boxes = _boxes(count, 0.0)
        parts = boxes.copy()
        parts[:, 2] = boxes[:, 0] + (boxes[:, 2] - boxes[:, 0]) / 3
        parted.append(
            Detections(
                np.concatenate([boxes, parts]), [score] * count + [score - 0.05] * count, ["organic"] * (2 * count)
            )
        )
    result = calibrate({"parts": parted}, truths)
    assert result["choice"]["count_accuracy"] == 1.0 and result["choice"]["agnostic_ios"] < 1.0
    without = [
        {**result["choice"], "conf": {"parts": t}, "agnostic_iou": g, "agnostic_ios": 1.0}
        for t in THRESHOLDS
        for g in AGNOSTIC_IOUS
    ]
    assert max(score_settings({"parts": parted}, truths, s, 0.5)["count_accuracy"] for s in without) < 1.0


def test_01_takes_thresholds_and_conf_type_from_the_ensemble_file_unless_given(tmp_path):
    from helpers.commands.parsing import SettingsParser
    from helpers.core.io import weights_fingerprint

    (tmp_path / "yolo.pt").write_bytes(b"the calibrated detector")
    (tmp_path / "rtdetr").mkdir()
    (tmp_path / "rtdetr" / "model.safetensors").write_bytes(b"the calibrated RT-DETR")
    detectors = {"yolo_weights": str(tmp_path / "yolo.pt"), "hf_model": str(tmp_path / "rtdetr")}
    file = tmp_path / "ensemble.json"
    file.write_text(
        json.dumps(
            {
                "detectors": {
                    name: weights_fingerprint(detectors[key])
                    for name, key in [("yolo", "yolo_weights"), ("hf", "hf_model")]
                },
                "weights": {"yolo": 1.0, "hf": 0.1},
                "conf": {"yolo": 0.4, "hf": 0.7},
                "conf_type": "avg",
                "agnostic_iou": 0.5,
            }
        )
    )
    config = ExtractConfig(images="x", ensemble_weights_file=str(file), **detectors)
    assert [(s.name, s.conf, s.weight) for s in config.detector_specs()] == [("yolo", 0.4, 1.0), ("hf", 0.7, 0.1)]
    assert config.fusion().conf_type == "avg" and config.fusion().agnostic_iou == 0.5
    assert config.conf_source("yolo")[1] == f"calibration file {file}"
    given = ExtractConfig(
        images="x", ensemble_weights_file=str(file), yolo_conf=0.25, conf_type="max", agnostic_iou=1.0, **detectors
    )
    assert given.detector_specs()[0].conf == 0.25 and given.fusion().conf_type == "max"
    assert given.fusion().agnostic_iou == 1.0
    parser = SettingsParser(ExtractConfig, prog="extract", description="", params_sections=("01",))
    parsed, _ = parser.parse(
        [
            "--images",
            "x",
            "--yolo_conf",
            "0.25",
            "--ensemble_weights_file",
            str(file),
            "--yolo_weights",
            detectors["yolo_weights"],
            "--hf_model",
            detectors["hf_model"],
        ]
    )
    assert parsed.yolo_conf == 0.25 and parsed.detector_specs()[1].conf == 0.7  # "float | None" options parse as float
    bare = ExtractConfig(images="x", **detectors)
    assert [s.conf for s in bare.detector_specs()] == [0.5, 0.5] and bare.fusion().conf_type == "max"
    assert bare.fusion().agnostic_iou == 1.0  # one label per object is off unless calibration or you ask


def test_a_calibration_file_applies_only_to_the_detector_weights_it_was_made_for(tmp_path, caplog):
    """From the checkout, a user's own detector beside the demo's calibration file gets the documented
    defaults, and the log says so and where each threshold came from."""
    from helpers.core.io import weights_fingerprint

    (tmp_path / "demo.pt").write_bytes(b"the demo's detector")
    (tmp_path / "mine.pt").write_bytes(b"a user's own detector")
    file = tmp_path / "ensemble.json"
    file.write_text(
        json.dumps(
            {
                "detectors": {"yolo": weights_fingerprint(tmp_path / "demo.pt")},
                "conf": {"yolo": 0.1},
                "weights": {"yolo": 1.0},
                "conf_type": "avg",
            }
        )
    )
    demo = ExtractConfig(images=str(tmp_path), yolo_weights=str(tmp_path / "demo.pt"), ensemble_weights_file=str(file))
    assert demo.conf_of("yolo") == 0.1 and demo.fusion().conf_type == "avg"
    with caplog.at_level("INFO", logger="helpers.cv.config"):
        mine = ExtractConfig(
            images=str(tmp_path), yolo_weights=str(tmp_path / "mine.pt"), ensemble_weights_file=str(file)
        )
        assert [s.conf for s in mine.detector_specs()] == [DEFAULT_CONF] and mine.fusion().conf_type == "max"
    assert "made for other detector weights (yolo differ)" in caplog.text
    assert f"yolo threshold {DEFAULT_CONF} (default)" in caplog.text
    missing = ExtractConfig(
        images=str(tmp_path), yolo_weights=str(tmp_path / "mine.pt"), ensemble_weights_file="nope.json"
    )
    with pytest.raises(FileNotFoundError, match="Calibration file .*nope.json"):
        missing.check_inputs()


def test_a_threshold_low_enough_to_describe_hundreds_of_boxes_is_warned_about(caplog):
    with caplog.at_level("WARNING", logger="helpers.cv.config"):
        ExtractConfig(images="x", yolo_weights="y.pt", yolo_conf=0.3).detector_specs()
        assert not caplog.records
        ExtractConfig(images="x", yolo_weights="y.pt", yolo_conf=0.001).detector_specs()
    assert "yolo threshold 0.001: every box it scores at least that is described" in caplog.text


def test_the_demo_models_and_the_command_write_a_calibrated_ensemble_file(tiny_demo, tiny_cv_models, tmp_path):
    saved = json.loads((tiny_cv_models / "ensemble.json").read_text())
    assert set(saved) >= {"weights", "conf", "conf_type", "validation", "table"}
    assert saved["validation"]["photos"] == 2 and 0 <= saved["validation"]["count_accuracy"] <= 1
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "helpers",
            "calibrate",
            "--images",
            str(tiny_demo / "data.yaml"),
            "--yolo_weights",
            str(tiny_cv_models / "yolo_detector.pt"),
            "--hf_model",
            "",
            "--ensemble_weights_file",
            str(tmp_path / "ensemble.json"),
            "--imgsz",
            "160",
        ],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    written = json.loads((tmp_path / "ensemble.json").read_text())
    assert list(written["conf"]) == ["yolo"] and written["validation"]["before"]["conf"] == {"yolo": 0.5}
    from helpers.core.io import weights_fingerprint

    assert written["detectors"] == {"yolo": weights_fingerprint(tiny_cv_models / "yolo_detector.pt")}
    unlabelled = subprocess.run(
        [
            sys.executable,
            "-m",
            "helpers",
            "calibrate",
            "--images",
            str(tiny_demo / "train" / "images"),
            "--yolo_weights",
            str(tiny_cv_models / "yolo_detector.pt"),
            "--hf_model",
            "",
            "--ensemble_weights_file",
            str(tmp_path / "other.json"),
        ],
        capture_output=True,
        text=True,
    )
    assert unlabelled.returncode != 0 and "needs labelled photos" in unlabelled.stderr


def test_mcnemar_p_is_the_exact_one_sided_binomial_tail():
    from helpers.cv.calibrate import mcnemar_p

    assert mcnemar_p(0, 0) == 1.0 and mcnemar_p(1, 0) == 0.5 and mcnemar_p(5, 0) == 1 / 32
    assert mcnemar_p(6, 1) == 8 / 128 and mcnemar_p(0, 3) == 1.0


def test_the_current_settings_stay_unless_the_best_is_better_beyond_chance():
    """Session 3: on 40 demo photos the best of 1,215 settings won by one photo and was adopted."""
    from helpers.cv.calibrate import calibrate_against

    truths, good, noisy = _photos()
    current = {"conf": {"good": 0.5, "noisy": 0.5}, "weights": {"good": 1.0, "noisy": 1.0}, "conf_type": "max"}
    few = calibrate_against({"good": good, "noisy": noisy}, truths, current)
    assert few["significance"]["better"] == 4 and few["significance"]["worse"] == 0  # p = 1/16: could be chance
    assert few["kept_current"] and few["choice"] == few["baseline"] and few["choice"]["conf"] == current["conf"]
    many = calibrate_against({"good": good * 3, "noisy": noisy * 3}, truths * 3, current)
    assert many["significance"]["better"] == 12 and not many["kept_current"]  # p = 1/4096
    assert many["choice"]["count_accuracy"] == 1.0 and many["choice"]["weights"]["noisy"] == min(WEIGHTS)


def test_demo_models_calibrated_by_an_older_calibration_are_calibrated_again_not_retrained(
    tiny_demo, tiny_cv_models, tmp_path
):
    from helpers.demo.models import CALIBRATION_VERSION, QUICK, build_models

    old = tmp_path / "demo"
    shutil.copytree(tiny_cv_models, old)
    manifest = json.loads((old / "manifest.json").read_text())
    assert manifest["ensemble"]["scores_aligned_to"] == 0.5
    assert manifest["ensemble"]["calibration_version"] == CALIBRATION_VERSION
    for key in ("scores_aligned_to", "calibration_version", "agnostic_iou"):  # as a folder built before them
        del manifest["ensemble"][key]
    (old / "manifest.json").write_text(json.dumps(manifest))
    (old / "ensemble.json").unlink()
    weights = (old / "yolo_detector.pt").read_bytes()
    again = build_models(tiny_demo / "data.yaml", old, QUICK)
    assert again["reused"] and again["ensemble"]["scores_aligned_to"] == 0.5
    assert again["ensemble"]["calibration_version"] == CALIBRATION_VERSION and "agnostic_iou" in again["ensemble"]
    assert json.loads((old / "ensemble.json").read_text())["scores_aligned_to"] == 0.5
    assert json.loads((old / "manifest.json").read_text())["ensemble"] == again["ensemble"]
    assert (old / "yolo_detector.pt").read_bytes() == weights, "the detectors were not retrained"


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.lists(
            st.tuples(
                st.floats(0, 0.8),
                st.floats(0, 0.8),
                st.floats(0.05, 0.9),
                st.sampled_from(["a", "b"]),
                st.floats(0.02, 0.2),
            ),
            max_size=6,
        ),
        min_size=2,
        max_size=2,
    ),
    st.sampled_from(THRESHOLDS),
    st.sampled_from(CONF_TYPES),
)
def test_one_fusion_for_every_thinning_counts_as_each_setting_alone(found, threshold, conf_type):
    """calibrate fuses each photo once for all thinnings (`agnostic_iou`, `agnostic_ios`); the counts must be
    the ones each setting gives when scored on its own (overlapping and nested boxes of two labels from two
    detectors), and the ones 01's fusion describes."""
    per_model = {
        name: [
            Detections(
                np.array([[x, y, x + side, y + side] for x, y, _, _, side in boxes]).reshape(-1, 4),
                [score for _, _, score, *_ in boxes],
                [label for _, _, _, label, _ in boxes],
            )
        ]
        for name, boxes in zip(("one", "two"), found)
    }
    conf = {"one": threshold, "two": 0.1}
    setting = {"conf": conf, "weights": {"one": 1.0, "two": 0.5}, "conf_type": conf_type}
    mine = []  # as 01 fuses them: each detector's boxes above its threshold, scores on the describer's scale
    for name, (detections,) in per_model.items():
        keep = detections.scores >= conf[name]
        kept = Detections(detections.boxes[keep], detections.scores[keep], list(np.array(detections.labels)[keep]))
        mine.append(align_scores(kept, conf[name], 0.5))
    thinnings = ((1.0, 1.0), (0.5, 1.0), (0.1, 1.0), (1.0, 0.8), (0.5, 0.5))
    together = photo_counts_each(per_model, setting, thinnings, 0.5)
    for (iou, ios), (counted,) in together.items():
        fusion = FusionSettings(iou_thr=0.55, conf_type=conf_type, agnostic_iou=iou, agnostic_ios=ios)
        fused = fuse(mine, ["one", "two"], [1.0, 0.5], fusion)
        assert counted == Counter(r["label"] for r in fused if r["confidence"] >= 0.5)
        assert [counted] == photo_counts(per_model, {**setting, "agnostic_iou": iou, "agnostic_ios": ios}, 0.5)


def test_saved_predictions_calibrate_without_the_detector_and_the_file_names_them(tmp_path, caplog):
    """Ultralytics save_txt labels of a validation split: the true plastic boxes at 0.8, a false glass box
    at 0.35 on every photo. From a threshold of 0.2 (every photo's count wrong), calibration without any
    model finds one that makes every count exact; the file records the predictions' fingerprint, so 01
    takes its settings for these predictions and not for changed ones; a photo whose label file cannot
    be read is left out and said."""
    from helpers.commands.calibrate import main
    from helpers.core.io import predictions_fingerprint

    root, predicted = tmp_path / "data", tmp_path / "predicted"
    for folder in ("images/train", "images/val", "labels/val"):
        (root / folder).mkdir(parents=True)
    predicted.mkdir()
    Image.new("RGB", (64, 48)).save(root / "images/train/t.jpg")
    for index in range(13):
        Image.new("RGB", (64, 48)).save(root / f"images/val/p{index:02d}.jpg")
        boxes = [f"0.{k + 1} 0.2 0.05 0.05" for k in range(index % 3 + 1)]
        (root / f"labels/val/p{index:02d}.txt").write_text("".join(f"0 {box}\n" for box in boxes))
        found = [f"0 {box} 0.8\n" for box in boxes] + ["1 0.5 0.8 0.1 0.1 0.35\n"]
        (predicted / f"p{index:02d}.txt").write_text("".join(found))
    (predicted / "p12.txt").write_text("0 0.5 0.5 0.1 0.1\n")  # predicted without save_conf
    (root / "data.yaml").write_text(f"path: {root}\ntrain: images/train\nval: images/val\nnames: [plastic, glass]\n")
    file = tmp_path / "calibrated.json"
    with caplog.at_level("WARNING", logger="helpers.cv.calibrate"):
        status = main(
            ["--images", str(root / "data.yaml"), "--yolo_predictions", str(predicted), "--yolo_conf", "0.2"]
            + ["--ensemble_weights_file", str(file)]
        )
    assert status == 0 and "1 of 13 photos left out of the calibration" in caplog.text
    written = json.loads(file.read_text())
    assert written["validation"]["photos"] == 12 and written["validation"]["before"]["count_accuracy"] == 0.0
    assert written["validation"]["count_accuracy"] == 1.0 and 0.35 < written["conf"]["yolo"] <= 0.8
    assert written["detectors"] == {"yolo": predictions_fingerprint(predicted)}
    extract = ExtractConfig(
        images=str(root / "data.yaml"), yolo_predictions=str(predicted), ensemble_weights_file=str(file)
    )
    assert extract.conf_of("yolo") == written["conf"]["yolo"]
    (predicted / "p00.txt").write_text("0 0.1 0.2 0.05 0.05 0.9\n")  # other predictions
    assert ExtractConfig(**{**extract.__dict__}).conf_of("yolo") == DEFAULT_CONF


def test_a_photo_that_cannot_be_read_is_left_out_of_the_calibration(tiny_demo, tiny_cv_models, tmp_path, caplog):
    """As in extraction, one bad photo costs that photo, not the calibration; the others get the
    detections they got before."""
    from helpers.cv.calibrate import collect_detections
    from helpers.cv.sources import open_image_source

    demo = shutil.copytree(tiny_demo, tmp_path / "demo")
    config = ExtractConfig(
        images=str(demo / "data.yaml"),
        yolo_weights=str(tiny_cv_models / "yolo_detector.pt"),
        hf_model=str(tiny_cv_models / "rtdetr"),
        device="cpu",
        imgsz=160,
        batch_size=1,
    )
    whole, truths = collect_detections(config)
    first = next(item for item in open_image_source(demo / "data.yaml").items if item.split == "val")
    first.path.write_bytes(first.path.read_bytes()[:200])  # cut off
    per_model, kept = collect_detections(config)
    assert set(per_model) == set(whole) == {"yolo", "hf"} and len(whole["yolo"]) == 2

    def found(detections: list[Detections]) -> list:
        return [(d.boxes.tolist(), d.scores.tolist(), d.labels) for d in detections]

    assert all(found(per_model[name]) == found(whole[name][1:]) for name in whole) and kept == truths[1:]
    assert "1 of 2 photos left out of the calibration" in caplog.text and first.name in caplog.text
