"""Model input: a CV output record as one short, deterministic line of text.

`compact` (default) applies the description policy first, then lists each category once with
its count, then the scene, then the confidence range of each category and of the scene:

    litter: 3 plastic; 1 tire | scene: grass | confidence: 0.55-0.92 0.81 0.95

so the model copies counts instead of counting, and 30 detections fit in a few dozen tokens.
`seed_json` is the original notebook's format (the whole record as JSON, every detection),
kept for comparison. The format's name is saved with the trained model so inference matches.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable

from helpers.grammar import Policy, scene_of
from helpers.lexicon import canonical_label


def _compact(record: dict, policy: Policy) -> str:
    confidences: dict[str, list[float]] = defaultdict(list)
    for detection in record["detections"]:
        if detection["confidence"] >= policy.min_confidence:
            confidences[canonical_label(detection["label"])].append(float(detection["confidence"]))
    order = sorted(confidences, key=lambda label: (-len(confidences[label]), label))
    scene = scene_of(record, policy)
    # Count before label, categories in the order the description names them, confidences last:
    # the model's alignment from input to output stays a simple left-to-right copy.
    items = "; ".join(f"{len(confidences[label])} {label}" for label in order) or "none"
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
        "detections": [{"label": d["label"], "confidence": round(float(d["confidence"]), 2)} for d in record["detections"]],
        "scene": {"class": scene.get("class") or "unknown", "confidence": round(float(scene.get("confidence") or 0.0), 2)},
    }
    return "Describe the garbage detected based on this CV output:\n" + json.dumps(summary) + "\nDescription:"


FORMATS: dict[str, Callable[[dict, Policy], str]] = {"compact": _compact, "seed_json": _seed_json}


def linearize(record: dict, input_format: str = "compact", policy: Policy = Policy()) -> str:
    """The model input for a valid CV output record.

    Raises:
        ValueError: Unknown format name.
    """
    if input_format not in FORMATS:
        raise ValueError(f"unknown input_format {input_format!r}; expected one of {sorted(FORMATS)}")
    return FORMATS[input_format](record, policy)
