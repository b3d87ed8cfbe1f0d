"""The guard with its recent readings kept against the guard reading every time, side by side.

    python docs/measurements/guard_readings.py --out docs/measurements/guard_readings_demo_cpu.json

The guard reads a sentence it accepts five times (its facts, agreement, numerals, frame, provenance);
`helpers.text.facts.extract` keeps its last readings. make demo's describer writes its greedy
sentences for the same generated records (`benchmark_records`) once; then `Guard.describe` alone
(no model) is timed on them, alternating the extractor as it is and one that reads every time,
best of `--repeats` each with the kept readings cleared before every run; both must give the
same descriptions, or the measurement fails.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import time
from pathlib import Path

import helpers.text.facts as facts
from helpers.describer.bench import benchmark_records
from helpers.describer.describe import Describer


def measure(model: str, records: int, repeats: int) -> dict:
    describer = Describer.load(model, device="cpu", guard_workers=0)
    cv = benchmark_records(records)
    inputs = describer.inputs(cv)
    hypotheses = describer.generate(inputs, 64)
    kept = facts._recent_reading
    calls = {"readings": 0}

    def every_time(text: str, vocabulary: tuple[str, ...]):
        calls["readings"] += 1
        return facts._extract(text, vocabulary)

    ways = {"readings kept": kept, "every reading made": every_time}
    best, outputs = dict.fromkeys(ways, float("inf")), {}
    try:
        for _ in range(repeats):
            for name, reader in ways.items():
                kept.cache_clear()
                facts._recent_reading = reader
                calls["readings"] = 0
                started = time.perf_counter()
                outputs[name] = describer.checker.describe(cv, inputs, hypotheses)
                best[name] = min(best[name], time.perf_counter() - started)
                if name == "every reading made":
                    readings = calls["readings"]
    finally:
        facts._recent_reading = kept
    first, second = outputs.values()
    if first != second:
        raise RuntimeError("the guard gave other descriptions with its readings kept")
    rates = {name: records / seconds for name, seconds in best.items()}
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    return {
        "what": "Guard.describe alone on make demo's describer's greedy sentences, this CPU (one process)",
        "commit": commit,
        "model": model,
        "records": records,
        "repeats": repeats,
        "sources": {source: sum(d.source == source for d in first) for source in ("model", "rerank", "grammar")},
        "readings_per_record_made_every_time": readings / records,
        "records_per_second": rates,
        "kept_vs_every_time": rates["readings kept"] / rates["every reading made"],
        "same_descriptions": True,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="models/description_llm")
    parser.add_argument("--records", type=int, default=2048)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    result = measure(args.model, args.records, args.repeats)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
