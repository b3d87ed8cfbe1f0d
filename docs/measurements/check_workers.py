"""`desclm check` with its captions checked on worker processes against all in one process, side by side.

    python docs/measurements/check_workers.py --out docs/measurements/check_workers_cpu.json

Generated CV records (`random_cv`) and a grammar sentence for each as its caption (JSONL), checked by
`desclm check --workers N` for each `--workers` count, each run a fresh process as a user's is (so
no run finds the checker's caches warmed by another: its start, imports and workers counted),
taking turns, best of `--repeats`; every run must write the same verdicts.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import tempfile
from pathlib import Path

from measured import best_seconds_by_workers, commit, rates_by_workers, save

from helpers.text.grammar import describe
from helpers.text.synthetic import random_cv


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--captions", type=int, default=8000)
    parser.add_argument("--workers", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    rng = random.Random(0)
    with tempfile.TemporaryDirectory() as work:
        folder = Path(work)
        records = [{"id": f"p{i}", **random_cv(rng)} for i in range(args.captions)]
        (folder / "cv.jsonl").write_text("".join(json.dumps(record) + "\n" for record in records))
        captions = [{"id": record["id"], "caption": describe(record, rng)} for record in records]
        (folder / "captions.jsonl").write_text("".join(json.dumps(caption) + "\n" for caption in captions))
        command = ["check", "--input", str(folder / "cv.jsonl"), "--captions", str(folder / "captions.jsonl")]
        best = best_seconds_by_workers(command, folder / "verdicts.jsonl", args.workers, args.repeats)
    rates, vs_first = rates_by_workers(args.captions, best)
    result = {
        "what": "desclm check, a fresh process per run, generated records and grammar captions, this CPU, by workers",
        "commit": commit(),
        "cpu_cores": os.cpu_count(),
        "captions": args.captions,
        "repeats": args.repeats,
        "captions_per_second": rates,
        "vs_first": vs_first,
        "same_verdicts": True,
    }
    save(result, args.out)


if __name__ == "__main__":
    main()
