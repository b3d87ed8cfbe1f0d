"""What a worker process (a guard or `desclm check` worker) spends importing what it runs, with inflect's
methods instrumented by typeguard at import (as `import inflect` does) and left as written (as
`helpers.text.lexicon` imports it), in fresh processes, alternating, on this machine.

    python docs/measurements/worker_start.py --out docs/measurements/worker_start_cpu.json
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

from measured import commit, save

WORKER_IMPORT = "import helpers.describer.guard"  # what the guard's workers (`helpers.core.workers.WorkerPool`) import
WAYS = {
    "instrumented": f"import inflect; {WORKER_IMPORT}",  # inflect imported first, as a plain `import inflect`
    "as_written": WORKER_IMPORT,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    seconds: dict[str, list[float]] = {way: [] for way in WAYS}
    for _ in range(args.repeats):
        for way, code in WAYS.items():
            start = time.perf_counter()
            subprocess.run([sys.executable, "-c", code], check=True)
            seconds[way].append(time.perf_counter() - start)
    median = {way: statistics.median(values) for way, values in seconds.items()}
    save(
        {
            "what": "seconds for a fresh Python process to import helpers.describer.guard (a worker's start)",
            "commit": commit(),
            "repeats": args.repeats,
            "median_seconds": median,
            "seconds": seconds,
            "instrumented_over_as_written": median["instrumented"] / median["as_written"],
        },
        args.out,
    )


if __name__ == "__main__":
    main()
