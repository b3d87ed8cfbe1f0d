"""Raw faithfulness by beam count (issue 17): the same trained describers decoded greedily and with
beams, on 04's stress groups (same records as 04: `stress_set(group, 200, seed 0)`) and the test
pairs. The raw model's sentence is the top hypothesis, as in 04. Models are named "SETTING, seed S";
`paired` compares, per group over seeds, "variants 8" greedy with "variants 0" at each beam count:
records only the latter gets right (`worse`), only the former (`better`), and the exact one-sided
McNemar p of "variants 8 greedy is less faithful".

    python docs/measurements/decoding_beams.py --out docs/measurements/decoding_beams_demo_cpu.json \
        --model "variants 8=models/description_llm" --model "variants 0=models/description_llm_variants0" \
        --beams 1 4 8
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def paired(right_by_record: dict, beams: list[int], groups: list[str]) -> dict:
    """Variants 8 greedy against variants 0 at each beam count, per group over the seeds both have."""
    from helpers.cv.calibrate import mcnemar_p

    seeds = sorted({name.split(", ")[1] for name, _, _ in right_by_record if name.startswith("variants 8, ")})
    result = {}
    for baseline_beams in beams:
        for group in groups:
            better = worse = 0
            for seed in seeds:
                arm = right_by_record.get((f"variants 8, {seed}", 1, group))
                base = right_by_record.get((f"variants 0, {seed}", baseline_beams, group))
                if arm is None or base is None:
                    continue
                better += sum(a and not b for a, b in zip(arm, base))
                worse += sum(b and not a for a, b in zip(arm, base))
            result.setdefault(f"variants 8 beams 1 vs variants 0 beams {baseline_beams}", {})[group] = {
                "better": better,
                "worse": worse,
                "p_value_worse": round(mcnemar_p(worse, better), 4),
            }
    return result


def main() -> None:
    from helpers.describer import Describer
    from helpers.describer.evaluate import _errors, test_records
    from helpers.text.synthetic import STRESS_GROUPS, stress_set

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", required=True)
    parser.add_argument("--model", action="append", required=True, help="'NAME=model folder'")
    parser.add_argument("--beams", type=int, nargs="+", default=[1, 4, 8])
    parser.add_argument("--pairs-dir", default="data/pairs", help="test pairs (default: %(default)s)")
    args = parser.parse_args()
    groups = {"test": test_records(args.pairs_dir), **{g: stress_set(g, 200, 0) for g in STRESS_GROUPS}}
    runs, right_by_record = {}, {}
    for entry in args.model:
        name, folder = entry.split("=", 1)
        describer = Describer.load(folder)
        runs[name] = {"model_dir": folder, "saved_num_beams": describer.settings.num_beams}
        for beams in args.beams:
            faithful = {}
            for group, records in groups.items():
                described = describer.describe_detailed(records, num_beams=beams)
                right = [not any(_errors(r, d.expected, d.hypotheses[0]).values()) for r, d in zip(records, described)]
                right_by_record[name, beams, group] = right
                faithful[group] = round(sum(right) / len(records), 4)
            runs[name][f"beams {beams}"] = faithful
            print(name, beams, faithful, flush=True)
    result = {
        "command": "python docs/measurements/decoding_beams.py --out "
        + args.out
        + "".join(f' --model "{m}"' for m in args.model)
        + " --beams "
        + " ".join(map(str, args.beams)),
        "machine": "2 CPU cores",
        "runs": runs,
        "paired": paired(right_by_record, args.beams, list(groups)),
    }
    Path(args.out).write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
