"""Writing a trained describer: weights, tokenizer, generation settings, llm_config.json, model
card, trainer state and curves, into a side folder that replaces `output_dir` only when complete."""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only; notebooks show the PNG
import matplotlib.pyplot as plt
from transformers import GenerationConfig

from helpers.io import atomic_write_text, partial_dir, replace_dir

LLM_CONFIG = "llm_config.json"


def plot_curves(log_history: list[dict], path: Path) -> Path:
    """Training and validation loss, and validation faithfulness, by step."""
    train = [(e["step"], e["loss"]) for e in log_history if "loss" in e]
    evals = [(e["step"], e["eval_loss"], e.get("eval_faithfulness")) for e in log_history if "eval_loss" in e]
    fig, (loss_ax, faith_ax) = plt.subplots(1, 2, figsize=(10, 3.5))
    if train:
        loss_ax.plot(*zip(*train), label="train")
    if evals:
        loss_ax.plot([e[0] for e in evals], [e[1] for e in evals], "o-", label="validation")
        faith_ax.plot([e[0] for e in evals], [100 * (e[2] or 0) for e in evals], "o-", color="tab:green")
    loss_ax.set(title="Loss", xlabel="step", yscale="log")
    loss_ax.legend()
    faith_ax.set(title="Validation faithfulness (%)", xlabel="step", ylim=(0, 101))
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def model_card(llm_config: dict, summary: dict) -> str:
    """A README.md for the model folder: what it is, data, metrics, how to use it."""
    faithful = summary.get("val_faithfulness")
    faithful_text = f"{100 * faithful:.1f}%" if faithful is not None else "n/a"
    return f"""# desclm describer

A T5 model ({summary['parameters']:,} parameters, base `{llm_config['base_model']}`) that writes one English
sentence describing what litter detectors and a scene classifier saw in a field photo.

## Data
Pairs from the desclm grammar (fingerprint `{llm_config['data_fingerprint']}`): {summary['pairs']['train']} training,
{summary['pairs']['val']} validation, {summary['pairs']['test']} test. Input format `{llm_config['input_format']}`; detections below
{llm_config['min_confidence']} and scenes below {llm_config['scene_min_confidence']} confidence are not described.

## Metrics
Validation faithfulness (every category with its exact count and the right scene, nothing else,
judged by the desclm fact extractor on greedy output): **{faithful_text}**; validation loss {summary.get('val_loss', float('nan')):.4f}.
Trained {summary['global_step']} steps ({summary['epochs_run']:.2f} epochs) in {summary['train_seconds']:.0f} s, precision {summary['precision']}.

## Use
```python
from transformers import AutoModelForSeq2SeqLM, AutoTokenizer
from helpers.grammar import Policy
from helpers.linearize import from_model_text, linearize

tokenizer = AutoTokenizer.from_pretrained("MODEL_DIR")
model = AutoModelForSeq2SeqLM.from_pretrained("MODEL_DIR")
policy = Policy(min_confidence={llm_config['min_confidence']}, scene_min_confidence={llm_config['scene_min_confidence']})
cv = {{"detections": [{{"label": "plastic", "confidence": 0.92}}, {{"label": "kite", "confidence": 0.8}}], "scene": {{"class": "grass", "confidence": 0.95}}}}
inputs = tokenizer(linearize(cv, "{llm_config['input_format']}", policy), return_tensors="pt")
text = tokenizer.decode(model.generate(**inputs)[0], skip_special_tokens=True)
print(from_model_text(text, cv, "{llm_config['input_format']}", policy))  # fills name slots ("slotA" -> "kite")
```
Or, with the fact-checking guard and batching: `helpers.describe.Describer.load("MODEL_DIR").describe([cv])`.
`generation_config.json` holds the beam settings used in training's evaluation of the final model;
`{LLM_CONFIG}` holds the input format and thresholds that inference must reuse.
"""


def export_model(trainer, tokenizer, config, settings: dict, summary: dict, output_dir: Path) -> Path:
    """Writes the final folder next to `output_dir`, then swaps it in."""
    partial = partial_dir(output_dir)
    lengths = summary["lengths"]
    trainer.model.generation_config = GenerationConfig(
        decoder_start_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        num_beams=config.num_beams,
        max_new_tokens=lengths["output"] + 8,
        early_stopping=True if config.num_beams > 1 else False,
    )
    trainer.save_model(str(partial))  # model, generation_config and tokenizer (processing_class)
    trainer.state.save_to_json(str(partial / "trainer_state.json"))
    llm_config = {
        "model_type": "t5",
        "base_model": config.base_model,
        "input_format": settings["input_format"],
        "min_confidence": settings["min_confidence"],
        "scene_min_confidence": settings["scene_min_confidence"],
        "max_source_length": lengths["input"],
        "max_target_length": lengths["output"],
        "max_new_tokens": lengths["output"] + 8,
        "num_beams": config.num_beams,
        "data_fingerprint": settings.get("fingerprint"),
        "validation": {"faithfulness": summary.get("val_faithfulness"), "loss": summary.get("val_loss")},
        "parameters": summary["parameters"],
        "global_step": summary["global_step"],
    }
    atomic_write_text(partial / "README.md", model_card(llm_config, summary))
    plot_curves(trainer.state.log_history, partial / "training_curves.png")
    atomic_write_text(partial / LLM_CONFIG, json.dumps(llm_config, indent=2) + "\n")
    return replace_dir(partial, output_dir)
