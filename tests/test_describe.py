"""The describer: guard (rerank, grammar fallback), HF and CTranslate2 backends and their parity, CLI, notebook 04."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest
import torch
from conftest import DESCRIBER_TRAIN as TRAIN

from helpers.core.contract import InputSpec, ModelSettings, Policy
from helpers.describer.backends import Backend, CT2Backend, HFBackend
from helpers.describer.describe import Describer
from helpers.describer.export_ct2 import export
from helpers.text.grammar import RecordError
from helpers.training.train import TrainConfig, train

CONFIG = ModelSettings(
    InputSpec("linked", Policy(0.5, 0.8)),
    base_model="scratch",
    max_source_length=64,
    max_target_length=32,
    max_new_tokens=40,
    num_beams=2,
)
TWO_PLASTIC = {
    "id": "a",
    "detections": [{"label": "plastic", "confidence": 0.9}, {"label": "plastic", "confidence": 0.7}],
    "scene": {"class": "grass", "confidence": 0.95},
}
ONE_TIRE = {"id": "b", "detections": [{"label": "tire", "confidence": 0.8}, {"label": "glass", "confidence": 0.2}]}


class ScriptedBackend(Backend):
    """A backend that returns given hypotheses, to drive the guard's decisions exactly."""

    def __init__(self, answers: dict[str, list[str]]) -> None:
        self.answers = answers  # model input -> hypotheses, best first

    def _batch(self, inputs, num_beams, num_hypotheses, max_new_tokens, batch_size, top_p=0.0, seed=0):
        return [self.answers[text][:num_hypotheses] for text in inputs]


def scripted(answers_by_record: list[tuple[dict, list[str]]], guard: bool = True) -> Describer:
    probe = Describer(None, CONFIG)
    answers = {probe.inputs([record])[0]: texts for record, texts in answers_by_record}
    return Describer(ScriptedBackend(answers), CONFIG, guard=guard)


def test_guard_keeps_a_faithful_top_beam_reranks_and_falls_back_to_the_grammar():
    right_plastic = "Two plastic items lie on the grass."
    describer = scripted(
        [
            (TWO_PLASTIC, ["Three plastic items lie on the grass.", right_plastic]),
            (ONE_TIRE, ["A tire and a glass bottle are visible.", "Two tires are visible."]),
        ]
    )
    first, second = describer.describe_detailed([TWO_PLASTIC, ONE_TIRE])
    assert (first.source, first.text, first.faithful) == ("rerank", right_plastic, True)
    assert second.source == "grammar" and second.faithful and "tire" in second.text
    assert second.hypotheses == ("A tire and a glass bottle are visible.", "Two tires are visible.")
    again = describer.describe_detailed([ONE_TIRE])[0]
    assert again.text == second.text, "the fallback wording is reproducible"
    top = scripted([(TWO_PLASTIC, [right_plastic, "x"])]).describe_detailed([TWO_PLASTIC])[0]
    assert top.source == "model"
    unguarded = scripted([(TWO_PLASTIC, ["Three plastic items lie on the grass."])], guard=False).describe_detailed(
        [TWO_PLASTIC]
    )[0]
    assert (unguarded.source, unguarded.faithful) == ("unchecked", False)


def test_invalid_records_are_refused_naming_the_field():
    describer = scripted([])
    with pytest.raises(RecordError, match=r"record 1 \(id 'x'\): detections\[0\]\.confidence"):
        describer.describe([TWO_PLASTIC, {"id": "x", "detections": [{"label": "tire", "confidence": 1.5}]}])
    with pytest.raises(RecordError, match="'detections' must be a list"):
        describer.describe([{"scene": None}])


def test_a_deliberately_wrong_model_is_caught_by_the_guard(pairs_dir, tmp_path):
    wrong_pairs = tmp_path / "wrong_pairs"
    shutil.copytree(pairs_dir, wrong_pairs)
    for split in ("train", "val", "test"):
        pairs = [json.loads(line) for line in (wrong_pairs / f"{split}.jsonl").read_text().splitlines()]
        # every input is paired with a description of two tyres: the model learns to say that, always
        lines = [json.dumps({**p, "output": "Two tires are visible on the beach."}) for p in pairs]
        (wrong_pairs / f"{split}.jsonl").write_text("\n".join(lines) + "\n")
    train(TrainConfig(pairs_dir=str(wrong_pairs), output_dir=str(tmp_path / "wrong"), **{**TRAIN, "max_steps": 40}))
    records = [TWO_PLASTIC, ONE_TIRE, {"detections": [], "scene": {"class": "rocky", "confidence": 0.9}}]
    raw = Describer.load(tmp_path / "wrong", guard=False).describe_detailed(records)
    assert all("two tires" in r.text.lower() and not r.faithful for r in raw), [r.text for r in raw]
    guarded = Describer.load(tmp_path / "wrong").describe_detailed(records)
    assert [r.source for r in guarded] == ["grammar"] * 3 and all(r.faithful for r in guarded)


def _hf_log_probs(backend: HFBackend, source: str, target: str) -> list[float]:
    encoded = backend.tokenizer([source], return_tensors="pt")
    labels = backend.tokenizer([target], return_tensors="pt")["input_ids"]
    with torch.no_grad():
        logits = backend.model(**encoded, labels=labels).logits
    return torch.log_softmax(logits, -1)[0].gather(-1, labels[0][:, None])[:, 0].tolist()


def _v11_copy(model_dir, target):
    """The same weights as a T5 v1.1 / flan-t5 style model: decoder output not scaled."""
    shutil.copytree(model_dir, target)
    shutil.rmtree(target / "ct2")
    config = json.loads((target / "config.json").read_text())
    config.update(tie_word_embeddings=False, scale_decoder_outputs=False)
    (target / "config.json").write_text(json.dumps(config))
    return target


@pytest.mark.parametrize("kind", ["as_trained", "t5_v1_1_style"])
def test_ct2_export_matches_hf_greedy_beam_and_log_probs(model_dir, pairs_dir, tmp_path, kind):
    folder = model_dir if kind == "as_trained" else _v11_copy(model_dir, tmp_path / "v11")
    if kind != "as_trained":
        export(folder)
    hf = HFBackend(folder, 128)
    assert bool(hf.model.config.scale_decoder_outputs) == (kind == "as_trained")
    ct2 = CT2Backend(folder, 128, device="cpu", compute_type="float32")
    inputs = [json.loads(line)["input"] for line in (pairs_dir / "val.jsonl").read_text().splitlines()][:6]
    inputs.append("litter: 3 kite; 1 plastic after kite | scene: none")
    for beams in (1, 3):
        assert ct2.hypotheses(inputs, beams, 40, num_hypotheses=beams) == hf.hypotheses(
            inputs, beams, 40, num_hypotheses=beams
        )
    target = "Two plastic items and a kite lie on the grass."
    reference = _hf_log_probs(hf, inputs[-1], target)
    assert ct2.score([inputs[-1]], [target])[0] == pytest.approx(reference, abs=1e-3)
    if kind != "as_trained":  # the trap is real: the stock converter scales this model's logits
        from ctranslate2.converters import TransformersConverter

        TransformersConverter(str(folder)).convert(str(tmp_path / "naive"), force=True)
        naive = CT2Backend.__new__(CT2Backend)
        naive.__dict__.update(ct2.__dict__)
        import ctranslate2

        naive.translator = ctranslate2.Translator(str(tmp_path / "naive"), device="cpu")
        assert naive.score([inputs[-1]], [target])[0] != pytest.approx(reference, abs=1e-2)


def test_describer_backends_agree_and_every_guarded_result_is_faithful(model_dir, tmp_path):
    records = [TWO_PLASTIC, ONE_TIRE, {"detections": [], "scene": None}] * 3
    hf = Describer.load(model_dir, "hf").describe_detailed(records, batch_size=4)
    ct2 = Describer.load(model_dir, "ct2", compute_type="float32").describe_detailed(records, batch_size=4)
    assert [r.text for r in hf] == [r.text for r in ct2] and [r.source for r in hf] == [r.source for r in ct2]
    assert all(r.faithful for r in hf) and {r.source for r in hf} <= {"model", "rerank", "grammar"}
    int8 = Describer.load(model_dir, "ct2", compute_type="int8", intra_threads=1).describe(records)
    assert len(int8) == len(records)
    shutil.copytree(model_dir, tmp_path / "no_export", ignore=shutil.ignore_patterns("ct2"))
    with pytest.raises(FileNotFoundError, match="desclm export-ct2"):
        Describer.load(tmp_path / "no_export", "ct2")


def test_cli_keeps_order_reports_bad_lines_and_exit_status(model_dir, tmp_path):
    lines = [
        json.dumps(TWO_PLASTIC),
        "{not json",
        json.dumps({"id": 7, "detections": [{"label": "tire"}]}),
        "",
        json.dumps({"detections": [{"label": "glass", "confidence": 0.9}]}),
        json.dumps(ONE_TIRE),
    ]
    (tmp_path / "in.jsonl").write_text("\n".join(lines) + "\n")
    command = [
        sys.executable,
        "-m",
        "helpers",
        "describe",
        str(model_dir),
        "--input",
        str(tmp_path / "in.jsonl"),
        "--output",
        str(tmp_path / "out.jsonl"),
    ]
    command += ["--max_grammar_share", "1"]  # the fixture's brief training leaves lines to the grammar: not tested here
    done = subprocess.run([*command, "--backend", "ct2", "--batch_size", "2"], capture_output=True, text=True)
    assert done.returncode == 1, done.stderr
    out = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert len(out) == len(lines)
    assert [o["id"] for o in out] == ["a", 2, 7, 4, 5, "b"], "the id, else the image, else the line number"
    assert [("error" in o) for o in out] == [False, True, True, True, False, False]
    assert "confidence" in out[2]["error"] and "line 3" in out[2]["error"] and "JSON" in out[1]["error"]
    assert all(o["source"] in {"model", "rerank", "grammar"} and o["description"] for o in out if "error" not in o)
    (tmp_path / "good.jsonl").write_text(json.dumps(TWO_PLASTIC) + "\n")
    good = subprocess.run(
        [
            sys.executable,
            "-m",
            "helpers",
            "describe",
            str(model_dir),
            "--input",
            str(tmp_path / "good.jsonl"),
            "--output",
            str(tmp_path / "good_out.jsonl"),
            "--no_guard",
        ],
        capture_output=True,
        text=True,
    )
    assert good.returncode == 0, good.stderr
    assert json.loads((tmp_path / "good_out.jsonl").read_text())["source"] == "unchecked"


def test_a_describer_without_its_model_has_the_settings_and_guard_of_the_loaded_one(model_dir):
    """The Ray engine's driver records the output's settings without loading the weights."""
    from helpers.describer.run import output_settings

    load = {"style": None, "num_captions": 2, "seed": 3}
    loaded, settings_only = Describer.load(model_dir, **load), Describer.load(model_dir, with_model=False, **load)
    assert settings_only.backend is None and loaded.backend is not None
    assert output_settings(settings_only) == output_settings(loaded)
    assert settings_only.checker == loaded.checker and settings_only.model_input == loaded.model_input
    with pytest.raises(RuntimeError, match="without its model"):
        settings_only.generate(["plastic:1"])
    with pytest.raises(ValueError, match="style"):  # the folder and settings are still checked
        Describer.load(model_dir, with_model=False, style="no such style")


def test_a_batch_that_runs_out_of_gpu_memory_is_generated_in_halves(model_dir, monkeypatch, caplog):
    """A large batch_size stays safe on a small GPU: the batch is split, later ones no larger than what fitted."""
    from helpers.describer.bench import benchmark_records

    describer = Describer.load(model_dir, device="cpu", guard_workers=0)
    inputs = describer.inputs(benchmark_records(8))
    expected = describer.backend.hypotheses(inputs, 1, 20, batch_size=2)
    generate, sizes = describer.backend.model.generate, []

    def small_gpu(**kwargs):
        sizes.append(len(kwargs["input_ids"]))
        if sizes[-1] > 2:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory (scripted)")
        return generate(**kwargs)

    monkeypatch.setattr(describer.backend.model, "generate", small_gpu)
    assert describer.backend.hypotheses(inputs, 1, 20, batch_size=4) == expected
    assert sizes == [4, 2, 2, 2, 2], "one batch ran out of memory; the next was split before generating"
    assert describer.backend.fits == 2 and "ran out of GPU memory" in caplog.text
    describer.backend.fits = None
    monkeypatch.setattr(describer.backend.model, "generate", lambda **kwargs: small_gpu(input_ids=[0, 0, 0]))
    with pytest.raises(torch.cuda.OutOfMemoryError):  # one record that does not fit: the caller's error line
        describer.backend.hypotheses(inputs[:1], 1, 20, batch_size=4)


def test_benchmark_prints_ratios(model_dir):
    done = subprocess.run(
        [sys.executable, "-m", "helpers", "bench", "describe", str(model_dir), "--records", "8", "--batch_size", "4"],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    assert [line.split()[0] for line in done.stdout.splitlines()] == ["hf", "ct2", "ct2"] and "vs HF" in done.stdout


def test_policy_and_beams_come_from_the_model_folder(model_dir, tmp_path):
    copy = tmp_path / "model"
    shutil.copytree(model_dir, copy)
    values = json.loads((copy / "llm_config.json").read_text())
    (copy / "llm_config.json").write_text(json.dumps({**values, "min_confidence": 0.2, "num_beams": 2}))
    describer = Describer.load(copy)
    assert describer.policy == Policy(0.2, values["scene_min_confidence"]) and describer.settings.num_beams == 2
    record = {"detections": [{"label": "plastic", "confidence": 0.3}], "scene": None}
    [result] = describer.describe_detailed([record])
    assert result.expected.counts == {"plastic": 1} and len(result.hypotheses) == 2 and result.faithful


def test_labels_in_any_script_never_stop_the_describer():
    """Issue 15, item 1: such a label crashed the fact extractor, even below the threshold."""
    records = [
        {"detections": [{"label": label, "confidence": 0.9}, {"label": "plastic", "confidence": 0.2}], "scene": None}
        for label in ("бутылка", "瓶子", "🍾", "#")
    ] + [{"detections": [{"label": "ペットボトル", "confidence": 0.1}], "scene": None}]
    describer = scripted([(record, ["No litter is visible."]) for record in records])
    results = describer.describe_detailed(records)
    # "No litter is visible." is right only for the last record, whose one detection is below the threshold
    assert [r.source for r in results] == ["grammar"] * 4 + ["model"] and all(r.faithful for r in results)
    assert results[0].expected.counts == {"бутылка": 1} and results[-1].expected.counts == {}


def test_the_guard_passes_over_a_true_sentence_with_an_agreement_slip():
    slip = "This photo contains two plastic item on the grass."
    fine = "Two plastic items lie on the grass."
    from helpers.text.facts import agreement_errors, extract

    assert extract(slip, ["plastic"]).facts().counts == {"plastic": 2}  # the slip states the facts ...
    assert agreement_errors(slip, ["plastic"])  # ... in broken grammar
    first = scripted([(TWO_PLASTIC, [slip, fine])]).describe_detailed([TWO_PLASTIC])[0]
    assert (first.source, first.text) == ("rerank", fine)
    only = scripted([(TWO_PLASTIC, [slip])]).describe_detailed([TWO_PLASTIC])[0]
    assert only.source == "grammar" and only.faithful and only.text != slip


@pytest.mark.parametrize("backend", ["hf", "ct2"])
def test_nucleus_sampling_is_seeded_guarded_and_more_varied(model_dir, backend):
    records = [TWO_PLASTIC, ONE_TIRE] * 8  # repeated inputs: beam search writes each the same way every time
    beam = Describer.load(model_dir, backend).describe_detailed(records)
    sampled = Describer.load(model_dir, backend, top_p=0.95, seed=3).describe_detailed(records)
    again = Describer.load(model_dir, backend, top_p=0.95, seed=3).describe_detailed(records)
    assert [d.text for d in sampled] == [d.text for d in again], "the same seed gives the same sentences"
    assert all(d.faithful for d in sampled), "every sample is still checked by the guard"
    assert len({d.hypotheses for d in sampled}) > len({d.hypotheses for d in beam}) == 2
    with pytest.raises(ValueError, match="top_p must be in 0..1"):
        Describer.load(model_dir, backend, top_p=1.5)


def test_describing_a_file_reads_it_as_it_goes_so_memory_stays_flat(model_dir, tmp_path):
    """A 10^7-record file must not be held in memory: the lines reach the engine as the file is read
    (an engine that answers each line with an error line stands in for the model, to time the reading only)."""
    import tracemalloc

    from helpers.core.records import chunks
    from helpers.describer.run import describe_file

    class Answering:
        def run(self, numbered, with_line_numbers):
            for chunk in chunks(numbered, 512):
                yield [json.dumps({"id": number, "error": "not described"}) + "\n" for number, _ in chunk]

    line = json.dumps({"detections": [{"label": "plastic", "confidence": 0.9}], "scene": {"class": "grass"}})
    source = tmp_path / "cv.jsonl"
    with source.open("w") as file:
        for index in range(100_000):
            file.write(line.replace("grass", f"grass{index}") + "\n")
    describer = Describer.load(model_dir)
    tracemalloc.start()
    counts = describe_file(describer, source, tmp_path / "out.jsonl", engine=Answering())
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert counts["error"] == 100_000
    assert peak < source.stat().st_size / 10, f"peak {peak} bytes for a {source.stat().st_size}-byte input"
