"""Parameter-efficient fine-tuning: LoRA adapters (the `peft` library) for bigger T5s.

`adapter="lora"` freezes the base model and trains low-rank updates of T5's linear layers
(attention q/k/v/o and the feed-forward wi/wo). The export merges them into the weights, so the
model folder stays a plain T5 that the describer, the CTranslate2 export and transformers load
as any other. Worth it from flan-t5-base up, where full fine-tuning's gradients and optimizer
state (three more copies of every weight) dominate memory; `desclm bench train
--compare_adapters` measures both side by side.
"""

from __future__ import annotations

ADAPTERS = ("none", "lora")
T5_LINEAR_LAYERS = ("q", "k", "v", "o", "wi", "wi_0", "wi_1", "wo")  # names of T5's nn.Linear modules


def apply_adapter(model, adapter: str, rank: int = 16, alpha: int = 32, dropout: float = 0.05):
    """`model` itself for adapter="none", else the model wrapped with LoRA adapters (base frozen).

    Raises:
        ValueError: Unknown adapter, or a model with none of T5's linear layer names.
    """
    if adapter not in ADAPTERS:
        raise ValueError(f"adapter must be one of {ADAPTERS}, got {adapter!r}")
    if adapter == "none":
        return model
    from peft import LoraConfig, TaskType, get_peft_model

    present = sorted({name.rsplit(".", 1)[-1] for name, _ in model.named_modules()} & set(T5_LINEAR_LAYERS))
    if not present:
        raise ValueError(f"LoRA found none of T5's linear layers {T5_LINEAR_LAYERS} in {type(model).__name__}")
    settings = LoraConfig(
        task_type=TaskType.SEQ_2_SEQ_LM, r=rank, lora_alpha=alpha, lora_dropout=dropout, target_modules=present
    )
    return get_peft_model(model, settings)


def merged(model):
    """A plain transformers model: LoRA updates merged into the weights (other models as they are)."""
    return model.merge_and_unload() if hasattr(model, "merge_and_unload") else model


def parameter_counts(model) -> dict[str, int]:
    """The model's own parameters (without adapter weights) and those that train."""
    return {
        "parameters": sum(p.numel() for name, p in model.named_parameters() if "lora_" not in name),
        "trainable_parameters": sum(p.numel() for p in model.parameters() if p.requires_grad),
    }
