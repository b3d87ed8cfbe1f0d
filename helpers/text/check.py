"""Is a caption written anywhere (a VLM, a captioning model, a person) true to the detections?

    check_caption(record, "Two plastic bottles and a can on the beach.")
    -> CaptionCheck(faithful=False, findings=(Finding("wrong_scene", ...),), ...)

The caption is read by the fact extractor the guard uses (`helpers.text.facts.extract`, with the
record's labels and a user's lexicon as vocabulary) and compared with what a faithful description
of the record states (`helpers.text.grammar.facts`: the detections at or above the policy's
threshold, the scene when confident). Each difference is a finding, with the characters it is
about:

- `missed_category`: a category the record has, which the caption does not count;
- `wrong_count`: counted, but not as many as detected;
- `vague_count`: named with "several", "some", "a few" ... where the count is known;
- `invented_category`: a category the record does not have (or only below the threshold);
- `wrong_total`: "five items: ..." where the detections add up to another number;
- `says_no_litter`: "no litter", "clean", "nothing" about a photo with detections;
- `wrong_scene`: another scene than the classifier's; `unsure_scene`: the classifier's scene,
  where it was below the threshold; `invented_scene`: a scene where the record has none.

Leaving the scene out is no finding (a caption need not say where); places and sizes are not
checked. A caption is faithful when it has no finding.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass

from helpers.core.contract import Policy
from helpers.text.facts import extract
from helpers.text.grammar import UNKNOWN_SCENES, Facts, facts, validate_record
from helpers.text.lexicon import canonical_scene, fold_label

FINDINGS = (
    "missed_category",
    "wrong_count",
    "vague_count",
    "invented_category",
    "wrong_total",
    "says_no_litter",
    "wrong_scene",
    "unsure_scene",
    "invented_scene",
)


@dataclass(frozen=True)
class Finding:
    """One way a caption differs from the detections."""

    kind: str  # one of FINDINGS
    label: str | None  # the category (None for the scene and totals)
    expected: int | str | None  # what the record says
    said: int | str | None  # what the caption says
    span: tuple[int, int] | None  # characters of the caption it is about (None: something left out)


@dataclass(frozen=True)
class CaptionCheck:
    """The verdict on one caption."""

    faithful: bool
    findings: tuple[Finding, ...]
    expected: Facts
    said: Facts

    def to_dict(self) -> dict:
        return {
            "faithful": self.faithful,
            "findings": [asdict(finding) for finding in self.findings],
            "expected": {"counts": self.expected.counts, "scene": self.expected.scene},
            "said": {"counts": self.said.counts, "scene": self.said.scene},
        }


def _scene_findings(record: dict, expected: Facts, said: Facts, span) -> list[Finding]:
    if said.scene is None or said.scene == expected.scene:
        return []
    if expected.scene:
        return [Finding("wrong_scene", None, expected.scene, said.scene, span)]
    detected = canonical_scene((record.get("scene") or {}).get("class") or "")
    if fold_label(detected) in UNKNOWN_SCENES:
        return [Finding("invented_scene", None, None, said.scene, span)]
    kind = "unsure_scene" if detected == said.scene else "wrong_scene"
    return [Finding(kind, None, detected, said.scene, span)]


def check_caption(
    record: dict, text: str, policy: Policy = Policy(), lexicon: Mapping[str, str] | None = None
) -> CaptionCheck:
    """Checks `text` against the CV record `record` (see the module docstring).

    Args:
        record: A CV output record (`detections`, `scene`).
        text: The caption.
        policy: The thresholds that decide what a faithful description states.
        lexicon: A user's words for labels ("bottle" -> "plastic"), beside the built-in ones.

    Raises:
        RecordError: The record is invalid (naming the field).
    """
    validate_record(record, "record", policy)
    expected = facts(record, policy)
    reading = extract(text, [d["label"] for d in record["detections"]], lexicon)
    said = reading.facts()
    findings: list[Finding] = []
    spans: dict[str, tuple[int, int]] = {}
    for item in reading.items:
        spans.setdefault(item.label, item.span)
    vague = {item.label: item for item in reading.vague}
    for label, count in expected.counts.items():
        if label in said.counts:
            if said.counts[label] != count:
                findings.append(Finding("wrong_count", label, count, said.counts[label], spans.get(label)))
        elif label in vague:
            findings.append(Finding("vague_count", label, count, vague[label].count_text, vague[label].span))
        else:
            findings.append(Finding("missed_category", label, count, None, None))
    for label in dict.fromkeys([*said.counts, *vague]):
        if label not in expected.counts:
            span = spans.get(label) or vague[label].span
            findings.append(Finding("invented_category", label, None, said.counts.get(label), span))
    total = sum(expected.counts.values())
    for item in reading.totals:
        if item.count != total:
            findings.append(Finding("wrong_total", None, total, item.count, item.span))
    if reading.says_no_litter and expected.counts:
        findings.append(Finding("says_no_litter", None, total, 0, None))
    findings += _scene_findings(record, expected, said, reading.scene_span)
    return CaptionCheck(not findings, tuple(findings), expected, said)
