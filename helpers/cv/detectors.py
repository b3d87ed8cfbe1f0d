"""Detector and scene-classifier backends behind one small interface.

Every detector takes a batch of PIL images and returns, per image, boxes normalised to
`[x1, y1, x2, y2]` in 0..1, scores, and label names already passed through the label map.
Backends:

- `UltralyticsDetector`: an Ultralytics checkpoint (`YOLO`, or `RTDETR` for Ultralytics
  RT-DETR weights; `kind="auto"` tells them apart from the checkpoint itself), or a model exported
  from one (`yolo export`: TorchScript, ONNX, TensorRT, OpenVINO, ...), read as `yolo predict` reads it;
- `HFDetector`: a Hugging Face object-detection checkpoint (`AutoModelForObjectDetection` +
  `AutoImageProcessor`, model and processor folders may differ).

Each backend adds the seconds spent in the model's forward pass to `forward_seconds`, so a run
can tell model time from everything else. Each also takes photos already on its device
(`predict_tensors`, `helpers.cv.tensors`: one upload shared by every model, pre-processing as tensor
operations) and can run in half precision (`half`, on a GPU).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image

from helpers.core.device import use_all_cores
from helpers.core.offline import model_source
from helpers.core.paths import require_file
from helpers.cv.labels import normalise_label

if TYPE_CHECKING:  # torch is imported on first use, so that commands start fast
    from helpers.cv.tensors import DevicePhotos

UNKNOWN_SCENE = {"class": "unknown", "confidence": 0.0}
PRECISIONS = ("auto", "fp32", "fp16")  # auto: fp16 on a GPU, fp32 on the CPU
PREPROCESSING = ("auto", "tensor", "library")  # auto: tensor on a GPU, each library's own on the CPU


def resolve_device(device: str = "auto") -> str:
    """`auto` becomes `cuda:0` when a CUDA GPU is present, else `cpu`; anything else is kept."""
    import torch

    if device == "auto":
        return "cuda:0" if torch.cuda.is_available() else "cpu"
    return device


def uses_half(precision: str, device: str) -> bool:
    """Whether models on `device` (resolved) run in float16: `auto` on a GPU, `fp16` anywhere but the CPU.

    Raises:
        ValueError: An unknown precision, or fp16 asked for on the CPU (slow, and not supported by Ultralytics).
    """
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    gpu = device.startswith("cuda")
    if precision == "fp16" and not gpu:
        raise ValueError(f"precision fp16 needs a GPU; the models run on {device!r} (use fp32 or auto)")
    return precision == "fp16" or (precision == "auto" and gpu)


def uses_tensors(preprocess: str, device: str) -> bool:
    """Whether photos are pre-processed as tensors on `device` (resolved): `auto` on a GPU, or `tensor`."""
    if preprocess not in PREPROCESSING:
        raise ValueError(f"preprocess must be one of {', '.join(PREPROCESSING)}, got {preprocess!r}")
    return preprocess == "tensor" or (preprocess == "auto" and device.startswith("cuda"))


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


def _ultralytics_predict(model, source, device: str, half: bool, **settings):
    """An Ultralytics model's `predict` on a batch (images, or a tensor already prepared), in its precision."""
    results = model.predict(
        source, device=device, quantize=16 if half else 32, verbose=False, batch=len(source), **settings
    )
    use_all_cores()  # Ultralytics leaves torch one thread short of the cores (see use_all_cores)
    return results


DETECTING_TASKS = ("detect", "segment", "obb")  # Ultralytics tasks whose results hold boxes
EXPORTS_HELP = ".pt, or exported: .torchscript, .onnx, .engine (TensorRT), an _openvino_model folder, ..."


def require_weights(weights: str | Path, what: str) -> Path:
    """An Ultralytics checkpoint or export file, or a folder Ultralytics exported (OpenVINO, NCNN, ...: each
    holds the metadata.yaml it writes), resolved; else a one-line error naming the path."""
    path = require_file(weights, what)
    if path.is_dir() and not (path / "metadata.yaml").is_file():
        raise IsADirectoryError(
            f"{what} should be a file, or a folder Ultralytics exported (with its metadata.yaml); got a folder "
            f"without one: {path}"
        )
    return path


@dataclass(frozen=True)
class ExportedInput:
    """What a model exported from Ultralytics weights takes, as its export's metadata says."""

    format: str  # Ultralytics' name for it: torchscript, onnx, engine, openvino, ...
    shape: tuple[int, int] | None  # the (height, width) it was exported at; None when exported dynamic
    stride: int
    half: bool  # takes float16 input (a TensorRT or ONNX export made with half=True, or asked for on a GPU)


def exported_input(model, predict_blank, imgsz: int, what: str) -> ExportedInput | None:
    """An exported model's input (None for PyTorch weights), read from its backend as Ultralytics' predictor
    loads it: `predict_blank` predicts once on a blank photo, which sets the predictor up (one load, kept).

    Raises:
        ValueError: The runtime its format needs is not installed (Ultralytics would try to install it; offline it
            cannot), or `imgsz` asks for a size other than the one it was exported at (which Ultralytics ignores).
    """
    import torch

    if isinstance(model.model, torch.nn.Module):
        return None
    try:
        predict_blank()
    except ImportError as error:
        package = error.name or str(error)
        raise ValueError(
            f"{what} {model.model} is an Ultralytics export whose runtime is not installed: {package} "
            f"(pip install {package}; the export's page in the Ultralytics docs names it)"
        ) from error
    backend = model.predictor.model
    static = not getattr(backend, "dynamic", False) or backend.format == "imx"  # as the predictor reads it
    shape = tuple(int(side) for side in backend.imgsz) if static else None
    if shape is not None and imgsz and shape != (imgsz, imgsz):
        raise ValueError(
            f"{what} {model.model} was exported at {shape[1]}x{shape[0]} (a fixed size), so imgsz {imgsz} cannot "
            f"apply: leave imgsz 0, or export it again at imgsz={imgsz} (or dynamic=True)"
        )
    return ExportedInput(backend.format, shape, int(backend.stride), bool(backend.fp16))


def input_dtype(export: ExportedInput | None, half: bool):
    """The dtype a model's prepared input takes: an export's, the precision it was made in; else `half`'s."""
    import torch

    return torch.float16 if (export.half if export is not None else half) else torch.float32


class UltralyticsDetector:
    """An Ultralytics detection checkpoint (YOLO or RT-DETR), or a segmentation or oriented-box one read
    for its boxes (masks unused; an oriented box as the upright box around it, as Ultralytics gives it)."""

    def __init__(
        self,
        weights: str | Path,
        *,
        kind: str = "auto",
        conf: float = 0.5,
        imgsz: int = 0,
        device: str = "auto",
        half: bool = False,
        label_map: dict[str, str] | None = None,
        name: str = "yolo",
    ) -> None:
        from ultralytics import RTDETR, YOLO

        path = require_weights(weights, f"Ultralytics checkpoint or export for detector {name!r}")
        if kind not in ("auto", "yolo", "rtdetr"):
            raise ValueError(f"detector {name!r}: kind must be auto, yolo or rtdetr, got {kind!r}")
        model = YOLO(str(path))  # a checkpoint's RT-DETR head, or an export's metadata naming it, gives an RTDETR
        if kind == "rtdetr" and not isinstance(model, RTDETR):
            model = RTDETR(str(path))
        if model.task not in DETECTING_TASKS:
            raise ValueError(f"{path} is an Ultralytics {model.task!r} checkpoint, not a detector")
        self.model, self.name, self.conf, self.imgsz, self.half = model, name, conf, imgsz, half
        self.device, self.label_map = resolve_device(device), dict(label_map or {})
        self.forward_seconds = 0.0
        blank = Image.new("RGB", (32, 32))
        self.export = exported_input(model, lambda: self._predict([blank]), imgsz, f"detector {name!r}:")
        names = model.names  # an export's come from its predictor (a property that would load it again unset)
        self.class_names = [names[i] for i in sorted(names)]
        # how its predictor fits a photo to the input: RT-DETR's stretches it, YOLO's letterboxes it
        self.stretch = bool(getattr(model.task_map[model.task]["predictor"], "scale_fill", False))
        if self.export is not None:
            self.stride = self.export.stride
        else:
            self.stride = int(max(model.model.stride)) if hasattr(model.model, "stride") else 32

    @property
    def input_shape(self) -> tuple[int, int]:
        """The (height, width) the model's letterbox fits a photo in: a fixed-size export's, else `imgsz`, else the
        checkpoint's training size."""
        if self.export is not None and self.export.shape is not None:
            return self.export.shape
        size = self.imgsz or self.model.overrides.get("imgsz") or 640
        return (int(size[0]), int(size[-1])) if isinstance(size, list | tuple) else (int(size), int(size))

    @property
    def input_side(self) -> int:
        """The longest side the model sees (its letterbox size)."""
        return max(self.input_shape)

    def predict(self, images: list[Image.Image]) -> list[Detections]:
        if not images:
            return []
        size = {"imgsz": self.imgsz} if self.imgsz else {}  # else the checkpoint's training size
        return self._detections(self._predict(images, **size), [image.size for image in images])

    def model_input(self, photos: DevicePhotos):
        """The photos letterboxed (or stretched) on their device as the predictor would, and their placements."""
        from helpers.cv.tensors import letterbox

        # a batch of one size gets the minimum rectangle only where the model takes any size, as in Ultralytics
        rectangle = self.export is None or self.export.shape is None
        shape = self.input_shape
        return letterbox(photos, shape, self.stride, stretch=self.stretch, rectangle=rectangle, dtype=self._dtype())

    def predict_tensors(self, photos: DevicePhotos) -> list[Detections]:
        """`predict` for photos already on the device: pre-processed there, the predictor given the input."""
        if not photos.tensors:
            return []
        batch, placements = self.model_input(photos)
        return self._detections(self._predict(batch, imgsz=list(self.input_shape)), photos.sizes, placements)

    def forward(self, model_input) -> None:
        """The network alone on a prepared input (after one `predict`, which sets the predictor up)."""
        import torch

        with torch.inference_mode():
            self.model.predictor.model(model_input[0])

    def _dtype(self):
        return input_dtype(self.export, self.half)

    def _predict(self, source, **size):
        return _ultralytics_predict(self.model, source, self.device, self.half, conf=self.conf, **size)

    def _detections(self, results, sizes, placements=None) -> list[Detections]:
        import torch

        columns = []  # per photo: x1, y1, x2, y2, confidence, class
        for result in results:
            self.forward_seconds += result.speed.get("inference", 0.0) / 1000.0  # per-image share of the batch, ms
            boxes = result.boxes if result.boxes is not None else result.obb  # obb: its upright boxes' xyxy
            values = ((boxes.xyxy, 4), (boxes.conf, 1), (boxes.cls, 1))
            found = [torch.as_tensor(column).float().reshape(-1, width) for column, width in values]
            columns.append(torch.cat(found, dim=1))
        # one copy off the GPU for the batch (a copy per photo and column waited on the device each time)
        table = torch.cat(columns).cpu().numpy() if columns else np.zeros((0, 6))
        output, start = [], 0
        for index, ((width, height), result, photo) in enumerate(zip(sizes, results, columns)):
            rows, start = table[start : start + len(photo)], start + len(photo)
            pixels = rows[:, :4]
            if placements is not None:  # from the model input's pixels back to the photo's
                pixels = placements[index].to_photo(pixels)
            labels = [normalise_label(result.names[int(c)], self.label_map) for c in rows[:, 5]]
            output.append(Detections(normalised_boxes(pixels, width, height), rows[:, 4].copy(), labels))
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
        half: bool = False,
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
        if half:
            self.model = self.model.half()
        self.name, self.conf, self.label_map, self.half = name, conf, dict(label_map or {}), half
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
        inputs = self.processor(images=images, return_tensors="pt")
        return self._detections(self._on_device(inputs), [image.size for image in images])

    def model_input(self, photos: DevicePhotos) -> dict:
        """The image processor's output for photos on the device, made there (its torchvision backend)."""
        return self._on_device(self.processor(images=photos.tensors, return_tensors="pt", device=self.device))

    @property
    def takes_tensors(self) -> bool:
        """Whether its image processor runs on tensors where they are (a fast, torchvision-backed one)."""
        from transformers.image_processing_utils_fast import BaseImageProcessorFast  # transformers 5: the backend

        return isinstance(self.processor, BaseImageProcessorFast)

    def predict_tensors(self, photos: DevicePhotos) -> list[Detections]:
        """`predict` for photos already on the device (a slow, PIL-based processor gets them back as images)."""
        if not photos.tensors:
            return []
        if not self.takes_tensors:
            return self.predict(photos.images())
        return self._detections(self.model_input(photos), photos.sizes)

    def forward(self, model_input: dict) -> None:
        """The network alone on a prepared input."""
        with self._torch.inference_mode():
            self.model(**model_input)

    def _on_device(self, inputs) -> dict:
        """The processor's tensors on the model's device, floating ones in its dtype (pixel masks stay)."""
        return {
            name: value.to(self.device, self.model.dtype) if value.is_floating_point() else value.to(self.device)
            for name, value in inputs.items()
        }

    def _detections(self, inputs: dict, sizes: list[tuple[int, int]]) -> list[Detections]:
        torch = self._torch
        cuda = self.device.startswith("cuda")
        if cuda:
            torch.cuda.synchronize()
        started = time.perf_counter()
        with torch.inference_mode():
            outputs = self.model(**inputs)
        if cuda:
            torch.cuda.synchronize()
        self.forward_seconds += time.perf_counter() - started
        heights_widths = [(height, width) for width, height in sizes]  # as the processor expects
        results = self.processor.post_process_object_detection(
            outputs, threshold=self.conf, target_sizes=heights_widths
        )
        id2label = self.model.config.id2label
        return [
            Detections(
                normalised_boxes(result["boxes"].float().cpu().numpy(), width, height),
                result["scores"].float().cpu().numpy(),
                [normalise_label(id2label[int(i)], self.label_map) for i in result["labels"].cpu().numpy()],
            )
            for (width, height), result in zip(sizes, results)
        ]


def load_detector(
    spec: DetectorSpec,
    *,
    imgsz: int = 0,
    device: str = "auto",
    half: bool = False,
    shared_label_map: dict | None = None,
):
    """Loads the detector a spec names; its own label map entries win over the shared ones."""
    label_map = {**(shared_label_map or {}), **spec.label_map}
    common = {"conf": spec.conf, "device": device, "half": half, "label_map": label_map, "name": spec.name}
    if spec.backend == "ultralytics":
        return UltralyticsDetector(spec.weights, kind=spec.kind, imgsz=imgsz, **common)
    return HFDetector(spec.weights, spec.processor or None, **common)


class SceneClassifier:
    """An Ultralytics classification checkpoint giving each image's scene and its probability."""

    def __init__(
        self,
        weights: str | Path,
        *,
        imgsz: int = 0,
        device: str = "auto",
        half: bool = False,
        label_map: dict[str, str] | None = None,
    ) -> None:
        from ultralytics import YOLO

        path = require_weights(weights, "Ultralytics scene classification checkpoint or export")
        self.model = YOLO(str(path))
        if self.model.task != "classify":
            raise ValueError(f"{path} is an Ultralytics {self.model.task!r} checkpoint, not a classifier")
        # like the detectors: the size the checkpoint was trained at unless one is given
        self.imgsz = imgsz or int(self.model.overrides.get("imgsz") or 224)
        self.device, self.label_map, self.half = resolve_device(device), dict(label_map or {}), half
        self.forward_seconds = 0.0
        blank = Image.new("RGB", (32, 32))
        self.export = exported_input(self.model, lambda: self._predict([blank]), imgsz, "scene classifier")
        if self.export is not None and self.export.shape is not None:
            height, width = self.export.shape
            self.imgsz = height if height == width else self.export.shape
        names = self.model.names  # once: an export's property would load it again each time
        self.class_names = [names[i] for i in sorted(names)]

    @property
    def input_side(self) -> int:
        return self.imgsz if isinstance(self.imgsz, int) else max(self.imgsz)

    def predict(self, images: list[Image.Image]) -> list[dict]:
        if not images:
            return []
        return self._scenes(self._predict(images))

    @property
    def transforms(self):
        """The transforms its predictor applies: the checkpoint's own at its size, else Ultralytics' default."""
        from ultralytics.data.augment import classify_transforms

        own = getattr(self.model.model, "transforms", None)  # an export has none: the predictor uses the default
        size = getattr(own.transforms[0], "size", None) if own is not None else None
        same_size = size is not None and tuple((size, size) if isinstance(size, int) else size) == (self.imgsz,) * 2
        return own if same_size else classify_transforms(self.imgsz)

    def model_input(self, photos: DevicePhotos):
        """The photos resized, cropped and normalised on their device by the predictor's transforms;
        None when those are not the standard four a tensor can take."""

        from helpers.cv.tensors import classification_batch, standard_classify_transforms

        transforms = self.transforms
        if not standard_classify_transforms(transforms):
            return None
        return classification_batch(photos, transforms, input_dtype(self.export, self.half))

    def predict_tensors(self, photos: DevicePhotos) -> list[dict]:
        """`predict` for photos already on the device (the library's own way for unusual transforms)."""
        if not photos.tensors:
            return []
        batch = self.model_input(photos)
        if batch is None:
            return self.predict(photos.images())
        return self._scenes(self._predict(batch))

    def forward(self, model_input) -> None:
        """The network alone on a prepared input (after one `predict`)."""
        import torch

        with torch.inference_mode():
            self.model.predictor.model(model_input)

    def _predict(self, source):
        return _ultralytics_predict(self.model, source, self.device, self.half, imgsz=self.imgsz)

    def _scenes(self, results) -> list[dict]:
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
