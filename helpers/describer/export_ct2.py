"""CTranslate2 export of a trained describer: `MODEL_DIR/ct2/`, used by `Describer.load(..., backend="ct2")`.

    desclm export-ct2 MODEL_DIR [--quantization int8]

The trap this fixes: CTranslate2's T5 converter scales the decoder output by d_model**-0.5 when
`config.tie_word_embeddings` is true. transformers 5 sets `tie_word_embeddings` to True for every
T5 and keeps the real switch in `config.scale_decoder_outputs` (True for original T5 and for
desclm's scratch models, False for T5 v1.1 / flan-t5). Converted naively, a flan-t5 describer gets
logits shrunk ~23x: greedy output is unchanged, but beam scores, beam search and log-probabilities
are not. The export reads the real switch; `tests/test_describe.py` checks parity with the HF
model for both kinds.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

from ctranslate2.converters import TransformersConverter

import helpers  # noqa: F401 - offline switches before transformers is imported
from helpers.core.contract import CT2_DIR, load_model_settings
from helpers.core.io import atomic_write_text, partial_dir, replace_dir
from helpers.core.paths import require_file, resolve

QUANTIZATIONS = ("float32", "int8", "int8_float32", "int16", "float16", "bfloat16", "int8_float16", "int8_bfloat16")

logger = logging.getLogger(__name__)


class _T5Converter(TransformersConverter):
    """The stock converter, with T5's output scaling taken from `scale_decoder_outputs`."""

    def load_model(self, model_class, model_name_or_path, **kwargs):
        model = super().load_model(model_class, model_name_or_path, **kwargs)
        scale = getattr(model.config, "scale_decoder_outputs", None)
        if scale is not None:  # transformers 5: the converter's test of tie_word_embeddings must see this flag
            model.config.tie_word_embeddings = bool(scale)
        return model


def export(model_dir: str | Path, quantization: str | None = None) -> Path:
    """Writes `model_dir/ct2/` (complete or not at all) and returns it.

    Args:
        model_dir: A trained describer folder.
        quantization: Weight type stored on disk (None: as trained). CTranslate2 can still run
            the export in another `compute_type` at load time (int8 from a float32 export too).
    """
    folder = require_file(resolve(model_dir), "Describer model folder")
    settings = load_model_settings(folder)
    if quantization is not None and quantization not in QUANTIZATIONS:
        raise ValueError(f"quantization must be one of {QUANTIZATIONS}, got {quantization!r}")
    target = folder / CT2_DIR
    work = partial_dir(target)
    _T5Converter(str(folder)).convert(str(work), quantization=quantization, force=True)
    atomic_write_text(
        work / "export.json",
        json.dumps(
            {"quantization": quantization or "as trained", "data_fingerprint": settings.data_fingerprint}, indent=2
        )
        + "\n",
    )
    return replace_dir(work, target)
