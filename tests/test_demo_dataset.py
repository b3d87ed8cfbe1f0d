"""The demo image set: deterministic bytes, valid YOLO labels, balanced classes and scenes, reuse."""

from __future__ import annotations

import csv
import hashlib
import logging
from collections import Counter
from pathlib import Path

import pytest
import yaml
from PIL import Image

from helpers.commands.demo import main
from helpers.cv.yolo_data import label_path, load_data_yaml
from helpers.demo.dataset import DemoDatasetSpec, build_dataset
from helpers.demo.images import CLASSES, SCENES


def _digest(root: Path) -> dict[str, str]:
    """Every file (links as their target text) under root -> sha256; Ultralytics' `*.cache` files,
    which training on the set writes beside its labels, are not the set's."""
    digests = {}
    for path in sorted(root.rglob("*")):
        if path.suffix == ".cache":
            continue
        if path.is_symlink():
            digests[str(path.relative_to(root))] = "link:" + str(path.readlink())
        elif path.is_file():
            digests[str(path.relative_to(root))] = hashlib.sha256(path.read_bytes()).hexdigest()
    return digests


def test_same_seed_gives_identical_bytes_and_another_seed_differs(tmp_path, tiny_demo):
    again = build_dataset(tmp_path / "again", DemoDatasetSpec(seed=7, n_train=8, n_valid=2, n_test=2))
    assert not again["reused"]
    assert _digest(tmp_path / "again") == _digest(tiny_demo)
    build_dataset(tmp_path / "other", DemoDatasetSpec(seed=8, n_train=8, n_valid=2, n_test=2))
    other = _digest(tmp_path / "other")
    assert {k for k in other if "/images/" in k} == {k for k in _digest(tiny_demo) if "/images/" in k}
    assert other["train/images/train_00000.jpg"] != _digest(tiny_demo)["train/images/train_00000.jpg"]


def test_layout_and_yolo_labels_are_valid(tiny_demo):
    spec = yaml.safe_load((tiny_demo / "data.yaml").read_text())
    assert spec["names"] == dict(enumerate(CLASSES)) and spec["nc"] == 5
    dataset = load_data_yaml(tiny_demo / "data.yaml")
    assert {split: len(images) for split, images in dataset.splits.items()} == {"train": 8, "val": 2, "test": 2}
    boxes = 0
    for image_path, _ in dataset.images():
        width, height = Image.open(image_path).size
        assert (width, height) == (384, 288)
        for line in label_path(image_path).read_text().splitlines():
            fields = line.split()
            assert len(fields) == 5
            class_id, (xc, yc, w, h) = int(fields[0]), map(float, fields[1:])
            assert 0 <= class_id < len(CLASSES)
            assert 0 < w <= 1 and 0 < h <= 1
            assert 0 <= xc - w / 2 and xc + w / 2 <= 1 and 0 <= yc - h / 2 and yc + h / 2 <= 1
            assert w * width >= 8 and h * height >= 8, "objects are big enough to be seen"
            boxes += 1
    assert boxes > 0


def test_scene_labels_and_classification_view(tiny_demo):
    with open(tiny_demo / "scenes.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 12 and {r["scene"] for r in rows} <= set(SCENES)
    for row in rows:
        split = {"train": "train", "valid": "val", "test": "test"}[row["split"]]
        link = tiny_demo / "scenes" / split / row["scene"] / Path(row["image"]).name
        assert link.read_bytes() == (tiny_demo / row["image"]).read_bytes()
        labels = label_path(tiny_demo / row["image"]).read_text().splitlines()
        assert len(labels) == int(row["objects"])


def test_class_and_scene_balance(tmp_path):
    build_dataset(tmp_path / "set", DemoDatasetSpec(seed=3, n_train=100, n_valid=20, n_test=20))
    with open(tmp_path / "set" / "scenes.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    for split in ("train", "valid", "test"):
        scenes = Counter(r["scene"] for r in rows if r["split"] == split)
        assert set(scenes) == set(SCENES) and max(scenes.values()) - min(scenes.values()) <= 1, scenes
    classes = Counter(
        CLASSES[int(line.split()[0])]
        for path in (tmp_path / "set").glob("*/labels/*.txt")
        for line in path.read_text().splitlines()
    )
    total = sum(classes.values())
    assert total > 300
    for name in CLASSES:
        assert 0.12 < classes[name] / total < 0.28, classes
    counts = [int(r["objects"]) for r in rows]
    assert min(counts) == 0 and max(counts) >= 8, "both empty and crowded images occur"


def test_second_build_reuses_and_force_rebuilds(tmp_path, caplog):
    spec = DemoDatasetSpec(seed=1, n_train=2, n_valid=1, n_test=1)
    build_dataset(tmp_path / "set", spec)
    image = tmp_path / "set" / "train" / "images" / "train_00000.jpg"
    stamp = image.stat().st_mtime_ns
    with caplog.at_level(logging.INFO, logger="helpers"):
        assert build_dataset(tmp_path / "set", spec)["reused"]
    assert "reusing" in caplog.text
    assert image.stat().st_mtime_ns == stamp
    assert not build_dataset(tmp_path / "set", spec, force=True)["reused"]
    changed = build_dataset(tmp_path / "set", DemoDatasetSpec(seed=1, n_train=3, n_valid=1, n_test=1))
    assert not changed["reused"] and changed["images"] == 5
    assert not list(tmp_path.glob(".set.*")), "no partial or stale folders left behind"


def test_invalid_parameters_are_rejected(capsys):
    with pytest.raises(ValueError, match="n_train"):
        DemoDatasetSpec(n_train=-1)
    with pytest.raises(SystemExit):
        main(["dataset", "--width", "big"])
    assert "--width: invalid int value: 'big'" in capsys.readouterr().err
