"""Wording variants: a small code book that lets beam search vary its wording as the grammar does.

The grammar draws its frame, noun forms and scene phrase at random, so a model trained on its
sentences learns a distribution per input, and beam search returns that distribution's mode:
the same frame for most photos (measured on the demo: 0.575 unique sentences on the test photos
against the grammar's 0.925). With `InputSpec.variants = n`, each training sentence is written
with the choices of one of n variants, and the model input says which (" | variant: 3"). A
variant's choices are a simple rule of its number, the same for every choice of a kind in the
sentence (`VariantChoices`), so a small model can learn them; a seeded random stream per variant
was harder to learn (docs/measurements/variants_demo_cpu.json). The describer picks a photo's
variant from a hash of its record and the seed: the same record always gets the same wording,
different photos get different ones, and every sentence is still checked by the guard.
"""

from __future__ import annotations

import hashlib
import json
import random


class VariantChoices(random.Random):
    """The grammar's "random" choices as a rule of the variant number v: every `choice` takes item
    v mod its length (frame, noun, scene phrase), and `random()` steps through four values as v
    goes 0-1, 2-3, 4-5, 6-7 (count noun or "piece of", "a" or "one")."""

    def __init__(self, variant: int) -> None:
        super().__init__(variant)
        self.variant = variant

    def choice(self, seq):
        return seq[self.variant % len(seq)]

    def random(self) -> float:
        return (self.variant // 2 % 4) / 4 + 0.125


def variant_rng(variant: int) -> random.Random:
    """What the grammar draws its wording choices from for variant `variant` (the same everywhere)."""
    return VariantChoices(variant)


def variant_of(record: dict, seed: int, variants: int) -> int | None:
    """The variant a record is described in (None when the model learned none)."""
    if not variants:
        return None
    text = json.dumps(record, sort_keys=True, ensure_ascii=False, default=str)
    # A cryptographic hash, not CRC-32: CRC is linear, so records that differ in a few characters (a
    # batch of photos) fell into few variants (15 of the demo's 40 test photos in one of 8).
    # surrogatepass: a photo name in another encoding (kept as lone surrogates) still hashes
    digest = hashlib.blake2b(f"{seed}:{text}".encode("utf-8", "surrogatepass"), digest_size=8).digest()
    return int.from_bytes(digest, "big") % variants


def variant_tag(variant: int | None) -> str:
    """What the model input ends with: " | variant: 3", or "" without variants."""
    return "" if variant is None else f" | variant: {variant}"
