"""Notebook 03's parameters, validated: one dataclass, read from a notebook, a YAML file or the CLI."""

from __future__ import annotations

from dataclasses import dataclass, fields
from pathlib import Path

import yaml

from helpers.core.paths import require_file
from helpers.training.adapters import ADAPTERS
from helpers.training.scratch_model import POSITION_INITS, PRESETS, SHAPES, TOKENIZER_KINDS

SCRATCH_LEARNING_RATE = 5e-4  # measured on the demo: 1e-3 gets many detections 83% right, 5e-4 91%
PRETRAINED_LEARNING_RATE = 3e-4


@dataclass
class TrainConfig:
    """Notebook 03's parameters. Zero means "choose from the data" where noted."""

    pairs_dir: str = "data/pairs"  # 02's output: train/val/test.jsonl and pairs_config.json
    output_dir: str = "models/description_llm"  # final model folder; checkpoints go beside it
    base_model: str = "scratch"  # "scratch", a local folder or a hub id such as google/flan-t5-small
    scratch_size: str = "tiny"  # scratch preset: tiny, medium, small, or a published shape (flan-t5-small, ...)
    tokenizer: str = (
        "bpe"  # scratch tokenizer: bpe (learned subwords) or words (whole words, other words spelled in letters)
    )
    vocab_size: int = 1000  # scratch tokenizer's most pieces (words) or target size (bpe)
    dropout: float = 0.0  # scratch model's dropout (the tiny model underfits rather than overfits)
    position_init: str = "local"  # scratch model's relative-position tables: local (ALiBi-like heads) or random
    seed: int = 0
    epochs: float = (
        8.0  # measured on the demo: 6 is 1.3x quicker but leaves many detections at 88-91%, 8 gives 91.5-95%
    )
    max_steps: int = 0  # > 0 overrides epochs
    batch_size: int = 8  # small batches: measured, the scratch model learns more per example from more updates
    learning_rate: float = 0.0  # 0: 5e-4 for scratch, 3e-4 for a pretrained model (see SCRATCH_LEARNING_RATE)
    weight_decay: float = 0.01
    warmup_ratio: float = 0.05  # share of the steps spent warming the learning rate up
    eval_steps: int = 400
    eval_samples: int = 300  # validation pairs scored by generation at each evaluation (0: all)
    early_stopping_patience: int = 5  # evaluations without better faithfulness before stopping (0: off)
    max_source_length: int = 0  # 0: the longest input of any split (validation may hold longer), capped at 512
    max_target_length: int = 0  # 0: the longest description of any split, capped at 256
    # Beams saved for inference. 1 (greedy), as checkpoints are chosen: measured on the demo's variant
    # models, 4 beams lost raw faithfulness greedy decoding had (docs/measurements/decoding_beams_demo_cpu.json).
    # More beams give the guard more model sentences to choose from before the grammar writes one.
    num_beams: int = 1
    adapter: str = "none"  # none (full fine-tuning) or lora (peft adapters, merged at export; for flan-t5-base and up)
    lora_rank: int = 16  # lora only: rank of each low-rank update
    lora_alpha: int = 32  # lora only: scaling numerator (updates are scaled by alpha / rank)
    lora_dropout: float = 0.05  # lora only: dropout on the adapters' input
    precision: str = "auto"  # auto (bf16, else fp16 on GPU; fp32 on CPU), fp32, bf16, fp16
    resume: bool = True  # continue from the last checkpoint of the same data and settings
    restart_on_change: bool = False  # checkpoints of other data or settings are deleted, not refused
    tensorboard: bool = False
    logging_steps: int = 25

    def __post_init__(self) -> None:
        if self.base_model == "scratch" and self.scratch_size not in PRESETS and self.scratch_size not in SHAPES:
            known = sorted(PRESETS) + sorted(SHAPES)
            raise ValueError(f"scratch_size must be one of {known}, got {self.scratch_size!r}")
        if self.tokenizer not in TOKENIZER_KINDS:
            raise ValueError(f"tokenizer must be one of {TOKENIZER_KINDS}, got {self.tokenizer!r}")
        if self.position_init not in POSITION_INITS:
            raise ValueError(f"position_init must be one of {POSITION_INITS}, got {self.position_init!r}")
        if self.adapter not in ADAPTERS:
            raise ValueError(f"adapter must be one of {ADAPTERS}, got {self.adapter!r}")
        if self.precision not in {"auto", "fp32", "bf16", "fp16"}:
            raise ValueError(f"precision must be auto, fp32, bf16 or fp16, got {self.precision!r}")
        if not 0.0 <= self.warmup_ratio < 1.0:
            raise ValueError(f"warmup_ratio must be in [0, 1), got {self.warmup_ratio}")
        for name in ("batch_size", "eval_steps", "num_beams", "logging_steps", "lora_rank", "lora_alpha"):
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

    def learning_rate_used(self) -> float:
        """The learning rate itself, or the measured default for scratch / pretrained models."""
        if self.learning_rate:
            return self.learning_rate
        return SCRATCH_LEARNING_RATE if self.base_model == "scratch" else PRETRAINED_LEARNING_RATE
