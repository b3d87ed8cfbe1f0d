"""Where things are (policy `spatial`): places from boxes, written by the grammar, read back exactly,
carried in the model input, and checked by the guard."""

from __future__ import annotations

import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from helpers.core.contract import InputSpec, ModelSettings, Policy, Style
from helpers.describer.backends import Backend
from helpers.describer.describe import Describer
from helpers.text.facts import agreement_errors, extract, slot_errors
from helpers.text.grammar import describe, facts
from helpers.text.linearize import linearize
from helpers.text.spatial import PLACE_PHRASES, place_of, size_of
from helpers.text.style import style_errors
from helpers.text.synthetic import random_cv

SPATIAL = Policy(spatial=True)


def box(cx: float, cy: float, half: float = 0.03) -> list[float]:
    return [cx - half, cy - half, cx + half, cy + half]


@pytest.mark.parametrize(
    ("boxes", "place"),
    [
        ([box(0.1, 0.1)], "top left"),
        ([box(0.5, 0.9)], "bottom"),
        ([box(0.5, 0.5)], "centre"),
        ([box(0.9, 0.5)], "right"),
        ([box(0.1, 0.1), box(0.15, 0.12)], "close top left"),  # several, near each other
        ([box(0.05, 0.05), box(0.3, 0.3)], "top left"),  # one cell, not within the cluster radius
        ([box(0.1, 0.5), box(0.9, 0.5)], "across"),  # spread over more than half the width
        ([box(0.3, 0.3), box(0.4, 0.4)], None),  # neighbouring cells: no phrase says it exactly
        ([box(0.1, 0.1), None], None),  # a box missing: no place
        ([], None),
    ],
)
def test_place_of_boxes(boxes, place):
    assert place_of(boxes) == place


records = st.integers(0, 10**9).map(lambda seed: random_cv(random.Random(seed)))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(record=records, seed=st.integers(0, 10**6), style=st.sampled_from([Style(), Style("varied", "digits")]))
def test_spatial_sentences_round_trip_and_their_places_match_the_boxes(record, seed, style):
    text = describe(record, random.Random(seed), SPATIAL, style)
    vocabulary = [d["label"] for d in record["detections"]]
    expected = facts(record, SPATIAL)
    said = extract(text, vocabulary).facts()
    assert said == expected, text
    for label, key in said.places.items():  # every stated place is the one its boxes give
        kept = [
            d["bbox"]
            for d in record["detections"]
            if d["confidence"] >= 0.5 and facts({"detections": [d]}, SPATIAL).counts.get(label)
        ]
        assert place_of(kept) == key and PLACE_PHRASES[key] in text
    for label, size in said.sizes.items():  # every stated size is the one its boxes give, before the noun
        kept = [
            d["bbox"]
            for d in record["detections"]
            if d["confidence"] >= 0.5 and facts({"detections": [d]}, SPATIAL).counts.get(label)
        ]
        assert size_of(kept) == size and f" {size} " in f" {text.lower()} "
    assert not agreement_errors(text, vocabulary), text
    assert not any(style_errors(text, style, vocabulary, expected.scene).values()), text


def test_without_spatial_or_boxes_nothing_changes():
    record = {"detections": [{"label": "plastic", "confidence": 0.9, "bbox": box(0.1, 0.1)}] * 2, "scene": None}
    assert facts(record).places == {} and "top" not in linearize(record, "linked_slots", Policy())
    assert facts(record, SPATIAL).places == {"plastic": "close top left"}
    assert linearize(record, "linked_slots", SPATIAL).startswith("litter: 2 plastic at close top left; end after")
    no_boxes = {"detections": [{"label": "plastic", "confidence": 0.9}], "scene": None}
    assert facts(no_boxes, SPATIAL) == facts(no_boxes)
    stated = "Two plastic items close together in the top left are visible."
    assert slot_errors(facts(record), extract(stated).facts())["wrong_place"] == 1, "unasked, a place is a claim"


@pytest.mark.parametrize(
    ("boxes", "size"),
    [
        ([box(0.5, 0.5, 0.2)], "large"),  # 0.16 of the photo
        ([box(0.5, 0.5, 0.2), box(0.2, 0.2, 0.17)], "large"),  # both at least a tenth
        ([box(0.5, 0.5, 0.01)], "small"),  # 0.0004
        ([box(0.5, 0.5, 0.2), box(0.2, 0.2, 0.01)], None),  # they disagree: no size
        ([box(0.5, 0.5, 0.05)], None),  # 0.01: neither
        ([box(0.5, 0.5, 0.2), None], None),
    ],
)
def test_size_of_boxes(boxes, size):
    assert size_of(boxes) == size


def test_sizes_are_written_before_the_noun_read_back_and_never_taken_from_a_label():
    big = {"label": "paper", "confidence": 0.9, "bbox": box(0.5, 0.5, 0.2)}
    record = {"detections": [big], "scene": None}
    assert facts(record, SPATIAL).sizes == {"paper": "large"} and facts(record).sizes == {}
    assert linearize(record, "linked", SPATIAL).startswith("litter: 1 large paper at centre |")
    texts = {describe(record, random.Random(seed), SPATIAL) for seed in range(30)}
    assert {"There is a large piece of paper in the centre.", "A large paper item in the centre is visible."} <= texts
    assert extract("Two large bags lie on the grass.", ["bag"]).facts().sizes == {"bag": "large"}
    assert extract("A large bag lies on the grass.", ["large bag"]).facts().sizes == {}, "the label, not a size"
    labelled = {"detections": [{**big, "label": "small bag"}, big], "scene": None}
    assert facts(labelled, SPATIAL).sizes == {}, "a label starting with a size word: no sizes in that record"
    stated = "A small piece of paper in the centre is visible."
    assert slot_errors(facts(record, SPATIAL), extract(stated).facts())["wrong_size"] == 1


class EchoBackend(Backend):
    def __init__(self, beams):
        self.beams = beams

    def _batch(self, inputs, num_beams, num_hypotheses, max_new_tokens, batch_size, top_p=0.0, seed=0):
        return [self.beams[:num_hypotheses] for _ in inputs]


def test_the_guard_checks_places_against_the_boxes():
    settings_ = ModelSettings(
        InputSpec("linked", SPATIAL),
        base_model="scratch",
        max_source_length=64,
        max_target_length=32,
        max_new_tokens=40,
        num_beams=3,
    )
    record = {"detections": [{"label": "glass", "confidence": 0.9, "bbox": box(0.9, 0.9)}], "scene": None}
    wrong = "A glass item in the top left is visible."
    missing = "A glass item is visible."
    right = "A glass item in the bottom right is visible."
    chosen = Describer(EchoBackend([wrong, missing, right]), settings_).describe_detailed([record])[0]
    assert (chosen.source, chosen.text) == ("rerank", right)
    assert chosen.phrases[0].end == len(right) - len(" is visible."), "the phrase's span covers its place"


def test_spatial_is_saved_with_the_model_and_checked(tmp_path):
    import json

    from helpers.core.contract import ContractError, load_model_settings, write_model_settings

    settings_ = ModelSettings(
        InputSpec("linked", SPATIAL),
        base_model="scratch",
        max_source_length=64,
        max_target_length=32,
        max_new_tokens=40,
        num_beams=3,
    )
    write_model_settings(tmp_path, settings_)
    assert load_model_settings(tmp_path).policy.spatial is True
    values = json.loads((tmp_path / "llm_config.json").read_text())
    (tmp_path / "llm_config.json").write_text(json.dumps({**values, "spatial": "yes"}))
    with pytest.raises(ContractError, match="'spatial' must be bool"):
        load_model_settings(tmp_path)
