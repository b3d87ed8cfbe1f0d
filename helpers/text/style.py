"""Style checks: does a sentence keep its style's vocabulary and numerals?

The guard rejects a beam that fails these (as it rejects one that states a wrong fact or has an
agreement slip), and notebook 04 counts each kind of failure per writer.

- Off-style words (style "plain" only): words the varied phrase lists, the extractor's
  paraphrases or the scene keywords add beyond the plain style's own words and the sentence
  frames ("broken", "cardboard", "pile", "beach", "lawn"). A word of the input's own labels or
  scene is never off-style: a detector that says "food" may be quoted.
- Numerals: one system per sentence, the one the style asks for (`grammar.numeral_system`), and
  no sentence opening with a digit.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache

from helpers.core.contract import Style
from helpers.text.facts import extract
from helpers.text.grammar import (
    EMPTY_FRAMES,
    EMPTY_SCENE_FRAMES,
    FRAMES,
    SCENE_FRAMES,
    STYLE_PHRASES,
    numeral_system,
)
from helpers.text.lexicon import (
    COUNTERS,
    EXTRA_COUNT_SYNONYMS,
    EXTRA_MASS_SYNONYMS,
    GENERIC_SCENE_PHRASES,
    SCENE_ADJECTIVES,
    SCENE_KEYWORDS,
    fold_label,
    plural,
)
from helpers.text.metrics import words

STYLE_CHECKS = ("off_style_words", "numeral_errors", "form_errors")
# A slot name the model wrote that the input has no name for (`helpers.text.slots`): "slotE".
UNFILLED_SLOT = re.compile(r"\bslot(?:[A-Z]|Scene)\b")
# "... on marshy." (a later beam of make demo's describer, read back as the scene all the same)
SCENE_ADJECTIVE_ENDING = re.compile(rf"\b(?:{'|'.join(SCENE_ADJECTIVES)})\s*\.$", re.IGNORECASE)


def _words_of(phrases: Iterable[str]) -> set[str]:
    found: set[str] = set()
    for phrase in phrases:
        for word in words(re.sub(r"\{\w+\}", " ", phrase)):
            found |= {word, plural(word)}
    return found


def _style_words(name: str) -> set[str]:
    count_phrases, mass_phrases, scene_phrases = STYLE_PHRASES[name]
    return _words_of(
        [p for phrases in count_phrases.values() for p in phrases]
        + [f"{counter} of {mass}" for pairs in mass_phrases.values() for counter, mass in pairs]
        + [p for phrases in scene_phrases.values() for p in phrases]
    )


@lru_cache(maxsize=1)
def off_style_vocabulary() -> dict[str, frozenset[str]]:
    """Per style, the words it must not use (unless the input's labels or scene hold them)."""
    known = (
        _style_words("varied")
        | _style_words("plain")
        | _words_of(p for phrases in EXTRA_COUNT_SYNONYMS.values() for p in phrases)
        | _words_of(p for phrases in EXTRA_MASS_SYNONYMS.values() for p in phrases)
        | _words_of(w for keywords in SCENE_KEYWORDS.values() for w in keywords)
        | _words_of(COUNTERS)
    )
    frames = _words_of(EMPTY_FRAMES + EMPTY_SCENE_FRAMES + FRAMES + SCENE_FRAMES + GENERIC_SCENE_PHRASES)
    frames |= {"lie", "lies", "is", "are", "pair", "pairs"}  # verbs filled into frames; pairs count pair nouns
    return {"plain": frozenset(known - _style_words("plain") - frames), "varied": frozenset()}


def off_style_words(text: str, style: Style, vocabulary: Iterable[str] = (), scene: str | None = None) -> list[str]:
    """Words of `text` its style does not allow (see module docstring), in order of appearance."""
    banned = off_style_vocabulary()[style.name]
    if not banned:
        return []
    allowed = {w for name in [*vocabulary, scene or ""] for w in words(fold_label(name))}
    allowed |= {plural(w) for w in allowed}
    return [w for w in words(text) if w in banned and w not in allowed]


def numeral_errors(text: str, style: Style, vocabulary: Iterable[str] = ()) -> list[str]:
    """Mixed numeral systems, the wrong system for the style, or a sentence opening with a digit."""
    items = [item for item in extract(text, vocabulary).items if item.count > 0]
    errors = []
    if re.match(r"\s*\d", text):
        errors.append("the sentence opens with a digit")
    systems = {"digits" if item.count_text.isdigit() else "words" for item in items}
    wanted = numeral_system([item.count for item in items], style)
    if len(systems) > 1:
        errors.append("digits and number words in one sentence")
    elif systems and systems != {wanted}:
        errors.append(f"{systems.pop()} where style {style.tag!r} writes {wanted}")
    return errors


def _masked(text: str, names: set[str]) -> str:
    """`text` with each of `names` (longest first) as "x"."""
    masked = text.strip()
    for name in sorted(names - {""}, key=len, reverse=True):
        masked = masked.replace(name, "x")
    return masked


def form_errors(text: str, vocabulary: Iterable[str] = (), scene: str | None = None) -> list[str]:
    """One sentence as the grammar writes it: it ends with its only full stop, holds no other
    sentence end or separator (";", "|"), no unfilled slot and no scene adjective without its noun
    at the end ("on marshy."). Measured on the demo describer's later beams, which run on past the
    sentence ("... is visible. slotE, no litter is visible.") or stop short, and read back as the
    facts all the same. The input's names (labels, scene) may hold any of these characters: they
    are taken out first (for the scene adjective check, the labels only)."""
    vocabulary = set(vocabulary)
    errors = []
    if SCENE_ADJECTIVE_ENDING.search(_masked(text, vocabulary)):
        errors.append("a scene adjective without its noun at the end")
    masked = _masked(text, {*vocabulary, scene or ""})
    if not masked.endswith("."):
        errors.append("no full stop at the end")
    if re.search(r"[.!?;|]", masked[:-1]):
        errors.append("more than one sentence, or a stray separator")
    if UNFILLED_SLOT.search(masked):
        errors.append("an unfilled slot")
    return errors


def style_errors(text: str, style: Style, vocabulary: Iterable[str] = (), scene: str | None = None) -> dict[str, list]:
    """The checks by kind (`STYLE_CHECKS`); a house style has its own (`helpers.text.house`)."""
    if style.is_house:
        return dict.fromkeys(STYLE_CHECKS, [])
    vocabulary = list(vocabulary)
    return {
        "off_style_words": off_style_words(text, style, vocabulary, scene),
        "numeral_errors": numeral_errors(text, style, vocabulary),
        "form_errors": form_errors(text, vocabulary, scene),
    }
