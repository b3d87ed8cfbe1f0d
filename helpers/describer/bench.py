"""Describer speed, HF vs CTranslate2, measured side by side on the same model and inputs.

    desclm bench describe MODEL_DIR [--records 256] [--batch_size 32] [--shape flan-t5-small]

Prints records/s for HF, CT2 float32 and CT2 int8 (guard on, as in production) and each one's
ratio to HF, and the guarded faithfulness of each (which must not change). Exports the model to
CTranslate2 first if it has no export yet. Timings are ratios within one run, not absolutes.

`--shape flan-t5-small` (or -base, -large) times a random-init model of that published shape
instead, with MODEL_DIR's tokenizer and settings (so the vocabulary is the describer's, not
flan's 32k): the speed at the users' model size. Random weights rarely stop early, so every
sentence runs to `max_new_tokens` and the guard's grammar writes it: the most work per record.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from helpers.core.contract import CT2_DIR, load_model_settings
from helpers.core.device import cpu_cores
from helpers.core.paths import resolve
from helpers.describer.describe import Describer
from helpers.text.synthetic import random_cv

BACKEND_SETTINGS = (("hf", "default"), ("ct2", "float32"), ("ct2", "int8"))


@dataclass(frozen=True)
class SpeedRow:
    backend: str
    compute_type: str
    batch_size: int
    num_beams: int
    records: int
    seconds: float
    faithful: float

    @property
    def records_per_second(self) -> float:
        return self.records / self.seconds

    @property
    def latency_ms(self) -> float:
        return 1000 * self.seconds / self.records


def benchmark_records(count: int, seed: int = 0) -> list[dict]:
    """In-distribution-like inputs (1-12 detections, some noise) for timing."""
    import random

    rng = random.Random(f"bench:{seed}")
    return [random_cv(rng, max_detections=12, unseen_rate=0.1, variant_rate=0.1, noise_rate=0.2) for _ in range(count)]


def shaped_model(model_dir: Path, shape: str, target: Path, build_model, seed: int = 0) -> Path:
    """Writes to `target` a random-init T5 of `shape` (a published shape such as flan-t5-small, or a
    scratch preset) with `model_dir`'s tokenizer and settings, exported to CTranslate2; returns `target`.
    `build_model(tokenizer, shape, seed)` makes the model (`helpers.training.build_model`: the commands
    pass it in, as the describer does not import training)."""
    from transformers import AutoTokenizer

    from helpers.describer.export_ct2 import export

    target.mkdir(parents=True, exist_ok=True)
    for settings_file in model_dir.glob("*.json"):  # llm_config.json and the rest; the model's own are rewritten
        if settings_file.name not in ("config.json", "generation_config.json"):
            shutil.copy(settings_file, target / settings_file.name)
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    tokenizer.save_pretrained(target)
    build_model(tokenizer, shape, seed).save_pretrained(target)
    export(target)
    return target


def parameter_count(model_dir: Path) -> int:
    """Parameters of the HF model in a folder (from its weights file, without loading the model)."""
    import math

    from safetensors import safe_open

    with safe_open(str(model_dir / "model.safetensors"), "pt") as weights:
        return sum(math.prod(weights.get_slice(name).get_shape()) for name in weights.keys())


def load_describers(model_dir: Path, settings=BACKEND_SETTINGS, threads: int = 0) -> dict[tuple[str, str], Describer]:
    """One guarded describer per (backend, compute_type); exports to CTranslate2 when needed."""
    if any(backend == "ct2" for backend, _ in settings) and not (model_dir / CT2_DIR / "model.bin").exists():
        from helpers.describer.export_ct2 import export

        export(model_dir)
    threads = threads or cpu_cores()
    describers = {}
    for backend, compute_type in settings:
        # Batches: requests in parallel over the cores (inter_threads), one thread each.
        options = (
            {"compute_type": compute_type, "inter_threads": threads, "intra_threads": 1} if backend == "ct2" else {}
        )
        describers[(backend, compute_type)] = Describer.load(model_dir, backend, device="cpu", **options)
    return describers


def measure(
    describer: Describer, records: list[dict], batch_size: int, num_beams: int, backend: str, compute_type: str
) -> SpeedRow:
    """Times one guarded pass over `records` (after a short warm-up)."""
    describer.describe_detailed(records[: min(len(records), batch_size)], batch_size, num_beams)  # warm-up
    started = time.perf_counter()
    results = describer.describe_detailed(records, batch_size, num_beams)
    seconds = time.perf_counter() - started
    faithful = sum(r.faithful for r in results) / len(results)
    return SpeedRow(backend, compute_type, batch_size, num_beams, len(records), seconds, faithful)


def speed_table(
    model_dir: str | Path,
    records: list[dict],
    batch_sizes=(1, 32),
    beams: tuple[int, ...] = (1, 4),
    settings=BACKEND_SETTINGS,
) -> list[dict]:
    """Every setting x batch size x beams, as rows with records/s, latency and the ratio to HF."""
    describers = load_describers(resolve(model_dir), settings)
    rows = []
    for batch_size in batch_sizes:
        for num_beams in beams:
            measured = [measure(d, records, batch_size, num_beams, *key) for key, d in describers.items()]
            baseline = next((m for m in measured if m.backend == "hf"), measured[0])
            for m in measured:
                rows.append(
                    {
                        "backend": m.backend if m.backend == "hf" else f"ct2 {m.compute_type}",
                        "batch_size": batch_size,
                        "num_beams": num_beams,
                        "records_per_second": m.records_per_second,
                        "latency_ms": m.latency_ms,
                        "speedup_vs_hf": m.records_per_second / baseline.records_per_second,
                        "guarded_faithful": m.faithful,
                    }
                )
    return rows


def run_benchmark(options, build_model=None) -> int:
    """`desclm bench describe`: records/s per backend (options: `helpers.commands.bench.BenchDescribeOptions`)."""
    model_dir = resolve(options.model_dir)
    beams = options.beams or load_model_settings(model_dir).num_beams
    with tempfile.TemporaryDirectory(prefix="desclm-shape-") as work:
        if options.shape:
            model_dir = shaped_model(model_dir, options.shape, Path(work) / options.shape, build_model)
            print(f"random-init {options.shape}: {parameter_count(model_dir) / 1e6:.1f}M parameters", flush=True)
        records = benchmark_records(options.records)
        rows = speed_table(model_dir, records, batch_sizes=(options.batch_size,), beams=(beams,))
    for row in rows:
        print(
            f"{row['backend']:<14} batch {row['batch_size']:>3} beams {row['num_beams']}: "
            f"{row['records_per_second']:8.1f} records/s"
            f"  x{row['speedup_vs_hf']:.2f} vs HF  guarded faithful {100 * row['guarded_faithful']:.1f}%"
        )
    return 0
