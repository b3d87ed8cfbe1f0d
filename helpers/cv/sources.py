"""Where 01 finds its images: a folder, a text file listing paths, a YOLO `data.yaml` (or a YOLO export's
folder with its class names file, `helpers.cv.yolo_data.names_file`), a Pascal VOC folder
(`helpers.cv.voc_data`), a COCO instances JSON or a Label Studio JSON export (these with ground truth), a
LLaVA training set's JSON or JSONL, tar shards (WebDataset, img2dataset: `helpers.core.tar_photos`), or a
Hugging Face dataset of photos
(`helpers.core.photo_datasets`: a `save_to_disk` folder or Parquet files), or a folder in object storage
(`s3://bucket/photos/`, any fsspec protocol: `helpers.core.remote`), its photos read where they lie. Videos in a
folder or a list, or one video, give a frame every `video_interval` seconds (`helpers.core.video_frames`).

Each image gets a stable key, its path relative to the image root (the folder, the list file's
folder, the dataset root, or the COCO or LLaVA file's folder unless `image_root` says otherwise; in a
Hugging Face dataset, its stored path, `key_column` or row; in a tar shard, the shard's path and the
member's name; a video's frame, the video's key and the frame's time), which names it in the output,
drives resume and decides its shard.
"""

from __future__ import annotations

import io
import logging
import os
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError
from tqdm.auto import tqdm

from helpers.core.io import json_opening, name_suffix
from helpers.core.paths import key_under, require_photos, resolve
from helpers.core.photo_datasets import IMAGE_SUFFIXES, SPLIT_NAMES, is_photo_dataset, open_photo_dataset, seen_size
from helpers.core.remote import bucket_keys, is_remote, list_lines, remote_bytes, remote_path, remote_photos
from helpers.core.shards import check_shard, shard_of
from helpers.core.tar_photos import (
    MEMBER,
    is_tar_shards,
    read_member,
    shard_photos,
    shards_root,
    split_key,
)
from helpers.core.video_frames import (
    DEFAULT_VIDEO_INTERVAL,
    FRAME,
    VIDEO_SUFFIXES,
    decode_frame,
    forget_remote_folders,
    frame_key,
    frame_taken,
    frame_times,
    is_transport_stream,
    is_video,
    split_frame_key,
)
from helpers.cv.coco_data import CocoDataset, load_coco
from helpers.cv.exif import photo_taken
from helpers.cv.hf_truth import (
    DEFAULT_BBOX_FORMAT,
    dataset_scenes,
    dataset_truth,
    find_objects_column,
)
from helpers.cv.label_studio_truth import is_label_studio_export, load_label_studio
from helpers.cv.labels import normalise_label
from helpers.cv.llava_data import llava_images
from helpers.cv.voc_data import is_voc_dataset, load_voc
from helpers.cv.yolo_data import (
    label_path,
    load_data_yaml,
    load_yolo_folder,
    names_file,
    read_labels,
    walk_images,
)

logger = logging.getLogger(__name__)

VIDEOS_SHOWN = 50  # listing more videos than this shows progress (each is opened for its duration)
LISTING_THREADS = 16  # videos opened at once for their lengths (their files' round trips overlap)


@dataclass(frozen=True, slots=True)
class ImageItem:
    """One photo of a source. A run lists every photo (10^7 of them, on a big run), so an item holds
    its key and the source's root, shared by all, and makes its path when asked (~150 bytes a photo;
    a `Path` each took ~600)."""

    root: Path  # the source's image root, absolute (a Hugging Face dataset's photo: the dataset; a remote one: a UPath)
    key: str  # path relative to the image root (posix), or the absolute path when outside it
    split: str | None  # train/val/test when the source says so
    # a Hugging Face dataset's photo: its row, in `column`; a shard's: its data's offset; a frame's: its time (ms)
    row: int | None = None
    column: str = ""  # a dataset's photo column, MEMBER for a photo in a tar shard, FRAME for a video's frame

    @property
    def path(self) -> Path:
        """The photo's absolute path on this machine (a Hugging Face dataset's photo: the dataset's; a
        photo in a tar shard: the shard's; a frame: its video's)."""
        if self.column == MEMBER:
            return self.root / split_key(self.key)[0]
        if self.column == FRAME:
            return self.root / split_frame_key(self.key)[0]
        return self.root if self.row is not None else self.root / self.key

    @property
    def name(self) -> str:
        """The photo for messages: its path, its dataset and row, its shard and member, or its video and time."""
        if self.column == MEMBER:
            return f"{self.path} [{split_key(self.key)[1]}]"
        if self.column == FRAME:
            return f"{self.path} [at {self.row / 1000:.3f} s]"
        return f"{self.path} (row {self.row}, {self.key})" if self.row is not None else str(self.path)


@dataclass
class ImageSource:
    """The images of one source, in a fixed order, and what else the source knows about them."""

    kind: str  # folder, list, video, yolo, voc, coco, label_studio, llava, webdataset or hf
    root: Path
    items: list[ImageItem]
    class_names: list[str] = field(default_factory=list)  # YOLO and COCO: ground-truth class names
    scenes: dict[str, str] = field(default_factory=dict)  # key -> ground-truth scene (scenes.csv, a scene column)
    coco: CocoDataset | None = None  # COCO, Label Studio, VOC: the boxes per photo
    label_map: dict[str, str] = field(default_factory=dict)  # class name -> label, as for the detectors
    # a Hugging Face dataset with boxes: (image column, objects column, bbox format), `helpers.cv.hf_truth`
    dataset_truth: tuple[str, str, str] | None = None
    keypoints: bool = False  # a YOLO pose dataset: its label lines hold keypoints after the box
    labels_beside: bool = False  # a YOLO export without data.yaml: a photo's label file beside it, when there

    @property
    def has_ground_truth(self) -> bool:
        return self.kind in ("yolo", "coco", "label_studio", "voc") or self.dataset_truth is not None

    def truth_boxes(self, item: ImageItem) -> list[tuple[str, list[float]]]:
        """The photo's labelled boxes: (label through `label_map`, [x1, y1, x2, y2] normalised).

        Raises:
            ValueError: Its YOLO label file is malformed, or its COCO annotations hold a bad box.
        """
        if self.kind in ("coco", "label_studio", "voc"):
            if problem := self.coco.problems.get(item.path):
                raise ValueError(problem)
            boxes = self.coco.boxes.get(item.path, [])
        elif self.kind == "hf":
            boxes = dataset_truth(str(self.root), *self.dataset_truth).boxes(item.row)
        else:
            beside = item.path.with_suffix(".txt") if self.labels_beside else None
            labels = beside if beside is not None and beside.is_file() else label_path(item.path)
            boxes = read_labels(labels, self.class_names, self.keypoints)
        return [(normalise_label(name, self.label_map), box) for name, box in boxes]


def _absolute(path: Path) -> Path:
    """The absolute path without following links (a broken or looping link keeps its own name)."""
    return Path(os.path.abspath(path))


def _item(path: Path, root: Path, split: str | None = None) -> ImageItem:
    """The item of a photo file: its key relative to `root` when it lies under it (`root / key` is its
    absolute path either way)."""
    return ImageItem(root, _key(path, root), split)


def _key(path: Path, root: Path) -> str:
    if is_remote(root):  # a photo `photo_under` a remote root: its path below it
        return str(path)[len(str(root).rstrip("/")) + 1 :]
    try:
        return _absolute(path).relative_to(root).as_posix()
    except ValueError:
        return _absolute(path).as_posix()


def open_image_source(
    images: str | Path,
    image_root: str | Path = "",
    label_map: dict[str, str] | None = None,
    image_column: str = "",
    key_column: str = "",
    objects_column: str = "",
    bbox_format: str = DEFAULT_BBOX_FORMAT,
    video_interval: float = DEFAULT_VIDEO_INTERVAL,
) -> ImageSource:
    """Lists the images of a folder (recursively), a `.txt` list of paths, a YOLO `data.yaml` (or a folder with a
    YOLO names file, `classes.txt` or `obj.names`: `load_yolo_folder`), a
    COCO instances `.json` (`helpers.cv.coco_data`; its `file_name`s relative to `image_root`,
    default the JSON's folder), a LLaVA conversations `.json` (an array) or `.jsonl`
    (`helpers.cv.llava_data`; its `image`s relative to `image_root` the same way), tar shards (a `.tar`
    or a folder of them: WebDataset, img2dataset; `helpers.core.tar_photos`), or a Hugging Face
    dataset (`image_column`, `key_column`: see `helpers.core.photo_datasets`; its boxes, when it has
    them: `objects_column`, `bbox_format`, see `helpers.cv.hf_truth`). Ground-truth names go through
    `label_map`. A video in a folder or a list, or one video file, is listed as its frames every
    `video_interval` seconds (`helpers.core.video_frames`), where it lies among the photos. A URL
    (`s3://bucket/photos/`) is a folder in object storage (`helpers.core.remote`): its photos and videos' frames, its
    tar shards, or its Parquet files of a Hugging Face dataset (or one shard's, video's or Parquet file's URL).

    Paths in a list file may be relative to the list file's folder. Duplicates are listed once.

    Raises:
        FileNotFoundError: naming the path, when it does not exist.
        ValueError: when it is a file of another kind.
    """
    if is_remote(images):  # in object storage (s3://...): photos, videos, tar shards or Parquet, read where they lie
        location = require_photos(images, "images")  # a folder, one tar shard, video or Parquet file
        forget_remote_folders()  # its videos' folders listed as they are now, not as this process saw them before
        if is_tar_shards(location, IMAGE_SUFFIXES):
            root = shards_root(location)
            items = [ImageItem(root, key, None, at, MEMBER) for key, at in shard_photos(location, IMAGE_SUFFIXES)]
            return ImageSource("webdataset", root, items)
        if is_photo_dataset(location):  # Parquet files (a Hub dataset's, mirrored to the bucket)
            source = _dataset_source(location, image_column, key_column, objects_column, bbox_format)
            source.label_map = dict(label_map or {})
            return source
        if name_suffix(location.name) == ".txt" and not location.is_dir():  # a list of photos in the bucket
            return _list_source(location, remote_bytes(location), label_map, video_interval)
        if is_video(location.name) and not location.is_dir():
            root = location.parent
            return ImageSource("video", root, _with_frames([ImageItem(root, location.name, None)], video_interval))
        root = location
        keys = _without_typescript(root, remote_photos(root, IMAGE_SUFFIXES | VIDEO_SUFFIXES))
        items = _with_frames([ImageItem(root, key, None) for key in keys], video_interval)
        return ImageSource("folder", root, items, label_map=dict(label_map or {}))
    path = resolve(images)
    if not path.exists():
        raise FileNotFoundError(
            f"images: {path} does not exist (expected a folder, a .txt list, a YOLO data.yaml, a COCO or LLaVA .json, "
            "tar shards or a Hugging Face dataset)"
        )
    if is_tar_shards(path, IMAGE_SUFFIXES):  # before the dataset: img2dataset puts Parquet beside its shards
        root = shards_root(path)
        items = [ImageItem(root, key, None, offset, MEMBER) for key, offset in shard_photos(path, IMAGE_SUFFIXES)]
        source = ImageSource("webdataset", root, items)
    elif is_photo_dataset(path):
        source = _dataset_source(path.resolve(), image_column, key_column, objects_column, bbox_format)
    elif path.is_dir() and is_voc_dataset(path):
        dataset, splits = load_voc(path)
        items = [_item(p, dataset.root, splits.get(p)) for p in dataset.images]
        source = ImageSource("voc", dataset.root, items, dataset.names, dataset.scenes, coco=dataset)
    elif path.is_dir() and names_file(path) is not None:  # a YOLO export without data.yaml (Label Studio's, CVAT's)
        dataset = load_yolo_folder(path)
        items = [_item(p, dataset.root) for p, _ in dataset.images()]
        source = ImageSource("yolo", dataset.root, items, dataset.names, labels_beside=dataset.labels_beside)
    elif path.is_dir():
        root = path.resolve()
        keys = walk_images(root, IMAGE_SUFFIXES | VIDEO_SUFFIXES)
        keys = _without_typescript(root, keys)
        source = ImageSource("folder", root, _with_frames([ImageItem(root, key, None) for key in keys], video_interval))
    elif is_video(path.name):
        root = path.parent.resolve()
        source = ImageSource("video", root, _with_frames([_item(path, root)], video_interval))
    elif path.suffix.lower() in (".yaml", ".yml"):
        dataset = load_data_yaml(path)
        items = [_item(p, dataset.root, split) for p, split in dataset.images()]
        source = ImageSource("yolo", dataset.root, items, dataset.names, dataset.scenes, keypoints=dataset.keypoints)
    elif path.suffix.lower() == ".json" and json_opening(path) == b"[" and is_label_studio_export(path):
        dataset = load_label_studio(path, image_root or None)
        items = [_item(p, dataset.root) for p in dataset.images]
        source = ImageSource("label_studio", dataset.root, items, dataset.names, coco=dataset)
    elif path.suffix.lower() == ".jsonl" or (path.suffix.lower() == ".json" and json_opening(path) == b"["):
        root, keys = llava_images(path, image_root or None)
        source = ImageSource("llava", root, [ImageItem(root, key, None) for key in keys])
    elif path.suffix.lower() == ".json":
        dataset = load_coco(path, image_root or None)
        items = [_item(p, dataset.root) for p in dataset.images]
        source = ImageSource("coco", dataset.root, items, dataset.names, dataset.scenes, coco=dataset)
    elif path.suffix.lower() == ".txt":
        source = _list_source(path, path.read_bytes(), label_map, video_interval)
    else:
        raise ValueError(
            f"images: {path} is neither a folder, a .txt list, a YOLO data.yaml, a COCO or LLaVA .json, a LLaVA "
            ".jsonl, a Parquet file nor a video"
        )
    source.label_map = dict(label_map or {})
    seen: set[str] = set()
    source.items = [item for item in source.items if not (item.key in seen or seen.add(item.key))]
    return source


def _list_source(path, data: bytes, label_map: dict | None, interval: float) -> ImageSource:
    """A `.txt` list's photos (`list_lines`), each once, in its order: paths relative to the list's folder (or
    absolute), or URLs of one bucket, keyed by their object keys (`bucket_keys`); a list in a bucket may name its
    photos by keys relative to its folder."""
    entries = list_lines(data)
    if any(is_remote(entry) for _, entry in entries):
        bucket, keys = bucket_keys(entries, str(path))
        root = remote_path(bucket, f"images ({path})")
        items = [ImageItem(root, key, None) for key in keys]
    elif is_remote(path):
        root, items = path.parent, []
        for number, entry in entries:
            key = key_under(str(root), entry)
            if key is None:
                raise ValueError(
                    f"{path}: line {number}: {entry!r} is not inside the list's folder {root}: name it by its URL"
                )
            items.append(ImageItem(root, key, None))
    else:
        root = path.parent.resolve()
        items = [_item(file if file.is_absolute() else root / file, root) for file in (Path(e) for _, e in entries)]
    seen: set[str] = set()
    items = [item for item in items if not (item.key in seen or seen.add(item.key))]
    return ImageSource("list", root, _with_frames(items, interval), label_map=dict(label_map or {}))


def _dataset_source(
    root: Path, image_column: str, key_column: str, objects_column: str, bbox_format: str
) -> ImageSource:
    """A Hugging Face dataset's photos (here, or its Parquet files in object storage), its scenes and boxes."""
    dataset = open_photo_dataset(str(root), image_column, key_column)
    items = [
        ImageItem(root, key, SPLIT_NAMES.get(split, split), row, dataset.column)
        for row, (key, split) in enumerate(dataset.keys())
    ]
    source = ImageSource("hf", root, items, scenes=dataset_scenes(dataset, [item.key for item in items]))
    if objects := find_objects_column(dataset, objects_column):
        source.dataset_truth = (dataset.column, objects, bbox_format)
        source.class_names = dataset_truth(str(root), *source.dataset_truth).class_names()
    return source


def _without_typescript(root: Path, keys: Iterable[str]) -> Iterator[str]:
    """A folder's keys less its `.ts` files that are TypeScript source, not MPEG transport streams (a web
    project's folder of them is no video), said in the log once the keys are read (a remote folder's: a request
    each)."""
    left_out: list[str] = []
    for key in keys:
        if key[-3:].lower() == ".ts" and not is_transport_stream(root / key):
            left_out.append(key)
        else:
            yield key
    if left_out:
        logger.warning(
            "%d .ts files are not MPEG transport streams (TypeScript source?): not listed as videos, e.g. %s",
            len(left_out),
            left_out[0],
        )


def _with_frames(items: list[ImageItem], interval: float) -> list[ImageItem]:
    """The items with each video's replaced by its frames' every `interval` seconds, in its place. The
    videos are opened for their lengths by `LISTING_THREADS` threads (a share on the network answers
    each open after a round trip)."""
    videos = [item for item in items if is_video(item.key)]
    if not videos:
        return items
    with ThreadPoolExecutor(max_workers=LISTING_THREADS) as pool:
        lengths = pool.map(lambda video: frame_times(video.root / video.key, interval), videos)
        shown = tqdm(lengths, total=len(videos), desc="videos", unit="file", disable=len(videos) < VIDEOS_SHOWN)
        times = dict(zip((video.key for video in videos), shown, strict=True))
    listed: list[ImageItem] = []
    for item in items:
        if item.key in times:
            listed.extend(
                ImageItem(item.root, frame_key(item.key, ms), item.split, ms, FRAME) for ms in times[item.key]
            )
        else:
            listed.append(item)
    logger.info(
        "%d video(s): %d frames listed, one every %g s", len(videos), len(listed) - len(items) + len(videos), interval
    )
    return listed


def select(
    items: list[ImageItem], *, max_images: int = 0, num_shards: int = 1, shard_index: int = 0
) -> list[ImageItem]:
    """The first `max_images` items (0: all), then those of shard `shard_index` of `num_shards` (by a hash
    of the key; a video's frames go together)."""
    check_shard(num_shards, shard_index)
    if max_images < 0:
        raise ValueError(f"max_images must be >= 0, got {max_images}")
    chosen = items[: max_images or None]
    return [item for item in chosen if num_shards == 1 or shard_of(_sharded_by(item), num_shards) == shard_index]


def _sharded_by(item: ImageItem) -> str:
    """What decides an item's shard: its key, a frame's video's (a video's frames are decoded on from
    each other in one job, not sought in every job)."""
    return split_frame_key(item.key)[0] if item.column == FRAME else item.key


def load_image(item: ImageItem) -> Image.Image:
    """The image as 8-bit RGB, turned as its EXIF orientation says.

    Whatever the file's mode: 16-bit and float images are scaled to 8 bits (not clipped to white),
    transparent pixels are laid on mid grey, palette and CMYK images are converted.

    Raises:
        ValueError: A dangling or looping link, an empty file, or a file that is not an image.
        OSError: A truncated or otherwise unreadable image (the full decode happens here).
    """
    return decode_image(item)[0]


def decode_image(item: ImageItem, min_side: int = 0) -> tuple[Image.Image, tuple[int, int]]:
    """Like `load_image`, and also the image's full size (width, height as a person sees it). See
    `decode_photo`."""
    image, size, _ = decode_photo(item, min_side)
    return image, size


def decode_photo(
    item: ImageItem, min_side: int = 0, taken: bool = False, data: bytes | None = None
) -> tuple[Image.Image, tuple[int, int], dict | None]:
    """Like `decode_image`, and also when and where the photo was taken (`helpers.cv.exif`) when
    `taken` (else None). `data`: the photo's bytes, when read already (a remote shard's, `read_members`).

    With `min_side`, a JPEG is decoded at the smallest of 1/1, 1/2, 1/4, 1/8 of its size that is
    still at least `min_side` pixels both ways (PIL's draft mode: the decoder skips the finer DCT
    coefficients, so a 4000x3000 photo for a 640-pixel detector decodes as 1000x750, several
    times faster). Images no larger than that, and other formats, decode in full.
    """
    path, name = item.path, item.name
    if data is not None:
        return decode_bytes(data, name, min_side, taken)
    if item.column == FRAME:  # drafted as a JPEG is (below)
        image, size = decode_frame(path, item.row, min_side)
        return image, size, frame_taken(path, item.row) if taken else None
    if item.row is not None:  # a Hugging Face dataset's photo or a tar shard's: its bytes
        if item.column == MEMBER:
            data = read_member(path, item.row)
        else:
            data = open_photo_dataset(str(path), item.column).read(item.row)
        return decode_bytes(data, name, min_side, taken)
    if is_remote(path):  # a photo in object storage: its bytes
        return decode_bytes(remote_bytes(path), name, min_side, taken)
    if path.is_symlink() and not path.exists():
        raise ValueError(f"{path}: a symbolic link to nothing (dangling, or a loop)")
    if path.stat().st_size == 0:
        raise ValueError(f"{path}: empty file (0 bytes)")
    return _decoded(path, name, min_side, taken)


def decode_bytes(
    data: bytes, name: str, min_side: int = 0, taken: bool = False
) -> tuple[Image.Image, tuple[int, int], dict | None]:
    """`decode_photo` of a photo's bytes (a dataset's, a shard's): `name` says which photo in its errors.

    Raises:
        ValueError: Empty bytes, or bytes that are not an image.
        OSError: A truncated or otherwise unreadable image.
    """
    if not data:
        raise ValueError(f"{name}: empty photo (0 bytes)")
    return _decoded(io.BytesIO(data), name, min_side, taken)


def _decoded(
    photo: Path | io.BytesIO, name: str, min_side: int, taken: bool
) -> tuple[Image.Image, tuple[int, int], dict | None]:
    """The photo (a file, or bytes) decoded as `decode_photo` says."""
    try:
        opened = Image.open(photo)
    except (UnidentifiedImageError, ModuleNotFoundError) as error:
        # With Ultralytics imported, PIL tries its HEIF opener on unknown content, which needs pi-heif.
        if isinstance(photo, io.BytesIO):
            heif = b"ftyp" in photo.getvalue()[:16]
        else:
            with open(photo, "rb") as file:
                heif = b"ftyp" in file.read(16)
        if heif and isinstance(error, ModuleNotFoundError):
            raise ValueError(f"{name}: a HEIF/HEIC image; reading it needs: pip install pi-heif") from None
        raise ValueError(f"{name}: not an image file (no image format recognised its content)") from None
    with opened as image:
        return decode_opened(image, min_side, taken)


def decode_opened(
    image: Image.Image, min_side: int = 0, taken: bool = False
) -> tuple[Image.Image, tuple[int, int], dict | None]:
    """`decode_photo` of a photo already opened (a JPEG not yet loaded is drafted; one loaded is decoded already)."""
    width, height = seen_size(image)
    when_where = photo_taken(image) if taken else None
    if min_side and image.format == "JPEG":
        image.draft(image.mode, (min_side, min_side))
    image = ImageOps.exif_transpose(image)  # camera orientation, as a person sees the photo
    return to_rgb(image), (width, height), when_where  # to_rgb forces a full decode: truncated files fail here


def to_rgb(image: Image.Image) -> Image.Image:
    """8-bit RGB from any PIL mode (see `load_image`)."""
    if image.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        values = np.asarray(image, dtype=np.float64)
        peak = float(values.max()) if values.size else 0.0
        if image.mode == "F" and peak <= 1.0:
            top = 1.0  # a float image in 0..1
        elif image.mode.startswith("I;16") or peak > 255:
            top = 65535.0 if peak <= 65535 else peak  # 16-bit data, also when PIL opens it as "I"
        else:
            top = 255.0
        image = Image.fromarray(np.clip(values / top * 255.0 + 0.5, 0, 255).astype(np.uint8), "L")
    if image.mode in ("RGBA", "LA", "PA", "RGBa", "La") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (128, 128, 128, 255))
        image = Image.alpha_composite(background, rgba)
    return image.convert("RGB")
