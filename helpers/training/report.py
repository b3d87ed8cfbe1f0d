"""Tables for notebook 03's report."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from helpers.core.settings import setting


@dataclass
class TrainReport:
    """Notebook 03's report settings (beside TrainConfig's)."""

    sample_count: int = setting(12, "test pairs shown with their generated sentences")


def overview(summary: dict) -> pd.DataFrame:
    """Model size, data sizes, steps, time per epoch, throughput and validation faithfulness."""
    rows = {
        "base model": summary["base_model"],
        "parameters": f"{summary['parameters']:,}",
        "vocabulary": summary["vocab_size"],
        "pairs (train / val / test)": " / ".join(str(summary["pairs"][s]) for s in ("train", "val", "test")),
        "steps (epochs)": f"{summary['global_step']} ({summary['epochs_run']:.2f})",
        "precision, processes": f"{summary['precision']}, {summary['world_size']}",
        "seconds per epoch": f"{summary['seconds_per_epoch']:.1f}",
        "training examples per second": f"{summary['train_samples_per_second'] or float('nan'):.1f}",
        "resumed from": summary["resumed_from"] or "-",
        "best checkpoint": summary["best_checkpoint"] or "-",
        "validation faithfulness (greedy)": f"{100 * (summary['val_faithfulness'] or 0):.1f}%",
    }
    return pd.DataFrame({"value": rows})


def length_table(summary: dict) -> pd.DataFrame:
    """Token length statistics and truncation counts of inputs and descriptions."""
    lengths = summary["lengths"]
    return pd.DataFrame(
        {
            column: {
                "max length used": lengths[column],
                "mean": lengths[f"{column}_mean"],
                "95th percentile": lengths[f"{column}_p95"],
                "truncated texts": lengths[f"{column}_truncated"],
            }
            for column in ("input", "output")
        }
    )


def evaluations(model_dir: Path) -> pd.DataFrame:
    """Validation loss and faithfulness at each evaluation step."""
    state = json.loads((model_dir / "trainer_state.json").read_text())
    rows = [
        {
            "step": e["step"],
            "epoch": e["epoch"],
            "val_loss": e["eval_loss"],
            "val_faithfulness": e.get("eval_faithfulness"),
        }
        for e in state["log_history"]
        if "eval_loss" in e
    ]
    return pd.DataFrame(rows).set_index("step") if rows else pd.DataFrame()
