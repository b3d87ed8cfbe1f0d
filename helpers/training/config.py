"""Notebook 03's parameters, validated: one dataclass, read from a notebook, a YAML file or the CLI."""

from __future__ import annotations

from dataclasses import dataclass

from helpers.core.settings import setting

SCRATCH_LEARNING_RATE = 5e-4  # measured on the demo: 1e-3 gets many detections 83% right, 5e-4 91%
PRETRAINED_LEARNING_RATE = 3e-4


@dataclass
class TrainConfig:
    """Notebook 03's parameters. Zero means "choose from the data" where noted."""

    pairs_dir: str = setting("data/pairs", "02's output: train/val/test.jsonl and pairs_config.json")
    output_dir: str = setting(
        "models/description_llm", "final model folder; checkpoints go to <output_dir>.checkpoints"
    )
    base_model: str = setting("scratch", '"scratch", a local model folder, or a hub id such as google/flan-t5-small')
    scratch_size: str = setting(
        "tiny", "scratch preset (tiny, medium, small) or a published shape (flan-t5-small, ...)"
    )
    tokenizer: str = setting("bpe", "scratch tokenizer: bpe (learned subwords) or words (whole words, others spelled)")
    vocab_size: int = setting(1000, "scratch tokenizer's most pieces (words) or target size (bpe)")
    dropout: float = setting(0.0, "scratch model's dropout (the tiny model underfits rather than overfits)")
    position_init: str = setting("local", "scratch model's relative-position tables: local (ALiBi-like) or random")
    seed: int = setting(0, "seed of every random choice (init, tokenizer, data order)")
    # measured on the demo (docs/03_training.md): 6 epochs 1.3x quicker, many detections 88-91% against 91.5-95%
    # with 8; make demo trains 6, which held 04's verdict on today's describer (docs/demo_and_offline.md)
    epochs: float = setting(8.0, "passes over the training pairs")
    max_steps: int = setting(0, "when above 0, train exactly this many steps instead of epochs")
    # measured: the scratch model learns more per example from more, smaller updates (helpers.training.batch)
    batch_size: int = setting(
        0,
        "training pairs per step and device; 0 (auto): 8 for scratch presets and on the CPU, on a GPU the "
        "throughput batch measured for published shapes and pretrained models",
    )
    learning_rate: float = setting(
        0.0,
        f"0: {SCRATCH_LEARNING_RATE} for scratch, {PRETRAINED_LEARNING_RATE} pretrained, with an auto batch above 8 "
        "x sqrt(batch / 8), at most 1e-3",
    )
    weight_decay: float = setting(0.01, "AdamW weight decay")
    warmup_ratio: float = setting(0.05, "share of the steps spent warming the learning rate up")
    eval_steps: int = setting(400, "evaluate (loss and generated faithfulness) and checkpoint every N steps")
    eval_samples: int = setting(300, "validation pairs generated at each evaluation (0: all)")
    early_stopping_patience: int = setting(5, "evaluations without better faithfulness before stopping (0: off)")
    max_source_length: int = setting(0, "0: the longest input of any split, capped at 512")
    max_target_length: int = setting(0, "0: the longest description of any split, capped at 256")
    # Measured on the demo's variant models: 4 beams lost raw faithfulness greedy decoding had
    # (docs/measurements/decoding_beams_demo_cpu.json); checkpoints are chosen greedy too.
    num_beams: int = setting(1, "beams saved for inference: 1 (greedy); more give the guard more sentences to choose")
    adapter: str = setting("none", "none (full fine-tuning) or lora (peft adapters merged at export; flan-t5-base up)")
    lora_rank: int = setting(16, "lora only: rank of each low-rank update")
    lora_alpha: int = setting(32, "lora only: scaling numerator (updates are scaled by alpha / rank)")
    lora_dropout: float = setting(0.05, "lora only: dropout on the adapters' input")
    precision: str = setting("auto", "auto (bf16, else fp16 on GPU; fp32 on CPU), fp32, bf16, fp16")
    resume: bool = setting(True, "continue from the last checkpoint of the same data and settings")
    restart_on_change: bool = setting(False, "checkpoints of other data or settings are deleted, not refused")
    tensorboard: bool = setting(False, "also write TensorBoard logs into the checkpoints folder")
    logging_steps: int = setting(25, "log the training loss every N steps")

    def __post_init__(self) -> None:
        # imported here: the scratch model's module loads transformers, and `--help` needs none of it
        from helpers.training.adapters import ADAPTERS
        from helpers.training.scratch_model import POSITION_INITS, PRESETS, SHAPES, TOKENIZER_KINDS

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
        for name in ("eval_steps", "num_beams", "logging_steps", "lora_rank", "lora_alpha"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.batch_size < 0:
            raise ValueError(f"batch_size must be >= 1, or 0 for auto, got {self.batch_size}")

    def learning_rate_used(self, batch_size: int = 0) -> float:
        """The learning rate itself, or the measured default for scratch / pretrained models, scaled for
        an auto batch of `batch_size` (see helpers.training.batch)."""
        from helpers.training.batch import scaled_learning_rate

        if self.learning_rate:
            return self.learning_rate
        default = SCRATCH_LEARNING_RATE if self.base_model == "scratch" else PRETRAINED_LEARNING_RATE
        return scaled_learning_rate(default, batch_size) if self.batch_size == 0 and batch_size else default
