"""Demo CV models, trained on the demo image set, saved in the formats users bring.

    desclm demo models [--data data/demo/data.yaml] [--out models/demo] [--seed 0]

- `yolo_detector.pt`: an Ultralytics YOLO detector (small YOLOv8 layout, random init);
- `rtdetr/`: a Hugging Face RT-DETR (small `RTDetrConfig`, small ResNet backbone, random init)
  with its image processor, as `save_pretrained` writes them;
- `scene_classifier.pt`: an Ultralytics YOLO classification model for the scene;
- `ensemble.json`: thresholds, weights and conf_type calibrated on the validation split by per-photo
  count accuracy (`helpers.cv.calibrate`);
- `manifest.json`: the settings, training seconds, and per split (val, test) each detector's
  mAP@0.5 and the scene classifier's accuracy (`scores`); a rebuild with the same settings and
  data reuses the folder.

Trained for about six minutes on 2 CPU cores with native bf16 (eleven in float32), the detectors find
most litter but not all (mAP@0.5 about 0.9 and 0.6 on the test split; the scene classifier is right on
nearly every photo): the pipeline runs end to end on real checkpoints, and notebook 04's "true about the
photo" section has detector errors to show. Read their numbers in `manifest.json`;
docs/01_cv_extract.md says how the recipe was chosen.
"""

from __future__ import annotations

import json
import logging
import shutil
import time
from dataclasses import asdict
from pathlib import Path

import yaml

from helpers.core.contract import Policy
from helpers.core.io import atomic_write_text, partial_dir, replace_dir
from helpers.core.paths import DEMO_DATA_DIR, DEMO_MODELS_DIR, require_file, resolve
from helpers.demo.rtdetr import train_rtdetr
from helpers.demo.spec import QUICK, DemoModelsSpec  # noqa: F401 - QUICK: the smoke build, used from here
from helpers.demo.yolo import train_scene_classifier, train_yolo_detector

GENERATOR_VERSION = 8  # bump when training changes, so old demo models are rebuilt (8: bf16 on CPUs that have it)
# bump when calibration changes (2: scores aligned to the describer's threshold; 3: one label per object
# tried; 4: ranked by accuracy over neighbouring thresholds; 5: parts of an object thinned, agnostic_ios;
# 6: the file records the fingerprints of the weights it was made for),
# so old demo models are only calibrated again
CALIBRATION_VERSION = 6

logger = logging.getLogger(__name__)


def _subset_yaml(data_yaml: Path, work: Path, limit: int) -> Path:
    """A data.yaml over the first `limit` train and val images (for quick builds)."""
    from helpers.cv import load_data_yaml

    dataset = load_data_yaml(data_yaml)
    lists = {}
    for split in ("train", "val"):
        path = work / f"{split}.txt"
        path.write_text("\n".join(str(p) for p in dataset.splits.get(split, [])[:limit]) + "\n")
        lists[split] = str(path)
    subset = work / "data.yaml"
    subset.write_text(yaml.safe_dump({"path": str(dataset.root), **lists, "names": dict(enumerate(dataset.names))}))
    return subset


def split_truth(data_yaml: Path, split: str, limit: int = 0) -> tuple[list, list[list[dict]], list[str | None]]:
    """One split's images, their ground-truth boxes and scenes, as 01 would read them."""
    from helpers.cv import load_image, open_image_source

    source = open_image_source(data_yaml)
    items = [item for item in source.items if item.split == split][: limit or None]
    truths = [[{"label": n, "bbox": b} for n, b in source.truth_boxes(i)] for i in items]
    return [load_image(item) for item in items], truths, [source.scenes.get(item.key) for item in items]


def detector_map50(detector, images: list, truths: list[list[dict]]) -> float:
    """mAP@0.5 of one detector (built with conf 0.05) on images with ground truth."""
    from helpers.cv import detection_metrics

    predictions = [
        d.as_records() for start in range(0, len(images), 16) for d in detector.predict(images[start : start + 16])
    ]
    return detection_metrics(predictions, truths)["map50"]


def evaluate_models(out: Path, data_yaml: Path, spec: DemoModelsSpec) -> dict[str, dict[str, float]]:
    """Per split (val, test): each demo detector's mAP@0.5 and the scene classifier's accuracy, as 01
    would run them (the test split is the one notebook 04 judges the sentences on)."""
    from helpers.cv import HFDetector, SceneClassifier, UltralyticsDetector

    models = {
        "yolo": UltralyticsDetector(out / "yolo_detector.pt", device="cpu", conf=0.05),
        "hf": HFDetector(out / "rtdetr", device="cpu", conf=0.05),
    }
    scene = SceneClassifier(out / "scene_classifier.pt", device="cpu", imgsz=spec.scene_imgsz)
    scores = {}
    for split in ("val", "test"):
        images, truths, scenes = split_truth(data_yaml, split, spec.max_train_images)
        scores[split] = {f"{name}_map50": detector_map50(model, images, truths) for name, model in models.items()}
        said = [s["class"] for start in range(0, len(images), 16) for s in scene.predict(images[start : start + 16])]
        right = sum(s == scene_truth for s, scene_truth in zip(said, scenes, strict=True))
        scores[split]["scene_accuracy"] = right / max(1, len(images))
    return scores


def calibrate_demo(folder: Path, data_yaml: Path, spec: DemoModelsSpec) -> tuple[dict, dict]:
    """Calibrates the demo detectors' ensemble on the validation split into `folder/ensemble.json`;
    returns the weights, and the rest of the choice (conf, conf_type, count accuracy) with the score
    scale it assumed, as the manifest keeps them."""
    from helpers.cv import ExtractConfig, calibrate_ensemble

    calibration = calibrate_ensemble(
        ExtractConfig(
            images=str(data_yaml),
            yolo_weights=str(folder / "yolo_detector.pt"),
            hf_model=str(folder / "rtdetr"),
            scene_weights="",
            ensemble_weights_file="",
            device="cpu",
            max_images=spec.max_train_images,
        ),
        folder / "ensemble.json",
    )
    choice = calibration["choice"]
    kept = ("conf", "conf_type", "agnostic_iou", "agnostic_ios", "count_accuracy")
    return choice["weights"], {
        **{k: choice[k] for k in kept},
        "scores_aligned_to": Policy().min_confidence,
        "calibration_version": CALIBRATION_VERSION,
    }


def build_models(
    data_yaml: str | Path = DEMO_DATA_DIR / "data.yaml",
    out: str | Path = DEMO_MODELS_DIR,
    spec: DemoModelsSpec = DemoModelsSpec(),
    force: bool = False,
) -> dict:
    """Trains and saves the three demo models, or reuses a finished folder with the same settings."""
    data_yaml, out = require_file(data_yaml, "Demo data.yaml", hint="run: desclm demo dataset"), resolve(out)
    data_manifest = data_yaml.parent / "manifest.json"
    wanted = {
        "version": GENERATOR_VERSION,
        "spec": asdict(spec),
        "data": json.loads(data_manifest.read_text()).get("spec") if data_manifest.exists() else str(data_yaml),
    }
    manifest_path = out / "manifest.json"
    if not force and manifest_path.exists():
        existing = json.loads(manifest_path.read_text())
        if {k: existing.get(k) for k in wanted} == wanted:
            ensemble = existing.get("ensemble", {})
            if ensemble.get("calibration_version") != CALIBRATION_VERSION:
                logger.info("Demo models in %s were calibrated by an older calibration: calibrating again", out)
                existing["ensemble_weights"], existing["ensemble"] = calibrate_demo(out, data_yaml, spec)
                atomic_write_text(manifest_path, json.dumps(existing, indent=2, default=str) + "\n")
            logger.info(f"✓ Demo models in {out} match the settings: reusing them (--force rebuilds)")
            return {**existing, "reused": True}
    partial = partial_dir(out)
    work = partial / "_work"
    work.mkdir(parents=True)
    started = time.perf_counter()
    train_yaml = _subset_yaml(data_yaml, work, spec.max_train_images) if spec.max_train_images else data_yaml
    timings = {}
    for name, step in (
        ("yolo_detector", lambda: train_yolo_detector(train_yaml, partial, spec, work)),
        ("scene_classifier", lambda: train_scene_classifier(data_yaml.parent / "scenes", partial, spec, work)),
        ("rtdetr", lambda: train_rtdetr(data_yaml, partial, spec)),
    ):
        began = time.perf_counter()
        step()
        timings[name] = round(time.perf_counter() - began, 1)
    scores = evaluate_models(partial, data_yaml, spec)
    maps = {name: scores["val"][f"{name}_map50"] for name in ("yolo", "hf")}
    weights, ensemble = calibrate_demo(partial, data_yaml, spec)
    shutil.rmtree(work)
    manifest = {
        **wanted,
        "validation_map50": maps,
        "scores": scores,  # per split: yolo_map50, hf_map50, scene_accuracy
        "ensemble_weights": weights,
        "ensemble": ensemble,
        "seconds": timings,
        "precision": "bf16" if spec.trains_in_bf16("cpu") else "float32",  # this machine's, as trained
        "total_seconds": round(time.perf_counter() - started, 1),
    }
    atomic_write_text(partial / "manifest.json", json.dumps(manifest, indent=2, default=str) + "\n")
    replace_dir(partial, out)
    logger.info(f"Demo models written to {out} in {manifest['total_seconds']} s; {json.dumps(scores)}")
    return {**manifest, "reused": False}
