"""Detector and scene-classifier backends behind one small interface.

Every detector takes a batch of PIL images and returns, per image, boxes normalised to
`[x1, y1, x2, y2]` in 0..1, scores, and label names already passed through the label map.
Backends:

- `UltralyticsDetector`: an Ultralytics checkpoint (`YOLO`, or `RTDETR` for Ultralytics
  RT-DETR weights; `kind="auto"` tells them apart from the checkpoint itself);
- `HFDetector`: a Hugging Face object-detection checkpoint (`AutoModelForObjectDetection` +
  `AutoImageProcessor`, model and processor folders may differ).

Each backend adds the seconds spent in the model's forward pass to `forward_seconds`, so a run
can tell model time from everything else.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from helpers.core.device import use_all_cores
from helpers.core.offline import model_source
from helpers.core.paths import require_file
from helpers.cv.labels import normalise_label

UNKNOWN_SCENE = {"class": "unknown", "confidence": 0.0}


def resolve_device(device: str = "auto") -> str:
    """`auto` becomes `cuda:0` when a CUDA GPU is present, else `cpu`; anything else is kept."""
    import torch

    if device == "auto":
        return "cuda:0" if torch.cuda.is_available() else "cpu"
    return device


@dataclass
class Detections:
    """One image's detections from one model."""

    boxes: np.ndarray  # (n, 4) float, [x1, y1, x2, y2] normalised to 0..1
    scores: np.ndarray  # (n,)
    labels: list[str]

    def __post_init__(self) -> None:
        self.boxes = np.asarray(self.boxes, dtype=float).reshape(-1, 4)
        self.scores = np.asarray(self.scores, dtype=float).reshape(-1)
        if not len(self.boxes) == len(self.scores) == len(self.labels):
            raise ValueError(
                f"boxes, scores and labels differ in length: {len(self.boxes)}, {len(self.scores)}, {len(self.labels)}"
            )

    def __len__(self) -> int:
        return len(self.labels)

    def as_records(self, digits: int = 4) -> list[dict]:
        return [
            {"label": label, "confidence": round(float(score), digits), "bbox": [round(float(v), 6) for v in box]}
            for box, score, label in zip(self.boxes, self.scores, self.labels)
        ]


def normalised_boxes(pixel_boxes, width: int, height: int) -> np.ndarray:
    """Pixel `[x1, y1, x2, y2]` boxes divided by the image size and clipped to 0..1."""
    boxes = np.asarray(pixel_boxes, dtype=float).reshape(-1, 4) / np.array([width, height, width, height], dtype=float)
    return np.clip(boxes, 0.0, 1.0)


@dataclass
class DetectorSpec:
    """What to load: used by `load_detector`, and recorded in the run manifest."""

    name: str  # short name used in `sources` and reports, e.g. "yolo", "hf"
    backend: str  # "ultralytics", "hf", or "predictions" (read from files: helpers.cv.predictions)
    weights: str  # checkpoint file (ultralytics), model folder / hub id (hf), or the predictions' path
    processor: str = ""  # hf only: image-processor folder when it is not the model folder
    kind: str = "auto"  # ultralytics only: yolo, rtdetr or auto
    conf: float = 0.5  # per-detector confidence threshold
    weight: float = 1.0  # ensemble weight
    label_map: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.backend not in ("ultralytics", "hf", "predictions"):
            raise ValueError(
                f"detector {self.name!r}: backend must be 'ultralytics', 'hf' or 'predictions', got {self.backend!r}"
            )
        if not 0.0 <= self.conf <= 1.0:
            raise ValueError(f"detector {self.name!r}: conf must be in 0..1, got {self.conf}")
        if self.weight <= 0:
            raise ValueError(f"detector {self.name!r}: weight must be > 0, got {self.weight}")


class UltralyticsDetector:
    """An Ultralytics detection checkpoint (YOLO or RT-DETR)."""

    def __init__(
        self,
        weights: str | Path,
        *,
        kind: str = "auto",
        conf: float = 0.5,
        imgsz: int = 0,
        device: str = "auto",
        label_map: dict[str, str] | None = None,
        name: str = "yolo",
    ) -> None:
        from ultralytics import RTDETR, YOLO

        path = require_file(weights, f"Ultralytics checkpoint for detector {name!r}")
        if kind not in ("auto", "yolo", "rtdetr"):
            raise ValueError(f"detector {name!r}: kind must be auto, yolo or rtdetr, got {kind!r}")
        model = YOLO(str(path))
        if kind == "rtdetr" or (kind == "auto" and type(model.model).__name__.startswith("RTDETR")):
            model = RTDETR(str(path))
        if model.task != "detect":
            raise ValueError(f"{path} is an Ultralytics {model.task!r} checkpoint, not a detector")
        self.model, self.name, self.conf, self.imgsz = model, name, conf, imgsz
        self.device, self.label_map = resolve_device(device), dict(label_map or {})
        self.class_names = [model.names[i] for i in sorted(model.names)]
        self.forward_seconds = 0.0

    @property
    def input_side(self) -> int:
        """The longest side the model sees (its letterbox size): `imgsz`, else the checkpoint's."""
        size = self.imgsz or self.model.overrides.get("imgsz") or 640
        return max(size) if isinstance(size, list | tuple) else int(size)

    def predict(self, images: list[Image.Image]) -> list[Detections]:
        if not images:
            return []
        size = {"imgsz": self.imgsz} if self.imgsz else {}  # else the checkpoint's training size
        results = self.model.predict(
            images, conf=self.conf, device=self.device, verbose=False, batch=len(images), **size
        )
        use_all_cores()  # Ultralytics leaves torch one thread short of the cores (see use_all_cores)
        output = []
        for image, result in zip(images, results):
            self.forward_seconds += result.speed.get("inference", 0.0) / 1000.0  # per-image share of the batch, ms
            boxes = result.boxes
            width, height = image.size
            output.append(
                Detections(
                    normalised_boxes(boxes.xyxy.cpu().numpy(), width, height),
                    boxes.conf.cpu().numpy(),
                    [normalise_label(result.names[int(c)], self.label_map) for c in boxes.cls.cpu().numpy()],
                )
            )
        return output


class HFDetector:
    """A Hugging Face object-detection checkpoint, e.g. RT-DETR."""

    def __init__(
        self,
        model: str | Path,
        processor: str | Path | None = None,
        *,
        conf: float = 0.5,
        device: str = "auto",
        label_map: dict[str, str] | None = None,
        name: str = "hf",
    ) -> None:
        import torch
        from transformers import AutoImageProcessor, AutoModelForObjectDetection

        source = model_source(str(model), f"Hugging Face detection model for detector {name!r}")
        processor_source = (
            model_source(str(processor), f"image processor for detector {name!r}") if processor else source
        )
        self.processor = AutoImageProcessor.from_pretrained(processor_source)
        self.device = resolve_device(device)
        self.model = AutoModelForObjectDetection.from_pretrained(source).to(self.device).eval()
        self.name, self.conf, self.label_map = name, conf, dict(label_map or {})
        self.class_names = [self.model.config.id2label[i] for i in sorted(self.model.config.id2label)]
        self.forward_seconds = 0.0
        self._torch = torch

    @property
    def input_side(self) -> int:
        """The largest side the processor resizes to (RT-DETR: 640x640; DETR: up to 1333)."""
        size = getattr(self.processor, "size", None)
        if size is None or isinstance(size, int):
            return size or 0
        size = dict(size)  # a dict, or transformers 5's SizeDict (iterable as pairs, without .keys)
        sides = [v for k, v in size.items() if isinstance(v, int) and not k.endswith("pixels")]  # not pixel counts
        return max(sides) if sides else 0

    def predict(self, images: list[Image.Image]) -> list[Detections]:
        if not images:
            return []
        torch = self._torch
        inputs = self.processor(images=images, return_tensors="pt").to(self.device)
        cuda = self.device.startswith("cuda")
        if cuda:
            torch.cuda.synchronize()
        started = time.perf_counter()
        with torch.inference_mode():
            outputs = self.model(**inputs)
        if cuda:
            torch.cuda.synchronize()
        self.forward_seconds += time.perf_counter() - started
        sizes = [(image.height, image.width) for image in images]  # (height, width), as the processor expects
        results = self.processor.post_process_object_detection(outputs, threshold=self.conf, target_sizes=sizes)
        id2label = self.model.config.id2label
        return [
            Detections(
                normalised_boxes(result["boxes"].float().cpu().numpy(), image.width, image.height),
                result["scores"].float().cpu().numpy(),
                [normalise_label(id2label[int(i)], self.label_map) for i in result["labels"].cpu().numpy()],
            )
            for image, result in zip(images, results)
        ]


def load_detector(spec: DetectorSpec, *, imgsz: int = 0, device: str = "auto", shared_label_map: dict | None = None):
    """Loads the detector a spec names; its own label map entries win over the shared ones."""
    label_map = {**(shared_label_map or {}), **spec.label_map}
    if spec.backend == "ultralytics":
        return UltralyticsDetector(
            spec.weights,
            kind=spec.kind,
            conf=spec.conf,
            imgsz=imgsz,
            device=device,
            label_map=label_map,
            name=spec.name,
        )
    return HFDetector(
        spec.weights, spec.processor or None, conf=spec.conf, device=device, label_map=label_map, name=spec.name
    )


class SceneClassifier:
    """An Ultralytics classification checkpoint giving each image's scene and its probability."""

    def __init__(
        self, weights: str | Path, *, imgsz: int = 0, device: str = "auto", label_map: dict[str, str] | None = None
    ) -> None:
        from ultralytics import YOLO

        path = require_file(weights, "Ultralytics scene classification checkpoint")
        self.model = YOLO(str(path))
        if self.model.task != "classify":
            raise ValueError(f"{path} is an Ultralytics {self.model.task!r} checkpoint, not a classifier")
        # like the detectors: the size the checkpoint was trained at unless one is given
        self.imgsz = imgsz or int(self.model.overrides.get("imgsz") or 224)
        self.device, self.label_map = resolve_device(device), dict(label_map or {})
        self.class_names = [self.model.names[i] for i in sorted(self.model.names)]
        self.forward_seconds = 0.0

    @property
    def input_side(self) -> int:
        return self.imgsz

    def predict(self, images: list[Image.Image]) -> list[dict]:
        if not images:
            return []
        results = self.model.predict(images, imgsz=self.imgsz, device=self.device, verbose=False, batch=len(images))
        use_all_cores()
        scenes = []
        for result in results:
            self.forward_seconds += result.speed.get("inference", 0.0) / 1000.0
            top = int(result.probs.top1)
            scenes.append(
                {
                    "class": normalise_label(result.names[top], self.label_map),
                    "confidence": round(float(result.probs.top1conf), 4),
                }
            )
        return scenes
