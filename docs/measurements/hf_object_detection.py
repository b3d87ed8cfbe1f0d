"""The hf export's object-detection columns (`--objects`) through transformers' object-detection recipe: the
dataset loaded by its folder's name (its card's `configs`), the categories read as transformers' task guide reads
them, the boxes augmented by albumentations in COCO's format, turned into the model's targets by its image
processor, a small RT-DETR trained on them with `Trainer` and evaluated with torchmetrics' mean average precision.

albumentations and torchmetrics are no dependency of the project: this runs in an environment of the project's
packages with them beside it:

    python -m venv /tmp/odenv && echo "$PWD/.venv/lib/python3.11/site-packages" > \\
        /tmp/odenv/lib/python3.11/site-packages/desclm.pth
    /tmp/odenv/bin/pip install albumentations==2.0.8 torchmetrics==1.9.0
    /tmp/odenv/bin/python docs/measurements/hf_object_detection.py --out docs/measurements/hf_object_detection.json

It builds a demo dataset (`helpers.demo`), takes its labels as the CV records (confidence 1), describes them with
the grammar and exports them with `--objects` in two splits. Every box must reach the model's targets as its label
file states it (YOLO's centre and size, in 0..1 of the photo): those of the validation photos after
albumentations' validation transform and the image processor (unpadded: padded square, its boxes are in 0..1 of the
padded photo), compared here with the label files themselves.
The model is small and random at the start and trains for a few hundred steps: its mean average precision on the
validation photos shows that it learns where the litter is from the exported boxes, side by side with the same
training on boxes mirrored left to right (the photos not: boxes that miss what they name), not a detector's quality.
"""

from __future__ import annotations

import argparse
import math
import tempfile
from functools import partial
from pathlib import Path

from measured import commit, labelled_demo, save

from helpers.demo.rtdetr import small_rtdetr_config
from helpers.describer.exports import export
from helpers.describer.selection import SplitPlan

SIDE = 128  # the photos' longer side as the image processor resizes them, then pads them square


def _transforms():
    """The recipe's augmentations for training (the guide's, lighter) and its validation pass, in COCO's format."""
    import albumentations as A

    boxes = A.BboxParams(format="coco", label_fields=["category"], clip=True, min_area=25)
    train = A.Compose([A.HorizontalFlip(p=0.5), A.RandomBrightnessContrast(p=0.5)], bbox_params=boxes)
    validation = A.Compose([A.NoOp()], bbox_params=A.BboxParams(format="coco", label_fields=["category"], clip=True))
    return train, validation


def _batch(examples: dict, transform, processor) -> dict:
    """A batch of the dataset's examples as the model takes them: each photo and its `objects` through `transform`,
    then the image processor with the boxes as COCO annotations (the recipe's `augment_and_transform_batch`)."""
    import numpy as np

    images, annotations = [], []
    for image_id, image, objects in zip(examples["image_id"], examples["image"], examples["objects"], strict=True):
        out = transform(image=np.array(image.convert("RGB")), bboxes=objects["bbox"], category=objects["category"])
        images.append(out["image"])
        boxes = [list(box) for box in out["bboxes"]]
        areas = [box[2] * box[3] for box in boxes]
        listed = [
            {"image_id": image_id, "category_id": int(category), "iscrowd": 0, "area": area, "bbox": box}
            for category, area, box in zip(out["category"], areas, boxes, strict=True)
        ]
        annotations.append({"image_id": image_id, "annotations": listed})
    result = processor(images=images, annotations=annotations, return_tensors="pt")
    result.pop("pixel_mask", None)
    return result


def _collate(batch: list) -> dict:
    import torch

    return {"pixel_values": torch.stack([x["pixel_values"] for x in batch]), "labels": [x["labels"] for x in batch]}


def _label_boxes(path: Path, names: list[str]) -> list[tuple]:
    """A photo's label file's boxes: (class name, centre x, centre y, width, height), to a thousandth."""
    label_file = path.parent.parent / "labels" / f"{path.stem}.txt"
    return sorted(
        (names[int(c)], *(round(float(v), 3) for v in box))
        for c, *box in (line.split() for line in label_file.read_text().splitlines())
    )


def _mirrored(example: dict) -> dict:
    """The example with its boxes mirrored left to right, its photo not: the control, boxes that miss the litter."""
    boxes = [[example["width"] - x - w, y, w, h] for x, y, w, h in example["objects"]["bbox"]]
    return {"objects": example["objects"] | {"bbox": boxes}}


def _trained(train, validation, names: list[str], processor, args, folder: Path) -> dict:
    """A small RT-DETR named by `names`, random at the start (seeded), trained on `train` with `Trainer` for
    `args.steps` steps (the recipe's augmentations), then evaluated on `validation` (torchmetrics' mean average
    precision, the boxes in the photo's pixels). Returns the first and last loss and the precision."""
    import torch
    from torchmetrics.detection.mean_ap import MeanAveragePrecision
    from transformers import RTDetrForObjectDetection, Trainer, TrainingArguments

    train_transform, validation_transform = _transforms()
    train = train.with_transform(partial(_batch, transform=train_transform, processor=processor))
    evaluated = validation.with_transform(partial(_batch, transform=validation_transform, processor=processor))
    torch.manual_seed(args.seed)
    model = RTDetrForObjectDetection(small_rtdetr_config(names))
    training = TrainingArguments(
        output_dir=str(folder),
        max_steps=args.steps,
        per_device_train_batch_size=8,
        learning_rate=5e-4,
        max_grad_norm=0.1,
        logging_steps=1,
        save_strategy="no",
        report_to=[],
        remove_unused_columns=False,  # the transform reads `image` and `objects`
        seed=args.seed,
        use_cpu=True,
    )
    trainer = Trainer(model=model, args=training, train_dataset=train, data_collator=_collate)
    trainer.train()
    losses = [entry["loss"] for entry in trainer.state.log_history if "loss" in entry]
    model.eval()
    metric = MeanAveragePrecision(box_format="xyxy")
    target_boxes = 0
    with torch.no_grad():
        for batch in torch.utils.data.DataLoader(evaluated, batch_size=8, collate_fn=_collate):
            outputs = model(pixel_values=batch["pixel_values"])
            sizes = torch.stack([torch.as_tensor(label["orig_size"]) for label in batch["labels"]])
            predicted = processor.post_process_object_detection(outputs, threshold=0.0, target_sizes=sizes)
            targets = []
            for label in batch["labels"]:
                height, width = (int(v) for v in label["orig_size"])
                cx, cy, w, h = torch.as_tensor(label["boxes"]).unbind(-1)
                corners = torch.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], dim=-1)
                scale = torch.tensor([width, height, width, height])
                targets.append({"boxes": corners * scale, "labels": label["class_labels"]})
                target_boxes += len(label["class_labels"])
            metric.update(predicted, targets)
    return {
        "loss_first_last": [round(losses[0], 4), round(losses[-1], 4)],
        "losses_finite": all(math.isfinite(loss) for loss in losses),
        "validation_boxes_evaluated": target_boxes,
        "validation_map_50": round(float(metric.compute()["map_50"]), 4),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--photos", type=int, default=80, help="demo photos (train split), exported in two splits")
    parser.add_argument("--steps", type=int, default=400, help="training steps")
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    import yaml
    from datasets import load_dataset
    from transformers import RTDetrImageProcessor

    with tempfile.TemporaryDirectory() as work:
        root = Path(work)
        labelled_demo(root, args.photos, args.seed)
        class_names = yaml.safe_load((root / "demo" / "data.yaml").read_text())["names"]
        class_names = [class_names[i] for i in sorted(class_names)] if isinstance(class_names, dict) else class_names
        plan = SplitPlan.parse("train=0.8,validation=0.2", "photo", args.seed)
        counts = export(
            "hf",
            root / "described.jsonl",
            root / "dataset",
            root / "cv.jsonl",
            root / "demo" / "data.yaml",
            splits=plan,
            objects=True,
        )
        dataset = load_dataset(str(root / "dataset"), cache_dir=str(root / "cache"))
        names = dataset["train"].features["objects"]["category"].feature.names  # as transformers' guide reads them
        processor = RTDetrImageProcessor(
            do_resize=True,
            size={"max_height": SIDE, "max_width": SIDE},
            do_pad=True,
            pad_size={"height": SIDE, "width": SIDE},
        )
        # the check reads the boxes unpadded: padded square, they are in 0..1 of the padded photo
        unpadded = RTDetrImageProcessor(size={"max_height": SIDE, "max_width": SIDE}, do_pad=False)
        validation_transform = _transforms()[1]
        validation = dataset["validation"]
        boxes_as_labelled = photos_as_labelled = boxes_validation = 0
        for example in validation:
            read = _batch({key: [value] for key, value in example.items()}, validation_transform, unpadded)
            labels = read["labels"][0]
            found = sorted(
                (names[int(c)], *(round(float(v), 3) for v in box))
                for c, box in zip(labels["class_labels"], labels["boxes"], strict=True)
            )
            expected = _label_boxes(root / "demo" / example["id"], class_names)
            boxes_validation += len(expected)
            boxes_as_labelled += sum(a == b for a, b in zip(found, expected))
            photos_as_labelled += found == expected
        trained = {
            "as_exported": _trained(dataset["train"], validation, names, processor, args, root / "a"),
            "boxes_mirrored": _trained(dataset["train"].map(_mirrored), validation, names, processor, args, root / "b"),
        }
    result = {
        "what": "desclm export --format hf --objects of a demo dataset's labels (grammar descriptions), through "
        "transformers' object-detection recipe (albumentations, RT-DETR's image processor, Trainer, torchmetrics)",
        "commit": commit(),
        "versions": {
            name: __import__(name).__version__
            for name in ("transformers", "datasets", "albumentations", "torchmetrics")
        },
        "photos": args.photos,
        "exported": counts["exported"],
        "splits": {name: len(split) for name, split in dataset.items()},
        "categories": list(names),
        "validation_boxes_in_label_files": boxes_validation,
        "validation_boxes_as_labelled": boxes_as_labelled,
        "validation_photos_as_labelled": photos_as_labelled,
        "training_steps": args.steps,
        "trained": trained,
    }
    save(result, args.out)


if __name__ == "__main__":
    main()
