"""Training data: 02's pairs with their input spec, model targets, token lengths, and the
generation-based faithfulness scorer used to choose checkpoints."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
from datasets import Dataset, load_dataset

from helpers.core.contract import InputSpec, Policy, load_pairs_settings
from helpers.core.paths import require_file
from helpers.text.facts import extract
from helpers.text.grammar import facts
from helpers.text.linearize import from_model_text, to_model_text
from helpers.text.slots import slot_names

logger = logging.getLogger(__name__)


def with_targets(data: dict[str, Dataset], spec: InputSpec) -> tuple[dict[str, Dataset], int]:
    """Adds each pair's `target`, the description as the model writes it (names as slots where the
    format uses them), and counts the pairs whose names could not be slotted exactly (their
    target keeps the names: an extra pair's own wording, say)."""
    kept_names = 0
    result = {}
    for split, rows in data.items():
        targets = []
        for output, cv in zip(rows["output"], rows["cv"]):
            target = to_model_text(output, cv, spec.input_format, spec.policy)
            if from_model_text(target, cv, spec.input_format, spec.policy) != output:
                target, kept_names = output, kept_names + (split == "train")
            targets.append(target)
        result[split] = rows.add_column("target", targets)
    return result, kept_names


def load_pairs(pairs_dir: Path) -> tuple[dict[str, Dataset], InputSpec, dict]:
    """train/val/test datasets, 02's input spec, and 02's other settings (fingerprint, seed, ...)."""
    spec, settings = load_pairs_settings(pairs_dir)
    files = {split: require_file(pairs_dir / f"{split}.jsonl", f"{split} pairs") for split in ("train", "val", "test")}
    for split in ("train", "val"):  # training needs both; the test split may be empty
        if files[split].stat().st_size == 0:
            raise ValueError(
                f"{files[split]} holds no pairs: training needs {split} images (check 01's splits and max_images)"
            )
    data = load_dataset("json", data_files={split: str(path) for split, path in files.items() if path.stat().st_size})
    splits = {split: data[split] for split in data}
    splits.setdefault("test", data["val"].select([]))
    return splits, spec, settings


def length_limits(
    tokenizer, data: dict[str, Dataset], max_source_length: int, max_target_length: int
) -> dict[str, int]:
    """Max source/target lengths (0: the longest text of any split, capped at 512/256: validation's
    hard records can be longer than every training text); logs a warning with a count when anything
    would be cut."""
    limits = {}
    for name, column, asked, cap in (
        ("input", "input", max_source_length, 512),
        ("output", "target", max_target_length, 256),
    ):
        # an empty split (02 may write no test pairs) has no lengths; tokenizers fail on an empty batch
        every = {
            key: [len(ids) for ids in tokenizer(list(part[column]))["input_ids"]] if len(part) else []
            for key, part in data.items()
        }
        lengths = every["train"]
        limit = asked or min(max(n for split in every.values() for n in split), cap)
        cut = sum(n > limit for split in every.values() for n in split)
        if cut:
            logger.warning("%d %s text(s) are longer than %d tokens and will be truncated", cut, name, limit)
        limits[name] = limit
        limits[f"{name}_truncated"] = cut
        limits[f"{name}_mean"] = float(np.mean(lengths))
        limits[f"{name}_p95"] = float(np.percentile(lengths, 95))
    return limits


def _text_key(text: str) -> str:
    return " ".join(text.split())


def faithfulness_scorer(tokenizer, records: Dataset, spec: InputSpec, max_source_length: int):
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
        expected.setdefault(key, (facts(cv, spec.policy), [d["label"] for d in cv["detections"]], cv))

    def score(prediction) -> dict[str, float]:
        def decode(ids):
            return tokenizer.batch_decode(np.where(ids < 0, tokenizer.pad_token_id, ids), skip_special_tokens=True)

        ok = []
        for model_input, text in zip(decode(prediction.inputs), decode(prediction.predictions)):
            want, labels, cv = expected[_text_key(model_input)]
            ok.append(extract(from_model_text(text, cv, spec.input_format, spec.policy), labels).facts() == want)
        return {"faithfulness": float(np.mean(ok)) if ok else 0.0}

    return score


def copied_names(record: dict) -> set[str]:
    """Names a description of the record copies verbatim, at any confidence: what slots hold
    (the words tokenizer spells them in letters)."""
    return set(slot_names(record, Policy(min_confidence=0.0, scene_min_confidence=0.0)).values())
