"""The fact extractor: reads an English description back into counts per category and a scene.

It understands everything the grammar writes and the usual paraphrases around it (number
words, "a"/"an", the phrase lists' synonyms, counters such as "3 piles of food waste"), so it
can judge a model's sentences, not only the grammar's. Vague quantities ("some", "several")
are not counts and so are never read as one.

    extract("There are 3 tires and a glass jar on the beach.")
    -> counts {"tire": 3, "glass": 1}, scene "sandy"
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, replace
from functools import lru_cache

from helpers.text.grammar import ENUMERATION_OPENING, Facts
from helpers.text.lexicon import (
    COUNTERS,
    NUMBER_WORDS,
    PREPOSITIONS,
    SCENE_KEYWORDS,
    STOP_WORDS,
    LexEntry,
    canonical_label,
    label_entries,
    litter_lexicon,
    normalize_label,
    plural,
    singular,
)
from helpers.text.spatial import PHRASE_PLACES, PLACE_PHRASES, SIZES

DELIMITERS = frozenset(",.;:!?")
PLURAL_COUNTERS = {plural(c): c for c in COUNTERS}
# Words in any script (letters and digits, joined by ' or -), the sentence delimiters, and every other
# symbol as a word of its own: a label such as "бутылка", "瓶子", "#" or "🍾" is read like "bottle".
_TOKEN = re.compile(r"[^\W_]+(?:['\-][^\W_]+)*|[,.;:!?]|[^\w\s]")
_NO_LITTER = re.compile(r"\b(?:no|zero) (?:litter|garbage|waste|trash|rubbish|debris|items?|objects?)\b|\bnothing\b")
# GENERIC_SCENE_PHRASES as patterns: "in a {scene} setting", "at a {scene} site". A scene name may be
# any run of words (any script, digits, symbols) that no counted item covered, "setting" or "site"
# included ("at an urban setting site"): the name runs to the phrase's last word before a
# delimiter when there is one, else to its first.
_SCENE_NAME = r"\S.*?"
_GENERIC_SCENE_BODY = rf"(?:^|\s)(?:in an? (?P<setting>{_SCENE_NAME}) setting|at an? (?P<site>{_SCENE_NAME}) site)"
_GENERIC_SCENES = (
    re.compile(_GENERIC_SCENE_BODY + r"(?=$|[,.;:!?])"),
    re.compile(_GENERIC_SCENE_BODY + r"(?=$|[\s,.;:!?])"),
)
SCENE_BY_KEYWORD = {word: scene for scene, words in SCENE_KEYWORDS.items() for word in words}


def _fold(text: str) -> str:
    """Lower case in canonical (NFC) form, as `normalize_label` writes labels."""
    return unicodedata.normalize("NFC", text).lower()


@dataclass(frozen=True)
class Item:
    """One counted noun phrase found in a description."""

    count: int
    count_text: str
    phrase: str
    label: str
    plural: bool | None  # grammatical number of the noun; None when the form serves both
    mass: bool  # a bare mass noun right after the number ("3 organic matter")
    start: int  # token index of the count
    span: tuple[int, int] = (0, 0)  # characters of the count, noun and place in the text (see `extract`)
    place: str | None = None  # the place key of a place phrase right after the noun (`helpers.text.spatial`)
    size: str | None = None  # "large" or "small" right before the noun (the same)


@dataclass(frozen=True)
class Extraction:
    """Everything read from one description."""

    counts: dict[str, int]
    scene: str | None
    items: tuple[Item, ...]
    says_no_litter: bool
    scene_span: tuple[int, int] | None = None  # characters of the scene's name or keyword

    def facts(self) -> Facts:
        places = {item.label: item.place for item in self.items if item.place and item.count > 0}
        sizes = {item.label: item.size for item in self.items if item.size and item.count > 0}
        return Facts(self.counts, self.scene, places, sizes)


def _index(entries: dict[str, LexEntry]) -> dict[str, list[tuple[tuple[str, ...], LexEntry]]]:
    """First word -> [(tokens, entry)], longest first, for longest-match lookup."""
    index: dict[str, list[tuple[tuple[str, ...], LexEntry]]] = {}
    for surface, entry in entries.items():
        tokens = tuple(_TOKEN.findall(surface))
        index.setdefault(tokens[0], []).append((tokens, entry))
    for candidates in index.values():
        candidates.sort(key=lambda c: -len(c[0]))
    return index


_LITTER_INDEX = _index(litter_lexicon())


def _vocabulary_index(vocabulary: Iterable[str]) -> dict:
    """The litter lexicon plus expected labels (singular, plural, counter forms), e.g. from the input."""
    lexicon = litter_lexicon()
    return _index_with(frozenset(label for label in map(canonical_label, vocabulary) if label not in lexicon))


@lru_cache(maxsize=4096)
def _index_with(extra_labels: frozenset[str]) -> dict:
    # Cached: the guard reads several sentences per input, and inputs repeat their label sets.
    if not extra_labels:
        return _LITTER_INDEX
    entries = dict(litter_lexicon())
    for label in extra_labels:
        entries.update(label_entries(label))
    return _index(entries)


def _is_boundary(tokens: list[str], position: int) -> bool:
    return position >= len(tokens) or tokens[position] in DELIMITERS or tokens[position] in STOP_WORDS


def _read_count(tokens: list[str], i: int) -> tuple[int, str, int] | None:
    """(count, its text, index after it) when a count starts at token i."""
    token = tokens[i]
    if token.isdigit():
        return int(token), token, i + 1
    if token not in NUMBER_WORDS:
        return None
    if token in ("a", "an"):
        if i > 0 and tokens[i - 1] in PREPOSITIONS:  # "in a grassy area" is no count
            return None
        if i + 1 < len(tokens) and tokens[i + 1] == "single":
            return 1, f"{token} single", i + 2
    return NUMBER_WORDS[token], token, i + 1


def _known_phrase(tokens: list[str], start: int, index: dict) -> tuple[int, str, LexEntry] | None:
    """(end, phrase, entry) of the longest indexed phrase (expected label or lexicon entry) at `start`."""
    for surface, entry in index.get(tokens[start], []):
        end = start + len(surface)
        if tuple(tokens[start:end]) == surface and _is_boundary(tokens, end):
            return end, " ".join(surface), entry
    return None


def _read_phrase(tokens: list[str], start: int, count: int, index: dict) -> tuple[int, str, LexEntry] | None:
    """(end, phrase, entry) of the noun phrase starting at `start`."""
    if start >= len(tokens) or tokens[start] in PREPOSITIONS:
        return None
    if known := _known_phrase(tokens, start, index):
        return known
    if tokens[start] in DELIMITERS:  # after the lookup: an expected label may start with one ("?", ".x")
        return None
    end = start + 1
    while not _is_boundary(tokens, end):
        end += 1
    words = tokens[start:end]
    phrase = " ".join(words)
    if len(words) >= 3 and words[1] == "of" and (words[0] in COUNTERS or words[0] in PLURAL_COUNTERS):
        rest = " ".join(words[2:])  # "pieces of X": X is the label, verbatim
        entry = litter_lexicon().get(rest)
        return end, phrase, LexEntry(entry.label if entry else rest, words[0] in PLURAL_COUNTERS)
    label = phrase if count == 1 else singular(phrase)
    return end, phrase, LexEntry(canonical_label(label), label != phrase if count != 1 else None)


_PLACES = sorted(
    ((tuple(_TOKEN.findall(phrase)), key) for phrase, key in PHRASE_PLACES.items()), key=lambda p: -len(p[0])
)


def _read_size(tokens: list[str], start: int, index: dict) -> tuple[str | None, int]:
    """A size word at `start` ("large"), unless an expected label starts there, and the index after it."""
    if start + 1 >= len(tokens) or tokens[start] not in SIZES:
        return None, start
    return (None, start) if _known_phrase(tokens, start, index) else (tokens[start], start + 1)


def _read_place(tokens: list[str], start: int) -> tuple[str | None, int]:
    """The place key of a place phrase at `start` ("close together in the top left"), and the index after it."""
    for words, key in _PLACES:
        if tuple(tokens[start : start + len(words)]) == words:
            return key, start + len(words)
    return None, start


def _generic_scene(folded: str) -> tuple[str | None, tuple[int, int]]:
    """A scene named by a generic phrase ("at a 12 lane site"), as written, and the character span
    of its name, where no count may start (the "12" there is part of the name)."""
    match = _GENERIC_SCENES[0].search(folded) or _GENERIC_SCENES[1].search(folded)
    if not match:
        return None, (0, 0)
    group = "setting" if match.group("setting") else "site"
    return normalize_label(match.group(group)), match.span(group)


def _scene(tokens: list[str], covered: set[int]) -> tuple[str, int] | None:
    """The scene named by a keyword, and the keyword's token index."""
    for i, token in enumerate(tokens):
        if i not in covered and token in SCENE_BY_KEYWORD:
            return SCENE_BY_KEYWORD[token], i
    return None


_COUNT_PART = re.compile(r"(?P<count>[0-9]+) × (?P<label>.+)")
_SPATIAL_PART = re.compile(r"(?P<kind>place|size) \((?P<key>[^)]*)\): (?P<label>.+)")


def read_enumeration(text: str) -> Extraction | None:
    """The facts of the describer's last-resort sentence (`helpers.text.grammar.enumeration`),
    read part by part; None when `text` is not one, or a part is not of its form."""
    if not (text.startswith(ENUMERATION_OPENING) and text.endswith(".")):
        return None
    position, items, counts = len(ENUMERATION_OPENING), [], {}
    places, sizes, scene, scene_span, nothing = {}, {}, None, None, False
    for part in text[position:-1].split("; "):
        start, position = position, position + len(part) + 2
        if match := _COUNT_PART.fullmatch(part):
            label, count = match.group("label"), int(match.group("count"))
            if label in counts or count < 1:
                return None
            counts[label] = count
            items.append(Item(count, match.group("count"), label, label, None, False, 0, (start, start + len(part))))
        elif (match := _SPATIAL_PART.fullmatch(part)) and match.group("label") in counts:
            key, label = match.group("key"), match.group("label")
            if (match.group("kind") == "place" and key not in PLACE_PHRASES) or (
                match.group("kind") == "size" and key not in SIZES
            ):
                return None
            (places if match.group("kind") == "place" else sizes)[label] = key
        elif part.startswith("scene: ") and scene is None and len(part) > 7:
            scene, scene_span = part[7:], (start + 7, start + len(part))
        elif part == "nothing" and not counts:
            nothing = True
        else:
            return None
    items = [replace(item, place=places.get(item.label), size=sizes.get(item.label)) for item in items]
    return Extraction(counts, scene, tuple(items), nothing, scene_span)


def extract(text: str, vocabulary: Iterable[str] = ()) -> Extraction:
    """Reads counts per category and the scene from a description.

    Args:
        text: The description.
        vocabulary: Labels expected in it (e.g. the input's), so that multi-word or irregular
            names are matched whole; the extractor works without them.

    Returns:
        The counted items, their totals per canonical label, the scene (or None), and where each
        is written: character spans into `text` (into its lower-case form in the rare script whose
        lower case has another length).
    """
    if enumerated := read_enumeration(text):  # the describer's last resort: parts, not English
        return enumerated
    folded = _fold(text)
    spans = [m.span() for m in _TOKEN.finditer(folded)]
    tokens = [folded[a:b] for a, b in spans]
    index = _vocabulary_index(vocabulary) if vocabulary else _LITTER_INDEX
    items: list[Item] = []
    named_scene, named_span = _generic_scene(folded)
    scene_tokens = {i for i, (a, b) in enumerate(spans) if named_span[0] <= a and b <= named_span[1]}
    covered: set[int] = set(scene_tokens)
    i = 0
    while i < len(tokens):
        count = _read_count(tokens, i) if i not in scene_tokens else None
        size, start = _read_size(tokens, count[2], index) if count else (None, 0)
        phrase = _read_phrase(tokens, start, count[0], index) if count else None
        if not phrase:
            i += 1
            continue
        end, surface, entry = phrase
        place, end = _read_place(tokens, end)
        span = (spans[i][0], spans[end - 1][1])
        items.append(Item(count[0], count[1], surface, entry.label, entry.plural, entry.mass, i, span, place, size))
        covered.update(range(i, end))
        i = end
    totals = sum((Counter({item.label: item.count}) for item in items if item.count > 0), Counter())
    keyword = None if named_scene else _scene(tokens, covered)
    scene = named_scene or (keyword[0] if keyword else None)
    scene_span = named_span if named_scene else (spans[keyword[1]] if keyword else None)
    return Extraction(dict(totals), scene, tuple(items), bool(_NO_LITTER.search(folded)), scene_span)


def agreement_errors(text: str, vocabulary: Iterable[str] = ()) -> list[str]:
    """Grammar slips a reader notices: "There are 1 …", "1 plastic items", "3 organic matter"."""
    extraction = extract(text, vocabulary)
    tokens = _TOKEN.findall(_fold(text))
    errors = []
    for item in extraction.items:
        said = f"{item.count_text} {item.phrase}"
        if item.mass and item.count > 0:
            errors.append(f"bare number with a mass noun: '{said}'")
        elif item.count == 1 and item.plural:
            errors.append(f"plural noun after one: '{said}'")
        elif item.count > 1 and item.plural is False:
            errors.append(f"singular noun after {item.count}: '{said}'")
    if extraction.items:
        first = extraction.items[0]
        for i in range(len(tokens) - 1):
            if tokens[i] == "there" and tokens[i + 1] in ("is", "are") and i + 2 == first.start:
                many = first.count != 1 or bool(first.plural)
                if (tokens[i + 1] == "is") == many:
                    errors.append(f"'there {tokens[i + 1]}' before '{first.count_text} {first.phrase}'")
    return errors


SLOT_ERRORS = (
    "missed_category",
    "wrong_count",
    "invented_category",
    "missing_scene",
    "wrong_scene",
    "invented_scene",
    "wrong_place",
    "wrong_size",  # a place or size stated wrongly, left out, or where the boxes give none
)


def slot_errors(expected: Facts, said: Facts) -> dict[str, int]:
    """Faithfulness as slot errors: how a description's facts differ from the input's."""
    errors = dict.fromkeys(SLOT_ERRORS, 0)
    for label, count in expected.counts.items():
        if label not in said.counts:
            errors["missed_category"] += 1
        elif said.counts[label] != count:
            errors["wrong_count"] += 1
    errors["invented_category"] = len(set(said.counts) - set(expected.counts))
    if expected.scene and not said.scene:
        errors["missing_scene"] = 1
    elif expected.scene and said.scene != expected.scene:
        errors["wrong_scene"] = 1
    elif not expected.scene and said.scene:
        errors["invented_scene"] = 1
    for kind, name in (("wrong_place", "places"), ("wrong_size", "sizes")):
        wanted, stated = getattr(expected, name), getattr(said, name)
        errors[kind] = sum(wanted.get(label) != stated.get(label) for label in set(wanted) | set(stated))
    return errors
