"""House styles learned from examples (issue 34, part 2): examples, pairs, the style check, the guard.

The model's quality on them is measured by `docs/measurements/house_styles.py` (a training run);
here a scripted backend stands in for the model.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from helpers.core.contract import InputSpec, ModelSettings, Policy, Style, load_pairs_settings
from helpers.describer.backends import Backend
from helpers.describer.describe import Describer
from helpers.pairs.synth import SynthConfig, build_pairs
from helpers.text.fallback import said
from helpers.text.grammar import facts
from helpers.text.house import frame_of, house_errors, house_frames, load_examples

EXAMPLES = Path(__file__).resolve().parents[1] / "helpers" / "demo" / "examples"
RECORD = {
    "detections": [{"label": "plastic", "confidence": 0.9}] * 2 + [{"label": "glass", "confidence": 0.8}],
    "scene": {"class": "sandy", "confidence": 0.95},
}


@pytest.mark.parametrize(("name", "frames"), [("inventory", 4), ("narrative", 5)])
def test_the_demo_house_styles_are_150_faithful_examples_each(name, frames):
    examples, errors = load_examples(EXAMPLES / f"{name}.jsonl")
    assert len(examples) == 150 and errors == []
    assert all(said(sentence, record) == facts(record) for record, sentence in examples)
    assert len(house_frames(examples)) == frames


def test_a_frame_keeps_the_words_and_marks_the_facts():
    assert frame_of("Inventory: 2 plastic items, 1 glass item. Ground: sand.", RECORD) == (
        "inventory: {items}. ground: {scene}."
    )
    narrative = "On this stretch of sand we logged two plastic items and one glass item."
    assert frame_of(narrative, RECORD) == "on this stretch of {scene} we logged {items}."


def test_an_unfaithful_example_is_that_lines_error(tmp_path):
    lines = [
        {"record": RECORD, "sentence": "Inventory: 2 plastic items, 1 glass item. Ground: sand."},
        {"record": RECORD, "sentence": "Inventory: 3 plastic items, 1 glass item. Ground: sand."},
        {"record": {"detections": "x"}, "sentence": "Inventory: none."},
    ]
    (tmp_path / "house.jsonl").write_text("".join(json.dumps(line) + "\n" for line in lines))
    examples, errors = load_examples(tmp_path / "house.jsonl")
    assert len(examples) == 1 and [e["line"] for e in errors] == [2, 3]
    assert "the sentence says {'plastic': 3" in errors[0]["error"] and "detections" in errors[1]["error"]


def test_02_mixes_house_examples_into_training_and_records_their_frames(tmp_path):
    (tmp_path / "cv.jsonl").write_text(json.dumps({**RECORD, "image": "a.jpg"}) + "\n")
    config = SynthConfig(
        cv_outputs=str(tmp_path / "cv.jsonl"),
        output_dir=str(tmp_path / "pairs"),
        synthetic_records=0,
        validation_hard_records=0,
        house_styles="inventory, narrative",
        examples_dir=str(EXAMPLES),
        house_weight=3,
    )
    result = build_pairs(config)
    house = [pair for pair in result.pairs["train"] if pair["origin"] == "house:inventory"]
    assert len(house) == 3 * 150 and all(p["input"].split(" | style: ")[1].startswith("house:inventory") for p in house)
    spec, _ = load_pairs_settings(tmp_path / "pairs")
    assert [style.tag for style in spec.styles] == ["plain words", "house:inventory", "house:narrative"]
    assert "inventory: {items}. ground: {scene}." in spec.frames_of(Style("house:inventory"))
    with pytest.raises(ValueError, match="house_styles"):
        SynthConfig(styles="house:inventory")


class Scripted(Backend):
    """Answers every input with the given sentences (the beams)."""

    def __init__(self, beams: list[str]) -> None:
        self.beams = beams

    def _batch(self, inputs, num_beams, num_hypotheses, max_new_tokens, batch_size, top_p=0.0, seed=0):
        return [self.beams[:num_hypotheses] for _ in inputs]


def _settings() -> ModelSettings:
    examples, _ = load_examples(EXAMPLES / "inventory.jsonl")
    spec = InputSpec(
        "linked_end",
        Policy(),
        (Style(), Style("house:inventory")),
        variants=0,
        house_frames=(("inventory", house_frames(examples)),),
    )
    return ModelSettings(spec, "scratch", max_source_length=64, max_target_length=32, max_new_tokens=40, num_beams=2)


def test_a_house_style_round_trips_through_the_guard():
    settings = _settings()
    in_style = "Inventory: 2 plastic items, 1 glass item. Ground: sand."
    grammar_like = "Two plastic items and a glass item lie on the sand."
    wrong = "Inventory: 3 plastic items, 1 glass item. Ground: sand."
    house = Style("house:inventory")
    assert house_errors(in_style, RECORD, settings.spec.frames_of(house)) == []
    assert house_errors(grammar_like, RECORD, settings.spec.frames_of(house))

    chosen = Describer(Scripted([in_style, wrong]), settings, style="house:inventory").describe_detailed([RECORD])[0]
    assert (chosen.text, chosen.source, chosen.faithful) == (in_style, "model", True)
    reranked = Describer(Scripted([wrong, in_style]), settings, style="house:inventory").describe_detailed([RECORD])
    assert (reranked[0].text, reranked[0].source) == (in_style, "rerank")
    # faithful but not in the house style, or in style but unfaithful: the grammar writes it (plain words)
    for beams in ([grammar_like, grammar_like], [wrong, wrong]):
        result = Describer(Scripted(beams), settings, style="house:inventory").describe_detailed([RECORD])[0]
        assert result.source == "grammar" and result.faithful and not result.text.startswith("Inventory")
    # the default style takes the grammar-like sentence as the model's own
    plain = Describer(Scripted([grammar_like, wrong]), settings).describe_detailed([RECORD])[0]
    assert plain.source == "model"


def test_a_house_style_the_model_did_not_learn_is_refused_by_name():
    with pytest.raises(ValueError, match="house:narrative"):
        Describer(Scripted([]), _settings(), style="house:narrative")
    with pytest.raises(ValueError, match="house:<name>"):
        Style.parse("house:")
    assert Style.parse("house:inventory").tag == "house:inventory" and Style.parse("house:inventory").is_house


def test_describe_can_give_the_guard_more_beams_than_the_model_was_saved_with(model_dir):
    saved = Describer.load(model_dir)
    wider = Describer.load(model_dir, num_beams=saved.settings.num_beams + 2)
    result = wider.describe_detailed([RECORD])[0]
    assert len(result.hypotheses) == saved.settings.num_beams + 2 and result.faithful
    with pytest.raises(ValueError, match="num_beams"):
        Describer.load(model_dir, num_beams=-1)
