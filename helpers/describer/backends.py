"""Generation backends for the describer: transformers (HF) and CTranslate2.

Both take model inputs (linearised CV records) and return, per input, the beam hypotheses best
first, as text. Batches are formed from inputs of similar length (less padding) and results come
back in input order.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import torch
from transformers import AutoModelForSeq2SeqLM, AutoTokenizer

import helpers  # noqa: F401 - offline switches before transformers is imported
from helpers.core.contract import CT2_DIR
from helpers.core.cuda_libs import resolve_ct2_device
from helpers.core.device import resolve_device
from helpers.core.paths import require_file
from helpers.describer.options import BACKENDS

logger = logging.getLogger(__name__)

# HF weights' precision: the names a user may write, and torch's.
DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}
DTYPE_ALIASES = {"fp32": "float32", "fp16": "float16", "bf16": "bfloat16"}
# CTranslate2's compute types ("default": as exported); float16/bfloat16 kinds need a GPU.
COMPUTE_TYPES = ("default", "auto", "float32", "int8", "int8_float32", "int16")
COMPUTE_TYPES += ("float16", "bfloat16", "int8_float16", "int8_bfloat16")


def torch_dtype(name: str) -> torch.dtype:
    """torch's dtype for "float32"/"float16"/"bfloat16" (or fp32/fp16/bf16).

    Raises:
        ValueError: Another name.
    """
    key = DTYPE_ALIASES.get(name, name)
    if key not in DTYPES:
        raise ValueError(f"dtype must be one of {[*DTYPES, *DTYPE_ALIASES]}, got {name!r}")
    return DTYPES[key]


def length_batches(inputs: list[str], batch_size: int) -> list[list[int]]:
    """Indices of `inputs` in batches of similar length."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    order = sorted(range(len(inputs)), key=lambda i: len(inputs[i]))
    return [order[start : start + batch_size] for start in range(0, len(order), batch_size)]


class Backend:
    """Batches inputs of similar length, returns each input's hypotheses in input order; a subclass
    generates one batch (`_batch`)."""

    name = ""

    def hypotheses(
        self,
        inputs: list[str],
        num_beams: int,
        max_new_tokens: int,
        batch_size: int = 32,
        num_hypotheses: int = 1,
        top_p: float = 0.0,
        seed: int = 0,
    ) -> list[list[str]]:
        """Up to `num_hypotheses` (<= num_beams) texts per input, best first; with `top_p` > 0, that
        many nucleus samples instead of beams, drawn from `seed` (the same batch gives the same texts)."""
        results: list[list[str]] = [[] for _ in inputs]
        for batch, texts in self.hypotheses_by_batch(
            inputs, num_beams, max_new_tokens, batch_size, num_hypotheses, top_p, seed
        ):
            for index, hypotheses in zip(batch, texts, strict=True):
                results[index] = hypotheses
        return results

    def hypotheses_by_batch(
        self,
        inputs: list[str],
        num_beams: int,
        max_new_tokens: int,
        batch_size: int = 32,
        num_hypotheses: int = 1,
        top_p: float = 0.0,
        seed: int = 0,
    ) -> Iterator[tuple[list[int], list[list[str]]]]:
        """`hypotheses` a generation batch at a time, as it is generated: (the inputs' indices, their texts)."""
        returned = min(num_hypotheses, num_beams)
        for batch in self._groups(inputs, batch_size):
            texts = [inputs[i] for i in batch]
            yield batch, self._batch(texts, num_beams, returned, max_new_tokens, batch_size, top_p, seed)

    def _groups(self, inputs: list[str], batch_size: int) -> list[list[int]]:
        """Indices of the inputs each `_batch` call gets: batches of similar length."""
        return length_batches(inputs, batch_size)

    def _batch(
        self,
        texts: list[str],
        beams: int,
        returned: int,
        max_new_tokens: int,
        batch_size: int,
        top_p: float = 0.0,
        seed: int = 0,
    ) -> list[list[str]]:
        raise NotImplementedError


class HFBackend(Backend):
    """transformers' `generate` on a model folder."""

    name = "hf"

    def __init__(self, model_dir: Path, max_source_length: int, device: str = "auto", dtype: str = "float32") -> None:
        self.device = resolve_device(device)
        self.dtype = torch_dtype(dtype)
        self.tokenizer = AutoTokenizer.from_pretrained(model_dir)
        self.model = AutoModelForSeq2SeqLM.from_pretrained(model_dir, dtype=self.dtype).to(self.device).eval()
        self.max_source_length = max_source_length
        self.fits: int | None = None  # the most inputs a batch may hold, once one ran out of GPU memory

    def _batch(
        self,
        texts: list[str],
        beams: int,
        returned: int,
        max_new_tokens: int,
        batch_size: int,
        top_p: float = 0.0,
        seed: int = 0,
    ) -> list[list[str]]:
        """`_generate` on the batch; a batch that runs out of GPU memory is generated in halves, and
        later batches no larger than what fitted (a large `batch_size` stays safe on a small GPU)."""
        if self.fits is not None and len(texts) > self.fits:
            return [
                hypotheses
                for start in range(0, len(texts), self.fits)
                for hypotheses in self._batch(
                    texts[start : start + self.fits], beams, returned, max_new_tokens, batch_size, top_p, seed
                )
            ]
        try:
            return self._generate(texts, beams, returned, max_new_tokens, top_p, seed)
        except torch.cuda.OutOfMemoryError:
            if len(texts) == 1:
                raise
        torch.cuda.empty_cache()
        self.fits = len(texts) // 2
        logger.warning(
            "a batch of %d records ran out of GPU memory: batches of at most %d from now on", len(texts), self.fits
        )
        return self._batch(texts, beams, returned, max_new_tokens, batch_size, top_p, seed)

    @torch.inference_mode()
    def _generate(
        self, texts: list[str], beams: int, returned: int, max_new_tokens: int, top_p: float, seed: int
    ) -> list[list[str]]:
        encoded = self.tokenizer(
            texts, return_tensors="pt", padding=True, truncation=True, max_length=self.max_source_length
        )
        cuda = [torch.device(self.device)] if torch.device(self.device).type == "cuda" else []
        with torch.random.fork_rng(devices=cuda):  # seeded, without touching the caller's random state
            torch.manual_seed(seed)
            output = self.model.generate(
                **encoded.to(self.device),
                num_return_sequences=returned,
                max_new_tokens=max_new_tokens,
                **_decoding(beams, top_p),
            )
        decoded = self.tokenizer.batch_decode(output, skip_special_tokens=True)
        return [decoded[position * returned : (position + 1) * returned] for position in range(len(texts))]

    @torch.inference_mode()
    def peak_memory(
        self, sizes: tuple[int, ...], beams: int, returned: int, max_new_tokens: int, top_p: float = 0.0
    ) -> dict[int, float]:
        """Peak CUDA memory (bytes) of generating each of `sizes` inputs at their longest (random
        token ids, `max_source_length` each), every output `max_new_tokens` long (its end forbidden
        until then): the most a batch of that many records can take."""
        device = torch.device(self.device)
        generator = torch.Generator(device="cpu").manual_seed(0)
        measured = {}
        for size in sizes:
            ids = torch.randint(3, len(self.tokenizer), (size, self.max_source_length), generator=generator)
            ids = ids.to(device)
            torch.cuda.synchronize(device)
            torch.cuda.empty_cache()
            torch.cuda.reset_peak_memory_stats(device)
            self.model.generate(
                input_ids=ids,
                attention_mask=torch.ones_like(ids),
                num_return_sequences=returned,
                max_new_tokens=max_new_tokens,
                min_new_tokens=max_new_tokens,
                **_decoding(beams, top_p),
            )
            torch.cuda.synchronize(device)
            measured[size] = float(torch.cuda.max_memory_allocated(device))
            del ids
        torch.cuda.empty_cache()
        return measured


def _decoding(beams: int, top_p: float) -> dict:
    """`generate`'s decoding arguments: `beams` beams, or with `top_p` > 0 nucleus sampling."""
    if top_p:
        return {"do_sample": True, "top_p": top_p, "num_beams": 1}
    return {"do_sample": False, "num_beams": beams}


class CT2Backend(Backend):
    """A CTranslate2 export (`MODEL_DIR/ct2`, see `helpers.describer.export_ct2`) with the folder's tokenizer.

    Thread settings for CPU: one request at a time is fastest with `intra_threads=1` and int8;
    batches of many inputs use `inter_threads` = cores (0 means: let CTranslate2 decide).
    """

    name = "ct2"

    def __init__(
        self,
        model_dir: Path,
        max_source_length: int,
        device: str = "auto",
        compute_type: str = "default",
        intra_threads: int = 0,
        inter_threads: int = 1,
    ) -> None:
        import ctranslate2

        if compute_type not in COMPUTE_TYPES:
            raise ValueError(f"compute_type must be one of {COMPUTE_TYPES}, got {compute_type!r}")
        export = require_file(
            model_dir / CT2_DIR / "model.bin",
            "CTranslate2 model",
            hint=f"run: desclm export-ct2 {model_dir}",
        )
        self.device = resolve_ct2_device(device)  # loads CUDA 12's cuBLAS for a GPU, or says how to get it
        self.tokenizer = AutoTokenizer.from_pretrained(model_dir)
        kind, _, index = self.device.partition(":")
        self.translator = ctranslate2.Translator(
            str(export.parent),
            device=kind,
            device_index=int(index or 0),
            compute_type=compute_type,
            intra_threads=intra_threads,
            inter_threads=inter_threads,
        )
        self.max_source_length = max_source_length
        self.compute_type = compute_type

    def tokens(self, text: str) -> list[str]:
        """Source tokens as CTranslate2 wants them (T5 inputs end with </s>)."""
        ids = self.tokenizer(text, truncation=True, max_length=self.max_source_length)["input_ids"]
        return self.tokenizer.convert_ids_to_tokens(ids)

    def _groups(self, inputs: list[str], batch_size: int) -> list[list[int]]:
        """All inputs in one call: CTranslate2 sorts them by length into batches of `batch_size` and
        runs those batches on its `inter_threads` in parallel (one call per batch would use one)."""
        return [list(range(len(inputs)))] if inputs else []

    def _batch(
        self,
        texts: list[str],
        beams: int,
        returned: int,
        max_new_tokens: int,
        batch_size: int,
        top_p: float = 0.0,
        seed: int = 0,
    ) -> list[list[str]]:
        import ctranslate2

        decoding = {"beam_size": beams}
        if top_p:  # nucleus sampling over the whole vocabulary
            ctranslate2.set_random_seed(seed)
            decoding = {"beam_size": 1, "sampling_topk": len(self.tokenizer), "sampling_topp": top_p}
        output = self.translator.translate_batch(
            [self.tokens(text) for text in texts],
            num_hypotheses=returned,
            max_decoding_length=max_new_tokens,
            max_batch_size=batch_size,
            **decoding,
        )
        decode = self.tokenizer.decode
        return [
            [decode(self.tokenizer.convert_tokens_to_ids(tokens), skip_special_tokens=True) for tokens in r.hypotheses]
            for r in output
        ]

    def score(self, inputs: list[str], targets: list[str]) -> list[list[float]]:
        """Per-token log-probabilities of `targets` given `inputs` (for the parity test)."""
        targets_tokens = [
            self.tokenizer.convert_ids_to_tokens(self.tokenizer(t)["input_ids"])[:-1] for t in targets
        ]  # without </s>
        results = self.translator.score_batch([self.tokens(t) for t in inputs], targets_tokens)
        return [list(r.log_probs) for r in results]


def load_backend(
    model_dir: Path, backend: str, max_source_length: int, device: str = "auto", dtype: str = "float32", **ct2_options
) -> HFBackend | CT2Backend:
    """The named backend on a model folder (`dtype` is the HF backend's, `ct2_options` CTranslate2's).

    Raises:
        ValueError: Unknown backend name.
    """
    if backend == "hf":
        return HFBackend(model_dir, max_source_length, device, dtype)
    if backend == "ct2":
        return CT2Backend(model_dir, max_source_length, device, **ct2_options)
    raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
