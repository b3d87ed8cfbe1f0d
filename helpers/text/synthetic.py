"""Random CV outputs that cover what a small image set never shows.

Used three ways: as extra training inputs (02's coverage), as stress sets for evaluation
(04), and as the input space of the grammar's round-trip property test.
"""

from __future__ import annotations

import math
import random

from helpers.core.contract import Policy
from helpers.text.lexicon import CLASSES, SCENE_PHRASES

# Litter names a detector might use beyond the five classes; "sunglasses" and "jeans" look
# plural and exercise the grammar's counter form.
UNSEEN_LABELS = (
    "tire",
    "shoe",
    "cigarette butt",
    "face mask",
    "fishing net",
    "battery",
    "rope",
    "glove",
    "balloon",
    "drinking straw",
    "cup",
    "bottle cap",
    "wrapper",
    "bucket",
    "hose",
    "wire",
    "sponge",
    "toy",
    "brick",
    "pallet",
    "crate",
    "syringe",
    "lighter",
    "tarp",
    "sunglasses",
    "jeans",
)
# Names no training pair ever contains: the evaluation's "unseen labels" stress group draws from
# these, so it measures copying a new word, not recall of UNSEEN_LABELS (which 02 trains on).
HELD_OUT_LABELS = (
    "kite",
    "helmet",
    "umbrella",
    "mattress",
    "bicycle",
    "chair",
    "cable tie",
    "paint can",
    "flip flop",
    "ice cream tub",
    "shopping cart",
    "lamp",
    "golf ball",
    "candle",
    "zipper",
    "vase",
)
UNSEEN_SCENES = ("forest", "urban", "river bank", "snow", "parking lot", "farmland")
KNOWN_SCENES = tuple(SCENE_PHRASES)
# Invented names vary the names in training (their pluralisation and "a"/"an" included). With the
# default input format the model sees them only as slots; with formats that show names, they were
# meant to teach copying a new name (it did not: see helpers.text.slots).
_ONSETS = (
    "b",
    "br",
    "d",
    "dr",
    "f",
    "g",
    "gr",
    "k",
    "kl",
    "l",
    "m",
    "n",
    "p",
    "pl",
    "r",
    "s",
    "st",
    "t",
    "tr",
    "v",
    "z",
)
_VOWELS = ("a", "e", "i", "o", "u", "ai", "ea", "oo")
_CODAS = ("", "", "n", "r", "l", "m", "k", "t", "sk", "nd")
# Generated records sit around the default policy's thresholds (just above, just below).
DEFAULT_POLICY = Policy()
INVENTED_SHARE = 0.5  # share of unseen categories given an invented name in training records


def invented_label(rng: random.Random) -> str:
    """A pronounceable made-up name of one or two words, e.g. "trelk" or "bomar plisk"."""

    def word() -> str:
        syllables = rng.choice([1, 2, 2, 3])
        return (
            "".join(rng.choice(_ONSETS) + rng.choice(_VOWELS) for _ in range(syllables - 1))
            + rng.choice(_ONSETS)
            + rng.choice(_VOWELS)
            + rng.choice(_CODAS)
        )

    return word() if rng.random() < 0.8 else f"{word()} {word()}"


STRESS_GROUPS = ("many_detections", "unseen_labels", "label_variants", "low_confidence_noise", "weak_scene", "empty")


def spelling_variant(label: str, rng: random.Random) -> str:
    """The same label as another tool might write it: case, separators, stray spaces."""
    words = label.split(" ")
    words = [rng.choice([w, w.upper(), w.capitalize()]) for w in words]
    joined = rng.choice([" ", "_", "-"]).join(words)
    return rng.choice(["", " ", "  "]) + joined + rng.choice(["", " ", "\t"])


def _bbox(rng: random.Random) -> list[float]:
    """A box as detectors report litter: sides from 1% to 60% of the photo (log-uniform), anywhere."""
    width = math.exp(rng.uniform(math.log(0.01), math.log(0.6)))
    height = min(0.95, width * rng.uniform(0.5, 2.0))
    x1, y1 = rng.uniform(0, 1 - width), rng.uniform(0, 1 - height)
    return [round(x1, 4), round(y1, 4), round(x1 + width, 4), round(y1 + height, 4)]


def random_scene(rng: random.Random, mode: str | None = None) -> dict | None:
    """A scene entry; modes: known, low (below the default scene threshold), unknown, missing (None), unseen."""
    mode = mode or rng.choices(["known", "low", "unknown", "missing", "unseen"], weights=[5, 2, 1, 1, 1])[0]
    if mode == "missing":
        return None
    if mode == "unknown":
        return {"class": "unknown", "confidence": 0.0}
    name = rng.choice(UNSEEN_SCENES if mode == "unseen" else KNOWN_SCENES)
    threshold = DEFAULT_POLICY.scene_min_confidence
    confidence = (
        rng.uniform(0.3, threshold - 1e-4) if mode == "low" else rng.choice([threshold, rng.uniform(threshold, 1.0)])
    )
    return {"class": name, "confidence": round(confidence, 4)}


def random_cv(
    rng: random.Random,
    max_detections: int = 30,
    min_detections: int = 0,
    unseen_rate: float = 0.25,
    variant_rate: float = 0.25,
    noise_rate: float = 0.2,
    scene_mode: str | None = None,
    unseen_pool: tuple[str, ...] = UNSEEN_LABELS,
    invented_share: float = INVENTED_SHARE,
) -> dict:
    """One random CV output record: 1-6 distinct categories, each detected at least once when
    there are enough detections.

    Args:
        rng: Source of every random choice.
        max_detections: Most confident detections (low-confidence noise comes on top).
        min_detections: Fewest confident detections.
        unseen_rate: Chance that a category is a name outside the five classes.
        variant_rate: Chance that a detection's label is spelled differently.
        noise_rate: Expected low-confidence (below the default threshold) detections per confident one.
        scene_mode: See `random_scene`; None draws one.
        unseen_pool: The names used for unseen categories.
        invented_share: Chance that an unseen category gets an invented name instead.
    """
    categories: list[str] = []
    for _ in range(rng.randint(1, 6)):
        if rng.random() >= unseen_rate:
            name = rng.choice(CLASSES)
        else:
            name = invented_label(rng) if rng.random() < invented_share else rng.choice(unseen_pool)
        if name not in categories:
            categories.append(name)
    detections = []
    for index in range(rng.randint(min_detections, max_detections)):
        # every category appears once before any repeats: long lists are as common as the draw says
        label = categories[index] if index < len(categories) else rng.choice(categories)
        threshold = DEFAULT_POLICY.min_confidence
        confidence = rng.choice([threshold, round(rng.uniform(threshold, 1.0), 4)])
        detections.append({"label": label, "confidence": confidence, "bbox": _bbox(rng)})
    for _ in range(round(len(detections) * noise_rate * rng.uniform(0.5, 1.5)) + (rng.random() < noise_rate)):
        label = rng.choice(categories + list(CLASSES))
        low = round(rng.uniform(0.0, DEFAULT_POLICY.min_confidence - 1e-4), 4)
        detections.append({"label": label, "confidence": low, "bbox": _bbox(rng)})
    for detection in detections:
        if rng.random() < variant_rate:
            detection["label"] = spelling_variant(detection["label"], rng)
    rng.shuffle(detections)
    record = {"detections": detections}
    scene = random_scene(rng, scene_mode)
    if scene is not None:
        record["scene"] = scene
    return record


def stress_record(group: str, rng: random.Random, held_out: bool = False) -> dict:
    """One record of a named stress group (see STRESS_GROUPS).

    `held_out` (evaluation): unseen names come from HELD_OUT_LABELS and none are invented, so no
    name in the record was made for training; otherwise (training coverage) from UNSEEN_LABELS
    and invented names.
    """
    pool, invented = (HELD_OUT_LABELS, 0.0) if held_out else (UNSEEN_LABELS, INVENTED_SHARE)
    names = {"unseen_pool": pool, "invented_share": invented}
    if group == "many_detections":
        return random_cv(
            rng,
            max_detections=30,
            min_detections=15,
            unseen_rate=0.1,
            variant_rate=0.0,
            noise_rate=0.0,
            scene_mode="known",
            **names,
        )
    if group == "unseen_labels":
        return random_cv(
            rng, max_detections=8, min_detections=1, unseen_rate=1.0, variant_rate=0.0, noise_rate=0.0, **names
        )
    if group == "label_variants":
        return random_cv(
            rng, max_detections=8, min_detections=1, unseen_rate=0.2, variant_rate=1.0, noise_rate=0.0, **names
        )
    if group == "low_confidence_noise":
        return random_cv(rng, max_detections=6, unseen_rate=0.1, variant_rate=0.0, noise_rate=1.0, **names)
    if group == "weak_scene":
        return random_cv(
            rng,
            max_detections=6,
            unseen_rate=0.1,
            variant_rate=0.0,
            noise_rate=0.0,
            scene_mode=rng.choice(["low", "unknown", "missing"]),
            **names,
        )
    if group == "empty":
        return random_cv(rng, max_detections=0, noise_rate=0.5, variant_rate=0.0, **names)
    raise ValueError(f"unknown stress group {group!r}; expected one of {STRESS_GROUPS}")


def stress_set(group: str, count: int, seed: int, held_out: bool = True) -> list[dict]:
    """`count` records of one stress group, reproducible from `seed` (for evaluation: held-out names by default)."""
    rng = random.Random(f"stress:{group}:{seed}")
    return [{"id": f"{group}-{i:05d}", **stress_record(group, rng, held_out)} for i in range(count)]
