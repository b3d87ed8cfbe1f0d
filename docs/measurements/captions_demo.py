"""Notebook 04's several-captions section on make demo's test photos, as a file: the README's numbers.

    python docs/measurements/captions_demo.py --out docs/measurements/captions_demo_cpu.json

Runs what 04 runs (`caption_variety`, num_captions 5, the describer as 04 loads it: hf, guard on,
seed 0, as make demo runs it) with the model folder and pairs make demo wrote.
"""

from __future__ import annotations

import argparse
import json
import subprocess

from helpers.describer.describe import Describer
from helpers.describer.evaluate import caption_variety, test_records


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model_dir", default="models/description_llm")
    parser.add_argument("--pairs_dir", default="data/pairs")
    parser.add_argument("--num_captions", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="docs/measurements/captions_demo_cpu.json")
    args = parser.parse_args()
    describer = Describer.load(args.model_dir, backend="hf", guard=True, seed=args.seed)
    variety = caption_variety(describer, test_records(args.pairs_dir, 0), args.num_captions)
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    result = {
        "what": "notebook 04's several-captions section (num_captions 5) on make demo's test photos, "
        "this CPU (float32)",
        "commit": commit,
        "model_dir": args.model_dir,
        "captions": variety,
    }
    with open(args.out, "w", encoding="utf-8") as file:
        file.write(json.dumps(result, indent=1) + "\n")
    print(json.dumps({k: v for k, v in variety.items() if k != "examples"}))


if __name__ == "__main__":
    main()
