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

A grounded caption (a grounding model's, `helpers.core.chat_entries.model_grounding`: each phrase with its boxes) is
read as its sentence, and each phrase's boxes are checked against the detections it speaks for (those of its
category at or above the threshold; any stated one where the phrase counts no category):

- `misplaced_box`: a box that overlaps none of them by `BOX_IOU` (each matched once in the caption, best overlaps
  first), with the box of the one it overlaps most, or none where it overlaps none;
- `box_count`: a phrase given more or fewer boxes (or points) than it counts;
- `misplaced_point`: a point (a pointing model's: Molmo's, Qwen's `point_2d`, Gemini's) inside none of them (as
  many points matched, each inside a box of its own, as can be), with the box of the nearest.

Its verdict lists each box it gave with the category of its phrase and the detection it lies on, none where it is
misplaced (`CaptionCheck.given`): each stated item boxed once, at `BOX_IOU` or more, best overlaps first (the
summary's box precision and recall, `helpers.describer.check.CategoryTally`).

An answer that lists boxes, each after its label or phrase (Florence-2's, PaliGemma's, Qwen's or Gemini's JSON:
`helpers.core.answer_boxes`), is checked as such a caption whose sentence lists them (`check_listed`).

Leaving the scene out is no finding (a caption need not say where); places and sizes are not
checked. A caption is faithful when it has no finding.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, replace

from helpers.core.answer_boxes import ListedBoxes
from helpers.core.chat_entries import GroundedPhrase
from helpers.core.contract import Policy
from helpers.core.matching import box_overlap, greedy_pairs
from helpers.text.facts import Extraction, Item, extract, read_enumeration
from helpers.text.grammar import ENUMERATION_OPENING, UNKNOWN_SCENES, Facts, facts, validate_record
from helpers.text.lexicon import canonical_label, canonical_scene, fold_label

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
    "misplaced_box",
    "box_count",
    "misplaced_point",
)
BOX_IOU = 0.5  # a grounded box is where a detection is when it overlaps it so much (COCO's match, mAP@50's)


@dataclass(frozen=True)
class Finding:
    """One way a caption differs from the detections."""

    kind: str  # one of FINDINGS
    label: str | None  # the category (None for the scene and totals)
    expected: int | str | list | None  # what the record says (a box: [x1, y1, x2, y2] in 0..1)
    said: int | str | list | None  # what the caption says
    span: tuple[int, int] | None  # characters of the caption it is about (None: something left out)


@dataclass(frozen=True)
class GivenBox:
    """A box (or point) a grounded caption gave, and the detection the check placed it on."""

    label: str | None  # the category its phrase counts (None: its phrase counts several, or none)
    box: tuple[float, ...]  # [x1, y1, x2, y2] in 0..1 of the photo (a point: [x, y])
    item: int | None  # the detection it lies on (its place in the record's `detections`); None: misplaced


@dataclass(frozen=True)
class CaptionCheck:
    """The verdict on one caption (a grounded caption's: with the boxes it gave, `given`)."""

    faithful: bool
    findings: tuple[Finding, ...]
    expected: Facts
    said: Facts
    given: tuple[GivenBox, ...] = ()

    def to_dict(self) -> dict:
        given = {"given": [asdict(box) | {"box": list(box.box)} for box in self.given]} if self.given else {}
        return {
            "faithful": self.faithful,
            "findings": [asdict(finding) for finding in self.findings],
            "expected": {"counts": self.expected.counts, "scene": self.expected.scene},
            "said": {"counts": self.said.counts, "scene": self.said.scene},
        } | given


def finding_line(finding: Mapping, caption: str) -> str:
    """A finding as a verdict line holds it (`Finding` as a dict) in words, as the gallery lists it: its kind, its
    category, the record's value and the caption's (a box's corners to three decimals), and the characters of
    `caption` it is about, quoted."""

    def shown(value) -> str:
        if value is None:
            return "none"
        return "[" + ", ".join(f"{float(v):.3f}" for v in value) + "]" if isinstance(value, list) else str(value)

    label = f" ({finding['label']})" if finding.get("label") is not None else ""
    span = finding.get("span")
    quoted = f" \u2014 \u201c{caption[span[0] : span[1]]}\u201d" if span else ""
    kind = str(finding.get("kind")).replace("_", " ")
    values = f"the record's {shown(finding.get('expected'))}, the caption's {shown(finding.get('said'))}"
    return f"{kind}{label}: {values}{quoted}"


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


def _box_findings(
    record: dict, policy: Policy, items, grounding: tuple[GroundedPhrase, ...]
) -> tuple[list[Finding], list[GivenBox]]:
    """The grounded phrases' boxes (and points) against the detections they speak for (see the module docstring):
    the findings, and each box given with the detection it was placed on."""
    stated: dict[str, list[int]] = {}
    for index, detection in enumerate(record["detections"]):
        if detection["confidence"] >= policy.min_confidence and detection.get("bbox") is not None:
            stated.setdefault(canonical_label(detection["label"]), []).append(index)
    findings, given, boxed = [], [], set()  # boxed: the detections an earlier phrase's boxes were matched to (once)
    for phrase in grounding:
        named = [item for item in items if item.span[0] < phrase.span[1] and phrase.span[0] < item.span[1]]
        labels = list(dict.fromkeys(item.label for item in named))
        label = labels[0] if len(labels) == 1 else None
        candidates = [i for name in labels for i in stated.get(name, [])] if labels else sum(stated.values(), [])
        candidates = [index for index in candidates if index not in boxed]
        overlaps = {
            (number, index): box_overlap(box, record["detections"][index]["bbox"])
            for number, box in enumerate(phrase.boxes)
            if len(box) != 2
            for index in candidates
        }
        matched = greedy_pairs((-overlap, *pair) for pair, overlap in overlaps.items() if overlap >= BOX_IOU)
        boxed.update(matched.values())
        points = {number: point for number, point in enumerate(phrase.boxes) if len(point) == 2}
        free = [index for index in candidates if index not in boxed]
        matched |= _points_inside(points, {index: record["detections"][index]["bbox"] for index in free})
        boxed.update(matched.values())
        for number, box in enumerate(phrase.boxes):
            given.append(GivenBox(label, tuple(box), matched.get(number)))
            if number in matched:
                continue
            if len(box) == 2:  # a point in no item of its phrase (the nearest one's box, if any)
                distances = {index: _distance(box, record["detections"][index]["bbox"]) for index in candidates}
                nearest = min(distances, key=distances.get, default=None)
                record_box = list(record["detections"][nearest]["bbox"]) if nearest is not None else None
                findings.append(Finding("misplaced_point", label, record_box, list(box), phrase.span))
                continue
            nearest = max(candidates, key=lambda index: overlaps[number, index], default=None)
            near = nearest is not None and overlaps[number, nearest] > 0
            record_box = list(record["detections"][nearest]["bbox"]) if near else None
            findings.append(Finding("misplaced_box", label, record_box, list(box), phrase.span))
        count = sum(item.count for item in named)
        if named and len(phrase.boxes) != count:
            findings.append(Finding("box_count", label, count, len(phrase.boxes), phrase.span))
    return findings, given


def _distance(point: tuple[float, ...], box) -> float:
    """From a point to a box's middle."""
    return ((point[0] - (box[0] + box[2]) / 2) ** 2 + (point[1] - (box[1] + box[3]) / 2) ** 2) ** 0.5


def _points_inside(points: dict[int, tuple[float, ...]], boxes: dict[int, list]) -> dict[int, int]:
    """{point: detection}: as many points each inside a box of its own as can be (items of one category overlap:
    a point in two boxes leaves the other to a point only it holds; `linear_sum_assignment`), each nearest its box's
    middle among such matchings."""
    inside = [(number, index) for number, point in points.items() for index, box in boxes.items() if _holds(box, point)]
    if not inside:
        return {}
    from scipy.optimize import linear_sum_assignment

    rows, columns = sorted({n for n, _ in inside}), sorted({i for _, i in inside})
    apart = 2.0 * len(rows) + 1  # more than any matching's distances add up to: a pair outside is never chosen
    cost = [[apart] * len(columns) for _ in rows]
    for number, index in inside:
        cost[rows.index(number)][columns.index(index)] = _distance(points[number], boxes[index])
    chosen = linear_sum_assignment(cost)
    return {rows[r]: columns[c] for r, c in zip(*chosen, strict=True) if cost[r][c] < apart}


def _holds(box, point: tuple[float, ...]) -> bool:
    return box[0] <= point[0] <= box[2] and box[1] <= point[1] <= box[3]


def check_caption(
    record: dict,
    text: str,
    policy: Policy = Policy(),
    lexicon: Mapping[str, str] | None = None,
    grounding: tuple[GroundedPhrase, ...] = (),
) -> CaptionCheck:
    """Checks `text` against the CV record `record` (see the module docstring).

    Args:
        record: A CV output record (`detections`, `scene`).
        text: The caption (a grounded caption's sentence, `model_grounding`).
        policy: The thresholds that decide what a faithful description states.
        lexicon: A user's words for labels ("bottle" -> "plastic"), beside the built-in ones.
        grounding: A grounded caption's phrases with their boxes, their spans in `text`.

    Raises:
        RecordError: The record is invalid (naming the field).
    """
    validate_record(record, "record", policy)
    reading = extract(text, [d["label"] for d in record["detections"]], lexicon)
    return _verdict(record, policy, reading, grounding)


def _verdict(record: dict, policy: Policy, reading: Extraction, grounding: tuple[GroundedPhrase, ...]) -> CaptionCheck:
    """What `reading` (a caption's, or a listed answer's) states against what a faithful description of the valid
    `record` does, and its grounded phrases' boxes against the detections."""
    expected = facts(record, policy)
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
    box_findings, given = _box_findings(record, policy, reading.items, grounding)
    findings += box_findings
    return CaptionCheck(not findings, tuple(findings), expected, said, tuple(given))


UNLABELLED = "(no label)"  # boxes listed before any label (Florence-2's <REGION_PROPOSAL>): counting no category
LISTED_SEPARATOR = "; "  # between a listed answer's pieces in the sentence checked, which no reading crosses


def _listed_label(text: str, vocabulary: list[str], lexicon: Mapping[str, str] | None) -> str:
    """The category a listed answer's bare label names, as a caption naming it would be read (a plural, a phrase of
    the built-in lists, a word of the user's lexicon: "cans" is metal; case kept, as in a caption: "drink can" is
    not the record's "Drink can"), else the label itself (`canonical_label`)."""
    piece = f"1 {text}"
    reading = extract(piece, vocabulary, lexicon)
    if len(reading.items) == 1 and reading.items[0].count == 1 and reading.items[0].span == (0, len(piece)):
        return reading.items[0].label
    return canonical_label(text)


def check_listed(
    record: dict,
    listed: tuple[ListedBoxes, ...],
    policy: Policy = Policy(),
    lexicon: Mapping[str, str] | None = None,
) -> tuple[str, CaptionCheck]:
    """Checks a listed answer (labels or phrases, each with its boxes: `helpers.core.answer_boxes`) against the CV
    record `record`, as a grounded caption is (`check_caption`): a phrase that counts ("two cans", a Florence-2
    phrase grounding's) states its own count, each box of a bare label ("can", a detection answer's: Florence-2's
    `<OD>`, PaliGemma's, Qwen's or Gemini's JSON, whose entries are labels alone; or a label of the record as
    given, "ten diband" too) counts one of its category (`_listed_label`), a label's boxes together. Each piece is
    read apart, never the sentence whole. Returns the sentence checked (the findings' characters are of it) and the
    verdict: an answer of bare labels as the describer's enumeration, which any reader of sentences reads back as
    the labels written (`Detected by label: 2 × plastic; 1 × can.`; no box at all: `Detected by label: nothing.`,
    which says no litter), else the pieces as written (a bare label's as `2 × can`) split by `LISTED_SEPARATOR`.

    Raises:
        RecordError: The record is invalid (naming the field).
    """
    validate_record(record, "record", policy)
    vocabulary = [detection["label"] for detection in record["detections"]]
    counted: list[tuple[str, tuple, Extraction | None]] = []  # (piece, its boxes, its reading: None, a label's)
    labels: dict[str, list[tuple]] = {}  # a bare label's boxes, under its first place in the answer
    # a label of the record (as given, but for spaces around it) is that label, whatever else it reads as
    given = {label.strip(): canonical_label(label) for label in vocabulary}
    for entry in listed:
        phrase = entry.may_count and entry.text and entry.text not in given
        reading = extract(entry.text, vocabulary, lexicon) if phrase else None
        if reading is not None and (reading.items or reading.vague):
            counted.append((entry.text, entry.boxes, reading))
        elif entry.text not in labels:
            labels[entry.text] = list(entry.boxes)
            counted.append((entry.text, (), None))
        else:
            labels[entry.text] += entry.boxes
    pieces = [text if reading else f"{len(labels[text])} × {text or UNLABELLED}" for text, _, reading in counted]
    parts = {text: len(labels[text]) for text, _, reading in counted if reading is None}
    enumerated = ENUMERATION_OPENING + (LISTED_SEPARATOR.join(pieces) or "nothing") + "."
    said = read_enumeration(enumerated) if len(parts) == len(counted) else None
    as_enumeration = said is not None and said.counts == parts
    sentence = ENUMERATION_OPENING if as_enumeration else ""
    items, vague, grounding = [], [], []
    for (text, boxes, reading), piece in zip(counted, pieces, strict=True):
        sentence += LISTED_SEPARATOR if sentence not in ("", ENUMERATION_OPENING) else ""
        start = len(sentence)
        sentence += piece
        if reading is None:
            boxes = tuple(labels[text])
            if text:
                label = given.get(text) or _listed_label(text, vocabulary, lexicon)
                items.append(Item(len(boxes), str(len(boxes)), text, label, None, False, 0, (start, len(sentence))))
        else:
            items += [replace(item, span=_shifted(item.span, start)) for item in reading.items]
            vague += [replace(item, span=_shifted(item.span, start)) for item in reading.vague]
        grounding.append(GroundedPhrase((start, len(sentence)), boxes))
    if as_enumeration:
        sentence = enumerated
    counts: dict[str, int] = {}
    for item in items:
        counts[item.label] = counts.get(item.label, 0) + item.count
    reading = Extraction(counts, None, tuple(items), as_enumeration and not counted, vague=tuple(vague))
    return sentence, _verdict(record, policy, reading, tuple(grounding))


def _shifted(span: tuple[int, int], by: int) -> tuple[int, int]:
    return span[0] + by, span[1] + by
