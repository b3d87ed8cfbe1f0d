"""Models exported from Ultralytics weights (`yolo export`: TorchScript, ONNX, TensorRT, ...) as detectors and
scene classifier, read as `yolo predict model=best.onnx` reads them: the export's own input size, precision and
class names, on the library's pre-processing and on tensors (`preprocess: tensor`, the GPU default)."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pytest
from conftest import cv_models_settings
from PIL import Image

from helpers.core.io import weights_fingerprint
from helpers.cv.config import ExtractConfig
from helpers.cv.detectors import SceneClassifier, UltralyticsDetector
from helpers.cv.evaluation import record_agreement
from helpers.cv.extract import run_extraction
from helpers.cv.tensors import DevicePhotos

EXPORTED_SIDE = 128  # the exports' input size (the smoke checkpoints were trained at another)


@pytest.fixture(scope="module")
def exports(tiny_cv_models, tmp_path_factory):
    """The smoke detector and scene classifier exported: TorchScript, ONNX at a fixed size, ONNX dynamic."""
    from ultralytics import YOLO

    folder = tmp_path_factory.mktemp("exports")
    made = {}
    for name in ("yolo_detector", "scene_classifier"):
        shutil.copy(tiny_cv_models / f"{name}.pt", folder / f"{name}.pt")
        for label, settings in {
            "torchscript": {"format": "torchscript"},
            "onnx": {"format": "onnx", "simplify": False},
            "dynamic": {"format": "onnx", "simplify": False, "dynamic": True},
        }.items():
            written = YOLO(str(folder / f"{name}.pt")).export(imgsz=EXPORTED_SIDE, **settings)
            made[name, label] = shutil.move(written, folder / f"{name}_{label}{written[written.rindex('.') :]}")
    return made


def _photos(tiny_demo, count=4) -> list[Image.Image]:
    paths = sorted((tiny_demo / "train" / "images").glob("*.jpg"))[:count]
    return [Image.open(path).convert("RGB") for path in paths]


def _records(output) -> dict[str, dict]:
    return {r["image"]: r for r in map(json.loads, output.read_text().splitlines())}


@pytest.mark.parametrize("label", ["torchscript", "onnx", "dynamic"])
def test_an_export_extracts_on_tensors_as_on_the_library(tmp_path, tiny_demo, tiny_cv_models, exports, label):
    """A fixed-size export is letterboxed to its size, not to the minimum rectangle of PyTorch weights (the
    tensor path stopped the run with a shape error before), and gives the library path's records."""
    records = {}
    for preprocess in ("library", "tensor"):
        output = tmp_path / f"{preprocess}.jsonl"
        settings = cv_models_settings(
            tiny_cv_models, hf_model="", ensemble_weights_file="", imgsz=0, scene_imgsz=0, yolo_conf=0.0
        )
        settings |= {"yolo_weights": str(exports["yolo_detector", label])}
        settings |= {"scene_weights": str(exports["scene_classifier", label])}
        config = ExtractConfig(
            images=str(tiny_demo / "data.yaml"), output=str(output), preprocess=preprocess, **settings
        )
        summary = run_extraction(config)
        assert summary["processed"] == 12 and summary["failed"] == 0, summary
        records[preprocess] = _records(output)
    # within one intensity level of the library's input (as for PyTorch weights): at conf 0 the smoke detector's
    # hundreds of near-tied boxes a photo matched 99.8% to 100% at IoU >= 0.9, the scenes all (measured)
    agreement = record_agreement(list(records["library"].values()), list(records["tensor"].values()))
    assert agreement["detections"][0] > 100 and agreement["matched_share"] >= 0.99, agreement
    assert agreement["same_scene_share"] == 1.0, agreement


def test_a_fixed_size_export_takes_its_size_and_a_dynamic_one_the_minimum_rectangle(tiny_demo, exports):
    photos = DevicePhotos.upload([photo.resize((400, 300)) for photo in _photos(tiny_demo, 2)], "cpu")
    fixed = UltralyticsDetector(exports["yolo_detector", "onnx"], conf=0.0, device="cpu")
    assert fixed.export.shape == (EXPORTED_SIDE, EXPORTED_SIDE) and fixed.input_side == EXPORTED_SIDE
    assert tuple(fixed.model_input(photos)[0].shape) == (2, 3, EXPORTED_SIDE, EXPORTED_SIDE)
    dynamic = UltralyticsDetector(exports["yolo_detector", "dynamic"], conf=0.0, imgsz=160, device="cpu")
    assert dynamic.export.shape is None
    assert tuple(dynamic.model_input(photos)[0].shape) == (2, 3, 128, 160)  # 4:3 in 160, padded to the stride
    scene = SceneClassifier(exports["scene_classifier", "onnx"], device="cpu")
    assert scene.imgsz == EXPORTED_SIDE and tuple(scene.model_input(photos).shape) == (2, 3, 128, 128)


def test_a_dynamic_export_computes_what_its_checkpoint_computes(tiny_demo, tiny_cv_models, exports):
    """The same network on the same input (the minimum rectangle both take), with the class names its metadata
    keeps. (Records are not compared: at conf 0 the smoke detector's hundreds of tied scores make NMS keep
    different boxes on float rounding; above it, it finds none.)"""
    import torch

    photos = DevicePhotos.upload(_photos(tiny_demo), "cpu")
    checkpoint = UltralyticsDetector(tiny_cv_models / "yolo_detector.pt", conf=0.0, imgsz=160, device="cpu")
    exported = UltralyticsDetector(exports["yolo_detector", "dynamic"], conf=0.0, imgsz=160, device="cpu")
    assert exported.class_names == checkpoint.class_names
    checkpoint.predict_tensors(photos)  # sets its predictor up
    model_input = checkpoint.model_input(photos)[0]
    assert torch.equal(exported.model_input(photos)[0], model_input) and model_input.shape[2:] == (128, 160)
    with torch.inference_mode():
        ours, theirs = exported.model.predictor.model(model_input), checkpoint.model.predictor.model(model_input)
    ours, theirs = (output[0] if isinstance(output, list | tuple) else output for output in (ours, theirs))
    assert ours.shape == theirs.shape and torch.allclose(ours, theirs, atol=1e-3, rtol=1e-4)


def test_an_export_is_loaded_once(monkeypatch, exports):
    """Its class names come from its backend: Ultralytics' `names` loads an export again on each read."""
    from ultralytics.nn import autobackend

    loads = []
    original = autobackend.AutoBackend.__init__

    def counted(self, *args, **kwargs):
        loads.append(kwargs.get("model", args[0] if args else None))
        original(self, *args, **kwargs)

    monkeypatch.setattr(autobackend.AutoBackend, "__init__", counted)
    detector = UltralyticsDetector(exports["yolo_detector", "onnx"], conf=0.0, device="cpu")
    scene = SceneClassifier(exports["scene_classifier", "onnx"], device="cpu")
    assert len(detector.class_names) > 1 and len(scene.class_names) > 1
    assert len(loads) == 2


def test_an_export_with_another_size_asked_for_or_without_its_runtime_is_refused(monkeypatch, exports):
    with pytest.raises(ValueError, match=f"exported at {EXPORTED_SIDE}x{EXPORTED_SIDE}.*imgsz 320"):
        UltralyticsDetector(exports["yolo_detector", "onnx"], imgsz=320, device="cpu")
    with pytest.raises(ValueError, match=f"exported at {EXPORTED_SIDE}x{EXPORTED_SIDE}.*imgsz 64"):
        SceneClassifier(exports["scene_classifier", "torchscript"], imgsz=64, device="cpu")
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # as if not installed
    with pytest.raises(ValueError, match="runtime is not installed: onnxruntime"):
        UltralyticsDetector(exports["yolo_detector", "onnx"], device="cpu")


def test_an_ultralytics_rtdetr_export_is_recognised_and_stretched(tmp_path, tiny_demo):
    import torch
    from ultralytics import RTDETR

    torch.manual_seed(0)
    RTDETR("rtdetr-l.yaml").save(str(tmp_path / "rtdetr.pt"))  # random init, the package's own layout
    exported = RTDETR(str(tmp_path / "rtdetr.pt")).export(format="torchscript", imgsz=EXPORTED_SIDE)
    detector = UltralyticsDetector(exported, conf=0.0, device="cpu")
    assert type(detector.model).__name__ == "RTDETR" and detector.stretch  # read from the export's metadata
    photos = DevicePhotos.upload(_photos(tiny_demo, 1), "cpu")
    assert tuple(detector.model_input(photos)[0].shape) == (1, 3, EXPORTED_SIDE, EXPORTED_SIDE)
    assert len(detector.predict_tensors(photos)[0]) > 0


def test_a_folder_export_is_identified_by_every_file_in_it(tmp_path):
    """An OpenVINO export is a folder (.xml graph, .bin weights, metadata.yaml): a changed graph is another model."""
    folder = tmp_path / "best_openvino_model"
    folder.mkdir()
    for name, text in {"best.xml": "<net/>", "best.bin": "weights", "metadata.yaml": "task: detect"}.items():
        (folder / name).write_text(text)
    before = weights_fingerprint(folder)
    (folder / "best.xml").write_text("<net version='2'/>")
    assert weights_fingerprint(folder) != before
    config = ExtractConfig(images=str(folder), yolo_weights=str(folder), hf_model="")
    config.check_inputs()  # a folder is taken as weights (it named a file only before)


def test_quiet_extraction_of_an_export_prints_nothing(tmp_path, tiny_demo, exports):
    """-q: warnings only. Ultralytics sets its logger back to INFO when imported (after desclm set it), and its
    backends log each load ("Loading best.onnx for ONNX Runtime inference...")."""
    import subprocess

    command = [str(Path(sys.executable).with_name("desclm")), "extract", "--images", str(tiny_demo / "data.yaml")]
    command += ["--yolo_weights", str(exports["yolo_detector", "onnx"]), "--scene_weights"]
    command += [str(exports["scene_classifier", "onnx"]), "--output", str(tmp_path / "cv.jsonl"), "-q"]
    finished = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert finished.returncode == 0, finished.stderr
    assert finished.stdout + finished.stderr == ""
    assert len((tmp_path / "cv.jsonl").read_text().splitlines()) == 12
