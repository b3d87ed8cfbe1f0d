"""The description grammar: from one CV output to correct, faithful English sentences.

Policy: detections below `min_confidence` are not described; the scene is mentioned if and
only if its class is known and its confidence is at least `scene_min_confidence`. Every
described category appears once with its exact count, and nothing else is claimed.

Style: "plain" words each category with its label and a neutral noun ("item", "object", "piece
of"), "varied" with the original's phrase lists; numerals are words up to ten (a sentence with a
larger count is all digits) or digits, one system per sentence. For two confident plastic
detections on grass it writes, for example, "Two plastic items are visible on the grass."
(plain words) or "On the lawn, there are 2 pieces of plastic debris." (varied digits).
"""

from __future__ import annotations

import functools
import math
import random
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from numbers import Real

from helpers.core.contract import Policy, Style
from helpers.text.lexicon import (
    CLASSES,
    COUNT_PHRASES,
    MASS_PHRASES,
    PLAIN_COUNT_PHRASES,
    PLAIN_MASS_PHRASES,
    PLAIN_SCENE_PHRASES,
    SCENE_PHRASES,
    article,
    canonical_label,
    canonical_scene,
    fold_label,
    generic_scene_phrase,
    label_forms,
    normalize_label,
    number_words,
    plural,
)
from helpers.text.spatial import PLACE_PHRASES, SIZES, place_of, size_of

# Phrase tables per style: count nouns, (counter, mass noun) pairs, scene phrases.
STYLE_PHRASES = {
    "plain": (PLAIN_COUNT_PHRASES, PLAIN_MASS_PHRASES, PLAIN_SCENE_PHRASES),
    "varied": (COUNT_PHRASES, MASS_PHRASES, SCENE_PHRASES),
}
WORDS_UP_TO = 10  # numerals "words": counts up to this are spelled out
# Sentence frames, shared by both styles ("{List}" frames open with a count, so they need words).
EMPTY_FRAMES = (
    "No litter is visible{tail}.",
    "No litter was detected{tail}.",
    "There is no litter{tail}.",
    "The image shows no litter{tail}.",
)
EMPTY_SCENE_FRAMES = ("{Scene}, no litter is visible.",)
FRAMES = (
    "There {first_be} {list}{tail}.",
    "{List} {subject_be} visible{tail}.",
    "The image shows {list}{tail}.",
    "{List} can be seen{tail}.",
    "This photo contains {list}{tail}.",
)
SCENE_FRAMES = ("{Scene}, there {first_be} {list}.", "{List} {lie} {scene}.")

UNKNOWN_SCENES = frozenset({"", "unknown", "none", "null"})


class RecordError(ValueError):
    """A CV output record that cannot be described; the message names the field."""


@dataclass(frozen=True)
class Facts:
    """What a description must say: exact counts per category, and the scene or None."""

    counts: dict[str, int] = field(default_factory=dict)
    scene: str | None = None
    places: dict[str, str] = field(default_factory=dict)  # category -> place key (`helpers.text.spatial`)
    sizes: dict[str, str] = field(default_factory=dict)  # category -> "large" or "small" (the same)


def _confidence(value, where: str) -> float:
    """A number in 0..1 (NumPy's too: a record built from model output may hold np.float32)."""
    if type(value) is float and 0 <= value <= 1:  # JSON's numbers, the common case: no ABC check (NaN fails here)
        return value
    if isinstance(value, bool) or not isinstance(value, Real) or not math.isfinite(value) or not 0 <= value <= 1:
        raise RecordError(f"{where} must be a finite number in 0..1, got {value!r}")
    return float(value)


# Characters that are syntax, not data: the model input separates categories with ";" and sections
# with "|". A name holding one is refused, never guessed at (whitespace, line breaks included, is
# collapsed to one space by normalize_label).
RESERVED = {";": "a semicolon", "|": "a vertical bar"}
BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
INVISIBLE_CATEGORIES = frozenset({"Cf", "Cc", "Cs", "Zs", "Zl", "Zp"})  # format (zero-width), control, spaces


def _check_name(value: str, where: str) -> None:
    if (problem := _name_problem(value)) is not None:
        raise RecordError(f"{where} {problem}")


@functools.lru_cache(maxsize=4096)  # a dataset's few labels, met once per detection
def _name_problem(value: str) -> str | None:
    """What makes a label or scene name unwritable (the message after its field's name), or None."""
    for char, what in RESERVED.items():
        if char in value:
            return f"{value!r} contains {what} ({char!r}), which the model input uses as a separator"
    if any(unicodedata.category(c) == "Cc" and not c.isspace() for c in value):  # whitespace is collapsed
        return f"{value!r} contains a control character"
    if surrogates := [c for c in value if unicodedata.category(c) == "Cs"]:
        return (
            f"{value!r} holds a lone surrogate (U+{ord(surrogates[0]):04X}): not text; a name in another "
            "encoding than UTF-8?"
        )
    if bidi := [c for c in value if c in BIDI_CONTROLS]:
        return (
            f"{value!r} contains a bidirectional control character (U+{ord(bidi[0]):04X}), "
            "which would reorder the sentence around it"
        )
    if value and not any(unicodedata.category(c) not in INVISIBLE_CATEGORIES for c in value):
        return f"{value!r} has no visible character (only spaces or zero-width characters)"
    return None


@functools.lru_cache(maxsize=4096)
def _blank(label: str) -> bool:
    """Whether a label is nothing once normalised (`normalize_label`)."""
    return not normalize_label(label)


def _check_box(bbox, where: str, spatial: bool) -> None:
    """[x1, y1, x2, y2] of finite numbers, left/top before right/bottom; where places and sizes are
    stated, also normalised (0..1, as `desclm extract` writes them)."""
    plain = type(bbox) is list and len(bbox) == 4 and all(type(v) is float or type(v) is int for v in bbox)
    shaped = plain or (isinstance(bbox, list) and len(bbox) == 4)  # (plain: JSON's numbers, no ABC check)
    if not shaped or not plain and any(isinstance(v, bool) or not isinstance(v, Real) for v in bbox):
        raise RecordError(f"{where} must be [x1, y1, x2, y2] of numbers, got {bbox!r}")
    if not all(math.isfinite(v) for v in bbox):
        raise RecordError(f"{where} must hold finite numbers, got {bbox!r}")
    if bbox[0] > bbox[2] or bbox[1] > bbox[3]:
        raise RecordError(f"{where} {bbox!r} has a corner after its opposite: the order is [left, top, right, bottom]")
    if not spatial:
        return
    if not all(-BOX_TOLERANCE <= v <= 1 + BOX_TOLERANCE for v in bbox):
        raise RecordError(
            f"{where} {bbox!r} is not normalised to 0..1 (pixel coordinates? divide x by the photo's width "
            "and y by its height)"
        )


BOX_TOLERANCE = 1e-6  # rounding in a normalised box


def validate_record(record, name: str = "record", policy: Policy | None = None) -> None:
    """Checks the fields the grammar reads; raises RecordError naming `name` and the field.

    Boxes are checked as the policy reads them: with `policy.spatial`, they must be normalised.
    """
    spatial = bool(policy and policy.spatial)
    if not isinstance(record, dict):
        raise RecordError(f"{name}: expected a JSON object, got {type(record).__name__}")
    detections = record.get("detections")
    if not isinstance(detections, list):
        raise RecordError(
            f"{name}: 'detections' must be a list" + ("" if "detections" in record else " (field missing)")
        )
    for index, detection in enumerate(detections):
        where = f"{name}: detections[{index}]"
        if not isinstance(detection, dict):
            raise RecordError(f"{where} must be an object with 'label' and 'confidence'")
        label = detection.get("label")
        if not isinstance(label, str) or _blank(label):
            raise RecordError(f"{where}.label must be a non-empty string, got {label!r}")
        _check_name(label, f"{where}.label")
        _confidence(detection.get("confidence"), f"{where}.confidence")
        if detection.get("bbox") is not None:
            _check_box(detection["bbox"], f"{where}.bbox", spatial)
    scene = record.get("scene")
    if scene is not None:
        if not isinstance(scene, dict) or not isinstance(scene.get("class", "unknown"), str | None):
            raise RecordError(f"{name}: 'scene' must be an object with 'class' and 'confidence', got {scene!r}")
        if isinstance(scene.get("class"), str):
            _check_name(scene["class"], f"{name}: scene.class")
        if fold_label(scene.get("class") or "") not in UNKNOWN_SCENES:  # "Unknown", "none", "": no scene
            _confidence(scene.get("confidence"), f"{name}: scene.confidence")


def scene_of(record: dict, policy: Policy) -> str | None:
    """The scene a description mentions, normalised, or None."""
    scene = record.get("scene") or {}
    name = canonical_scene(scene.get("class") or "")
    if fold_label(name) in UNKNOWN_SCENES or float(scene.get("confidence") or 0.0) < policy.scene_min_confidence:
        return None
    return name


def facts(record: dict, policy: Policy = Policy()) -> Facts:
    """The facts a faithful description of `record` states (the record must be valid)."""
    kept = [d for d in record["detections"] if d["confidence"] >= policy.min_confidence]
    labels = [canonical_label(d["label"]) for d in kept]
    places, sizes = {}, {}
    if policy.spatial:
        sized = not any(label.split(" ")[0] in SIZES for label in labels)  # "a small bag": size or label?
        for label in dict.fromkeys(labels):
            boxes = [d.get("bbox") for d, name in zip(kept, labels) if name == label]
            if place := place_of(boxes):
                places[label] = place
            if sized and (size := size_of(boxes)):
                sizes[label] = size
    return Facts(dict(Counter(labels)), scene_of(record, policy), places, sizes)


def description_order(counts: dict[str, int]) -> list[str]:
    """Categories in the order a description names them: most frequent first, ties in the order
    the detections first name them.

    Not alphabetical on purpose: with alphabetical ties a small model learns to list the known
    categories alphabetically and ignores the order of its input (measured: for "2 organic;
    1 metal; 1 plastic" it wrote "Two pieces of metal scrap, 1 organic item and 1 plastic object").
    `counts` keeps first-appearance order (a Counter of the detections does); the model input
    lists categories in this same order.
    """
    return sorted(counts, key=lambda label: -counts[label])  # stable: ties keep first appearance


def numeral_system(counts, style: Style) -> str:
    """ "words" or "digits" for a sentence stating `counts` (one system per sentence)."""
    return "words" if style.numerals == "words" and max(counts, default=0) <= WORDS_UP_TO else "digits"


def _count_text(n: int, system: str, phrase: str, rng: random.Random) -> str:
    if system == "digits":
        return str(n)
    if n == 1 and rng.random() < 0.5:
        return article(phrase)
    return number_words(n)


def noun_phrase(
    label: str, n: int, rng: random.Random, system: str, style: Style = Style(), size: str | None = None
) -> tuple[str, bool]:
    """One counted item, e.g. ("3 pieces of glass", True), with its size when given ("3 large
    pieces of glass"); the flag says "grammatically plural"."""
    count_phrases, mass_phrases, _ = STYLE_PHRASES[style.name]
    if label in CLASSES and rng.random() < 0.6:
        phrase = rng.choice(count_phrases[label])
        noun = phrase if n == 1 else plural(phrase)
    elif label in CLASSES:
        counter, mass = rng.choice(mass_phrases[label])
        phrase = f"{counter} of {mass}"
        noun = phrase if n == 1 else f"{plural(counter)} of {mass}"
    else:  # any other category: inflect's forms, or a counter for mass and pair nouns (`label_forms`)
        phrase, many = label_forms(label)
        noun = phrase if n == 1 else many
    if size:
        phrase, noun = f"{size} {phrase}", f"{size} {noun}"
    return f"{_count_text(n, system, phrase, rng)} {noun}", n != 1


def _join(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _scene_phrase(scene: str, rng: random.Random, style: Style) -> str:
    phrases = STYLE_PHRASES[style.name][2]
    return rng.choice(phrases.get(scene) or [generic_scene_phrase(scene)])


def _capitalize(text: str) -> str:
    return text[:1].upper() + text[1:]


def describe(record: dict, rng: random.Random, policy: Policy = Policy(), style: Style = Style()) -> str:
    """One description of a valid CV output record in `style`, drawn with `rng`."""
    fact = facts(record, policy)
    scene = _scene_phrase(fact.scene, rng, style) if fact.scene else ""
    if not fact.counts:
        frames = EMPTY_FRAMES + (EMPTY_SCENE_FRAMES if scene else ())
        return render(rng.choice(frames), [], scene)

    system = numeral_system(fact.counts.values(), style)
    # A sentence never starts with a digit: the frames that open with the list need number words.
    frames = FRAMES + (SCENE_FRAMES if scene else ())
    frame = rng.choice([f for f in frames if system == "words" or not f.startswith("{List}")])
    # The model input lists categories in this order, so the model copies them in turn.
    labels = description_order(fact.counts)
    items = [noun_phrase(label, fact.counts[label], rng, system, style, fact.sizes.get(label)) for label in labels]
    items = [  # where each category is, when the policy asks and its boxes say (helpers.text.spatial)
        (f"{text} {PLACE_PHRASES[fact.places[label]]}" if label in fact.places else text, many)
        for label, (text, many) in zip(labels, items, strict=True)
    ]
    return render(frame, items, scene)


def render(frame: str, items: list[tuple[str, bool]], scene: str) -> str:
    """A sentence frame filled in: `items` (each noun phrase, and whether it is plural) listed, the
    verbs agreeing with them, `scene` its phrase ("" for none)."""
    listed = _join([text for text, _ in items]) if items else ""
    first_plural = bool(items) and items[0][1]
    subject_plural = len(items) > 1 or first_plural
    return frame.format(
        list=listed,
        List=_capitalize(listed),
        tail=f" {scene}" if scene else "",
        scene=scene,
        Scene=_capitalize(scene),
        first_be="are" if first_plural else "is",
        subject_be="are" if subject_plural else "is",
        lie="lie" if subject_plural else "lies",
    )


# The last resort (`enumeration`): one part per fact, split by "; ", which no label or scene holds
# (`RESERVED`). A count part starts with its digits, so no label can pass for another kind of part.
ENUMERATION_OPENING = "Detected by label: "


def enumeration(fact: Facts) -> str:
    """The facts as a list no label can make ambiguous: the describer's last resort.

    "Detected by label: 2 × tires; 1 × of; scene: grass." Labels and the scene are written as
    they are (canonical, never inflected), so `helpers.text.facts.extract` reads back exactly
    `fact` for any label; places and sizes (spatial policy) get parts of their own.
    """
    parts = [f"{fact.counts[label]} × {label}" for label in description_order(fact.counts)] or ["nothing"]
    parts += [f"place ({fact.places[label]}): {label}" for label in fact.places]
    parts += [f"size ({fact.sizes[label]}): {label}" for label in fact.sizes]
    if fact.scene:
        parts.append(f"scene: {fact.scene}")
    return ENUMERATION_OPENING + "; ".join(parts) + "."


def describe_variations(
    record: dict, count: int, rng: random.Random, policy: Policy = Policy(), style: Style = Style(), attempts: int = 20
) -> list[str]:
    """Up to `count` distinct descriptions in `style` (fewer only when the grammar allows fewer)."""
    found: list[str] = []
    for _ in range(count * attempts):
        text = describe(record, rng, policy, style)
        if text not in found:
            found.append(text)
            if len(found) == count:
                break
    return found
