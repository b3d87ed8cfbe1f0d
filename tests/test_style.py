"""Styles: claim-free plain wording, the varied phrase lists, numerals, unknown-label wording, and the
guard that enforces them."""

from __future__ import annotations

import json
import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from helpers.core.contract import ContractError, InputSpec, ModelSettings, Policy, Style, load_model_settings
from helpers.describer.backends import Backend
from helpers.describer.describe import Describer
from helpers.text.facts import agreement_errors, extract
from helpers.text.grammar import describe, facts
from helpers.text.lexicon import label_forms
from helpers.text.style import form_errors, numeral_errors, off_style_vocabulary, off_style_words, style_errors
from helpers.text.synthetic import random_cv

STYLES = [Style(name, numerals) for name in ("plain", "varied") for numerals in ("words", "digits")]
PLAIN, VARIED = Style("plain"), Style("varied")
records = st.integers(0, 10**9).map(lambda seed: random_cv(random.Random(seed)))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(record=records, style=st.sampled_from(STYLES), seed=st.integers(0, 10**6))
def test_every_style_round_trips_and_keeps_its_vocabulary_and_numerals(record, style, seed):
    text = describe(record, random.Random(seed), Policy(), style)
    vocabulary = [d["label"] for d in record["detections"]]
    expected = facts(record)
    assert extract(text, vocabulary).facts() == expected, text
    assert not agreement_errors(text, vocabulary), text
    assert not any(style_errors(text, style, vocabulary, expected.scene).values()), text


def test_plain_adds_no_claim_the_varied_style_makes():
    record = {
        "detections": [{"label": label, "confidence": 0.9} for label in ("glass", "paper", "organic", "glass")],
        "scene": {"class": "sandy", "confidence": 0.95},
    }
    plain = {describe(record, random.Random(seed), Policy(), PLAIN) for seed in range(300)}
    varied = {describe(record, random.Random(seed), Policy(), VARIED) for seed in range(300)}
    claims = ("broken", "cardboard", "pile", "food", "beach", "fragment", "discarded", "heap")
    assert not any(word in text.lower() for text in plain for word in claims)
    assert any(word in text.lower() for text in varied for word in ("broken", "beach")), "varied keeps the lists"
    assert all(off_style_words(text, PLAIN) for text in varied if "beach" in text)


def test_off_style_words_spare_the_inputs_own_labels_and_scene():
    assert off_style_words("Two pieces of broken glass lie on the beach.", PLAIN) == ["broken", "beach"]
    assert off_style_words("Two pieces of broken glass lie on the beach.", VARIED) == []
    assert off_style_words("Two food items lie on the lawn.", PLAIN, ["food"], "lawn") == []
    assert {"broken", "beach", "lawn", "cardboard", "pile"} <= off_style_vocabulary()["plain"]
    assert not {"plastic", "item", "piece", "grass", "litter", "visible"} & off_style_vocabulary()["plain"]


@pytest.mark.parametrize(
    ("text", "style", "problem"),
    [
        ("There are 2 plastic items and three glass items.", PLAIN, "digits and number words"),
        ("There are 3 plastic items.", PLAIN, "digits where style 'plain words' writes words"),
        ("There are three plastic items.", Style("plain", "digits"), "words where"),
        ("There are twelve plastic items.", PLAIN, "words where"),  # above ten the sentence is all digits
        ("2 plastic items are visible.", Style("plain", "digits"), "opens with a digit"),
    ],
)
def test_numeral_errors_name_the_problem(text, style, problem):
    assert any(problem in error for error in numeral_errors(text, style)), numeral_errors(text, style)


def test_numerals_pass_when_the_sentence_keeps_one_system():
    assert numeral_errors("There are 12 plastic items and 1 glass item.", PLAIN) == []
    assert numeral_errors("A glass item and three plastic items lie here.", PLAIN) == []
    assert numeral_errors("There are 3 plastic items.", Style("varied", "digits")) == []


@given(
    label=st.sampled_from(
        [
            "bus",
            "knife",
            "fish",
            "sheep",
            "person",
            "bottles",
            "shoes",
            "glasses",
            "scissors",
            "foam",
            "aluminium foil",
            "cactus",
            "lens",
            "бутылка",
            "瓶子",
            "kite",
            "metals",
        ]
    ),
    count=st.integers(1, 30),
    seed=st.integers(0, 1000),
)
def test_unknown_labels_round_trip_in_their_english_forms(label, count, seed):
    record = {"detections": [{"label": label, "confidence": 0.9}] * count, "scene": None}
    text = describe(record, random.Random(seed))
    assert extract(text, [label]).facts() == facts(record), text
    assert not agreement_errors(text, [label]), text


def test_unknown_label_forms():
    assert label_forms("bus") == ("bus", "buses")
    assert label_forms("glasses") == ("pair of glasses", "pairs of glasses")
    assert label_forms("foam") == ("piece of foam", "pieces of foam")
    assert label_forms("fish") == ("fish", "fish")
    assert label_forms("metals") == ("item labelled metals", "items labelled metals"), "as given: not 'metal'"


class EchoBackend(Backend):
    def __init__(self, beams):
        self.beams = beams

    def _batch(self, inputs, num_beams, num_hypotheses, max_new_tokens, batch_size, top_p=0.0, seed=0):
        return [self.beams[:num_hypotheses] for _ in inputs]


SETTINGS = ModelSettings(
    InputSpec("linked", Policy(), (PLAIN, Style("varied", "digits"))),
    base_model="scratch",
    max_source_length=64,
    max_target_length=32,
    max_new_tokens=40,
    num_beams=3,
)
GLASS = {"detections": [{"label": "glass", "confidence": 0.9}] * 2, "scene": {"class": "sandy", "confidence": 0.9}}


def test_the_guard_reranks_past_off_style_and_mixed_numeral_beams():
    off_style = "Two pieces of broken glass lie on the beach."  # true, but two claims
    digits = "There are 2 glass items on the sand."  # true, but digits in "plain words"
    plain = "Two glass items lie on the sand."
    chosen = Describer(EchoBackend([off_style, digits, plain]), SETTINGS).describe_detailed([GLASS])[0]
    assert (chosen.source, chosen.text) == ("rerank", plain)
    fallback = Describer(EchoBackend([off_style, digits]), SETTINGS).describe_detailed([GLASS])[0]
    assert fallback.source == "grammar" and fallback.faithful
    assert not any(style_errors(fallback.text, PLAIN, ["glass"], "sandy").values())
    varied = Describer(EchoBackend([off_style, digits, plain]), SETTINGS, style="varied digits")
    assert varied.describe_detailed([GLASS])[0].text == digits, "the same beams judged in another learned style"
    assert "| style: varied digits | variant: " in varied.inputs([GLASS])[0]


def test_a_style_the_model_did_not_learn_is_refused_and_styles_are_saved(tmp_path):
    with pytest.raises(ValueError, match="not trained.*plain words"):
        Describer(EchoBackend([]), SETTINGS, style="plain digits")
    with pytest.raises(ValueError, match="style must be one of"):
        Style.parse("fancy words")
    from helpers.core.contract import write_model_settings

    write_model_settings(tmp_path, SETTINGS)
    assert load_model_settings(tmp_path).spec.styles == SETTINGS.spec.styles
    values = json.loads((tmp_path / "llm_config.json").read_text())
    assert values["styles"] == ["plain words", "varied digits"]
    del values["styles"]
    (tmp_path / "llm_config.json").write_text(json.dumps(values))
    with pytest.raises(ContractError, match="'styles' is missing"):
        load_model_settings(tmp_path)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(record=records, style=st.sampled_from(STYLES), seed=st.integers(0, 10**6))
def test_provenance_spans_cover_every_stated_count(record, style, seed):
    from helpers.describer.provenance import provenance
    from helpers.text.lexicon import canonical_label

    text = describe(record, random.Random(seed), Policy(), style)
    phrases = provenance(text, record)
    vocabulary = [d["label"] for d in record["detections"]]
    expected = facts(record)
    counted = [p for p in phrases if p.count is not None]
    stated = {}
    for phrase in counted:
        stated[phrase.label] = stated.get(phrase.label, 0) + phrase.count
        assert len(phrase.detections) == phrase.count, (text, phrase)
        for index in phrase.detections:
            detection = record["detections"][index]
            assert canonical_label(detection["label"]) == phrase.label and detection["confidence"] >= 0.5
        written = text[phrase.start : phrase.end]
        assert extract(written, vocabulary).counts == {phrase.label: phrase.count}, (written, phrase)
    assert stated == expected.counts, (text, phrases)
    covered = [i for p in counted for i in p.detections]
    assert len(covered) == len(set(covered)), "no detection is covered twice"
    scene = [p for p in phrases if p.count is None]
    assert [p.label for p in scene] == ([expected.scene] if expected.scene else []), text
    starts = [p.start for p in phrases]
    assert starts == sorted(starts) and all(a.end <= b.start for a, b in zip(phrases, phrases[1:])), "in order, apart"


def test_a_category_stated_in_two_places_gives_each_phrase_the_boxes_in_its_place():
    """A faithful sentence may state a category in two phrases, each with its place; each phrase covers the boxes
    in its place, not the first in the record's order (the grounded export's boxes, 04's colours)."""
    from helpers.describer import check_caption
    from helpers.describer.provenance import provenance

    record = {
        "detections": [
            {"label": "plastic", "confidence": 0.9, "bbox": [0.80, 0.4, 0.9, 0.5]},  # on the right
            {"label": "plastic", "confidence": 0.9, "bbox": [0.05, 0.4, 0.1, 0.5]},  # on the left
            {"label": "plastic", "confidence": 0.9, "bbox": [0.10, 0.5, 0.15, 0.6]},  # on the left
        ],
        "scene": {"class": "grass", "confidence": 0.9},
    }
    text = "Two plastic items on the left and one plastic item on the right lie in the grass."
    assert check_caption(record, text, Policy(spatial=True)).faithful
    counted = [(text[p.start : p.end], p.detections) for p in provenance(text, record) if p.count]
    assert counted == [("Two plastic items on the left", (1, 2)), ("one plastic item on the right", (0,))]


def test_a_sentence_that_runs_on_or_keeps_a_slot_is_not_well_formed():
    """Issue 32: the demo describer's later beams, faithful as read, that several captions first took."""
    for text in (
        "On marshy ground, no litter is visible. slotE, no litter is visible.",
        "There is no litter in a grassy area.24, no litter in a grassy area.",
        "Two paper objects and a glass object; can be seen on rocky ground.",
        "A slotA lies on the grass.",
        "Two plastic items are visible",
        "There are two pieces of glass and one piece of plastic on marshy.",  # a later beam stopping short
        "A tire lies on the sandy .",
    ):
        assert form_errors(text, ["glass", "plastic", "tire"], "marshy"), text
    assert not form_errors("A sandy bag lies on sandy ground.", ["sandy bag"], "sandy")
    assert not form_errors("Two items labelled rocky.", ["rocky"]), "a label may end so"
    assert not form_errors("Two St. Pauli bottles lie on the grass.", ["St. Pauli bottle"]), "a name may hold a dot"
    assert not form_errors("Three items labelled ?! are visible.", ["?!"])
