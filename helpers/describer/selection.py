"""Which described photos a gallery or an export takes: by what their sentences state.

    desclm gallery described.jsonl --cv cv.jsonl --category tire,metal --min_items 2
    desclm export described.jsonl --format label_studio --cv cv.jsonl --images photos/ --category tire --max_photos 500

A photo is chosen by its sentence, read back as the gallery's filters read it (`helpers.text.facts`, the CV
record's labels as the vocabulary when there is one): the categories it counts, the scene it states and how
many items. Chosen before any sample is drawn: the photos with a tire among 10^7, then 500 of them. Light to
import (the commands' settings use it): the sentence reader is imported when a sentence is read.
"""

from __future__ import annotations

from dataclasses import dataclass

from helpers.core.settings import setting


def category_setting():
    """The `category` setting, as each command that chooses photos takes it."""
    return setting("", "only photos whose sentence counts one of these categories (comma-separated; case aside)")


def scene_setting():
    """The `scene` setting, as each command that chooses photos takes it."""
    return setting("", "only photos whose sentence states this scene (case aside)")


def min_items_setting():
    """The `min_items` setting, as each command that chooses photos takes it."""
    return setting(0, "only photos whose sentence counts at least this many items")


def said(row):
    """What a described row's sentence states (`helpers.text.facts.Extraction`: counts per category, scene),
    its CV record's labels as the vocabulary: the gallery's categories, and what a `Selection` chooses by."""
    from helpers.text.facts import extract

    vocabulary = [str(d.get("label")) for d in (row.record or {}).get("detections") or []]
    return extract(row.description, vocabulary)


@dataclass(frozen=True)
class Selection:
    """The photos whose sentence counts one of `category` (comma-separated, case aside), states `scene` and
    counts at least `min_items` items; the empty selection takes every photo."""

    category: str = ""
    scene: str = ""
    min_items: int = 0

    def __post_init__(self) -> None:
        if self.min_items < 0:
            raise ValueError(f"min_items must be >= 0, got {self.min_items}")

    @property
    def asked(self) -> bool:
        """Whether it chooses at all."""
        return bool(self.categories or self.scene.strip() or self.min_items)

    @property
    def categories(self) -> frozenset[str]:
        return frozenset(name.strip().casefold() for name in self.category.split(",") if name.strip())

    def keeps(self, statement) -> bool:
        """Whether a sentence's reading (`said(row)`) is chosen."""
        wanted, scene = self.categories, self.scene.strip().casefold()
        return (
            (not wanted or any(label.casefold() in wanted for label in statement.counts))
            and (not scene or (statement.scene or "").casefold() == scene)
            and sum(statement.counts.values()) >= self.min_items
        )

    def as_dict(self) -> dict:
        """The settings it was asked with (the gallery's URL fragment names, `min` for `min_items`), in order."""
        asked = {"category": self.category.strip(), "scene": self.scene.strip(), "min": self.min_items}
        return {name: value for name, value in asked.items() if value}

    def __str__(self) -> str:
        """The settings as a command takes them (`--category tire --min_items 3`), for the log."""
        asked = {"category": self.category.strip(), "scene": self.scene.strip(), "min_items": self.min_items}
        return " ".join(f"--{name} {value}" for name, value in asked.items() if value) or "every photo"
