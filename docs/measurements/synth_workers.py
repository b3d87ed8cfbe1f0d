"""`desclm synth` with its sentences written on worker processes against all in one process, side by side.

    python docs/measurements/synth_workers.py --out docs/measurements/synth_workers_cpu.json

Generated CV records (`random_cv`, with an id each) written by `desclm synth --workers N` for each `--workers`
count, each run a fresh process as a user's is, taking turns, best of `--repeats`; every run must write the same
file (`measured.best_seconds_by_workers`).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import tempfile
from pathlib import Path

from measured import best_seconds_by_workers, commit, rates_by_workers, save

from helpers.text.synthetic import random_cv


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=20000)
    parser.add_argument("--workers", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    rng = random.Random(0)
    with tempfile.TemporaryDirectory() as work:
        folder = Path(work)
        records = (json.dumps({"id": f"p{i}", **random_cv(rng)}) + "\n" for i in range(args.records))
        (folder / "cv.jsonl").write_text("".join(records))
        command = ["synth", "--input", str(folder / "cv.jsonl")]
        best = best_seconds_by_workers(command, folder / "described.jsonl", args.workers, args.repeats)
    rates, vs_first = rates_by_workers(args.records, best)
    result = {
        "what": "desclm synth, a fresh process per run, generated records, this CPU, by workers",
        "commit": commit(),
        "cpu_cores": os.cpu_count(),
        "records": args.records,
        "repeats": args.repeats,
        "records_per_second": rates,
        "vs_first": vs_first,
        "same_output": True,
    }
    save(result, args.out)


if __name__ == "__main__":
    main()
