"""Photos written again for a dataset (`helpers.core.photo_rewrite`, `desclm export --max_side --image_format`):
shrunk to fit, upright as extraction saw them, in a format every reader opens, without their EXIF; the others
kept byte for byte."""

from __future__ import annotations

import io

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from helpers.core.photo_rewrite import PhotoRewrite

ORIENTATION, GPS = 0x0112, 0x8825


def _photo(size: tuple[int, int], kind: str = "JPEG", orientation: int | None = None, gps: bool = False) -> bytes:
    """A photo of `size` (as stored) whose top-left quarter is blue, the rest red (a PNG's bottom-right clear)."""
    image = Image.new("RGBA" if kind == "PNG" else "RGB", size, (200, 20, 20))
    image.paste((0, 0, 255), (0, 0, size[0] // 2, size[1] // 2))
    if kind == "PNG":  # its bottom-right quarter see-through
        image.paste((0, 0, 0, 0), (size[0] // 2, size[1] // 2, size[0], size[1]))
    exif = Image.Exif()
    if orientation:
        exif[ORIENTATION] = orientation
    if gps:
        exif[GPS] = {1: "N", 2: (47.0, 22.0, 30.0), 3: "E", 4: (8.0, 32.0, 10.0)}
    buffer = io.BytesIO()
    image.save(buffer, kind, exif=exif.tobytes(), **({"quality": 92} if kind == "JPEG" else {}))
    return buffer.getvalue()


def test_a_large_photo_stored_on_its_side_is_shrunk_upright_without_its_exif():
    data = _photo((400, 300), orientation=6, gps=True)  # a phone held upright: stored on its side, EXIF says turn
    written, rewritten, error = PhotoRewrite(max_side=64).photo(data)
    assert rewritten and error is None
    with Image.open(io.BytesIO(written)) as image:
        assert image.format == "JPEG" and image.size == (48, 64), "upright (turned a quarter), the longer side 64"
        assert not image.getexif(), "no EXIF: no orientation to apply again, no GPS position"
        # stored top-left (blue) is the upright photo's top-right once turned clockwise
        assert image.getpixel((40, 8))[2] > 200 and image.getpixel((8, 8))[0] > 150


def test_photos_within_the_size_in_their_own_format_are_kept_byte_for_byte():
    data = _photo((40, 30), gps=True)
    assert PhotoRewrite(max_side=64).photo(data) == (data, False, None)
    kept, rewritten, _ = PhotoRewrite(max_side=64, strip_location=True).photo(data)
    assert not rewritten and kept != data and GPS not in Image.open(io.BytesIO(kept)).getexif()


def test_a_small_photo_stored_on_its_side_is_written_again_upright_as_exif_blind_readers_need():
    data = _photo((40, 30), orientation=6)
    written, rewritten, error = PhotoRewrite(max_side=64).photo(data)
    with Image.open(io.BytesIO(written)) as image:
        assert rewritten and error is None and image.size == (30, 40) and ORIENTATION not in image.getexif()
        assert image.getpixel((25, 5))[2] > 200 and image.getpixel((5, 5))[0] > 150, "turned clockwise"
    assert PhotoRewrite().photo(data) == (data, False, None), "no rewrite asked: as stored, EXIF and all"


def test_formats_every_reader_opens_alpha_kept_where_the_format_has_it():
    png = _photo((40, 30), "PNG")
    as_jpeg, rewritten, _ = PhotoRewrite(image_format="jpeg", quality=80).photo(png)
    as_webp = PhotoRewrite(image_format="webp").photo(png)[0]
    with Image.open(io.BytesIO(as_jpeg)) as jpeg, Image.open(io.BytesIO(as_webp)) as webp:
        assert rewritten and (jpeg.format, jpeg.mode, jpeg.size) == ("JPEG", "RGB", (40, 30))
        assert (webp.format, webp.mode) == ("WEBP", "RGBA")
    gif = io.BytesIO()
    Image.new("P", (300, 20)).save(gif, "GIF")
    shrunk = PhotoRewrite(max_side=100).photo(gif.getvalue())[0]  # "same": a format not written again -> JPEG
    assert Image.open(io.BytesIO(shrunk)).format == "JPEG" and Image.open(io.BytesIO(shrunk)).size == (100, 7)


def test_a_heic_photo_becomes_the_jpeg_extraction_saw(tmp_path):
    import pillow_heif  # writes HEIC (pi-heif only reads)

    from helpers.cv.sources import ImageItem, decode_photo

    stored = Image.open(io.BytesIO(_photo((60, 40)))).convert("RGB")
    heif = pillow_heif.from_pillow(stored)
    exif = Image.Exif()
    exif[ORIENTATION] = 6
    heif.info["exif"] = exif.tobytes()
    heif.save(tmp_path / "phone.heic", quality=95)
    seen, _, _ = decode_photo(ImageItem(tmp_path, "phone.heic", None), 0, True)
    written, rewritten, _ = PhotoRewrite(image_format="jpeg").photo((tmp_path / "phone.heic").read_bytes())
    with Image.open(io.BytesIO(written)) as image:
        assert rewritten and image.format == "JPEG" and image.size == seen.size
        assert np.abs(np.asarray(image, float) - np.asarray(seen, float)).mean() < 6, "the pixels extraction saw"


def test_what_cannot_be_read_is_a_reason_not_an_exception():
    written, rewritten, error = PhotoRewrite(max_side=10).photo(b"not a photo")
    assert written is None and not rewritten and error.startswith("UnidentifiedImageError")
    assert PhotoRewrite(max_side=10).photo(None) == (None, False, None)
    for wrong in ({"max_side": -1}, {"image_format": "tiff"}, {"quality": 0}, {"max_side": True}):
        with pytest.raises(ValueError):
            PhotoRewrite(**wrong)


@settings(max_examples=40, deadline=None)
@given(
    width=st.integers(1, 160),
    height=st.integers(1, 160),
    max_side=st.integers(0, 120),
    orientation=st.sampled_from([None, 1, 3, 6, 8]),
)
def test_a_photo_fits_max_side_keeping_its_shape(width, height, max_side, orientation):
    data = _photo((width, height), orientation=orientation)
    written, rewritten, error = PhotoRewrite(max_side=max_side).photo(data)
    upright = (height, width) if orientation in (6, 8) else (width, height)
    with Image.open(io.BytesIO(written)) as image:
        size = image.size if rewritten else upright  # kept: as stored, its EXIF still says how to turn it
        assert not rewritten or ORIENTATION not in image.getexif(), "written upright: nothing left to turn"
    # written again when too large, or when stored turned (readers that ignore EXIF would see it so)
    assert error is None and rewritten == (0 < max_side and (max_side < max(width, height) or orientation in (3, 6, 8)))
    if rewritten:
        side = min(max_side, max(upright))  # never enlarged
        longer = 0 if upright[0] >= upright[1] else 1  # the upright photo's longer side stays the longer one
        shorter = min(upright) * side / max(upright)  # its shorter side, shrunk in proportion
        assert size[longer] == side and abs(size[1 - longer] - max(shorter, 1)) <= 1, "its shape kept, upright"
    else:
        assert written == data
