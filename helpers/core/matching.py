"""One-to-one matching of a photo's detections to the items found before it, best pairs first: what counting
a survey's or a fixed camera's items once shares (`helpers.describer.survey_items`, `fixed_items`), and checking a
grounded caption's boxes (`helpers.text.check`)."""

from __future__ import annotations

from collections.abc import Iterable


def greedy_pairs(pairs: Iterable[tuple[float, int, int]]) -> dict[int, int]:
    """{detection: item} from (cost, detection, item) candidate pairs: the lowest cost first (ties: by
    detection, then item), each detection and each item in one pair at most."""
    matched: dict[int, int] = {}
    used: set[int] = set()
    for _, detection, item in sorted(pairs):
        if detection not in matched and item not in used:
            matched[detection] = item
            used.add(item)
    return matched


def box_overlap(a, b) -> float:
    """Intersection over union of two boxes [x1, y1, x2, y2] (0: none, or a box that is no four numbers)."""
    if len(a) != 4 or len(b) != 4:
        return 0.0
    width = min(a[2], b[2]) - max(a[0], b[0])
    height = min(a[3], b[3]) - max(a[1], b[1])
    if width <= 0 or height <= 0:
        return 0.0
    inter = width * height
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0
