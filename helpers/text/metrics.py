"""Diversity measures for sets of generated texts."""

from __future__ import annotations

import re
from collections.abc import Sequence

_WORD = re.compile(r"[a-z0-9]+(?:['\-][a-z0-9]+)*")


def words(text: str) -> list[str]:
    """Lower-case word tokens."""
    return _WORD.findall(text.lower())


def distinct_n(texts: Sequence[str], n: int) -> float:
    """Distinct-n: unique n-grams over all n-grams across the texts (0 when there are none)."""
    grams = [tuple(tokens[i : i + n]) for tokens in map(words, texts) for i in range(len(tokens) - n + 1)]
    return len(set(grams)) / len(grams) if grams else 0.0


def unique_ratio(texts: Sequence[str]) -> float:
    """Share of texts that are distinct."""
    return len(set(texts)) / len(texts) if texts else 0.0
