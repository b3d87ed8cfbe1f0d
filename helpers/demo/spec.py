"""The demo models' settings (their own module: the trainers and the build all read them)."""

from __future__ import annotations

from dataclasses import dataclass

from helpers.core.device import cpu_has_native_bf16


@dataclass(frozen=True)
class DemoModelsSpec:
    """Settings that determine the demo models (with the data set's manifest)."""

    seed: int = 0
    # Measured on the demo set's generator 3 (docs/measurements/demo_recipe_sweep_round*_h100.json, mAP@0.5
    # val/test): YOLO 20 epochs 0.38/0.46, 25 0.45/0.58, 30 0.54/0.63; RT-DETR 250 steps 0.16/0.14, 500
    # 0.40/0.41, 1000 0.60/0.64. Generator 4 (one look per class) took the same 30 epochs and 500 steps to
    # 0.88/0.84 and 0.52/0.57. On 2 CPU cores a YOLO epoch takes about 12 s and an RT-DETR step 0.4 s in
    # float32, 6 s and 0.25 s under bf16.
    yolo_epochs: int = 30
    yolo_imgsz: int = 256
    yolo_width: float = 0.25  # YOLOv8 width multiple (0.25 is "n")
    yolo_batch: int = 8  # small batches: twice the steps of 16 for the same time, on a model from scratch
    rtdetr_steps: int = 500
    rtdetr_imgsz: int = 256
    rtdetr_batch: int = 8
    rtdetr_lr: float = 5e-4
    scene_epochs: int = 12
    scene_imgsz: int = 96
    max_train_images: int = 0  # 0: all (tests use a handful)
    # On a CPU with native bfloat16 (helpers.core.device.cpu_has_native_bf16), all three train under bf16
    # autocast: measured on the 2-core AMD EPYC, steps 1.6x (YOLO) and 1.45x (RT-DETR) faster.
    cpu_bf16: bool = True

    def trains_in_bf16(self, device: str) -> bool:
        """Whether training on `device` runs under bf16 autocast: asked for, on a CPU that has it natively."""
        return self.cpu_bf16 and device == "cpu" and cpu_has_native_bf16()


# A smoke build: a handful of images, an epoch or a few steps each (seconds, useless models).
QUICK = DemoModelsSpec(
    yolo_epochs=1,
    yolo_imgsz=160,
    rtdetr_steps=2,
    rtdetr_imgsz=128,
    rtdetr_batch=2,
    scene_epochs=1,
    scene_imgsz=64,
    max_train_images=8,
)
