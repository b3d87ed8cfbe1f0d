"""One-to-one matching of a photo's detections to the items found before it, best pairs first: what counting
a survey's or a fixed camera's items once shares (`helpers.describer.survey_items`, `fixed_items`)."""

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
