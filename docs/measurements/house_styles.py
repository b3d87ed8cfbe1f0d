"""House styles learned from examples: does the model write them, and what does the guard keep?

    python docs/measurements/house_styles.py --out docs/measurements/house_styles_cpu.json

Trains make demo's describer recipe (`TrainConfig` defaults: scratch T5, 8 epochs) on pairs from
generated CV records (`random_cv`, the five classes: 300 as photos plus 02's 2,000 coverage records)
mixed with the two demo house styles, `helpers/demo/examples/{inventory,narrative}.jsonl` (150
hand-written examples each, the same records in both styles, each repeated `house_weight` times).
Then, on 200 held-out generated records (the five classes, at most 10 confident detections, scenes
known, unsure, unknown or missing), for each style the model learned:

`--styles "plain words, plain digits"` also teaches the grammar's digits (the inventory style writes
digits; the default recipe teaches only words).

- `raw_in_style`: the model's own sentence (guard off) has the style: for a house style, its frame
  is one of the examples' (`helpers.text.house`); for the grammar's style, no style error;
- `raw_faithful`: the model's own sentence states exactly the record's facts;
- `guarded_faithful`, `grammar_share`: with the guard on, sentences faithful, and the share the
  grammar wrote because no model sentence was faithful and in style (greedy, as the recipe saves the
  model; `_4_beams`: with four beams, so the guard can choose among four sentences).
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import tempfile
import time
from pathlib import Path

RECORDS, HELD_OUT = 300, 200
SCENE_MODES = ("known", "known", "known", "low", "missing", "unknown")


def held_out_records(seed: int, count: int) -> list[dict]:
    from helpers.text.synthetic import random_cv

    rng = random.Random(f"house held out:{seed}")
    return [random_cv(rng, max_detections=10, unseen_rate=0, scene_mode=rng.choice(SCENE_MODES)) for _ in range(count)]


def measure(folder: Path, train_overrides: dict, styles: str) -> dict:
    from helpers.core.io import write_jsonl
    from helpers.describer.describe import Describer
    from helpers.pairs.synth import SynthConfig, build_pairs
    from helpers.text.fallback import said, well_written
    from helpers.text.grammar import facts
    from helpers.text.house import house_errors
    from helpers.training.train import TrainConfig, train

    photos = [{**record, "image": f"photo_{n:04d}.jpg"} for n, record in enumerate(held_out_records(1, RECORDS))]
    write_jsonl(folder / "cv.jsonl", photos)
    pairs = build_pairs(
        SynthConfig(
            cv_outputs=str(folder / "cv.jsonl"),
            output_dir=str(folder / "pairs"),
            styles=styles,
            house_styles="inventory, narrative",
            examples_dir="helpers/demo/examples",
        )
    )
    started = time.perf_counter()
    train(TrainConfig(pairs_dir=str(folder / "pairs"), output_dir=str(folder / "model"), **train_overrides))
    seconds = time.perf_counter() - started
    records = held_out_records(2, HELD_OUT)
    results = {}
    for style in (*[s.strip() for s in styles.split(",")], "house:inventory", "house:narrative"):
        describer = Describer.load(folder / "model", style=style)
        guarded = describer.describe_detailed(records)
        raw = Describer.load(folder / "model", guard=False, style=style).describe_detailed(records)
        in_style = []
        for record, result in zip(records, raw, strict=True):
            if describer.style.is_house:
                frames = describer.settings.spec.frames_of(describer.style)
                in_style.append(not house_errors(result.text, record, frames))
            else:
                in_style.append(well_written(result.text, record, describer.style, facts(record).scene))
        beams = describer.describe_detailed(records, num_beams=4)  # more sentences for the guard to choose from
        results[style] = {
            "grammar_share_4_beams": sum(r.source == "grammar" for r in beams) / len(records),
            "guarded_faithful_4_beams": sum(r.faithful for r in beams) / len(records),
            "raw_in_style": sum(in_style) / len(records),
            "raw_faithful": sum(said(r.text, rec) == facts(rec) for r, rec in zip(raw, records)) / len(records),
            "guarded_faithful": sum(r.faithful for r in guarded) / len(records),
            "grammar_share": sum(r.source == "grammar" for r in guarded) / len(records),
            "examples": [{"raw": r.text, "guarded": g.text, "source": g.source} for r, g in zip(raw[:4], guarded[:4])],
            "raw_unfaithful": [
                {"expected": facts(rec).counts, "scene": facts(rec).scene, "raw": r.text}
                for r, rec in zip(raw, records)
                if said(r.text, rec) != facts(rec)
            ][:12],
        }
    return {
        "machine": platform.processor() or platform.machine(),
        "train_pairs": len(pairs.pairs["train"]),
        "house_pairs": sum(p["origin"].startswith("house:") for p in pairs.pairs["train"]),
        "train_seconds": seconds,
        "train_overrides": train_overrides,
        "grammar_styles": styles,
        "held_out_records": len(records),
        "styles": results,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="docs/measurements/house_styles_cpu.json")
    parser.add_argument("--max_steps", type=int, default=0, help="0: the recipe's epochs (a smoke run: 40)")
    parser.add_argument("--keep", default="", help="a folder to keep the pairs and model in (default: a temporary one)")
    parser.add_argument("--styles", default="plain words", help="the grammar's styles learned beside the house ones")
    args = parser.parse_args()
    overrides = {"max_steps": args.max_steps, "eval_steps": 20, "eval_samples": 8} if args.max_steps else {}
    if args.keep:
        Path(args.keep).mkdir(parents=True, exist_ok=True)
        result = measure(Path(args.keep), overrides, args.styles)
    else:
        with tempfile.TemporaryDirectory() as folder:
            result = measure(Path(folder), overrides, args.styles)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({style: {k: v for k, v in r.items() if k != "examples"} for style, r in result["styles"].items()}))


if __name__ == "__main__":
    main()
