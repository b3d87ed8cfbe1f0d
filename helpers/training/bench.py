"""Benchmark: training throughput of this setup against the original notebook's, side by side.

    desclm bench train [--pairs_dir data/pairs] [--steps 40] [--batch_size 32] [--shape flan-t5-small]
    desclm bench train --compare_adapters --shape flan-t5-base [--steps 10]

Both train the same random-init T5 (a scratch preset, or a published shape such as flan-t5-small)
on the same training pairs for the same number of steps:
- this setup: the pairs' short input (linked format), padding per batch, batches grouped by length;
- the original: raw JSON input with its prompt, every input padded to 256 and target to 128.
It prints examples per second for each and the ratio (a measurement, not a test).

`--compare_adapters` instead trains the shape with full fine-tuning and with LoRA (this setup's
batches), each in a fresh process, and prints trainable parameters, examples/s and peak memory
(GPU: torch's peak allocation; CPU: the process's peak resident memory above its size before the
model was built).
"""

from __future__ import annotations

import json
import random
import resource
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context

import torch
from transformers import DataCollatorForSeq2Seq

import helpers  # noqa: F401 - offline switches
from helpers.core.contract import Policy
from helpers.core.device import resolve_device
from helpers.core.io import iter_jsonl
from helpers.core.paths import resolve
from helpers.text.linearize import linearize
from helpers.training.adapters import apply_adapter, parameter_counts
from helpers.training.scratch_model import build_model, train_tokenizer


def batches_ours(tokenizer, pairs: list[dict], batch_size: int, seed: int):
    """Length-grouped batches of the pairs' inputs, padded to the longest in the batch."""
    encoded = [
        {"input_ids": tokenizer(p["input"])["input_ids"], "labels": tokenizer(text_target=p["output"])["input_ids"]}
        for p in pairs
    ]
    order = sorted(range(len(encoded)), key=lambda i: len(encoded[i]["input_ids"]))
    chunks = [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
    random.Random(seed).shuffle(chunks)
    collator = DataCollatorForSeq2Seq(tokenizer)
    return [collator([encoded[i] for i in chunk]) for chunk in chunks]


def _batches_seed(tokenizer, pairs: list[dict], batch_size: int, seed: int):
    """The original's preprocessing: JSON prompt, padding="max_length" to 256 / 128."""
    order = list(range(len(pairs)))
    random.Random(seed).shuffle(order)
    batches = []
    for start in range(0, len(order), batch_size):
        chunk = [pairs[i] for i in order[start : start + batch_size]]
        inputs = tokenizer(
            [linearize(p["cv"], "seed_json", Policy()) for p in chunk],
            max_length=256,
            truncation=True,
            padding="max_length",
            return_tensors="pt",
        )
        labels = tokenizer(
            text_target=[p["output"] for p in chunk],
            max_length=128,
            truncation=True,
            padding="max_length",
            return_tensors="pt",
        )["input_ids"]
        labels[labels == tokenizer.pad_token_id] = -100  # pads out of the loss; the compute is the same either way
        inputs["labels"] = labels
        batches.append(inputs)
    return batches


def time_steps(model, batches, steps: int, device: str = "cpu") -> float:
    """Seconds for `steps` optimizer steps (after one warm-up step)."""
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-3)
    model.to(device).train()
    for index in range(steps + 1):
        if index == 1:
            _synchronize(device)
            started = time.perf_counter()
        batch = batches[index % len(batches)].to(device)
        loss = model(**batch).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    _synchronize(device)
    return time.perf_counter() - started


def _synchronize(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def _peak_rss_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux reports KiB


def adapter_run(
    texts: list[str],
    pairs: list[dict],
    shape: str,
    adapter: str,
    steps: int,
    batch_size: int,
    seed: int = 0,
    device: str = "cpu",
) -> dict:
    """One training run of `shape` with `adapter` ("none" or "lora"); meant for a fresh process."""
    tokenizer = train_tokenizer(texts, seed=seed)
    batches = batches_ours(tokenizer, pairs, batch_size, seed)
    before = _peak_rss_bytes()
    if device.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats()
    model = apply_adapter(build_model(tokenizer, shape, seed), adapter)
    seconds = time_steps(model, batches, steps, device)
    peak = torch.cuda.max_memory_allocated() if device.startswith("cuda") else _peak_rss_bytes() - before
    return {
        "shape": shape,
        "adapter": adapter,
        **parameter_counts(model),
        "examples_per_second": steps * batch_size / seconds,
        "peak_memory_mib": peak / 2**20,
        "memory": "cuda peak allocated" if device.startswith("cuda") else "cpu peak rss above start",
    }


def compare_adapters(texts, pairs, shape: str, steps: int, batch_size: int, seed: int = 0, device: str = "cpu"):
    """Full fine-tuning and LoRA, each in its own fresh process (so peak memory is each one's own)."""
    rows = []
    for adapter in ("none", "lora"):
        with ProcessPoolExecutor(max_workers=1, mp_context=get_context("spawn")) as pool:
            rows.append(
                pool.submit(adapter_run, texts, pairs, shape, adapter, steps, batch_size, seed, device).result()
            )
    return rows


def run_benchmark(options) -> int:
    """`desclm bench train`: prints examples/s (options: `helpers.commands.bench.BenchTrainOptions`)."""
    device = resolve_device(options.device)
    pairs = [line.record for line in iter_jsonl(resolve(options.pairs_dir) / "train.jsonl") if line.record]
    texts = (
        [p["input"] for p in pairs]
        + [p["output"] for p in pairs]
        + [linearize(p["cv"], "seed_json", Policy()) for p in pairs[:2000]]
    )
    if options.compare_adapters:
        rows = compare_adapters(texts, pairs, options.shape, options.steps, options.batch_size, options.seed, device)
        for row in rows:
            print(
                f"{row['shape']} {row['adapter']:>4}: {row['trainable_parameters'] / 1e6:8.2f}M of "
                f"{row['parameters'] / 1e6:.1f}M trainable, {row['examples_per_second']:7.1f} examples/s, "
                f"peak memory {row['peak_memory_mib']:8.0f} MiB ({row['memory']})"
            )
        full, lora = rows
        print(
            f"lora vs full: x{lora['examples_per_second'] / full['examples_per_second']:.2f} examples/s, "
            f"x{lora['peak_memory_mib'] / full['peak_memory_mib']:.2f} peak memory"
        )
        print(json.dumps(rows))
        return 0
    tokenizer = train_tokenizer(texts, seed=options.seed)
    results = {}
    for name, make in (("this setup", batches_ours), ("original", _batches_seed)):
        batches = make(tokenizer, pairs, options.batch_size, options.seed)
        seconds = time_steps(build_model(tokenizer, options.shape, options.seed), batches, options.steps, device)
        results[name] = options.steps * options.batch_size / seconds
        print(
            f"{name:>10}: {results[name]:8.1f} examples/s "
            f"({options.steps} steps of {options.batch_size} in {seconds:.1f} s)",
            flush=True,
        )
    print(f"speed-up: {results['this setup'] / results['original']:.2f}x")
    print(json.dumps({"examples_per_second": results, "ratio": results["this setup"] / results["original"]}))
    return 0
