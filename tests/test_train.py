"""Training the describer: scratch tokenizer, tiny runs, reload with Auto classes, resume, notebook 03."""

from __future__ import annotations

import json
import logging
import re
import shutil
import subprocess
import sys

import pytest
import torch
import yaml
from transformers import AutoModelForSeq2SeqLM, AutoTokenizer, T5Config, T5ForConditionalGeneration

from helpers.core.contract import Policy, load_model_settings, load_pairs_settings
from helpers.describer import Describer
from helpers.text.linearize import linearize
from helpers.training.scratch_model import build_model, train_tokenizer, train_word_tokenizer
from helpers.training.train import TrainConfig, copied_names, mixed_precision, train

# batch_size left at 0 (auto): on the CPU every run trains at 8 (helpers.training.batch)
TINY_STEPS = {"max_steps": 6, "eval_steps": 3, "eval_samples": 8, "logging_steps": 2, "num_beams": 2}


WORDS_TEXTS = [
    "There are 3 pieces of broken glass on the beach.",
    "litter: 2 glass; 1 trelk after glass | scene: grass",
    "Two trelks lie on the grass.",
] * 20
WORDS_NAMES = [(), ("trelk",), ("trelk",)] * 20


@pytest.mark.parametrize("kind", ["words", "bpe"])
def test_scratch_tokenizer_round_trips_unseen_words_and_saves_whole(tmp_path, kind):
    texts = [
        "There are 3 pieces of broken glass on the beach.",
        "litter: plastic 2 (0.55-0.92) | scene: grass (0.95)",
    ] * 20
    tokenizer = (
        train_tokenizer(texts, vocab_size=300) if kind == "bpe" else train_word_tokenizer(WORDS_TEXTS, WORDS_NAMES)
    )
    assert len(tokenizer) > 256 + 3, "byte pieces and learned pieces, not a 4-token tokenizer"
    assert (tokenizer.pad_token_id, tokenizer.eos_token_id, tokenizer.unk_token_id) == (0, 1, 2)
    tokenizer.save_pretrained(tmp_path / "tok")
    reloaded = AutoTokenizer.from_pretrained(tmp_path / "tok")
    assert len(reloaded) == len(tokenizer)
    for text in ("There are 2 xylophones near a fjord.", "Ünïcode wörds and 🙂", "  spaces   collapse "):
        ids = reloaded(text)["input_ids"]
        assert ids[-1] == reloaded.eos_token_id and reloaded.unk_token_id not in ids
        assert reloaded.decode(ids, skip_special_tokens=True) == " ".join(text.split())


def test_words_tokenizer_keeps_grammar_words_whole_and_spells_copied_names():
    tokenizer = train_word_tokenizer(WORDS_TEXTS, WORDS_NAMES)
    pieces = tokenizer.convert_ids_to_tokens(tokenizer("Two trelks lie on the grass.")["input_ids"])
    assert pieces[:1] + pieces[-5:] == ["▁Two", "▁on", "▁the", "▁grass", ".", "</s>"], pieces
    assert pieces[1:7] == ["▁t", "r", "e", "l", "k", "s"], (
        "a copied name is spelled in letters, even where seen in training"
    )
    held_out = tokenizer.convert_ids_to_tokens(tokenizer("litter: 1 kite after glass")["input_ids"])
    assert held_out == ["▁litter", ":", "▁", "1", "▁k", "i", "t", "e", "▁after", "▁glass", "</s>"], held_out
    untouched = train_word_tokenizer(WORDS_TEXTS)  # without names, the frequent invented word is a word like any other
    assert "▁trelk" in untouched.get_vocab() and "▁trelk" not in tokenizer.get_vocab()


def test_copied_names_are_unseen_categories_and_scenes_without_phrases():
    record = {
        "detections": [{"label": "Plastic", "confidence": 0.9}, {"label": "Fishing_Net", "confidence": 0.2}],
        "scene": {"class": "River bank", "confidence": 0.5},
    }
    assert copied_names(record) == {"Fishing Net", "River bank"}, "as given (issue 32)"
    assert copied_names({"detections": [], "scene": {"class": "grass", "confidence": 0.9}}) == set()
    assert (
        copied_names(
            {
                "detections": [{"label": "glass bottle", "confidence": 0.9}],
                "scene": {"class": "unknown", "confidence": 0},
            }
        )
        == set()
    )


def _position_bias(stack, distances, bidirectional):
    from transformers.models.t5.modeling_t5 import T5Attention

    table = stack.block[0].layer[0].SelfAttention.relative_attention_bias.weight
    buckets = T5Attention._relative_position_bucket(
        torch.tensor(distances), bidirectional=bidirectional, num_buckets=32, max_distance=128
    )
    return table[buckets].detach()  # (distance, head)


def test_scratch_model_starts_with_local_attention_heads():
    tokenizer = train_tokenizer(["litter: 2 plastic; 1 tire after plastic | scene: grass"] * 10, vocab_size=300)
    distances = [-3, -2, -1, 0, 1, 2, 3]
    local = build_model(tokenizer, position_init="local")
    encoder = _position_bias(local.encoder, distances, bidirectional=True)
    assert distances[int(encoder[:, 0].argmax())] == -1 and distances[int(encoder[:, 1].argmax())] == 1, (
        "previous- and next-token heads"
    )
    decoder = _position_bias(local.decoder, [-3, -2, -1, 0], bidirectional=False)
    assert bool((decoder[:-1, 0] < decoder[-1, 0]).all()), "a decoder head favours recent tokens"
    noise = _position_bias(build_model(tokenizer, position_init="random").encoder, distances, bidirectional=True)
    assert float(noise.abs().max()) < 1.0 < float(encoder.abs().max()), "random tables start near zero"
    with pytest.raises(ValueError, match="position_init"):
        build_model(tokenizer, position_init="sinusoidal")


@pytest.mark.parametrize(
    ("cuda", "bf16_ok", "expected"),
    [
        (False, False, {"bf16": False, "fp16": False}),
        (True, True, {"bf16": True, "fp16": False}),
        (True, False, {"bf16": False, "fp16": True}),
    ],
)
def test_precision_auto_prefers_bf16_then_fp16_on_gpu_and_fp32_on_cpu(monkeypatch, cuda, bf16_ok, expected):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *args, **kwargs: bf16_ok)
    assert mixed_precision("auto") == expected
    assert mixed_precision("fp16") == {"bf16": False, "fp16": True} and mixed_precision("fp32") == {
        "bf16": False,
        "fp16": False,
    }


def test_tiny_scratch_run_exports_a_folder_the_auto_classes_load(pairs_dir, tmp_path):
    summary = train(TrainConfig(pairs_dir=str(pairs_dir), output_dir=str(tmp_path / "model"), **TINY_STEPS))
    folder = tmp_path / "model"
    assert summary["global_step"] == 6 and summary["lengths"]["input_truncated"] == 0
    assert (summary["batch_size"], summary["learning_rate"]) == (8, 5e-4), "auto on the CPU: the scratch recipe"
    for name in (
        "config.json",
        "generation_config.json",
        "tokenizer.json",
        "llm_config.json",
        "README.md",
        "trainer_state.json",
        "training_curves.png",
    ):
        assert (folder / name).exists(), name
    llm_config = json.loads((folder / "llm_config.json").read_text())
    assert load_model_settings(folder).spec == load_pairs_settings(pairs_dir)[0], "02's spec, recorded"
    assert llm_config["num_beams"] == TINY_STEPS["num_beams"] != TrainConfig.num_beams
    assert llm_config["data_fingerprint"] == json.loads((pairs_dir / "pairs_config.json").read_text())["fingerprint"]
    model = AutoModelForSeq2SeqLM.from_pretrained(folder)
    tokenizer = AutoTokenizer.from_pretrained(folder)
    assert model.generation_config.num_beams == 2
    output = model.generate(**tokenizer(["litter: 1 plastic | scene: none"], return_tensors="pt"))
    assert output.shape[1] <= llm_config["max_new_tokens"] + 1, "generation uses the saved length limit"
    assert model.generation_config.max_new_tokens == llm_config["max_new_tokens"]
    assert not list(tmp_path.glob(".model.*")), "no partial export left behind"
    card = (folder / "README.md").read_text()
    header = yaml.safe_load(card.split("---\n")[1])
    assert header["library_name"] == "transformers" and "pipeline_tag" not in header, "transformers 5 has none"
    assert "base_model" not in header, "a scratch model has no base model to name"
    assert "litter: 2 plastic; 1 slotA after plastic; end after slotA | scene: grass" in card, "the example input"
    assert "inference uses 2 beams" in card and "Not evaluated yet" in card
    texts = Describer.load(folder, guard=False).describe(
        [{"detections": [], "scene": {"class": "grass", "confidence": 0.9}}]
    )
    assert len(texts) == 1 and isinstance(texts[0], str)
    for snippet in re.findall(r"```python\n(.*?)```", card, flags=re.S):  # the card's usage runs as written
        code = snippet.replace("MODEL_DIR", str(folder))
        finished = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
        assert finished.returncode == 0 and finished.stdout.strip(), (snippet, finished.stderr[-2000:])


def test_pairs_without_test_photos_train(pairs_dir, tmp_path):
    """02 writes an empty test.jsonl when no photo fell in the test split (a small folder, max_images):
    training reads lengths from train and val only."""
    pairs = tmp_path / "pairs"
    shutil.copytree(pairs_dir, pairs)
    (pairs / "test.jsonl").write_text("")
    summary = train(TrainConfig(pairs_dir=str(pairs), output_dir=str(tmp_path / "model"), **TINY_STEPS))
    assert summary["global_step"] == TINY_STEPS["max_steps"]
    longest = max(
        len(json.loads(line)["input"]) for split in ("train", "val") for line in (pairs / f"{split}.jsonl").open()
    )
    assert 0 < summary["lengths"]["input"] <= longest, "tokens of the longest train/val input (at most its characters)"


def test_pretrained_base_from_a_local_folder(pairs_dir, tmp_path):
    tokenizer = train_tokenizer(["a tiny pretrained model", "litter: plastic 1 | scene: none"] * 10, vocab_size=300)
    config = T5Config(
        vocab_size=len(tokenizer),
        d_model=32,
        d_ff=64,
        num_layers=1,
        num_decoder_layers=1,
        num_heads=2,
        d_kv=16,
        decoder_start_token_id=0,
        pad_token_id=0,
        eos_token_id=1,
    )
    T5ForConditionalGeneration(config).save_pretrained(tmp_path / "base")
    tokenizer.save_pretrained(tmp_path / "base")
    summary = train(
        TrainConfig(
            pairs_dir=str(pairs_dir),
            output_dir=str(tmp_path / "tuned"),
            base_model=str(tmp_path / "base"),
            **TINY_STEPS,
        )
    )
    assert summary["batch_size"] == 8, "auto on the CPU: 8 for a pretrained model too"
    assert summary["learning_rate"] == 3e-4 and summary["parameters"] == sum(
        p.numel() for p in T5ForConditionalGeneration(config).parameters()
    )
    assert AutoModelForSeq2SeqLM.from_pretrained(tmp_path / "tuned").config.d_model == 32
    with pytest.raises(FileNotFoundError, match="missing-base"):
        train(
            TrainConfig(
                pairs_dir=str(pairs_dir),
                output_dir=str(tmp_path / "x"),
                base_model=str(tmp_path / "missing-base"),
                **TINY_STEPS,
            )
        )


def test_resume_continues_the_step_count(pairs_dir, tmp_path):
    first = train(TrainConfig(pairs_dir=str(pairs_dir), output_dir=str(tmp_path / "m"), **TINY_STEPS))
    assert first["resumed_from"] is None
    stamp = (tmp_path / "m" / "model.safetensors").stat().st_mtime_ns
    again = train(TrainConfig(pairs_dir=str(pairs_dir), output_dir=str(tmp_path / "m"), **TINY_STEPS))
    assert again["reused"] and again["global_step"] == 6, "a finished run is not trained or exported again"
    assert (tmp_path / "m" / "model.safetensors").stat().st_mtime_ns == stamp
    longer = {**TINY_STEPS, "max_steps": 9}
    second = train(TrainConfig(pairs_dir=str(pairs_dir), output_dir=str(tmp_path / "m"), **longer))
    assert second["resumed_from"].endswith("checkpoint-6") and second["global_step"] == 9
    with pytest.raises(RuntimeError, match="other data or settings"):
        train(
            TrainConfig(pairs_dir=str(pairs_dir), output_dir=str(tmp_path / "m"), **{**longer, "learning_rate": 5e-4})
        )
    fresh = train(
        TrainConfig(
            pairs_dir=str(pairs_dir), output_dir=str(tmp_path / "m"), resume=False, **{**longer, "learning_rate": 5e-4}
        )
    )
    assert fresh["resumed_from"] is None and fresh["global_step"] == 9
    restarted = train(  # make demo's setting: checkpoints of another run are replaced, not refused
        TrainConfig(pairs_dir=str(pairs_dir), output_dir=str(tmp_path / "m"), restart_on_change=True, **TINY_STEPS)
    )
    assert restarted["resumed_from"] is None and restarted["global_step"] == 6


def test_validation_inputs_longer_than_the_length_limit_are_scored(pairs_dir, tmp_path, caplog):
    longer = tmp_path / "pairs"
    shutil.copytree(pairs_dir, longer)
    # 14 categories (training records have at most 6): names are slots, so length comes from the list
    record = {
        "detections": [
            {"label": f"{name} {i}", "confidence": 0.9}
            for i, name in enumerate(["kite", "helmet", "umbrella", "chair", "lamp", "vase", "cup"] * 2)
        ]
    }
    pair = {
        "image": "long/0",
        "split": "val",
        "origin": "synthetic",
        "cv": record,
        "input": linearize(record, "linked_slots", Policy()),
        "output": "Six things.",
    }
    with open(longer / "val.jsonl", "a") as file:
        file.write(json.dumps(pair) + "\n")
    with caplog.at_level(logging.WARNING, logger="helpers"):
        summary = train(
            TrainConfig(
                pairs_dir=str(longer),
                output_dir=str(tmp_path / "m"),
                **{**TINY_STEPS, "eval_samples": 0, "max_source_length": 48},  # the long input is longer
            )
        )
    state = json.loads((tmp_path / "m" / "trainer_state.json").read_text())
    scored = [e["eval_faithfulness"] for e in state["log_history"] if "eval_faithfulness" in e]
    assert summary["lengths"]["input_truncated"] >= 1 and len(scored) == 2, "both evaluations scored every input"
    assert "input text(s) are longer than" in caplog.text


def test_checkpoint_choice_breaks_faithfulness_ties_by_loss_and_an_early_stop_is_reported(caplog):
    import logging

    from transformers import TrainerState

    from helpers.training.callbacks import SelectionMetric, StopReport

    earlier, later = {"eval_faithfulness": 1.0, "eval_loss": 0.9}, {"eval_faithfulness": 1.0, "eval_loss": 0.4}
    better = {"eval_faithfulness": 0.99 + 1 / 100, "eval_loss": 5.0}
    for metrics in (earlier, later, better):
        SelectionMetric().on_evaluate(None, None, None, metrics=metrics)
    assert later["eval_selection"] > earlier["eval_selection"]  # a tie goes to the lower loss
    worse = {"eval_faithfulness": 1.0 - 1 / 300, "eval_loss": 0.0}
    SelectionMetric().on_evaluate(None, None, None, metrics=worse)
    assert worse["eval_selection"] < earlier["eval_selection"]  # loss never outweighs one more faithful sample

    state = TrainerState(max_steps=1000, global_step=600, best_global_step=400)
    state.log_history = [{"step": 400, "eval_faithfulness": 1.0, "eval_loss": 0.3}]
    with caplog.at_level(logging.INFO, logger="helpers.training.callbacks"):
        StopReport(patience=5).on_train_end(None, state, None)
        StopReport(patience=5).on_train_end(None, TrainerState(max_steps=1000, global_step=1000), None)
    assert len(caplog.records) == 1
    assert "stopped early at step 600 of 1000" in caplog.text and "step 400 (faithfulness 1.0, loss 0.3)" in caplog.text
