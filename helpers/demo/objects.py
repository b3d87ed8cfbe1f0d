"""Litter objects for the demo photos: one drawer per look (bottle, bag, jar, shards, can, sheet,
cardboard, peel, food), each on its own transparent canvas, drawn from a numpy Generator."""

from __future__ import annotations

import colorsys
import math

import numpy as np
from PIL import Image, ImageDraw

CLASSES = ["plastic", "glass", "metal", "paper", "organic"]

Color = tuple[int, int, int]


def _jitter(rng: np.random.Generator, color: Color, amount: int = 18) -> Color:
    """Mostly a brightness change, with a little hue drift, so colours stay natural."""
    shift = rng.integers(-amount, amount + 1) + rng.integers(-amount // 3, amount // 3 + 1, size=3)
    return tuple(int(v) for v in np.clip(np.array(color) + shift, 0, 255))


def _vivid(rng: np.random.Generator) -> Color:
    """A saturated cyan, blue, violet or pink: printed plastic (labels, bags, caps). Hues that other
    classes wear (green glass, yellow and orange food, red apples) are left out, so colour says plastic."""
    hue, value = rng.uniform(0.5, 0.95), rng.uniform(0.75, 1.0)
    return tuple(int(255 * channel) for channel in colorsys.hsv_to_rgb(hue, 0.88, value))


# Each class has its own colour family, as field litter mostly does (a detector trained for minutes
# learns colour first): plastic is printed in cool vivid colours, glass green and shiny, metal a shaded
# silver cylinder, paper white or brown card, organic yellow peel or red and orange food. Generator 3
# also had amber jars and red or blue cans: the demo YOLO then named only 21 of the 63 training glass
# objects and 15 of the 56 cans it found right (docs/measurements/class_confusion_demo_cpu.json).
def _bottle(rng, draw, s):
    body = _jitter(rng, [(150, 200, 240), (175, 215, 245)][rng.integers(2)])  # PET: clear with a blue tint
    bw, bh = s * 0.42, s * 0.62
    x0, y0 = (s - bw) / 2, s * 0.3
    draw.rounded_rectangle([x0, y0, x0 + bw, y0 + bh], radius=bw * 0.3, fill=body + (225,))
    draw.polygon(
        [(x0 + bw * 0.15, y0 + 2), (x0 + bw * 0.35, s * 0.14), (x0 + bw * 0.65, s * 0.14), (x0 + bw * 0.85, y0 + 2)],
        fill=body + (225,),
    )
    draw.rectangle(
        [x0 + bw * 0.3, s * 0.06, x0 + bw * 0.7, s * 0.15],
        fill=_vivid(rng) + (255,),
    )
    draw.rectangle([x0, y0 + bh * 0.3, x0 + bw, y0 + bh * 0.62], fill=_vivid(rng) + (245,))
    draw.line(
        [(x0 + bw * 0.22, y0 + bh * 0.1), (x0 + bw * 0.22, y0 + bh * 0.9)],
        fill=(255, 255, 255, 160),
        width=max(1, int(s / 30)),
    )


def _bag(rng, draw, s):
    color = _vivid(rng)
    n = int(rng.integers(8, 13))
    points = []
    for i in range(n):
        angle, radius = 2 * math.pi * i / n, s * rng.uniform(0.28, 0.46)
        points.append((s / 2 + radius * math.cos(angle), s / 2 + radius * math.sin(angle)))
    draw.polygon(points, fill=color + (235,))
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


GLASS = [(40, 120, 55), (95, 165, 110)]  # bottle green, pale green


def _jar(rng, draw, s):
    glass = _jitter(rng, GLASS[rng.integers(len(GLASS))])
    x0, y0, x1, y1 = s * 0.22, s * 0.25, s * 0.78, s * 0.92
    draw.rounded_rectangle(
        [x0, y0, x1, y1], radius=s * 0.08, fill=glass + (215,), outline=(235, 245, 240, 230), width=max(1, int(s / 25))
    )
    draw.rectangle(
        [x0 + s * 0.03, s * 0.13, x1 - s * 0.03, y0],
        fill=_jitter(rng, glass, 12) + (255,),  # a glass stopper: no metal lid to read as a can
    )
    for fx in (0.3, 0.38):
        draw.line(
            [(s * fx, y0 + s * 0.08), (s * fx, y1 - s * 0.1)], fill=(255, 255, 255, 170), width=max(1, int(s / 35))
        )


def _shards(rng, draw, s):
    glass = _jitter(rng, GLASS[rng.integers(len(GLASS))])
    for _ in range(int(rng.integers(3, 6))):  # a tight cluster, so the pieces read as one broken object
        cx, cy = s / 2 + rng.uniform(-s / 6, s / 6), s / 2 + rng.uniform(-s / 6, s / 6)
        points = [(cx + rng.uniform(-s / 4, s / 4), cy + rng.uniform(-s / 4, s / 4)) for _ in range(3)]
        draw.polygon(points, fill=glass + (230,), outline=(245, 250, 250, 240), width=max(1, int(s / 30)))


def _can(rng, draw, s):
    color = _jitter(rng, [(200, 200, 205), (215, 215, 220), (165, 165, 175)][rng.integers(3)])  # aluminium, steel
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
        skin = _jitter(rng, (190, 30, 30))
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
                fill=_jitter(rng, [(120, 75, 35), (215, 120, 40), (195, 60, 35)][rng.integers(3)]) + (255,),
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
