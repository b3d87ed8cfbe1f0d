"""Provenance: which detections each phrase of a sentence speaks for, and where the phrase is.

    result = describer.describe_detailed([record])[0]
    for phrase in result.phrases:
        result.text[phrase.start : phrase.end], phrase.detections   # "two plastic items", (0, 3)

The fact extractor finds every counted phrase and the scene's word; each counted phrase covers as
many of the record's detections (above the policy's threshold, with its category) as it states,
in the record's order, those in the place it states first (a category stated in two phrases, "two
plastic items on the left and one on the right": each phrase its own boxes). Notebook 04 draws a few
photos with each phrase's boxes in its own colour and the sentence coloured to match (`plot_provenance`).
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from helpers.core.contract import Policy
from helpers.core.photo_datasets import PhotoKeys
from helpers.text.facts import extract
from helpers.text.lexicon import canonical_label
from helpers.text.spatial import in_place

COLOURS = ("tab:red", "tab:blue", "tab:orange", "tab:purple", "tab:cyan", "tab:olive", "tab:pink", "tab:brown")


@dataclass(frozen=True)
class Phrase:
    """One stated fact of a sentence: where it is written and what it covers."""

    start: int  # first character in the sentence
    end: int  # one past the last
    label: str  # the category, or the scene class for the scene phrase
    count: int | None  # the stated count; None for the scene
    detections: tuple[int, ...]  # indices into the record's `detections` (none for the scene)


def provenance(text: str, record: dict, policy: Policy = Policy()) -> tuple[Phrase, ...]:
    """The phrases of `text` about `record`, in reading order (see the module docstring)."""
    extraction = extract(text, [d["label"] for d in record["detections"]])
    pool: dict[str, list[int]] = defaultdict(list)
    for index, detection in enumerate(record["detections"]):
        if detection["confidence"] >= policy.min_confidence:
            pool[canonical_label(detection["label"])].append(index)
    phrases = []
    for item in extraction.items:
        if item.count <= 0:
            continue
        candidates = pool[item.label]
        if item.place is not None:  # a category stated in two places ("two on the left and one on the right")
            boxes = [record["detections"][index].get("bbox") for index in candidates]
            placed = [index for index, box in zip(candidates, boxes) if in_place(box, item.place)]
            candidates = placed + [index for index in candidates if index not in placed]
        covered = candidates[: item.count]
        pool[item.label] = [index for index in pool[item.label] if index not in covered]
        phrases.append(Phrase(*item.span, item.label, item.count, tuple(covered)))
    if extraction.scene and extraction.scene_span:
        phrases.append(Phrase(*extraction.scene_span, extraction.scene, None, ()))
    return tuple(sorted(phrases, key=lambda phrase: phrase.start))


def coloured_segments(text: str, phrases: tuple[Phrase, ...]) -> list[tuple[str, str]]:
    """(piece of text, colour) runs: each counted phrase in its own colour, the rest black."""
    segments, position = [], 0
    counted = [p for p in phrases if p.count is not None]
    for number, phrase in enumerate(counted):
        if phrase.start > position:
            segments.append((text[position : phrase.start], "black"))
        segments.append((text[phrase.start : phrase.end], COLOURS[number % len(COLOURS)]))
        position = phrase.end
    if position < len(text):
        segments.append((text[position:], "black"))
    return segments


def _wrapped(segments: list[tuple[str, str]], width: int) -> list[list[tuple[str, str]]]:
    """The coloured runs broken into lines of about `width` characters, at spaces."""
    lines, line, used = [], [], 0
    for piece, colour in segments:
        for word in re.findall(r"\s*\S+\s*|\s+", piece):
            if used + len(word) > width and line:
                lines.append(line)
                line, used = [], 0
            line.append((word, colour))
            used += len(word)
    return lines + [line] if line else lines


def plot_provenance(rows: list[dict], photos: PhotoKeys | None, path: Path, count: int = 4) -> Path | None:
    """Photos with each counted phrase's boxes in its colour, and the sentence coloured to match.

    `rows` hold `id` (the photo's key in `photos`), `text`, `record` and `phrases`. Returns None when
    none of the photos is on this machine.
    """
    import matplotlib.pyplot as plt
    from matplotlib.offsetbox import AnchoredOffsetbox, HPacker, TextArea, VPacker

    shown = [r for r in rows if photos and r["phrases"] and photos.exists(str(r["id"]))][:count]
    if not shown:
        return None
    figure, axes = plt.subplots(1, len(shown), figsize=(4.6 * len(shown), 5.2), squeeze=False)
    for axis, row in zip(axes.flat, shown):
        axis.axis("off")
        image = photos.image(str(row["id"]))
        axis.imshow(image)
        width, height = image.size
        counted = [p for p in row["phrases"] if p.count is not None]
        for number, phrase in enumerate(counted):
            boxes = [row["record"]["detections"][i].get("bbox") for i in phrase.detections]
            for x1, y1, x2, y2 in filter(None, boxes):
                corner, size = (x1 * width, y1 * height), ((x2 - x1) * width, (y2 - y1) * height)
                colour = COLOURS[number % len(COLOURS)]
                axis.add_patch(plt.Rectangle(corner, *size, fill=False, edgecolor=colour, linewidth=2))
        lines = [
            HPacker(children=[TextArea(piece, textprops={"color": colour, "size": 8}) for piece, colour in line])
            for line in _wrapped(coloured_segments(row["text"], row["phrases"]), 48)
        ]
        caption = AnchoredOffsetbox(
            loc="upper left",
            child=VPacker(children=lines, pad=0, sep=2),
            frameon=False,
            bbox_to_anchor=(0, -0.02),
            bbox_transform=axis.transAxes,
            borderpad=0,
        )
        axis.add_artist(caption)
    figure.subplots_adjust(bottom=0.25, wspace=0.05)
    figure.savefig(path, dpi=100, bbox_inches="tight")
    plt.close(figure)
    return path


def provenance_rows(rows: list[dict], policy: Policy = Policy(), count: int = 4) -> list[dict]:
    """Evaluation rows (`helpers.describer.evaluate.judge`) as `plot_provenance` takes them: the
    guarded sentences that state most categories first."""
    drawn = [
        {
            "id": row["id"],
            "text": row["guarded"]["text"],
            "record": row["record"],
            "phrases": provenance(row["guarded"]["text"], row["record"], policy),
        }
        for row in rows
    ]
    drawn = [row for row in drawn if any(p.count for p in row["phrases"])]
    return sorted(drawn, key=lambda row: -len(row["phrases"]))[:count]
