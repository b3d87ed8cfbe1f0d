"""Loading a trained describer folder and generating descriptions in batches, plus scoring them."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import helpers  # noqa: F401 - offline switches before transformers is imported
import torch
from transformers import AutoModelForSeq2SeqLM, AutoTokenizer

from helpers.backends import resolve_device
from helpers.config import require_file
from helpers.facts import SLOT_ERRORS, extract, slot_errors
from helpers.grammar import Policy, facts
from helpers.linearize import from_model_text, linearize
from helpers.train_export import LLM_CONFIG


@dataclass
class LoadedModel:
    """A describer folder in memory: model, tokenizer and its llm_config."""

    model: AutoModelForSeq2SeqLM
    tokenizer: AutoTokenizer
    config: dict
    device: str

    @property
    def policy(self) -> Policy:
        return Policy(self.config["min_confidence"], self.config["scene_min_confidence"])


def load_model(model_dir: str | Path, device: str = "auto") -> LoadedModel:
    """Loads a folder written by training; a folder without llm_config.json is not a finished model."""
    folder = require_file(model_dir, "Describer model folder", hint="train one with notebook 03")
    config = json.loads(require_file(folder / LLM_CONFIG, "Model settings (llm_config.json)", hint="the folder is not a finished desclm model").read_text())
    device = resolve_device(device)
    model = AutoModelForSeq2SeqLM.from_pretrained(folder).to(device).eval()
    return LoadedModel(model, AutoTokenizer.from_pretrained(folder), config, device)


@torch.inference_mode()
def generate(loaded: LoadedModel, inputs: list[str], batch_size: int = 32, num_beams: int | None = None) -> list[str]:
    """Descriptions for model inputs, batched by similar length, returned in input order."""
    order = sorted(range(len(inputs)), key=lambda i: len(inputs[i]))
    texts: list[str] = [""] * len(inputs)
    for start in range(0, len(order), batch_size):
        batch = [inputs[i] for i in order[start : start + batch_size]]
        encoded = loaded.tokenizer(batch, return_tensors="pt", padding=True, truncation=True, max_length=loaded.config["max_source_length"])
        output = loaded.model.generate(**encoded.to(loaded.device), num_beams=num_beams or loaded.config["num_beams"], max_new_tokens=loaded.config["max_new_tokens"])
        for index, text in zip(order[start : start + batch_size], loaded.tokenizer.batch_decode(output, skip_special_tokens=True)):
            texts[index] = text
    return texts


def describe_records(loaded: LoadedModel, records: list[dict], batch_size: int = 32, num_beams: int | None = None) -> list[str]:
    """Model descriptions of CV output records (no guard), using the model's input format."""
    fmt = loaded.config["input_format"]
    texts = generate(loaded, [linearize(r, fmt, loaded.policy) for r in records], batch_size, num_beams)
    return [from_model_text(text, record, fmt, loaded.policy) for text, record in zip(texts, records, strict=True)]


def score(records: list[dict], texts: list[str], policy: Policy) -> dict:
    """Faithfulness of texts to their records: the faithful share and slot error totals."""
    totals = Counter()
    faithful = []
    for record, text in zip(records, texts, strict=True):
        errors = slot_errors(facts(record, policy), extract(text, [d["label"] for d in record["detections"]]).facts())
        totals.update(errors)
        faithful.append(not any(errors.values()))
    return {"records": len(records), "faithful": sum(faithful) / max(1, len(records)), "per_record": faithful, **{k: totals[k] for k in SLOT_ERRORS}}
