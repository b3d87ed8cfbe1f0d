"""The README and docs stay true: the example sentence is one the grammar writes, every command they
name is a `desclm` command, and each number is the saved measurement it quotes."""

from __future__ import annotations

import json
import random
import re
import runpy

import yaml

from helpers.core.paths import PROJECT_ROOT
from helpers.demo.dataset import GENERATOR_VERSION as DEMO_GENERATOR
from helpers.demo.dataset import DemoDatasetSpec
from helpers.text.grammar import describe
from helpers.training.config import TrainConfig

README = (PROJECT_ROOT / "README.md").read_text()


def test_readme_example_sentence_is_what_the_grammar_writes_for_its_record():
    block = README.split("```", 2)[1]
    record_text, sentence = block.split("──▶")
    record = json.loads(record_text)
    claimed = re.search(r'"(.+)"', sentence).group(1)
    assert describe(record, random.Random(2)) == claimed


def test_every_command_in_the_readme_and_docs_is_a_desclm_command():
    from helpers.commands import COMMANDS

    texts = [README] + [page.read_text() for page in (PROJECT_ROOT / "docs").glob("*.md")]
    named = {name for text in texts for name in re.findall(r"`desclm ([\w-]+)", text)}
    assert named and named <= set(COMMANDS), named - set(COMMANDS)
    assert not [text for text in texts if re.search(r"-m\s+helpers\.", text)], "the old module entry points are gone"


MEASUREMENTS = PROJECT_ROOT / "docs" / "measurements"


def _doc_words(name: str) -> str:
    """A page of docs/ with its line breaks and runs of spaces as single spaces (numbers are looked for in it)."""
    return " ".join((PROJECT_ROOT / "docs" / name).read_text().split())


def _measured(name: str):
    """A measurement file of docs/measurements/."""
    return json.loads((MEASUREMENTS / name).read_text())


def test_the_readme_gpu_table_is_the_one_the_saved_gpu_check_run_gives():
    from helpers.commands.gpu_check import markdown_table

    rows = [json.loads(line) for line in (MEASUREMENTS / "gpu_check_h200.jsonl").read_text().splitlines()]
    block = README.split("<!-- gpu_check table")[1].split("-->", 1)[1].split("<!-- end -->")[0]
    assert block.strip() == markdown_table(rows).strip()


def test_the_readme_cpu_ratios_are_the_saved_benchmark_outputs():
    describe = (MEASUREMENTS / "bench_describe_flan-t5-small_cpu.txt").read_text()
    int8 = re.search(r"^ct2 int8 .* (x\d+\.\d+) vs HF", describe, re.MULTILINE).group(1)
    null = re.search(r"(x\d+\.\d) vs full decode", (MEASUREMENTS / "bench_extract_null_cpu.txt").read_text()).group(1)
    adapters = json.loads((MEASUREMENTS / "bench_train_adapters_flan-t5-base_cpu.txt").read_text().splitlines()[-1])
    memory = adapters[1]["peak_memory_mib"] / adapters[0]["peak_memory_mib"]
    text = " ".join(README.split())  # as read, line breaks aside
    assert f"CTranslate2 int8 {int8} vs HF" in text and f"{null} vs a full-resolution decode" in text
    assert f"x{memory:.2f} the peak memory" in text


def test_the_variety_numbers_in_the_describer_doc_are_the_saved_measurement():
    runs = _measured("variants_demo_cpu.json")["runs"]
    first, before, after = runs["A, variants 0"], runs["B, variants 0"], runs["B, variants 8"]
    text = _doc_words("04_describer.md")
    assert f"{first['test_unique_ratio']['raw_model']} of its sentences were unique" in text
    assert f"grammar's {first['test_unique_ratio']['grammar']}" in text
    was, now = before["test_unique_ratio"]["raw_model"], after["test_unique_ratio"]["raw_model"]
    assert f"unique share {was} -> {now} (grammar {after['test_unique_ratio']['grammar']})" in text
    assert after["test_unique_ratio"]["guarded"] == after["test_unique_ratio"]["raw_model"]
    was, two = before["test_distinct_2"]["raw_model"], after["test_distinct_2"]
    assert f"distinct-2 {was} -> {two['raw_model']} (grammar {two['grammar']})" in text
    for run in (before, after):
        assert set(run["guarded_faithful"].values()) == {1.0} and run["guarded_writing_errors"] == 0
    for group, name in (
        ("many_detections", "many detections"),
        ("label_variants", "label variants"),
        ("weak_scene", "weak scene"),
    ):
        assert f"{name} {before['raw_model_faithful'][group]} -> {after['raw_model_faithful'][group]}" in text
    random_b = runs["B, random variants 8"]["raw_model_faithful"]
    assert f"(the same data: many detections {random_b['many_detections']}, empty photos {random_b['empty']})" in text


def test_the_spatial_numbers_in_the_descriptions_doc_are_the_saved_measurement():
    runs = _measured("spatial_demo_cpu.json")["runs"]
    off, on = runs["spatial false (make demo)"]["raw_model_faithful"], runs["spatial true"]
    text = _doc_words("02_descriptions.md")
    raw = on["raw_model_faithful"]
    assert f"from {min(off.values())}-{max(off.values())} per group to {min(raw.values())}-{max(raw.values())}" in text
    assert f"(many detections {raw['many_detections']}, label variants {raw['label_variants']})" in text
    assert f"up to {max(on['fallback_rate'].values()):.1%} of records" in text
    assert set(on["guarded_faithful"].values()) == {1.0} and "guarded output stays 100% faithful" in text


def _group_words(group: str) -> str:
    return group.replace("_", " ").replace("low confidence", "low-confidence")


def test_the_seed_comparisons_in_the_describer_doc_are_the_saved_measurements():
    text = _doc_words("04_describer.md")
    first = _measured("variants_seeds_demo_cpu.json")
    unseen = first["paired_by_record"]["unseen_labels"]
    assert f"({unseen['worse']} records to {unseen['better']}, one-sided p = {unseen['p_value_variants_worse']}" in text
    short = _measured("variants_short_records_demo_cpu.json")["paired_by_record"]
    assert f"{short['unseen_labels']['worse']} to {short['unseen_labels']['better']} (p = " in text
    now = _measured("variants_seeds_coverage_demo_cpu.json")
    without, with_variants = (now["means"][k]["raw_model_faithful"] for k in ("variants 0", "variants 8"))
    for group in without:
        assert f"{_group_words(group)} {without[group]} -> {with_variants[group]}" in text, group
    unique = now["means"]["variants 8"]["test_unique_ratio"]
    assert f"unique share {unique['raw_model']} (grammar {unique['grammar']})" in text
    ranges = [r for m in now["means"].values() for r in m["raw_model_faithful_range"].values()]
    assert f"the seed alone moves a group by up to {max(high - low for low, high in ranges) * 100:.0f} points" in text
    for group, paired in now["paired_by_record"].items():
        worse, better, p_value = paired["worse"], paired["better"], paired["p_value_variants_worse"]
        if p_value < 0.05:
            assert f"{_group_words(group)} ({worse} to {better}, p = {p_value})" in text, group
    assert now["means"]["variants 8"]["guarded_faithful_min"] == 1.0 and "guarded output stays 100% faithful" in text
    aligned = _measured("variants_aligned_pairs_demo_cpu.json")
    without, with_variants = (aligned["means"][k]["raw_model_faithful"] for k in ("variants 0", "variants 8"))
    for group in ("low_confidence_noise", "weak_scene", "label_variants", "many_detections"):
        assert f"{_group_words(group)} {without[group]} -> {with_variants[group]}" in text, group
    for group, words in (("low_confidence_noise", "records to"), ("weak_scene", "to")):
        paired = aligned["paired_by_record"][group]
        assert f"({paired['worse']} {words} {paired['better']}, p = {paired['p_value_variants_worse']})" in text
    unique = {k: aligned["means"][k]["test_unique_ratio"] for k in ("variants 0", "variants 8")}
    assert (
        f"unique share {unique['variants 0']['raw_model']} -> {unique['variants 8']['raw_model']} "
        f"(grammar {unique['variants 8']['grammar']})"
    ) in text
    size = _measured("size_medium_demo_cpu.json")
    medium, tiny = (size["means"][k]["raw_model_faithful"]["many_detections"] for k in ("medium", "tiny"))
    many = size["paired_by_record"]["many_detections"]
    assert f"many detections {medium} against {tiny} ({many['worse']} records to {many['better']}, p = " in text
    assert many["p_value_arm_worse"] < 0.05


def _val_test(scores: dict) -> str:
    return f"{scores['val']:.2f}/{scores['test']:.2f}"


def test_the_demo_recipe_numbers_in_the_cv_doc_are_the_saved_sweeps_and_build():
    rounds = [
        json.loads((MEASUREMENTS / f"demo_recipe_sweep_round{n}_h100.json").read_text())["runs"] for n in (1, 2, 3)
    ]
    text = _doc_words("01_cv_extract.md")
    first, second, third = ({name: run["map50"] for name, run in r.items() if "map50" in r[name]} for r in rounds)
    yolo = "yolo {} imgsz {} width {} epochs {}"
    assert f"scored {_val_test(first[yolo.format('d0', 256, 0.25, 20)])} after the 20 epochs" in text
    assert f"{_val_test(first[yolo.format('d0', 256, 0.25, 40)])} after 40" in text
    curve = rounds[0][yolo.format("d0", 256, 0.25, 80)]["curve"]
    assert f"first read 0.70 at epoch {next(i + 1 for i, v in enumerate(curve) if v >= 0.7)} of an 80-epoch run" in text
    assert f"{_val_test(second[yolo.format('d0', 256, 0.25, 20)])}; a closer camera" in text
    far, near = (_val_test(second[yolo.format(data, 256, 0.25, 30)]) for data in ("d0", "d1"))
    assert f"from {far} to {near}" in text
    for steps in (250, 500, 1000):
        assert f"{steps} steps {_val_test(third[f'rtdetr d1 steps {steps} lr 0.0005'])}" in text
    build = _measured("demo_models_manifest_cpu.json")
    scores = build["scores"]
    for name in ("yolo", "hf"):
        assert _val_test({split: scores[split][f"{name}_map50"] for split in ("val", "test")}) in text
    assert build["spec"]["yolo_epochs"] == 30 and build["spec"]["rtdetr_steps"] == 500
    assert build["data"]["generator_version"] == DEMO_GENERATOR, "the saved build is of today's demo set"
    scene = "/".join(f"{100 * scores[split]['scene_accuracy']:g}%" for split in ("val", "test"))
    assert f"(scene classifier {scene})" in text
    confusion = _measured("class_confusion_demo_cpu.json")["builds"]
    old, new = (confusion[f"generator {n}"]["yolo"]["confusion"] for n in (3, 4))

    def right_of_found(table: dict, label: str) -> str:
        return f"{table[label].get(label, 0)} of {sum(n for said, n in table[label].items() if said != '-')}"

    assert f"right class to {right_of_found(old, 'glass').replace(' of ', ' of the ')} glass objects" in text
    assert f"found and {right_of_found(old, 'metal')} cans" in text
    assert f"names {right_of_found(new, 'glass')} glass and {right_of_found(new, 'metal')} cans right" in text
    assert f"{build['seconds']['yolo_detector']:.0f} s and {build['seconds']['rtdetr']:.0f} s" in text
    aligned = _measured("aligned_scores_demo_cpu.json")
    ensemble, validation = aligned["ensemble"], aligned["ensemble"]["validation"]
    conf, weights = ensemble["conf"], ensemble["weights"]
    assert weights["yolo"] == 1.0
    chosen = f"YOLO at {conf['yolo']}, RT-DETR at {conf['hf']} with weight {weights['hf']}"
    assert f"{chosen} and `{ensemble['conf_type']}`" in text
    assert f"per-photo count accuracy on the validation photos is {validation['count_accuracy']}" in text
    before, tested = validation["before"], ensemble["significance"]
    assert f"({before['count_accuracy']} at the defaults: {tested['better']} photos better" in text
    p_value = "p < 0.001" if tested["p_value"] < 0.001 else f"p = {tested['p_value']:.3f}"
    assert f"none worse, {p_value})" in text and tested["worse"] == 0
    clean = f"littered photos called clean {validation['littered_called_clean']} of {validation['photos']}"
    assert f"{clean} ({before['littered_called_clean']})" in text


def test_the_aligned_scores_numbers_in_the_cv_doc_are_the_saved_measurement():
    text = _doc_words("01_cv_extract.md")
    totals = _measured("aligned_scores_demo_cpu.json")["totals"]
    aligned, defaults = totals["calibrated, scores aligned"], totals["defaults (0.5, 0.5, max)"]
    assert aligned["photos"] == defaults["photos"] == 120 and aligned["littered_photos"] == defaults["littered_photos"]
    assert (
        f"called {aligned['littered_called_clean']} of {aligned['littered_photos']} littered photos clean, the "
        f"defaults it replaced {defaults['littered_called_clean']}; photos described truly: "
        f"{aligned['true_photos']} against {defaults['true_photos']}"
    ) in text


def test_the_decoding_numbers_in_the_training_doc_are_the_saved_measurement():
    text = _doc_words("03_training.md")
    saved = _measured("decoding_beams_demo_cpu.json")
    runs = saved["runs"]

    def mean(setting: str, beams: int, group: str) -> float:
        return round(sum(runs[f"{setting}, seed {s}"][f"beams {beams}"][group] for s in range(3)) / 3, 4)

    for group in ("low_confidence_noise", "label_variants", "weak_scene", "unseen_labels", "empty", "test"):
        assert f"{_group_words(group)} {mean('variants 8', 4, group)} -> {mean('variants 8', 1, group)}" in text
    groups = runs["variants 0, seed 0"]["beams 1"]
    assert all(round(abs(mean("variants 0", 1, g) - mean("variants 0", 4, g)), 4) <= 0.01 for g in groups)
    against = saved["paired"]["variants 8 beams 1 vs variants 0 beams 4"]
    assert all(paired["p_value_worse"] >= 0.05 for paired in against.values()), "no group less faithful by chance"
    noise = against["low_confidence_noise"]
    assert f"low-confidence noise {noise['worse']} to {noise['better']}, p = {noise['p_value_worse']}" in text
    for group in ("weak_scene", "many_detections", "label_variants"):
        assert f"{_group_words(group)} {against[group]['worse']} to {against[group]['better']}" in text
    lower = [g for g in groups if mean("variants 8", 1, g) < mean("variants 0", 4, g)]
    assert lower == ["low_confidence_noise", "weak_scene"]
    for group in lower:
        assert f"{_group_words(group)} ({mean('variants 8', 1, group)} against {mean('variants 0', 4, group)})" in text
        assert round(mean("variants 0", 4, group) - mean("variants 8", 1, group), 4) <= 0.005  # "half a point", docs/04
    assert f"`num_beams` (saved in `llm_config.json`) is {TrainConfig().num_beams}:" in text  # the doc follows 03


def test_the_truth_limits_in_the_cv_doc_are_the_saved_measurements():
    text = _doc_words("01_cv_extract.md")
    headroom = _measured("demo_truth_headroom_cpu.json")
    photos = headroom["photos"]

    def true_photos(scored: dict) -> int:
        return round(scored["count_accuracy"] * photos)

    calibrated, best = true_photos(headroom["calibrated"]), true_photos(headroom["best_on_these_photos"])
    assert f"every count right on {calibrated} of {photos} photos" in text
    assert f"chosen on those very photos, {best}," in text and best >= calibrated
    alone = max(headroom["yolo_alone"].items(), key=lambda item: item[1]["count_accuracy"])
    assert f"alone at its best threshold ({alone[0]}), {true_photos(alone[1])}." in text
    buckets = headroom["calibrated_exact_by_objects"]
    middle = [buckets[k] for k in ("3", "4", "5")]
    for words, bucket in (
        ("none", buckets["0"]),
        ("one", buckets["1"]),
        ("two", buckets["2"]),
        ("six or more", buckets["6"]),
    ):
        assert f"{words} {bucket['exact']} of {bucket['photos']}" in text
    assert f"three to five {sum(b['exact'] for b in middle)} of {sum(b['photos'] for b in middle)}" in text
    arms = _measured("demo_yolo_recipe_gen4_cpu.json")["arms"]
    longer, mosaic = arms["40 epochs, close_mosaic 4"], arms["30 epochs, close_mosaic 10"]
    assert arms["30 epochs, close_mosaic 4 (make demo)"]["unseen_true_photos"] == calibrated
    assert f"40 epochs ({longer['yolo_seconds']} s) took the YOLO to {_val_test(_yolo(longer))}" in text
    assert f"stayed at {longer['unseen_true_photos']} ({longer['unseen_littered_called_clean']} littered" in text
    gave = f"{_val_test(_yolo(mosaic))} and {mosaic['unseen_true_photos']}"
    assert f"`close_mosaic` 10 gave {gave} ({mosaic['unseen_littered_called_clean']} called clean" in text
    assert f"is not reached ({100 * calibrated / photos:.0f}%)" in text


def _yolo(arm: dict) -> dict:
    return {split: arm["scores"][split]["yolo_map50"] for split in ("val", "test")}


def test_the_one_label_per_object_numbers_in_the_cv_doc_are_the_saved_measurement():
    text = _doc_words("01_cv_extract.md")
    saved = _measured("one_label_per_object_demo_cpu.json")
    off, tried = saved["arms"]["off (the grid before)"], saved["arms"]["tried (the grid now)"]
    assert off["choice"]["agnostic_iou"] == 1.0 and tried["choice"]["agnostic_iou"] == 0.5
    photos = saved["unseen_photos"]
    before, after = off["end_to_end_true_photos"], tried["end_to_end_true_photos"]
    assert f"calibrated without it, {before} of {photos} unseen photos" in text
    assert f"with it (calibration chose 0.5), {after}, {saved['unseen_only_exact_with']['tried']} photos made" in text
    assert f"and none lost, {tried['end_to_end_littered_called_clean']} littered photo called clean either" in text
    assert saved["unseen_only_exact_with"]["off"] == 0
    assert off["end_to_end_littered_called_clean"] == tried["end_to_end_littered_called_clean"]
    kinds = tried["unseen_kinds"]
    assert f"({off['unseen_kinds']['only extras']} photos with only extras, {kinds['only extras']} after)" in text
    assert f"a right total with a wrong class {kinds['right total, wrong class']}" in text
    assert f"only misses {kinds['only misses']}, mixed {kinds['mixed']}" in text
    assert f"took another build from {before} to {after} of {photos} ({100 * after / photos:.0f}%)" in text
    scores = saved["models"]["scores"]
    for name in ("yolo", "hf"):
        assert _val_test({split: scores[split][f"{name}_map50"] for split in ("val", "test")}) in text
    seconds = saved["models"]["seconds"]
    assert f"trained in {seconds['yolo_detector']:.0f} s and {seconds['rtdetr']:.0f} s" in text


def _install_and_photos(run: dict) -> float:
    """A make demo record's seconds outside the model build and the notebooks: install and photos."""
    timings = run["timings"]
    return timings["total"] - run["models"]["total_seconds"] - sum(v for k, v in timings.items() if k != "total")


def test_the_make_demo_run_in_the_cv_doc_is_the_saved_fresh_clone_record():
    text = _doc_words("01_cv_extract.md")
    run = _measured("make_demo_fresh_clone_cpu.json")
    before = _measured("make_demo_fresh_clone_float32_cpu.json")
    models, timings = run["models"], run["timings"]
    assert models["data"]["n_valid"] == DemoDatasetSpec().n_valid, "the saved run is of today's demo set"
    assert models["data"]["generator_version"] == DEMO_GENERATOR
    assert models["precision"] == "bf16" and "precision" not in before["models"]  # float32 was the only one then

    def maps(models: dict) -> str:
        scores = models["scores"]
        return " and ".join(_val_test({s: scores[s][f"{n}_map50"] for s in ("val", "test")}) for n in ("yolo", "hf"))

    seconds, old = models["seconds"], before["models"]["seconds"]
    assert f"took {before['timings']['total']:.0f} s in float32" in text
    assert f"the YOLO {old['yolo_detector']:.0f} s, RT-DETR {old['rtdetr']:.0f} s, install and photos" in text
    assert f"install and photos {_install_and_photos(before):.0f} s), over issue 14's 15 minutes" in text
    assert f"scored {maps(models)} (float32: {maps(before['models'])}), trained the YOLO in" in text
    assert f"YOLO in {seconds['yolo_detector']:.0f} s and RT-DETR in" in text
    assert f"{seconds['rtdetr']:.0f} s (the model build {models['total_seconds']:.0f} s)" in text
    verdict = run["verdict"]
    assert verdict["littered_called_clean"] == 0 and verdict["truth_photos"] == 40
    assert f"its 04 found {100 * verdict['truth_end_to_end']:.0f}% of the 40 test photos described truly" in text
    notebooks = {name: timings[name] for name in timings if name != "total"}
    assert f"The whole run took {timings['total']:.0f} s, about {timings['total'] / 60:.1f} minutes" in text
    shown = ", ".join(f"{name[:2]} {seconds:.0f} s" for name, seconds in notebooks.items())
    assert f"notebooks {shown.replace(', 04', ' and 04')}, install and photos {_install_and_photos(run):.0f} s" in text
    trained = seconds["yolo_detector"] + seconds["rtdetr"] + timings["03_train_t5"]
    assert "Issue 14's 15 minutes is met" in text and timings["total"] <= 15 * 60
    assert f"take {trained:.0f} s of it" in text
    unseen = _measured("unseen_truth_demo_cpu.json")["runs"].values()
    assert [r["seed"] for r in unseen] == list(range(1, 10)) and {r["photos"] for r in unseen} == {40}
    true = sum(round(r["end_to_end"]["true"] * r["with_ground_truth"]) for r in unseen)
    photos = sum(r["with_ground_truth"] for r in unseen)
    assert {r["describer_on_truth"]["true"] for r in unseen} == {1.0}, "the describer given the ground truth on all"
    shares = [r["end_to_end"]["true"] for r in unseen]
    assert f"true end to end on {true} of {photos} ({100 * true / photos:.0f}%; per seed of 40 photos from" in text
    assert f"from {100 * min(shares):.0f}% to {100 * max(shares):.0f}%)" in text
    clean = sum(r["end_to_end"]["littered_called_clean"] for r in unseen)
    littered = sum(r["end_to_end"]["littered_photos"] for r in unseen)
    assert f"{clean} of {littered} littered photos were called clean" in text and clean == 0
    assert true / photos >= 0.6 and "met on the 360 together, not on every 40 of them" in text
    assert min(shares) < 0.6 <= true / photos


def test_the_colour_augmentation_numbers_in_the_cv_doc_are_the_saved_measurements():
    from helpers.demo.yolo import YOLO_COLOUR_AUGMENTATION

    text = _doc_words("01_cv_extract.md")
    now = _measured("yolo_colour_augmentation_demo_cpu.json")
    assert now["demo_recipe_hsv"] == YOLO_COLOUR_AUGMENTATION == {"hsv_s": 0.2, "hsv_v": 0.15}  # "20% and 15%"
    demo, default = now["arms"]["demo recipe"], now["arms"]["Ultralytics default"]
    assert f"YOLO mAP@0.5 {_val_test(_yolo(demo))} against {_val_test(_yolo(default))} with Ultralytics'" in text
    few, all_ = "calibrated on 40 validation photos", "calibrated on 120 validation photos"
    assert demo[few]["choice"] == default[few]["choice"], "one ensemble setting for both"
    photos, wrong = now["unseen_photos"], "right total, wrong class"
    assert (
        f"{demo[few]['end_to_end_true_photos']} of {photos} unseen photos were described truly end to end against "
        f"{default[few]['end_to_end_true_photos']}, photos with a right total and a wrong class "
        f"{demo[few]['unseen_kinds'][wrong]} against {default[few]['unseen_kinds'][wrong]}"
    ) in text
    made = now["unseen_only_exact_with (all validation photos)"]
    assert (
        f"{demo[all_]['end_to_end_true_photos']} against {default[all_]['end_to_end_true_photos']} "
        f"({made['demo recipe']} photos right only with the milder recipe, {made['Ultralytics default']} only"
    ) in text
    clean = demo[all_]["end_to_end_littered_called_clean"]
    assert f"called clean {clean} against {default[all_]['end_to_end_littered_called_clean']} of" in text
    share = demo[all_]["end_to_end_true_photos"] / photos
    assert share >= 0.6 and clean == 0 and f"was met by that float32 build ({100 * share:.0f}%)" in text
    old = _measured("yolo_colour_augmentation_val40_demo_cpu.json")["arms"]
    kept = old["demo recipe"]
    assert kept["choice"]["conf"] == {"yolo": 0.5, "hf": 0.5}, "the 40-photo calibration kept the defaults"
    assert (
        f"(validation count accuracy {kept['validation_count_accuracy']} kept; unseen photos described truly "
        f"{kept['end_to_end_true_photos']} of 120, littered called clean {kept['end_to_end_littered_called_clean']};"
    ) in text
    assert not demo[all_]["defaults_kept"]
    end = f"{demo[all_]['end_to_end_true_photos']} and {clean}"
    assert f"calibrated on all 120, the same build gets {end}. On 120 photos the test adopts" in text
    tested = demo[all_]["significance"]
    assert f"({tested['better']} photos better, {tested['worse']} worse, p = {tested['p_value']:.4f})" in text
    assert f"on another 40 photos it passed (p = {demo[few]['significance']['p_value']:.3f})" in text


def test_the_neighbourhood_calibration_numbers_in_the_cv_doc_are_the_saved_measurement():
    text = _doc_words("01_cv_extract.md")
    builds = _measured("calibration_neighbourhood_demo_cpu.json")["builds"]
    assert [b["precision"] for b in builds] == ["float32", "bf16"] and {b["unseen_photos"] for b in builds} == {120}

    def said(build: dict, rule: str) -> tuple[int, int]:
        numbers = build["rules"][rule]
        return numbers["unseen_exact"], numbers["unseen_littered_called_clean"]

    (old32, clean_old32), (new32, clean_new32) = (said(builds[0], r) for r in builds[0]["rules"])
    (old16, clean_old16), (new16, clean_new16) = (said(builds[1], r) for r in builds[1]["rules"])
    assert f"best setting counted {old32} unseen photos right (littered called clean {clean_old32})" in text
    assert f"the neighbourhood's {new32} ({clean_new32}); the bf16 build's (below) {old16} ({clean_old16})" in text
    assert f"against {new16} ({clean_new16})" in text
    best = " and ".join(str(b["unseen_best_of_grid"]) for b in builds)
    assert f"chosen on the unseen photos themselves counts {best}." in text


def test_the_part_thinning_numbers_in_the_cv_doc_are_the_saved_measurement():
    from helpers.cv.calibrate import AGNOSTIC_IOSS, candidate_settings

    text = _doc_words("01_cv_extract.md")
    saved = _measured("part_boxes_demo_cpu.json")
    extras = saved["extra_boxes_before"].values()
    total = sum(e["described_boxes"].get("extra box on a matched object", 0) for e in extras)
    assert total == sum(len(e["extra_boxes_iou_ios"]) for e in extras)
    under = sum(e["extra_boxes_with_iou_under_0.5"] for e in extras)
    inside = sum(e["extra_boxes_with_ios_over_0.7"] for e in extras)
    assert f"{total} described boxes were a second box on an object already described, every one" in text
    assert under == total, "one label per object (IoU 0.5) left only boxes overlapping less"
    assert f"and {inside} lying more than 70% inside it" in text and inside > total / 2
    pairs, close = (sum(e[k] for e in extras) for k in ("two_objects_overlapping", "two_objects_ios_over_0.7"))
    assert f"({close} of the {pairs} overlapping pairs of described objects did, beyond 0.7)" in text
    assert AGNOSTIC_IOSS == (1.0, 0.9, 0.8, 0.7) and "tries 0.9, 0.8 and 0.7" in text
    assert f"{len(candidate_settings(['yolo', 'hf'])):,} settings" in text
    before, now = saved["rules"]["without part thinning (version 4)"], saved["rules"]["with part thinning (now)"]
    assert now["setting"]["agnostic_ios"] < 1.0 == before["setting"]["agnostic_ios"]
    assert f"counted right {now['validation']['exact']} against {before['validation']['exact']};" in text
    groups = ("seeds 1-3", "seeds 4-6", "seeds 7-9")

    def each(rule: dict, key: str) -> str:
        return "/".join(str(rule[g][key]) for g in groups)

    assert f"unseen photos counted right {each(now, 'exact')} against {each(before, 'exact')} (seeds 1-3" in text
    clean = f"littered photos called clean {each(now, 'littered_called_clean')} against"
    assert f"{clean} {each(before, 'littered_called_clean')}, clean photos called littered" in text
    littered = f"{each(now, 'clean_called_littered')} against {each(before, 'clean_called_littered')}"
    assert f"clean photos called littered {littered}. The" in text
    assert sum(now[g]["littered_called_clean"] for g in groups) == 0
    assert now["setting"]["conf_type"] == "max" and now["setting"]["weights"] == {"yolo": 1.0, "hf": 1.0}
    assert f"RT-DETR at {now['setting']['conf']['hf']})" in text and before["setting"]["weights"]["hf"] == 0.1


def test_the_caption_check_numbers_in_the_readme_and_describer_doc_are_the_saved_measurement():
    saved = _measured("check_captions.json")
    development, held_out = saved["captions.jsonl"], saved["captions_held_out.jsonl"]
    readme = " ".join(README.split())
    doc = _doc_words("04_describer.md")
    for text in (readme, doc):
        assert f"{development['faithful_accepted']} of {development['faithful_by_hand']} faithful" in text
        assert f"{held_out['faithful_accepted']} of {held_out['faithful_by_hand']}" in text
    assert f"none of {development['unfaithful_by_hand']} unfaithful" in readme
    assert f"0 of {development['unfaithful_by_hand']} unfaithful" in doc
    assert development["unfaithful_accepted"] == held_out["unfaithful_accepted"] == 0
    assert f"{development['captions']} captions written by hand" in readme


def house_styles_table(saved: dict) -> str:
    """The README's house style table, from the saved measurement."""
    rows = [
        "| style | raw: in style | raw: faithful | guarded: faithful | grammar wrote | grammar wrote, 4 beams |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for style, result in saved["styles"].items():
        keys = ("raw_in_style", "raw_faithful", "guarded_faithful", "grammar_share", "grammar_share_4_beams")
        rows.append(f"| {style} | " + " | ".join(f"{100 * result[key]:.1f}%" for key in keys) + " |")
    return "\n".join(rows)


def test_the_house_style_table_in_the_readme_is_the_saved_measurement():
    saved = _measured("house_styles_cpu.json")
    block = README.split("<!-- house styles table -->")[1].split("<!-- end -->")[0]
    assert block.strip() == house_styles_table(saved)
    assert {result["guarded_faithful"] for result in saved["styles"].values()} == {1.0}
    first = _measured("house_styles_first_examples_digits_cpu.json")
    text = " ".join(README.split())
    assert f"grammar share {first['styles']['house:inventory']['grammar_share']}" in text
    inventory = saved["styles"]["house:inventory"]
    assert f"grammar on {100 * inventory['grammar_share']:.1f}% of records" in text
    assert f"in all but {100 * inventory['grammar_share_4_beams']:.1f}%" in text


def test_the_readme_caption_numbers_are_the_saved_measurements():
    """Issue 32, item 2: several captions per photo, measured by 04 on make demo's test photos."""
    saved = _measured("captions_demo_cpu.json")["captions"]
    model = saved["sources"].get("model", 0) + saved["sources"].get("rerank", 0)
    text = " ".join(README.split())
    assert saved["num_captions"] == 5 and saved["faithful"] == 1.0
    assert (
        f"On make demo's {saved['photos']} test photos, k = 5 gave {saved['distinct_per_photo']:.1f} distinct" in text
    )
    assert f"{100 * model:.0f}% of them the model's, {100 * saved['sources']['grammar']:.0f}% the grammar's" in text
    before = _measured("captions_demo_before_frames_cpu.json")["captions"]
    model_before = before["sources"]["model"] + before["sources"]["rerank"]
    later_before, later_now = (round(run["captions"] * run["sources"]["rerank"]) for run in (before, saved))
    refused = later_before - later_now  # the guard's later beams now are some of those it took before
    assert f"{100 * model_before:.0f}% were the model's, and {refused} of its {later_before} later beams" in text


def test_the_dataset_map_numbers_in_the_readme_are_the_saved_measurement():
    saved = _measured("dataset_map_demo_cpu.json")
    text = " ".join(README.split())
    assert saved["same_records"] == saved["same_sentences"] == saved["photos"]
    assert (
        f"On make demo's first {saved['photos']} train photos here (2 CPU cores), the map made them at "
        f"x{saved['map_over_extract']:.2f} `desclm extract`'s rate and described them at "
        f"x{saved['map_over_describe_all']:.2f} `describe_all`'s, every record and sentence the same" in text
    )


def test_the_remote_photo_numbers_in_the_readme_are_the_saved_measurement():
    saved = _measured("remote_photos_cpu.json")
    two, eight = saved["by_loader_threads"]["2"], saved["by_loader_threads"]["8"]
    extra = two["s3"]["cpu_ms_per_photo"] - two["local"]["cpu_ms_per_photo"]
    text = " ".join(README.split())
    assert saved["same_pixels"]
    assert (
        f"{saved['photos']} generated 12 MP JPEGs ({saved['mean_photo_mb']:.1f} MB each) read through S3 "
        f"(moto's server on the same machine: the protocol, no network between) were decoded at "
        f"x{two['s3_rate_over_local']:.2f} the rate from disk on 2 loader threads "
        f"(x{eight['s3_rate_over_local']:.2f} on 8), the S3 client costing "
        f"{extra:.1f} ms more CPU a photo ({two['s3']['cpu_ms_per_photo']:.1f} against "
        f"{two['local']['cpu_ms_per_photo']:.1f})" in text
    )


def test_the_remote_shard_numbers_in_the_readme_are_the_saved_measurement():
    saved = _measured("remote_shards_cpu.json")
    listing, two, eight = saved["listing"], saved["by_loader_threads"]["2"], saved["by_loader_threads"]["8"]
    text = " ".join(README.split())
    assert saved["same_pixels"] and saved["same_listing"] and listing["s3_kept_requests"] == 0
    width, height = saved["photo_size"]
    assert (
        f"{saved['photos']} generated {width}x{height} JPEGs in {saved['shards']} shards of {saved['shard_mb']:.1f} MB "
        f"each (moto's S3 server, as below): the first listing read {listing['s3_first_bytes_over_shard_bytes']} of "
        f"the shards' bytes in {listing['s3_first_requests']} requests, the kept listing answered "
        f"{listing['kept_over_first_speedup']} times faster with no request, and the photos were decoded at "
        f"x{two['s3_rate_over_local']:.2f} the rate from disk on 2 loader threads, "
        f"x{two['runs_over_photo_a_request']:.2f} the rate of a request a photo "
        f"(x{eight['s3_rate_over_local']:.2f} and x{eight['runs_over_photo_a_request']:.2f} on 8)" in text
    )


def test_the_remote_video_numbers_in_the_readme_are_the_saved_measurement():
    saved = _measured("remote_videos_cpu.json")
    listing, two, many = saved["listing"], saved["by_loader_threads"]["2"], saved["by_loader_threads"]["16"]
    text = " ".join(README.split())
    assert saved["same_pixels"] and saved["same_listing"] and saved["interval_seconds"] == 1.0
    width, height = saved["video_size"]
    assert (
        f"{saved['videos']} generated {saved['seconds_each']}-second {width}x{height} drone videos of "
        f"{saved['video_mb']:.1f} MB each ({saved['video_mbit_per_second']:.0f} Mbit/s; moto's S3 server, as below): "
        f"listing their frames took {listing['s3_ranged_reads_per_video']:.0f} ranged requests and "
        f"{listing['s3_bytes_per_video'] / 1e6:.1f} MB a video, and the {saved['frames_listed']} frames listed one a "
        f"second were decoded at x{two['s3_rate_over_local']:.2f} the rate from disk on 2 loader threads, reading "
        f"{two['s3_bytes_over_video_bytes']:.2f} times the videos' bytes in {two['s3_ranged_reads']} requests "
        f"(x{many['s3_rate_over_local']:.2f} on 16, a bucket's default, reading "
        f"{many['s3_bytes_over_video_bytes']:.2f} times" in text
    )


def test_the_remote_parquet_numbers_in_the_readme_are_the_saved_measurement():
    saved = _measured("remote_parquet_cpu.json")
    listing, two, eight = saved["listing"], saved["by_loader_threads"]["2"], saved["by_loader_threads"]["8"]
    text = " ".join(README.split())
    assert saved["same_pixels"] and saved["same_listing"]
    width, height = saved["photo_size"]
    assert (
        f"{saved['photos']} generated {width}x{height} JPEGs in {saved['files']} Parquet files of "
        f"{saved['file_mb']:.1f} MB (moto's S3 server, as below): the listing read "
        f"{listing['s3_bytes_over_file_bytes'] * 100:.2f}% of the files' bytes in {listing['s3_requests']} requests, "
        f"and the photos were decoded at x{two['s3_rate_over_local']:.2f} the rate from disk on 2 loader threads, "
        f"reading {two['s3_bytes_over_file_bytes']:.3f} times the files' bytes in {two['s3_requests']} requests "
        f"(x{eight['s3_rate_over_local']:.2f} on 8, {eight['s3_bytes_over_file_bytes']:.3f} times)" in text
    )


def test_the_remote_loader_threads_are_where_the_saved_measurement_stops_gaining():
    """`loader_threads: 0` gives a remote --images REMOTE_LOADER_THREADS: the count past which the saved measurement
    (each request answered late) gained less than 5%, and the README quotes it."""
    from helpers.cv.config import REMOTE_LOADER_THREADS

    saved = _measured("remote_latency_cpu.json")
    rates, over = saved["photos_per_second"], saved["over_disk"]
    counts = sorted(int(count) for count in over)
    assert saved["same_pixels"] and REMOTE_LOADER_THREADS in counts
    knee = next(count for count, more in zip(counts, counts[1:]) if rates[str(more)] < 1.05 * rates[str(count)])
    assert REMOTE_LOADER_THREADS == knee
    width, height = saved["photo_size"]
    text = " ".join(README.split())
    assert (
        f"gives a remote `--images` at least {REMOTE_LOADER_THREADS} threads, not one per core. On this 2-core "
        f"machine, with moto's server answering each request {saved['latency_seconds'] * 1000:.0f} ms late, "
        f"{saved['photos']} generated {width}x{height} JPEGs ({saved['photo_mb']:.1f} MB each) were decoded at "
        f"x{over['2']:.2f} the rate from disk on 2 loader threads, x{over['8']:.2f} on 8, x{over['16']:.2f} on 16 "
        f"and x{over['32']:.2f} on 32" in text
    )


def test_the_ray_engine_table_is_the_one_the_saved_benchmarks_give():
    """docs/ray.md's numbers come from the files `desclm bench engines --results` wrote (issue 33)."""
    from helpers.engine.bench import markdown_table

    results = [json.loads(path.read_text()) for path in sorted(MEASUREMENTS.glob("ray_engine*_cpu.json"))]
    assert len(results) == 2 and all(result["same_records"] for result in results)
    page = (PROJECT_ROOT / "docs" / "ray.md").read_text()
    block = page.split("<!-- ray engine table -->")[1].split("<!-- end -->")[0]
    assert block.strip() == markdown_table(results)


def test_the_guard_pool_numbers_are_the_saved_measurements():
    """docs/04_describer.md's guard-pool rates come from `docs/measurements/guard_pool.py`'s file (issue 31)."""
    result = _measured("guard_pool_demo_cpu.json")
    rates = result["records_per_second"]
    assert result["same_descriptions"] and set(rates) == {"in_this_process", "1_workers"}
    text = _doc_words("04_describer.md")
    stated = (
        f"{rates['in_this_process']:.1f} records/s in this process, {rates['1_workers']:.1f} with one worker, "
        f"x{result['pool_vs_in_process']:.2f}"
    )
    assert stated in text


def test_the_photo_keys_memory_numbers_are_the_saved_measurements():
    """docs/01_cv_extract.md's key-reading memory comes from `docs/measurements/photo_keys_memory.py`'s file."""
    result = _measured("photo_keys_memory_cpu.json")
    before, after = result["before"], result["after"]
    text = _doc_words("01_cv_extract.md")
    stated = (
        f"each of 10^{len(str(result['rows'])) - 1} photos of {result['files']} Parquet files in order peaked at "
        f"{after['peak_mib']:.1f} MiB of Python allocations against {before['peak_mib']:.1f} MiB before, "
        f"x{result['peak_after_vs_before']:.2f}, in {after['seconds']:.1f} s against {before['seconds']:.1f}"
    )
    assert stated in text and before["found"] == after["found"] == result["rows"]


def test_the_guard_readings_numbers_are_the_saved_measurements():
    """docs/04_describer.md's kept-readings numbers come from `docs/measurements/guard_readings.py`'s file."""
    result = _measured("guard_readings_demo_cpu.json")
    rates = result["records_per_second"]
    text = _doc_words("04_describer.md")
    stated = (
        f"for {result['records']} generated records checks {rates['readings kept']:,.0f} records/s against "
        f"{rates['every reading made']:,.0f} reading every time, x{result['kept_vs_every_time']:.2f}, "
        "the same descriptions"
    )
    assert stated in text and result["same_descriptions"]
    assert result["readings_per_record_made_every_time"] >= 4, "the reason the readings are kept"


def test_the_describe_engine_numbers_are_the_saved_measurements():
    """docs/04_describer.md's file-path numbers come from `docs/measurements/describe_engine.py`'s file (issue 31)."""
    result = _measured("describe_engine_demo_cpu.json")
    rows = {row["way"]: row for row in result["replayed"]} | {row["way"]: row for row in result["real"]}
    before, after = rows["before, 1 workers"], rows["after, 1 workers"]
    text = _doc_words("04_describer.md")
    rate = "records_per_second"
    stated = [
        f"{result['records']} lines, batch {result['batch_size']}, one worker",
        f"spent {before['main_process_cpu_us_per_record']:.0f} µs a record before (the guard alone on the worker), "
        f"{after['main_process_cpu_us_per_record']:.0f} µs now",
        f"about {round(after['python_ceiling_records_per_second'], -2):,.0f} records/s where it allowed about "
        f"{round(before['python_ceiling_records_per_second'], -2):,.0f}",
        f"({before[rate]:,.0f} and {after[rate]:,.0f} records/s with one worker; in this process "
        f"{rows['before, 0 workers'][rate]:,.0f} and {rows['after, 0 workers'][rate]:,.0f}; with the model "
        f"generating, batch {result['real_batch_size']}, {rows['before, 0 workers, the model generating'][rate]:,.0f} "
        f"and {rows['after, 0 workers, the model generating'][rate]:,.0f})",
    ]
    assert [line for line in stated if line not in text] == []
    assert result["same_lines"]


def test_the_tensor_pipeline_numbers_are_the_saved_benchmark():
    """docs/hardware.md's extraction table and agreement come from `desclm bench extract --save` (issue 31)."""
    result = _measured("bench_extract_tensor_demo_cpu.json")
    text = _doc_words("hardware.md")
    agreement = result["tensor_agreement"]
    stated = [
        f"| models alone (each library's predict) | {result['models_alone_images_per_second']:.1f} |",
        f"| library pipeline, fp32 | {result['extraction_images_per_second']:.1f} |",
        f"| tensor pipeline, fp32 | {result['tensor_extraction_images_per_second']:.1f} "
        f"(x{result['tensor_vs_library']:.2f} the library's; {result['tensor_share_of_ceiling']:.0%} of the ceiling) |",
        f"| forward-only ceiling | {result['ceiling_images_per_second']:.1f} |",
        f"{agreement['matched_share']:.1%} of the {agreement['detections'][0]} boxes matched at IoU >= "
        f"{agreement['iou_threshold']} (lowest {agreement['lowest_matched_iou']:.2f}), confidences within "
        f"{agreement['largest_confidence_difference']:.3f}",
    ]
    assert [line for line in stated if line not in text] == []
    assert agreement["same_scene_share"] == 1.0 and result["images"] == 96 and result["device"] == "cpu"


def test_the_make_demo_savings_are_the_saved_measurement():
    """docs/demo_and_offline.md's savings table is `demo_savings.py --table` of its saved file, and the
    settings it says make demo now uses are make demo's (issue 30)."""
    script = runpy.run_path(str(MEASUREMENTS / "demo_savings.py"))
    result = _measured("demo_savings_demo_cpu.json")
    record = _measured("make_demo_fresh_clone_cpu.json")
    page = (PROJECT_ROOT / "docs" / "demo_and_offline.md").read_text()
    block = page.split("<!-- make demo savings table -->")[1].split("<!-- end -->")[0]
    assert block.strip() == script["markdown_table"](result, record)
    adopted = result["variants"]["describer_savings_together"]["change"]
    make_demo = yaml.safe_load((PROJECT_ROOT / "helpers" / "demo" / "pipeline.yaml").read_text())["03_train_t5"]
    assert {key: make_demo[key] for key in adopted} == adopted
    assert all(row["judged"]["targets_met"] for row in [result["base"], *result["variants"].values()])
    text = " ".join(page.split())
    seconds = {name: row["timings"].get("03_train_t5") for name, row in result["variants"].items()}
    base, seed_1 = result["base"]["timings"]["03_train_t5"], seconds["seed_1"]
    shares = [
        1 - seconds["describer_savings_together"] / base,
        1 - seconds["describer_savings_together_seed_1"] / seed_1,
    ]
    on_record = sorted(share * record["timings"]["03_train_t5"] for share in shares)
    total = record["timings"]["total"]
    assert f"moved 03's time by {base - seed_1:.0f} s here ({(base - seed_1) / base:.0%}, the run's noise)" in text
    assert f"saved {shares[0]:.0%} on seed 0 and {shares[1]:.0%} on seed 1" in text
    assert f"{total:.0f} s less {on_record[0]:.0f}-{on_record[1]:.0f} s: " in text
    assert f"{total - on_record[1]:.0f}-{total - on_record[0]:.0f} s, about 12 minutes and not safely under" in text


def test_the_describer_cpu_batch_numbers_are_the_saved_measurements():
    """docs/hardware.md's CPU batch numbers, and the CPU batch itself, come from `describe_cpu_batch.py`'s files."""
    from helpers.describer.batch import CPU_BATCH_SIZE

    flan, demo = (
        json.loads((MEASUREMENTS / f"describe_cpu_batch_{name}_cpu.json").read_text())
        for name in ("flan-t5-small", "demo")
    )
    ours = str(CPU_BATCH_SIZE)
    assert flan["fastest_batch"] == CPU_BATCH_SIZE and flan["num_beams"] == 4
    text = _doc_words("hardware.md")
    gains = [run["records_per_second"][ours] / run["records_per_second"]["32"] for run in (flan, demo)]
    stated = (
        f"the fastest for a flan-t5-small-shaped describer with 4 beams, {demo['vs_fastest'][ours]:.2f} of the "
        f"fastest ({demo['fastest_batch']}) for make demo's greedy one, x{gains[0]:.2f} and x{gains[1]:.2f} "
        "their rates at 32"
    )
    assert stated in text
    assert not any(sum(run["sentences_differing_from_the_first_batch"].values()) for run in (flan, demo))


def test_the_check_numbers_are_the_saved_measurements():
    """`desclm check`'s worker and JSON-reading numbers (docs/04_describer.md, helpers/describer/check.py)
    come from `check_workers.py`'s and `check_json_numbers.py`'s files."""
    from helpers.describer import check

    workers = _measured("check_workers_cpu.json")
    assert workers["cpu_cores"] == 2 and workers["same_verdicts"]
    two, one = workers["vs_first"]["2"], workers["vs_first"]["1"]
    text = _doc_words("04_describer.md")
    assert f"on 2 cores 2 workers checked {two:.2f}x as fast as one process alone" in text
    docstring = " ".join(check.check_workers.__doc__.split())
    assert f"on 2 cores 2 workers checked {two:.2f}x as fast as this process alone, 1 worker {one:.2f}x" in docstring
    assert two > 1 > one, "why auto is one worker per core"
    numbers = _measured("check_json_numbers_cpu.json")
    ratios = sorted(file["decimals_vs_floats"] for file in numbers["files"].values())
    docstring = " ".join(check._json_items.__doc__.split())
    assert f"{ratios[0]:.2f}x to {ratios[-1]:.2f}x as fast" in docstring


def test_the_listed_answers_numbers_are_the_saved_measurements():
    """docs/04_describer.md's speeds of `desclm check` on models' answers listing boxes come from
    `check_answers.py`'s file, every answer there faithful with every box placed."""
    answers = _measured("check_answers_cpu.json")
    forms, records = answers["forms"], answers["records"]
    assert answers["same_verdicts"] and all(form["faithful"] == records for form in forms.values())
    assert all(form["boxes_placed"] == form["boxes"] > 0 for name, form in forms.items() if name != "caption")

    def rate(form: str) -> str:
        return f"{forms[form]['captions_per_second']['0']:,.0f}"

    text = _doc_words("04_describer.md")
    assert (
        f"On {records:,} generated records ({forms['qwen']['boxes']:,} stated boxes), answers listing them check at "
        f"{rate('qwen')} answers/s in one process as Qwen's JSON, {rate('gemini')} as Gemini's, {rate('florence2')} "
        f"as Florence-2's tokens and {rate('paligemma')} as PaliGemma's, beside {rate('caption')} captions/s"
    ) in text


def test_the_synth_worker_numbers_are_the_saved_measurements():
    """docs/02_descriptions.md's `desclm synth` speeds by workers come from `synth_workers.py`'s file."""
    synth = _measured("synth_workers_cpu.json")
    assert synth["cpu_cores"] == 2 and synth["same_output"]
    rates, ratios = synth["records_per_second"], synth["vs_first"]
    text = _doc_words("02_descriptions.md")
    assert f"{rates['0']:,.0f} records/s in one process, {rates['2']:,.0f} on 2 workers (x{ratios['2']:.2f})" in text
    assert f"{rates['1']:,.0f} on one worker (x{ratios['1']:.2f})" in text
    assert ratios["2"] > 1 > ratios["1"], "why auto is one worker per core"


def test_the_worker_start_the_docs_state_is_the_saved_measurements():
    """docs/04_describer.md's worker start, with and without inflect instrumented at import, come from
    `worker_start.py`'s file."""
    start = _measured("worker_start_cpu.json")
    median = start["median_seconds"]
    text = _doc_words("04_describer.md")
    assert f"A worker starts in {median['as_written']:.2f} s on this machine" in text
    assert f"against {median['instrumented']:.2f} s while typeguard rewrote inflect's methods" in text
    assert f"start {median['instrumented'] - median['as_written']:.1f} s sooner" in text


def test_the_tar_shard_rates_the_docs_state_are_the_saved_measurements():
    """docs/01_cv_extract.md's listing and reading rates of tar shards come from `tar_listing.py`'s file."""
    saved = _measured("tar_listing_cpu.json")
    rates = saved["photos_per_second"]
    text = _doc_words("01_cv_extract.md")
    assert f"listed at {rates['list_shards']:,.0f} photos/s, x{saved['list_shards_vs_tarfile']:.2f} `TarFile`'s" in text
    assert f"against {rates['list_files']:,.0f}/s walking the same photos as files" in text
    assert f"at {rates['read_shards']:,.0f}/s, x{saved['read_shards_vs_files']:.2f} reading the files" in text
    assert saved["list_shards_vs_tarfile"] > 1, "why the headers are read here, not by TarFile"


def test_the_slicing_numbers_the_docs_state_are_the_saved_measurement():
    """docs/01_cv_extract.md's and the README's recall and counts with and without `slice_size` come from
    `slicing.py`'s file."""
    saved = _measured("slicing_demo_cpu.json")
    alone, mosaics, sliced = (saved["results"][name] for name in ("photos alone", "mosaics", "mosaics, slice_size 384"))
    text = _doc_words("01_cv_extract.md")
    assert f"found {alone['recall']:.1%} of the labelled objects at the describer's threshold" in text
    assert f"(precision {alone['precision']:.1%})" in text
    assert f"quarter of its size at the detectors' input, {mosaics['recall']:.1%} (precision" in text
    assert f"({saved['passes_per_mosaic']} passes a mosaic), {sliced['recall']:.1%} (precision" in text
    assert f"counts off by {sliced['count_error_per_object']:.2f} per labelled object" in text
    assert f"against {alone['count_error_per_object']:.2f} for the photos alone" in text
    assert f"and {mosaics['count_error_per_object']:.2f} for the mosaics unsliced" in text
    readme = " ".join((PROJECT_ROOT / "README.md").read_text().split())
    assert f"from {mosaics['recall']:.0%} back to {sliced['recall']:.0%}" in readme
    assert sliced["recall"] > 10 * mosaics["recall"], "why slicing is offered"
    union = saved["results"]["mosaics, slice_size 384, duplicates merged into union boxes (SAHI's NMM)"]
    assert f"(SAHI's default postprocess, NMM) found {union['recall']:.1%} (precision {union['precision']:.1%})" in text
    assert f"counts off by {union['count_error_per_object']:.2f}, in the same run" in text
    assert union["recall"] < sliced["recall"], "why duplicates are dropped, not merged"


def test_the_exif_reading_cost_the_docs_state_is_the_saved_measurement():
    saved = _measured("exif_cost_cpu.json")
    ratios, alone = saved["with_over_without"], saved["milliseconds_per_photo"]["EXIF read alone"]
    text = _doc_words("01_cv_extract.md")
    assert f"took x{ratios['drafted to 640']:.3f} the time with it (in full: x{ratios['full']:.3f})" in text
    share = saved["read_alone_over_drafted_decode"]
    assert f"the reading alone {alone:.2f} ms a photo, {share:.1%} of that decode" in text
    assert share < 0.05, "why read_exif is on by default"


def test_the_camera_motion_and_distinct_items_the_docs_state_are_the_saved_measurements():
    motion = _measured("camera_motion_cpu.json")
    flights = motion["flights"]
    worst = max(flight["error_max"] for flight in flights)
    text = _doc_words("01_cv_extract.md")
    measured = sum(flight["frames"] - flight["not_measured"] for flight in flights)
    assert f"all {measured} frames after the first had their motion measured" in text
    assert sum(flight["frames"] for flight in flights) == measured
    assert f"none off by more than {worst} of the frame" in text
    for interval, said in (
        ("0.2", "{:.2f} ms a frame against {:.2f} every 0.2 s"),
        ("1.0", "{:.2f} against {:.2f} every second"),
    ):
        cost = motion["cost_pan_0.1"][interval]
        said = said.format(cost["decode_and_motion_ms_per_frame"], cost["decode_ms_per_frame"])
        assert f"{said} (x{cost['ratio']:.2f})" in text

    sim = _measured("video_items_sim.json")
    text = _doc_words("04_describer.md")
    given = [case for case in sim["cases"] if case["camera_motion_error"] is not None]
    assert {case["camera_motion_error"] for case in given} == {
        0.001
    } and worst < 0.001  # the simulated error covers 01's
    exact = sum(case["distinct_error"] == 0 for case in given)
    assert (
        f"exact in {exact} of {len(given)} cases and at most {100 * max(c['distinct_error'] for c in given):.1f}% over"
        in text
    )
    moving = [case for case in sim["cases"] if case["camera_motion_error"] is None and case["speed_frame_widths_per_s"]]
    low, high = (f(case["distinct_error"] for case in moving) for f in (min, max))
    assert f"counted {100 * low:.0f}% to {100 * high:.0f}% too many" in text
    assert f"up to {1 + high:.1f} times as many" in " ".join(README.split())
    lost = {
        case["track_lost_s"]: case["distinct_error"]
        for case in sim["still_camera_by_track_lost_s"]
        if case["interval_s"] == 1
    }
    said = ", ".join("0%" if not error else f"{100 * error:.{0 if error >= 0.1 else 1}f}%" for error in lost.values())
    assert (
        f"`track_lost_s` 1, 2, 5 and 10 s gave {said.rsplit(', ', 1)[0]} and {said.rsplit(', ', 1)[1]} too many" in text
    )
    from helpers.describer.options import TRACK_LOST_S

    assert min(lost, key=lambda seconds: (lost[seconds] > 0.05, seconds)) == TRACK_LOST_S  # the shortest within 5%


def test_the_video_frame_costs_the_docs_state_are_the_saved_measurement():
    saved = _measured("video_frames_cpu.json")
    per_frame, ratios = saved["milliseconds_per_listed_frame"], saved["by_interval"]
    text = _doc_words("01_cv_extract.md")
    said_at = {"1": "a frame every second cost {:.1f} ms each", "0.2": "every 0.2 s, {:.1f} ms against"}
    for interval, said in said_at.items():
        assert said.format(per_frame[f"every {interval} s, as 01 reads them"]) in text
        assert f"x{ratios[interval]['sought_over_as_01_reads']:.2f})" in text
        assert f"{per_frame[f'every {interval} s, one thread, in order']:.1f}" in text
        assert ratios[interval]["sought_over_as_01_reads"] > 1, "why a video's readers stay open"
    assert f"used {saved['decoder_cores_used']:.1f} cores decoding every frame in order" in text
    assert f"({per_frame['every frame decoded in order']:.2f} ms a frame, none converted)" in text
    mine, pyav = (per_frame[f"1920x1080 frame converted, {way}"] for way in ("Image.fromarray(to_ndarray)", "to_image"))
    assert f"{mine:.2f} ms a 1080p frame against {pyav:.2f}, x{saved['conversion_to_image_over_01s']:.2f}" in text
    assert saved["conversion_to_image_over_01s"] > 1, "why frames are converted as arrays"
    drafted, full = (per_frame[f"3840x2160 every 1 s, as 01 reads them, {way}"] for way in ("drafted", "in full"))
    assert f"cost {drafted:.1f} ms drafted, {full:.1f} in full (x{saved['uhd_in_full_over_drafted']:.2f}" in text


GROUND_ROWS = {  # docs/04's table of placing errors: its rows, from ground_errors.json
    "straight down from 30 m, corner": ("down_30m", "corner"),
    "straight down from 60 m, centre": ("down_60m", "centre"),
    "straight down from 60 m, halfway to a corner": ("down_60m", "halfway"),
    "straight down from 60 m, corner": ("down_60m", "corner"),
    "straight down from 100 m, corner": ("down_100m", "corner"),
    "45° down from 30 m, centre": ("ahead_45deg_30m", "centre"),
    "45° down from 30 m, top's middle": ("ahead_45deg_30m", "top"),
}


def test_the_placing_errors_docs_04_states_are_the_measured_ones():
    measured = _measured("ground_errors.json")["errors_m"]
    sources = ("distance_m", "yaw_2deg", "pitch_1deg", "roll_1deg", "height_1m", "height_10pct", "focal_by_width")
    lines = (PROJECT_ROOT / "docs" / "04_describer.md").read_text().splitlines()
    for name, (view, point) in GROUND_ROWS.items():
        row = measured[view]["points"][point]
        assert f"| {name} | " + " | ".join(f"{row[source]:.2f}" for source in sources) + " |" in lines, name
    text = _doc_words("04_describer.md")
    corner, top = measured["down_60m"]["points"]["corner"], measured["ahead_45deg_30m"]["points"]["top"]
    assert f"a 4:3 frame's corner is {corner['distance_m']:.2f} m from right below the drone" in text
    assert f"an item at a corner 60 m down moves {corner['height_10pct']:.2f} m" in text
    assert f"its top's middle moves {top['pitch_1deg']:.2f} m for a degree of pitch" in text
    assert f"at 60 m, a corner's item lies {corner['distance_m']:.0f} m from it" in " ".join(README.split())
    share = corner["focal_by_width"] / corner["distance_m"]
    assert f"places items about {100 * share:.0f}% too near the centre" in text


def test_the_survey_counts_docs_04_states_are_the_simulated_ones():
    from helpers.describer.options import GROUND_RADIUS_M

    sim = _measured("survey_items_sim.json")
    text = _doc_words("04_describer.md")
    assert sim["default_radius_m"] == GROUND_RADIUS_M and f"`--ground_radius_m` (default {GROUND_RADIUS_M:g} m)" in text

    def errors(pose: str, radius: float) -> list[float]:
        return [c["distinct_error"] for c in sim["cases"] if c["pose_errors"] == pose and c["radius_m"] == radius]

    def span(values: list[float]) -> str:
        return f"{100 * min(values):+.1f}% to {100 * max(values):+.1f}%"

    times = [1 + case["sightings_error"] for case in sim["cases"]]
    assert f"counted each item {min(times):.2f} to {max(times):.2f} times" in text
    assert f"{sim['seeds']} seeds each" in text
    assert f"the distinct count was off by {span(errors('rtk', GROUND_RADIUS_M))} with an RTK drone's poses" in text
    assert f"and by {span(errors('consumer_gnss', GROUND_RADIUS_M))} with a consumer drone's" in text
    assert f"(1 m: {span(errors('consumer_gnss', 1.0))})" in text
    both = errors("rtk", GROUND_RADIUS_M) + errors("consumer_gnss", GROUND_RADIUS_M)
    readme = " ".join(README.split())
    assert f"show an item {int(min(times) * 10) / 10:.1f} times or more" in readme  # floored: "or more"
    assert f"within {span(both)} of the true count" in readme
    beach = [c for c in sim["cases"] if c["pose_errors"] == "rtk" and c["radius_m"] == 5 and c["density_per_m2"] == 0.2]
    assert f"0.2 items a square metre: {100 * beach[0]['distinct_error']:+.1f}% with RTK" in text
    cost = _measured("survey_items_cost_cpu.json")["cases"]
    sparse, dense = cost[0], cost[-1]
    assert (
        f"cost the roll-up {sparse['ms_per_photo_placed']:g} ms a photo with {sparse['detections_per_photo']:g} "
        f"detections and {dense['ms_per_photo_placed']:g} ms with {dense['detections_per_photo']:g}" in text
    )
    assert f"(x{sparse['ratio']:.2f} and x{dense['ratio']:.2f} the same records' roll-up without their poses" in text


def test_the_fixed_camera_counts_docs_04_states_are_the_simulated_ones():
    from helpers.describer.options import FIXED_MIN_IOU

    sim = _measured("fixed_items_sim.json")
    text = _doc_words("04_describer.md")
    assert sim["default_min_iou"] == FIXED_MIN_IOU and f"(default {FIXED_MIN_IOU:g}, intersection over union)" in text
    at = [case for case in sim["cases"] if case["min_iou"] == FIXED_MIN_IOU]
    exact, worst = sum(case["distinct_error"] == 0 for case in at), max(case["distinct_error"] for case in at)
    assert f"exact in {exact} of {len(at)} cases and at most {100 * worst:.2f}% over" in text
    times = [1 + case["sightings_error"] for case in sim["cases"]]
    assert f"the sightings counted each item {min(times):.2f} to {max(times):.2f} times" in text
    half = max(case["distinct_error"] for case in sim["cases"] if case["min_iou"] == 0.5)
    low = min(case["distinct_error"] for case in sim["cases"] if case["min_iou"] == 0.1)
    assert f"0.5 counted up to {100 * half:.0f}% too many" in text and f"0.1 up to {-100 * low:.0f}% too few" in text
    assert f"{sim['seeds']} seeds each) the sightings" in text


def test_the_one_pass_export_times_the_readme_states_are_the_saved_measurement():
    saved = _measured("one_pass_exports_cpu.json")
    seconds = saved["seconds"]["coco_instances, 3 splits"]
    assert all(saved["same_files"].values()), "the same files written either way"
    text = " ".join(README.split())
    assert (
        f"{saved['rows']:,} records as coco_instances in three splits took {seconds['now']} s where reading the "
        f"inputs for each split took {seconds['before']} s" in text
    )


def test_the_export_photo_sizes_and_rates_the_readme_states_are_the_saved_measurement():
    saved = _measured("export_photos_cpu.json")
    rates, sizes = saved["photos_per_second"], saved["megabytes_per_photo"]
    text = " ".join(README.split())
    assert f"generated 12 MP JPEGs of {sizes['as stored']:.3f} MB each" in text
    assert (
        f"a photo holds {sizes['max_side 768, in this process']:.3f} MB ({saved['shrunk_over_as_stored_bytes']:.2%}"
        in text
    )
    shrunk, workers = rates["max_side 768, in this process"], rates[f"max_side 768, {saved['cpu_cores']} workers"]
    assert (
        f"wrote {shrunk} photos/s shrinking them in its own process and {workers} on {saved['cpu_cores']} workers"
        in text
    )
    assert f"(x{saved['workers_over_this_process_speed']:.2f})" in text and f"at {rates['as stored']} photos/s" in text


def test_the_label_studio_import_the_readme_states_is_the_saved_one_and_lost_nothing():
    """docs/measurements/label_studio_import.py's run in a real Label Studio: the README's numbers, and both ways
    every task, box, description and photo came through and every prediction passed Label Studio's checker."""
    saved = _measured("label_studio_import.json")
    text = " ".join(README.split())
    ways = [saved["as_they_lie"], saved["image_folder"]]
    photos, boxes = saved["photos"], ways[0]["boxes_exported"]
    assert f"| Label Studio {saved['label_studio']}, set up as above | `label_studio`, {photos} photos," in text
    assert f"each way all {photos} tasks with their {boxes} boxes (those the descriptions state, at 0.5) and" in text
    for way in ways:
        assert way["tasks_exported"] == way["tasks_imported"] == way["tasks_held"] == way["predictions_valid"] == photos
        assert way["boxes_held"] == way["boxes_exported"] == boxes and way["descriptions_held"] == photos
        assert way["photos_served"] == way["photos_served_as_stored"] == photos and way["wrong_label_refused"]
    assert ways[0]["first_url"].startswith("/data/local-files/?d=photos/")
    truth = saved["truth_review"]  # --truth untrue: the labels shown beside each description to review
    untrue, shown = truth["tasks_exported"], truth["boxes_exported"]
    assert f"of the {truth['photos_labelled']} labelled photos, the {untrue} whose descriptions are untrue" in text
    assert f"all {untrue} tasks with their {shown} boxes, each showing its labels and what its description" in text
    assert truth["tasks_held"] == truth["predictions_valid"] == truth["tasks_with_truth_held"] == untrue
    assert truth["tasks_said_untrue"] == untrue and truth["boxes_held"] == shown and truth["config_shows_truth"]


def test_the_voc_and_yolo_folders_datumaro_wrote_read_back_as_the_records_the_readme_says():
    saved = _measured("datumaro_voc_yolo_truth.json")
    text = " ".join(README.split())
    photos, boxes = saved["photos_exported"], saved["detections_exported"]
    assert f"| Datumaro {saved['datumaro']}, its `voc_detection` and `yolo` writers" in text
    assert f"each: all {photos} photos and their {boxes} boxes as recorded, within 0.01 pixels" in text
    for folder in (saved["voc"], saved["yolo"]):
        assert folder["photos_read"] == photos and folder["boxes_read"] == folder["boxes_as_recorded"] == boxes
        assert folder["boxes_compared"] == boxes and folder["largest_corner_error_pixels"] <= 0.01
        assert folder["error_lines"] == 0
    assert "Annotations" in saved["voc"]["top"] and "obj.names" in saved["yolo"]["top"]


def test_the_fiftyone_import_the_readme_states_is_the_saved_one_and_lost_nothing():
    saved = _measured("fiftyone_coco_import.json")
    text = " ".join(README.split())
    photos, detections = saved["photos_exported"], saved["detections_exported"]
    fiftyone = f"| FiftyOne {saved['fiftyone']}, its `COCODetectionDataset` importer"
    assert f"{fiftyone} | `coco_instances`, {photos} photos" in text
    assert f"all {detections} detections" in text
    assert saved["samples_read"] == saved["photos_found"] == photos
    assert saved["detections_read"] == saved["detections_as_recorded"] == detections
    largest = saved["largest_box_error_pixels"]
    assert largest <= saved["tolerance"] and f"boxes within {largest:.3f} pixels" in text


def test_the_datumaro_import_the_readme_states_is_the_saved_one_and_lost_nothing():
    saved = _measured("datumaro_coco_import.json")
    text = " ".join(README.split())
    instances, captions = saved["coco_instances"], saved["coco"]
    photos, boxes = instances["photos_exported"], instances["detections_read"]
    datumaro = f"| Datumaro {saved['datumaro']} (CVAT's import runs a fork of it)"
    assert f"{datumaro} | `coco_instances` and `coco`, {photos}" in text
    assert f"all {boxes} boxes as recorded and {captions['captions_read']} captions as described, no warning" in text
    assert instances["items_read"] == instances["photos_found"] == photos and instances["warnings"] == 0
    assert instances["detections_as_recorded"] == boxes == _measured("fiftyone_coco_import.json")["detections_read"]
    assert instances["largest_box_error_pixels"] <= saved["tolerance_pixels"]
    assert captions["items_read"] == captions["photos_found"] == captions["captions_as_described"] == photos
    assert captions["warnings"] == 0
    split = saved["coco_instances_split"]
    held = split["photos_exported"]
    assert f"the subsets train and val with the {held['train']} and {held['val']} photos of their files" in text
    assert f"all {split['detections_read']} boxes as recorded, one set of {split['labels_read']} categories" in text
    assert split["items_read"] == held and split["items_in_their_file_s_subset"] == photos == sum(held.values())
    assert split["detections_as_recorded"] == split["detections_read"] == boxes and split["warnings"] == 0
    assert split["categories_alike_in_the_files"] and split["largest_box_error_pixels"] <= saved["tolerance_pixels"]


def test_the_webdataset_read_the_readme_states_is_the_saved_one_and_lost_nothing():
    saved = _measured("webdataset_read.json")
    text = " ".join(README.split())
    records = saved["records"]
    assert f"| webdataset {saved['webdataset']}, as OpenCLIP reads shards | `webdataset`, {records} photos," in text
    assert f"with `--max_side {saved['max_side_pixels']}` | each sample once" in text
    for way in (saved["as_stored"], saved["max_side"]):
        assert way["samples_read"] == way["distinct_keys"] == way["samples_as_exported"] == way["samples_listed"]
        assert way["samples_read"] == records


def test_the_llamafactory_read_the_readme_states_is_the_saved_one_and_lost_nothing():
    saved = _measured("llamafactory_read.json")
    text = " ".join(README.split())
    splits = saved["splits"]
    assert f"| LLaMA-Factory {saved['llamafactory']}, its dataset loader" in text
    assert f"`llava` split `train=0.9,validation=0.1`, {saved['records']} photos" in text
    assert (
        f"every example once ({splits['train']['examples_read']} and {splits['validation']['examples_read']})" in text
    )
    for split in splits.values():
        assert split["examples_read"] == split["distinct_photos"] == split["examples_as_exported"]
        assert split["photos_found_as_stored"] == split["examples_read"]
    assert saved["photos_read_in_all"] == saved["records"]
    assert '"columns": {"messages": "conversations", "images": "image"}' in text


def test_the_ms_swift_read_the_readme_states_is_the_saved_one_and_lost_nothing():
    saved = _measured("ms_swift_read.json")
    text = " ".join(README.split())
    splits = saved["splits"]
    assert f"| ms-swift {saved['ms_swift']}, its `load_dataset`" in text
    assert (
        f"every example once ({splits['train']['examples_read']} and {splits['validation']['examples_read']}) as"
        in text
    )
    for split in splits.values():
        assert split["examples_read"] == split["distinct_photos"] == split["examples_as_exported"]
        assert split["photos_read_as_stored"] == split["examples_read"]
    assert saved["photos_read_in_all"] == saved["records"]


def test_the_ms_swift_grounding_the_readme_states_is_the_saved_one_and_lost_nothing():
    saved = _measured("ms_swift_grounding.json")
    text = " ".join(README.split())
    assert f"`grounded`, {saved['photos']} demo photos with their labels as records" in text
    assert f"({saved['phrases_grounded']} phrases, {saved['boxes']} boxes)" in text
    assert saved["examples_read"] == saved["exported"] == saved["photos"] == saved["examples_with_objects_as_exported"]
    assert all(count == saved["examples_read"] for count in saved["examples_written_as_documented"].values())
    checked = saved["answers_checked_by_desclm_check"]
    assert set(checked) == {"qwen2_vl", "internvl2"} and set(saved["examples_written_as_documented"]) >= set(checked)
    for answers in checked.values():
        assert answers["checked"] == answers["faithful"] == saved["examples_read"]
        assert answers["boxes"] == answers["boxes_placed"] == saved["boxes"]
        assert f"each {answers['faithful']} of {answers['checked']} faithful" in text
        assert f"{answers['boxes_placed']} of {answers['boxes']} boxes placed" in text
    assert saved["first_grounded_example_qwen2_vl"].startswith(
        "The image shows <|object_ref_start|>three pieces of metal<|object_ref_end|><|box_start|>(47,368),(219,490)"
    ), "the README's example is the saved run's"


def test_the_object_detection_training_the_readme_states_is_the_saved_one_and_every_box_reached_the_model():
    saved = _measured("hf_object_detection.json")
    trained = saved["trained"]
    text = " ".join(README.split())
    assert f"`hf --objects`, {saved['photos']} demo photos with their labels as records" in text
    boxes = saved["validation_boxes_in_label_files"]
    assert f"all {boxes} validation boxes in the model's targets as their label files state them" in text
    assert saved["validation_boxes_as_labelled"] == boxes == trained["as_exported"]["validation_boxes_evaluated"]
    assert saved["validation_photos_as_labelled"] == saved["splits"]["validation"]
    assert saved["exported"] == saved["photos"] == sum(saved["splits"].values())
    exported, mirrored = trained["as_exported"]["validation_map_50"], trained["boxes_mirrored"]["validation_map_50"]
    assert f"trained {saved['training_steps']} steps from random weights reached mAP@50 {exported}" in text
    assert f"validation photos, {mirrored} trained alike on the same boxes mirrored" in text
    assert exported > mirrored and all(run["losses_finite"] for run in trained.values())


def test_the_label_studio_review_the_readme_states_is_the_saved_one():
    review = _measured("label_studio_import.json")["review"]
    check = review["JSON"]["check"]
    text = " ".join(README.split())
    assert f"| five of the {review['tasks']} tasks reviewed" in text and review["annotated"] == 5
    assert f"{check['checked']} descriptions read, {check['faithful']} faithful; {check['unreviewed']} tasks" in text
    assert check["errors"] == 0
    assert check["unreviewed"] == review["tasks"] - review["annotated"] + 1, "the cancelled one too"
    for kind in ("JSON_MIN", "CSV"):  # the same descriptions and findings; the cancelled task left out
        other = review[kind]["check"]
        assert [other[k] for k in ("checked", "faithful", "errors")] == [
            check[k] for k in ("checked", "faithful", "errors")
        ]
        assert review[kind]["findings"] == review["JSON"]["findings"] and other["unreviewed"] == check["unreviewed"] - 1
    yolo = review["YOLO"]
    assert yolo["same_photos_and_labels"] and yolo["largest_coordinate_difference"] < 1e-6
    assert yolo["boxes_read"] == yolo["boxes_annotated"] and "classes.txt" in yolo["files"]
    assert (
        f"{yolo['photos_read']} photos (the cancelled task is left out) and their {yolo['boxes_read']} boxes, each as "
        "annotated"
        in text
        and yolo["photos_read"] == review["annotated"] - 1
    )
    from_json = yolo["json_export_as_truth"]
    assert from_json["keys_as_records"] and from_json["same_as_yolo_export"]
    assert from_json["photos_read"] == yolo["photos_read"] and from_json["largest_difference_from_yolo_export"] == 0.0
    assert (
        f"the same {from_json['photos_read']} photos keyed as their CV records already were, each with the boxes Label "
        "Studio's YOLO export holds, to 0.0" in text
    )
    minimal = review["JSON_MIN"]["check"]
    assert (
        f"each: {minimal['checked']} descriptions read, {minimal['faithful']} faithful, the same findings; "
        f"{minimal['unreviewed']} tasks unreviewed (the cancelled task is left out of both)" in text
    )


def test_the_grounded_box_overlap_the_docs_state_is_the_checks():
    from helpers.text.check import BOX_IOU

    for text in (README, (PROJECT_ROOT / "docs" / "04_describer.md").read_text()):
        assert f"by an IoU of {BOX_IOU:g}" in " ".join(text.split())
