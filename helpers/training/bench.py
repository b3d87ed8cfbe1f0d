"""Benchmark: training throughput of this setup against the original notebook's, side by side.

    python -m helpers.bench_train [--pairs-dir data/pairs] [--steps 40] [--batch-size 32]

Both train the same scratch T5 on the same training pairs for the same number of steps:
- this setup: the pairs' short input (linked format), padding per batch, batches grouped by length;
- the original: raw JSON input with its prompt, every input padded to 256 and target to 128.
It prints examples per second for each and the ratio (a measurement, not a test).
"""

from __future__ import annotations

import argparse
import json
import random
import time

import torch
from transformers import DataCollatorForSeq2Seq

import helpers  # noqa: F401 - offline switches
from helpers.core.contract import Policy
from helpers.core.io import iter_jsonl
from helpers.core.paths import resolve
from helpers.text.linearize import linearize
from helpers.training.scratch_model import build_model, train_tokenizer


def _batches_ours(tokenizer, pairs: list[dict], batch_size: int, seed: int):
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


def _time_steps(model, batches, steps: int) -> float:
    """Seconds for `steps` optimizer steps (after one warm-up step)."""
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    model.train()
    for index in range(steps + 1):
        if index == 1:
            started = time.perf_counter()
        batch = batches[index % len(batches)]
        loss = model(**batch).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    return time.perf_counter() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m helpers.bench_train", description=__doc__.split("\n\n")[0])
    parser.add_argument("--pairs-dir", default="data/pairs", help="02's output folder (default: %(default)s)")
    parser.add_argument("--steps", type=int, default=80, help="timed steps per setup (default: %(default)s)")
    parser.add_argument(
        "--batch-size", type=int, default=8, help="pairs per step (default: %(default)s, training's default)"
    )
    parser.add_argument("--size", default="tiny", help="scratch preset (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    pairs = [line.record for line in iter_jsonl(resolve(args.pairs_dir) / "train.jsonl") if line.record]
    texts = (
        [p["input"] for p in pairs]
        + [p["output"] for p in pairs]
        + [linearize(p["cv"], "seed_json", Policy()) for p in pairs[:2000]]
    )
    tokenizer = train_tokenizer(texts, seed=args.seed)
    results = {}
    for name, make in (("this setup", _batches_ours), ("original", _batches_seed)):
        batches = make(tokenizer, pairs, args.batch_size, args.seed)
        seconds = _time_steps(build_model(tokenizer, args.size, args.seed), batches, args.steps)
        results[name] = args.steps * args.batch_size / seconds
        print(
            f"{name:>10}: {results[name]:8.1f} examples/s ({args.steps} steps of {args.batch_size} in {seconds:.1f} s)",
            flush=True,
        )
    print(f"speed-up: {results['this setup'] / results['original']:.2f}x")
    print(json.dumps({"examples_per_second": results, "ratio": results["this setup"] / results["original"]}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
