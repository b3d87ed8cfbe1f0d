"""Model input: a CV output record as one short, deterministic line of text.

`linked_slots` (default) applies the description policy first, then lists each category once with
its count, in the order the description names them, each after the first saying which one it
follows, then a link to the end of the list, then the scene; names the grammar copies verbatim
(categories outside the five classes, scenes without phrases) are slots, filled in after
generation (see `helpers.text.slots`, and `to_model_text` / `from_model_text`):

    litter: 3 plastic; 1 slotA after plastic; 1 slotB after slotA; end after slotB | scene: grass | style: plain words
    | variant: 5

(every format ends with the style, `helpers.core.contract.Style`, so one model can write several,
and, for a model trained with wording variants, the variant: `helpers.text.variants`).
`linked_end` is the same with the names themselves:

    litter: 3 plastic; 1 tire after plastic; 1 rope after tire; end after rope | scene: grass

so the model copies counts instead of counting, 30 detections fit in a few dozen tokens, and the
decoder finds the next category by matching the one it has just written ("after tire") instead
of keeping count of how many it has written, which a small model learns slowly; "end after rope"
tells it, the same way, that the list is complete (without it, models kept listing categories).
Confidences are left out: beyond the thresholds, which are already applied, the description does
not depend on them.

`linked` is the same without the end link; `compact` the earlier format (no links, plus each
category's and the scene's confidence range); `seed_json` the original notebook's (the whole
record as JSON, every detection), kept for comparison. The format's name is saved with the
trained model so inference matches.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable

from helpers.core.contract import Policy, Style
from helpers.text.grammar import Facts, description_order, facts, scene_of
from helpers.text.lexicon import canonical_label
from helpers.text.slots import SCENE_SLOT, delexicalize, relexicalize, slot_names
from helpers.text.variants import variant_tag


def _located(name: str, label: str, stated: Facts) -> str:
    """`name` with the size and place the policy's `spatial` gave its category: "large slotA at top left"."""
    size = f"{stated.sizes[label]} " if label in stated.sizes else ""
    return f"{size}{name} at {stated.places[label]}" if label in stated.places else f"{size}{name}"


def _kept(record: dict, policy: Policy) -> tuple[dict[str, list[float]], list[str]]:
    """Confidences per described category, and the categories in the description's order."""
    confidences: dict[str, list[float]] = defaultdict(list)
    for detection in record["detections"]:
        if detection["confidence"] >= policy.min_confidence:
            confidences[canonical_label(detection["label"])].append(float(detection["confidence"]))
    return confidences, description_order({label: len(values) for label, values in confidences.items()})


def _linked(record: dict, policy: Policy, end_link: bool = False, slots: bool = False) -> str:
    confidences, order = _kept(record, policy)
    held = slot_names(record, policy) if slots else {}
    shown = {name: slot for slot, name in held.items() if slot != SCENE_SLOT}
    names = [shown.get(label, label) for label in order]
    stated = facts(record, policy)
    items = [
        f"{len(confidences[label])} {_located(names[i], label, stated)}" + (f" after {names[i - 1]}" if i else "")
        for i, label in enumerate(order)
    ]
    if end_link and order:
        items.append(f"end after {names[-1]}")
    scene = SCENE_SLOT if SCENE_SLOT in held else scene_of(record, policy)
    return f"litter: {'; '.join(items) or 'none'} | scene: {scene or 'none'}"


def _linked_end(record: dict, policy: Policy) -> str:
    return _linked(record, policy, end_link=True)


def _linked_slots(record: dict, policy: Policy) -> str:
    return _linked(record, policy, end_link=True, slots=True)


def _compact(record: dict, policy: Policy) -> str:
    confidences, order = _kept(record, policy)
    scene = scene_of(record, policy)
    # Count before label, categories in the order the description names them, confidences last:
    # the model's alignment from input to output stays a simple left-to-right copy.
    stated = facts(record, policy)
    items = "; ".join(f"{len(confidences[label])} {_located(label, label, stated)}" for label in order) or "none"
    spans = []
    for label in order:
        low, high = f"{min(confidences[label]):.2f}", f"{max(confidences[label]):.2f}"
        spans.append(low if low == high else f"{low}-{high}")
    if scene:
        spans.append(f"{float(record['scene']['confidence']):.2f}")
    return f"litter: {items} | scene: {scene or 'none'} | confidence: {' '.join(spans) or 'none'}"


def _seed_json(record: dict, policy: Policy) -> str:
    """The original: every detection's label and confidence (rounded to 2), and the scene, as JSON."""
    scene = record.get("scene") or {"class": "unknown", "confidence": 0.0}
    summary = {
        "detections": [
            {"label": d["label"], "confidence": round(float(d["confidence"]), 2)} for d in record["detections"]
        ],
        "scene": {
            "class": scene.get("class") or "unknown",
            "confidence": round(float(scene.get("confidence") or 0.0), 2),
        },
    }
    return "Describe the garbage detected based on this CV output:\n" + json.dumps(summary) + "\nDescription:"


FORMATS: dict[str, Callable[[dict, Policy], str]] = {
    "linked_slots": _linked_slots,
    "linked": _linked,
    "linked_end": _linked_end,
    "compact": _compact,
    "seed_json": _seed_json,
}
SLOT_FORMATS = frozenset({"linked_slots"})  # formats whose model text holds slots (see helpers.text.slots)


def to_model_text(text: str, record: dict, input_format: str, policy: Policy) -> str:
    """A description as the model writes it in this format (names in slots where it uses them)."""
    return delexicalize(text, record, policy) if input_format in SLOT_FORMATS else text


def from_model_text(text: str, record: dict, input_format: str, policy: Policy) -> str:
    """The model's output as a description (slots filled with their names where the format uses them)."""
    return relexicalize(text, record, policy) if input_format in SLOT_FORMATS else text


def linearize(
    record: dict, input_format: str, policy: Policy, style: Style = Style(), variant: int | None = None
) -> str:
    """The model input for a valid CV output record (format and policy: the model's `InputSpec`),
    ending with the style its description is to be written in (" | style: plain words") and, for
    a model that learned variants, the wording variant (" | variant: 3", `helpers.text.variants`).

    Raises:
        ValueError: Unknown format name.
    """
    if input_format not in FORMATS:
        raise ValueError(f"unknown input_format {input_format!r}; expected one of {sorted(FORMATS)}")
    return f"{FORMATS[input_format](record, policy)} | style: {style.tag}{variant_tag(variant)}"
