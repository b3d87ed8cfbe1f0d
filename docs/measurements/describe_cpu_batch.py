"""The guarded describer on the CPU at each generation batch, side by side: the CPU's auto batch.

    python docs/measurements/describe_cpu_batch.py --out docs/measurements/describe_cpu_batch_demo_cpu.json
    python docs/measurements/describe_cpu_batch.py --shape flan-t5-small --records 256 --batch_sizes 8 32 64 128 \
        --repeats 2 --out docs/measurements/describe_cpu_batch_flan-t5-small_cpu.json

make demo's describer, or with `--shape` a random-init describer of that shape saved with 4 beams
(`desclm gpu-check`'s; the guard's grammar then writes almost every sentence), HF float32, the
guard in this process, describes the same
generated records (`benchmark_records`) at each `--batch_sizes`, the sizes taking turns within each
of `--repeats` rounds (best of them kept); the sentences that differ from the first batch's are
counted (padding changes the arithmetic). `helpers.describer.batch.CPU_BATCH_SIZE` is chosen from
this file.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import torch
from measured import commit, save

from helpers.describer.bench import benchmark_records
from helpers.describer.describe import Describer


def measure(model: str, records: int, batch_sizes: list[int], repeats: int) -> dict:
    describer = Describer.load(model, device="cpu", guard_workers=0)
    cv = benchmark_records(records)
    describer.describe(cv[: max(batch_sizes)], max(batch_sizes))  # warm-up
    best, texts = dict.fromkeys(batch_sizes, float("inf")), {}
    for _ in range(repeats):
        for batch_size in batch_sizes:
            started = time.perf_counter()
            texts[batch_size] = describer.describe(cv, batch_size)
            best[batch_size] = min(best[batch_size], time.perf_counter() - started)
    differing = {size: sum(a != b for a, b in zip(texts[size], texts[batch_sizes[0]])) for size in batch_sizes}
    rates = {size: records / seconds for size, seconds in best.items()}
    fastest = max(rates, key=rates.get)
    return {
        "what": "guarded Describer.describe, HF float32 on this CPU, by generation batch",
        "commit": commit(),
        "cpu_cores": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "model": model,
        "num_beams": describer.settings.num_beams,
        "records": records,
        "repeats": repeats,
        "records_per_second": {str(size): round(rate, 1) for size, rate in rates.items()},
        "vs_fastest": {str(size): round(rate / rates[fastest], 3) for size, rate in rates.items()},
        "fastest_batch": fastest,
        "sentences_differing_from_the_first_batch": {str(size): count for size, count in differing.items()},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="models/description_llm")
    parser.add_argument("--shape", default="", help="a random-init describer of this shape instead of --model")
    parser.add_argument("--records", type=int, default=1024)
    parser.add_argument("--batch_sizes", type=int, nargs="+", default=[8, 16, 32, 64, 128, 256])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as work:
        model = args.model
        if args.shape:
            from helpers.commands.gpu_check import _describer_folder

            model = str(_describer_folder(Path(work) / "model", args.shape))
        result = measure(model, args.records, args.batch_sizes, args.repeats)
    result["model"] = f"random-init {args.shape} shape" if args.shape else args.model
    save(result, args.out)


if __name__ == "__main__":
    main()
