"""The model folder's README.md (a Hugging Face model card): YAML metadata, then generated text.

Training writes it with the validation numbers; notebook 04 rewrites it with its evaluation table,
so the card a user reads beside the weights states what was measured on that model.
"""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from helpers.core.contract import LLM_CONFIG, ModelSettings, load_model_settings
from helpers.core.io import atomic_write_text

CARD = "README.md"
TRAINING_SUMMARY = "training_summary.json"  # the training numbers the card shows, kept for rewrites
EXAMPLE_RECORD = {
    "detections": [
        {"label": "plastic", "confidence": 0.92, "bbox": [0.1, 0.2, 0.3, 0.4]},
        {"label": "plastic", "confidence": 0.81, "bbox": [0.5, 0.5, 0.6, 0.7]},
        {"label": "kite", "confidence": 0.77, "bbox": [0.7, 0.1, 0.9, 0.3]},
        {"label": "glass", "confidence": 0.31, "bbox": [0.2, 0.6, 0.3, 0.7]},
    ],
    "scene": {"class": "grass", "confidence": 0.95},
}


def _metadata(settings: ModelSettings) -> str:
    # No `pipeline_tag`: transformers 5 removed the text2text-generation pipeline, and its
    # text-generation pipeline does not take T5; the card's usage loads the model directly.
    meta = {
        "library_name": "transformers",
        "language": ["en"],
        "license": "apache-2.0",
        "tags": ["desclm", "t5", "data-to-text", "litter-detection"],
    }
    if settings.base_model != "scratch":
        meta["base_model"] = settings.base_model
    return "---\n" + yaml.safe_dump(meta, sort_keys=False) + "---\n"


def _percent(value) -> str:
    return f"{100 * value:.1f}%" if isinstance(value, int | float) else "n/a"


def _evaluation_table(evaluation: dict | None) -> str:
    if not evaluation:
        return "Not evaluated yet: run notebook 04 on this folder; it writes its table here.\n"
    rows = [
        "| group | records | raw model faithful | guarded faithful | grammar fallback |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for name, group in evaluation.items():
        rows.append(
            f"| {name} | {group['records']} | {_percent(group['raw_model']['faithful'])} | "
            f"{_percent(group['guarded']['faithful'])} | {_percent(group['fallback_rate'])} |"
        )
    return (
        "From notebook 04 (the test split and generated stress groups; *faithful* means every category with "
        "its exact count and the right scene, nothing else, read back by the desclm fact extractor):\n\n"
        + "\n".join(rows)
        + "\n"
    )


def model_card(settings: ModelSettings, summary: dict, evaluation: dict | None = None) -> str:
    """The card's text from the folder's settings, training numbers and (optionally) 04's groups."""
    from helpers.text.linearize import SLOT_FORMATS, linearize  # imported only to render the example
    from helpers.text.variants import variant_of

    variant = variant_of(EXAMPLE_RECORD, 0, settings.spec.variants)  # as the describer (seed 0) chooses it
    example_input = linearize(EXAMPLE_RECORD, settings.input_format, settings.policy, settings.spec.styles[0], variant)
    slots = settings.input_format in SLOT_FORMATS
    slot_note = (
        "Names outside the five trained classes are slots (`slotA`, ...) in input and output; desclm fills them\n"
        "back after generation. "
        if slots
        else ""
    )
    pairs = summary.get("pairs", {})
    return f"""{_metadata(settings)}
# desclm describer

A T5 model ({summary.get("parameters", 0):,} parameters, base `{settings.base_model}`) that writes one
English sentence describing what litter detectors and a scene classifier saw in a field photo. Trained
by desclm on descriptions written by its grammar (data fingerprint `{settings.data_fingerprint}`):
{pairs.get("train", "?")} training, {pairs.get("val", "?")} validation and {pairs.get("test", "?")} test pairs.

## Input
A CV output record per photo is written as one line (input format `{settings.input_format}`).
Detections below {settings.policy.min_confidence} confidence are left out (the glass below) and the
scene is named only at or above {settings.policy.scene_min_confidence}. This record

```json
{json.dumps(EXAMPLE_RECORD)}
```

becomes the model input

```
{example_input}
```

{slot_note}`{LLM_CONFIG}` holds the format, the thresholds, the lengths and the beams
(`num_beams` {settings.num_beams}) that inference must reuse.

## Evaluation
During training (greedy decoding; inference uses {settings.num_beams} beams), validation faithfulness
**{_percent(settings.validation.get("faithfulness"))}** and loss {settings.validation.get("loss") or float("nan"):.4f}
at the kept checkpoint; {summary.get("global_step", "?")} steps in {summary.get("train_seconds", 0):.0f} s,
precision {summary.get("precision", "?")}.

{_evaluation_table(evaluation)}
## Limitations
- The model states what the detectors reported, not what is in the photo: a missed or invented detection
  becomes a false sentence. Measure your detectors (notebook 01) before trusting the text.
- Trained on grammar-written English only; it knows five litter classes by name and copies other labels.
- The raw model can miscount long lists; the guarded describer reads every sentence back and falls back to
  the grammar when no beam states the facts exactly.

## Use
With desclm (the guard, batching, slots filled in):

```python
from helpers.describer import Describer

record = {json.dumps(EXAMPLE_RECORD)}
describer = Describer.load("MODEL_DIR")          # or backend="ct2" after: desclm export-ct2 MODEL_DIR
print(describer.describe([record])[0])
```

Without desclm (transformers only, which has no pipeline for this kind of model since version 5; building
the input, {"filling the slots, " if slots else ""}and checking the sentence are then yours to do):

```python
from transformers import AutoModelForSeq2SeqLM, AutoTokenizer

tokenizer = AutoTokenizer.from_pretrained("MODEL_DIR")
model = AutoModelForSeq2SeqLM.from_pretrained("MODEL_DIR")
inputs = tokenizer("{example_input}", return_tensors="pt")
print(tokenizer.decode(model.generate(**inputs)[0], skip_special_tokens=True))
```
"""


def write_model_card(folder: str | Path, summary: dict | None = None, evaluation: dict | None = None) -> Path:
    """Writes `folder/README.md`; the training summary is saved beside it (or read back when None)."""
    folder = Path(folder)
    if summary is None:
        path = folder / TRAINING_SUMMARY
        summary = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    else:
        atomic_write_text(folder / TRAINING_SUMMARY, json.dumps(summary, indent=2, default=str) + "\n")
    return atomic_write_text(folder / CARD, model_card(load_model_settings(folder), summary, evaluation))
