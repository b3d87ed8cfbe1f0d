"""The papermill runner: parameter files, the full run with reports, and stopping at a failure."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest
import yaml

from helpers.core.pipeline import NotebookFailed, load_params, notebook_parameters, record_seconds, run_pipeline
from helpers.describer.evaluate import verdict


def _params_file(tmp_path, sections: dict):
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(sections))
    return path


def _demo_sections(tmp_path, tiny_demo) -> dict:
    """Parameters that keep every output of a run inside tmp_path."""
    work = tmp_path / "work"
    return {
        "shared": {"max_images": 11, "not_declared_anywhere": 1},
        "01": {"images": str(tiny_demo / "data.yaml"), "output": str(work / "cv.jsonl"), "detections_from": "labels"},
        "02_synth_descriptions": {
            "cv_outputs": str(work / "cv.jsonl"),
            "output_dir": str(work / "pairs"),
            "synthetic_records": 20,
            "comparison_records": 20,
        },
        "03": {
            "pairs_dir": str(work / "pairs"),
            "output_dir": str(work / "model"),
            "max_steps": 4,
            "eval_steps": 2,
            "eval_samples": 4,
            "batch_size": 4,
            "sample_count": 2,
        },
        "04": {
            "model_dir": str(work / "model"),
            "pairs_dir": str(work / "pairs"),
            "output_dir": str(work / "eval"),
            "stress_records": 3,
            "timing_records": 2,
            "gallery_size": 2,
        },
    }


def test_shared_values_go_only_where_declared_and_sections_are_checked(tmp_path):
    params = load_params(_params_file(tmp_path, {"shared": {"seed": 1, "max_images": 3}, "01": {"output": "x.jsonl"}}))
    assert notebook_parameters(params, "01", {"max_images", "output", "images"}) == {
        "max_images": 3,
        "output": "x.jsonl",
    }
    assert notebook_parameters(params, "02", {"cv_outputs"}) == {}
    with pytest.raises(ValueError, match="unknown parameter.*'outptu'"):
        notebook_parameters({"01_cv_extract": {"outptu": "x"}}, "01", {"output"})
    with pytest.raises(ValueError, match="unknown section"):
        load_params(_params_file(tmp_path, {"05_deploy": {"a": 1}}))
    with pytest.raises(FileNotFoundError, match="no-such.yaml"):
        load_params(tmp_path / "no-such.yaml")


def test_full_run_writes_executed_notebooks_html_and_metrics(tmp_path, tiny_demo):
    params = _params_file(tmp_path, _demo_sections(tmp_path, tiny_demo))
    reports = run_pipeline(params, run="t", reports_dir=tmp_path / "reports")
    assert [r.name for r in reports] == ["01_cv_extract", "02_synth_descriptions", "03_train_t5", "04_evaluate"]
    timings = json.loads((tmp_path / "reports" / "t" / "timings.json").read_text())
    assert list(timings) == [r.name for r in reports] and all(seconds > 0 for seconds in timings.values())
    for report in reports:
        assert report.notebook.exists() and report.html.read_text().lstrip().lower().startswith("<!doctype html>")
    work = tmp_path / "work"
    metrics = json.loads((work / "cv.metrics.json").read_text())
    assert metrics["images"] == 11 and metrics["failed"] == 0
    # 03 (its own papermill test before, the same notebook): the report states the export's numbers
    training = json.loads((work / "model" / "train.metrics.json").read_text())
    llm_config = json.loads((work / "model" / "llm_config.json").read_text())
    assert training["global_step"] == 4 == llm_config["global_step"]
    assert training["val_faithfulness"] == llm_config["validation"]["faithfulness"]
    # 04: every group, the guard's checks, the verdict, the model card, speed and the roll-up
    evaluation = json.loads((work / "eval" / "metrics.json").read_text())
    groups = evaluation["groups"]
    assert set(groups) == {
        "test",
        "many_detections",
        "unseen_labels",
        "label_variants",
        "low_confidence_noise",
        "weak_scene",
        "empty",
    }
    assert groups["many_detections"]["records"] == 3 and evaluation["verdict"]["guarded_faithful_min_stress"] == 1.0
    assert all(g["guarded"]["faithful"] == 1.0 and g["grammar"]["faithful"] == 1.0 for g in groups.values())
    writing = ("agreement_errors", "off_style_words", "numeral_errors", "form_errors")
    assert all(g["guarded"][kind] == 0 for g in groups.values() for kind in writing), "the guard checks writing too"
    assert all(sum(g["guard_paths"].values()) == g["records"] for g in groups.values())
    assert evaluation["verdict"] == verdict(groups), "the notebook's verdict is the code's"
    card = (work / "model" / "README.md").read_text()
    assert card.startswith("---\nlibrary_name: transformers\n") and "| many_detections | 3 |" in card, card[:600]
    assert {row["backend"] for row in evaluation["speed"]} == {"hf", "ct2 float32", "ct2 int8"}
    assert 0 <= evaluation["text_quality"]["guarded"]["bleu"] <= 100
    records = (work / "eval" / "records.jsonl").read_text().splitlines()
    assert len(records) == sum(g["records"] for g in groups.values())
    rollup = {group["group"]: group for group in evaluation["rollup"]}
    assert sum(g["photos"] for g in rollup.values()) == 11 and len(rollup) == 3, "a group per split folder"
    assert all((work / "eval" / figure).stat().st_size > 0 for figure in ("rollup.png", "provenance.png"))
    for report in reports:  # issue 32, item 6: reports a person pastes
        html = report.html.read_text(encoding="utf-8")
        assert "hl-ipython3" not in html and "start_notebook()" not in html, f"{report.name}: code shown"
        assert not re.search(r"\d+%\|", html) and "it/s]" not in html, f"{report.name}: a progress bar"
        outputs = json.dumps([c.get("outputs") for c in json.loads(report.notebook.read_text())["cells"]])
        assert "{'loss'" not in outputs and "'eval_loss'" not in outputs, f"{report.name}: raw training logs"
        assert "start_notebook()" in report.notebook.read_text(), "the code stays in the executed .ipynb"
    assert "validation faithful" in reports[2].html.read_text(encoding="utf-8"), "a line per evaluation instead"
    verdict_html = reports[3].html.read_text(encoding="utf-8")
    assert "<th>target</th>" in verdict_html and "<th>met</th>" in verdict_html, "the verdict as a table"
    executed = json.loads(reports[0].notebook.read_text())
    injected = [c for c in executed["cells"] if "injected-parameters" in c["metadata"].get("tags", [])]
    assert "max_images = 11" in "".join(injected[0]["source"])
    assert "not_declared_anywhere" not in "".join(injected[0]["source"])


def test_only_runs_the_selected_notebooks(tmp_path, tiny_demo):
    params = _params_file(tmp_path, _demo_sections(tmp_path, tiny_demo))
    reports = run_pipeline(params, only=["01"], run="one", reports_dir=tmp_path / "reports")
    assert [r.name for r in reports] == ["01_cv_extract"]
    assert sorted(p.name for p in (tmp_path / "reports" / "one").iterdir()) == [
        "01_cv_extract.html",
        "01_cv_extract.ipynb",
        "timings.json",
    ]
    record_seconds(tmp_path / "reports" / "one" / "timings.json", "total", 12.34)  # as --total-since adds it
    timings = json.loads((tmp_path / "reports" / "one" / "timings.json").read_text())
    assert list(timings) == ["01_cv_extract", "total"] and timings["total"] == 12.3


def test_stops_at_the_first_failing_notebook_naming_it_and_the_error(tmp_path, tiny_demo):
    sections = _demo_sections(tmp_path, tiny_demo)
    sections["01"]["images"] = str(tmp_path / "missing" / "data.yaml")
    params = _params_file(tmp_path, sections)
    with pytest.raises(NotebookFailed) as failure:
        run_pipeline(params, run="bad", reports_dir=tmp_path / "reports")
    message = str(failure.value)
    assert (
        "01_cv_extract" in message
        and "FileNotFoundError" in message
        and str(tmp_path / "missing" / "data.yaml") in message
    )
    assert (tmp_path / "reports" / "bad" / "01_cv_extract.html").exists(), "the partial report is kept"
    assert not (tmp_path / "reports" / "bad" / "02_synth_descriptions.ipynb").exists(), "later notebooks did not run"

    command = [
        sys.executable,
        "-m",
        "helpers",
        "pipeline",
        "--params",
        str(params),
        "--run",
        "cli",
        "--reports_dir",
        str(tmp_path / "r"),
    ]
    finished = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert finished.returncode == 1
    assert "Pipeline stopped: 01_cv_extract failed" in finished.stderr
