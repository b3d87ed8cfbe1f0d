"""Memory of finding a Hugging Face dataset's photos by key in its order (an export), before and after.

    python docs/measurements/photo_keys_memory.py --before de12557 --out docs/measurements/photo_keys_memory_cpu.json

Writes a Parquet dataset of `--rows` photos (tiny bytes, stored paths "train/images/NNNNNNN.jpg") in
`--files` files, then asks `PhotoKeys.exists` for every key in the dataset's order, as `desclm
export` does, once with the code at `--before` (a git worktree) and once with this checkout, each in
a fresh process, side by side in one run: the peak of Python's allocations (tracemalloc) and the
seconds taken.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

MEASURE = """
import sys, time, tracemalloc
from pathlib import Path
from helpers.core.photo_datasets import PhotoKeys
folder, rows = Path(sys.argv[1]), int(sys.argv[2])
tracemalloc.start()
started = time.perf_counter()
photos = PhotoKeys(folder)
found = sum(photos.exists(f"train/images/{row:07d}.jpg") for row in range(rows))
seconds = time.perf_counter() - started
print(found, tracemalloc.get_traced_memory()[1], seconds)
"""


def _dataset(folder: Path, rows: int, files: int) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    photo = pa.struct([("bytes", pa.binary()), ("path", pa.string())])
    folder.mkdir()
    per_file = -(-rows // files)
    for number, start in enumerate(range(0, rows, per_file)):
        values = [
            {"bytes": b"x", "path": f"train/images/{row:07d}.jpg"} for row in range(start, min(rows, start + per_file))
        ]
        pq.write_table(pa.table({"image": pa.array(values, photo)}), folder / f"part-{number:05d}.parquet")


def _run(code_root: Path, folder: Path, rows: int) -> dict:
    environment = {**os.environ, "PYTHONPATH": str(code_root)}
    done = subprocess.run(
        [sys.executable, "-c", MEASURE, str(folder), str(rows)],
        capture_output=True,
        text=True,
        env=environment,
        cwd=code_root,
        check=True,
    )
    found, peak, seconds = done.stdout.split()
    return {"found": int(found), "peak_mib": int(peak) / 2**20, "seconds": float(seconds)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--before", required=True, help="the commit to compare with")
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--files", type=int, default=100)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    here = Path(__file__).resolve().parents[2]
    with tempfile.TemporaryDirectory() as work:
        work = Path(work)
        _dataset(work / "photos", args.rows, args.files)
        before_tree = work / "before"
        subprocess.run(
            ["git", "worktree", "add", "-q", "--detach", str(before_tree), args.before], cwd=here, check=True
        )
        try:
            before = _run(before_tree, work / "photos", args.rows)
            after = _run(here, work / "photos", args.rows)
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(before_tree)], cwd=here, check=True)
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=here)
    result = {
        "what": "PhotoKeys.exists for every key of a Parquet photo dataset, in its order (as desclm export asks)",
        "rows": args.rows,
        "files": args.files,
        "before": {"commit": args.before, **before},
        "after": {"commit": commit.stdout.strip(), **after},
        "peak_after_vs_before": after["peak_mib"] / before["peak_mib"],
    }
    if before["found"] != args.rows or after["found"] != args.rows:
        raise RuntimeError(f"not every photo was found: {result}")
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
