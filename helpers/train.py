"""Training the T5 describer with transformers' Seq2SeqTrainer.

    python -m helpers.train --params FILE.yaml
    torchrun --nproc_per_node 2 -m helpers.train --params FILE.yaml   # data parallel (DDP)

Dynamic padding, length-grouped batches, lengths taken from the data, evaluation by
generation-based faithfulness (the fact extractor), best checkpoint kept, early stopping,
mixed precision on GPU, resumable checkpoints, and an export that is complete or absent.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import shutil
import time
import warnings
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import helpers  # noqa: F401 - offline switches before transformers is imported
import numpy as np
import torch
import yaml
from datasets import Dataset, load_dataset
from transformers import (
    AutoModelForSeq2SeqLM,
    AutoTokenizer,
    DataCollatorForSeq2Seq,
    EarlyStoppingCallback,
    Seq2SeqTrainer,
    Seq2SeqTrainingArguments,
)
from transformers.trainer_utils import get_last_checkpoint

from helpers.config import require_file, resolve
from helpers.facts import extract
from helpers.grammar import Policy, facts
from helpers.linearize import from_model_text, to_model_text
from helpers.scratch_model import POSITION_INITS, PRESETS, TOKENIZER_KINDS, build_model, train_tokenizer, train_word_tokenizer
from helpers.slots import slot_names


@dataclass
class TrainConfig:
    """Notebook 03's parameters. Zero means "choose from the data" where noted."""

    pairs_dir: str = "data/pairs"  # 02's output: train/val/test.jsonl and pairs_config.json
    output_dir: str = "models/description_llm"  # final model folder; checkpoints go beside it
    base_model: str = "scratch"  # "scratch", a local folder or a hub id such as google/flan-t5-small
    scratch_size: str = "tiny"  # preset for scratch: tiny or small
    tokenizer: str = "bpe"  # scratch tokenizer: bpe (learned subwords) or words (whole words, other words spelled in letters)
    vocab_size: int = 1000  # scratch tokenizer's most pieces (words) or target size (bpe)
    dropout: float = 0.0  # scratch model's dropout (the tiny model underfits rather than overfits)
    position_init: str = "local"  # scratch model's relative-position tables: local (ALiBi-like heads) or random
    seed: int = 0
    epochs: float = 8.0  # measured on the demo: 6 is 1.3x quicker but leaves many detections at 88-91%, 8 gives 91.5-95%
    max_steps: int = 0  # > 0 overrides epochs
    batch_size: int = 8  # small batches: measured, the scratch model learns more per example from more updates
    learning_rate: float = 0.0  # 0: 5e-4 for scratch (measured on the demo: 1e-3 gets many detections 83% right, 5e-4 91%), 3e-4 for a pretrained model
    weight_decay: float = 0.01
    warmup_ratio: float = 0.05
    eval_steps: int = 400
    eval_samples: int = 300  # validation pairs scored by generation at each evaluation (0: all)
    early_stopping_patience: int = 5  # evaluations without better faithfulness before stopping (0: off)
    max_source_length: int = 0  # 0: the longest training input, capped at 512
    max_target_length: int = 0  # 0: the longest training description, capped at 256
    num_beams: int = 4  # beams saved in generation_config for inference
    precision: str = "auto"  # auto (bf16, else fp16 on GPU; fp32 on CPU), fp32, bf16, fp16
    resume: bool = True  # continue from the last checkpoint of the same data and settings
    tensorboard: bool = False
    logging_steps: int = 25

    def __post_init__(self) -> None:
        if self.base_model == "scratch" and self.scratch_size not in PRESETS:
            raise ValueError(f"scratch_size must be one of {sorted(PRESETS)}, got {self.scratch_size!r}")
        if self.tokenizer not in TOKENIZER_KINDS:
            raise ValueError(f"tokenizer must be one of {TOKENIZER_KINDS}, got {self.tokenizer!r}")
        if self.position_init not in POSITION_INITS:
            raise ValueError(f"position_init must be one of {POSITION_INITS}, got {self.position_init!r}")
        if self.precision not in {"auto", "fp32", "bf16", "fp16"}:
            raise ValueError(f"precision must be auto, fp32, bf16 or fp16, got {self.precision!r}")
        for name in ("batch_size", "eval_steps", "num_beams", "logging_steps"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")

    @classmethod
    def from_yaml(cls, path: str | Path) -> TrainConfig:
        values = yaml.safe_load(require_file(path, "Training parameters file").read_text()) or {}
        values = values.get("03_train_t5", values.get("03", values))  # a pipeline file works too
        unknown = sorted(set(values) - {f.name for f in fields(cls)})
        if unknown:
            raise ValueError(f"{path}: unknown training parameter(s) {unknown}")
        return cls(**values)


def with_targets(data: dict[str, Dataset], input_format: str, policy: Policy) -> tuple[dict[str, Dataset], int]:
    """Adds each pair's `target`, the description as the model writes it (names as slots where the
    format uses them), and counts the pairs whose names could not be slotted exactly (their
    target keeps the names: an extra pair's own wording, say)."""
    kept_names = 0
    result = {}
    for split, rows in data.items():
        targets = []
        for output, cv in zip(rows["output"], rows["cv"]):
            target = to_model_text(output, cv, input_format, policy)
            if from_model_text(target, cv, input_format, policy) != output:
                target, kept_names = output, kept_names + (split == "train")
            targets.append(target)
        result[split] = rows.add_column("target", targets)
    return result, kept_names


def load_pairs(pairs_dir: Path) -> tuple[dict[str, Dataset], dict]:
    """train/val/test datasets and 02's settings (input format, thresholds, fingerprint)."""
    settings = json.loads(require_file(pairs_dir / "pairs_config.json", "Pairs settings", hint="run notebook 02 first").read_text())
    files = {split: require_file(pairs_dir / f"{split}.jsonl", f"{split} pairs") for split in ("train", "val", "test")}
    for split in ("train", "val"):  # training needs both; the test split may be empty
        if files[split].stat().st_size == 0:
            raise ValueError(f"{files[split]} holds no pairs: training needs {split} images (check 01's splits and max_images)")
    data = load_dataset("json", data_files={split: str(path) for split, path in files.items() if path.stat().st_size})
    splits = {split: data[split] for split in data}
    splits.setdefault("test", data["val"].select([]))
    return splits, settings


def mixed_precision(choice: str) -> dict[str, bool]:
    """Trainer flags for the precision setting; auto prefers bf16 (T5 is prone to fp16 overflow)."""
    if choice == "auto":
        if not torch.cuda.is_available():
            return {"bf16": False, "fp16": False}
        return {"bf16": True, "fp16": False} if torch.cuda.is_bf16_supported() else {"bf16": False, "fp16": True}
    return {"bf16": choice == "bf16", "fp16": choice == "fp16"}


def length_limits(tokenizer, data: dict[str, Dataset], config: TrainConfig) -> dict[str, int]:
    """Max source/target lengths from the data; warns with a count when anything would be cut."""
    limits = {}
    for name, column, asked, cap in (("input", "input", config.max_source_length, 512), ("output", "target", config.max_target_length, 256)):
        lengths = [len(ids) for ids in tokenizer(list(data["train"][column]))["input_ids"]]
        limit = asked or min(max(lengths), cap)
        cut = sum(n > limit for split in data.values() for n in (len(i) for i in tokenizer(list(split[column]))["input_ids"]))
        if cut:
            warnings.warn(f"{cut} {name} text(s) are longer than {limit} tokens and will be truncated", stacklevel=2)
        limits[name] = limit
        limits[f"{name}_truncated"] = cut
        limits[f"{name}_mean"] = float(np.mean(lengths))
        limits[f"{name}_p95"] = float(np.percentile(lengths, 95))
    return limits


def _text_key(text: str) -> str:
    return " ".join(text.split())


def faithfulness_scorer(tokenizer, records: Dataset, policy: Policy, max_source_length: int, input_format: str):
    """compute_metrics for generated validation predictions: share matching the input's facts.

    Predictions are matched to records through their decoded inputs, because the Trainer may
    evaluate in another order (it groups evaluation batches by length too). Records are keyed by
    their input as the model saw it (tokenized, truncated, decoded), so a validation input longer
    than any training input still finds its record. Equal inputs get equal predictions, so the
    first record of an input stands for all (with slots, records of different names can share an
    input: the prediction's slots are filled from the same record it is scored against; when
    truncation makes two inputs equal, that was already warned about).
    """
    seen = tokenizer(list(records["input"]), max_length=max_source_length, truncation=True)["input_ids"]
    expected = {}
    for ids, cv in zip(seen, records["cv"]):
        key = _text_key(tokenizer.decode(ids, skip_special_tokens=True))
        expected.setdefault(key, (facts(cv, policy), [d["label"] for d in cv["detections"]], cv))

    def score(prediction) -> dict[str, float]:
        def decode(ids):
            return tokenizer.batch_decode(np.where(ids < 0, tokenizer.pad_token_id, ids), skip_special_tokens=True)

        ok = []
        for model_input, text in zip(decode(prediction.inputs), decode(prediction.predictions)):
            want, labels, cv = expected[_text_key(model_input)]
            ok.append(extract(from_model_text(text, cv, input_format, policy), labels).facts() == want)
        return {"faithfulness": float(np.mean(ok)) if ok else 0.0}

    return score


def _fingerprint(settings: dict, config: TrainConfig) -> str:
    # How long to train and how to report do not invalidate checkpoints; data, model and optimiser settings do.
    ignored = {"resume", "tensorboard", "logging_steps", "output_dir", "epochs", "max_steps", "early_stopping_patience", "eval_samples", "num_beams"}
    relevant = {k: v for k, v in asdict(config).items() if k not in ignored}
    return hashlib.sha256(json.dumps([settings.get("fingerprint"), relevant], sort_keys=True).encode()).hexdigest()[:16]


def prepare_checkpoints(checkpoint_dir: Path, fingerprint: str, resume: bool) -> str | None:
    """The checkpoint to resume from, or None; refuses to mix runs of other data or settings."""
    stamp = checkpoint_dir / "run_fingerprint.txt"
    if checkpoint_dir.exists() and not resume:
        shutil.rmtree(checkpoint_dir)
    if checkpoint_dir.exists() and stamp.exists() and stamp.read_text().strip() != fingerprint:
        raise RuntimeError(
            f"{checkpoint_dir} holds checkpoints of other data or settings; delete it, or set resume=False to start over"
        )
    checkpoint_dir.mkdir(parents=True, exist_ok=True)
    stamp.write_text(fingerprint + "\n")
    return get_last_checkpoint(str(checkpoint_dir))


def copied_names(record: dict) -> set[str]:
    """Names a description of the record copies verbatim, at any confidence: what slots hold
    (the words tokenizer spells them in letters)."""
    return set(slot_names(record, Policy(min_confidence=0.0, scene_min_confidence=0.0)).values())


def _load_base(config: TrainConfig, data: dict[str, Dataset], resume_from: str | None):
    if config.base_model != "scratch":
        from helpers.offline import model_source

        source = model_source(config.base_model, "Base model")
        return AutoTokenizer.from_pretrained(source), AutoModelForSeq2SeqLM.from_pretrained(source)
    if resume_from:  # the tokenizer the checkpoints were trained with
        tokenizer = AutoTokenizer.from_pretrained(resume_from)
    elif config.tokenizer == "bpe":
        tokenizer = train_tokenizer(list(data["train"]["input"]) + list(data["train"]["target"]), config.vocab_size, config.seed)
    else:
        texts, names = [], []
        for row in data["train"]:
            texts += [row["input"], row["target"]]
            names += [copied_names(row["cv"])] * 2
        tokenizer = train_word_tokenizer(texts, names, config.vocab_size)
    return tokenizer, build_model(tokenizer, config.scratch_size, config.seed, config.dropout, config.position_init)


def train(config: TrainConfig) -> dict:
    """Trains, evaluates on validation, and exports the best model to `output_dir`.

    Returns:
        Key numbers: sizes, lengths, truncation, best validation faithfulness, speed, paths.
    """
    from helpers.train_export import export_model

    if config.tensorboard:
        import importlib.util

        if importlib.util.find_spec("tensorboard") is None and importlib.util.find_spec("tensorboardX") is None:
            raise ImportError("tensorboard=True needs the tensorboard package: pip install tensorboard")
    pairs_dir, output_dir = resolve(config.pairs_dir), resolve(config.output_dir)
    data, settings = load_pairs(pairs_dir)
    policy = Policy(settings["min_confidence"], settings["scene_min_confidence"])
    data, unslotted = with_targets(data, settings["input_format"], policy)
    if unslotted:
        warnings.warn(f"{unslotted} training description(s) name a category in a form the slots cannot hold; the model learns those names as written", stacklevel=2)
    checkpoint_dir = output_dir.with_name(output_dir.name + ".checkpoints")
    resume_from = prepare_checkpoints(checkpoint_dir, _fingerprint(settings, config), config.resume)
    tokenizer, model = _load_base(config, data, resume_from)
    limits = length_limits(tokenizer, data, config)

    def encode(batch):
        encoded = tokenizer(batch["input"], max_length=limits["input"], truncation=True)
        encoded["labels"] = tokenizer(text_target=batch["target"], max_length=limits["output"], truncation=True)["input_ids"]
        encoded["length"] = [len(ids) for ids in encoded["input_ids"]]
        return encoded

    val = data["val"].shuffle(seed=config.seed)
    val = val.select(range(min(config.eval_samples or len(val), len(val))))
    train_set = data["train"].map(encode, batched=True, remove_columns=data["train"].column_names)
    val_set = val.map(encode, batched=True, remove_columns=val.column_names)
    learning_rate = config.learning_rate or (5e-4 if config.base_model == "scratch" else 3e-4)
    args = Seq2SeqTrainingArguments(
        output_dir=str(checkpoint_dir),
        num_train_epochs=config.epochs,
        max_steps=config.max_steps or -1,
        per_device_train_batch_size=config.batch_size,
        per_device_eval_batch_size=config.batch_size * 2,
        learning_rate=learning_rate,
        weight_decay=config.weight_decay,
        warmup_steps=config.warmup_ratio,
        lr_scheduler_type="linear",
        train_sampling_strategy="group_by_length",
        eval_strategy="steps",
        eval_steps=config.eval_steps,
        save_strategy="steps",
        save_steps=config.eval_steps,
        save_total_limit=2,
        load_best_model_at_end=True,
        metric_for_best_model="faithfulness",
        greater_is_better=True,
        predict_with_generate=True,
        include_for_metrics=["inputs"],  # the scorer matches predictions to records by input
        generation_max_length=limits["output"] + 8,
        generation_num_beams=1,
        logging_steps=config.logging_steps,
        report_to=["tensorboard"] if config.tensorboard else "none",
        seed=config.seed,
        data_seed=config.seed,
        use_cpu=not torch.cuda.is_available(),
        # CPU processes under torchrun talk through gloo; GPUs use the default (NCCL)
        ddp_backend="gloo" if not torch.cuda.is_available() and int(os.environ.get("WORLD_SIZE", "1")) > 1 else None,
        dataloader_num_workers=0,
        dataloader_pin_memory=torch.cuda.is_available(),
        **mixed_precision(config.precision),
    )
    collator = DataCollatorForSeq2Seq(tokenizer, model=model, pad_to_multiple_of=8 if torch.cuda.is_available() else None)
    callbacks = [EarlyStoppingCallback(config.early_stopping_patience)] if config.early_stopping_patience else []
    trainer = Seq2SeqTrainer(
        model=model, args=args, data_collator=collator, train_dataset=train_set, eval_dataset=val_set,
        processing_class=tokenizer, compute_metrics=faithfulness_scorer(tokenizer, val, policy, limits["input"], settings["input_format"]), callbacks=callbacks,
    )
    started = time.perf_counter()
    outcome = trainer.train(resume_from_checkpoint=resume_from)
    # The best checkpoint is reloaded at the end; its validation numbers are already in the log.
    best_step = int(trainer.state.best_model_checkpoint.rsplit("-", 1)[-1]) if trainer.state.best_model_checkpoint else None
    final_eval = next((e for e in reversed(trainer.state.log_history) if "eval_loss" in e and e["step"] == best_step), {})
    summary = {
        "base_model": config.base_model,
        "parameters": int(sum(p.numel() for p in trainer.model.parameters())),
        "vocab_size": len(tokenizer),
        "pairs": {split: len(ds) for split, ds in data.items()},
        "targets_with_names": unslotted,
        "lengths": limits,
        "learning_rate": learning_rate,
        "precision": "bf16" if args.bf16 else "fp16" if args.fp16 else "fp32",
        "world_size": args.world_size,
        "resumed_from": resume_from,
        "global_step": trainer.state.global_step,
        "epochs_run": trainer.state.epoch,
        "train_seconds": time.perf_counter() - started,
        "train_samples_per_second": outcome.metrics.get("train_samples_per_second"),
        "seconds_per_epoch": outcome.metrics.get("train_runtime", math.nan) / max(trainer.state.epoch or 1, 1e-9),
        "best_checkpoint": trainer.state.best_model_checkpoint,
        "val_faithfulness": final_eval.get("eval_faithfulness"),
        "val_loss": final_eval.get("eval_loss"),
        "data_fingerprint": settings.get("fingerprint"),
        "output_dir": str(output_dir),
    }
    if trainer.is_world_process_zero():
        export_model(trainer, tokenizer, config, settings, summary, output_dir)
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m helpers.train", description="Train the T5 describer.")
    parser.add_argument("--params", required=True, help="YAML of TrainConfig fields (or a pipeline file with a '03' section)")
    args = parser.parse_args(argv)
    summary = train(TrainConfig.from_yaml(args.params))
    print(json.dumps({k: summary[k] for k in ("global_step", "world_size", "val_faithfulness", "output_dir")}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
