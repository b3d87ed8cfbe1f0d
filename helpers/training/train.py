"""Training the T5 describer with transformers' Seq2SeqTrainer.

    desclm train --params FILE.yaml                 # TrainConfig fields (or a pipeline file)
    desclm train --pairs_dir data/pairs --epochs 2  # the same fields as options; --help lists them
    torchrun --nproc_per_node 2 -m helpers train --params FILE.yaml   # data parallel (DDP)

Dynamic padding, length-grouped batches, lengths taken from the data, evaluation by
generation-based faithfulness (the fact extractor), best checkpoint kept, early stopping,
mixed precision on GPU, resumable checkpoints, and an export that is complete or absent.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import shutil
import time
from dataclasses import asdict, replace
from pathlib import Path

import torch
from datasets import Dataset
from transformers import (
    AutoModelForSeq2SeqLM,
    AutoTokenizer,
    DataCollatorForSeq2Seq,
    EarlyStoppingCallback,
    Seq2SeqTrainer,
    Seq2SeqTrainingArguments,
)
from transformers.trainer_utils import get_last_checkpoint

import helpers  # noqa: F401 - offline switches before transformers is imported
from helpers.core.contract import InputSpec
from helpers.core.paths import resolve
from helpers.training.adapters import apply_adapter, parameter_counts
from helpers.training.batch import DEFAULT_BATCH_SIZE, choose_gpu_batch, needs_probe
from helpers.training.callbacks import SELECTION, SelectionMetric, StopReport, quiet_log
from helpers.training.config import TrainConfig
from helpers.training.data import copied_names, faithfulness_scorer, length_limits, load_pairs, with_targets
from helpers.training.export import export_model, finished_run
from helpers.training.scratch_model import build_model, train_tokenizer, train_word_tokenizer

logger = logging.getLogger(__name__)


def mixed_precision(choice: str) -> dict[str, bool]:
    """Trainer flags for the precision setting; auto prefers bf16 (T5 is prone to fp16 overflow)."""
    if choice == "auto":
        if not torch.cuda.is_available():
            return {"bf16": False, "fp16": False}
        return {"bf16": True, "fp16": False} if torch.cuda.is_bf16_supported() else {"bf16": False, "fp16": True}
    return {"bf16": choice == "bf16", "fp16": choice == "fp16"}


def _fingerprint(settings: dict, config: TrainConfig) -> str:
    # How long to train and how to report do not invalidate checkpoints; data, model and optimiser settings do.
    ignored = {
        "resume",
        "restart_on_change",
        "tensorboard",
        "logging_steps",
        "output_dir",
        "epochs",
        "max_steps",
        "early_stopping_patience",
        "eval_samples",
        "num_beams",
    }
    relevant = {k: v for k, v in asdict(config).items() if k not in ignored}
    return hashlib.sha256(json.dumps([settings.get("fingerprint"), relevant], sort_keys=True).encode()).hexdigest()[:16]


def prepare_checkpoints(
    checkpoint_dir: Path, fingerprint: str, resume: bool, restart_on_change: bool = False
) -> str | None:
    """The checkpoint to resume from, or None; refuses to mix runs of other data or settings (with
    `restart_on_change`, deletes theirs and starts over)."""
    stamp = checkpoint_dir / "run_fingerprint.txt"
    stale = checkpoint_dir.exists() and stamp.exists() and stamp.read_text().strip() != fingerprint
    if checkpoint_dir.exists() and (not resume or (stale and restart_on_change)):
        if stale:
            logger.warning("%s holds checkpoints of other data or settings: starting over", checkpoint_dir)
        shutil.rmtree(checkpoint_dir)
    elif stale:
        raise RuntimeError(
            f"{checkpoint_dir} holds checkpoints of other data or settings; "
            "delete it, or set resume=False or restart_on_change=True to start over"
        )
    checkpoint_dir.mkdir(parents=True, exist_ok=True)
    stamp.write_text(fingerprint + "\n")
    return get_last_checkpoint(str(checkpoint_dir))


def _load_base(config: TrainConfig, data: dict[str, Dataset], resume_from: str | None):
    """Tokenizer and model: a pretrained folder or hub id, or a scratch model with its own tokenizer."""
    if config.base_model != "scratch":
        from helpers.core.offline import model_source

        source = model_source(config.base_model, "Base model")
        return AutoTokenizer.from_pretrained(source), AutoModelForSeq2SeqLM.from_pretrained(source)
    if resume_from:  # the tokenizer the checkpoints were trained with
        tokenizer = AutoTokenizer.from_pretrained(resume_from)
    elif config.tokenizer == "bpe":
        tokenizer = train_tokenizer(
            list(data["train"]["input"]) + list(data["train"]["target"]), config.vocab_size, config.seed
        )
    else:
        texts, names = [], []
        for row in data["train"]:
            texts += [row["input"], row["target"]]
            names += [copied_names(row["cv"])] * 2
        tokenizer = train_word_tokenizer(texts, names, config.vocab_size)
    return tokenizer, build_model(tokenizer, config.scratch_size, config.seed, config.dropout, config.position_init)


def training_arguments(
    config: TrainConfig, checkpoint_dir: Path, output_length: int, batch_size: int = 0
) -> Seq2SeqTrainingArguments:
    """The Trainer's settings from ours: evaluation by generated faithfulness, best checkpoint kept.
    `batch_size`: the auto batch when `config.batch_size` is 0."""
    on_gpu = torch.cuda.is_available()
    batch_size = config.batch_size or batch_size or DEFAULT_BATCH_SIZE
    return Seq2SeqTrainingArguments(
        output_dir=str(checkpoint_dir),
        num_train_epochs=config.epochs,
        max_steps=config.max_steps or -1,
        per_device_train_batch_size=batch_size,
        per_device_eval_batch_size=batch_size * 2,
        auto_find_batch_size=config.batch_size == 0,  # an auto batch halves should a step run out of memory
        learning_rate=config.learning_rate_used(batch_size),
        weight_decay=config.weight_decay,
        # transformers 5 reads a warmup_steps below 1 as a share of all steps (it replaced warmup_ratio,
        # huggingface/transformers#41326); TrainConfig keeps the ratio below 1.
        warmup_steps=config.warmup_ratio,
        lr_scheduler_type="linear",
        train_sampling_strategy="group_by_length",
        eval_strategy="steps",
        eval_steps=config.eval_steps,
        save_strategy="steps",
        save_steps=config.eval_steps,
        save_total_limit=2,
        load_best_model_at_end=True,
        metric_for_best_model=SELECTION,  # faithfulness, ties broken by validation loss (training.callbacks)
        greater_is_better=True,
        predict_with_generate=True,
        include_for_metrics=["inputs"],  # the scorer matches predictions to records by input
        generation_max_length=output_length + 8,
        generation_num_beams=1,
        logging_steps=config.logging_steps,
        report_to=["tensorboard"] if config.tensorboard else "none",
        seed=config.seed,
        data_seed=config.seed,
        use_cpu=not on_gpu,
        # CPU processes under torchrun talk through gloo; GPUs use the default (NCCL)
        ddp_backend="gloo" if not on_gpu and int(os.environ.get("WORLD_SIZE", "1")) > 1 else None,
        dataloader_num_workers=0,
        dataloader_pin_memory=on_gpu,
        **mixed_precision(config.precision),
    )


def _check_tensorboard(config: TrainConfig) -> None:
    if config.tensorboard:
        import importlib.util

        if importlib.util.find_spec("tensorboard") is None and importlib.util.find_spec("tensorboardX") is None:
            raise ImportError("tensorboard=True needs the tensorboard package: pip install tensorboard")


def build_trainer(
    config: TrainConfig,
    data: dict[str, Dataset],
    spec: InputSpec,
    tokenizer,
    model,
    limits: dict,
    checkpoint_dir: Path,
    batch_size: int = 0,
) -> Seq2SeqTrainer:
    """A Seq2SeqTrainer over the encoded pairs, scoring a seeded sample of validation by generation."""

    def encode(batch):
        encoded = tokenizer(batch["input"], max_length=limits["input"], truncation=True)
        encoded["labels"] = tokenizer(text_target=batch["target"], max_length=limits["output"], truncation=True)[
            "input_ids"
        ]
        encoded["length"] = [len(ids) for ids in encoded["input_ids"]]
        return encoded

    val = data["val"].shuffle(seed=config.seed)
    val = val.select(range(min(config.eval_samples or len(val), len(val))))
    train_set = data["train"].map(encode, batched=True, remove_columns=data["train"].column_names)
    val_set = val.map(encode, batched=True, remove_columns=val.column_names)
    collator = DataCollatorForSeq2Seq(
        tokenizer, model=model, pad_to_multiple_of=8 if torch.cuda.is_available() else None
    )
    callbacks = [SelectionMetric()]  # first: early stopping reads the metric it adds
    if config.early_stopping_patience:
        callbacks += [EarlyStoppingCallback(config.early_stopping_patience), StopReport(config.early_stopping_patience)]
    trainer = Seq2SeqTrainer(
        model=model,
        args=training_arguments(config, checkpoint_dir, limits["output"], batch_size),
        data_collator=collator,
        train_dataset=train_set,
        eval_dataset=val_set,
        processing_class=tokenizer,
        callbacks=callbacks,
        compute_metrics=faithfulness_scorer(tokenizer, val, spec, limits["input"]),
    )
    quiet_log(trainer)  # a line per evaluation, not the Trainer's raw log dicts
    return trainer


def _summary(trainer: Seq2SeqTrainer, outcome, config: TrainConfig, data: dict, settings: dict, extra: dict) -> dict:
    # The best checkpoint is reloaded at the end; its validation numbers are already in the log.
    state, args = trainer.state, trainer.args
    best_step = int(state.best_model_checkpoint.rsplit("-", 1)[-1]) if state.best_model_checkpoint else None
    best_eval = next((e for e in reversed(state.log_history) if "eval_loss" in e and e["step"] == best_step), {})
    return {
        "base_model": config.base_model,
        **parameter_counts(trainer.model),
        "adapter": config.adapter,
        "vocab_size": len(trainer.processing_class),
        "pairs": {split: len(ds) for split, ds in data.items()},
        "learning_rate": args.learning_rate,
        "batch_size": args.per_device_train_batch_size,
        "precision": "bf16" if args.bf16 else "fp16" if args.fp16 else "fp32",
        "world_size": args.world_size,
        "global_step": state.global_step,
        "stopped_early": bool(state.max_steps and state.global_step < state.max_steps),
        "epochs_run": state.epoch,
        "train_samples_per_second": outcome.metrics.get("train_samples_per_second"),
        "seconds_per_epoch": outcome.metrics.get("train_runtime", math.nan) / max(state.epoch or 1, 1e-9),
        "best_checkpoint": state.best_model_checkpoint,
        "val_faithfulness": best_eval.get("eval_faithfulness"),
        "val_loss": best_eval.get("eval_loss"),
        "data_fingerprint": settings.get("fingerprint"),
        **extra,
    }


def train(config: TrainConfig) -> dict:
    """Trains, evaluates on validation, and exports the best model to `output_dir`.

    Returns:
        Key numbers: sizes, lengths, truncation, best validation faithfulness, speed, paths.
    """
    _check_tensorboard(config)
    if config.batch_size == 0 and not needs_probe(config.base_model, config.scratch_size, torch.cuda.is_available()):
        config = replace(config, batch_size=DEFAULT_BATCH_SIZE)  # known without the model: recorded as such
    pairs_dir, output_dir = resolve(config.pairs_dir), resolve(config.output_dir)
    data, spec, settings = load_pairs(pairs_dir)
    data, unslotted = with_targets(data, spec)
    if unslotted:
        logger.warning(
            "%d training description(s) name a category in a form the slots cannot hold; "
            "the model learns those names as written",
            unslotted,
        )
    run_key = {"config": asdict(config), "data": settings.get("fingerprint")}
    reused = finished_run(output_dir, run_key) if config.resume else None
    if reused is not None:
        logger.info("%s already holds this run (same data and settings): reused; resume=False retrains", output_dir)
        return {**reused, "reused": True}
    checkpoint_dir = output_dir.with_name(output_dir.name + ".checkpoints")
    resume_from = prepare_checkpoints(
        checkpoint_dir, _fingerprint(settings, config), config.resume, config.restart_on_change
    )
    tokenizer, model = _load_base(config, data, resume_from)
    model = apply_adapter(model, config.adapter, config.lora_rank, config.lora_alpha, config.lora_dropout)
    limits = length_limits(tokenizer, data, config.max_source_length, config.max_target_length)
    batch_size = config.batch_size or choose_gpu_batch(model, limits, mixed_precision(config.precision), checkpoint_dir)
    trainer = build_trainer(config, data, spec, tokenizer, model, limits, checkpoint_dir, batch_size)
    started = time.perf_counter()
    outcome = trainer.train(resume_from_checkpoint=resume_from)
    extra = {
        "targets_with_names": unslotted,
        "lengths": limits,
        "resumed_from": resume_from,
        "train_seconds": time.perf_counter() - started,
        "output_dir": str(output_dir),
    }
    summary = _summary(trainer, outcome, config, data, settings, extra)
    if trainer.is_world_process_zero():
        export_model(trainer, tokenizer, config, spec, summary, output_dir, run_key)
    return summary
