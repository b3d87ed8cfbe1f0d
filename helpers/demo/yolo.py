"""The demo's two Ultralytics models (litter detector, scene classifier): a small YOLOv8 layout from
random weights, trained with the demo recipe; on a CPU with native bfloat16, under bf16 autocast."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import yaml

from helpers.core.device import use_all_cores

if TYPE_CHECKING:
    from helpers.demo.spec import DemoModelsSpec


@contextmanager
def ultralytics_cpu_bf16() -> Iterator[None]:
    """Lets Ultralytics' trainer run `amp="bf16"` on the CPU, which its `autocast` refuses (CUDA only):
    the trainer's forward pass then runs under `torch.autocast("cpu", dtype=torch.bfloat16)`, weights and
    optimiser stay float32. Restores Ultralytics' function on exit."""
    import torch
    from ultralytics.engine import trainer as trainer_module

    original = trainer_module.autocast

    def autocast(enabled, device: str = "cuda"):
        if device == "cpu" and enabled is torch.bfloat16:
            return torch.autocast("cpu", dtype=torch.bfloat16)
        return original(enabled, device=device)

    trainer_module.autocast = autocast
    try:
        yield
    finally:
        trainer_module.autocast = original


def _before_training(trainer, bf16: bool) -> None:
    use_all_cores()
    if bf16:
        import torch

        # oneDNN's bf16 convolutions are fastest on channels-last tensors (measured: a demo YOLO step
        # 0.21 s, 0.24 s without); the parameters stay the same objects, so the optimiser keeps them
        trainer.model.to(memory_format=torch.channels_last)


def _train(model, spec: DemoModelsSpec, settings: dict) -> None:
    """`model.train(**settings)`, under bf16 autocast where the spec says so."""
    bf16 = spec.trains_in_bf16(str(settings["device"]))
    model.add_callback("on_pretrain_routine_start", lambda trainer: use_all_cores())
    model.add_callback("on_pretrain_routine_end", lambda trainer: _before_training(trainer, bf16))
    if not bf16:
        model.train(**settings)
        return
    with ultralytics_cpu_bf16():
        model.train(**{**settings, "amp": "bf16"})


def yolo_model_yaml(out: Path, nc: int, width: float, task: str) -> Path:
    """A YOLOv8 model yaml with one custom scale, so the model size is explicit."""
    import ultralytics

    name = {"classify": "yolov8-cls.yaml", "segment": "yolov8-seg.yaml", "obb": "yolov8-obb.yaml"}.get(
        task, "yolov8.yaml"
    )
    spec = yaml.safe_load((Path(ultralytics.__file__).parent / "cfg/models/v8" / name).read_text())
    spec["nc"] = nc
    spec["scales"] = {"d": [0.33, width, 1024]}
    path = out / f"{Path(name).stem}-demo.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


# Milder colour augmentation than Ultralytics' (saturation 0.7, brightness 0.4): the demo's classes
# differ mostly in colour and brightness (silver cans, white paper, clear bottles), which strong jitter
# makes alike, and the photos already vary exposure and colour temperature. Measured side by side
# (docs/measurements/yolo_colour_augmentation_demo_cpu.json).
YOLO_COLOUR_AUGMENTATION = {"hsv_s": 0.2, "hsv_v": 0.15}

# Both demo YOLO models: CPU, deterministic, from random weights, no plots or validation during training
# (float32 here; `_train` switches to bf16 where `DemoModelsSpec.trains_in_bf16`).
YOLO_TRAINING = {
    "workers": 0,
    "device": "cpu",
    "exist_ok": True,
    "deterministic": True,
    "plots": False,
    "verbose": False,
    "val": False,
    "amp": False,
    "pretrained": False,
}


def train_yolo_detector(data_yaml: Path, out: Path, spec: DemoModelsSpec, work: Path, **overrides) -> Path:
    """Trains the demo YOLO; `overrides`: other Ultralytics settings, the recipe's included (the recipe
    sweep's device and val, a measurement's `close_mosaic`)."""
    from ultralytics import YOLO

    names = yaml.safe_load(data_yaml.read_text())["names"]
    model = YOLO(str(yolo_model_yaml(work, len(names), spec.yolo_width, "detect")))
    # Measured on the demo set generator 2 (validation mAP@0.5 after 20 epochs): mosaic until the last 4
    # epochs and AdamW at 0.002, batch 8: 0.37; batch 4 or lr 0.004 the same; SGD at 0.01 half of it;
    # 960 training images instead of 240, same image passes: the same; width 0.125 or imgsz 320-384:
    # no better per CPU second (demo_recipe_sweep_round1_h100.json).
    recipe = {
        "close_mosaic": min(4, spec.yolo_epochs),
        "optimizer": "AdamW",
        "lr0": 0.002,
        "warmup_epochs": 1,
        **YOLO_COLOUR_AUGMENTATION,
    }
    settings = {
        "data": str(data_yaml),
        "epochs": spec.yolo_epochs,
        "imgsz": spec.yolo_imgsz,
        "batch": spec.yolo_batch,
        "project": str(work / "runs"),
        "name": "detector",
        "seed": spec.seed,
    }
    _train(model, spec, {**settings, **YOLO_TRAINING, **recipe, **overrides})
    target = out / "yolo_detector.pt"
    shutil.copyfile(work / "runs/detector/weights/last.pt", target)
    return target


def train_scene_classifier(scenes_dir: Path, out: Path, spec: DemoModelsSpec, work: Path) -> Path:
    """Trains the demo scene classifier on the set's `scenes/` folder (Ultralytics classify layout)."""
    from ultralytics import YOLO

    classes = sorted(p.name for p in (scenes_dir / "train").iterdir() if p.is_dir())
    model = YOLO(str(yolo_model_yaml(work, len(classes), spec.yolo_width, "classify")))
    settings = {
        "data": str(scenes_dir),
        "epochs": spec.scene_epochs,
        "imgsz": spec.scene_imgsz,
        "batch": 16,
        "project": str(work / "runs"),
        "name": "scene",
        "seed": spec.seed,
    }
    _train(model, spec, {**settings, **YOLO_TRAINING})
    target = out / "scene_classifier.pt"
    shutil.copyfile(work / "runs/scene/weights/last.pt", target)
    return target
