"""Procedural field photos for the demo: ground textures, litter objects, lighting.

Everything is drawn from a `numpy.random.Generator`, so the same generator state gives the
same pixels. Objects are drawn on their own transparent canvas, rotated, then pasted; their
box is the tight box of the pasted alpha, which is what a careful annotator would draw.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from helpers.demo.objects import CLASSES, Color, _jitter, render_object  # noqa: F401 - CLASSES is public here too

SCENES = ["grass", "sandy", "rocky", "marshy"]


@dataclass(frozen=True)
class PlacedObject:
    """One litter object in a rendered image, box in pixels (x1, y1, x2, y2), x2/y2 exclusive."""

    label: str
    box: tuple[int, int, int, int]


def _fbm(rng: np.random.Generator, height: int, width: int, base_cell: int, octaves: int = 4) -> np.ndarray:
    """Fractal value noise in 0..1: random grids upsampled bicubically, summed over octaves."""
    total = np.zeros((height, width), np.float32)
    weight_sum = 0.0
    cell, weight = base_cell, 1.0
    for _ in range(octaves):
        grid = rng.random((height // cell + 2, width // cell + 2), dtype=np.float32)
        layer = Image.fromarray(grid, mode="F").resize((width + 2 * cell, height + 2 * cell), Image.BICUBIC)
        total += weight * np.asarray(layer)[cell : cell + height, cell : cell + width]
        weight_sum += weight
        cell, weight = max(1, cell // 2), weight * 0.5
    total /= weight_sum
    return np.clip((total - total.min()) / (np.ptp(total) + 1e-6), 0.0, 1.0)


def _tint(noise: np.ndarray, dark: Color, light: Color) -> np.ndarray:
    dark_arr, light_arr = np.array(dark, np.float32), np.array(light, np.float32)
    return dark_arr + noise[..., None] * (light_arr - dark_arr)


def _strokes(rng, draw: ImageDraw.ImageDraw, size, count, colors, length, lean, width=(1, 2)) -> None:
    """Grass blades or reeds: short lines leaning around vertical."""
    w, h = size
    for _ in range(count):
        x, y = rng.uniform(0, w), rng.uniform(0, h)
        angle = -math.pi / 2 + rng.uniform(-lean, lean)
        stroke = rng.uniform(*length)
        end = (x + stroke * math.cos(angle), y + stroke * math.sin(angle))
        color = _jitter(rng, colors[rng.integers(len(colors))], 20)
        draw.line([(x, y), end], fill=color, width=int(rng.integers(width[0], width[1] + 1)))


def render_ground(rng: np.random.Generator, scene: str, size: tuple[int, int]) -> Image.Image:
    """Draws the ground of one scene class as an RGB image of `size` (width, height)."""
    w, h = size
    noise = _fbm(rng, h, w, base_cell=int(rng.integers(24, 48)))
    fine = _fbm(rng, h, w, base_cell=4, octaves=2)
    if scene == "grass":
        pixels = _tint(0.7 * noise + 0.3 * fine, _jitter(rng, (40, 75, 25)), _jitter(rng, (105, 150, 55)))
    elif scene == "sandy":
        angle = rng.uniform(0, math.pi)
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
        ripples = np.sin((xx * math.cos(angle) + yy * math.sin(angle)) / rng.uniform(4, 9) + 4 * noise)
        shade = np.clip(0.55 * noise + 0.3 * fine + 0.15 * (ripples * 0.5 + 0.5), 0, 1)
        pixels = _tint(shade, _jitter(rng, (170, 145, 100)), _jitter(rng, (235, 215, 170)))
    elif scene == "rocky":
        pixels = _tint(0.5 * noise + 0.5 * fine, _jitter(rng, (85, 80, 72)), _jitter(rng, (150, 145, 135)))
    elif scene == "marshy":
        mud = _tint(0.6 * noise + 0.4 * fine, _jitter(rng, (50, 48, 30)), _jitter(rng, (105, 100, 60)))
        water = _tint(fine, _jitter(rng, (45, 60, 70)), _jitter(rng, (95, 115, 125)))
        wet = np.clip((noise - rng.uniform(0.45, 0.6)) * 8, 0, 1)[..., None]
        pixels = mud * (1 - wet) + water * wet
    else:
        raise ValueError(f"unknown scene {scene!r}; expected one of {SCENES}")
    image = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8), "RGB")
    draw = ImageDraw.Draw(image)
    area = w * h / 10_000
    if scene == "grass":
        _strokes(rng, draw, size, int(45 * area), [(55, 110, 35), (90, 140, 50), (130, 160, 70)], (5, 14), 0.7)
    elif scene == "sandy":
        for _ in range(int(20 * area)):  # pebbles and shell bits
            x, y, r = rng.uniform(0, w), rng.uniform(0, h), rng.uniform(0.5, 1.8)
            draw.ellipse([x - r, y - r, x + r, y + r], fill=_jitter(rng, (200, 185, 150), 35))
    elif scene == "rocky":
        for _ in range(int(rng.integers(12, 30) * area / 5)):
            x, y = rng.uniform(0, w), rng.uniform(0, h)
            rx, ry = rng.uniform(6, 26), rng.uniform(5, 18)
            stone = _jitter(rng, (130, 125, 118), 30)
            draw.ellipse([x - rx + 3, y - ry + 3, x + rx + 3, y + ry + 3], fill=(55, 52, 48))
            draw.ellipse([x - rx, y - ry, x + rx, y + ry], fill=stone)
            draw.ellipse(
                [x - rx * 0.5, y - ry * 0.7, x, y - ry * 0.2],
                fill=_jitter(rng, tuple(min(255, c + 25) for c in stone), 5),
            )
    elif scene == "marshy":
        _strokes(rng, draw, size, int(14 * area), [(120, 125, 60), (95, 90, 45), (150, 140, 80)], (12, 30), 0.35)
    return image


def _coverage(box, other) -> float:
    """Share of `other`'s area that `box` covers."""
    ix = max(0, min(box[2], other[2]) - max(box[0], other[0]))
    iy = max(0, min(box[3], other[3]) - max(box[1], other[1]))
    return ix * iy / max(1, (other[2] - other[0]) * (other[3] - other[1]))


def place_objects(
    rng, image: Image.Image, labels: list[str], object_size: tuple[int, int] = (22, 64), max_covered: float = 0.45
) -> list[PlacedObject]:
    """Pastes objects about `object_size` (smallest, largest) pixels across, with soft shadows; a
    later object may hide at most `max_covered` of an earlier one."""
    w, h = image.size
    placed: list[PlacedObject] = []
    for label in labels:
        sprite = render_object(rng, label, int(rng.integers(*object_size)))
        alpha_box = sprite.getchannel("A").point(lambda a: 255 if a > 40 else 0).getbbox()
        if alpha_box is None:
            continue
        sprite = sprite.crop(alpha_box)
        sw, sh = sprite.size
        if sw >= w or sh >= h:
            continue
        for _ in range(20):  # a few tries to find a spot that does not bury an earlier object
            x, y = int(rng.integers(0, w - sw)), int(rng.integers(0, h - sh))
            box = (x, y, x + sw, y + sh)
            if all(_coverage(box, p.box) <= max_covered and _coverage(p.box, box) <= max_covered for p in placed):
                break
        else:
            continue
        shadow = Image.new("RGBA", sprite.size, (0, 0, 0, 0))
        shadow.putalpha(sprite.getchannel("A").point(lambda a: int(a * 0.45)))
        shadow = shadow.filter(ImageFilter.GaussianBlur(2))
        image.paste(shadow, (x + 2, y + 3), shadow)
        image.paste(sprite, (x, y), sprite)
        placed.append(PlacedObject(label, box))
    return placed


def add_foreground(rng, image: Image.Image, scene: str) -> None:
    """Scene elements in front of the litter (blades, reeds, sand drift): natural partial occlusion."""
    draw = ImageDraw.Draw(image, "RGBA")
    w, h = image.size
    area = w * h / 10_000
    if scene == "grass":
        _strokes(rng, draw, image.size, int(8 * area), [(60, 120, 40), (100, 150, 60)], (6, 16), 0.6)
    elif scene == "marshy":
        _strokes(rng, draw, image.size, int(3 * area), [(130, 130, 65), (100, 95, 50)], (15, 35), 0.3)
    elif scene == "rocky":
        for _ in range(int(2 * area)):
            x, y, r = rng.uniform(0, w), rng.uniform(0, h), rng.uniform(2, 5)
            draw.ellipse([x - r, y - r, x + r, y + r], fill=_jitter(rng, (125, 120, 112), 25) + (255,))
    elif scene == "sandy":
        for _ in range(int(1.5 * area)):
            x, y, r = rng.uniform(0, w), rng.uniform(0, h), rng.uniform(3, 8)
            draw.ellipse([x - r, y - r * 0.5, x + r, y + r * 0.5], fill=_jitter(rng, (215, 195, 150), 15) + (150,))


def apply_lighting(rng: np.random.Generator, image: Image.Image) -> Image.Image:
    """Exposure, colour temperature, a sun gradient, vignette and sensor noise."""
    pixels = np.asarray(image, np.float32) / 255.0
    h, w = pixels.shape[:2]
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    angle = rng.uniform(0, 2 * math.pi)
    ramp = ((xx / w - 0.5) * math.cos(angle) + (yy / h - 0.5) * math.sin(angle))[..., None]
    radius = np.sqrt((xx / w - 0.5) ** 2 + (yy / h - 0.5) ** 2)[..., None]
    warmth = rng.uniform(-0.07, 0.07)
    pixels = pixels * rng.uniform(0.7, 1.2) * np.array([1 + warmth, 1.0, 1 - warmth], np.float32)
    pixels = pixels * (1 + rng.uniform(0, 0.35) * ramp) * (1 - rng.uniform(0, 0.45) * radius**2)
    pixels = pixels + rng.normal(0, 0.012, pixels.shape).astype(np.float32)
    return Image.fromarray((np.clip(pixels, 0, 1) * 255 + 0.5).astype(np.uint8), "RGB")


def render_photo(rng: np.random.Generator, scene: str, labels: list[str], size: tuple[int, int], object_size=(22, 64)):
    """Renders one field photo: returns the RGB image and the objects that were placed."""
    image = render_ground(rng, scene, size)
    placed = place_objects(rng, image, labels, object_size)
    add_foreground(rng, image, scene)
    return apply_lighting(rng, image), placed
