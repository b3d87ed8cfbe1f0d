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
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from functools import lru_cache

from helpers.text.grammar import ENUMERATION_OPENING, Facts
from helpers.text.lexicon import (
    COUNTERS,
    MASS_NOUNS,
    NUMBER_WORDS,
    PREPOSITIONS,
    SCENE_KEYWORDS,
    STOP_WORDS,
    LexEntry,
    article,
    canonical_label,
    canonical_scene,
    count_noun_entries,
    counter_entries,
    fold_label,
    label_entries,
    litter_lexicon,
    plural,
    singular,
)
from helpers.text.spatial import PHRASE_PLACES, PLACE_PHRASES, SIZES

DELIMITERS = frozenset(",.;:!?")
PLURAL_COUNTERS = {plural(c): c for c in COUNTERS}
# Words in any script (letters and digits, joined by ' or -), the sentence delimiters, and every other
# symbol as a word of its own: a label such as "бутылка", "瓶子", "#" or "🍾" is read like "bottle".
_TOKEN = re.compile(r"[^\W_]+(?:['\-][^\W_]+)*|[,.;:!?]|[^\w\s]")
_NO_LITTER = re.compile(
    r"\b(?:no|zero|free of|without)(?: visible)? (?:litter|garbage|waste|trash|rubbish|debris|items?|objects?)\b"
    r"|\bnothing\b|\bclean\b|\b(?:litter|trash|garbage|rubbish)[- ]free\b"
)
# Counts in general: a count before one of these states how many things there are in all ("five items:
# 4 organic, 1 paper"), not a category, unless the input has a category of that name.
TOTAL_NOUNS = frozenset("item object thing piece bit litter trash garbage rubbish waste debris".split()) | {
    f"{word} item" for word in "litter trash garbage rubbish waste".split()
}
# Heads of noun phrases that are the photo or the place, not things in it ("a photo of a grassy field").
SCENERY = frozenset(
    "photo photograph image picture shot view close-up closeup scene setting site spot area field patch meadow "
    "ground terrain land surface soil dirt mud lawn park path trail road street beach shore coast dune dunes "
    "sand grass rock rocks stone stones pebbles gravel marsh wetland wetlands swamp bog water pond river stream "
    "day morning afternoon evening background foreground corner edge middle centre center side top bottom left "
    "right tree trees bush bushes plant plants leaf leaves weeds sky shadow sunlight".split()
)
# Quantities that are not counts: "several bottles" says there are some, not how many.
VAGUE_WORDS = frozenset("several some many multiple numerous various countless dozens hundreds lots plenty".split())
VAGUE_PHRASES = (
    ("a", "few"),
    ("a", "couple", "of"),
    ("a", "lot", "of"),
    ("a", "number", "of"),
    ("a", "handful", "of"),
    ("a", "bunch", "of"),
)
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
    """Lower case in canonical (NFC) form: words are matched in it, labels' case is checked apart."""
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
    totals: tuple[Item, ...] = ()  # counts of things in all ("five items"), not of a category
    vague: tuple[Item, ...] = ()  # categories named with a quantity that is no count ("several bottles")

    def facts(self) -> Facts:
        places = {item.label: item.place for item in self.items if item.place and item.count > 0}
        sizes = {item.label: item.size for item in self.items if item.size and item.count > 0}
        return Facts(self.counts, self.scene, places, sizes)


Candidate = tuple[tuple[str, ...], LexEntry, tuple[str, ...] | None]


def _index(entries: dict[str, LexEntry]) -> dict[str, list[Candidate]]:
    """First word (lower case) -> [(tokens, entry, None)], longest first, for longest-match lookup:
    the phrase lists' words, matched in any case."""
    index: dict[str, list[Candidate]] = {}
    for surface, entry in entries.items():
        tokens = tuple(_TOKEN.findall(_fold(surface)))
        index.setdefault(tokens[0], []).append((tokens, entry, None))
    for candidates in index.values():
        candidates.sort(key=lambda c: -len(c[0]))
    return index


def _with_exact(index: dict[str, list[Candidate]], exact: dict[str, Candidate]) -> dict[str, list[Candidate]]:
    """`index` with `exact` candidates (the forms of the input's own labels, `_label_candidates`)
    added, each matched only as written, so that "E-Waste" or "e waste" is not read as the label
    "e-waste"; an exact form replaces a list's phrase of the same words, and an earlier exact form that
    cannot be checked as written (`None`) of the same words. `index` is left as it is: only the lists of
    the first words the labels add to are copied (the lists' index is shared by every vocabulary, and a
    dataset's records hold many different sets of labels)."""
    if not exact:
        return index
    added: dict[str, list[Candidate]] = {}
    for candidate in exact.values():
        added.setdefault(candidate[0][0], []).append(candidate)
    merged = dict(index)
    for first, candidates in added.items():
        kept, later = [], set()
        for candidate in reversed(candidates):
            if candidate[2] or candidate[0] not in later:
                kept.append(candidate)
            later.add(candidate[0])
        words = {candidate[0] for candidate in candidates}
        listed = [c for c in index.get(first, ()) if c[0] not in words]  # the input's label wins over a list's phrase
        # stable: as if the labels' forms had been listed last
        merged[first] = sorted(listed + kept[::-1], key=lambda c: -len(c[0]))
    return merged


@lru_cache(maxsize=65536)
def _label_candidates(label: str) -> dict[str, Candidate]:
    """A category's forms (`label_entries`) as index candidates, by the form: each with its words as
    written, for `_written_as` (None in a script whose lower case has another length)."""
    candidates = {}
    for surface, entry in label_entries(label).items():
        tokens = tuple(_TOKEN.findall(_fold(surface)))
        written = tuple(_TOKEN.findall(unicodedata.normalize("NFC", surface)))
        candidates[surface] = (tokens, entry, written if len(written) == len(tokens) else None)
    return candidates


def _written_as(raw: list[str] | None, start: int, exact: tuple[str, ...] | None) -> bool:
    """Whether the words at `start` are written as `exact` (case included); the first letter of a
    sentence may be a capital ("E-waste lies ..." for "e-waste"). Without `raw` (a script whose lower
    case changes the text's length) case is not checked."""
    if exact is None or raw is None:
        return True
    written = tuple(raw[start : start + len(exact)])
    if written == exact:
        return True
    opens = start == 0 or raw[start - 1] in (".", "!", "?")
    return opens and written[1:] == exact[1:] and written[0] == exact[0][:1].upper() + exact[0][1:]


_LITTER_INDEX = _index(litter_lexicon())


def _vocabulary_index(labels: frozenset[str], lexicon: Mapping[str, str] | None = None) -> dict:
    """The litter lexicon, a user's lexicon (surface -> label) and the expected (canonical) labels
    (singular, plural, counter forms); the labels win over the lexicons, the user's over the built-in one."""
    lexicon_items = frozenset((fold_label(k), canonical_label(v)) for k, v in (lexicon or {}).items())
    return _index_with(frozenset(label for label in labels if label not in litter_lexicon()), lexicon_items)


@lru_cache(maxsize=4096)
def _index_with(extra_labels: frozenset[str], lexicon_items: frozenset[tuple[str, str]] = frozenset()) -> dict:
    # Cached: the guard reads several sentences per input, and inputs repeat their label sets.
    exact: dict[str, Candidate] = {}
    for label in sorted(extra_labels):
        exact.update(_label_candidates(label))
    return _with_exact(_lexicon_index(lexicon_items), exact)


@lru_cache(maxsize=64)
def _lexicon_index(lexicon_items: frozenset[tuple[str, str]]) -> dict:
    """The litter lexicon's index with a user's lexicon added (its words win over the built-in ones)."""
    if not lexicon_items:
        return _LITTER_INDEX
    entries = dict(litter_lexicon())
    for surface, label in sorted(lexicon_items):
        if surface.rsplit(" ", 1)[-1] in MASS_NOUNS:
            entries[surface] = LexEntry(label, None, mass=True)
            entries.update(counter_entries(surface, label))
        else:
            entries.update(count_noun_entries(surface, label))
    return _index(entries)


# Words of captions written elsewhere that end a noun phrase as the frames' own verbs do ("five plastic
# bottles float in the marsh").
DISTRIBUTIVES = frozenset({"each", "apiece"})  # "one each": a count of every category already named
CAPTION_STOPS = frozenset(
    "float floats floating littering washed wash lay laying rest rests resting stuck caught left found "
    "half partly partially buried hidden dumped thrown strewn piled stand stands standing have has had that "
    "which all each here nearby poking sticking lies lying lie sit sits sitting were was is are be".split()
)


def _is_boundary(tokens: list[str], position: int) -> bool:
    return (
        position >= len(tokens)
        or tokens[position] in DELIMITERS
        or tokens[position] in STOP_WORDS
        or tokens[position] in CAPTION_STOPS
        or (tokens[position] == "litter" and tokens[position + 1 : position + 2] in (["the"], ["this"], ["a"]))
    )


def _read_count(tokens: list[str], i: int) -> tuple[int, str, int] | None:
    """(count, its text, index after it) when a count starts at token i."""
    token = tokens[i]
    if token.isdigit():
        return int(token), token, i + 1
    if token not in NUMBER_WORDS:
        return None
    if token in ("a", "an", "one"):  # "in a grassy area" is a place, not a count: see SCENERY
        # "a single bottle"; but in "one single and ..." the label is "single"
        noun_next = i + 2 < len(tokens) and (tokens[i + 2] == "can" or not _is_boundary(tokens, i + 2))
        if i + 1 < len(tokens) and tokens[i + 1] == "single" and noun_next:
            return 1, f"{token} single", i + 2
    return NUMBER_WORDS[token], token, i + 1


def _known_phrase(
    tokens: list[str], start: int, index: dict, raw: list[str] | None
) -> tuple[int, str, LexEntry] | None:
    """(end, phrase, entry) of the longest indexed phrase (expected label or lexicon entry) at `start`;
    `raw` are the tokens as written (see `_written_as`)."""
    for surface, entry, exact in index.get(tokens[start], []):
        end = start + len(surface)
        if tuple(tokens[start:end]) == surface and _is_boundary(tokens, end) and _written_as(raw, start, exact):
            return end, " ".join(surface), entry
    return None


def _whole_word(tokens: list[str], position: int, index: dict, raw: list[str] | None) -> LexEntry | None:
    """The entry of a one-word known phrase at `position` ("glass", "plastic", a one-word label)."""
    word = tokens[position]
    return next(
        (e for surface, e, exact in index.get(word, []) if surface == (word,) and _written_as(raw, position, exact)),
        None,
    )


def _read_phrase(
    tokens: list[str], start: int, count: int, index: dict, raw: list[str] | None
) -> tuple[int, str, LexEntry, bool] | None:
    """(end, phrase, entry, whether the phrase is a known one) of the noun phrase starting at `start`.
    A phrase no list knows is read as written (`raw`): its label keeps the text's case."""
    if start >= len(tokens) or tokens[start] in PREPOSITIONS:
        return None
    if known := _known_phrase(tokens, start, index, raw):
        return (*known, True)
    if tokens[start] in DISTRIBUTIVES and _is_boundary(tokens, start + 1):
        return None  # "a bottle and a can, one each": a count per category named, no new thing
    material = _whole_word(tokens, start, index, raw)
    if material and (noun := _known_phrase(tokens, start + 1, index, raw)):
        # a material before a noun: "paper cup", "plastic straw"; the material names the category, unless
        # the noun is another category's own phrase ("plastic glass items" stays unread)
        end, surface, entry = noun
        if entry.label == material.label or not any(_whole_word(tokens, k, index, raw) for k in range(start + 1, end)):
            return end, f"{tokens[start]} {surface}", LexEntry(material.label, entry.plural), True
    for skipped in (1, 2):  # modifiers before a known noun: "an empty plastic bottle", "a crumpled piece of paper"
        words = tokens[start : start + skipped]
        if len(words) < skipped or any(_is_boundary(tokens, start + k) or not w.isalpha() for k, w in enumerate(words)):
            break
        if any(
            w in NUMBER_WORDS or w in COUNTERS or w in PLURAL_COUNTERS or _whole_word(tokens, start + k, index, raw)
            for k, w in enumerate(words)
        ):
            break  # a label's own word is never a modifier: "two glass plastic items" stays unread
        if _is_boundary(tokens, start + skipped):  # "a tire can be seen": "can" is the verb there
            break
        if known := _known_phrase(tokens, start + skipped, index, raw):
            end, surface, entry = known
            return end, " ".join([*words, surface]), entry, True
    if tokens[start] in DELIMITERS:  # after the lookup: an expected label may start with one ("?", ".x")
        return None
    end = start + 1
    while not _is_boundary(tokens, end):
        end += 1
    words = tokens[start:end]
    phrase = " ".join(words)
    written = " ".join((raw or tokens)[start:end])
    if len(words) >= 3 and words[1] == "of" and (words[0] in COUNTERS or words[0] in PLURAL_COUNTERS):
        rest = " ".join((raw or tokens)[start + 2 : end])  # "pieces of X": X is the label, verbatim
        entry = litter_lexicon().get(fold_label(rest))
        return end, phrase, LexEntry(entry.label if entry else rest, words[0] in PLURAL_COUNTERS), False
    label = written if count == 1 else singular(written)
    return end, phrase, LexEntry(canonical_label(label), label != written if count != 1 else None), False


_PLACES = sorted(
    ((tuple(_TOKEN.findall(phrase)), key) for phrase, key in PHRASE_PLACES.items()), key=lambda p: -len(p[0])
)


def _read_size(tokens: list[str], start: int, index: dict, raw: list[str] | None) -> tuple[str | None, int]:
    """A size word at `start` ("large"), unless an expected label starts there, and the index after it."""
    if start + 1 >= len(tokens) or tokens[start] not in SIZES:
        return None, start
    return (None, start) if _known_phrase(tokens, start, index, raw) else (tokens[start], start + 1)


def _read_place(tokens: list[str], start: int) -> tuple[str | None, int]:
    """The place key of a place phrase at `start` ("close together in the top left"), and the index after it."""
    for words, key in _PLACES:
        if tuple(tokens[start : start + len(words)]) == words:
            return key, start + len(words)
    return None, start


def _generic_scene(folded: str, written: str) -> tuple[str | None, tuple[int, int]]:
    """A scene named by a generic phrase ("at a 12 lane site"), as `written` (the text, when its lower
    case `folded` has the same length), and the character span of its name, where no count may start
    (the "12" there is part of the name)."""
    match = _GENERIC_SCENES[0].search(folded) or _GENERIC_SCENES[1].search(folded)
    if not match:
        return None, (0, 0)
    group = "setting" if match.group("setting") else "site"
    start, end = match.span(group)
    return canonical_scene(written[start:end]), (start, end)


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


def _read_one_each(tokens: list[str], i: int, index: dict, raw: list[str] | None) -> tuple[list[tuple], int] | None:
    """A distributive count starting at token i, "one each: plastic, glass and metal" (or "one of each"):
    ((start, end, phrase, entry) of each category listed, index after the list), or None. A phrase is
    read as after any count ("tire", a label no list knows, is a category too); the list ends at the
    first word that starts none, or at the place ("the grass")."""
    if tokens[i] not in ("one", "1"):
        return None
    opener = ["each"] if tokens[i + 1 : i + 2] == ["each"] else ["of", "each"]
    start = i + 1 + len(opener)
    if tokens[i + 1 : start] != opener:
        return None
    start += tokens[start : start + 1] == [":"]
    listed, position = [], start
    while (
        position < len(tokens)
        and (phrase := _read_phrase(tokens, position, 1, index, raw))
        and (phrase[3] or _head(phrase[1]) not in SCENERY)
    ):
        end, surface, entry, _ = phrase
        listed.append((position, end, surface, entry))
        position = end + (tokens[end : end + 1] == [","])
        position += tokens[position : position + 1] == ["and"]
        if position == end:  # no "," or "and": the list ends
            break
    return (listed, listed[-1][1]) if listed else None


def _read_vague(tokens: list[str], i: int) -> tuple[str, int] | None:
    """(its text, index after) when a quantity that is no count starts at token i ("several", "a few")."""
    for words in VAGUE_PHRASES:
        if tuple(tokens[i : i + len(words)]) == words:
            return " ".join(words), i + len(words)
    if tokens[i] in VAGUE_WORDS:
        after = i + 2 if i + 1 < len(tokens) and tokens[i + 1] == "of" else i + 1
        return " ".join(tokens[i:after]), after
    return None


def _read_postfix(
    tokens: list[str], i: int, index: dict, raw: list[str] | None
) -> tuple[int, str, str, LexEntry, int] | None:
    """(count, its text, phrase, entry, index after) for a known phrase with its count after it, as
    lists write them: "plastic 2", "plastic x2", "plastic × 2", "plastic (2)"."""
    for surface, entry, exact in index.get(tokens[i], []):
        end = i + len(surface)
        if tuple(tokens[i:end]) != surface or end >= len(tokens) or not _written_as(raw, i, exact):
            continue
        after = tokens[end : end + 3]
        if after[0].isdigit():
            return int(after[0]), after[0], " ".join(surface), entry, end + 1
        if re.fullmatch(r"x[0-9]+", after[0]):
            return int(after[0][1:]), after[0], " ".join(surface), entry, end + 1
        if len(after) >= 2 and after[0] in ("×", "x") and after[1].isdigit():
            return int(after[1]), after[1], " ".join(surface), entry, end + 2
        if len(after) == 3 and after[0] == "(" and after[1].isdigit() and after[2] == ")":
            return int(after[1]), after[1], " ".join(surface), entry, end + 3
    return None


def _head(phrase: str) -> str:
    """The word a free noun phrase is about: "photo" in "photo of a field", "field" in "grassy field"."""
    words = phrase.split(" ")
    return words[0] if len(words) > 2 and words[1] == "of" else words[-1]


def extract(text: str, vocabulary: Iterable[str] = (), lexicon: Mapping[str, str] | None = None) -> Extraction:
    """Reads counts per category and the scene from a description (see `_extract`).

    The guard reads each sentence it accepts five times (its facts, agreement, numerals, frame and
    provenance): the last readings are kept (`_recent_reading`; a user's lexicon is not), each
    caller getting its own `counts`.
    """
    if lexicon is not None:
        return _extract(text, vocabulary, lexicon)
    reading = _recent_reading(text, tuple(vocabulary))
    return replace(reading, counts=dict(reading.counts))


@lru_cache(maxsize=1024)
def _recent_reading(text: str, vocabulary: tuple[str, ...]) -> Extraction:
    return _extract(text, vocabulary)


def _extract(text: str, vocabulary: Iterable[str] = (), lexicon: Mapping[str, str] | None = None) -> Extraction:
    """Reads counts per category and the scene from a description.

    Args:
        text: The description: the grammar's, a model's, or one written elsewhere (counts in digits or
            words, "a"/"exactly one"/"a single", lists such as "Litter: 4 organic, 1 paper.", totals such
            as "five items: ...", counts after the name "plastic 2", vague quantities "several").
        vocabulary: Labels expected in it (e.g. the input's), so that multi-word or irregular
            names are matched whole; the extractor works without them.
        lexicon: A user's words for labels ("bottle" -> "plastic"), read like the built-in ones.

    Returns:
        The counted items, their totals per canonical label, the scene (or None), counts of all
        things ("totals") and vague mentions, and where each is written: character spans into
        `text` (into its lower-case form in the rare script whose lower case has another length).
    """
    if enumerated := read_enumeration(text):  # the describer's last resort: parts, not English
        return enumerated
    written = unicodedata.normalize("NFC", text)
    folded = written.lower()
    spans = [m.span() for m in _TOKEN.finditer(folded)]
    tokens = [folded[a:b] for a, b in spans]
    same_length = len(written) == len(folded)  # else (a rare script) case is not checked: see `_written_as`
    raw = [written[a:b] for a, b in spans] if same_length else None
    expected_labels = frozenset(map(canonical_label, vocabulary))
    index = _vocabulary_index(expected_labels, lexicon) if expected_labels or lexicon else _LITTER_INDEX
    items: list[Item] = []
    totals: list[Item] = []
    vague: list[Item] = []
    named_scene, named_span = _generic_scene(folded, written if same_length else folded)
    scene_tokens = {i for i, (a, b) in enumerate(spans) if named_span[0] <= a and b <= named_span[1]}
    covered: set[int] = set(scene_tokens)
    i = 0
    while i < len(tokens):
        if i in scene_tokens:
            i += 1
            continue
        if each := _read_one_each(tokens, i, index, raw):  # "one each: plastic, glass and metal"
            listed, end = each
            count_text = folded[spans[i][0] : spans[listed[0][0] - 1][1]]
            for start, stop, surface, entry in listed:
                span = (spans[start][0], spans[stop - 1][1])
                items.append(Item(1, count_text, surface, entry.label, entry.plural, entry.mass, i, span))
            covered.update(range(i, end))
            i = end
            continue
        quantity = _read_vague(tokens, i)
        count = None if quantity else _read_count(tokens, i)
        if not (quantity or count):
            if postfix := _read_postfix(tokens, i, index, raw):
                number, number_text, surface, entry, end = postfix
                items.append(
                    Item(number, number_text, surface, entry.label, None, False, i, (spans[i][0], spans[end - 1][1]))
                )
                covered.update(range(i, end))
                i = end
            else:
                i += 1
            continue
        size, start = _read_size(tokens, count[2] if count else quantity[1], index, raw)
        phrase = _read_phrase(tokens, start, count[0] if count else 2, index, raw)
        if not phrase:
            i += 1
            continue
        end, surface, entry, known = phrase
        if not known and _head(surface) in SCENERY:  # "a photo of ...", "a grassy field": the place, no item
            i = end
            continue
        place, end = _read_place(tokens, end)
        span = (spans[i][0], spans[end - 1][1])
        if quantity:
            vague.append(Item(0, quantity[0], surface, entry.label, entry.plural, entry.mass, i, span, place, size))
        else:
            item = Item(count[0], count[1], surface, entry.label, entry.plural, entry.mass, i, span, place, size)
            is_total = entry.label in TOTAL_NOUNS and entry.label not in expected_labels
            (totals if is_total else items).append(item)
        covered.update(range(i, end))
        i = end
    counts = sum((Counter({item.label: item.count}) for item in items if item.count > 0), Counter())
    keyword = None if named_scene else _scene(tokens, covered)
    scene = named_scene or (keyword[0] if keyword else None)
    scene_span = named_span if named_scene else (spans[keyword[1]] if keyword else None)
    return Extraction(
        dict(counts),
        scene,
        tuple(items),
        bool(_NO_LITTER.search(folded)),
        scene_span,
        tuple(totals),
        tuple(vague),
    )


COUNT_WORDS = frozenset({*NUMBER_WORDS, "no", "none"})  # "two none pieces of metal"
_DOUBLED_COUNTER = re.compile(
    rf"\b(?:{'|'.join([*COUNTERS, *PLURAL_COUNTERS])}) of (?:{'|'.join([*COUNTERS, *PLURAL_COUNTERS])}) of\b"
)


def agreement_errors(text: str, vocabulary: Iterable[str] = ()) -> list[str]:
    """Grammar slips a reader notices: "There are 1 …", "1 plastic items", "3 organic matter", "an
    glass object", "a bottle, An organic object", "one piece of pieces of glass" (the last three
    written by make demo's describer in later beams), "two none pieces of metal"."""
    vocabulary = list(vocabulary)
    extraction = extract(text, vocabulary)
    tokens = _TOKEN.findall(_fold(text))
    label_words = {word for name in vocabulary for word in _TOKEN.findall(_fold(name))}  # "7up can", "two-stroke oil"
    errors = []
    for item in extraction.items:
        said = f"{item.count_text} {item.phrase}"
        if item.mass and item.count > 0:
            errors.append(f"bare number with a mass noun: '{said}'")
        elif item.count == 1 and item.plural:
            errors.append(f"plural noun after one: '{said}'")
        elif item.count > 1 and item.plural is False:
            errors.append(f"singular noun after {item.count}: '{said}'")
        written = text[item.span[0] : item.span[1]]
        if item.count_text in ("a", "an") and " " in written:
            noun = written.split(" ", 1)[1]
            if article(noun) != item.count_text:
                errors.append(f"'{item.count_text}' before '{noun}'")
        count_word_first = item.count_text.isalpha() and written.lower().startswith(item.count_text)
        if count_word_first and written[:1].isupper() and re.search(r"(?:,|\band) $", text[: item.span[0]]):
            errors.append(f"a capital letter inside a list: '{written}'")  # a count word, not a name as given
        if _DOUBLED_COUNTER.search(item.phrase):
            errors.append(f"a counter twice: '{said}'")
        counts_inside = set(_TOKEN.findall(item.phrase)) & COUNT_WORDS - label_words
        if counts_inside:
            errors.append(f"a second count inside '{said}': {sorted(counts_inside)}")
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
