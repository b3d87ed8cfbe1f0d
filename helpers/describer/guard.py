"""The guard: every sentence the model wrote, read back and checked against its record, apart from
the model, so that it can run in a pool of worker processes while the model writes the next batch.

`Guard` holds only what the checks need (the policy, the style, a house style's frames, the seed),
so it pickles; `GuardPool` runs `Guard.describe` on worker processes (`guard_workers`), in order.
`ModelInput` is the other half of a describer that needs no model: a record's input text. The
checks themselves are described in `helpers.describer.describe`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace

from helpers.core.contract import Policy, Style
from helpers.core.device import cpu_cores
from helpers.core.workers import WorkerPool
from helpers.describer.provenance import Phrase, provenance
from helpers.text.fallback import GRAMMAR_ATTEMPTS, fallback_sentence, grammar_sentences, well_written
from helpers.text.fallback import said as _said
from helpers.text.frames import frame_of, grammar_frames
from helpers.text.grammar import Facts, RecordError, facts, validate_record
from helpers.text.linearize import from_model_text, linearize
from helpers.text.variants import variant_of

logger = logging.getLogger(__name__)
SOURCES = ("model", "rerank", "grammar", "unchecked")


@dataclass(frozen=True)
class Description:
    """One result with how it was made."""

    text: str
    source: str  # one of SOURCES
    expected: Facts  # what the input says (after the thresholds)
    said: Facts  # what the text says, read back by the fact extractor
    hypotheses: tuple[str, ...]  # the model's beams, best first
    phrases: tuple[Phrase, ...] = ()  # each stated fact: its characters and the detections it covers
    captions: tuple[str, ...] = ()  # `num_captions` distinct sentences, `text` first (see `Describer`)
    caption_sources: tuple[str, ...] = ()  # the source of each caption (one of SOURCES)
    error: None = None  # a description is no error (see `DescribeError`)

    @property
    def faithful(self) -> bool:
        return self.said == self.expected


@dataclass(frozen=True)
class DescribeError:
    """A record `Describer.describe_all` could not describe, in that record's place."""

    name: str  # the record's name ("line 7", "record 3")
    error: str  # the message, naming the record and the field or the failure
    faithful: bool = False


@dataclass(frozen=True)
class ModelInput:
    """A valid record's model input, as the describer was trained to read it: its input format, the
    thresholds, the style asked for and the wording variant the record draws from `seed`."""

    policy: Policy
    style: Style
    input_format: str
    seed: int
    variants: int

    def __call__(self, record: dict) -> str:
        variant = variant_of(record, self.seed, self.variants)
        return linearize(record, self.input_format, self.policy, self.style, variant)

    def of(self, record, name: str) -> tuple[str | None, str | None]:
        """(the record's model input, None), or (None, why it has none): invalid (the message names
        `name` and the field), or a record the linearizer fails on."""
        try:
            validate_record(record, name, self.policy)
            return self(record), None
        except RecordError as invalid:
            return None, str(invalid)
        except Exception as failure:  # noqa: BLE001 - a record the linearizer fails on costs its own place
            return None, f"{name}: {type(failure).__name__}: {failure}"


@dataclass(frozen=True)
class Guard:
    """What turns a record's generated sentences into its `Description` (see the module docstring).

    Args:
        policy: The thresholds the model was trained with.
        style: The style asked for.
        frames: A house style's frames (its examples'); empty for the grammar's styles.
        input_format: The model's input format (`from_model_text` restores names from it).
        seed: Seed of the grammar's wording for a fallback sentence.
        enabled: False: every result is the model's top sentence, `unchecked`.
        num_captions: Distinct sentences per record.
    """

    policy: Policy
    style: Style
    frames: tuple[str, ...]
    input_format: str
    seed: int = 0
    enabled: bool = True
    num_captions: int = 1

    def describe(self, records: list[dict], inputs: list[str], hypotheses: list[list[str]]) -> list[Description]:
        """A `Description` per record, from its model input and its generated sentences (best first)."""
        results = []
        for record, model_input, texts in zip(records, inputs, hypotheses, strict=True):
            texts = [from_model_text(text, record, self.input_format, self.policy) for text in texts]
            chosen = self.choose(record, model_input, texts)
            results.append(self.with_captions(chosen, record, model_input, texts))
        return results

    def describe_each(
        self, records: list[dict], inputs: list[str], hypotheses: list[list[str] | str], names: list[str]
    ) -> list[Description | DescribeError]:
        """`describe` that never raises: where the batch's check raises, each record's alone, and a
        record whose check raises alone, or whose generation failed (its error as text in place of
        its sentences), gets a `DescribeError` named `names[i]`."""
        generated = [i for i, texts in enumerate(hypotheses) if not isinstance(texts, str)]
        results: list[Description | DescribeError] = [
            DescribeError(name, f"{name}: {texts}") for name, texts in zip(names, hypotheses, strict=True)
        ]
        try:
            checked = self.describe(
                [records[i] for i in generated], [inputs[i] for i in generated], [hypotheses[i] for i in generated]
            )
        except Exception:  # noqa: BLE001 - one record must not cost the others: each alone
            logger.debug("the guard failed on a batch; checking its records one by one", exc_info=True)
            checked = [self._alone(records[i], inputs[i], hypotheses[i], names[i]) for i in generated]
        for index, result in zip(generated, checked, strict=True):
            results[index] = result
        return results

    def _alone(self, record: dict, model_input: str, texts: list[str], name: str) -> Description | DescribeError:
        try:
            return self.describe([record], [model_input], [texts])[0]
        except Exception as error:  # noqa: BLE001 - this record's error
            return DescribeError(name, f"{name}: {type(error).__name__}: {error}")

    @property
    def grammar_style(self) -> Style:
        """The style the grammar writes in: the describer's own, or the default for a house style
        (which the grammar cannot write)."""
        return Style() if self.style.is_house else self.style

    def in_style(self, text: str, record: dict, scene: str | None) -> bool:
        """Grammatical and written as the style writes: the grammar's rules, and a frame the grammar
        writes (`helpers.text.frames`) or, for a house style, one of its examples'."""
        if not well_written(text, record, self.style, scene):
            return False
        if self.style.is_house:
            return frame_of(text, record) in self.frames
        return frame_of(text, record, numbered=True) in grammar_frames(self.style.name)

    def with_captions(self, chosen: Description, record: dict, model_input: str, texts: list[str]) -> Description:
        """`chosen` with its `num_captions` captions: `chosen.text`, the model's other distinct
        sentences that pass the guard (all of them, unguarded), then the grammar's other wordings."""
        captions = {chosen.text: chosen.source}  # caption -> source, in order
        for rank, text in enumerate(texts):
            if len(captions) == self.num_captions:
                break
            if text in captions:
                continue
            if not self.enabled:
                captions[text] = "unchecked"
            elif _said(text, record) == chosen.expected and self.in_style(text, record, chosen.expected.scene):
                captions[text] = "model" if rank == 0 else "rerank"
        if self.enabled and len(captions) < self.num_captions:
            wanted = self.num_captions - len(captions)
            seed = f"{self.seed}:{model_input}"
            for text in grammar_sentences(record, seed, wanted, self.policy, self.grammar_style, tuple(captions)):
                captions[text] = "grammar"
        return replace(chosen, captions=tuple(captions), caption_sources=tuple(captions.values()))

    def choose(self, record: dict, model_input: str, texts: list[str]) -> Description:
        expected = facts(record, self.policy)
        if not self.enabled:
            phrases = provenance(texts[0], record, self.policy)
            return Description(texts[0], "unchecked", expected, _said(texts[0], record), tuple(texts), phrases)
        for rank, text in enumerate(texts):
            said = _said(text, record)
            if said == expected and self.in_style(text, record, expected.scene):
                source = "model" if rank == 0 else "rerank"
                return Description(text, source, expected, said, tuple(texts), provenance(text, record, self.policy))
        # Same record, same wording: the fallback's randomness is seeded by the input itself. It never
        # returns a sentence the extractor reads otherwise (helpers.text.fallback); a record whose facts
        # cannot be stated at all raises UnfaithfulError, which `describe_all` makes that record's error.
        text, said = fallback_sentence(
            record, f"{self.seed}:{model_input}", self.policy, self.grammar_style, GRAMMAR_ATTEMPTS
        )
        return Description(text, "grammar", expected, said, tuple(texts), provenance(text, record, self.policy))


def guard_workers(setting: int | str, device: str = "cpu") -> int:
    """Worker processes for a `guard_workers` setting: a number (0: the guard runs in this process,
    between batches), or "auto": on a GPU every core but the one feeding it; on the CPU none (the
    model's generation uses the cores the workers would; measured on 2 cores: the same speed).

    Raises:
        ValueError: Neither "auto" nor a whole number >= 0.
    """
    if setting == "auto":
        return max(0, cpu_cores() - 1) if device.startswith("cuda") else 0
    if isinstance(setting, bool) or not str(setting).isdigit():
        raise ValueError(f"guard_workers must be 'auto' or a whole number >= 0, got {setting!r}")
    return int(setting)


class GuardPool:
    """`Guard.describe` on `workers` processes (`WorkerPool`), results in the order the batches were
    given. At most `2 x workers` batches wait at a time, so the model stays at most that far ahead
    of the guard."""

    def __init__(self, guard: Guard, workers: int) -> None:
        self.guard, self.workers = guard, workers
        self._pool = WorkerPool(guard, workers)

    def describe(self, batches: Iterable[tuple[list[dict], list[str], list[list[str]]]]) -> Iterator[Description]:
        """Descriptions for each (records, inputs, hypotheses) batch, in order; batches are drawn
        (the model generating) while earlier ones are checked. A batch whose check raised
        re-raises here, at its place."""
        for descriptions in self._pool.ordered("describe", batches, 2 * self.workers):
            yield from descriptions

    def describe_each(self, batches: Iterable[tuple[list, list, list, list]]) -> Iterator[Description | DescribeError]:
        """`Guard.describe_each` for each (records, inputs, hypotheses, names) batch, in order, as
        `describe` (never raising for a record)."""
        for results in self._pool.ordered("describe_each", batches, 2 * self.workers):
            yield from results

    def close(self) -> None:
        self._pool.close()
