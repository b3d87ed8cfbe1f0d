"""What reading the inputs once saves the one-file exports: `desclm export` of generated records as coco_instances
with three splits, and as coco and llava without, at an earlier commit (a pass to count, then two a split: seven
for coco_instances; two for coco) and at this checkout (one pass), side by side in one run on this machine.

    python docs/measurements/one_pass_exports.py --before 4971d71~1 --out docs/measurements/one_pass_exports_cpu.json

The records are `helpers.text.synthetic.random_cv`'s (up to 6 boxes, a size each), a row each described by its id;
no photos are read. Each export runs in a fresh process of its checkout (best of `--repeats`, alternating); the
files each writes are compared byte for byte.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from measured import commit, save

from helpers.text.synthetic import random_cv

EXPORTS = {  # name: (format, output, --splits)
    "coco_instances, 3 splits": ("coco_instances", "instances.json", "train=0.8,val=0.1,test=0.1"),
    "coco": ("coco", "captions.json", None),
    "llava": ("llava", "llava.json", None),
}
RUN = """import sys
from pathlib import Path
from helpers.describer.exports import export
from helpers.describer.selection import SplitPlan
fmt, described, output, cv, splits = sys.argv[1:6]
export(fmt, Path(described), Path(output), Path(cv), splits=SplitPlan.parse(splits) if splits else SplitPlan())
"""


def _inputs(folder: Path, rows: int, seed: int) -> None:
    rng = random.Random(seed)
    with open(folder / "cv.jsonl", "w") as cv, open(folder / "described.jsonl", "w") as described:
        for number in range(rows):
            key = f"flight{number % 50}/{number}.jpg"
            record = {**random_cv(rng, max_detections=6), "image": key, "width": 4000, "height": 3000}
            cv.write(json.dumps(record) + "\n")
            described.write(json.dumps({"id": key, "description": f"Photo {number}."}) + "\n")


def _digest(folder: Path) -> str:
    files = sorted(path for path in folder.iterdir() if path.suffix == ".json")
    return hashlib.sha256(b"".join(path.name.encode() + path.read_bytes() for path in files)).hexdigest()[:16]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--before", required=True, help="the earlier commit")
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    here = Path(__file__).resolve().parents[2]
    with tempfile.TemporaryDirectory() as work:
        work = Path(work)
        before = work / "before"
        subprocess.run(
            ["git", "-C", str(here), "worktree", "add", "-q", "--detach", str(before), args.before], check=True
        )
        try:
            _inputs(work, args.rows, args.seed)
            trees = {"before": before, "now": here}
            best: dict[str, dict[str, float]] = {name: {} for name in EXPORTS}
            digests: dict[str, dict[str, str]] = {name: {} for name in EXPORTS}
            for _ in range(args.repeats):
                for name, (fmt, output, splits) in EXPORTS.items():
                    for tree_name, tree in trees.items():
                        out = work / "out" / tree_name / fmt
                        out.mkdir(parents=True, exist_ok=True)
                        command = [sys.executable, "-c", RUN, fmt, str(work / "described.jsonl"), str(out / output)]
                        command += [str(work / "cv.jsonl"), splits or ""]
                        start = time.perf_counter()
                        subprocess.run(command, cwd=tree, check=True, env={**os.environ, "PYTHONPATH": str(tree)})
                        seconds = time.perf_counter() - start
                        best[name][tree_name] = min(best[name].get(tree_name, float("inf")), seconds)
                        digests[name][tree_name] = _digest(out)
        finally:
            subprocess.run(["git", "-C", str(here), "worktree", "remove", "--force", str(before)], check=True)
    result = {
        "what": "desclm export of generated records (no photos), an earlier commit against this one, this CPU",
        "commit": commit(),
        "before": args.before,
        "rows": args.rows,
        "repeats": args.repeats,
        "seconds": {name: {tree: round(value, 2) for tree, value in times.items()} for name, times in best.items()},
        "now_over_before_time": {name: round(times["now"] / times["before"], 2) for name, times in best.items()},
        "same_files": {name: found["now"] == found["before"] for name, found in digests.items()},
    }
    save(result, args.out)


if __name__ == "__main__":
    main()
