"""The guard in this process against the guard on worker processes, side by side (issue 31, item 2).

    python docs/measurements/guard_pool.py --out docs/measurements/guard_pool_demo_cpu.json

The same generated records (`random_cv`, seed 1) through the same describer twice, alternating, best
of `--repeats` runs each after a warm-up (which also starts the pool); both must give the same
descriptions, or the measurement fails.
"""

from __future__ import annotations

import argparse
import json
import random
import time
from pathlib import Path


def measure(model: str, records: int, batch_size: int, workers: int, repeats: int) -> dict:
    from helpers.describer.describe import Describer
    from helpers.text.synthetic import random_cv

    rng = random.Random(1)
    inputs = [random_cv(rng, max_detections=12) for _ in range(records)]
    ways = {
        "in_this_process": Describer.load(model, device="cpu", guard_workers=0),
        f"{workers}_workers": Describer.load(model, device="cpu", guard_workers=workers),
    }
    for describer in ways.values():
        describer.describe_detailed(inputs[:batch_size], batch_size)  # warm-up; starts the pool
    best, outputs = {name: float("inf") for name in ways}, {}
    for _ in range(repeats):
        for name, describer in ways.items():
            started = time.perf_counter()
            outputs[name] = describer.describe_detailed(inputs, batch_size)
            best[name] = min(best[name], time.perf_counter() - started)
    first, second = outputs.values()
    if first != second:
        raise RuntimeError("the pool gave other descriptions than the guard in this process")
    rates = {name: records / seconds for name, seconds in best.items()}
    return {
        "model": model,
        "records": records,
        "batch_size": batch_size,
        "repeats": repeats,
        "records_per_second": rates,
        "pool_vs_in_process": rates[f"{workers}_workers"] / rates["in_this_process"],
        "same_descriptions": True,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="models/description_llm")
    parser.add_argument("--records", type=int, default=512)
    parser.add_argument("--batch_size", type=int, default=64)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    result = measure(args.model, args.records, args.batch_size, args.workers, args.repeats)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
