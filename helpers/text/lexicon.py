"""The words shared by the description grammar and the fact extractor.

One table drives both directions: the grammar writes only phrases listed here, and the
extractor reads them back (plus common paraphrases), so a description can always be checked.
Plurals and number words come from `inflect`, not from string surgery.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from typing import NamedTuple

import typeguard
import yaml

from helpers.core.paths import require_file


def _unchecked(function=None, **_):
    """`typeguard.typechecked` that leaves the function as it is (used as `@typechecked` or with options)."""
    return function if function is not None else (lambda decorated: decorated)


def _import_inflect():
    """`inflect`, its functions left as written. Its `@typechecked` methods are rewritten by typeguard
    when inflect is imported: 1.7 s of every process that loads the grammar (each command, each guard
    or check worker; jaraco/inflect#212). Its checks only test argument types: this module passes
    non-empty `str` (`_word`)."""
    checked, typeguard.typechecked = typeguard.typechecked, _unchecked
    try:
        import inflect
    finally:
        typeguard.typechecked = checked
    return inflect


inflect = _import_inflect()

CLASSES = ("plastic", "glass", "metal", "paper", "organic")

# Style "varied" (the original's phrase lists): count nouns per class (singular; plurals via inflect).
COUNT_PHRASES: dict[str, tuple[str, ...]] = {
    "plastic": ("plastic item", "piece of plastic", "plastic object"),
    "glass": ("glass item", "glass fragment", "glass object"),
    "metal": ("metal item", "piece of metal", "metal object"),
    "paper": ("paper item", "piece of paper", "paper object"),
    "organic": ("organic item", "food scrap", "organic object"),
}
# Mass nouns never take a bare number: they are counted with a counter ("3 piles of organic waste").
MASS_PHRASES: dict[str, tuple[tuple[str, str], ...]] = {
    "plastic": (("piece", "plastic waste"), ("piece", "plastic debris"), ("bit", "plastic litter")),
    "glass": (("piece", "broken glass"), ("shard", "broken glass"), ("piece", "glass waste")),
    "metal": (("piece", "metal scrap"), ("piece", "metallic debris"), ("piece", "metal waste")),
    "paper": (("piece", "paper waste"), ("piece", "cardboard"), ("scrap", "discarded paper")),
    "organic": (
        ("pile", "organic waste"),
        ("pile", "food waste"),
        ("piece", "organic matter"),
        ("heap", "biodegradable waste"),
    ),
}
# Style "plain" (the default): the label's own word and a neutral noun, nothing a detector did not
# say; "broken glass", "cardboard", "a pile of food waste" or "the beach" would be claims.
PLAIN_COUNT_PHRASES: dict[str, tuple[str, ...]] = {label: (f"{label} item", f"{label} object") for label in CLASSES}
PLAIN_MASS_PHRASES: dict[str, tuple[tuple[str, str], ...]] = {
    "plastic": (("piece", "plastic"),),
    "glass": (("piece", "glass"),),
    "metal": (("piece", "metal"),),
    "paper": (("piece", "paper"),),
    "organic": (("piece", "organic waste"),),
}
# Paraphrases the extractor also understands (the seed's phrase lists and everyday names).
EXTRA_COUNT_SYNONYMS: dict[str, tuple[str, ...]] = {
    "plastic": ("plastic bottle", "plastic bag", "plastic wrapper", "plastic container", "plastic piece"),
    "glass": ("glass bottle", "glass jar", "glass shard", "glass piece"),
    "metal": ("metal can", "aluminum can", "aluminium can", "tin can", "can", "metal piece"),
    "paper": ("paper sheet", "sheet of paper", "cardboard box", "newspaper", "paper piece"),
    "organic": ("banana peel", "apple core", "fruit peel", "organic piece"),
}
EXTRA_MASS_SYNONYMS: dict[str, tuple[str, ...]] = {
    "plastic": ("plastic",),
    "glass": ("glass",),
    "metal": ("metal", "scrap metal"),
    "paper": ("paper", "paper debris"),
    "organic": ("organic", "food", "compost"),
}
COUNTERS = ("piece", "bit", "shard", "pile", "heap", "scrap", "chunk", "fragment", "item", "pair")

PLAIN_SCENE_PHRASES: dict[str, tuple[str, ...]] = {
    "grass": ("on the grass", "in the grass", "in a grassy area"),
    "sandy": ("on sandy ground", "on the sand", "in sandy terrain"),
    "rocky": ("on rocky ground", "on rocky terrain", "among rocks"),
    "marshy": ("in a marshy area", "on marshy ground", "in marshy terrain"),
}
SCENE_PHRASES: dict[str, tuple[str, ...]] = {  # style "varied"
    "grass": ("on the grass", "in a grassy area", "on green grass", "on the lawn", "in the grass"),
    "sandy": ("on sandy ground", "on the beach", "in sandy terrain", "on the sand"),
    "rocky": ("on rocky terrain", "among rocks", "on rocky ground", "between stones"),
    "marshy": ("in a marshy area", "in the wetlands", "in swampy terrain", "near a marsh"),
}
# Any other scene class is written with one of these (both styles, `generic_scene_phrase`); the
# extractor reads the class back verbatim.
GENERIC_SCENE_PHRASES = ("in a {scene} setting", "at a {scene} site")
SCENE_KEYWORDS: dict[str, tuple[str, ...]] = {
    "grass": ("grass", "grassy", "lawn", "meadow", "turf"),
    "sandy": ("sand", "sandy", "beach", "dune", "dunes", "shore"),
    "rocky": ("rock", "rocks", "rocky", "stone", "stones", "stony", "pebbles", "gravel"),
    "marshy": ("marsh", "marshy", "marshland", "wetland", "wetlands", "swamp", "swampy", "bog", "boggy"),
}
# The scene keywords that are adjectives: every scene phrase gives them their noun ("on sandy ground")
SCENE_ADJECTIVES = ("grassy", "sandy", "rocky", "stony", "marshy", "swampy", "boggy")

PREPOSITIONS = frozenset(
    "on in at among between near across around along beside by under inside within with over onto into from of to".split()  # noqa: E501
)
# Words that end a noun phrase: verbs and prepositions of the sentence frames.
STOP_WORDS = (
    PREPOSITIONS
    | frozenset(
        "is are was were be been being can could lie lies lying sit sits sitting visible seen detected spotted "
        "present scattered shown appear appears remain remains there and or plus next also close together".split()
    )
) - {"of"}

_engine = inflect.engine()
NUMBER_WORDS: dict[str, int] = {_engine.number_to_words(n): n for n in range(0, 101)}
NUMBER_WORDS.update({"a": 1, "an": 1, "single": 1})


def normalize_label(label: str) -> str:
    """A label as the descriptions write it: as given (case, hyphens, apostrophes, digits kept) in
    canonical Unicode (NFC), trimmed, with `_` (the separator of class identifiers) and runs of
    whitespace as one space: " E-waste " -> "E-waste"; "cigarette_butt" -> "cigarette butt"."""
    text = unicodedata.normalize("NFC", str(label))
    return re.sub(r"\s+", " ", text.replace("_", " ")).strip()


def fold_label(label: str) -> str:
    """The key a label is looked up by in the phrase lists (never written): lower case, `-` and `_`
    as spaces: "Plastic_Bottle" and "plastic-bottle" -> "plastic bottle"."""
    return re.sub(r"[\s_\-]+", " ", unicodedata.normalize("NFC", str(label))).strip().lower()


def _word(text: str) -> str:
    """`text`, which inflect needs as a non-empty str (what its type checks, off here, refused).

    Raises:
        TypeError: `text` is not a str, or empty.
    """
    if not isinstance(text, str) or not text:
        raise TypeError(f"inflect needs a word (a non-empty str), got {text!r}")
    return text


@lru_cache(maxsize=4096)
def plural(noun: str) -> str:
    """Plural of a (possibly multi-word) count noun: "piece of plastic" -> "pieces of plastic"."""
    return _engine.plural_noun(_word(noun))


@lru_cache(maxsize=4096)
def singular(noun: str) -> str:
    """Singular of a plural noun phrase; a phrase inflect does not see as plural comes back unchanged."""
    result = _engine.singular_noun(_word(noun))
    return result if result else noun


# Categories outside the five classes are written by `label_forms`; these lists are the exceptions to
# inflect's plurals. Mass nouns take "piece(s) of" ("2 pieces of foam"); nouns that exist only in the
# plural take "pair(s) of" ("2 pairs of glasses").
MASS_NOUNS = frozenset(
    "rubbish trash garbage litter debris waste foam styrofoam polystyrene wood timber cloth fabric clothing "
    "furniture equipment packaging rubble sand gravel food cardboard paper glass metal plastic foil tar oil "
    "ash concrete insulation netting scrap".split()
)
PAIR_NOUNS = frozenset(
    "glasses sunglasses spectacles scissors jeans trousers pants shorts pliers tongs binoculars headphones "
    "tweezers goggles overalls pyjamas pajamas leggings tights".split()
)
# English-looking: words of Latin letters and digits joined by spaces, hyphens or apostrophes, the
# last of them all letters ("7up can", "t-shirt", "Wendy's cup", "PET bottle").
_ENGLISH = re.compile(r"(?:[A-Za-z0-9]+(?:['’\-][A-Za-z0-9]+)*[ \-])*[A-Za-z]+(?:['’][A-Za-z]+)?")


@lru_cache(maxsize=4096)
def label_forms(label: str) -> tuple[str, str]:
    """How a category outside the five classes is written once and more than once.

    A label is written as it is given (case, hyphens, apostrophes, digits) and inflected only where
    its plural and singular round-trip exactly: "bus" -> ("bus", "buses"), "knife" -> ("knife",
    "knives"), "fish" -> ("fish", "fish"), "7up can" -> ("7up can", "7up cans"), an acronym "CD" ->
    ("CD", "CDs"). Mass nouns take a counter, "foam" -> ("piece of foam", "pieces of foam"), also as
    the last part of a hyphenated label ("e-waste" -> "pieces of e-waste"); nouns that exist only
    in the plural a pair, "glasses" -> ("pair of glasses", "pairs of glasses"). A label inflection
    would change ("tennis" is no plural of "tenni", "tires" may be a class of its own beside
    "tire"), and a label without letters ("3", whose count would read as one number with it), is
    named whole: "tennis" -> ("item labelled tennis", "items labelled tennis"). A name in another
    script is written as it is ("бутылка" -> ("бутылка", "бутылка")).
    """
    last = re.split(r"[ \-]", label)[-1]
    if last.lower() in PAIR_NOUNS:
        return f"pair of {label}", f"pairs of {label}"
    if last.lower() in MASS_NOUNS:  # "e-waste" -> "pieces of e-waste"
        return f"piece of {label}", f"pieces of {label}"
    if not any(character.isalpha() for character in label):
        return f"item labelled {label}", f"items labelled {label}"
    if not _ENGLISH.fullmatch(label):  # English plurals for English-looking words only: "бутылка" stays
        return label, label
    if len(last) > 1 and last.isupper() and last.isalpha():  # an acronym: "CD" -> "CDs" (inflect says "CDS")
        return label, f"{label}s"
    many = plural(label)
    if singular(many) == label:  # a singular noun: regular, irregular or invariant
        return label, many
    return f"item labelled {label}", f"items labelled {label}"


def generic_scene_phrase(scene: str) -> str:
    """A scene class without phrases of its own: "in an urban setting"; a class that ends in
    "setting" is not doubled: "urban setting" -> "at an urban setting site"."""
    site = scene == "setting" or scene.endswith(" setting")
    return f"at {article(scene)} {scene} site" if site else f"in {article(scene)} {scene} setting"


@lru_cache(maxsize=1024)
def number_words(n: int) -> str:
    """21 -> "twenty-one"."""
    return _engine.number_to_words(n)


def article(phrase: str) -> str:
    """ "a" or "an" for a phrase."""
    return _engine.a(_word(phrase)).split(" ", 1)[0]


class LexEntry(NamedTuple):
    """How the extractor reads a surface form: its label, grammatical number, and whether it is
    a bare mass noun (which must not follow a number directly)."""

    label: str
    plural: bool | None  # None: the same form serves both numbers
    mass: bool = False


def label_entries(label: str) -> dict[str, LexEntry]:
    """The forms `label_forms` writes for a category outside the classes, plus its counter forms."""
    one, many = label_forms(label)
    entries = counter_entries(label, label)
    entries.update(
        {one: LexEntry(label, None)} if one == many else {one: LexEntry(label, False), many: LexEntry(label, True)}
    )
    return entries


def count_noun_entries(phrase: str, label: str) -> dict[str, LexEntry]:
    """Singular and plural forms of a count noun phrase."""
    many = plural(phrase)
    if many == phrase:
        return {phrase: LexEntry(label, None)}
    return {phrase: LexEntry(label, False), many: LexEntry(label, True)}


def counter_entries(mass: str, label: str) -> dict[str, LexEntry]:
    """ "piece of X" / "pieces of X" for every counter."""
    entries = {}
    for counter in COUNTERS:
        entries[f"{counter} of {mass}"] = LexEntry(label, False)
        entries[f"{plural(counter)} of {mass}"] = LexEntry(label, True)
    return entries


@lru_cache(maxsize=1)
def litter_lexicon() -> dict[str, LexEntry]:
    """Surface form (lower case) -> entry, for every phrase of the five classes."""
    lexicon: dict[str, LexEntry] = {}
    for label in CLASSES:
        masses = {label} | {mass for _, mass in MASS_PHRASES[label]} | set(EXTRA_MASS_SYNONYMS[label])
        for mass in masses:
            lexicon[mass] = LexEntry(label, None, mass=True)
            lexicon.update(counter_entries(mass, label))
        for phrase in COUNT_PHRASES[label] + EXTRA_COUNT_SYNONYMS[label]:
            lexicon.update(count_noun_entries(phrase, label))
    return lexicon


@lru_cache(maxsize=65536)  # a dataset's few labels, read once per detection and per caption that names them
def canonical_label(label: str) -> str:
    """A detection label as the descriptions name it: one of the classes when it is a known
    phrase of that class ("Plastic_Bottle" -> "plastic"), else its normalised self."""
    entry = litter_lexicon().get(fold_label(label))
    return entry.label if entry else normalize_label(label)


def canonical_scene(name: str) -> str:
    """A scene class as the descriptions name it: a scene of the phrase lists in their spelling
    ("Grass" -> "grass"), any other as given ("Urban Park")."""
    folded = fold_label(name)
    return folded if folded in SCENE_PHRASES else normalize_label(name)


def load_lexicon(path) -> dict[str, str]:
    """A user's lexicon: a YAML mapping of words to labels ("bottle: plastic"), for reading captions.

    Raises:
        ValueError: Naming the file and the entry, when it is not a mapping of non-empty strings.
    """
    file = require_file(path, "Lexicon (YAML: word: label)", kind="file")
    try:
        content = yaml.safe_load(file.read_text(encoding="utf-8-sig"))
    except yaml.YAMLError as error:
        raise ValueError(f"{file}: not valid YAML ({' '.join(str(error).split())[:200]})") from None
    if not isinstance(content, dict):
        raise ValueError(
            f"{file}: expected a mapping of words to labels (bottle: plastic), got {type(content).__name__}"
        )
    lexicon = {}
    for word, label in content.items():
        if not (isinstance(word, str) and isinstance(label, str) and fold_label(word) and normalize_label(label)):
            raise ValueError(f"{file}: entry {word!r}: {label!r} must map a word to a label, both non-empty text")
        lexicon[fold_label(word)] = label
    return lexicon
