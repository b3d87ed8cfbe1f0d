"""One `desclm` command (issue 30): subcommands, help on every option shown once, settings from the
config dataclasses and `--params`, one-line errors with status 2 before any model loads, quiet `-q`,
and a warning with its own exit status when the grammar wrote most sentences."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from PIL import Image

from helpers.commands import COMMANDS
from helpers.commands import main as desclm
from helpers.commands.parsing import SettingsParser
from helpers.core.settings import setting
from helpers.describer.options import FALLBACK_EXIT_STATUS

DESCLM = Path(sys.executable).parent / "desclm"
# Every (sub)command that parses settings, as typed after `desclm`.
PARSED = [
    ["extract"],
    ["extract", "merge"],
    ["calibrate"],
    ["pairs"],
    ["synth"],
    ["train"],
    ["export-ct2"],
    ["describe"],
    ["describe", "merge"],
    ["pipeline"],
    ["demo", "dataset"],
    ["demo", "models"],
    ["demo", "truth"],
    ["demo", "notebooks"],
    ["bench", "extract"],
    ["bench", "null"],
    ["bench", "train"],
    ["bench", "describe"],
    ["gpu-check"],
]
RECORD = {
    "id": "a",
    "detections": [{"label": "plastic", "confidence": 0.9}],
    "scene": {"class": "grass", "confidence": 0.9},
}


def test_desclm_lists_every_command_from_another_folder(tmp_path):
    finished = subprocess.run([str(DESCLM), "--help"], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert finished.returncode == 0, finished.stderr
    for name in COMMANDS:
        assert f"\n    {name}" in finished.stdout, name
    version = subprocess.run([str(DESCLM), "--version"], capture_output=True, text=True, timeout=120)
    assert version.returncode == 0 and version.stdout.split() == ["desclm", metadata.version("desclm")]
    unknown = subprocess.run([str(DESCLM), "extrakt"], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert unknown.returncode == 2 and "invalid choice: 'extrakt'" in unknown.stderr


def _parser_of(words: list[str], monkeypatch) -> SettingsParser:
    """The parser a subcommand builds (caught when it parses `--help`)."""
    built = []

    def catch(self, argv=None):
        built.append(self)
        raise SystemExit(0)

    monkeypatch.setattr(SettingsParser, "parse", catch)
    with pytest.raises(SystemExit):
        desclm([*words, "--help"])
    monkeypatch.undo()
    return built[0]


def test_ctrl_c_ends_a_command_with_one_line_and_the_shells_status(monkeypatch, capsys):
    import helpers.commands.synth as synth

    def interrupted(argv, prog):
        raise KeyboardInterrupt

    monkeypatch.setattr(synth, "main", interrupted)
    assert desclm(["synth", "--input", "x.jsonl"]) == 130
    message = capsys.readouterr().err
    assert message.startswith("desclm synth: interrupted.") and "Traceback" not in message and message.count("\n") == 1


@pytest.mark.parametrize("words", PARSED, ids=" ".join)
def test_every_option_has_help_and_is_shown_once(words, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)  # from another working directory
    parser = _parser_of(words, monkeypatch)
    text = parser.format_help()
    assert parser.prog == "desclm " + " ".join(words)
    for action in parser._actions:
        assert action.help and action.help.strip(), f"{words}: {action.option_strings or action.dest} has no help"
        for alias in [o for o in action.option_strings if "-" in o[2:] or "_" in o[2:]]:
            listed = re.search(rf"(?<![\w-]){re.escape(alias)}(?![\w-])", text)
            assert bool(listed) == (alias in getattr(action, "shown", action.option_strings[:1])), alias
    assert {"-v", "-q"} <= {o for a in parser._actions for o in a.option_strings}


def test_a_notebook_started_under_a_quiet_command_writes_no_warning_about_progress_bars():
    """A process that ran a command with `-q` (HF_HUB_DISABLE_PROGRESS_BARS=1) starts a notebook: its set-up asks
    for bars and Hugging Face Hub, which read the variable when imported, keeps them off without a warning
    (it printed one into the report's cells)."""
    script = (
        "import os, warnings; os.environ['HF_HUB_DISABLE_PROGRESS_BARS'] = '1'; import transformers\n"
        "warnings.simplefilter('error')\n"
        "from helpers.core.logs import setup_logging; setup_logging(0)\n"
    )
    finished = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert finished.returncode == 0, finished.stderr


def test_help_loads_no_model_library():
    """What keeps `desclm describe --help` quick: the parser is built from light settings modules."""
    code = (
        "import sys\nfrom helpers.commands import main\n"
        "for words in (['describe'], ['train'], ['extract'], ['pairs'], ['bench', 'describe']):\n"
        "    try:\n        main([*words, '--help'])\n    except SystemExit:\n        pass\n"
        "print(sorted(m for m in ('torch', 'ultralytics', 'ctranslate2', 'inflect') if m in sys.modules))"
    )
    finished = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert finished.returncode == 0, finished.stderr
    assert finished.stdout.strip().splitlines()[-1] == "[]"


def test_settings_come_from_params_then_options_and_unknown_names_are_refused(tmp_path, monkeypatch, capsys):
    parser = _parser_of(["train"], monkeypatch)
    (tmp_path / "run.yaml").write_text("03_train_t5:\n  adapter: lora\n  lora_rank: 4\n  epochs: 2\n")
    config, _ = parser.parse(["--params", str(tmp_path / "run.yaml"), "--epochs", "3", "--lora-rank", "8"])
    assert (config.adapter, config.lora_rank, config.epochs) == ("lora", 8, 3.0), (
        "the file, then options (any spelling)"
    )
    (tmp_path / "typo.yaml").write_text("lora_rnak: 4\n")
    with pytest.raises(SystemExit) as exit_:
        _parser_of(["train"], monkeypatch).parse(["--params", str(tmp_path / "typo.yaml")])
    assert exit_.value.code == 2 and "unknown setting(s) ['lora_rnak']" in capsys.readouterr().err
    (tmp_path / "pipeline.yaml").write_text(
        "01_cv_extract:\n  images: photos\n  yolo_weights: my.pt\n  yolo_conf: 0.3\n  sample_images: 4\n"
    )
    config, _, _ = _parser_of(["extract"], monkeypatch).parse(["--params", str(tmp_path / "pipeline.yaml")])
    assert (config.images, config.yolo_conf) == ("photos", 0.3), (
        "a pipeline file's section; its report's settings skipped"
    )
    with pytest.raises(SystemExit):
        _parser_of(["train"], monkeypatch).parse(["--adapter", "lorra"])
    assert "adapter must be one of" in capsys.readouterr().err, "the config's own check, as one line"


@dataclass
class _Settings:
    described: str = setting(help="rows", positional=True)
    max_photos: int = setting(10, "most")
    guard: bool = setting(True, "check")
    sizes: list[int] = setting(help="sizes", factory=lambda: [1])
    title: str = setting("", "title")
    label_map: dict = setting(help="map", factory=dict)


@hypothesis_settings(max_examples=80, deadline=None)
@given(
    st.text(alphabet="ab/.=,_ ", min_size=1, max_size=8).filter(lambda t: not t.startswith("-")),
    st.integers(-5, 10**6),
    st.booleans(),
    st.lists(st.integers(0, 99), min_size=1, max_size=4),
    st.text(alphabet="xy =,-:", max_size=8).filter(lambda t: not t.startswith("-")),
    st.dictionaries(st.sampled_from(["bottle", "can"]), st.sampled_from(["plastic", "a=b"]), max_size=2),
    st.permutations(range(6)),
)
def test_name_equals_value_as_the_yolo_command_takes_settings_reads_as_its_options(
    described, most, guard, sizes, title, label_map, order
):
    """`desclm extract images=photos/ precision=fp16`: the same settings as `--name value`, in any order;
    an option's value that looks like `name=value` stays that option's value."""
    parser = SettingsParser(_Settings, prog="desclm test", description="test")
    options = [
        [described],
        ["--max_photos", str(most)],
        ["--guard" if guard else "--no_guard"],
        ["--sizes", *map(str, sizes)],
        ["--title", title],
        ["--label_map", json.dumps(label_map)],
    ]
    named = [
        f"described={described}",
        f"max_photos={most}",
        f"guard={'yes' if guard else 'False'}",
        "sizes=" + ",".join(map(str, sizes)),
        f"title={title}",
        f"label_map={json.dumps(label_map)}",
    ]
    expected = _Settings(described, most, guard, sizes, title, label_map)
    assert parser.parse([word for option in options for word in option])[0] == expected
    assert parser.parse([named[index] for index in order])[0] == expected
    mixed = [described, *named[1:4], "--title", "max_photos=3"]
    assert parser.parse(mixed)[0] == _Settings(described, most, guard, sizes, "max_photos=3", {})


def test_the_yolo_commands_names_work_for_extract_on_the_command_line_and_in_a_params_file(tmp_path):
    """`desclm extract source=photos/ model=best.pt conf=0.3 batch=4`, as `yolo predict` is typed; the same
    names in a `--params` file; `--help` says so; the field names still work beside them."""
    from helpers.cv.config import ExtractConfig

    parser = SettingsParser(ExtractConfig, prog="desclm extract", description="test")
    expected = {"images": "photos/", "yolo_weights": "best.pt", "yolo_conf": 0.3, "batch_size": 4}
    for argv in (
        ["source=photos/", "model=best.pt", "conf=0.3", "batch=4"],
        ["--source", "photos/", "--model", "best.pt", "--conf", "0.3", "--batch", "4"],
        ["images=photos/", "yolo_weights=best.pt", "--yolo_conf", "0.3", "batch_size=4"],
    ):
        config = parser.parse(argv)[0]
        assert {name: getattr(config, name) for name in expected} == expected, argv
    (tmp_path / "yolo.yaml").write_text("source: photos/\nmodel: best.pt\nconf: 0.3\nbatch: 4\n")
    config = SettingsParser(ExtractConfig, prog="desclm extract", description="test").parse(
        ["--params", str(tmp_path / "yolo.yaml")]
    )[0]
    assert {name: getattr(config, name) for name in expected} == expected
    shown = parser.format_help()
    assert "(also source=, as for yolo)" in " ".join(shown.split()) and "--source" not in shown


def test_a_switch_given_another_word_is_one_error_line(capsys):
    with pytest.raises(SystemExit) as exit_:
        SettingsParser(_Settings, prog="desclm test", description="test").parse(["d", "guard=maybe"])
    assert exit_.value.code == 2 and "guard=maybe: guard is a switch: true or false" in capsys.readouterr().err


def _missing_cases(tmp: Path) -> dict[str, tuple[list[str], str]]:
    (tmp / "in.jsonl").write_text(json.dumps(RECORD) + "\n")
    (tmp / "photos").mkdir()
    (tmp / "not_a_model").mkdir()
    (tmp / "yolo.pt").write_bytes(b"not read: the calibration file is missing")
    photos = ["--images", str(tmp / "photos")]
    return {
        "yolo weights": (["extract", *photos, "--yolo_weights", "gone.pt"], "Ultralytics detection checkpoint"),
        "weights a folder": (["extract", *photos, "--yolo_weights", "photos"], "a folder Ultralytics exported"),
        "hf model folder": (["extract", *photos, "--hf_model", "not_a_model"], "has no config.json"),
        "scene weights": (
            ["extract", *photos, "--yolo_weights", "yolo.pt", "--scene_weights", "scene.pt"],
            "Ultralytics classification checkpoint",
        ),
        "calibration file": (
            ["extract", *photos, "--yolo_weights", "yolo.pt", "--ensemble_weights_file", "cal.json"],
            "Calibration file",
        ),
        "settings file": (["extract", "--params", "gone.yaml"], "settings file not found"),
        "images": (["extract", "--images", "no_photos", "--yolo_weights", "yolo.pt"], "no_photos"),
        "describer": (["describe", "no_model", "--input", "in.jsonl", "--output", "o.jsonl"], "Describer model folder"),
        "input": (["describe", "not_a_model", "--input", "gone.jsonl", "--output", "o.jsonl"], "gone.jsonl"),
        "describer no settings": (
            ["describe", "not_a_model", "--input", "in.jsonl", "--output", "o.jsonl"],
            "llm_config.json",
        ),
        "pairs folder": (["train", "--pairs_dir", "no_pairs"], "Pairs folder"),
        "cv outputs": (["pairs", "--cv_outputs", "gone.jsonl", "--output_dir", "pairs"], "CV outputs"),
        "export": (["export-ct2", "no_model"], "Describer model folder"),
        "synth input": (["synth", "--input", "gone.jsonl", "--output", "o.jsonl"], "Input records"),
    }


MISSING = [
    "yolo weights",
    "weights a folder",
    "hf model folder",
    "scene weights",
    "calibration file",
    "settings file",
    "images",
    "describer",
    "input",
    "describer no settings",
    "pairs folder",
    "cv outputs",
    "export",
    "synth input",
]


@pytest.mark.parametrize("case", MISSING)
def test_a_missing_file_is_one_line_and_exit_status_2_and_leaves_no_file(case, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    words, named = _missing_cases(tmp_path)[case]
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    with pytest.raises(SystemExit) as exit_:
        desclm(words)
    err = capsys.readouterr().err
    assert exit_.value.code == 2
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith(f"desclm {words[0]}: error: ") and named in lines[0], err
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == before, "a failed start writes nothing"


def test_python_m_helpers_is_the_desclm_command_and_quiet_prints_nothing(model_dir, tmp_path):
    (tmp_path / "in.jsonl").write_text("".join(json.dumps({**RECORD, "id": str(i)}) + "\n" for i in range(6)))
    runs = []
    for index, (command, quiet) in enumerate((([str(DESCLM)], []), ([sys.executable, "-m", "helpers"], ["-q"]))):
        output = tmp_path / f"out{index}.jsonl"
        words = ["describe", str(model_dir), "--input", "in.jsonl", "--output", str(output), "--max_grammar_share", "1"]
        finished = subprocess.run([*command, *words, *quiet], cwd=tmp_path, capture_output=True, text=True, timeout=300)
        assert finished.returncode == 0, finished.stderr[-2000:]
        runs.append((output.read_bytes(), finished))
    (loud_output, loud), (quiet_output, quiet) = runs
    assert loud_output == quiet_output and loud_output.count(b"\n") == 6, "the same command, the same file"
    assert "describe: 100%" in loud.stderr and "6/6" in loud.stderr, "a progress bar by default"
    assert quiet.stderr == "" and quiet.stdout == "", "-q: no bars, ours or the libraries' ('Loading weights')"


def test_a_describer_that_barely_trained_makes_describe_warn_with_its_own_exit_status(pairs_dir, tmp_path):
    from helpers.describer.describe import Describer
    from helpers.training.config import TrainConfig
    from helpers.training.train import train

    folder = tmp_path / "twenty_steps"
    steps = {"max_steps": 20, "eval_steps": 20, "eval_samples": 8, "batch_size": 8}
    train(TrainConfig(pairs_dir=str(pairs_dir), output_dir=str(folder), **steps))
    records = [json.loads(line)["cv"] for line in (pairs_dir / "test.jsonl").read_text().splitlines()[:12]]
    (tmp_path / "in.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    sources = [d.source for d in Describer.load(folder).describe_detailed(records)]
    assert sources.count("grammar") > len(sources) / 2, f"the case: the grammar writes most lines ({sources})"
    base = [str(DESCLM), "describe", str(folder), "--input", "in.jsonl"]
    warned = subprocess.run([*base, "--output", "a.jsonl"], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert warned.returncode == FALLBACK_EXIT_STATUS, warned.stderr[-2000:]
    assert "the model is not doing the work" in warned.stderr
    assert len((tmp_path / "a.jsonl").read_text().splitlines()) == len(records), "the faithful output is written"
    # allowed: here, in this process (the command line's exit status is the one above)
    words = ["describe", str(folder), "--input", str(tmp_path / "in.jsonl"), "--output", str(tmp_path / "b.jsonl")]
    assert desclm([*words, "--max_grammar_share", "1"]) == 0


def test_a_weights_file_the_library_cannot_load_is_one_error_line_and_writes_nothing(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "photos").mkdir()
    Image.new("RGB", (64, 48)).save(tmp_path / "photos" / "a.jpg")
    (tmp_path / "best.pt").write_text("not a checkpoint\n")
    before = sorted(tmp_path.rglob("*"))
    with pytest.raises(SystemExit) as exit_:
        desclm(["extract", "--images", "photos", "--yolo_weights", "best.pt", "--output", "out/cv.jsonl"])
    errors = [line for line in capsys.readouterr().err.splitlines() if "error" in line]
    assert exit_.value.code == 2 and len(errors) == 1, errors
    assert f"{tmp_path / 'best.pt'} could not be loaded as a model" in errors[0]
    assert sorted(tmp_path.rglob("*")) == before, "no output, errors or manifest file"
