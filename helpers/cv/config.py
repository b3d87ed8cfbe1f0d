"""Notebook 01's parameters, validated: one dataclass for the notebook, a YAML file and the CLI."""

from __future__ import annotations

import functools
import json
import logging
from dataclasses import dataclass
from pathlib import Path

from helpers.core.contract import Policy
from helpers.core.device import cpu_cores
from helpers.core.io import predictions_fingerprint, weights_fingerprint
from helpers.core.offline import model_source
from helpers.core.paths import require_file, require_photos, resolve
from helpers.core.photo_datasets import image_column_setting, key_column_setting
from helpers.core.remote import is_remote, remote_folder
from helpers.core.settings import setting
from helpers.core.shards import shard_path
from helpers.core.video_frames import DEFAULT_VIDEO_INTERVAL, SHORTEST_INTERVAL
from helpers.cv.detectors import EXPORTS_HELP, PRECISIONS, PREPROCESSING, DetectorSpec, require_weights
from helpers.cv.fusion import FusionSettings
from helpers.cv.hf_truth import BBOX_FORMATS, DEFAULT_BBOX_FORMAT
from helpers.cv.slicing import DEFAULT_OVERLAP, check_slicing
from helpers.cv.sources import ImageSource, open_image_source, select

logger = logging.getLogger(__name__)
DEFAULT_CONF = 0.5  # a detector's threshold when neither the parameter nor the ensemble file sets one
LOW_THRESHOLD = 0.05  # a detector threshold below this is warned about (`detector_specs`)
# Loader threads for photos in object storage when `loader_threads` is 0: with each request answered 30 ms late,
# 16 threads decoded 1.96 times the photos 2 did on a 2-core machine, and 32 no more than 16
# (docs/measurements/remote_latency_cpu.json)
REMOTE_LOADER_THREADS = 16


@dataclass
class ExtractConfig:
    """Notebook 01's parameters (the same names), validated."""

    images: str = setting(
        help="folder of photos (recursive), a .txt list of paths (or of photo URLs in one bucket), a YOLO data.yaml "
        "(or a YOLO export's folder with its "
        "classes.txt or obj.names: Label Studio's, CVAT's), a Pascal VOC folder (Annotations/, JPEGImages/), a COCO "
        "instances .json, Label Studio's JSON export (its "
        "reviewed boxes, keyed by photo_id), a LLaVA "
        "conversations .json or .jsonl (its images), tar shards (a .tar or a folder of them: WebDataset, img2dataset), "
        "a Hugging Face dataset (a save_to_disk folder, Parquet files), or a video; videos in a folder or list too; "
        "or a folder in object storage, its photos, videos, tar shards or a dataset's Parquet files read where they "
        "lie (s3://bucket/photos/, gs://, az://: any fsspec protocol, its package installed: s3fs, gcsfs, adlfs)",
        aliases=("source",),
    )
    image_root: str = setting(
        "",
        "COCO, Label Studio or LLaVA .json/.jsonl only: the folder its file_names, photo_ids or images are relative "
        "to (default: the file's), here or in object storage (s3://bucket/photos/: read where they lie)",
    )
    image_column: str = image_column_setting()
    key_column: str = key_column_setting()
    objects_column: str = setting(
        "",
        "Hugging Face dataset only: its boxes' column (default: the one with a bbox and a category field; an hf "
        "export's detections, predictions at any confidence, only when named)",
    )
    bbox_format: str = setting(
        DEFAULT_BBOX_FORMAT,
        "Hugging Face dataset only: its boxes as coco [x,y,w,h], pascal_voc [x1,y1,x2,y2] "
        "(pixels), albumentations [x1,y1,x2,y2] or yolo [xc,yc,w,h] (normalised)",
    )
    video_interval: float = setting(
        DEFAULT_VIDEO_INTERVAL,
        "videos (.mp4, .mov, .avi, ...): a frame every this many seconds, each a record "
        "(`clip.mp4/00012.500s.jpg`: the frame shown 12.5 s in)",
    )
    output: str = setting("data/cv_outputs.jsonl", "JSONL of CV outputs; its errors and manifest files go beside it")
    max_images: int = setting(0, "the first N images only (0: all)")
    detections_from: str = setting(
        "models", 'detectors ("models"), or the ground truth of a YOLO dataset or COCO .json ("labels")'
    )
    yolo_weights: str = setting(
        "",
        'Ultralytics detection checkpoint (.pt) or its export (.onnx, .engine, .torchscript, ...); "": none',
        aliases=("model",),
    )
    yolo_kind: str = setting("auto", "yolo, rtdetr (Ultralytics RT-DETR weights), or auto (read from the checkpoint)")
    yolo_conf: float | None = setting(
        None, f"the YOLO detector's threshold (None: the calibration file's, else {DEFAULT_CONF})", aliases=("conf",)
    )
    hf_model: str = setting("", 'Hugging Face object-detection model folder or hub id; "": none')
    hf_processor: str = setting("", "its image-processor folder or hub id, when not the model's")
    hf_conf: float | None = setting(
        None, f"the HF detector's threshold (None: the calibration file's, else {DEFAULT_CONF})"
    )
    yolo_predictions: str = setting(
        "", "the YOLO detector's detections already made, not run: save_txt labels folder or COCO results .json"
    )
    hf_predictions: str = setting("", "the same for the HF detector (helpers.cv.predictions)")
    prediction_names: str = setting(
        "", "save_txt class ids -> names: a YAML with `names` or 'a,b,c' (default: the weights', the data.yaml's)"
    )
    scene_weights: str = setting(
        "", 'Ultralytics classification checkpoint (.pt) or its export for the scene; "": scene unknown'
    )
    label_map: dict = setting(factory=dict, help='detector class name -> label written, e.g. {"bottle": "plastic"}')
    ensemble_weights: list[float] = setting(
        factory=list, help="one weight per detector (yolo, hf); empty: the calibration file's, else equal"
    )
    ensemble_weights_file: str = setting(
        "", 'calibration file (`desclm calibrate`), used for the detector weights it was made for; "": none'
    )
    iou_thr: float = setting(0.55, "WBF: boxes of one class overlapping more than this are fused")
    skip_box_thr: float = setting(0.0, "WBF: boxes below this confidence are ignored")
    conf_type: str | None = setting(
        None, "WBF: max (union), avg or box_and_model_avg (vote); None: the calibration file's, else max"
    )
    agnostic_iou: float | None = setting(
        None,
        "one label per object: of boxes overlapping more, the most confident kept; None: file's, else 1 (off)",
    )
    agnostic_ios: float | None = setting(
        None, "a box lying inside a more confident one beyond this share is dropped; None: file's, else 1 (off)"
    )
    batch_size: int = setting(16, "images per forward pass", aliases=("batch",))
    imgsz: int = setting(0, "detector input size (0: the size its checkpoint was trained at)")
    scene_imgsz: int = setting(0, "scene classifier input size (0: the size its checkpoint was trained at)")
    slice_size: int = setting(
        0,
        "sliced inference (SAHI's) for small objects in large photos: each detector also runs on overlapping "
        "tiles of this many photo pixels, their boxes merged (0: off)",
    )
    slice_overlap: float = setting(DEFAULT_OVERLAP, "share of a tile its neighbours overlap (with slice_size)")
    device: str = setting("auto", "auto (CUDA when available), cpu, cuda:0, ...")
    num_shards: int = setting(1, "split the images into this many shards ...")
    shard_index: int = setting(0, "... and process this one (the output gets a .shard-KofN suffix)")
    save_model_detections: bool = setting(True, "also keep each detector's own detections (per-detector metrics)")
    read_exif: bool = setting(
        True,
        "record when and where each photo was taken (its EXIF capture time and GPS position; a video frame's: the "
        "video's creation time and location, or a drone's .SRT flight record beside it) as `taken`; "
        "false: records carry neither (the exports copy photos as stored: their own EXIF goes along)",
    )
    loader_threads: int = setting(
        0,
        "threads decoding images ahead of the models (0: one per CPU core; photos in object storage, at least "
        f"{REMOTE_LOADER_THREADS}: each thread waits out its request's round trip)",
    )
    preprocess: str = setting(
        "auto",
        "where photos are resized for the models: tensor (torch ops on the models' device, one upload per photo "
        "for all models), library (each library's own, on the CPU), auto (tensor on a GPU, else library)",
    )
    precision: str = setting("auto", "the models' floats: fp16 (GPU only), fp32, or auto (fp16 on a GPU, else fp32)")
    draft_decode: bool = setting(
        True, "decode JPEGs (convert video frames) at 1/2, 1/4 or 1/8 scale when still as large as every model's input"
    )
    fsync: bool = setting(
        False, "sync the output to disk after each batch (survives a power cut; slower on network disks)"
    )
    restart_on_change: bool = setting(False, "an output made by other models or settings is started over, not refused")
    retry_crashed: bool = setting(
        False, "retry the photos that ended a run's process when tried alone (left out otherwise, in the errors file)"
    )

    def __post_init__(self) -> None:
        if self.detections_from not in ("models", "labels"):
            raise ValueError(f"detections_from must be 'models' or 'labels', got {self.detections_from!r}")
        if self.detections_from == "models" and not (
            self.yolo_weights or self.hf_model or self.yolo_predictions or self.hf_predictions
        ):
            raise ValueError(
                "no detector: set yolo_weights and/or hf_model, or their predictions (or detections_from='labels')"
            )
        if self.imgsz < 0:
            raise ValueError(f"imgsz must be >= 0, got {self.imgsz}")
        if self.scene_imgsz < 0:
            raise ValueError(f"scene_imgsz must be >= 0, got {self.scene_imgsz}")
        if self.slice_size:
            check_slicing(self.slice_size, self.slice_overlap)
        for name in ("batch_size", "num_shards"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if not self.video_interval >= SHORTEST_INTERVAL:
            raise ValueError(f"video_interval must be >= {SHORTEST_INTERVAL} seconds, got {self.video_interval}")
        if self.loader_threads < 0:
            raise ValueError(f"loader_threads must be >= 0 (0: one per CPU core), got {self.loader_threads}")
        if self.preprocess not in PREPROCESSING:
            raise ValueError(f"preprocess must be one of {', '.join(PREPROCESSING)}, got {self.preprocess!r}")
        if self.bbox_format not in BBOX_FORMATS:
            raise ValueError(f"bbox_format must be one of {', '.join(BBOX_FORMATS)}, got {self.bbox_format!r}")
        if self.precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, got {self.precision!r}")
        self.fusion(from_file=False)  # validates the parameters
        select([], max_images=self.max_images, num_shards=self.num_shards, shard_index=self.shard_index)

    def image_source(self) -> ImageSource:
        """The photos this run reads, and what their source knows of them (`open_image_source`)."""
        return open_image_source(
            self.images,
            self.image_root,
            self.label_map,
            self.image_column,
            self.key_column,
            self.objects_column,
            self.bbox_format,
            self.video_interval,
        )

    def check_inputs(self, models_loaded: bool = False) -> None:
        """Every model file, folder and settings file this run reads exists, is of the right kind and
        readable (the models' only when not `models_loaded` already). Raises (OSError or ValueError, one
        line naming the path) before any model loads."""
        require_photos(
            self.images,
            "Photos (images: a folder, a .txt list of paths, a YOLO data.yaml, a COCO or LLaVA .json, a LLaVA .jsonl, "
            "a Hugging Face dataset or a folder in object storage)",
        )
        photo_folder = "Photo folder of the COCO, Label Studio or LLaVA file (image_root)"
        if self.image_root and is_remote(self.image_root):
            remote_folder(self.image_root, photo_folder)
        elif self.image_root:
            require_file(self.image_root, photo_folder, kind="folder")
        for name in ("yolo_predictions", "hf_predictions"):
            if getattr(self, name):
                what = f"Predictions ({name}: a save_txt labels folder or COCO results .json)"
                require_file(getattr(self, name), what)
        if self.detections_from == "models" and not models_loaded:
            if self.yolo_weights:
                require_weights(self.yolo_weights, f"Ultralytics detection checkpoint (yolo_weights: {EXPORTS_HELP})")
            folders = (
                ("hf_model", "Hugging Face detection model", "config.json"),
                ("hf_processor", "Hugging Face image processor", "preprocessor_config.json"),
            )
            for name, what, marker in folders:
                given = getattr(self, name)
                if given and resolve(given).exists():
                    folder = require_file(given, f"{what} ({name})", kind="folder")
                    if not (folder / marker).is_file():
                        raise FileNotFoundError(f"{what} ({name}) has no {marker}, so is not a model folder: {folder}")
                elif given:  # a hub id: in the cache, or the hub asked for
                    model_source(given, f"{what} ({name})")
            if self.scene_weights:
                what = f"Ultralytics classification checkpoint (scene_weights: {EXPORTS_HELP})"
                require_weights(self.scene_weights, what)
        self._ensemble()  # exists, parses

    def decoding_threads(self, photos_root=None) -> int:
        """`loader_threads`, 0 read as one per CPU core (at least `REMOTE_LOADER_THREADS` for photos in object
        storage: `photos_root`, the source's root, where given, is where the photos lie, as a URL list's or a
        labels file's image_root in a bucket are; else `images`)."""
        if self.loader_threads:
            return self.loader_threads
        remote = is_remote(photos_root if photos_root is not None else self.images)
        return max(cpu_cores(), REMOTE_LOADER_THREADS) if remote else cpu_cores()

    def output_path(self) -> Path:
        return shard_path(resolve(self.output), self.num_shards, self.shard_index)

    def fusion(self, from_file: bool = True) -> FusionSettings:
        """The fusion settings 01 uses: `conf_type`, `agnostic_iou`, `agnostic_ios` from the parameters, else the
        ensemble file's (unless `from_file` is False), else `FusionSettings`' defaults."""
        file = self._ensemble() if from_file else {}
        given = {
            "conf_type": self.conf_type or None,  # "": unset
            "agnostic_iou": self.agnostic_iou,
            "agnostic_ios": self.agnostic_ios,
        }
        chosen = {name: file.get(name) if value is None else value for name, value in given.items()}
        return FusionSettings(self.iou_thr, self.skip_box_thr, **{k: v for k, v in chosen.items() if v is not None})

    def detector_weights(self) -> dict[str, str]:
        """Each detector's name -> its weights (file, folder or hub id), else its saved predictions."""
        named = {"yolo": self.yolo_weights or self.yolo_predictions, "hf": self.hf_model or self.hf_predictions}
        return {name: weights for name, weights in named.items() if weights}

    def detector_fingerprints(self) -> dict[str, str]:
        """Each detector's name -> what identifies it, as a calibration file records them: its weights'
        fingerprint, or its saved predictions' when no weights are given beside them."""
        detectors = {"yolo": (self.yolo_weights, self.yolo_predictions), "hf": (self.hf_model, self.hf_predictions)}
        return {
            name: weights_fingerprint(weights) if weights else predictions_fingerprint(predictions)
            for name, (weights, predictions) in detectors.items()
            if weights or predictions
        }

    def _ensemble(self) -> dict:
        """The calibration file's settings when it was made for these detectors' weights, else {}."""
        if not self.ensemble_weights_file or self.detections_from == "labels":
            return {}
        file = require_file(
            self.ensemble_weights_file,
            "Calibration file (ensemble_weights_file, JSON)",
            "desclm calibrate",
            kind="file",
        )
        return calibration_for(str(file), file.stat().st_mtime_ns, tuple(sorted(self.detector_fingerprints().items())))

    def conf_of(self, name: str) -> float:
        """A detector's threshold: the parameter, else the calibration file's, else DEFAULT_CONF."""
        return self.conf_source(name)[0]

    def conf_source(self, name: str) -> tuple[float, str]:
        """A detector's threshold and where it came from (option, calibration file, default)."""
        given = {"yolo": self.yolo_conf, "hf": self.hf_conf}[name]
        if given is not None:
            return float(given), f"{name}_conf"
        calibrated = self._ensemble().get("conf", {}).get(name)
        if calibrated is not None:
            return float(calibrated), f"calibration file {self.ensemble_weights_file}"
        return DEFAULT_CONF, "default"

    def detector_specs(self) -> list[DetectorSpec]:
        """The detectors of a run: each runs its weights, or reads its predictions when given."""
        specs = []
        if self.yolo_predictions:
            specs.append(DetectorSpec("yolo", "predictions", self.yolo_predictions, conf=self.conf_of("yolo")))
        elif self.yolo_weights:
            specs.append(
                DetectorSpec("yolo", "ultralytics", self.yolo_weights, kind=self.yolo_kind, conf=self.conf_of("yolo"))
            )
        if self.hf_predictions:
            specs.append(DetectorSpec("hf", "predictions", self.hf_predictions, conf=self.conf_of("hf")))
        elif self.hf_model:
            specs.append(DetectorSpec("hf", "hf", self.hf_model, processor=self.hf_processor, conf=self.conf_of("hf")))
        for spec in specs:
            logger.info("%s threshold %s (%s)", spec.name, spec.conf, self.conf_source(spec.name)[1])
            if spec.conf < LOW_THRESHOLD:
                logger.warning(
                    "%s threshold %s: every box it scores at least that is described (01 maps a detector's threshold "
                    "to the describer's %s), often hundreds per photo; 01's report needs no low threshold for mAP",
                    spec.name,
                    spec.conf,
                    Policy().min_confidence,
                )
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


@functools.lru_cache(maxsize=16)
def calibration_for(file: str, mtime_ns: int, detectors: tuple[tuple[str, str], ...]) -> dict:
    """A calibration file's content if it was made for exactly these detectors (name, fingerprint), else
    {} (logged: thresholds calibrated for other weights mean nothing for these). Cached per file state."""
    try:
        content = json.loads(Path(file).read_text(encoding="utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ValueError(f"calibration file {file} is not JSON written by `desclm calibrate`: {error}") from None
    if not isinstance(content, dict):
        raise ValueError(f"calibration file {file} is not JSON written by `desclm calibrate`: not an object")
    made_for = content.get("detectors", {})
    now = dict(detectors)
    if made_for != now:
        differ = sorted(name for name in set(made_for) | set(now) if made_for.get(name) != now.get(name))
        logger.warning(
            "calibration file %s was made for other detector weights (%s differ): its thresholds, weights and "
            "fusion are not used; defaults apply unless given",
            file,
            ", ".join(differ) or "none recorded",
        )
        return {}
    return content
