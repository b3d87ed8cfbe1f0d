"""Photos written again for a dataset: smaller (a longer side of at most `max_side` pixels) or in a format every
reader opens (`image_format`), as img2dataset writes a training set's photos.

A drone's 12 MP photo is several megabytes, 10^7 of them tens of terabytes, while a vision-language model sees each
at a few hundred pixels. A photo written again is

- shrunk, keeping its shape, to fit `max_side` (never enlarged): Pillow's `thumbnail`, which decodes a JPEG at
  the smallest scale of 1/2, 1/4 or 1/8 still at least twice the size asked (`draft`), then resamples with
  Lanczos;
- turned upright as its EXIF orientation says (what extraction saw, so the records' boxes, in 0..1 of the
  upright photo, fit it; a photo stored on its side is written again for that alone, so that readers which ignore
  EXIF, as WebDataset's and LLaVA's loaders do, see it as the boxes do), and
- encoded as `image_format` ("same": its own format where that is JPEG, PNG or WebP, else JPEG; a HEIC photo
  asked as "jpeg" opens in any reader) at `quality` (JPEG, WebP), with its colour profile and without its EXIF
  and XMP (what extraction read from them is in the records' `taken`; so without its GPS position too).

A photo neither too large, nor stored turned, nor in another format is kept byte for byte (`strip_location`: without
its place, `helpers.core.strip_location`).
"""

from __future__ import annotations

import io
from dataclasses import dataclass

IMAGE_FORMATS = ("same", "jpeg", "png", "webp")
WRITTEN = {"JPEG", "PNG", "WEBP"}  # the formats photos are written again in
MODES = {  # the pixel modes each format stores; others are converted (alpha kept where the format has it)
    "JPEG": {"L", "RGB", "CMYK"},
    "PNG": {"1", "L", "LA", "I", "I;16", "P", "RGB", "RGBA"},
    "WEBP": {"RGB", "RGBA"},
}


TURNED_WARNING = (
    "%d photos kept as stored are turned by their EXIF orientation: %s ignore it and see them on their side, while "
    "their boxes are the upright photo's; --max_side or --image_format writes them upright"
)


def _turned(image) -> bool:
    """Whether an opened photo is stored turned (or mirrored): its EXIF orientation says so (2..8; 1: as stored)."""
    from helpers.core.photo_datasets import ORIENTATION_TAG

    return image.getexif().get(ORIENTATION_TAG) in range(2, 9)


def stored_turned(data: bytes) -> bool:
    """Whether a photo's bytes are stored turned (`_turned`), which readers that ignore EXIF do not undo. A photo
    that cannot be read is not said to be."""
    from PIL import Image

    try:
        with Image.open(io.BytesIO(data)) as image:
            return _turned(image)
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError):
        return False


@dataclass(frozen=True)
class PhotoRewrite:
    """How the exported photos are written (see the module docstring; Pillow is imported where a photo is).

    Args:
        max_side: Photos whose longer side exceeds this many pixels are shrunk to it; 0: none is.
        image_format: "same", "jpeg", "png" or "webp".
        quality: JPEG and WebP quality (1..100) of photos written again.
        strip_location: Photos kept as stored are kept without their GPS position.
    """

    max_side: int = 0
    image_format: str = "same"
    quality: int = 95
    strip_location: bool = False

    def __post_init__(self) -> None:
        if isinstance(self.max_side, bool) or not isinstance(self.max_side, int) or self.max_side < 0:
            raise ValueError(f"max_side must be a whole number of pixels >= 0 (0: as stored), got {self.max_side!r}")
        if self.image_format not in IMAGE_FORMATS:
            raise ValueError(f"image_format must be one of {', '.join(IMAGE_FORMATS)}, got {self.image_format!r}")
        if isinstance(self.quality, bool) or not isinstance(self.quality, int) or not 1 <= self.quality <= 100:
            raise ValueError(f"quality must be a whole number in 1..100, got {self.quality!r}")

    @property
    def rewrites(self) -> bool:
        """Whether any photo may be written again (else each is kept as stored)."""
        return self.max_side > 0 or self.image_format != "same"

    def photo(self, data: bytes | None) -> tuple[bytes | None, bool, str | None]:
        """`data` (a photo file's bytes; None: no photo) as the dataset holds it: (its bytes, whether they were
        written again, None), or (None, False, why not) for a photo that cannot be read or written."""
        from PIL import Image, ImageOps

        from helpers.core.photo_datasets import HEIF_OPENER  # noqa: F401 - HEIC photos open (in a worker process too)
        from helpers.core.strip_location import without_location

        if data is None:
            return None, False, None
        try:
            if not self.rewrites:  # each photo as stored: not even its header read
                return (without_location(data) if self.strip_location else data), False, None
            with Image.open(io.BytesIO(data)) as image:
                kind = image.format
                asked = kind if self.image_format == "same" else self.image_format.upper()
                too_large = self.max_side > 0 and max(image.size) > self.max_side
                if not too_large and not _turned(image) and asked == kind:
                    return (without_location(data) if self.strip_location else data), False, None
                target = asked if asked in WRITTEN else "JPEG"
                if too_large:
                    image.thumbnail((self.max_side, self.max_side), Image.Resampling.LANCZOS, reducing_gap=2.0)
                return self._encoded(ImageOps.exif_transpose(image), target), True, None
        except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as error:
            return None, False, f"{type(error).__name__}: {error}"

    def _encoded(self, image, target: str) -> bytes:
        """The (upright, shrunk) `image` in the `target` format."""
        if image.mode not in MODES[target]:
            alpha = "A" in image.getbands() or "transparency" in image.info
            image = image.convert("RGBA" if alpha and "RGBA" in MODES[target] else "RGB")
        options = {"quality": self.quality} if target in ("JPEG", "WEBP") else {}
        if profile := image.info.get("icc_profile"):
            options["icc_profile"] = profile
        written = io.BytesIO()
        image.save(written, target, **options)
        return written.getvalue()
