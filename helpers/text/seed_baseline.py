"""The original notebook's template generator, reproduced only to compare against (02's report).

Its known faults are kept on purpose: `rstrip('s')` singulars ("1 broken gla"), "There are 1",
bare numbers with mass nouns ("3 organic matter"), every detection described whatever its
confidence, and "Plastic" and "plastic" counted as two categories.
"""

from __future__ import annotations

import random

_TEMPLATES = (
    "There {verb} {garbage_desc}{scene_desc}.",
    "{garbage_desc} {verb} visible{scene_desc}.",
    "The image shows {garbage_desc}{scene_desc}.",
    "{garbage_desc} can be seen{scene_desc}.",
    "I can see {garbage_desc}{scene_desc}.",
)
_GARBAGE = {
    "plastic": ("plastic waste", "plastic items", "plastic debris", "plastic bottles"),
    "glass": ("glass bottles", "glass items", "broken glass", "glass waste"),
    "metal": ("metal cans", "metal waste", "metallic debris", "aluminum cans"),
    "paper": ("paper waste", "cardboard", "paper debris", "discarded paper"),
    "organic": ("organic waste", "food scraps", "biodegradable waste", "organic matter"),
}
_SCENES = {
    "grass": (" on the grass", " in a grassy area", " on green grass", " scattered on the lawn"),
    "sandy": (" on sandy ground", " on the beach", " in sandy terrain", " on the sand"),
    "rocky": (" on rocky terrain", " among rocks", " on rocky ground", " between stones"),
    "marshy": (" in marshy area", " in wetlands", " in swampy terrain", " near marsh"),
}


def seed_describe(record: dict, rng: random.Random) -> str:
    """The seed's `generate_description`, with its random choices drawn from `rng`."""
    scene = record.get("scene") or {"class": "unknown", "confidence": 0.0}
    scene_ok = scene.get("class") != "unknown" and (scene.get("confidence") or 0.0) >= 0.8  # the original's own rule
    if not record["detections"]:
        if scene_ok:
            return f"No garbage detected{rng.choice(_SCENES.get(scene['class'], ('',)))}."
        return "No garbage detected in this image."
    counts: dict[str, int] = {}
    for detection in record["detections"]:
        counts[detection["label"]] = counts.get(detection["label"], 0) + 1
    parts = []
    for label, count in counts.items():
        phrase = rng.choice(_GARBAGE.get(label, (label,)))
        if count == 1:
            parts.append(f"1 {phrase.rstrip('s')}" if phrase.endswith("s") else f"1 {phrase}")
        else:
            parts.append(f"{count} {phrase}")
    if len(parts) == 1:
        garbage = parts[0]
    elif len(parts) == 2:
        garbage = f"{parts[0]} and {parts[1]}"
    else:
        garbage = ", ".join(parts[:-1]) + f", and {parts[-1]}"
    scene_desc = rng.choice(_SCENES.get(scene["class"], ("",))) if scene_ok else ""
    verb = "is" if sum(counts.values()) == 1 else "are"
    return rng.choice(_TEMPLATES).format(verb=verb, garbage_desc=garbage, scene_desc=scene_desc)
