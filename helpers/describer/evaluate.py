"""Notebook 04's work: how faithful and fluent the describer is, where it fails, and how fast it runs.

Groups: the test split (real images, with all their reference descriptions) and generated stress
sets (`helpers.text.synthetic.stress_set`, unseen names held out from training). For every record
three writers are judged with the fact extractor: the raw model (its top beam, no guard), the
guarded describer, and the grammar itself.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import asdict, dataclass

import sacrebleu

from helpers.core.contract import Style
from helpers.core.io import iter_jsonl
from helpers.core.paths import require_file, resolve
from helpers.core.settings import setting
from helpers.describer.batch import AUTO_BATCH_SIZE
from helpers.describer.describe import Describer, Description
from helpers.describer.options import FOLDER
from helpers.describer.truth import summarise_truth, truth_facts, truth_record, truth_rows
from helpers.text.facts import SLOT_ERRORS, agreement_errors, extract, slot_errors
from helpers.text.frames import frame_errors, grammar_frames
from helpers.text.grammar import describe
from helpers.text.metrics import distinct_n, unique_ratio
from helpers.text.style import STYLE_CHECKS, style_errors
from helpers.text.synthetic import STRESS_GROUPS, stress_set

WRITERS = ("raw_model", "guarded", "grammar")
# Kinds of writing failure counted per writer (besides the facts): agreement slips, words outside
# the style's vocabulary, numerals mixed or not the style's (`helpers.text.style`), a frame the
# style's grammar does not write (`helpers.text.frames`: "The image shows no litter shows no litter.").
WRITING_CHECKS = ("agreement_errors", *STYLE_CHECKS, "frame_errors")
# What notebook 04's verdict requires (tests use the same values): the guarded describer faithful on
# every record of every stress group, the grammar writing at most 5% of the test split's sentences,
# and no writing failure of any kind in guarded output on any group.
TARGETS = {"guarded_faithful_min_stress": 1.0, "fallback_rate_test_max": 0.05, "guarded_writing_errors_max": 0}
# Where the test photos have ground truth (`helpers.describer.truth`), also: the describer right about
# every photo when given the truth, at least 60% of photos described truly end to end, and no
# littered photo called clean.
TRUTH_TARGETS = {"truth_describer_on_truth_min": 1.0, "truth_end_to_end_min": 0.6, "littered_called_clean_max": 0}


@dataclass
class EvalConfig:
    """Notebook 04's parameters."""

    model_dir: str = setting("models/description_llm", "the trained describer (03's output)")
    pairs_dir: str = setting("data/pairs", "02's output: test.jsonl holds the test photos and their references")
    output_dir: str = setting("data/eval", "metrics, tables, figures and per-record results")
    stress_records: int = setting(200, "records per generated stress group")
    max_test_records: int = setting(0, "test photos evaluated (0: all)")
    batch_size: int = setting(
        AUTO_BATCH_SIZE, "records per generation batch (0: auto, as describe's: 64 on the CPU, up to 1024 on a GPU)"
    )
    seed: int = setting(0, "stress sets, timing inputs, the grammar's wording and, with top_p, the samples")
    top_p: float = setting(0.0, "0: the describer's beam search; above 0: nucleus sampling (more varied, guarded)")

    def __post_init__(self) -> None:
        if self.stress_records < 1 or self.batch_size < 0 or self.max_test_records < 0:
            raise ValueError("stress_records must be >= 1, batch_size and max_test_records >= 0")


@dataclass
class EvalReport:
    """Notebook 04's report settings (beside EvalConfig's)."""

    timing_records: int = setting(64, "records timed per backend setting (0: no timing)")
    gallery_size: int = setting(10, "worst raw-model failures shown")
    cv_outputs: str = setting("", 'CV records rolled up per group ("": those 02 made the pairs from)')
    rollup_by: str = setting(
        FOLDER,
        'roll-up groups: "folder" of each photo, "day" or "month" it was taken, a record field ("site"); "": none',
    )
    num_captions: int = setting(5, "captions per test photo in the several-captions section (1: none)")


def test_records(pairs_dir, limit: int = 0) -> list[dict]:
    """One record per test image with all its reference descriptions (`references`)."""
    by_image: dict[str, dict] = {}
    for line in iter_jsonl(require_file(resolve(pairs_dir) / "test.jsonl", "Test pairs", hint="run notebook 02 first")):
        if line.error:
            raise ValueError(line.error)
        pair = line.record
        entry = by_image.setdefault(pair["image"], {"id": pair["image"], **pair["cv"], "references": []})
        entry["references"].append(pair["output"])
    records = list(by_image.values())
    return records[:limit] if limit else records


def evaluation_groups(config: EvalConfig) -> dict[str, list[dict]]:
    """The test split and each stress group, by name."""
    groups = {"test": test_records(config.pairs_dir, config.max_test_records)}
    for group in STRESS_GROUPS:
        groups[group] = stress_set(group, config.stress_records, config.seed)
    return groups


def _errors(record: dict, expected, text: str) -> dict[str, int]:
    return slot_errors(expected, extract(text, [d["label"] for d in record["detections"]]).facts())


def writing_errors(text: str, record: dict, style: Style, scene: str | None) -> dict[str, int]:
    """How many failures of each `WRITING_CHECKS` kind `text` has."""
    vocabulary = [d["label"] for d in record["detections"]]
    slips = style_errors(text, style, vocabulary, scene)
    frames = 0 if style.is_house else len(frame_errors(text, record, grammar_frames(style.name), style.tag, True))
    return {
        "agreement_errors": len(agreement_errors(text, vocabulary)),
        **{k: len(v) for k, v in slips.items()},
        "frame_errors": frames,  # not counted for a house style (its frames are its examples', not known here)
    }


def judge(records: list[dict], described: list[Description], policy, seed: int, style: Style = Style()) -> list[dict]:
    """Per record: each writer's text, slot errors and verdict, writing failures, and the guard's path."""
    rows = []
    for record, result in zip(records, described, strict=True):
        grammar_text = describe(record, random.Random(f"eval:{seed}:{record.get('id')}"), policy, style)
        row = {"id": record.get("id"), "source": result.source, "record": record}
        for writer, text in (("raw_model", result.hypotheses[0]), ("guarded", result.text), ("grammar", grammar_text)):
            errors = _errors(record, result.expected, text)
            row[writer] = {
                "text": text,
                "errors": errors,
                "faithful": not any(errors.values()),
                **writing_errors(text, record, style, result.expected.scene),
            }
        rows.append(row)
    return rows


def summarise(rows: list[dict]) -> dict:
    """A group's numbers: faithful share and slot errors per writer, guard path counts and shares."""
    summary: dict = {"records": len(rows)}
    for writer in WRITERS:
        errors = Counter()
        for row in rows:
            errors.update(row[writer]["errors"])
        summary[writer] = {
            "faithful": sum(r[writer]["faithful"] for r in rows) / max(1, len(rows)),
            **{k: errors[k] for k in SLOT_ERRORS},
            **{check: sum(r[writer][check] for r in rows) for check in WRITING_CHECKS},
        }
    paths = Counter(row["source"] for row in rows)
    summary["guard_paths"] = {source: paths[source] for source in ("model", "rerank", "grammar")}
    summary["fallback_rate"] = paths["grammar"] / max(1, len(rows))
    return summary


def text_quality(rows: list[dict], writer: str) -> dict:
    """BLEU and chrF against every reference of the image, diversity, writing failures by kind."""
    texts = [row[writer]["text"] for row in rows]
    quality = {
        "distinct_1": distinct_n(texts, 1),
        "distinct_2": distinct_n(texts, 2),
        "unique_ratio": unique_ratio(texts),
    }
    for check in WRITING_CHECKS:
        quality[check] = sum(row[writer][check] for row in rows)
    references = [row["record"].get("references") or [] for row in rows]
    if texts and all(references):
        # sacrebleu wants as many reference streams as the longest list; repeating a reference changes neither score
        width = max(map(len, references))
        streams = [[refs[min(i, len(refs) - 1)] for refs in references] for i in range(width)]
        quality["bleu"] = sacrebleu.corpus_bleu(texts, streams).score
        quality["chrf"] = sacrebleu.corpus_chrf(texts, streams).score
    return quality


def worst_failures(rows_by_group: dict[str, list[dict]], count: int) -> list[dict]:
    """The raw model's worst outputs (most slot errors) across groups, with their inputs."""
    failures = [
        {"group": group, "id": row["id"], "errors": sum(row["raw_model"]["errors"].values()), "row": row}
        for group, rows in rows_by_group.items()
        for row in rows
        if not row["raw_model"]["faithful"]
    ]
    failures.sort(key=lambda f: (-f["errors"], f["group"], str(f["id"])))
    return failures[:count]


def run_evaluation(config: EvalConfig, describer: Describer | None = None) -> dict:
    """Describes every group with the guarded describer and judges raw model, guard and grammar.

    Returns:
        {"groups": {name: summary}, "text_quality": {writer: numbers on the test split},
         "rows": {name: per-record rows}, "config": the parameters}.
    """
    describer = describer or Describer.load(config.model_dir, "hf", guard=True, seed=config.seed, top_p=config.top_p)
    if not describer.guard:
        raise ValueError(
            "the evaluation needs a guarded describer (it reports raw and guarded numbers from the same beams)"
        )
    rows_by_group, truth = {}, None
    for name, records in evaluation_groups(config).items():
        described = describer.describe_detailed(records, config.batch_size)
        rows_by_group[name] = judge(records, described, describer.policy, config.seed, describer.style)
        if name == "test":
            truth = truth_evaluation(describer, records, described, config.batch_size)
    return {
        "groups": {name: summarise(rows) for name, rows in rows_by_group.items()},
        "text_quality": {writer: text_quality(rows_by_group["test"], writer) for writer in WRITERS},
        "truth": truth,
        "rows": rows_by_group,
        "config": asdict(config),
    }


def truth_evaluation(describer: Describer, records: list[dict], described: list, batch_size: int) -> dict | None:
    """The test photos' sentences against their ground truth (`helpers.describer.truth`); None when
    no test record carries ground truth (01's source had no labels)."""
    labelled = [i for i, record in enumerate(records) if truth_facts(record) is not None]
    if not labelled:
        return None
    on_truth = describer.describe_detailed([truth_record(records[i]) for i in labelled], batch_size)
    rows = truth_rows([records[i] for i in labelled], [described[i] for i in labelled], on_truth)
    unreadable = sum("ground_truth_error" in record for record in records)
    return {"summary": summarise_truth(rows, len(records), unreadable), "rows": rows}


VERDICT_MEASURES = {  # measure -> (its target key, "min" or "max")
    "guarded_faithful_min_stress": ("guarded_faithful_min_stress", "min"),
    "fallback_rate_test": ("fallback_rate_test_max", "max"),
    "guarded_writing_errors": ("guarded_writing_errors_max", "max"),
    "truth_describer_on_truth": ("truth_describer_on_truth_min", "min"),
    "truth_end_to_end": ("truth_end_to_end_min", "min"),
    "littered_called_clean": ("littered_called_clean_max", "max"),
}


def _met(result: dict, measure: str) -> bool:
    """Whether a verdict's measure meets its target (a measure that could not be measured does not)."""
    target_key, kind = VERDICT_MEASURES[measure]
    value, target = result[measure], result["targets"][target_key]
    return value is not None and (value >= target if kind == "min" else value <= target)


def verdict(groups: dict[str, dict], targets: dict = TARGETS, truth: dict | None = None) -> dict:
    """The evaluation's key numbers and whether they meet `targets` (`targets_met`); with `truth`
    (the truth summary), the end-to-end numbers and `TRUTH_TARGETS` count too."""
    stress = [name for name in groups if name != "test"]
    result = {
        "guarded_faithful_min_stress": min((groups[g]["guarded"]["faithful"] for g in stress), default=None),
        "guarded_faithful_test": groups["test"]["guarded"]["faithful"],
        "fallback_rate_test": groups["test"]["fallback_rate"],
        "raw_model_faithful_test": groups["test"]["raw_model"]["faithful"],
        "raw_model_faithful_min_stress": min((groups[g]["raw_model"]["faithful"] for g in stress), default=None),
        "guarded_writing_errors": sum(groups[g]["guarded"].get(check, 0) for g in groups for check in WRITING_CHECKS),
        "targets": dict(targets),
    }
    if truth and truth["with_ground_truth"]:
        result.update(
            {
                "truth_photos": truth["with_ground_truth"],
                "truth_end_to_end": truth["end_to_end"]["true"],
                "truth_describer_on_truth": truth["describer_on_truth"]["true"],
                "truth_detectors": truth["detectors"]["true"],
                "littered_called_clean": truth["end_to_end"]["littered_called_clean"],
            }
        )
        result["targets"].update(TRUTH_TARGETS)
    result["targets_met"] = all(_met(result, measure) for measure in VERDICT_MEASURES if measure in result)
    return result


def verdict_table(result: dict) -> list[dict]:
    """The verdict as rows of measure / value / target / met (then the raw model's numbers, no target)."""
    rows = []
    for measure, (target_key, kind) in VERDICT_MEASURES.items():
        if measure not in result:
            continue
        bound = f"{'>=' if kind == 'min' else '<='} {result['targets'][target_key]}"
        rows.append({"measure": measure, "value": result[measure], "target": bound, "met": _met(result, measure)})
    for measure in (
        "guarded_faithful_test",
        "raw_model_faithful_test",
        "raw_model_faithful_min_stress",
        "truth_detectors",
    ):
        if measure in result:
            rows.append({"measure": measure, "value": result[measure], "target": "", "met": None})
    return rows


def caption_variety(
    describer: Describer, records: list[dict], num_captions: int, batch_size: int = AUTO_BATCH_SIZE
) -> dict:
    """Several captions per photo (`Describer(num_captions=k)`) on `records`: how many distinct
    sentences each photo gets, how many of them are faithful (each read back independently with
    `check_caption`), and who wrote them."""
    from helpers.text.check import check_caption

    several = Describer(
        describer.backend, describer.settings, seed=describer.seed, style=describer.style, num_captions=num_captions
    )
    described = several.describe_detailed(records, batch_size)
    distinct = [len(set(d.captions)) for d in described]
    checks = [check_caption(r, c, describer.policy).faithful for r, d in zip(records, described) for c in d.captions]
    sources = Counter(source for d in described for source in d.caption_sources)
    return {
        "num_captions": num_captions,
        "photos": len(records),
        "distinct_per_photo": sum(distinct) / len(records) if records else float("nan"),
        "photos_with_all_distinct": sum(n == num_captions for n in distinct),
        "captions": len(checks),
        "faithful": sum(checks) / len(checks) if checks else float("nan"),
        "sources": {source: sources[source] / len(checks) for source in sorted(sources)},
        "examples": [{"id": r.get("id"), "captions": list(d.captions)} for r, d in zip(records[:3], described[:3])],
    }
