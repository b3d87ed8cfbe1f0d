"""`desclm calibrate`: detector thresholds, ensemble weights and fusion chosen on labelled validation photos.

    desclm calibrate --images data.yaml --yolo_weights best.pt --hf_model rtdetr/ --ensemble_weights_file cal.json
    desclm calibrate --images data.yaml --yolo_predictions runs/detect/val/labels --ensemble_weights_file cal.json

The file it writes records the fingerprints of the detectors' weights (or of their saved predictions,
when no weights are given beside them); `desclm extract` uses it only for those (`helpers.cv.config`).
"""

from __future__ import annotations

import logging
from dataclasses import asdict

from helpers.commands.parsing import SettingsParser, notebook_sections
from helpers.core.settings import subset_of
from helpers.cv.config import ExtractConfig

logger = logging.getLogger(__name__)

CalibrateConfig = subset_of(
    ExtractConfig,
    [
        "images",
        "yolo_weights",
        "yolo_kind",
        "yolo_conf",
        "hf_model",
        "hf_processor",
        "hf_conf",
        "yolo_predictions",
        "hf_predictions",
        "prediction_names",
        "image_root",
        "image_column",
        "key_column",
        "objects_column",
        "bbox_format",
        "label_map",
        "ensemble_weights",
        "ensemble_weights_file",
        "iou_thr",
        "skip_box_thr",
        "conf_type",
        "agnostic_iou",
        "agnostic_ios",
        "batch_size",
        "imgsz",
        "device",
    ],
    "CalibrateConfig",
    "Calibration's settings: extraction's, for the detectors only (the file is read as the current setting, then "
    "rewritten).",
)


def main(argv: list[str], prog: str = "desclm calibrate") -> int:
    parser = SettingsParser(
        CalibrateConfig,
        prog=prog,
        description="Choose detector thresholds, ensemble weights and fusion by per-photo count accuracy on the "
        "labelled val split (a YOLO data.yaml); writes them to --ensemble_weights_file.",
        params_sections=notebook_sections("01"),
    )
    options, _ = parser.parse(argv)
    if not options.ensemble_weights_file:
        parser.error("--ensemble_weights_file is empty: name the file to write")
    from helpers.core.paths import resolve
    from helpers.cv.calibrate import calibrate_ensemble

    output = resolve(options.ensemble_weights_file)
    try:
        # the file is what is being made: an old one is read as the current setting only when it exists
        values = {**asdict(options), "ensemble_weights_file": str(output) if output.is_file() else ""}
        config = ExtractConfig(**values, scene_weights="")
        config.check_inputs()
    except (OSError, ValueError) as error:
        parser.error(str(error))
    result = calibrate_ensemble(config, output)
    choice = result["choice"]
    kept = f" (kept: the best was not better beyond chance, {result['significance']})" if result["kept_current"] else ""
    logger.info(
        "calibrated on %d photos: count accuracy %.3f (before %.3f) with %s%s; written to %s",
        result["photos"],
        choice["count_accuracy"],
        result["baseline"]["count_accuracy"],
        {k: choice[k] for k in ("conf", "weights", "conf_type", "agnostic_iou", "agnostic_ios")},
        kept,
        result["output"],
    )
    return 0
