"""Writing a trained describer: weights, tokenizer, generation settings, llm_config.json (the
contract, `helpers.core.contract`), model card, trainer state and curves, into a side folder that
replaces `output_dir` only when complete."""

from __future__ import annotations

import json
from pathlib import Path

from matplotlib.figure import Figure
from transformers import GenerationConfig

from helpers.core.contract import InputSpec, ModelSettings, write_model_settings
from helpers.core.io import partial_dir, replace_dir
from helpers.text.model_card import TRAINING_SUMMARY, write_model_card
from helpers.training.adapters import merged

# The training numbers the model card shows (kept beside it, so notebook 04 can rewrite the card).


def plot_curves(log_history: list[dict], path: Path) -> Path:
    """Training and validation loss, and validation faithfulness, by step."""
    train = [(e["step"], e["loss"]) for e in log_history if "loss" in e]
    evals = [(e["step"], e["eval_loss"], e.get("eval_faithfulness")) for e in log_history if "eval_loss" in e]
    fig = Figure(figsize=(10, 3.5))  # no pyplot: the backend of whoever imported us is left alone
    loss_ax, faith_ax = fig.subplots(1, 2)
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
    return path


def finished_run(output_dir: Path, run_key: dict) -> dict | None:
    """The summary of the run exported to `output_dir` when it was this very run (same data and
    settings), else None: rerunning a finished training then costs nothing."""
    path = output_dir / TRAINING_SUMMARY
    if not (path.is_file() and (output_dir / "config.json").is_file()):
        return None
    saved = json.loads(path.read_text())
    same = json.dumps(saved.pop("run_key", None), sort_keys=True, default=str) == json.dumps(
        run_key, sort_keys=True, default=str
    )
    return saved if same else None


def export_model(trainer, tokenizer, config, spec: InputSpec, summary: dict, output_dir: Path, run_key: dict) -> Path:
    """Writes the final folder next to `output_dir`, then swaps it in."""
    partial = partial_dir(output_dir)
    lengths = summary["lengths"]
    model = merged(trainer.model)  # LoRA: adapters merged, so the folder is a plain T5
    model.generation_config = GenerationConfig(
        decoder_start_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        num_beams=config.num_beams,
        max_new_tokens=lengths["output"] + 8,
        early_stopping=True if config.num_beams > 1 else False,
    )
    model.save_pretrained(str(partial))  # weights, config and generation_config
    tokenizer.save_pretrained(str(partial))
    trainer.state.save_to_json(str(partial / "trainer_state.json"))
    settings = ModelSettings(
        spec,
        base_model=config.base_model,
        max_source_length=lengths["input"],
        max_target_length=lengths["output"],
        max_new_tokens=lengths["output"] + 8,
        num_beams=config.num_beams,
        data_fingerprint=summary.get("data_fingerprint"),
        parameters=summary["parameters"],
        global_step=summary["global_step"],
        validation={"faithfulness": summary.get("val_faithfulness"), "loss": summary.get("val_loss")},
    )
    write_model_settings(partial, settings)
    write_model_card(partial, {**summary, "run_key": run_key})  # kept beside the card: which run made the folder
    plot_curves(trainer.state.log_history, partial / "training_curves.png")
    return replace_dir(partial, output_dir)
