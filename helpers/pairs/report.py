"""Tables for notebook 02's report: split sizes, diversity, lengths, and the original template's faults."""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass

import pandas as pd

from helpers.core.contract import Style
from helpers.core.settings import setting
from helpers.text.facts import SLOT_ERRORS, agreement_errors, extract, slot_errors
from helpers.text.grammar import Policy, describe, facts
from helpers.text.lexicon import canonical_label, litter_lexicon
from helpers.text.metrics import distinct_n, unique_ratio, words
from helpers.text.seed_baseline import seed_describe
from helpers.text.style import STYLE_CHECKS, style_errors


@dataclass
class PairsReport:
    """Notebook 02's report settings (beside SynthConfig's)."""

    tokenizer: str = setting("", 'tokenizer folder or hub id to count lengths in its tokens ("": words)')
    comparison_records: int = setting(500, "generated records on which the original notebook's template is compared")


def split_table(pairs: dict[str, list[dict]]) -> pd.DataFrame:
    """Pairs and distinct images per split and origin (image, synthetic, extra)."""
    rows = [
        {"split": split, "origin": p["origin"], "image": p["image"]} for split, items in pairs.items() for p in items
    ]
    frame = pd.DataFrame(rows, columns=["split", "origin", "image"])
    return frame.groupby(["split", "origin"]).agg(pairs=("image", "size"), images=("image", "nunique"))


def diversity_table(pairs: dict[str, list[dict]]) -> pd.DataFrame:
    """Unique descriptions, unique ratio and distinct-1/2 of the outputs per split."""
    rows = []
    for split, items in pairs.items():
        outputs = [p["output"] for p in items]
        rows.append(
            {
                "split": split,
                "descriptions": len(outputs),
                "unique": len(set(outputs)),
                "unique_ratio": unique_ratio(outputs),
                "distinct_1": distinct_n(outputs, 1),
                "distinct_2": distinct_n(outputs, 2),
            }
        )
    return pd.DataFrame(rows).set_index("split")


def lengths(pairs: dict[str, list[dict]], tokenizer=None) -> pd.DataFrame:
    """Input and output length of every pair, in model tokens when a tokenizer is given, else in words."""

    def size(text: str) -> int:
        return len(tokenizer(text)["input_ids"]) if tokenizer is not None else len(words(text))

    rows = [
        {"split": split, "input": size(p["input"]), "output": size(p["output"])}
        for split, items in pairs.items()
        for p in items
    ]
    return pd.DataFrame(rows, columns=["split", "input", "output"])


def examples(pairs: list[dict], count: int, seed: int) -> pd.DataFrame:
    """A seeded sample of pairs with a short summary of their CV input."""
    sample = random.Random(seed).sample(pairs, min(count, len(pairs)))
    return pd.DataFrame(
        [
            {
                "image": p["image"],
                "detections": len(p["cv"]["detections"]),
                "scene": (p["cv"].get("scene") or {}).get("class", "(missing)"),
                "input": p["input"],
                "output": p["output"],
            }
            for p in sample
        ]
    )


def _broken_words() -> set[str]:
    """What `rstrip('s')` makes of the phrase lists' words when it is not a word itself ("gla", "debri")."""
    vocabulary = {w for surface in litter_lexicon() for w in words(surface)} | {"bottle", "item", "can", "scrap"}
    return {w.rstrip("s") for w in vocabulary if w.endswith("s") and w.rstrip("s") not in vocabulary}


def fault_counts(records: list[dict], generator, policy: Policy, seed: int, style: Style = Style()) -> dict[str, float]:
    """Faithfulness and grammar faults of one generator over CV records, judged by the extractor;
    style faults (`helpers.text.style`) as sentences with any, judged against `style`."""
    broken = _broken_words()
    totals = Counter()
    for index, record in enumerate(records):
        text = generator(record, random.Random(f"{seed}:{index}"))
        expected = facts(record, policy)
        extraction = extract(text)
        errors = slot_errors(expected, extraction.facts())
        totals.update(errors)
        totals["faithful"] += not any(errors.values())
        totals["agreement_errors"] += bool(agreement_errors(text))
        for check, found in style_errors(
            text, style, [d["label"] for d in record["detections"]], expected.scene
        ).items():
            totals[check] += bool(found)
        totals["broken_plurals"] += any(w in broken for w in words(text))
        low = {canonical_label(d["label"]) for d in record["detections"] if d["confidence"] < policy.min_confidence}
        said_more = {label for label, n in extraction.counts.items() if n > expected.counts.get(label, 0)}
        totals["noise_described"] += bool(said_more & low)
        labels = [item.label for item in extraction.items]
        totals["category_named_twice"] += len(labels) != len(set(labels))
    return {
        "records": len(records),
        "faithful_pct": 100.0 * totals["faithful"] / max(1, len(records)),
        **{
            key: totals[key]
            for key in (
                "agreement_errors",
                *STYLE_CHECKS,
                "broken_plurals",
                "noise_described",
                "category_named_twice",
                *SLOT_ERRORS,
            )
        },
    }


def compare_with_seed(
    record_sets: dict[str, list[dict]], policy: Policy, seed: int, style: Style = Style()
) -> pd.DataFrame:
    """The original template against the grammar in `style` on the same inputs: one column per (set, generator)."""
    generators = {"original": seed_describe, "grammar": lambda record, rng: describe(record, rng, policy, style)}
    columns = {}
    for set_name, records in record_sets.items():
        for name, generator in generators.items():
            columns[(set_name, name)] = fault_counts(records, generator, policy, seed, style)
    return pd.DataFrame(columns)
