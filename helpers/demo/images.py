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

CLASSES = ["plastic", "glass", "metal", "paper", "organic"]
SCENES = ["grass", "sandy", "rocky", "marshy"]

Color = tuple[int, int, int]


@dataclass(frozen=True)
class PlacedObject:
    """One litter object in a rendered image, box in pixels (x1, y1, x2, y2), x2/y2 exclusive."""

    label: str
    box: tuple[int, int, int, int]


def _jitter(rng: np.random.Generator, color: Color, amount: int = 18) -> Color:
    """Mostly a brightness change, with a little hue drift, so colours stay natural."""
    shift = rng.integers(-amount, amount + 1) + rng.integers(-amount // 3, amount // 3 + 1, size=3)
    return tuple(int(v) for v in np.clip(np.array(color) + shift, 0, 255))


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


def _bottle(rng, draw, s):
    body = _jitter(rng, [(170, 210, 235), (225, 235, 240), (120, 190, 130), (200, 120, 120)][rng.integers(4)])
    bw, bh = s * 0.42, s * 0.62
    x0, y0 = (s - bw) / 2, s * 0.3
    draw.rounded_rectangle([x0, y0, x0 + bw, y0 + bh], radius=bw * 0.3, fill=body + (225,))
    draw.polygon(
        [(x0 + bw * 0.15, y0 + 2), (x0 + bw * 0.35, s * 0.14), (x0 + bw * 0.65, s * 0.14), (x0 + bw * 0.85, y0 + 2)],
        fill=body + (225,),
    )
    draw.rectangle(
        [x0 + bw * 0.3, s * 0.06, x0 + bw * 0.7, s * 0.15],
        fill=_jitter(rng, [(30, 80, 200), (220, 40, 40), (245, 245, 245)][rng.integers(3)]) + (255,),
    )
    draw.rectangle(
        [x0, y0 + bh * 0.35, x0 + bw, y0 + bh * 0.6], fill=tuple(int(c) for c in rng.integers(0, 256, 3)) + (240,)
    )
    draw.line(
        [(x0 + bw * 0.22, y0 + bh * 0.1), (x0 + bw * 0.22, y0 + bh * 0.9)],
        fill=(255, 255, 255, 160),
        width=max(1, int(s / 30)),
    )


def _bag(rng, draw, s):
    color = _jitter(rng, [(240, 240, 235), (60, 90, 200), (30, 30, 30), (230, 210, 60)][rng.integers(4)], 12)
    n = int(rng.integers(8, 13))
    points = []
    for i in range(n):
        angle, radius = 2 * math.pi * i / n, s * rng.uniform(0.28, 0.46)
        points.append((s / 2 + radius * math.cos(angle), s / 2 + radius * math.sin(angle)))
    draw.polygon(points, fill=color + (215,))
    shade = tuple(max(0, c - 50) for c in color) + (200,)
    for _ in range(int(rng.integers(3, 7))):
        x, y = s / 2 + rng.uniform(-s / 4, s / 4), s / 2 + rng.uniform(-s / 4, s / 4)
        draw.line(
            [(x, y), (x + rng.uniform(-s / 6, s / 6), y + rng.uniform(-s / 6, s / 6))],
            fill=shade,
            width=max(1, int(s / 40)),
        )
    draw.arc([s * 0.3, s * 0.02, s * 0.5, s * 0.3], 180, 360, fill=color + (230,), width=max(2, int(s / 20)))
    draw.arc([s * 0.5, s * 0.02, s * 0.7, s * 0.3], 180, 360, fill=color + (230,), width=max(2, int(s / 20)))


def _jar(rng, draw, s):
    glass = _jitter(rng, [(150, 190, 160), (200, 220, 215), (150, 100, 50)][rng.integers(3)])
    x0, y0, x1, y1 = s * 0.22, s * 0.25, s * 0.78, s * 0.92
    draw.rounded_rectangle(
        [x0, y0, x1, y1], radius=s * 0.08, fill=glass + (175,), outline=(235, 245, 240, 200), width=max(1, int(s / 40))
    )
    draw.rectangle(
        [x0 + s * 0.03, s * 0.13, x1 - s * 0.03, y0],
        fill=_jitter(rng, [(190, 160, 60), (150, 150, 155)][rng.integers(2)]) + (255,),
    )
    for fx in (0.3, 0.38):
        draw.line(
            [(s * fx, y0 + s * 0.08), (s * fx, y1 - s * 0.1)], fill=(255, 255, 255, 170), width=max(1, int(s / 35))
        )


def _shards(rng, draw, s):
    glass = _jitter(rng, [(120, 70, 30), (40, 110, 50), (200, 225, 225)][rng.integers(3)])
    for _ in range(int(rng.integers(3, 6))):
        cx, cy = s / 2 + rng.uniform(-s / 5, s / 5), s / 2 + rng.uniform(-s / 5, s / 5)
        points = [(cx + rng.uniform(-s / 4, s / 4), cy + rng.uniform(-s / 4, s / 4)) for _ in range(3)]
        draw.polygon(points, fill=glass + (200,), outline=(245, 250, 250, 230))


def _can(rng, draw, s):
    color = _jitter(rng, [(200, 200, 205), (200, 30, 35), (30, 70, 180), (40, 140, 60)][rng.integers(4)])
    x0, x1, y0, y1 = s * 0.3, s * 0.7, s * 0.15, s * 0.85
    columns = int(x1 - x0) + 1
    for i in range(columns):  # cylinder shading: bright stripe off-centre, dark edges
        shade = 0.55 + 0.6 * math.cos((i / max(1, columns - 1) - 0.35) * math.pi)
        draw.line([(x0 + i, y0), (x0 + i, y1)], fill=tuple(int(min(255, c * shade)) for c in color) + (255,))
    draw.ellipse([x0, y0 - s * 0.05, x1, y0 + s * 0.05], fill=(185, 185, 190, 255), outline=(120, 120, 125, 255))
    draw.rectangle([x0, s * 0.45, x1, s * 0.55], fill=(235, 235, 235, 220))


def _sheet(rng, draw, s):
    paper = _jitter(rng, (238, 235, 222), 10)
    corners = [(s * 0.15, s * 0.2), (s * 0.85, s * 0.15), (s * 0.88, s * 0.85), (s * 0.12, s * 0.8)]
    corners = [(x + rng.uniform(-s / 20, s / 20), y + rng.uniform(-s / 20, s / 20)) for x, y in corners]
    draw.polygon(corners, fill=paper + (255,), outline=(180, 178, 170, 255))
    for k in range(5):
        y = s * (0.32 + 0.1 * k)
        draw.line(
            [(s * 0.25, y), (s * rng.uniform(0.55, 0.75), y)], fill=(120, 120, 130, 200), width=max(1, int(s / 60))
        )
    draw.polygon(
        [corners[1], (corners[1][0] - s * 0.15, corners[1][1]), (corners[1][0], corners[1][1] + s * 0.15)],
        fill=(205, 200, 190, 255),
    )


def _cardboard(rng, draw, s):
    brown = _jitter(rng, (170, 125, 75), 15)
    draw.rectangle(
        [s * 0.15, s * 0.25, s * 0.85, s * 0.75],
        fill=brown + (255,),
        outline=tuple(c - 50 for c in brown) + (255,),
        width=max(1, int(s / 40)),
    )
    for k in range(8):
        x = s * (0.18 + 0.08 * k)
        draw.line([(x, s * 0.25), (x, s * 0.75)], fill=tuple(c - 25 for c in brown) + (160,), width=1)
    draw.rectangle([s * 0.15, s * 0.45, s * 0.85, s * 0.53], fill=(205, 180, 120, 230))


def _peel(rng, draw, s):
    yellow = _jitter(rng, (225, 200, 60), 15)
    for k in range(3):
        angle = 2 * math.pi * k / 3 + rng.uniform(-0.4, 0.4)
        end = (s / 2 + s * 0.4 * math.cos(angle), s / 2 + s * 0.4 * math.sin(angle))
        mid = (s / 2 + s * 0.25 * math.cos(angle + 0.4), s / 2 + s * 0.25 * math.sin(angle + 0.4))
        draw.line([(s / 2, s / 2), mid, end], fill=yellow + (255,), width=max(3, int(s / 7)), joint="curve")
    for _ in range(4):
        x, y = s / 2 + rng.uniform(-s / 5, s / 5), s / 2 + rng.uniform(-s / 5, s / 5)
        draw.ellipse([x - 1.5, y - 1.5, x + 1.5, y + 1.5], fill=(90, 60, 20, 255))


def _food(rng, draw, s):
    if rng.random() < 0.5:  # apple core: two caps and a narrow waist
        skin = _jitter(rng, [(190, 30, 30), (120, 180, 50)][rng.integers(2)])
        draw.rectangle([s * 0.4, s * 0.25, s * 0.6, s * 0.75], fill=(235, 220, 170, 255))
        draw.ellipse([s * 0.25, s * 0.12, s * 0.75, s * 0.35], fill=skin + (255,))
        draw.ellipse([s * 0.25, s * 0.65, s * 0.75, s * 0.88], fill=skin + (255,))
        draw.line([(s * 0.5, s * 0.12), (s * 0.53, s * 0.03)], fill=(80, 50, 20, 255), width=max(1, int(s / 25)))
    else:  # scraps: a cluster of brown and orange lumps
        for _ in range(int(rng.integers(4, 8))):
            x, y, r = (
                s / 2 + rng.uniform(-s / 4, s / 4),
                s / 2 + rng.uniform(-s / 4, s / 4),
                s * rng.uniform(0.08, 0.16),
            )
            draw.ellipse(
                [x - r, y - r, x + r, y + r],
                fill=_jitter(rng, [(120, 75, 35), (215, 120, 40), (160, 140, 60)][rng.integers(3)]) + (255,),
            )


DRAWERS = {
    "plastic": (_bottle, _bag),
    "glass": (_jar, _shards),
    "metal": (_can,),
    "paper": (_sheet, _cardboard),
    "organic": (_peel, _food),
}


def render_object(rng: np.random.Generator, label: str, size: int) -> Image.Image:
    """Draws one litter object of class `label`, about `size` pixels across, randomly rotated (RGBA)."""
    variants = DRAWERS[label]
    scale = 2  # draw large, then shrink, for smooth edges
    canvas = Image.new("RGBA", (size * scale, size * scale), (0, 0, 0, 0))
    variants[rng.integers(len(variants))](rng, ImageDraw.Draw(canvas), size * scale)
    canvas = canvas.resize((size, size), Image.LANCZOS)
    return canvas.rotate(rng.uniform(0, 360), resample=Image.BICUBIC, expand=True)


def _coverage(box, other) -> float:
    """Share of `other`'s area that `box` covers."""
    ix = max(0, min(box[2], other[2]) - max(box[0], other[0]))
    iy = max(0, min(box[3], other[3]) - max(box[1], other[1]))
    return ix * iy / max(1, (other[2] - other[0]) * (other[3] - other[1]))


def place_objects(rng, image: Image.Image, labels: list[str], max_covered: float = 0.45) -> list[PlacedObject]:
    """Pastes objects with soft shadows; a later object may hide at most `max_covered` of an earlier one."""
    w, h = image.size
    placed: list[PlacedObject] = []
    for label in labels:
        sprite = render_object(rng, label, int(rng.integers(22, 64)))
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


def render_photo(rng: np.random.Generator, scene: str, labels: list[str], size: tuple[int, int]):
    """Renders one field photo: returns the RGB image and the objects that were placed."""
    image = render_ground(rng, scene, size)
    placed = place_objects(rng, image, labels)
    add_foreground(rng, image, scene)
    return apply_lighting(rng, image), placed
