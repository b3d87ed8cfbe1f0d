"""Wording variants against training-seed noise (issue 17): gathers 04's metrics of describers trained
with several seeds, with and without variants, into one JSON with per-group means.

    python docs/measurements/variants_seeds.py --out docs/measurements/variants_seeds_demo_cpu.json \
        --run "variants 8, seed 0=data/eval" --run "variants 0, seed 0=data/eval_variants0" \
        --run "variants 8, seed 1=data/eval_v8_s1" ...

Runs are named "variants V, seed S" and point at 04's output folder (metrics.json, records.jsonl); the
seeds 1 and 2 runs are made by docs/measurements/seeds/*.yaml. Per group, the records each pair of runs
of one seed judge differently are counted over all seeds, with the exact one-sided McNemar p-value of
"variants 8 is less faithful" (`helpers.cv.calibrate.mcnemar_p`). `--arm` and `--baseline` compare
two other settings the same way (runs named "SETTING, seed S"; the p-value is then "the arm is less
faithful", `p_value_arm_worse`).
"""

from __future__ import annotations

import argparse
import json
import statistics
from collections import defaultdict
from pathlib import Path


def summarise(metrics: dict) -> dict:
    """The numbers the issue's goal names: raw faithfulness per group, and variety on the test photos."""
    return {
        "raw_model_faithful": {name: group["raw_model"]["faithful"] for name, group in metrics["groups"].items()},
        "guarded_faithful": {name: group["guarded"]["faithful"] for name, group in metrics["groups"].items()},
        "test_unique_ratio": {k: metrics["text_quality"][k]["unique_ratio"] for k in ("raw_model", "grammar")},
    }


def faithful_by_record(folder: Path) -> dict[tuple[str, str], bool]:
    """(group, record id) -> the raw model's sentence was faithful."""
    rows = (json.loads(line) for line in (folder / "records.jsonl").read_text().split("\n") if line.strip())
    return {(row["group"], row["id"]): row["raw_model"]["faithful"] for row in rows}


def paired(folders: dict[str, Path], arm: str = "variants 8", baseline: str = "variants 0") -> dict[str, dict]:
    """Per group, over seeds: records only `baseline` gets right (`worse`) and only `arm` (`better`)."""
    from helpers.cv.calibrate import mcnemar_p

    counts: dict[str, dict[str, int]] = defaultdict(lambda: {"better": 0, "worse": 0})
    for name, folder in folders.items():
        setting, seed = (part.strip() for part in name.split(","))
        if setting != arm or f"{baseline}, {seed}" not in folders:
            continue
        with_arm, without = faithful_by_record(folder), faithful_by_record(folders[f"{baseline}, {seed}"])
        for key, right in with_arm.items():
            counts[key[0]]["better"] += right and not without[key]
            counts[key[0]]["worse"] += without[key] and not right
    key = "p_value_variants_worse" if (arm, baseline) == ("variants 8", "variants 0") else "p_value_arm_worse"
    return {g: {**c, key: round(mcnemar_p(c["worse"], c["better"]), 4)} for g, c in counts.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--run", action="append", required=True, help="'variants V, seed S=04's output folder'")
    parser.add_argument("--out", required=True, help="JSON file to write")
    parser.add_argument("--arm", default="variants 8", help="the setting compared (default: %(default)s)")
    parser.add_argument("--baseline", default="variants 0", help="the setting it is compared with (%(default)s)")
    parser.add_argument("--pairs", default="", help="which pairs the runs trained on, saved with the numbers")
    parser.add_argument(
        "--model",
        default="make demo's describer recipe (tiny scratch T5, 8 epochs) on the same pairs; 03's seed changes",
        help="what the runs trained, saved with the numbers (default: %(default)s)",
    )
    args = parser.parse_args(argv)
    defaults = {k: parser.get_default(k) for k in ("model", "arm", "baseline")}
    folders = {name.strip(): Path(path) for name, path in (entry.split("=", 1) for entry in args.run)}
    runs = {name: summarise(json.loads((folder / "metrics.json").read_text())) for name, folder in folders.items()}
    by_setting: dict[str, list[dict]] = defaultdict(list)
    for name, run in runs.items():
        by_setting[name.split(",")[0]].append(run)
    means = {}
    for setting, group_runs in by_setting.items():
        groups = group_runs[0]["raw_model_faithful"]
        means[setting] = {
            "seeds": len(group_runs),
            "raw_model_faithful": {
                g: round(statistics.mean(r["raw_model_faithful"][g] for r in group_runs), 4) for g in groups
            },
            "raw_model_faithful_range": {
                g: [
                    min(r["raw_model_faithful"][g] for r in group_runs),
                    max(r["raw_model_faithful"][g] for r in group_runs),
                ]
                for g in groups
            },
            "guarded_faithful_min": min(min(r["guarded_faithful"].values()) for r in group_runs),
            "test_unique_ratio": {
                k: round(statistics.mean(r["test_unique_ratio"][k] for r in group_runs), 4)
                for k in ("raw_model", "grammar")
            },
        }
    report = {
        "command": "python docs/measurements/variants_seeds.py "
        + " ".join(f'--run "{e}"' for e in args.run)
        + (f' --pairs "{args.pairs}"' if args.pairs else "")
        + (f' --model "{args.model}"' if args.model != defaults["model"] else "")
        + "".join(f' --{k} "{getattr(args, k)}"' for k in ("arm", "baseline") if getattr(args, k) != defaults[k]),
        "machine": "2 CPU cores",
        "model": args.model + (f"; pairs: {args.pairs}" if args.pairs else ""),
        "runs": runs,
        "means": means,
        "paired_by_record": paired(folders, args.arm, args.baseline),
    }
    Path(args.out).write_text(json.dumps(report, indent=1) + "\n")
    print(json.dumps(report["paired_by_record"], indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
