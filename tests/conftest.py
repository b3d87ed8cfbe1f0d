"""Shared fixtures: small demo image sets built once per test session."""

from __future__ import annotations

import os
from html.parser import HTMLParser

import pytest
from hypothesis import settings

import helpers  # noqa: F401 - offline switches before any model library import
from helpers.core.contract import InputSpec, ModelSettings, Policy
from helpers.demo.dataset import DemoDatasetSpec, build_dataset

# CI draws the same examples on every run, so a red build points at a change, not at a lucky draw
# (session 3's CI found two real bugs by chance; each is now a fixed @example). Local runs explore:
# `pytest --hypothesis-seed=N` or the default profile's random draws.
settings.register_profile("ci", derandomize=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))


@pytest.fixture(scope="session")
def tiny_demo(tmp_path_factory):
    """A 12-image demo set (8 train, 2 valid, 2 test); read-only for tests."""
    out = tmp_path_factory.mktemp("demo") / "tiny"
    build_dataset(out, DemoDatasetSpec(seed=7, n_train=8, n_valid=2, n_test=2))
    return out


@pytest.fixture(scope="session")
def papermill_run():
    """Runs a project notebook with the papermill command line, as a user would; returns a runner."""
    import json
    import subprocess
    import sys
    from pathlib import Path

    from helpers.core.paths import NOTEBOOKS_DIR

    executable = Path(sys.executable).with_name("papermill")  # the one installed beside this Python

    def run(notebook: str, output, parameters: dict, timeout: int = 600):
        command = [str(executable), str(NOTEBOOKS_DIR / f"{notebook}.ipynb"), str(output)]
        for name, value in parameters.items():
            command += ["-p", name, str(value)]
        finished = subprocess.run(command, check=True, capture_output=True, timeout=timeout)
        # A report shows no red stderr boxes: library warnings are silenced, desclm logs to stdout.
        executed = json.loads(Path(output).read_text())
        stderr = [o["text"] for c in executed["cells"] for o in c.get("outputs", []) if o.get("name") == "stderr"]
        assert not stderr, f"{notebook} wrote to stderr: {stderr}"
        return finished

    return run


@pytest.fixture(scope="session")
def tiny_cv_models(tiny_demo, tmp_path_factory):
    """The demo CV models from a smoke build (a few images, one epoch or two steps):
    real checkpoints, useless detectors."""
    from helpers.demo.models import QUICK, build_models

    out = tmp_path_factory.mktemp("cv_models") / "demo"
    build_models(tiny_demo / "data.yaml", out, QUICK)
    return out


def cv_models_settings(tiny_cv_models, **overrides) -> dict:
    """Extraction settings for the smoke-built demo CV models (`tiny_cv_models`)."""
    return {
        "yolo_weights": str(tiny_cv_models / "yolo_detector.pt"),
        "hf_model": str(tiny_cv_models / "rtdetr"),
        "scene_weights": str(tiny_cv_models / "scene_classifier.pt"),
        "ensemble_weights_file": str(tiny_cv_models / "ensemble.json"),
        "imgsz": 160,
        "scene_imgsz": 64,
        "yolo_conf": 0.01,
        "hf_conf": 0.3,
        "batch_size": 4,
        **overrides,
    }


@pytest.fixture(scope="session")
def pairs_dir(tiny_demo, tmp_path_factory):
    """Training pairs of the tiny demo set (oracle CV outputs) plus 60 synthetic records; read-only for tests."""
    from helpers.cv.extract import ground_truth_outputs
    from helpers.pairs.synth import SynthConfig, build_pairs

    root = tmp_path_factory.mktemp("pairs")
    ground_truth_outputs(tiny_demo / "data.yaml", root / "cv.jsonl")
    build_pairs(SynthConfig(cv_outputs=str(root / "cv.jsonl"), output_dir=str(root / "pairs"), synthetic_records=60))
    return root / "pairs"


# A describer's settings for a scripted backend (no model): labels written as given in the input, two beams
SCRIPTED_SETTINGS = ModelSettings(
    InputSpec("linked_end", Policy()),
    base_model="scratch",
    max_source_length=64,
    max_target_length=32,
    max_new_tokens=40,
    num_beams=2,
)

DESCRIBER_TRAIN = {
    "max_steps": 60,
    "eval_steps": 30,
    "eval_samples": 8,
    "batch_size": 16,
    "logging_steps": 10,
    "num_beams": 3,
}


@pytest.fixture(scope="session")
def model_dir(pairs_dir, tmp_path_factory):
    """A tiny scratch describer trained for a few dozen steps, exported to CTranslate2; read-only for tests."""
    from helpers.describer.export_ct2 import export
    from helpers.training.train import TrainConfig, train

    folder = tmp_path_factory.mktemp("describer") / "model"
    train(TrainConfig(pairs_dir=str(pairs_dir), output_dir=str(folder), **DESCRIBER_TRAIN))
    export(folder)
    return folder


DESCRIBED_PHOTOS = 6


@pytest.fixture
def described(tmp_path):
    """For the exports and the gallery (issue 32): photos in two folders, their CV records, and the
    described rows: three captions each, one error row, and one row whose photo is gone."""
    import json
    import random

    from PIL import Image

    from helpers.text.fallback import grammar_sentences
    from helpers.text.synthetic import random_cv

    rng = random.Random(5)
    records, rows = [], []
    for index in range(DESCRIBED_PHOTOS):
        name = f"{'north' if index % 2 else 'south'}/p{index}.jpg"
        (tmp_path / "photos" / name).parent.mkdir(parents=True, exist_ok=True)
        Image.new("RGB", (32 + index, 24), (index * 40, 90, 30)).save(tmp_path / "photos" / name)
        record = {**random_cv(rng), "image": name, "width": 32 + index, "height": 24}
        if index == 0:
            record["detections"] = [{"label": "Wendy's 7up-can", "confidence": 0.9, "bbox": [0.1, 0.1, 0.2, 0.3]}]
        records.append(record)
        captions = grammar_sentences(record, str(index), 3)
        rows.append({"id": name, "description": captions[0], "source": "grammar", "captions": captions})
    (tmp_path / "photos" / records[5]["image"]).unlink()  # described, then the photo went missing
    rows.insert(2, {"id": "broken.jpg", "error": "line 3: detections[0].confidence must be ..."})
    (tmp_path / "cv.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    (tmp_path / "described.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return tmp_path, records, [row for row in rows if "error" not in row]


@pytest.fixture
def labelled(tmp_path):
    """For the choice by labels: four photos' CV records with labels (01's `ground_truth`) or not, and their
    described rows (the grammar's): a.jpg's sentence true to its labels, b.jpg's missing the labelled tire, c.jpg
    unlabelled, d.jpg's labels unreadable (a box without a label)."""
    import json

    from PIL import Image

    from helpers.text.fallback import grammar_sentences

    plastic = {"label": "plastic", "confidence": 0.9, "bbox": [0.1, 0.1, 0.3, 0.3]}
    grass = {"class": "grass", "confidence": 0.95}
    truth = {"detections": [{"label": "plastic", "bbox": [0.1, 0.1, 0.3, 0.3]}], "scene": {"class": "grass"}}
    with_tire = {**truth, "detections": [*truth["detections"], {"label": "tire", "bbox": [0.5, 0.5, 0.9, 0.9]}]}
    records = [
        {"image": "a.jpg", "detections": [plastic], "scene": grass, "ground_truth": truth},
        {"image": "b.jpg", "detections": [plastic], "scene": grass, "ground_truth": with_tire},
        {"image": "c.jpg", "detections": [plastic], "scene": grass},
        {"image": "d.jpg", "detections": [plastic], "scene": grass, "ground_truth": {"detections": [{"bbox": []}]}},
    ]
    (tmp_path / "photos").mkdir()
    for record in records:
        Image.new("RGB", (40, 30), (90, 120, 60)).save(tmp_path / "photos" / record["image"])
    rows = [{"id": r["image"], "description": grammar_sentences(r, "0", 1)[0], "source": "grammar"} for r in records]
    (tmp_path / "cv.jsonl").write_text("".join(json.dumps(record) + "\n" for record in records))
    (tmp_path / "described.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))
    return tmp_path


@pytest.fixture(scope="session")
def kill_part_way():
    """Runs a command and kills it (its whole process group) once `partial` holds `lines` lines; returns
    how many lines it holds then. The resume tests' way to stop a run part-way, as a crash would."""
    import signal
    import subprocess
    import time

    def run(command: list[str], partial, lines: int = 3, env: dict | None = None, timeout: float = 240) -> int:
        process = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True, env=env
        )
        deadline = time.time() + timeout
        while time.time() < deadline and (not partial.exists() or partial.read_bytes().count(b"\n") < lines):
            time.sleep(0.05)
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        return partial.read_bytes().count(b"\n") if partial.exists() else 0

    return run


def tar_shards(tiny_demo, folder):
    """The tiny demo's first five train photos in two WebDataset shards (img2dataset's layout: each
    sample a photo, its .txt and .json; a Parquet and stats file beside), and the photos as files."""
    import tarfile

    import pyarrow as pa
    import pyarrow.parquet as pq

    photos = sorted((tiny_demo / "train" / "images").glob("*.jpg"))[:5]
    folder.mkdir()
    table = pa.table({"key": ["000000000"], "url": ["https://example.org/a.jpg"], "caption": ["a"]})
    pq.write_table(table, folder / "00000.parquet")  # img2dataset's table beside its shards (not read)
    (folder / "00000_stats.json").write_text("{}")
    for shard, chunk in enumerate((photos[:3], photos[3:])):
        with tarfile.open(folder / f"{shard:05d}.tar", "w") as archive:
            for position, photo in enumerate(chunk):
                key = f"{shard:05d}{position:04d}"
                archive.add(photo, f"{key}.jpg")
                for extension in ("txt", "json"):
                    (folder / f"{key}.{extension}").write_text("{}" if extension == "json" else "a caption")
                    archive.add(folder / f"{key}.{extension}", f"{key}.{extension}")
                    (folder / f"{key}.{extension}").unlink()
    return photos


class MarkdownTexts(HTMLParser):
    """The text of each table cell and paragraph of rendered HTML, in order."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.cells: list[str] = []
        self.paragraphs: list[str] = []
        self._open: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        if tag in ("td", "th", "p"):
            self._open = self.cells if tag != "p" else self.paragraphs
            self._open.append("")

    def handle_endtag(self, tag):
        if tag in ("td", "th", "p"):
            self._open = None

    def handle_data(self, data):
        if self._open is not None:
            self._open[-1] += data


def rendered_markdown(markdown: str) -> MarkdownTexts:
    """`markdown` rendered as a CommonMark reader with GitHub's tables renders it: its cells' and paragraphs' text."""
    from markdown_it import MarkdownIt

    texts = MarkdownTexts()
    texts.feed(MarkdownIt("commonmark").enable(["table", "strikethrough"]).render(markdown))
    return texts
