"""make demo's time, one saving at a time (issue 30 item 8): what each cut saves and what it costs.

    make demo   # the demo set and models this starts from
    python docs/measurements/demo_savings.py --out DIR [--quick]

Runs on this machine, one after another, make demo's own notebooks (`desclm pipeline`, each variant's
files in DIR/<variant>, reports in DIR/reports/<variant>) and writes `DIR/demo_savings.json`:

- `base`: 01 -> 02 -> 03 -> 04 with make demo's settings, on models/demo;
- the describer's savings: 03 -> 04 on base's pairs, one setting changed (fewer evaluations, fewer
  validation sentences per evaluation, fewer epochs), and the two evaluation savings together;
- the detectors' savings: one demo model trained again with less training (the others copied from
  models/demo), scored and calibrated as `desclm demo models` does, then 01 -> 02 -> 04 with base's
  describer.

Each variant records the seconds it saves measured in this run (a notebook's from its timings.json beside
base's; a detector's from its own training rate: seconds per epoch or step times the ones cut, as
epochs and steps cost the same each) and what make demo is judged on: the detectors' mAP@0.5, 04's
truth end to end and verdict, and the raw model's faithfulness. Run again on the same DIR, it keeps what
the file holds and runs only the variants missing from it. `--quick`: a smoke run of the script (a few
photos and steps; its numbers mean nothing). `--table FILE` prints a saved file as the docs' table.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import asdict, replace
from pathlib import Path

import yaml

from helpers.core.io import atomic_write_text

DEMO_DATA = Path("data/demo/data.yaml")
DEMO_MODELS = Path("models/demo")
# one setting each, against make demo's (TrainConfig: epochs 8, eval_steps 400, eval_samples 300)
DESCRIBER_SAVINGS = {
    "one_evaluation_per_epoch": {"eval_steps": 840},  # 840 steps = an epoch of the demo's 6,720 pairs
    "100_validation_sentences": {"eval_samples": 100},
    "6_epochs": {"epochs": 6.0},
    # the three together, and both ways on another seed (the seed row: how far a seed alone moves each number)
    "describer_savings_together": {"epochs": 6.0, "eval_steps": 840, "eval_samples": 100},
    "seed_1": {"seed": 1},
    "describer_savings_together_seed_1": {"epochs": 6.0, "eval_steps": 840, "eval_samples": 100, "seed": 1},
}
# one model each, against make demo's (DemoModelsSpec: YOLO 30 epochs, RT-DETR 500 steps)
DETECTOR_SAVINGS = {"yolo_24_epochs": {"yolo_epochs": 24}, "rtdetr_400_steps": {"rtdetr_steps": 400}}
QUICK_NOTEBOOKS = {
    "01_cv_extract": {"max_images": 24},
    "03_train_t5": {"max_steps": 30, "eval_steps": 10, "eval_samples": 8},
    "04_evaluate": {"stress_records": 8, "max_test_records": 6, "timing_records": 0, "num_captions": 1},
}


def _pipeline(out: Path, name: str, only: str, notebooks: dict, quick: bool) -> dict:
    """Runs `desclm pipeline --only ONLY` with these notebook parameters; returns its timings.json."""
    for key, extra in QUICK_NOTEBOOKS.items() if quick else ():
        if key in notebooks:  # the smoke sizes win over a variant's own change
            notebooks[key] = {**notebooks[key], **extra}
    params = out / name / "pipeline.yaml"
    params.parent.mkdir(parents=True, exist_ok=True)
    params.write_text(yaml.safe_dump(notebooks, sort_keys=False))
    desclm = Path(sys.executable).parent / "desclm"
    subprocess.run(
        [
            str(desclm),
            "pipeline",
            "--params",
            str(params),
            "--only",
            only,
            "--run",
            name,
            "--reports_dir",
            str(out / "reports"),
        ],
        check=True,
    )
    return json.loads((out / "reports" / name / "timings.json").read_text())


def _cv_notebooks(folder: Path, models: Path, describer: Path) -> dict:
    """01 -> 02 -> 04 parameters writing into `folder`, extracting with `models`."""
    return {
        "01_cv_extract": {
            "output": str(folder / "cv_outputs.jsonl"),
            "yolo_weights": str(models / "yolo_detector.pt"),
            "hf_model": str(models / "rtdetr"),
            "scene_weights": str(models / "scene_classifier.pt"),
            "ensemble_weights_file": str(models / "ensemble.json"),
        },
        "02_synth_descriptions": {"cv_outputs": str(folder / "cv_outputs.jsonl"), "output_dir": str(folder / "pairs")},
        "03_train_t5": {"pairs_dir": str(folder / "pairs"), "output_dir": str(describer)},
        "04_evaluate": {
            "model_dir": str(describer),
            "pairs_dir": str(folder / "pairs"),
            "output_dir": str(folder / "eval"),
        },
    }


def _judged(folder: Path) -> dict:
    """What 04 wrote about the run: its verdict's numbers (None where 04 had no test photos to judge)."""
    verdict = json.loads((folder / "eval" / "metrics.json").read_text())["verdict"]
    keys = ("targets_met", "truth_end_to_end", "truth_detectors", "littered_called_clean", "fallback_rate_test")
    return {k: verdict.get(k) for k in keys + ("raw_model_faithful_test", "raw_model_faithful_min_stress")}


def _training_seconds(describer: Path) -> dict:
    history = json.loads((describer / "trainer_state.json").read_text())["log_history"]
    train = next(entry for entry in history if "train_runtime" in entry)
    evaluations = [entry["eval_runtime"] for entry in history if "eval_runtime" in entry]
    best = max((entry.get("eval_faithfulness", 0.0) for entry in history if "eval_runtime" in entry), default=None)
    return {
        "steps": train["step"],
        "train_seconds": round(train["train_runtime"], 1),
        "evaluations": len(evaluations),
        "evaluation_seconds": round(sum(evaluations), 1),
        "best_validation_faithfulness": best,
    }


def _detector_variant(out: Path, name: str, change: dict, quick: bool) -> tuple[Path, dict]:
    """One demo model trained again with `change`, the others copied; scored and calibrated like the build."""
    from helpers.demo.models import QUICK, calibrate_demo, evaluate_models
    from helpers.demo.rtdetr import train_rtdetr
    from helpers.demo.spec import DemoModelsSpec
    from helpers.demo.yolo import train_yolo_detector

    base_spec = QUICK if quick else DemoModelsSpec()
    spec = replace(base_spec, **({k: max(1, v // 10) for k, v in change.items()} if quick else change))
    folder = out / name / "models"
    shutil.rmtree(folder, ignore_errors=True)
    shutil.copytree(DEMO_MODELS, folder)
    (folder / "ensemble.json").unlink()
    work = out / name / "work"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    began = time.perf_counter()
    if "yolo_epochs" in change:
        train_yolo_detector(DEMO_DATA, folder, spec, work)
        done, made = spec.yolo_epochs, base_spec.yolo_epochs
    else:
        shutil.rmtree(folder / "rtdetr")
        train_rtdetr(DEMO_DATA, folder, spec)
        done, made = spec.rtdetr_steps, base_spec.rtdetr_steps
    seconds = time.perf_counter() - began
    scores = evaluate_models(folder, DEMO_DATA, spec)
    weights, ensemble = calibrate_demo(folder, DEMO_DATA, spec)
    shutil.rmtree(work)
    per_unit = seconds / done
    return folder, {
        "change": change,
        "spec": asdict(spec),
        "training_seconds": round(seconds, 1),
        "seconds_per_epoch_or_step": round(per_unit, 3),
        "seconds_saved": round(per_unit * (made - done), 1),
        "scores": scores,
        "ensemble_weights": weights,
        "ensemble": ensemble,
    }


# the part each saving cuts, as make demo's record names it (make_demo_record.py's file)
PARTS = {**dict.fromkeys(DESCRIBER_SAVINGS, "03"), "yolo_24_epochs": "yolo_detector", "rtdetr_400_steps": "rtdetr"}


def _part_seconds(result: dict, name: str) -> float:
    """The seconds, in this run, of the part a saving cuts: 03's notebook in make demo's run of the same
    seed, or the detector's training at make demo's length (its measured rate times make demo's epochs or steps)."""
    row = result["variants"][name]
    if PARTS[name] == "03":
        seed = row["change"].get("seed", 0)
        same_seed = result["base"] if seed == 0 else result["variants"][f"seed_{seed}"]
        return same_seed["timings"]["03_train_t5"]
    from helpers.demo.spec import DemoModelsSpec

    (setting,) = row["change"]
    return row["seconds_per_epoch_or_step"] * getattr(DemoModelsSpec(), setting)


def _record_part_seconds(record: dict, part: str) -> float:
    return record["timings"]["03_train_t5"] if part == "03" else record["models"]["seconds"][part]


def markdown_table(result: dict, record: dict) -> str:
    """The savings side by side: seconds saved here and their share of the part they cut, that share of
    the part in make demo's saved record (`record`: make_demo_record.py's file), and what each cost."""

    def judged(row: dict) -> str:
        j = row["judged"]
        met = "met" if j["targets_met"] else "**not met**"
        return (
            f"{100 * j['truth_end_to_end']:.1f}% | {j['raw_model_faithful_test']:.2f} / "
            f"{j['raw_model_faithful_min_stress']:.3f} | {met}"
        )

    def maps(scores: dict) -> str:
        return "; ".join(
            f"{scores['val'][f'{n}_map50']:.2f}/{scores['test'][f'{n}_map50']:.2f}" for n in ("yolo", "hf")
        )

    lines = [
        "| saving (one at a time) | seconds saved here | share of the part | on the record (estimate) "
        "| mAP@0.5 val/test (YOLO; RT-DETR) | 04: true end to end | 04: raw model faithful (test / worst stress) "
        "| 04's targets |",
        "|---|---|---|---|---|---|---|---|",
        f"| none: make demo as it is | | | | {maps(result['models'])} | {judged(result['base'])} |",
    ]
    for name, row in result["variants"].items():
        change = ", ".join(f"{key} {value:g}" for key, value in row["change"].items())
        if set(row["change"]) == {"seed"}:  # make demo as it is on another seed: a reference, not a saving
            took, seed_0 = row["timings"]["03_train_t5"], result["base"]["timings"]["03_train_t5"]
            seconds = f"none (03 took {took:.0f} s, seed 0's {seed_0:.0f} s)"
            lines.append(
                f"| make demo as it is, `{change}` | {seconds} | | | {maps(result['models'])} | {judged(row)} |"
            )
            continue
        part_seconds = _part_seconds(result, name)
        saved = part_seconds - row["timings"]["03_train_t5"] if PARTS[name] == "03" else row["seconds_saved"]
        share = saved / part_seconds
        part = PARTS[name]
        on_record = share * _record_part_seconds(record, part)
        lines.append(
            f"| {name.replace('_', ' ')} (`{change}`) | {saved:.0f} | {share:.0%} of "
            f"{'03' if part == '03' else part.split('_')[0]} | {on_record:.0f} s "
            f"| {maps(row.get('scores', result['models']))} | {judged(row)} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, help="folder for the runs and demo_savings.json")
    parser.add_argument("--quick", action="store_true", help="a smoke run: a few photos and steps")
    parser.add_argument("--table", type=Path, help="print a saved demo_savings.json as the docs' table, and stop")
    parser.add_argument("--record", type=Path, default=Path("docs/measurements/make_demo_fresh_clone_cpu.json"))
    args = parser.parse_args()
    if args.table:
        print(markdown_table(json.loads(args.table.read_text()), json.loads(args.record.read_text())))
        return
    if args.out is None:
        parser.error("--out is required (or --table)")
    out = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    commit = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=True).stdout.strip()
    from make_demo_record import _cpu  # this folder: the record's own way of naming the CPU

    from helpers.core.device import cpu_has_native_bf16

    result = {
        "command": " ".join(["python", "docs/measurements/demo_savings.py", *sys.argv[1:]]),
        "commit": commit,
        "machine": f"{_cpu()}, {os.cpu_count()} CPU cores, native bf16: {cpu_has_native_bf16()}",
        "models": json.loads((DEMO_MODELS / "manifest.json").read_text())["scores"],
        "variants": {},
    }
    saved = out / "demo_savings.json"
    if saved.exists():  # a run stopped part-way, or variants added since: what is saved is kept, not redone
        result = {**json.loads(saved.read_text()), "commit": commit}
    save = lambda: atomic_write_text(saved, json.dumps(result, indent=2) + "\n")  # noqa: E731

    base = out / "base"
    base_describer = base / "description_llm"
    if "base" not in result:
        notebooks = _cv_notebooks(base, DEMO_MODELS, base_describer)
        timings = _pipeline(out, "base", "01,02,03,04", notebooks, args.quick)
        result["base"] = {"timings": timings, "describer": _training_seconds(base_describer), "judged": _judged(base)}
        save()

    for name, change in DESCRIBER_SAVINGS.items():
        if name in result["variants"]:
            continue
        folder = out / name
        notebooks = _cv_notebooks(base, DEMO_MODELS, folder / "description_llm")
        notebooks = {
            "03_train_t5": {**notebooks["03_train_t5"], **change},
            "04_evaluate": {**notebooks["04_evaluate"], "output_dir": str(folder / "eval")},
        }
        timings = _pipeline(out, name, "03,04", notebooks, args.quick)
        result["variants"][name] = {
            "change": change,
            "timings": timings,
            "seconds_saved": round(result["base"]["timings"]["03_train_t5"] - timings["03_train_t5"], 1),
            "describer": _training_seconds(folder / "description_llm"),
            "judged": _judged(folder),
        }
        save()

    for name, change in DETECTOR_SAVINGS.items():
        if name in result["variants"]:
            continue
        models, row = _detector_variant(out, name, change, args.quick)
        notebooks = _cv_notebooks(out / name, models, base_describer)
        del notebooks["03_train_t5"]
        row["timings"] = _pipeline(out, name, "01,02,04", notebooks, args.quick)
        row["judged"] = _judged(out / name)
        result["variants"][name] = row
        save()


if __name__ == "__main__":
    main()
