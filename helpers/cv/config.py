"""Notebook 01's parameters, validated: one dataclass for the notebook, a YAML file and the CLI."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field, fields
from pathlib import Path

import yaml

from helpers.core.contract import Policy
from helpers.core.paths import require_file, resolve
from helpers.cv.detectors import DetectorSpec
from helpers.cv.fusion import FusionSettings
from helpers.cv.sources import select

logger = logging.getLogger(__name__)
DEFAULT_CONF = 0.5  # a detector's threshold when neither the parameter nor the ensemble file sets one
LOW_THRESHOLD = 0.05  # a detector threshold below this is warned about (`detector_specs`)


@dataclass
class ExtractConfig:
    """Notebook 01's parameters (the same names), validated."""

    images: str = "data/demo/data.yaml"  # folder (recursive), .txt list of paths, or YOLO data.yaml
    output: str = "data/cv_outputs.jsonl"  # JSONL of CV outputs; errors and manifest go beside it
    max_images: int = 0  # first N images only (0: all)
    detections_from: str = "models"  # "models", or "labels": a YOLO dataset's own annotations (confidence 1.0)
    yolo_weights: str = "models/demo/yolo_detector.pt"  # Ultralytics detection checkpoint ("" to leave out)
    yolo_kind: str = "auto"  # yolo, rtdetr (Ultralytics RT-DETR weights) or auto
    yolo_conf: float | None = None  # the YOLO detector's confidence threshold (None: the ensemble file's, else 0.5)
    hf_model: str = "models/demo/rtdetr"  # Hugging Face detection model folder or hub id ("" to leave out)
    hf_processor: str = ""  # its image-processor folder or id, when not the model's
    hf_conf: float | None = None  # the HF detector's confidence threshold (None: the ensemble file's, else 0.5)
    scene_weights: str = "models/demo/scene_classifier.pt"  # Ultralytics classification checkpoint ("": scene unknown)
    label_map: dict = field(default_factory=dict)  # detector class name -> project label, e.g. {"bottle": "plastic"}
    ensemble_weights: list = field(
        default_factory=list
    )  # [yolo, hf] weights; empty: from ensemble_weights_file, else equal
    ensemble_weights_file: str = "models/demo/ensemble.json"  # weights, thresholds, conf_type (helpers.calibrate)
    iou_thr: float = 0.55  # WBF: boxes of one class overlapping more than this are fused
    skip_box_thr: float = 0.0  # WBF: boxes below this confidence are ignored
    conf_type: str | None = None  # WBF: max (union), avg / box_and_model_avg (vote); None: ensemble file's, else max
    agnostic_iou: float | None = None  # one label per object (helpers.cv.fusion); None: ensemble file's, else 1 (off)
    agnostic_ios: float | None = None  # boxes inside a more confident one beyond this share: dropped; None: likewise
    batch_size: int = 16  # images per forward pass
    imgsz: int = 0  # Ultralytics detector input size (0: the size the checkpoint was trained at)
    scene_imgsz: int = 224  # scene classifier input size
    device: str = "auto"  # auto (CUDA when available), cpu, cuda:0, ...
    num_shards: int = 1  # split the images into this many shards ...
    shard_index: int = 0  # ... and process this one
    save_model_detections: bool = True  # also keep each detector's own detections (for per-detector metrics)
    loader_threads: int = 2  # threads decoding images ahead of the models
    draft_decode: bool = True  # decode JPEGs at 1/2, 1/4 or 1/8 scale when still as large as every model's input
    fsync: bool = False  # sync the output to disk after each batch (survives a power cut; slower on network disks)
    restart_on_change: bool = False  # an output made by other models or settings is started over, not refused

    def __post_init__(self) -> None:
        if self.detections_from not in ("models", "labels"):
            raise ValueError(f"detections_from must be 'models' or 'labels', got {self.detections_from!r}")
        if self.detections_from == "models" and not (self.yolo_weights or self.hf_model):
            raise ValueError("no detector: set yolo_weights and/or hf_model (or detections_from='labels')")
        if self.imgsz < 0:
            raise ValueError(f"imgsz must be >= 0, got {self.imgsz}")
        for name in ("batch_size", "scene_imgsz", "loader_threads", "num_shards"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        self.fusion(from_file=False)  # validates the parameters
        select([], max_images=self.max_images, num_shards=self.num_shards, shard_index=self.shard_index)

    @classmethod
    def from_yaml(cls, path: str | Path) -> ExtractConfig:
        values = yaml.safe_load(require_file(path, "Extraction parameters file").read_text()) or {}
        values = values.get("01_cv_extract", values.get("01", values))  # a pipeline file works too
        values = {
            k: v for k, v in values.items() if k not in ("sample_images", "seed")
        }  # the notebook's report settings
        unknown = sorted(set(values) - {f.name for f in fields(cls)})
        if unknown:
            raise ValueError(f"{path}: unknown parameter(s) {unknown}")
        return cls(**values)

    def output_path(self) -> Path:
        output = resolve(self.output)
        if self.num_shards > 1:
            output = output.with_name(f"{output.stem}.shard-{self.shard_index}of{self.num_shards}{output.suffix}")
        return output

    def fusion(self, from_file: bool = True) -> FusionSettings:
        """The fusion settings 01 uses: `conf_type`, `agnostic_iou`, `agnostic_ios` from the parameters, else the
        ensemble file's (unless `from_file` is False), else `FusionSettings`' defaults."""
        file = self._ensemble() if from_file else {}
        given = {"conf_type": self.conf_type or None,  # "": unset
                 "agnostic_iou": self.agnostic_iou, "agnostic_ios": self.agnostic_ios}  # fmt: skip
        chosen = {name: file.get(name) if value is None else value for name, value in given.items()}
        return FusionSettings(self.iou_thr, self.skip_box_thr, **{k: v for k, v in chosen.items() if v is not None})

    def _ensemble(self) -> dict:
        """The ensemble file's content ({} when there is none)."""
        file = resolve(self.ensemble_weights_file) if self.ensemble_weights_file else None
        return json.loads(file.read_text()) if file and file.is_file() else {}

    def conf_of(self, name: str) -> float:
        """A detector's threshold: the parameter, else the ensemble file's (calibrated), else 0.5."""
        given = {"yolo": self.yolo_conf, "hf": self.hf_conf}[name]
        return float(given if given is not None else self._ensemble().get("conf", {}).get(name, DEFAULT_CONF))

    def detector_specs(self) -> list[DetectorSpec]:
        specs = []
        if self.yolo_weights:
            specs.append(
                DetectorSpec("yolo", "ultralytics", self.yolo_weights, kind=self.yolo_kind, conf=self.conf_of("yolo"))
            )
        if self.hf_model:
            specs.append(DetectorSpec("hf", "hf", self.hf_model, processor=self.hf_processor, conf=self.conf_of("hf")))
        for spec in specs:
            if spec.conf < LOW_THRESHOLD:
                logger.warning(
                    "%s threshold %s: every box it scores at least that is described (01 maps a detector's threshold "
                    "to the describer's %s), often hundreds per photo; 01's report needs no low threshold for mAP",
                    spec.name, spec.conf, Policy().min_confidence,
                )  # fmt: skip
        weights = self.resolve_weights([s.name for s in specs])
        for spec in specs:
            spec.weight = weights[spec.name]
        return specs

    def resolve_weights(self, names: list[str]) -> dict[str, float]:
        if self.ensemble_weights:
            if len(self.ensemble_weights) != len(names):
                raise ValueError(
                    f"ensemble_weights has {len(self.ensemble_weights)} values for {len(names)} detectors {names}"
                )
            return {n: float(w) for n, w in zip(names, self.ensemble_weights)}
        saved = self._ensemble().get("weights", {})
        if all(n in saved for n in names):
            return {n: float(saved[n]) for n in names}
        return {n: 1.0 for n in names}
