"""Trainer callbacks: which checkpoint is best, and saying so when training stops early.

Checkpoints are chosen by generated validation faithfulness. On an easy validation split many
evaluations tie (1.0 early on), and the Trainer keeps the earliest of equals and stops once
`early_stopping_patience` evaluations bring nothing better; `SelectionMetric` breaks ties by the
lower validation loss, so a model that still learns counts as improving.
"""

from __future__ import annotations

import logging
import math

from transformers import TrainerCallback
from transformers.trainer_callback import PrinterCallback, ProgressCallback

logger = logging.getLogger(__name__)
# Faithfulness moves in steps of 1/eval_samples (1e-4 even for 10,000 samples); a loss below 10
# weighted 1e-6 moves the selection by less than 1e-5: it only ever decides between equals.
LOSS_WEIGHT = 1e-6
SELECTION = "selection"  # metric_for_best_model


class SelectionMetric(TrainerCallback):
    """Adds `eval_selection`: faithfulness, ties broken by lower validation loss. Must run before
    the early-stopping callback, which reads it."""

    def on_evaluate(self, args, state, control, metrics=None, **kwargs):
        if metrics is not None and "eval_faithfulness" in metrics:
            loss = metrics.get("eval_loss")
            penalty = LOSS_WEIGHT * loss if isinstance(loss, float | int) and math.isfinite(loss) else 0.0
            metrics[f"eval_{SELECTION}"] = metrics["eval_faithfulness"] - penalty


class StopReport(TrainerCallback):
    """Says, after the progress bar closes, when and why training stopped before its last step."""

    def __init__(self, patience: int) -> None:
        self.patience = patience

    def on_train_end(self, args, state, control, **kwargs):
        if not state.max_steps or state.global_step >= state.max_steps:
            return
        best = next(
            (e for e in state.log_history if "eval_faithfulness" in e and e["step"] == state.best_global_step), {}
        )
        logger.info(
            "training stopped early at step %d of %d: validation faithfulness (ties: loss) did not improve for %d "
            "evaluations; the best checkpoint, step %s (faithfulness %s, loss %s), is the model",
            state.global_step,
            state.max_steps,
            self.patience,
            state.best_global_step,
            best.get("eval_faithfulness"),
            best.get("eval_loss"),
        )


class QuietProgress(ProgressCallback):
    """The Trainer's progress bar without its dump of every log dict ("{'loss': 0.41, ...}" lines by
    the hundred in an executed notebook); `EvaluationLog` says what matters instead."""

    def on_log(self, args, state, control, logs=None, **kwargs):
        pass


class EvaluationLog(TrainerCallback):
    """One line per evaluation: step, the latest training loss, validation loss and faithfulness."""

    def on_evaluate(self, args, state, control, metrics=None, **kwargs):
        if not metrics:
            return
        train_loss = next((e["loss"] for e in reversed(state.log_history) if "loss" in e), None)
        faithful = metrics.get("eval_faithfulness")
        logger.info(
            "step %d/%d: training loss %s, validation loss %s, validation faithful %s",
            state.global_step,
            state.max_steps,
            f"{train_loss:.4f}" if train_loss is not None else "-",
            f"{metrics['eval_loss']:.4f}" if "eval_loss" in metrics else "-",
            f"{100 * faithful:.1f}%" if faithful is not None else "-",
        )


def quiet_log(trainer) -> None:
    """Replaces the Trainer's printing of raw log dicts (PrinterCallback, ProgressCallback.on_log) with
    `EvaluationLog`; the bar stays where it was shown."""
    had_bar = any(isinstance(c, ProgressCallback) for c in trainer.callback_handler.callbacks)
    trainer.remove_callback(PrinterCallback)
    trainer.remove_callback(ProgressCallback)
    if had_bar:
        trainer.add_callback(QuietProgress)
    trainer.add_callback(EvaluationLog)
