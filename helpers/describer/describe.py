"""The describer: CV output records in, one faithful English sentence each out.

    describer = Describer.load("models/description_llm", backend="ct2")
    describer.describe([{"detections": [...], "scene": {...}}])   # -> ["Two plastic items ..."]

    desclm describe MODEL_DIR --input cv.jsonl --output out.jsonl [--backend hf|ct2]

Input format, thresholds, beams and lengths come from the model's `llm_config.json`, so inference
matches training (greedy by default, as checkpoints are chosen; a model saved with more beams
gives the guard more sentences to choose from). The guard (on by default) reads each generated
sentence back with the fact extractor and compares it with the input's facts: the best beam that
states them exactly is used (`model` if it is the top one, `rerank` otherwise), provided it has
no agreement slip ("six metal object", "there is 2 ..."), keeps its style's vocabulary and
numerals (`helpers.text.style`: no "broken glass" or "beach" in style "plain", one numeral
system) and is written in a frame its style writes (`helpers.text.frames`: not "The image shows no
litter shows no litter on the grass.", which states the facts); if no beam passes, the grammar
writes the sentence (`grammar`), and for labels no wording can state, the enumeration "Detected
by label: 1 × of; ..." (`helpers.text.fallback`):
a guarded result is always one the extractor reads as the input's facts. With the guard off every
result is `unchecked`. Every result also says which detections each of its phrases covers, and
where the phrase is (`Description.phrases`, `helpers.describer.provenance`).

A model trained on several styles (02's `styles`) writes any of them: `Describer.load(...,
style="varied words")`; the default is the first it learned.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import replace
from pathlib import Path

from helpers.core.contract import ModelSettings, Style, load_model_settings
from helpers.core.paths import require_file, resolve
from helpers.describer.backends import load_backend
from helpers.describer.batch import AUTO_BATCH_SIZE, auto_batch_size
from helpers.describer.guard import SOURCES, DescribeError, Description, Guard, GuardPool, ModelInput
from helpers.describer.guard import guard_workers as guard_workers_of
from helpers.describer.options import DEFAULT_GUARD_WORKERS
from helpers.text.grammar import validate_record

logger = logging.getLogger(__name__)
__all__ = ["SOURCES", "DescribeError", "Describer", "Description"]  # the first three from helpers.describer.guard


class Describer:
    """A trained describer folder behind one call; see the module docstring."""

    def __init__(
        self,
        backend,
        settings: ModelSettings,
        guard: bool = True,
        seed: int = 0,
        style: Style | str | None = None,
        top_p: float = 0.0,
        num_captions: int = 1,
        guard_workers: int | str = DEFAULT_GUARD_WORKERS,
    ) -> None:
        if not 0.0 <= top_p <= 1.0:
            raise ValueError(f"top_p must be in 0..1 (0: beam search), got {top_p!r}")
        if isinstance(num_captions, bool) or not isinstance(num_captions, int) or num_captions < 1:
            raise ValueError(f"num_captions must be a whole number >= 1, got {num_captions!r}")
        self.num_captions = num_captions
        self.backend = backend
        self.settings = settings
        self.guard = guard
        self.seed = seed
        self.top_p = top_p
        self.policy = settings.policy
        self.style = settings.spec.style(style)  # raises ValueError for a style the model did not learn
        frames = settings.spec.frames_of(self.style) if self.style.is_house else ()
        self.checker = Guard(self.policy, self.style, frames, settings.input_format, seed, guard, num_captions)
        self.model_input = ModelInput(self.policy, self.style, settings.input_format, seed, settings.spec.variants)
        self.guard_workers = guard_workers_of(guard_workers, getattr(backend, "device", "cpu"))
        self._pool: GuardPool | None = None  # started at the first batch it checks
        self.auto_batch: dict | None = None  # the auto batch and what it was chosen from, once asked for

    @classmethod
    def load(
        cls,
        model_dir: str | Path,
        backend: str = "hf",
        device: str = "auto",
        guard: bool = True,
        seed: int = 0,
        compute_type: str = "default",
        intra_threads: int = 0,
        inter_threads: int = 1,
        dtype: str = "float32",
        style: Style | str | None = None,
        top_p: float = 0.0,
        num_beams: int = 0,
        num_captions: int = 1,
        guard_workers: int | str = DEFAULT_GUARD_WORKERS,
        with_model: bool = True,
    ) -> Describer:
        """Loads a folder written by notebook 03 (and, for `ct2`, exported by `helpers.describer.export_ct2`).

        Args:
            model_dir: The model folder (with llm_config.json).
            backend: "hf" (transformers) or "ct2" (CTranslate2).
            device: "auto", "cpu" or "cuda".
            guard: Check every sentence against the input and repair it (see module docstring).
            seed: Seed of the grammar's wording when it writes a fallback sentence.
            compute_type: CTranslate2 only: "default" (as exported), "int8", "float32", and on a GPU
                "float16", "bfloat16", "int8_float16" (CUDA needs the `gpu` extra: see helpers.core.cuda_libs).
            intra_threads: CTranslate2 only: threads per request (0: CTranslate2's default).
            inter_threads: CTranslate2 only: requests run in parallel.
            dtype: HF only: the weights' precision, "float32", "float16" or "bfloat16" (fp32/fp16/bf16).
            style: The style to write ("plain words", "varied digits", ...): one the model learned
                (its `llm_config.json` lists them); None: the first.
            top_p: 0: beam search (the model's most likely sentences). Above 0: that many nucleus
                samples as beams, drawn from `seed`: more varied wording across similar records,
                each sample still checked by the guard (measured in docs/04_describer.md).
            num_beams: 0: as the model was saved (03's `num_beams`); more: the guard chooses among
                that many sentences (a house style needs fewer grammar fallbacks with 4: README).
            num_captions: Distinct sentences per record (`Description.captions`), every one checked
                when guarded: the model's other passing beams (or samples) first, then the grammar's
                other wordings. The model generates at least that many beams.
            guard_workers: Processes that check the sentences while the model writes the next
                batch (0: this process, between batches; "auto": every core but one on a GPU, none
                on the CPU). The same results either way.
            with_model: False: the settings and the guard only, no weights loaded (where other
                processes generate: the Ray engine's driver); `generate` then raises.
        """
        folder = require_file(resolve(model_dir), "Describer model folder", hint="train one with notebook 03")
        settings = load_model_settings(folder)
        if num_beams < 0:
            raise ValueError(f"num_beams must be >= 0 (0: as saved), got {num_beams}")
        if num_beams:
            settings = replace(settings, num_beams=num_beams)
        options = (
            {"compute_type": compute_type, "intra_threads": intra_threads, "inter_threads": inter_threads}
            if backend == "ct2"
            else {"dtype": dtype}
        )
        settings.spec.style(style)  # an untrained style fails before the model loads
        backend_ = load_backend(folder, backend, settings.max_source_length, device, **options) if with_model else None
        return cls(backend_, settings, guard, seed, style, top_p, num_captions, guard_workers)

    def inputs(self, records: list[dict]) -> list[str]:
        """Model inputs of valid records; raises RecordError naming the record and field."""
        for index, record in enumerate(records):
            validate_record(
                record,
                f"record {index}" + (f" (id {record['id']!r})" if isinstance(record, dict) and "id" in record else ""),
                self.policy,
            )
        return [self.model_input(record) for record in records]

    def _beams(self, num_beams: int | None) -> tuple[int, int]:
        """Beams generated (as many as asked, at least `num_captions`) and returned (all of them when
        the guard chooses among them or captions are asked for)."""
        beams = max(num_beams or self.settings.num_beams, self.num_captions)
        return beams, beams if self.guard or self.num_captions > 1 else 1

    def _generation(self, inputs: list[str], batch_size: int, num_beams: int | None) -> tuple[tuple, dict]:
        """The backend's arguments for `inputs` (see `_beams`; `batch_size` 0: the auto batch)."""
        if self.backend is None:
            raise RuntimeError("this describer was loaded without its model (with_model=False): it cannot generate")
        beams, returned = self._beams(num_beams)
        sampling = {"top_p": self.top_p, "seed": self.seed} if self.top_p else {}
        batch_size = self.generation_batch_size(batch_size)
        return (inputs, beams, self.settings.max_new_tokens, batch_size, returned), sampling

    def generation_batch_size(self, batch_size: int = AUTO_BATCH_SIZE) -> int:
        """`batch_size`, or for 0 the auto batch: on a GPU (HF) measured once, at the first call, from
        generation's memory with this describer's beams; else the CPU's (`helpers.describer.batch`)."""
        if batch_size:
            return batch_size
        if self.auto_batch is None:
            beams, returned = self._beams(None)
            self.auto_batch = auto_batch_size(self.backend, beams, returned, self.settings.max_new_tokens, self.top_p)
        return self.auto_batch["batch_size"]

    def generate(
        self, inputs: list[str], batch_size: int = AUTO_BATCH_SIZE, num_beams: int | None = None
    ) -> list[list[str]]:
        """The model's sentences for each model input (`inputs`), best first, for the guard to choose from."""
        generation, sampling = self._generation(inputs, batch_size, num_beams)
        return self.backend.hypotheses(*generation, **sampling)

    def generated_batches(
        self, inputs: list[str], batch_size: int = AUTO_BATCH_SIZE, num_beams: int | None = None
    ) -> Iterator[tuple[list[int], list[list[str] | str]]]:
        """`generate`, a generation batch at a time as it is generated: (the inputs' indices, each
        one's sentences). Never raises for an input: where a batch's generation raises, each input
        not yet generated is generated alone, and one that fails alone gets its error as text in
        place of its sentences (the batches before keep theirs: nothing is generated twice)."""
        generation, sampling = self._generation(inputs, batch_size, num_beams)
        generated = [False] * len(inputs)
        try:
            for indices, texts in self.backend.hypotheses_by_batch(*generation, **sampling):
                for index in indices:
                    generated[index] = True
                yield indices, texts
        except Exception:  # noqa: BLE001 - one input must not cost the others: each alone
            logger.debug("generation failed on a batch; generating its inputs one by one", exc_info=True)
            for index in (i for i, done in enumerate(generated) if not done):
                yield [index], [self._generated_alone(inputs[index], num_beams)]

    def _generated_alone(self, model_input: str, num_beams: int | None) -> list[str] | str:
        try:
            return self.generate([model_input], 1, num_beams)[0]
        except Exception as error:  # noqa: BLE001 - this input's error, as text
            return f"{type(error).__name__}: {error}"

    def describe_detailed(
        self, records: Iterable[dict], batch_size: int = AUTO_BATCH_SIZE, num_beams: int | None = None
    ) -> list[Description]:
        """A `Description` per record (any iterable: a list, a generator), in order.

        Raises:
            RecordError: A record is invalid (nothing is generated then).
        """
        records = list(records)  # a generator is read once, here
        inputs = self.inputs(records)
        if not self.guard_workers:
            return self.checker.describe(records, inputs, self.generate(inputs, batch_size, num_beams))
        # The model writes batch k+1 while worker processes check batch k: the same batches as above
        # (similar lengths together), the same results, in input order.
        results: list[Description | None] = [None] * len(records)
        positions: deque[int] = deque()  # the records of the batches given to the pool, in order
        generation, sampling = self._generation(inputs, batch_size, num_beams)

        def batches():
            for indices, texts in self.backend.hypotheses_by_batch(*generation, **sampling):
                positions.extend(indices)
                yield [records[i] for i in indices], [inputs[i] for i in indices], texts

        for description in self._guard_pool().describe(batches()):
            results[positions.popleft()] = description
        return results

    def _guard_pool(self) -> GuardPool:
        """The guard's pool (`guard_workers` processes, or this process), started at its first use."""
        if self._pool is None:
            self._pool = GuardPool(self.checker, self.guard_workers)
        return self._pool

    def close(self) -> None:
        """Stops the guard's worker processes, if any (they also stop when this process ends)."""
        if self._pool is not None:
            self._pool.close()
            self._pool = None

    def describe_all(
        self, records: Iterable, batch_size: int = AUTO_BATCH_SIZE, names: list[str] | None = None
    ) -> list[Description | DescribeError]:
        """Like `describe_detailed`, but never raises for a record: one that is invalid, or whose
        generation or check fails (an exception in the model, guard or grammar), gives a
        `DescribeError` in its place, whose `error` names the record (`names[i]`, default "record i")
        and the field. Both types have `error` (None for a description):
        `[r.text for r in results if not r.error]`. A failure costs its record only, and no record is
        generated twice: where a batch's generation or check raises, its records are done again
        alone (`generated_batches`, `Guard.describe_each`), the same as in `desclm describe`.
        """
        records = list(records)
        names = names or [f"record {index}" for index in range(len(records))]
        results: list[Description | DescribeError | None] = [None] * len(records)
        valid, inputs = [], []  # the records with a model input, and their inputs
        for index, (record, name) in enumerate(zip(records, names, strict=True)):
            model_input, error = self.model_input.of(record, name)
            if error is None:
                valid.append(index)
                inputs.append(model_input)
            else:
                results[index] = DescribeError(name, error)
        positions: deque[int] = deque()  # the records of the batches given to the guard, in order

        def batches():
            for indices, texts in self.generated_batches(inputs, batch_size):
                chosen = [valid[i] for i in indices]
                positions.extend(chosen)
                yield [records[i] for i in chosen], [inputs[i] for i in indices], texts, [names[i] for i in chosen]

        if valid:
            for result in self._guard_pool().describe_each(batches()):
                results[positions.popleft()] = result
        return results

    def describe(self, records: Iterable[dict], batch_size: int = AUTO_BATCH_SIZE) -> list[str]:
        """One sentence per record, in order (see `describe_detailed`)."""
        return [d.text for d in self.describe_detailed(records, batch_size)]
