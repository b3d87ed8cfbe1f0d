"""Pre-processing as tensor operations on the models' device (`preprocess: tensor`).

Each photo of a batch is uploaded once, as 8-bit RGB (a quarter of float32's bytes), and every
model prepares its input from that copy where it runs:

- Ultralytics detectors: the letterbox Ultralytics itself would apply (its `LetterBox` computes the
  geometry: the minimum rectangle for a batch of one size, a stretch for RT-DETR), resized
  bilinearly as OpenCV's INTER_LINEAR does (within one intensity level) and padded with its grey;
- the Hugging Face detector: its image processor, run on the device (transformers' torchvision
  backend takes the uploaded tensors as they are);
- the scene classifier: its checkpoint's own torchvision transforms (resize, centre crop,
  normalise) applied to the tensors.

On a GPU this takes the CPU out of the models' path (each library would otherwise resize every
photo on the CPU, once per model); on the CPU the libraries' own pre-processing stays the default.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from types import SimpleNamespace

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

PAD_VALUE = 114  # Ultralytics' letterbox grey (its LetterBox default)


@dataclass
class DevicePhotos:
    """A batch of photos as (3, height, width) uint8 RGB tensors on one device."""

    tensors: list[torch.Tensor]

    @classmethod
    def upload(cls, images: list[Image.Image], device: str) -> DevicePhotos:
        """Each decoded photo copied to `device` once (non-blocking from pinned memory on a GPU)."""
        cuda = str(device).startswith("cuda")
        tensors = []
        for image in images:
            host = torch.from_numpy(np.array(image.convert("RGB"), dtype=np.uint8))  # a copy torch may own
            if cuda:
                host = host.pin_memory()
            tensors.append(host.to(device, non_blocking=cuda).permute(2, 0, 1))
        return cls(tensors)

    def images(self) -> list[Image.Image]:
        """The photos back as PIL images (for a model that cannot take tensors)."""
        return [Image.fromarray(tensor.permute(1, 2, 0).cpu().numpy()) for tensor in self.tensors]

    @property
    def sizes(self) -> list[tuple[int, int]]:
        """(width, height) of each photo as uploaded (the decoded size)."""
        return [(int(t.shape[2]), int(t.shape[1])) for t in self.tensors]

    def by_size(self) -> dict[tuple[int, int], list[int]]:
        """Indices of the photos of each size, so that photos of one size are resized in one call."""
        groups: dict[tuple[int, int], list[int]] = defaultdict(list)
        for index, size in enumerate(self.sizes):
            groups[size].append(index)
        return dict(groups)


@dataclass(frozen=True)
class Placement:
    """Where a photo sits in a model input: input pixel = photo pixel * scale + offset."""

    scale_x: float
    scale_y: float
    left: float
    top: float

    def to_photo(self, boxes: np.ndarray) -> np.ndarray:
        """`[x1, y1, x2, y2]` boxes in input pixels mapped back to the photo's pixels."""
        boxes = np.asarray(boxes, dtype=float).reshape(-1, 4)
        offset = np.array([self.left, self.top, self.left, self.top])
        scale = np.array([self.scale_x, self.scale_y, self.scale_x, self.scale_y])
        return (boxes - offset) / scale


def letterbox(
    photos: DevicePhotos,
    shape: int | tuple[int, int],
    stride: int,
    *,
    stretch: bool = False,
    rectangle: bool = True,
    dtype: torch.dtype = torch.float32,
) -> tuple[torch.Tensor, list[Placement]]:
    """The batch as an Ultralytics detector's predictor would letterbox it, in 0..1, on the device.

    Args:
        photos: The uploaded photos.
        shape: The model's input size (`imgsz`): a side, or (height, width).
        stride: The model's largest stride (a minimum rectangle is padded to a multiple of it).
        stretch: Resize to the input size ignoring the aspect ratio (Ultralytics' RT-DETR predictor).
        rectangle: Whether the model takes any input size (PyTorch weights, a dynamic export), so that a batch
            of one size gets the minimum rectangle; an export of a fixed size gets that size.
        dtype: The model's input dtype.

    Returns:
        The (batch, 3, height, width) input and each photo's placement in it.
    """
    from ultralytics.data.augment import LetterBox

    same_shapes = len(set(photos.sizes)) == 1
    # Ultralytics predicts with rect=True: a batch of one size gets the minimum rectangle where the model allows it
    auto = same_shapes and rectangle and not stretch
    geometry = LetterBox(shape, auto=auto, scale_fill=stretch, stride=stride)
    params = {
        size: geometry.get_params({"img": SimpleNamespace(shape=(size[1], size[0], 3))}) for size in set(photos.sizes)
    }
    heights = {p["new_unpad"][1] + p["top"] + p["bottom"] for p in params.values()}
    widths = {p["new_unpad"][0] + p["left"] + p["right"] for p in params.values()}
    if len(heights) != 1 or len(widths) != 1:  # cannot happen without auto; a guard against a library change
        raise RuntimeError(f"letterboxed photos of one batch differ in size: heights {heights}, widths {widths}")
    device = photos.tensors[0].device
    batch = torch.full(
        (len(photos.tensors), 3, heights.pop(), widths.pop()), PAD_VALUE / 255, dtype=dtype, device=device
    )
    placements: list[Placement | None] = [None] * len(photos.tensors)
    for size, indices in photos.by_size().items():
        p = params[size]
        width, height = p["new_unpad"]
        group = torch.stack([photos.tensors[i] for i in indices]).float()
        if (width, height) != size:
            group = F.interpolate(group, size=(height, width), mode="bilinear", align_corners=False, antialias=False)
            group = group.round_().clamp_(0, 255)  # as OpenCV writes 8-bit pixels
        batch[indices, :, p["top"] : p["top"] + height, p["left"] : p["left"] + width] = (group / 255).to(dtype)
        placement = Placement(width / size[0], height / size[1], p["left"], p["top"])
        for index in indices:
            placements[index] = placement
    return batch, placements


def classification_batch(photos: DevicePhotos, transforms, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """The batch through a classifier's torchvision `Compose(Resize, CenterCrop, ToTensor, Normalize)`,
    on the tensors: resize and crop on uint8 (torchvision antialiases as PIL does), then 0..1 and normalise."""
    resize, crop, _, normalize = transforms.transforms
    groups = []
    order = []
    for indices in photos.by_size().values():
        group = torch.stack([photos.tensors[i] for i in indices])
        groups.append(crop(resize(group)))
        order += indices
    batch = torch.cat(groups).float().div_(255)
    batch = normalize(batch)[torch.argsort(torch.tensor(order, device=batch.device))]
    return batch.to(dtype)


def standard_classify_transforms(transforms) -> bool:
    """Whether a classifier's transforms are the Resize, CenterCrop, ToTensor, Normalize that
    `classification_batch` can run on tensors."""
    import torchvision.transforms as T

    steps = getattr(transforms, "transforms", ())
    return type(transforms) is T.Compose and tuple(map(type, steps)) == (
        T.Resize,
        T.CenterCrop,
        T.ToTensor,
        T.Normalize,
    )
