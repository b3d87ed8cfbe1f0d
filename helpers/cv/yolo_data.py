"""Reading YOLO-format datasets: `data.yaml`, image lists per split, label files, scene labels."""

from __future__ import annotations

import csv
import logging
import math
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from helpers.core.io import file_head, is_mac_metadata, name_suffix
from helpers.core.paths import require_file
from helpers.core.photo_datasets import IMAGE_SUFFIXES
from helpers.core.remote import list_lines

logger = logging.getLogger(__name__)

SPLIT_KEYS = {"train": "train", "val": "val", "test": "test"}  # data.yaml key -> our split name


@dataclass
class YoloDataset:
    """A YOLO dataset: its root, class names, images per split and (optional) scene per image."""

    root: Path
    names: list[str]
    splits: dict[str, list[Path]]
    scenes: dict[str, str] = field(default_factory=dict)  # image path relative to root -> scene
    keypoints: bool = False  # a pose dataset (`kpt_shape`): each label line a box, then its keypoints
    labels_beside: bool = False  # a darknet-style export: a photo's label file beside it, when there is one

    def images(self) -> list[tuple[Path, str]]:
        """All (image path, split) pairs, splits in train/val/test order, paths sorted."""
        return [(image, split) for split, images in self.splits.items() for image in images]


def walk_images(folder: Path, suffixes: frozenset[str] = IMAGE_SUFFIXES) -> Iterator[str]:
    """The images under `folder` (recursive; files with these extensions), as paths relative to it
    joined with "/", in the order `sorted` gives their `Path`s (each folder's entries by name, depth first).

    Listed with `os.scandir`: no system call per file on most file systems (a folder of 10^7 photos on a
    network share lists in minutes, not hours), and no `Path` object per photo. Links count, even when
    broken or looping, so that they reach the errors file instead of vanishing; a linked folder is not
    entered. A `._` file macOS wrote beside a photo is none (`is_mac_metadata`). Logs how many other files it passed
    over, and each folder it could not read.
    """
    others, other_kinds = 0, set()  # how many other files, and a sample of their kinds for the log
    mac_metadata = 0  # `._` files a Mac wrote beside the photos (`is_mac_metadata`)

    def listing(path: str) -> Iterator[os.DirEntry]:
        try:
            with os.scandir(path) as entries:
                return iter(sorted(entries, key=lambda entry: os.path.normcase(entry.name)))
        except OSError as error:
            logger.warning("%s: a folder that cannot be read, its photos not listed: %s", path, error)
            return iter(())

    # A stack of the folders being listed, not recursion: a tree of any depth is walked
    folders = [(listing(str(folder)), "")]  # (each open folder's entries left, its prefix)
    while folders:
        entries, prefix = folders[-1]
        entry = next(entries, None)
        if entry is None:
            folders.pop()
        elif entry.is_dir(follow_symlinks=False):
            folders.append((listing(entry.path), f"{prefix}{entry.name}/"))
        elif entry.is_symlink() or entry.is_file():  # a link first: a looping one cannot say if it is a file
            suffix = name_suffix(entry.name)
            if suffix in suffixes and is_mac_metadata(entry.name, file_head(entry.path)):
                mac_metadata += 1
            elif suffix in suffixes:
                yield prefix + entry.name
            else:
                others += 1
                if len(other_kinds) < 64:
                    other_kinds.add(suffix or entry.name)
    if others:
        logger.info("%s: %d file(s) that are not images passed over (%s)", folder, others, sorted(other_kinds)[:8])
    if mac_metadata:
        logger.info(
            "%s: %d macOS metadata file(s) passed over (`._` AppleDouble files, no photos)", folder, mac_metadata
        )


def list_images(entry: Path) -> list[Path]:
    """Images of a folder (`walk_images`) or of a `.txt` list (paths relative to its folder, `#` comments).

    A list file is read as bytes: a byte-order mark is skipped, and a path in another encoding than
    UTF-8 is kept as the file system's bytes (so that file is found all the same).
    """
    if entry.is_dir():
        return [entry / key for key in walk_images(entry)]
    if entry.is_file() and entry.suffix == ".txt":  # a text file listing image paths
        lines = [Path(line) for _, line in list_lines(entry.read_bytes())]
        return [p if p.is_absolute() else (entry.parent / p) for p in lines]
    raise FileNotFoundError(f"YOLO split entry not found or not a folder/.txt list: {entry}")


def _names(raw, yaml_path: Path) -> list[str]:
    if isinstance(raw, dict):
        return [str(raw[k]) for k in sorted(raw, key=int)]
    if isinstance(raw, list):
        return [str(n) for n in raw]
    raise ValueError(f"{yaml_path}: 'names' must be a list or a mapping of class ids to names")


def load_data_yaml(path: str | Path) -> YoloDataset:
    """Reads a YOLO `data.yaml`; split entries may be folders, `.txt` lists, or lists of either.

    A `scenes.csv` beside the yaml (columns `image`, `scene`) gives each image's scene label.
    """
    yaml_path = require_file(path, "YOLO data.yaml")
    spec = yaml.safe_load(yaml_path.read_text()) or {}
    if "names" not in spec:
        raise ValueError(f"{yaml_path}: no 'names' entry (the class names)")
    root = Path(spec["path"]) if spec.get("path") else yaml_path.parent
    root = root if root.is_absolute() else (yaml_path.parent / root)
    splits: dict[str, list[Path]] = {}
    for key, split in SPLIT_KEYS.items():
        entries = spec.get(key)
        if not entries:
            continue
        entries = entries if isinstance(entries, list) else [entries]
        splits[split] = [image for entry in entries for image in list_images(root / entry)]
    scenes: dict[str, str] = {}
    scenes_csv = yaml_path.parent / "scenes.csv"
    if scenes_csv.exists():
        with open(scenes_csv, newline="") as handle:
            scenes = {row["image"]: row["scene"] for row in csv.DictReader(handle)}
    names = _names(spec["names"], yaml_path)
    return YoloDataset(root.resolve(), names, splits, scenes, keypoints=spec.get("kpt_shape") is not None)


NAMES_FILES = ("classes.txt", "obj.names")  # a YOLO folder's class names without a data.yaml: Label Studio's, CVAT's


def names_file(folder: Path) -> Path | None:
    """The class names file of a YOLO dataset exported without a `data.yaml` (Label Studio's YOLO export:
    `classes.txt`, `images/`, `labels/`; CVAT's YOLO 1.1 and darknet's: `obj.names`, label files beside the
    images), None when the folder has none."""
    return next((folder / name for name in NAMES_FILES if (folder / name).is_file()), None)


def load_yolo_folder(folder: str | Path) -> YoloDataset:
    """A YOLO dataset that is a folder with a class names file (`names_file`): its names one per line, in class
    id order (a name as written, its line's ends stripped); its photos every image under it, without splits; each
    photo's label file beside it (darknet's and CVAT's YOLO 1.1, whose photos may lie in folders named `images`),
    else where Ultralytics looks for it (`label_path`: `labels/` for `images/`: Label Studio's)."""
    folder = Path(folder).resolve()
    path = names_file(folder)
    if path is None:
        raise FileNotFoundError(f"{folder}: no {' or '.join(NAMES_FILES)} naming its classes")
    lines = path.read_bytes().removeprefix(b"\xef\xbb\xbf").decode("utf-8").splitlines()
    while lines and not lines[-1].strip():
        lines.pop()  # a last line break, not a class
    if not lines or any(not line.strip() for line in lines):
        raise ValueError(f"{path}: a class name on every line, in class id order (a blank line would shift the ids)")
    photos = {"": [folder / key for key in walk_images(folder)]}
    return YoloDataset(folder, [line.strip() for line in lines], photos, labels_beside=True)


def label_path(image: Path) -> Path:
    """The YOLO label file of an image: the last `images` folder becomes `labels`, suffix `.txt`."""
    parts = list(image.parts)
    for index in range(len(parts) - 1, -1, -1):
        if parts[index] == "images":
            parts[index] = "labels"
            break
    return Path(*parts).with_suffix(".txt")


def label_box(numbers: list[float]) -> list[float] | None:
    """The upright box [x1, y1, x2, y2] (normalised, not clipped) of a YOLO label line's numbers after its
    class: a box `x_center y_center width height`, or a polygon `x1 y1 x2 y2 x3 y3 ...` (a segmentation
    or oriented-box label: three points or more), whose extent is its box, as Ultralytics reads such
    labels for detection. None when they are neither, or not all finite."""
    if not all(math.isfinite(v) for v in numbers):
        return None
    if len(numbers) == 4:
        xc, yc, w, h = numbers
        return [xc - w / 2, yc - h / 2, xc + w / 2, yc + h / 2]
    if len(numbers) >= 6 and len(numbers) % 2 == 0:
        xs, ys = numbers[0::2], numbers[1::2]
        return [min(xs), min(ys), max(xs), max(ys)]
    return None


def read_labels(path: Path, names: list[str], keypoints: bool = False) -> list[tuple[str, list[float]]]:
    """Reads a YOLO label file into (class name, [x1, y1, x2, y2] normalised) pairs: box lines, or the
    polygons of a segmentation or oriented-box dataset as their upright boxes (`label_box`); with
    `keypoints` (a pose dataset), each line's box, its keypoints after it left aside.

    A missing file means no objects. A malformed line raises ValueError naming file and line.
    """
    if not path.exists():
        return []
    boxes = []
    for number, line in enumerate(path.read_text(encoding="utf-8-sig").splitlines(), start=1):
        if not line.strip():
            continue
        fields = line.split()
        try:
            class_id, box = int(fields[0]), label_box([float(v) for v in fields[1 : 5 if keypoints else None]])
            if box is None:
                raise ValueError
        except (ValueError, IndexError):
            raise ValueError(
                f"{path}:{number}: expected 'class x_center y_center width height' or a polygon "
                f"'class x1 y1 x2 y2 x3 y3 ...', got {line!r}"
            ) from None
        if not 0 <= class_id < len(names):
            raise ValueError(f"{path}:{number}: class {class_id} is not one of the dataset's {len(names)} names")
        box = [max(0.0, box[0]), max(0.0, box[1]), min(1.0, box[2]), min(1.0, box[3])]
        boxes.append((names[class_id], [round(v, 6) for v in box]))
    return boxes
