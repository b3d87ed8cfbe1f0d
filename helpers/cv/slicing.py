"""Sliced inference for small objects in large photos (`slice_size`): SAHI's method on 01's detectors.

A detector sees a photo at its input size (640 px for most): in a 4000 x 3000 drone photo a 60 px bottle
becomes 10 px, below what it finds. With slicing each detector also runs on overlapping tiles of
`slice_size` photo pixels (each tile resized to the detector's input, as the whole photo is), the tiles'
boxes are mapped back to the photo, and the whole photo's own pass (SAHI's "standard prediction") keeps the
objects larger than a tile. An object cut by a tile's edge is found whole in a neighbouring tile when it is
no larger than the overlap; its duplicates (the same object from several tiles and the whole photo) are
thinned as SAHI's NMS postprocess thins them: per label, a box lying inside a more confident one by more
than `match_ios` of the smaller (intersection over smaller) is dropped (merging them into union boxes,
SAHI's default NMM, found fewer objects on the demo: docs/01_cv_extract.md). Then the detectors are fused
as without slicing.

The tiles of a batch's photos go through the detector in groups as large as the batch, so a model's memory
per call is what it is without slicing; the work grows with the tiles (a 4000 x 3000 photo in 640 px tiles
with 0.2 overlap: 48 tiles and the whole photo). Photos are decoded in full (no draft decoding).
"""

from __future__ import annotations

import logging
import math
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image

from helpers.cv.detectors import Detections
from helpers.cv.fusion import box_overlaps, thinned

if TYPE_CHECKING:
    from helpers.cv.tensors import DevicePhotos

logger = logging.getLogger(__name__)

DEFAULT_OVERLAP = 0.2  # SAHI's default overlap ratio
DEFAULT_MATCH_IOS = 0.5  # SAHI's default postprocess match threshold (intersection over smaller)
SIZES_TOLD = 3  # photo sizes whose tiling is logged (a folder of phone photos has many)


def check_slicing(size: int, overlap: float) -> None:
    """Raises ValueError for a tile side under 32 pixels or an overlap outside [0, 1)."""
    if size < 32:
        raise ValueError(f"slice_size must be 0 (off) or at least 32 pixels, got {size}")
    if not 0.0 <= overlap < 1.0:
        raise ValueError(f"slice_overlap must be in [0, 1), got {overlap}")


def slice_windows(width: int, height: int, size: int, overlap: float = DEFAULT_OVERLAP) -> list[tuple[int, ...]]:
    """`(left, top, right, bottom)` tiles of at most `size` pixels covering a photo, neighbours overlapping
    by `overlap` of a tile, as SAHI lays them out (the last row and column shifted back to end at the edge).
    A photo no larger than a tile gets no tiles (its whole-photo pass covers it)."""
    if width <= size and height <= size:
        return []
    step = size - int(size * overlap)  # SAHI's rounding: the overlap a whole number of pixels

    def starts(length: int) -> list[int]:
        if length <= size:
            return [0]
        count = math.ceil((length - size) / step) + 1
        return sorted({min(index * step, length - size) for index in range(count)})

    tile_width, tile_height = min(size, width), min(size, height)
    return [(x, y, x + tile_width, y + tile_height) for y in starts(height) for x in starts(width)]


def merged(detections: Detections, match_ios: float = DEFAULT_MATCH_IOS) -> Detections:
    """Per label, greedy: most confident first, a box dropped when it lies inside a kept one by more than
    `match_ios` of the smaller box (SAHI's NMS on intersection over smaller); of equally confident ones the
    larger first (a whole object before a part of it a tile's edge cut off)."""
    if len(detections) < 2:
        return detections
    boxes = np.asarray(detections.boxes, dtype=float).reshape(-1, 4)
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    order = np.lexsort((-areas, -np.asarray(detections.scores, dtype=float)))  # by score, then area
    labels = np.array(detections.labels, dtype=object)
    kept: list[int] = []
    for label in dict.fromkeys(labels[order]):
        mine = [int(i) for i in order if labels[i] == label]
        iou, ios = box_overlaps(boxes[mine])
        kept += [mine[position] for position in thinned(iou, ios, 1.0, match_ios)]  # on IoS alone
    kept.sort(key=lambda i: (-detections.scores[i], i))
    return Detections(detections.boxes[kept], detections.scores[kept], [detections.labels[i] for i in kept])


def to_photo(found: Detections, window: tuple[int, ...], width: int, height: int) -> Detections:
    """A tile's boxes (normalised to the tile) normalised to the whole photo."""
    left, top, right, bottom = window
    scale = np.array([right - left, bottom - top, right - left, bottom - top], dtype=float)
    offset = np.array([left, top, left, top], dtype=float)
    boxes = (np.asarray(found.boxes, dtype=float).reshape(-1, 4) * scale + offset) / [width, height, width, height]
    return Detections(np.clip(boxes, 0.0, 1.0), found.scores, list(found.labels))


def joined(parts: list[Detections]) -> Detections:
    boxes = np.concatenate([np.asarray(p.boxes, dtype=float).reshape(-1, 4) for p in parts])
    return Detections(boxes, np.concatenate([p.scores for p in parts]), [label for p in parts for label in p.labels])


def in_groups(predict, tiles: list[tuple], crop, group: int) -> list[Detections]:
    """`predict` on the tiles (`(photo, window)` pairs, each cut by `crop` only in its group), at most `group`
    (the batch's photo count) a call: a model's memory per call stays what it is without slicing, and a batch
    of 12 MP photos is never held as all its tiles at once."""
    group = max(1, group)
    found = []
    for start in range(0, len(tiles), group):
        found += predict([crop(photo, window) for photo, window in tiles[start : start + group]])
    return found


class SlicedDetector:
    """A detector run on each photo and on its tiles, the boxes mapped back and merged (see the module).

    Args:
        detector: A loaded detector (`UltralyticsDetector`, `HFDetector`).
        size: Tile side in photo pixels.
        overlap: Share of a tile its neighbours overlap.
        match_ios: Duplicates' intersection over the smaller box above which the less confident is dropped.
    """

    input_side = 0  # every photo decoded in full: its tiles are seen at more than the photo's scale

    def __init__(
        self, detector, size: int, overlap: float = DEFAULT_OVERLAP, match_ios: float = DEFAULT_MATCH_IOS
    ) -> None:
        check_slicing(size, overlap)
        self.detector, self.size, self.overlap, self.match_ios = detector, size, overlap, match_ios
        self.name, self.class_names = detector.name, getattr(detector, "class_names", [])
        self._sizes_told: set[tuple[int, int]] = set()

    @property
    def forward_seconds(self) -> float:
        return self.detector.forward_seconds

    def windows(self, sizes: list[tuple[int, int]]) -> list[list[tuple[int, ...]]]:
        """Each photo's tiles; the first photos of the first sizes say what they cost (a pass per tile)."""
        windows = [slice_windows(width, height, self.size, self.overlap) for width, height in sizes]
        for (width, height), mine in zip(sizes, windows):
            if len(self._sizes_told) < SIZES_TOLD and (width, height) not in self._sizes_told:
                self._sizes_told.add((width, height))
                if mine:
                    logger.info(
                        "%s: %dx%d photos in %d tiles of %d px and whole: %d passes each",
                        *(self.name, width, height, len(mine), self.size, len(mine) + 1),
                    )
                else:
                    logger.info("%s: %dx%d photos fit in a %d px tile: seen whole", self.name, width, height, self.size)
        return windows

    def predict(self, images: list[Image.Image]) -> list[Detections]:
        windows = self.windows([image.size for image in images])
        tiles = [(image, window) for image, mine in zip(images, windows) for window in mine]
        found = in_groups(self.detector.predict, tiles, lambda image, window: image.crop(window), len(images))
        return self._combined(self.detector.predict(images), found, windows, [image.size for image in images])

    def predict_tensors(self, photos: DevicePhotos) -> list[Detections]:
        from helpers.cv.tensors import DevicePhotos

        if not hasattr(self.detector, "predict_tensors"):
            return self.predict(photos.images())
        windows = self.windows(photos.sizes)
        tiles = [(tensor, window) for tensor, mine in zip(photos.tensors, windows) for window in mine]

        def crop(tensor, window):  # a view of the uploaded photo: nothing copied
            left, top, right, bottom = window
            return tensor[:, top:bottom, left:right]

        whole = self.detector.predict_tensors(photos)
        predict = lambda group: self.detector.predict_tensors(DevicePhotos(group))  # noqa: E731
        return self._combined(whole, in_groups(predict, tiles, crop, len(whole)), windows, photos.sizes)

    def _combined(self, whole, tiles, windows, sizes) -> list[Detections]:
        output, position = [], 0
        for found, mine, (width, height) in zip(whole, windows, sizes):
            parts = [found] + [to_photo(tiles[position + i], w, width, height) for i, w in enumerate(mine)]
            position += len(mine)
            output.append(merged(joined(parts), self.match_ios) if mine else found)
        return output


def sliced(detector, config) -> SlicedDetector:
    """`detector` run on tiles as `config` (an ExtractConfig) says; one already sliced stays as it is."""
    if isinstance(detector, SlicedDetector):
        return detector
    return SlicedDetector(detector, config.slice_size, config.slice_overlap)
