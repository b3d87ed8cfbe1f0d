"""A photo's bytes without where it was taken, for a dataset to publish: drones and trail cameras write their
GPS position into every photo (EXIF's GPS block; DJI's XMP repeats it), and a published trail camera's
place can lead poachers or trespassers to it.

- JPEG (what drones, trail cameras and phones mostly write): the EXIF block is written again without its
  GPS block (Pillow's `Image.Exif`: the time, the camera and lens are kept; the embedded thumbnail and the
  maker notes, where some makers repeat the place, are not), and the XMP packets are left out; every other
  segment, the compressed pixels included, is kept byte for byte: the photo is not re-encoded.
- PNG: written again by Pillow without its `eXIf` and XMP chunks (lossless: the same pixels).
- Any other format (HEIC, WebP, TIFF, ...) is kept as it is when it says no place (no GPS block, no XMP),
  and refused otherwise (`ValueError`: it cannot be stripped without re-encoding it).
"""

from __future__ import annotations

import io

from PIL import Image

GPS_IFD, EXIF_IFD, MAKER_NOTE = 0x8825, 0x8769, 0x927C  # EXIF's GPS block, its camera block, the maker's notes
EXIF_HEADER = b"Exif\x00\x00"
XMP_HEADERS = (b"http://ns.adobe.com/xap/1.0/\x00", b"http://ns.adobe.com/xmp/extension/\x00")
STANDALONE = {0x01, *range(0xD0, 0xD8)}  # JPEG markers without a length (TEM, RST0-7)
START_OF_SCAN, END_OF_IMAGE = 0xDA, 0xD9
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def without_location(data: bytes) -> bytes:
    """`data` (a photo file's bytes) without its GPS position (see the module docstring).

    Raises:
        ValueError: Not a readable photo, or a format whose place cannot be removed without re-encoding.
    """
    if data[:3] == b"\xff\xd8\xff":
        return _jpeg_without_location(data)
    try:
        with Image.open(io.BytesIO(data)) as image:
            says_place = GPS_IFD in image.getexif() or any(
                key.startswith(("xmp", "XML:com.adobe.xmp")) for key in image.info
            )
            if data.startswith(PNG_SIGNATURE):
                return _png_without_location(image) if says_place else data
            if says_place:
                raise ValueError(
                    f"a {image.format} photo's GPS position cannot be removed without re-encoding it: convert it to "
                    "JPEG or PNG first, or export without strip_location"
                )
    except (OSError, SyntaxError) as error:
        raise ValueError(f"not a photo Pillow reads: {error}") from error
    return data


def _jpeg_without_location(data: bytes) -> bytes:
    """The JPEG's segments as they are, but its EXIF without the GPS block and no XMP packets."""
    kept, position = [data[:2]], 2
    while position < len(data):
        if data[position] != 0xFF:
            raise ValueError(f"JPEG: no segment marker at byte {position}")
        marker = data[position + 1]
        if marker == 0xFF:  # fill byte
            position += 1
            continue
        if marker in STANDALONE:
            kept.append(data[position : position + 2])
            position += 2
            continue
        if marker in (START_OF_SCAN, END_OF_IMAGE):  # the compressed pixels and what follows, as they are
            kept.append(data[position:])
            break
        length = int.from_bytes(data[position + 2 : position + 4], "big")
        if length < 2 or position + 2 + length > len(data):
            raise ValueError(f"JPEG: a segment at byte {position} runs past the file's end")
        segment, body = data[position : position + 2 + length], data[position + 4 : position + 2 + length]
        position += 2 + length
        if marker == 0xE1 and body.startswith(XMP_HEADERS):
            continue
        if marker == 0xE1 and body.startswith(EXIF_HEADER):
            segment = _exif_segment(body[len(EXIF_HEADER) :])
        kept.append(segment)
    return b"".join(kept)


def _exif_segment(tiff: bytes) -> bytes:
    """An APP1 EXIF segment of the EXIF block `tiff` written again without its GPS block."""
    exif = Image.Exif()
    exif.load(EXIF_HEADER + tiff)
    exif.get_ifd(EXIF_IFD).pop(MAKER_NOTE, None)  # read (so written again), less the maker's notes
    exif.pop(GPS_IFD, None)
    payload = exif.tobytes()  # starts with EXIF_HEADER
    written = Image.Exif()
    written.load(payload)
    if GPS_IFD in written:  # Pillow writes back a GPS block it has read: none was read, so none is there
        raise ValueError("JPEG: its EXIF block could not be written without the GPS position")
    if len(payload) + 2 > 0xFFFF:
        raise ValueError("JPEG: the EXIF block without its GPS position is still too long for one segment")
    return b"\xff\xe1" + (len(payload) + 2).to_bytes(2, "big") + payload


def _png_without_location(image: Image.Image) -> bytes:
    """The PNG written again without its EXIF and XMP chunks (the same pixels; text chunks kept)."""
    from PIL.PngImagePlugin import PngInfo

    text = PngInfo()
    for key, value in image.info.items():
        if isinstance(value, str) and not key.startswith("XML:com.adobe.xmp"):
            text.add_text(key, value)
    buffer = io.BytesIO()
    image.save(buffer, "PNG", pnginfo=text)
    return buffer.getvalue()
