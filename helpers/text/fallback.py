"""The grammar's sentence when no other will do, never one its own checker calls unfaithful.

The describer falls back to this when every model sentence fails the guard; `desclm synth`
writes nothing else. The grammar's wordings come first; a label that is also an English word
("of", "single") or a pair of labels that are each other's plural ("bus", "buses") can make
every wording read back as other facts, and then the last resort is `grammar.enumeration`
("Detected by label: 1 × of; scene: grass."), which reads back exactly for any label. A
record whose facts even that cannot state raises `UnfaithfulError`: that record's error.
"""

from __future__ import annotations

import random

from helpers.core.contract import Policy, Style
from helpers.text.facts import agreement_errors, extract
from helpers.text.grammar import Facts, describe, enumeration, facts
from helpers.text.style import style_errors

GRAMMAR_ATTEMPTS = 8  # wordings tried before the enumeration


class UnfaithfulError(RuntimeError):
    """No sentence the grammar can write reads back as the record's facts."""


def said(text: str, record: dict) -> Facts:
    """The facts `text` states, read with the record's labels as vocabulary."""
    return extract(text, [d["label"] for d in record["detections"]]).facts()


def well_written(text: str, record: dict, style: Style, scene: str | None) -> bool:
    """No agreement slip, and in `style`'s vocabulary and numerals."""
    vocabulary = [d["label"] for d in record["detections"]]
    return not agreement_errors(text, vocabulary) and not any(style_errors(text, style, vocabulary, scene).values())


def _passes(text: str, record: dict, expected: Facts, style: Style) -> bool:
    """A grammar wording the describer may use: it reads back as `expected` and is well written."""
    return said(text, record) == expected and well_written(text, record, style, expected.scene)


def fallback_sentence(
    record: dict, seed: str, policy: Policy = Policy(), style: Style = Style(), attempts: int = GRAMMAR_ATTEMPTS
) -> tuple[str, Facts]:
    """A faithful sentence for a valid record and what it states (equal to the record's facts).

    Args:
        record: A valid CV record.
        seed: Seeds the wordings: the same record and seed give the same sentence.
        policy: Thresholds and spatial facts.
        style: The wording style of the grammar's sentences.
        attempts: Grammar wordings to try before the enumeration.

    Raises:
        UnfaithfulError: Not even the enumeration reads back as the record's facts.
    """
    expected = facts(record, policy)
    for attempt in range(attempts):
        text = describe(record, random.Random(f"{seed}:{attempt}" if attempt else seed), policy, style)
        if _passes(text, record, expected, style):
            return text, expected
    text = enumeration(expected)
    stated = said(text, record)
    if stated != expected:
        raise UnfaithfulError(f"no sentence reads back as the record's facts {expected} (the last one says {stated})")
    return text, stated


def grammar_sentences(
    record: dict,
    seed: str,
    count: int,
    policy: Policy = Policy(),
    style: Style = Style(),
    exclude: tuple[str, ...] = (),
    attempts_each: int = GRAMMAR_ATTEMPTS,
) -> list[str]:
    """Up to `count` distinct faithful, well-written grammar sentences for a valid record, none of
    them in `exclude`: more captions of one photo. Fewer where the grammar has fewer wordings (a
    record only the enumeration can state has none)."""
    expected = facts(record, policy)
    found: list[str] = []
    for attempt in range(count * attempts_each):
        if len(found) == count:
            break
        text = describe(record, random.Random(f"{seed}:more:{attempt}"), policy, style)
        if text in found or text in exclude:
            continue
        if _passes(text, record, expected, style):
            found.append(text)
    return found
