"""A seeded uniform sample of a stream too long to hold (reservoir sampling): the gallery's page of
10^7 described photos, 01's sample photos and the positions it maps."""

from __future__ import annotations

import random
from collections.abc import Iterable
from typing import Generic, TypeVar

T = TypeVar("T")


class Reservoir(Generic[T]):
    """A uniform random sample of at most `size` of the items added (memory holds the sample only): all
    of them while there are no more than `size`; the same `seed` and items, the same sample."""

    def __init__(self, size: int, seed: int) -> None:
        self.size, self.rng = size, random.Random(seed)
        self.kept: list[tuple[int, T]] = []
        self.count = 0

    def add(self, item: T) -> None:
        self.count += 1
        if len(self.kept) < self.size:
            self.kept.append((self.count, item))
        elif (slot := self.rng.randrange(self.count)) < self.size:
            self.kept[slot] = (self.count, item)

    @property
    def sample(self) -> list[T]:
        """The sample, in the order the items were added."""
        return [item for _, item in sorted(self.kept, key=lambda pair: pair[0])]


def sample_stream(items: Iterable[T], size: int, seed: int) -> tuple[list[T], int]:
    """A `Reservoir` sample of `items` (read once), in their order, and how many items there were."""
    reservoir: Reservoir[T] = Reservoir(size, seed)
    for item in items:
        reservoir.add(item)
    return reservoir.sample, reservoir.count
