"""Where things are: one place phrase per category, derived from its detections' boxes.

With the policy's `spatial=True` (off by default until a trained model is measured with it), every
category whose described detections all carry a normalised box gets a *place*, stated after its
count and noun and checked like a count:

- all box centres in one cell of a 3 x 3 grid: that cell ("in the top left", "at the bottom",
  "in the centre", ...), and "close together" before it when there are several and every centre is
  within `CLUSTER_RADIUS` of their mean ("three plastic items close together in the top left");
- several centres spread over at least half the image's width or height: "across the image";
- anything else (a few items in neighbouring cells): no place; the sentence says nothing it cannot
  say exactly.

It also gets a *size*, written before the noun ("a large piece of paper", "three small plastic
items"), when every box agrees: each covers at least `LARGE_AREA` of the photo ("large") or at
most `SMALL_AREA` ("small", under about 3% of each side). A record with a label that starts with
a size word ("small bag") gets no sizes: "a small bag" would be ambiguous.

The grammar writes these phrases, the fact extractor reads them back (a property test), the model
input carries each category's size and place key ("3 small plastic at top left"), and the guard
compares the stated sizes and places with the boxes. Records without boxes are described as without `spatial`.
"""

from __future__ import annotations

from collections.abc import Sequence

ROWS = ("top", "middle", "bottom")
COLUMNS = ("left", "centre", "right")
# place key (in the model input) -> phrase (in the sentence)
CELL_PHRASES = {
    "top left": "in the top left",
    "top": "at the top",
    "top right": "in the top right",
    "left": "on the left",
    "centre": "in the centre",
    "right": "on the right",
    "bottom left": "in the bottom left",
    "bottom": "at the bottom",
    "bottom right": "in the bottom right",
}
SPREAD = "across"
CLUSTERED = "close"  # key prefix: "close top left"
CLUSTER_RADIUS = 0.12  # of the image's width and height
SPREAD_SPAN = 0.5
PLACE_PHRASES = {
    **CELL_PHRASES,
    SPREAD: "across the image",
    **{f"{CLUSTERED} {key}": f"close together {phrase}" for key, phrase in CELL_PHRASES.items()},
}
PHRASE_PLACES = {phrase: key for key, phrase in PLACE_PHRASES.items()}
PHRASE_PLACES.update({phrase.replace("centre", "center"): key for phrase, key in list(PHRASE_PLACES.items())})


def _cell(x: float, y: float) -> str:
    row, column = ROWS[min(2, max(0, int(y * 3)))], COLUMNS[min(2, max(0, int(x * 3)))]
    if row == "middle":
        return column
    return row if column == "centre" else f"{row} {column}"


def place_of(boxes: Sequence[Sequence[float] | None]) -> str | None:
    """The place key of one category's boxes (normalised [x1, y1, x2, y2]), or None (see module docstring)."""
    if not boxes or any(box is None for box in boxes):
        return None
    centres = [((box[0] + box[2]) / 2, (box[1] + box[3]) / 2) for box in boxes]
    cells = {_cell(x, y) for x, y in centres}
    if len(cells) == 1:
        cell = cells.pop()
        if len(centres) > 1:
            mean_x = sum(x for x, _ in centres) / len(centres)
            mean_y = sum(y for _, y in centres) / len(centres)
            if all(abs(x - mean_x) <= CLUSTER_RADIUS and abs(y - mean_y) <= CLUSTER_RADIUS for x, y in centres):
                return f"{CLUSTERED} {cell}"
        return cell
    xs, ys = [x for x, _ in centres], [y for _, y in centres]
    if max(xs) - min(xs) >= SPREAD_SPAN or max(ys) - min(ys) >= SPREAD_SPAN:
        return SPREAD
    return None


def in_place(box: Sequence[float] | None, place: str) -> bool:
    """Whether a box's centre lies where the place key says (a cell, "close" before one: the same cell; "across":
    anywhere): which of a category's boxes a phrase stating a place speaks for."""
    if box is None:
        return False
    key = place.removeprefix(f"{CLUSTERED} ")
    return key == SPREAD or _cell((box[0] + box[2]) / 2, (box[1] + box[3]) / 2) == key


SIZES = ("large", "small")
LARGE_AREA = 0.1  # of the photo's area: about a third of its width and height
SMALL_AREA = 0.001  # about 3% of its width and height


def size_of(boxes: Sequence[Sequence[float] | None]) -> str | None:
    """ "large" or "small" when every box (normalised [x1, y1, x2, y2]) is, else None."""
    if not boxes or any(box is None for box in boxes):
        return None
    areas = [max(0.0, box[2] - box[0]) * max(0.0, box[3] - box[1]) for box in boxes]
    if all(area >= LARGE_AREA for area in areas):
        return "large"
    if all(area <= SMALL_AREA for area in areas):
        return "small"
    return None
