"""Sentence frames: what is left of a sentence once its counted phrases and its scene are taken out.

A sentence's *frame* is the sentence with every counted phrase replaced by `{item}` (a list of them
by one `{items}`) and the scene's word by `{scene}`, in lower case: "Two plastic items lie on
sandy ground." -> "{items} lie on {scene} ground.". The guard accepts a model sentence only when
its frame is one its style writes: a house style's examples' frames (`helpers.text.house`), or the
grammar's (`grammar_frames`). Reading back the right facts is not enough: a later beam of make
demo's describer wrote "The image shows no litter shows no litter on the grass." and "No litter
was1.", which state the record's facts.
"""

from __future__ import annotations

import re
from functools import cache

from helpers.text.facts import extract
from helpers.text.grammar import EMPTY_FRAMES, EMPTY_SCENE_FRAMES, FRAMES, SCENE_FRAMES, STYLE_PHRASES, render
from helpers.text.lexicon import generic_scene_phrase

ITEM, ITEMS, SCENE = "{item}", "{items}", "{scene}"
ONE, _SINGLE = "{one}", "{item:1}"  # numbered frames: a list of one thing alone (its verb singular)
_LIST = re.compile(r"\{item(?::1)?\}(?:(?:,? and |, )\{item(?::1)?\})*")
# Scene classes without phrases of their own, one per way `generic_scene_phrase` words them
# ("in a forest setting", "in an urban setting", "at a park setting site", "at an urban setting site")
GENERIC_SCENES = ("forest", "urban", "park setting", "urban setting")
# Item lists of each agreement: one thing, several of one, one then others, several then others
_LISTS = (
    (("plastic", 1),),
    (("plastic", 2),),
    (("plastic", 1), ("glass", 2)),
    (("plastic", 2), ("glass", 1)),
)


def frame_of(text: str, record: dict, numbered: bool = False) -> str:
    """The sentence's frame (see the module docstring), its items read with the record's labels.
    `numbered`: a list of one thing alone is `{one}`, so that the frame says the verb's number
    ("{one} lies ...", "{items} lie ...": the grammar's frames are numbered, house styles' are not)."""
    reading = extract(text, [d["label"] for d in record["detections"]])
    marks = [
        (item.span, _SINGLE if numbered and item.count == 1 and not item.plural else ITEM)
        for item in reading.items
        if item.count > 0
    ]
    if reading.scene_span:
        marks.append((reading.scene_span, SCENE))
    folded, pieces, position = text.lower(), [], 0
    for (start, end), mark in sorted(marks):
        if start < position:  # overlapping marks (a scene word inside an item): keep the first
            continue
        pieces += [folded[position:start], mark]
        position = end
    pieces.append(folded[position:])
    return _LIST.sub(lambda match: ONE if match[0] == _SINGLE else ITEMS, re.sub(r"\s+", " ", "".join(pieces)).strip())


def _record(counts: tuple[tuple[str, int], ...], scene: str) -> dict:
    detections = [{"label": label, "confidence": 0.9} for label, count in counts for _ in range(count)]
    return {"detections": detections, "scene": {"class": scene or "unknown", "confidence": 0.9}}


@cache
def grammar_frames(style_name: str) -> frozenset[str]:
    """Every frame the grammar writes in style `style_name` ("plain", "varied"): its sentence frames
    with each scene phrase of the style (and the generic ones) and each agreement of the verbs."""
    scene_phrases = STYLE_PHRASES[style_name][2]
    scenes = [("", "")] + [(name, phrase) for name, phrases in scene_phrases.items() for phrase in phrases]
    scenes += [(name, generic_scene_phrase(name)) for name in GENERIC_SCENES]
    frames = set()
    for scene, phrase in scenes:
        for frame in EMPTY_FRAMES + (EMPTY_SCENE_FRAMES if phrase else ()):
            frames.add(frame_of(render(frame, [], phrase), _record((), scene), numbered=True))
        for counts in _LISTS:
            items = [
                (f"{'a' if count == 1 else count} {label} item{'s' if count > 1 else ''}", count > 1)
                for label, count in counts
            ]
            for frame in FRAMES + (SCENE_FRAMES if phrase else ()):
                frames.add(frame_of(render(frame, items, phrase), _record(counts, scene), numbered=True))
    return frozenset(frames)


def frame_errors(
    text: str, record: dict, frames: frozenset[str] | tuple[str, ...], whose: str, numbered: bool = False
) -> list[str]:
    """Why `text` is not written in one of `frames` (`whose`: the style, for the message); empty: it is."""
    frame = frame_of(text, record, numbered)
    return [] if frame in frames else [f"frame not in the {whose}: {frame!r}"]
