"""The house rules: stages as subpackages over a small core, one contract between 02, 03 and 04,
notebook parameters that match their config dataclasses, and paths taken from where the user is."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

import papermill
import pytest

from helpers.core.contract import (
    LLM_CONFIG,
    ContractError,
    InputSpec,
    ModelSettings,
    Policy,
    load_model_settings,
    load_pairs_settings,
    write_model_settings,
)
from helpers.core.paths import NOTEBOOKS, NOTEBOOKS_DIR, PROJECT_ROOT
from helpers.pairs.synth import SynthConfig
from helpers.text.linearize import FORMATS
from helpers.training.config import TrainConfig


def test_the_layer_contracts_hold():
    """core <- text <- stages <- demo <- commands, and no import cycle inside a package (pyproject's
    import-linter contracts; checked by hand to fail on an added cycle, see the commit)."""
    finished = subprocess.run(
        [str(Path(sys.executable).parent / "lint-imports")],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert finished.returncode == 0, finished.stdout[-3000:]
    assert "2 kept, 0 broken" in finished.stdout


@pytest.mark.parametrize("key", sorted(NOTEBOOKS))
def test_each_notebook_declares_every_setting_of_its_stage_with_its_one_default(key):
    from helpers.demo.notebooks import expected_cell, notebook_settings

    declared = papermill.inspect_notebook(str(NOTEBOOKS_DIR / f"{NOTEBOOKS[key]}.ipynb"))
    fields = [f.name for config in notebook_settings()[key] for f in dataclasses.fields(config) if f.init]
    assert set(declared) == set(fields), "every setting (LoRA's too) can be given to the pipeline"
    notebook = json.loads((NOTEBOOKS_DIR / f"{NOTEBOOKS[key]}.ipynb").read_text())
    [cell] = [c for c in notebook["cells"] if "parameters" in c["metadata"].get("tags", [])]
    assert "".join(cell["source"]) == expected_cell(key), "run: desclm demo notebooks --write"


def test_a_field_added_to_a_config_and_not_to_its_notebook_is_caught():
    from helpers.core.settings import parameters_cell, setting
    from helpers.demo.notebooks import DEMO_VALUES, expected_cell

    @dataclasses.dataclass
    class Grown(TrainConfig):
        new_knob: int = setting(3, "a setting added later")

    from helpers.training.report import TrainReport

    assert parameters_cell([Grown, TrainReport], DEMO_VALUES.get("03")) != expected_cell("03")
    assert "new_knob: int = 3  # a setting added later" in parameters_cell([Grown, TrainReport])


def test_every_input_format_of_the_contract_is_implemented():
    from helpers.core.contract import INPUT_FORMATS

    assert set(FORMATS) == set(INPUT_FORMATS)


def _settings(**changes) -> ModelSettings:
    values = {
        "base_model": "scratch",
        "max_source_length": 40,
        "max_target_length": 30,
        "max_new_tokens": 38,
        "num_beams": 3,
    }
    return ModelSettings(InputSpec("compact", Policy(0.3, 0.6)), **{**values, **changes})


def test_model_settings_round_trip_and_broken_files_name_the_file_and_key(tmp_path):
    write_model_settings(tmp_path, _settings())
    assert load_model_settings(tmp_path) == _settings()
    path = tmp_path / LLM_CONFIG
    values = json.loads(path.read_text())
    for key, value, message in (
        ("num_beams", None, "'num_beams' is missing"),
        ("min_confidence", "high", "'min_confidence' must be float"),
        ("input_format", "xml", "input_format must be one of"),
        ("num_beams", 0, "'num_beams' must be >= 1"),
    ):
        broken = {k: v for k, v in values.items() if not (k == key and value is None)}
        if value is not None:
            broken[key] = value
        path.write_text(json.dumps(broken))
        with pytest.raises(ContractError, match=message) as error:
            load_model_settings(tmp_path)
        assert str(path) in str(error.value)
    path.write_text("{not json")
    with pytest.raises(ContractError, match="not valid JSON"):
        load_model_settings(tmp_path)
    with pytest.raises(ContractError, match="not found"):
        load_model_settings(tmp_path / "nowhere")


def test_a_non_default_spec_set_in_02_reaches_the_model_folder_and_the_describer(tiny_demo, tmp_path):
    """min_confidence and input_format chosen in 02 travel, through the files, to 03's folder and 04's describer."""
    from helpers.cv.extract import ground_truth_outputs
    from helpers.describer import Describer
    from helpers.pairs.synth import build_pairs
    from helpers.training.train import train

    ground_truth_outputs(tiny_demo / "data.yaml", tmp_path / "cv.jsonl")
    chosen = InputSpec("linked_end", Policy(min_confidence=0.35, scene_min_confidence=0.65))
    assert chosen != InputSpec(), "the test needs values other than the defaults"
    config = SynthConfig(
        cv_outputs=str(tmp_path / "cv.jsonl"),
        output_dir=str(tmp_path / "pairs"),
        synthetic_records=20,
        input_format=chosen.input_format,
        min_confidence=0.35,
        scene_min_confidence=0.65,
    )
    build_pairs(config)
    assert load_pairs_settings(tmp_path / "pairs")[0] == chosen
    train(
        TrainConfig(
            pairs_dir=str(tmp_path / "pairs"),
            output_dir=str(tmp_path / "model"),
            max_steps=2,
            eval_steps=2,
            eval_samples=4,
            batch_size=4,
            num_beams=2,
        )
    )
    assert load_model_settings(tmp_path / "model").spec == chosen
    describer = Describer.load(tmp_path / "model", guard=True)
    assert describer.settings.spec == chosen and describer.policy == chosen.policy
    record = {"detections": [{"label": "plastic", "confidence": 0.4}], "scene": {"class": "grass", "confidence": 0.7}}
    [described] = describer.describe_detailed([record])
    assert described.expected.counts == {"plastic": 1} and described.expected.scene == "grass", (
        "0.4 and 0.7 pass 0.35/0.65"
    )
    assert described.faithful


def _run(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "DESCLM_OFFLINE": "1"}
    return subprocess.run([sys.executable, "-m", *args], cwd=cwd, capture_output=True, text=True, timeout=300, env=env)


def test_command_line_paths_are_taken_from_the_working_directory(tmp_path):
    work = tmp_path / "elsewhere"
    work.mkdir()
    (work / "in.jsonl").write_text(
        json.dumps({"id": "a", "detections": [], "scene": {"class": "grass", "confidence": 0.9}}) + "\n"
    )
    finished = _run(["helpers", "synth", "--input", "in.jsonl", "--output", "out/described.jsonl"], work)
    assert finished.returncode == 0, finished.stderr
    assert json.loads((work / "out" / "described.jsonl").read_text())["id"] == "a"
    assert not (PROJECT_ROOT / "out").exists(), "nothing is written into the clone"
    missing = _run(["helpers", "describe", "mymodel", "--input", "in.jsonl", "--output", "o.jsonl"], work)
    assert missing.returncode != 0 and str(work / "mymodel") in missing.stderr + missing.stdout


def test_the_api_takes_relative_paths_from_the_working_directory(tmp_path, monkeypatch):
    from helpers.describer import Describer

    monkeypatch.chdir(tmp_path)
    with pytest.raises(FileNotFoundError, match=str(tmp_path / "mymodel")):
        Describer.load("mymodel")


def test_project_root_is_desclm_home_else_the_checkout_else_the_working_directory(tmp_path, monkeypatch):
    from helpers.core import paths

    monkeypatch.setenv("DESCLM_HOME", str(tmp_path / "home"))
    assert paths._project_root() == tmp_path / "home"
    monkeypatch.delenv("DESCLM_HOME")
    assert paths._project_root() == PROJECT_ROOT, "an editable install: the checkout"
    monkeypatch.setattr(paths, "_SOURCE_ROOT", tmp_path / "site-packages")  # no pyproject.toml or notebooks there
    monkeypatch.chdir(tmp_path)
    assert paths._project_root() == tmp_path
