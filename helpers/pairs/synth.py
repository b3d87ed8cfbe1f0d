"""Training pairs from CV outputs: descriptions by the grammar, split by image, plus coverage.

    desclm pairs --cv_outputs data/cv_outputs.jsonl --output_dir data/pairs   # build_pairs: train/val/test.jsonl
    desclm synth --input cv.jsonl --output descriptions.jsonl [--seed N]      # describe_file: the grammar alone

`build_pairs` is what notebook 02 calls; its settings (`SynthConfig`) are in `helpers.pairs.config`.
"""

from __future__ import annotations

import hashlib
import logging
import random
import sys
from dataclasses import asdict, dataclass, replace
from itertools import islice
from pathlib import Path

from helpers.core.contract import PAIRS_CONFIG, Policy, Style, write_pairs_settings
from helpers.core.io import iter_jsonl, write_jsonl
from helpers.core.logs import progress
from helpers.core.outputs import check_writes
from helpers.core.paths import require_file, resolve
from helpers.core.records import (
    ResumableOutput,
    check_output,
    chunks,
    file_stamp,
    input_line,
    is_stream,
    json_line,
    read_lines,
    read_raw_lines,
)
from helpers.core.workers import WorkerPool
from helpers.pairs.config import SynthConfig, SynthOptions  # noqa: F401 - their home is the light config module
from helpers.text.facts import extract
from helpers.text.fallback import fallback_sentence, grammar_sentences
from helpers.text.grammar import RecordError, describe, describe_variations, facts, validate_record
from helpers.text.house import house_frames, load_examples
from helpers.text.linearize import linearize
from helpers.text.synthetic import STRESS_GROUPS, random_cv, stress_record
from helpers.text.variants import variant_of, variant_rng

logger = logging.getLogger(__name__)
SPLITS = ("train", "val", "test")
SPLIT_ALIASES = {"train": "train", "val": "val", "valid": "val", "validation": "val", "test": "test"}


@dataclass
class SynthResult:
    """What the pairs stage wrote."""

    pairs: dict[str, list[dict]]
    errors: list[dict]
    files: dict[str, Path]
    fingerprint: str


def _cv(record: dict) -> dict:
    # ground truth rides along (never into the model input) for 04's truth report
    return {key: record[key] for key in ("detections", "scene", "ground_truth", "ground_truth_error") if key in record}


def _pairs_for(
    record: dict, image: str, split: str, origin: str, config: SynthConfig, rng: random.Random
) -> list[dict]:
    pairs = []
    for style in config.spec.styles:  # every style learns from every record
        if config.spec.variants:  # each sentence drawn as its variant, the input saying which
            chosen = rng.sample(range(config.spec.variants), min(config.variations_per_image, config.spec.variants))
            inputs = [linearize(record, config.input_format, config.policy, style, v) for v in chosen]
            outputs = [describe(record, variant_rng(v), config.policy, style) for v in chosen]
        else:
            outputs = describe_variations(record, config.variations_per_image, rng, config.policy, style)
            inputs = [linearize(record, config.input_format, config.policy, style)] * len(outputs)
        pairs += [
            {"image": image, "split": split, "origin": origin, "cv": _cv(record), "input": i, "output": o}
            for i, o in zip(inputs, outputs, strict=True)
        ]
    return pairs


def _seeded_splits(images: list[str], seed: int) -> dict[str, str]:
    """80/10/10 by image, from a seeded shuffle of the sorted image names."""
    order = sorted(images)
    random.Random(f"split:{seed}").shuffle(order)
    n_train, n_val = round(0.8 * len(order)), round(0.1 * len(order))
    return {
        image: "train" if i < n_train else "val" if i < n_train + n_val else "test" for i, image in enumerate(order)
    }


def read_cv_outputs(path: Path, errors: list[dict], policy: Policy = Policy()) -> list[tuple[str, str | None, dict]]:
    """Valid records as (image, split or None, record); bad lines and duplicates go to `errors`."""
    records, seen = [], set()
    for line in iter_jsonl(path):
        name = f"{path.name}:{line.line_number}"
        try:
            if line.error:
                raise RecordError(line.error)
            validate_record(line.record, name, policy)
            image = str(line.record.get("image") or line.record.get("id") or name)
            if image in seen:
                raise RecordError(f"{name}: image {image!r} appears more than once; the first record was used")
            raw_split = line.record.get("split")
            if raw_split is not None and raw_split not in SPLIT_ALIASES:
                raise RecordError(f"{name}: split must be one of {sorted(SPLIT_ALIASES)}, got {raw_split!r}")
        except RecordError as error:
            errors.append({"source": str(path), "line": line.line_number, "error": str(error)})
            continue
        seen.add(image)
        records.append((image, SPLIT_ALIASES.get(raw_split), line.record))
    return records


def _extra_pairs(path: Path, config: SynthConfig, errors: list[dict]) -> list[dict]:
    pairs = []
    for line in iter_jsonl(path):
        name = f"{path.name}:{line.line_number}"
        try:
            if line.error:
                raise RecordError(line.error)
            cv, output = line.record.get("cv"), line.record.get("output")
            validate_record(cv, f"{name}: cv", config.policy)
            if not isinstance(output, str) or not output.strip():
                raise RecordError(f"{name}: 'output' must be a non-empty string")
            expected = facts(cv, config.policy)
            said = extract(output, [d["label"] for d in cv["detections"]]).facts()
            if config.extra_pairs_must_be_faithful and said != expected:
                raise RecordError(f"{name}: output says {said}, the cv implies {expected}")
        except RecordError as error:
            errors.append({"source": str(path), "line": line.line_number, "error": str(error)})
            continue
        variant = variant_of(cv, config.seed, config.spec.variants)  # as the describer would choose it
        model_input = linearize(cv, config.input_format, config.policy, config.spec.styles[0], variant)
        pairs.append(
            {
                "image": f"extra/{line.line_number}",
                "split": "train",
                "origin": "extra",
                "cv": _cv(cv),
                "input": model_input,
                "output": output.strip(),
            }
        )
    return pairs


def _house_pairs(examples: list[tuple[dict, str]], style: Style, config: SynthConfig) -> list[dict]:
    """A house style's examples as training pairs: the model input asks for `style`."""
    pairs = []
    for number, (record, sentence) in enumerate(examples, start=1):
        variant = variant_of(record, config.seed, config.spec.variants)  # as the describer would choose it
        pairs.append(
            {
                "image": f"{style.tag}/{number}",
                "split": "train",
                "origin": style.tag,
                "cv": _cv(record),
                "input": linearize(record, config.input_format, config.policy, style, variant),
                "output": sentence,
            }
        )
    return pairs


def synthetic_record(index: int, seed: int) -> dict:
    """The index-th coverage record: stress groups in turn with general random outputs.

    Lists of names outside the five classes come twice in each turn: a user's own detector names all
    its classes so, and each wording variant has to learn them (with one turn, models trained with
    variants miscounted such lists more often than without: docs/04_describer.md).
    """
    rng = random.Random(f"synthetic:{seed}:{index}")
    kinds = (*STRESS_GROUPS, "general", "general", "unseen_labels")
    kind = kinds[index % len(kinds)]
    return random_cv(rng) if kind == "general" else stress_record(kind, rng)


def build_pairs(config: SynthConfig) -> SynthResult:
    """Writes `train/val/test.jsonl`, `errors.jsonl` and `pairs_config.json` to `output_dir`."""
    errors: list[dict] = []
    cv_outputs = require_file(config.cv_outputs, "CV outputs", hint="run notebook 01 first")
    out = resolve(config.output_dir)
    written = [out / name for name in (*(f"{split}.jsonl" for split in SPLITS), "errors.jsonl", PAIRS_CONFIG)]
    check_writes(written, [cv_outputs, *([resolve(config.extra_pairs)] if config.extra_pairs else [])])
    records = read_cv_outputs(cv_outputs, errors, config.policy)
    seeded = _seeded_splits([image for image, split, _ in records if split is None], config.seed)
    pairs: dict[str, list[dict]] = {split: [] for split in SPLITS}
    for image, split, record in progress(records, desc="describe images", unit="img"):
        split = split or seeded[image]
        try:
            pairs[split] += _pairs_for(record, image, split, "image", config, random.Random(f"{config.seed}:{image}"))
        except Exception as error:  # noqa: BLE001 - a record the grammar fails on costs that record only
            logger.debug("%s: no pairs", image, exc_info=True)
            problem = f"image {image!r}: no pairs written: {type(error).__name__}: {error}"
            errors.append({"source": str(cv_outputs), "image": image, "error": problem})
    for index in progress(range(config.synthetic_records), desc="coverage", unit="rec"):
        record = synthetic_record(index, config.seed)
        pairs["train"] += _pairs_for(
            record, f"synthetic/{index:06d}", "train", "synthetic", config, random.Random(f"{config.seed}:s{index}")
        )
    # Validation photos can be easy (the demo's: half empty): hard records let checkpoint choice and
    # early stopping see long lists, variants, noise, new names and weak scenes too.
    for index in range(config.validation_hard_records):
        kind = STRESS_GROUPS[index % (len(STRESS_GROUPS) - 1)]  # all but "empty", which photos cover
        record = stress_record(kind, random.Random(f"validation:{config.seed}:{index}"))
        pairs["val"] += _pairs_for(
            record, f"hard/{index:06d}", "val", "hard", config, random.Random(f"{config.seed}:v{index}")
        )
    if config.extra_pairs:
        pairs["train"] += _extra_pairs(require_file(config.extra_pairs, "Extra pairs file"), config, errors)
    spec = config.spec
    if config.houses:  # a team's styles, learned from its examples (helpers.text.house)
        frames = []
        for style in config.houses:
            examples_file = resolve(config.examples_dir) / f"{style.house_name}.jsonl"
            examples, house_errors = load_examples(examples_file, config.policy)
            errors += house_errors
            pairs["train"] += _house_pairs(examples, style, config) * config.house_weight
            frames.append((style.house_name, house_frames(examples)))
        spec = replace(spec, styles=(*spec.styles, *config.houses), house_frames=tuple(frames))

    files = {split: write_jsonl(out / f"{split}.jsonl", pairs[split]) for split in SPLITS}
    files["errors"] = write_jsonl(out / "errors.jsonl", errors)
    digest = hashlib.sha256()
    for split in SPLITS:
        digest.update(files[split].read_bytes())
    fingerprint = digest.hexdigest()[:16]
    files["config"] = write_pairs_settings(out, spec, {**asdict(config), "fingerprint": fingerprint})
    return SynthResult(pairs, errors, files, fingerprint)


SYNTH_BLOCK = 1024  # lines a worker writes sentences for at a time


@dataclass(frozen=True)
class SynthLines:
    """The grammar's output lines for numbered input lines (`desclm synth`): picklable, so that blocks of
    lines are written on worker processes (`helpers.core.workers.WorkerPool`)."""

    seed: int
    policy: Policy
    style: Style = Style()
    num_captions: int = 1

    def lines(self, block: list[tuple[int, bytes]]) -> tuple[list[str], int]:
        """Each line's output line, in order, and how many are errors: a line that cannot be described, for
        any reason, costs that line only."""
        out, failures = [], 0
        for number, raw in block:
            line = input_line(number, raw)
            try:
                if line.error:
                    raise RecordError(line.error)
                validate_record(line.record, f"line {number}", self.policy)
                seed = f"{self.seed}:{number}"
                text, _ = fallback_sentence(line.record, seed, self.policy, self.style)
                row = {"id": line.id, "description": text}
                if self.num_captions > 1:
                    more = grammar_sentences(line.record, seed, self.num_captions - 1, self.policy, self.style, (text,))
                    row["captions"] = [text, *more]
            except Exception as error:  # noqa: BLE001 - any failure costs its own line only
                failures += 1
                message = (
                    str(error) if isinstance(error, RecordError) else f"line {number}: {type(error).__name__}: {error}"
                )
                row = {"id": line.id, "error": message}
            out.append(json_line(row))
        return out, failures


def describe_file(
    input_path: Path,
    output_path: Path,
    seed: int,
    policy: Policy,
    style: Style = Style(),
    workers: int = 0,
    block: int = SYNTH_BLOCK,
    num_captions: int = 1,
) -> int:
    """The CLI's work: one {"id", "description"} or {"id", "error"} per input line (blank and broken
    lines included), in order; returns the error count. Every sentence reads back as its record's facts
    (`helpers.text.fallback`); with `num_captions` above 1 a row also holds `captions`, the description and
    up to `num_captions - 1` other distinct grammar sentences (`grammar_sentences`).

    The input is read as it is described (a first pass counts its lines for the progress bar; a pipe or
    standard input is held, read once), blocks of `block` lines written on `workers` processes while this
    one reads and writes (0: all here), so 10^7 records take flat memory and every core. The output is
    written beside its final name and renamed into place when complete; a killed run started again with
    the same input and settings resumes after the lines it wrote (`ResumableOutput`).

    Raises:
        ValueError: The output would overwrite the input, or is a folder (checked before any work);
            `OutputBusyError` when another run is writing the same output.
    """
    check_output(input_path, output_path)
    stream = is_stream(input_path)
    settings = {"seed": seed, "policy": asdict(policy), "style": style.tag, "num_captions": num_captions}
    with ResumableOutput(output_path, {"input": file_stamp(input_path), "settings": settings}, not stream) as output:
        if stream:
            held = list(read_raw_lines(input_path))
            total, lines = len(held), iter(held)
        else:
            total, lines = sum(1 for _ in read_raw_lines(input_path)), read_raw_lines(input_path)
        failures = 0
        if output.done:
            logger.info("resuming %s after %d of %d lines", output_path, output.done, total)
            failures = sum("error" in line.record for line in islice(read_lines(output.partial), output.done))
        todo = islice(enumerate(lines, start=1), output.done, None)
        blocks = -(-(total - output.done) // block)
        workers = min(workers, blocks) if blocks > 1 else 0  # one block: no worker to start for it
        pool = WorkerPool(SynthLines(seed, policy, style, num_captions), workers)
        try:
            with progress(total=total, initial=output.done, desc="synth", unit="record", file=sys.stderr) as bar:
                for written, errors in pool.ordered("lines", ((chunk,) for chunk in chunks(todo, block)), 2 * workers):
                    output.write_lines(written)
                    failures += errors
                    bar.update(len(written))
        finally:
            pool.close()
        output.finish()
    return failures
