"""A seeded uniform sample of a stream too long to hold (reservoir sampling): the gallery's page of
10^7 described photos, 01's sample photos."""

from __future__ import annotations

import random
from collections.abc import Iterable
from typing import TypeVar

T = TypeVar("T")


def sample_stream(items: Iterable[T], size: int, seed: int) -> tuple[list[T], int]:
    """A uniform random sample of at most `size` of `items` (read once; memory holds the sample only),
    in their order, and how many items there were. All of them when there are no more than `size`;
    the same `seed`, the same sample."""
    rng = random.Random(seed)
    kept: list[tuple[int, T]] = []
    count = 0
    for count, item in enumerate(items, start=1):
        if len(kept) < size:
            kept.append((count, item))
        elif (slot := rng.randrange(count)) < size:
            kept[slot] = (count, item)
    return [item for _, item in sorted(kept, key=lambda pair: pair[0])], count
