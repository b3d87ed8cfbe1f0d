"""Stage 01: images -> CV outputs. Image sources, detector backends, fusion, the resumable
extraction, detection metrics, its report and benchmark.

Public API for other stages (loaded on first use, so importing a light submodule stays light):
YOLO dataset and COCO files, image loading, the detector backends, detections made elsewhere
(`from_ultralytics`, `from_supervision`), the detection metrics and calibration, and the CV records as a Hugging
Face dataset's columns (`with_cv_columns`, `ExtractColumns`: `Dataset.map`).
"""

from importlib import import_module

_PUBLIC = {
    "load_data_yaml": "yolo_data",
    "label_path": "yolo_data",
    "read_labels": "yolo_data",
    "load_coco": "coco_data",
    "from_ultralytics": "predictions",
    "from_supervision": "predictions",
    "load_image": "sources",
    "open_image_source": "sources",
    "HFDetector": "detectors",
    "UltralyticsDetector": "detectors",
    "SceneClassifier": "detectors",
    "detection_metrics": "evaluation",
    "ExtractConfig": "config",
    "calibrate_ensemble": "calibrate",
    "collect_detections": "calibrate",
    "run_extraction": "extract",
    "ExtractColumns": "dataset_map",
    "with_cv_columns": "dataset_map",
}
__all__ = sorted(_PUBLIC)


def __getattr__(name: str):
    if name in _PUBLIC:
        return getattr(import_module(f"helpers.cv.{_PUBLIC[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
