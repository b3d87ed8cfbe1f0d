"""The embedded demo: a synthetic, YOLO-format set of field photos with litter and scene labels.

    desclm demo dataset [--out data/demo] [--seed 0] [--n_train 240] ...

The set is a pure function of its parameters: every image draws from its own generator seeded
by (seed, split, index), so the same parameters give identical bytes, on any machine with the
same Pillow and NumPy. A second call with the same parameters finds the finished set and
reuses it; the set is built in a side folder and moved into place only when complete.
"""

from __future__ import annotations

import csv
import json
import logging
import os
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import yaml

from helpers.core.io import partial_dir, replace_dir
from helpers.core.logs import progress
from helpers.core.paths import DEMO_DATA_DIR, resolve
from helpers.core.settings import setting
from helpers.demo.images import CLASSES, SCENES, render_photo

GENERATOR_VERSION = 4  # bump when drawing changes, so old sets are rebuilt rather than reused
SPLITS = ("train", "valid", "test")
CLASSIFY_SPLIT = {"train": "train", "valid": "val", "test": "test"}  # Ultralytics classify names

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class DemoDatasetSpec:
    """Parameters that fully determine the demo image set."""

    seed: int = setting(0, "seed of every drawn photo")
    n_train: int = setting(240, "training photos")
    # 120, not 40: calibration's significance test on 40 photos kept the defaults for a build whose
    # calibrated settings counted 20 more of 120 unseen photos right (docs/01_cv_extract.md)
    n_valid: int = setting(120, "validation photos")
    n_test: int = setting(40, "test photos")
    width: int = setting(384, "photo width in pixels")
    height: int = setting(288, "photo height in pixels")
    max_objects: int = setting(12, "most objects in one photo")
    jpeg_quality: int = setting(90, "JPEG quality of the photos")
    # Object size in pixels, smallest and largest (before rotation): a camera about as close as a
    # handheld field photo. Measured (docs/measurements/demo_recipe_sweep_round2_h100.json): the demo
    # YOLO after 30 epochs, mAP@0.5 val/test 0.54/0.63 with 32-88 px, 0.47/0.46 with 22-64 px.
    min_object: int = setting(32, "smallest object side in pixels")
    max_object: int = setting(88, "largest object side in pixels")

    def __post_init__(self) -> None:
        for name in ("n_train", "n_valid", "n_test"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")
        if self.width < 64 or self.height < 64:
            raise ValueError(f"image size must be at least 64x64, got {self.width}x{self.height}")
        if not 0 <= self.max_objects <= 40:
            raise ValueError(f"max_objects must be in 0..40, got {self.max_objects}")

    def count(self, split: str) -> int:
        return {"train": self.n_train, "valid": self.n_valid, "test": self.n_test}[split]


def _object_count(rng: np.random.Generator, max_objects: int) -> int:
    """0..max_objects, fewer more likely, as in field photos."""
    weights = np.exp(-np.arange(max_objects + 1) / 5.0)
    return int(rng.choice(max_objects + 1, p=weights / weights.sum()))


def _balanced_scenes(seed: int, split_index: int, n: int) -> list[str]:
    """Each scene equally often (to within one), in a seeded order."""
    rng = np.random.default_rng([seed, split_index, 1_000_003])
    scenes = [SCENES[i % len(SCENES)] for i in range(n)]
    return [scenes[i] for i in rng.permutation(n)]


def yolo_line(class_id: int, box: tuple[int, int, int, int], width: int, height: int) -> str:
    """A YOLO label line: class, then centre and size normalised by the image size."""
    x1, y1, x2, y2 = box
    return (
        f"{class_id} {(x1 + x2) / 2 / width:.6f} {(y1 + y2) / 2 / height:.6f} "
        f"{(x2 - x1) / width:.6f} {(y2 - y1) / height:.6f}"
    )


def _link_or_copy(target: Path, link: Path) -> None:
    link.parent.mkdir(parents=True, exist_ok=True)
    try:
        link.symlink_to(os.path.relpath(target, link.parent))
    except OSError:  # file systems without symlinks
        shutil.copyfile(target, link)


def _existing_manifest(out: Path) -> dict | None:
    try:
        return json.loads((out / "manifest.json").read_text())
    except (OSError, ValueError):
        return None


def _write_split(root: Path, spec: DemoDatasetSpec, split_index: int, split: str) -> list[dict]:
    (root / split / "images").mkdir(parents=True)
    (root / split / "labels").mkdir(parents=True)
    rows = []
    scenes = _balanced_scenes(spec.seed, split_index, spec.count(split))
    for index, scene in enumerate(progress(scenes, desc=f"demo {split}", unit="img")):
        rng = np.random.default_rng([spec.seed, split_index, index])
        labels = [CLASSES[i] for i in rng.integers(len(CLASSES), size=_object_count(rng, spec.max_objects))]
        image, placed = render_photo(rng, scene, labels, (spec.width, spec.height), (spec.min_object, spec.max_object))
        stem = f"{split}_{index:05d}"
        image.save(root / split / "images" / f"{stem}.jpg", quality=spec.jpeg_quality)
        lines = [yolo_line(CLASSES.index(p.label), p.box, spec.width, spec.height) for p in placed]
        (root / split / "labels" / f"{stem}.txt").write_text("".join(line + "\n" for line in lines))
        image_rel = f"{split}/images/{stem}.jpg"
        _link_or_copy(root / image_rel, root / "scenes" / CLASSIFY_SPLIT[split] / scene / f"{stem}.jpg")
        rows.append({"image": image_rel, "split": split, "scene": scene, "objects": len(placed)})
    return rows


def build_dataset(
    out: str | Path = DEMO_DATA_DIR, spec: DemoDatasetSpec = DemoDatasetSpec(), force: bool = False
) -> dict:
    """Builds the demo image set, or reuses a finished one made with the same parameters.

    Layout: `{train,valid,test}/{images,labels}/` (YOLO detection), `data.yaml`,
    `scenes.csv` (image, split, scene, objects), `scenes/{train,val,test}/<scene>/` (links for
    YOLO classification) and `manifest.json` (parameters and counts; written last).

    Args:
        out: Dataset folder (relative paths are taken from the project root).
        spec: Generation parameters.
        force: Rebuild even when a matching set exists.

    Returns:
        The manifest, with `"reused": True` when nothing was generated.
    """
    out = resolve(out)
    wanted = {"generator_version": GENERATOR_VERSION, **asdict(spec)}
    manifest = _existing_manifest(out)
    if not force and manifest and manifest.get("spec") == wanted:
        logger.info(f"Demo dataset already built at {out} ({manifest['images']} images, seed {spec.seed}); reusing it.")
        return {**manifest, "reused": True}

    partial = partial_dir(out)
    rows = []
    for split_index, split in enumerate(SPLITS):
        rows += _write_split(partial, spec, split_index, split)

    data_yaml = {
        "train": "train/images",
        "val": "valid/images",
        "test": "test/images",
        "nc": len(CLASSES),
        "names": dict(enumerate(CLASSES)),
        "scenes": SCENES,  # extra key, ignored by Ultralytics; read by helpers
    }
    (partial / "data.yaml").write_text(yaml.safe_dump(data_yaml, sort_keys=False))
    with open(partial / "scenes.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=["image", "split", "scene", "objects"])
        writer.writeheader()
        writer.writerows(rows)
    manifest = {
        "spec": wanted,
        "images": len(rows),
        "objects": sum(r["objects"] for r in rows),
        "per_split": {s: spec.count(s) for s in SPLITS},
        "classes": CLASSES,
        "scenes": SCENES,
    }
    (partial / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")

    replace_dir(partial, out)
    logger.info(f"Demo dataset written to {out}: {manifest['images']} images, {manifest['objects']} objects.")
    return {**manifest, "reused": False}
