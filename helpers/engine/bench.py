"""Benchmark: the Ray engine against the local engine, same photos, same settings, one run.

    desclm bench engines --images data/demo/data.yaml --yolo_weights ... [--count 96] [--concurrency 1]

Each way runs `run_extraction` into a fresh output, alternating local and Ray `repeats` times (the
best run of each counts, so a noisy neighbour hurts both alike). The Ray cluster is started (or
joined) before any timing, and its start is reported apart; a Ray run's time then includes what
every run on a cluster pays: scheduling, starting the actors and loading the models in them. It
also reports the Ray run's streaming rate, from the first result to the last, which is what a run
of 10^5 photos sees once the actors are up. Both ways must write the same records, or the
benchmark fails.
"""

from __future__ import annotations

import json
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from helpers.core.io import atomic_write_text, iter_jsonl
from helpers.cv.config import ExtractConfig
from helpers.cv.extract import LocalEngine, run_extraction
from helpers.engine.options import EngineOptions
from helpers.engine.ray_data import RayEngine, connect, gpus_per_actor


def _records(path: str) -> list[dict]:
    return sorted((line.record for line in iter_jsonl(path)), key=lambda record: record["image"])


def _timed_run(config: ExtractConfig, engine) -> tuple[dict, float, list[tuple[float, int]]]:
    arrivals: list[tuple[float, int]] = []
    started = time.perf_counter()

    def arrived(result) -> None:
        arrivals.append((time.perf_counter(), result.inputs))

    run = run_extraction(config, engine=engine, on_batch=arrived)
    return run, time.perf_counter() - started, [(moment - started, count) for moment, count in arrivals]


def engine_benchmark(config: ExtractConfig, options: EngineOptions, repeats: int = 2) -> dict:
    """Times both engines on `config`'s photos; returns images/s of each, their ratio, and the check."""
    started = time.perf_counter()
    resources = connect(options.address)
    cluster_seconds = time.perf_counter() - started
    local_seconds, ray_seconds, streaming, first = [], [], [], []
    with tempfile.TemporaryDirectory() as work:
        for repeat in range(repeats):
            local, seconds, _ = _timed_run(replace(config, output=f"{work}/local{repeat}.jsonl"), LocalEngine())
            local_seconds.append(seconds)
            on_ray_config = replace(config, output=f"{work}/ray{repeat}.jsonl")
            on_ray, seconds, arrivals = _timed_run(on_ray_config, RayEngine(options))
            ray_seconds.append(seconds)
            first += [arrivals[0][0]] if arrivals else []
            if len(arrivals) > 1:  # photos after the first result, over the time they took to arrive
                streaming.append(sum(count for _, count in arrivals[1:]) / (arrivals[-1][0] - arrivals[0][0]))
            if _records(local["output"]) != _records(on_ray["output"]):
                raise RuntimeError("the Ray engine wrote other records than the local engine")
        photos = local["processed"] + local["failed"]
    local_rate, ray_rate = photos / min(local_seconds), photos / min(ray_seconds)
    return {
        "photos": photos,
        "batch_size": config.batch_size,
        "repeats": repeats,
        "cluster": {name: resources.get(name, 0.0) for name in ("CPU", "GPU")},
        "cluster_start_seconds": cluster_seconds,
        "ray_actors": options.concurrency,
        "ray_cpus_per_actor": options.num_cpus,
        "ray_gpus_per_actor": gpus_per_actor(options, resources),
        "local_images_per_second": local_rate,
        "ray_images_per_second": ray_rate,
        "ray_vs_local": ray_rate / local_rate,
        "ray_first_result_seconds": min(first) if first else None,  # scheduling, actors started, models loaded
        "ray_streaming_images_per_second": max(streaming) if streaming else None,
        "same_records": True,
    }


def run_benchmark(config: ExtractConfig, options: EngineOptions, count: int, repeats: int, output: str) -> int:
    """`desclm bench engines`: prints the comparison, and writes it to `output` when given."""
    result = engine_benchmark(replace(config, max_images=count), options, repeats)
    text = json.dumps(result, indent=2) + "\n"
    print(text, end="")
    if output:
        atomic_write_text(Path(output), text)
    streaming = result["ray_streaming_images_per_second"]
    print(
        f"ray {result['ray_images_per_second']:.2f} img/s vs local {result['local_images_per_second']:.2f} img/s: "
        f"x{result['ray_vs_local']:.2f} ({result['photos']} photos, actors started in each run)"
        + (f"; ray once streaming {streaming:.2f} img/s" if streaming else "")
    )
    return 0


def markdown_table(results: list[dict]) -> str:
    """The table docs/ray.md shows, from saved `desclm bench engines --results` files."""
    lines = [
        "| photos | local engine | Ray engine, whole run | Ray: first result after | Ray, once streaming "
        "| Ray / local |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for result in sorted(results, key=lambda result: result["photos"]):
        streaming = result["ray_streaming_images_per_second"]
        lines.append(
            f"| {result['photos']} | {result['local_images_per_second']:.1f} img/s "
            f"| {result['ray_images_per_second']:.1f} img/s | {result['ray_first_result_seconds']:.1f} s "
            f"| {f'{streaming:.1f} img/s' if streaming else 'n/a'} | x{result['ray_vs_local']:.2f} |"
        )
    return "\n".join(lines)
