"""How true the sentences are about the photos, wherever ground truth exists.

When 01's image source has labels (a YOLO `data.yaml`), every record carries its photo's
`ground_truth` (boxes and scene). For each such photo three things are compared with it:

- `end_to_end`: the guarded sentence written from the detectors' output (what a user gets);
- `describer_on_truth`: the same describer given the ground truth itself (the describer's own share
  of the error: anything below 100% here is the describer's fault, the rest the detectors');
- `detectors`: the detectors' output after the model's confidence thresholds (what the describer
  was asked to say).

Per photo: all counts exact, categories missed and invented, count error (sum over categories of
|said - true|), littered photos called clean, clean photos called littered, and the scene (right,
wrong, not stated, or unknown when the photo has no scene label). A photo is described *truly*
when every count is exact and the scene, if stated, is right (the describer leaves out a scene the
classifier is unsure of; leaving it out is not a false statement).
"""

from __future__ import annotations

from collections import Counter

from helpers.core.matching import box_overlap, greedy_pairs
from helpers.text.grammar import Facts, canonical_label

COLUMNS = ("end_to_end", "describer_on_truth", "detectors")


def truth_facts(record: dict) -> Facts | None:
    """The photo's true facts from its `ground_truth`, or None when it has none (or it was unreadable)."""
    truth = record.get("ground_truth")
    if not isinstance(truth, dict) or not isinstance(truth.get("detections"), list):
        return None
    counts = Counter(canonical_label(d["label"]) for d in truth["detections"])
    scene = (truth.get("scene") or {}).get("class")
    return Facts(dict(counts), scene if scene and scene != "unknown" else None)


def truth_record(record: dict) -> dict:
    """The ground truth as a CV record the describer can take (every box certain)."""
    truth = record["ground_truth"]
    scene = truth.get("scene") or {}
    return {
        "id": record.get("id"),
        "detections": [{"label": d["label"], "confidence": 1.0, "bbox": d.get("bbox")} for d in truth["detections"]],
        "scene": {"class": scene.get("class", "unknown"), "confidence": 1.0 if scene.get("class") else 0.0},
    }


def compare(said: Facts, truth: Facts) -> dict:
    """One photo: what a text (or the detectors) said against what is there."""
    categories = set(said.counts) | set(truth.counts)
    said_total, true_total = sum(said.counts.values()), sum(truth.counts.values())
    if truth.scene is None:
        scene = "unknown"
    else:
        scene = "not stated" if said.scene is None else "right" if said.scene == truth.scene else "wrong"
    exact = said.counts == truth.counts
    return {
        "counts_exact": exact,
        "missed": sorted(set(truth.counts) - set(said.counts)),
        "invented": sorted(set(said.counts) - set(truth.counts)),
        "count_error": sum(abs(said.counts.get(c, 0) - truth.counts.get(c, 0)) for c in categories),
        "littered_called_clean": true_total > 0 and said_total == 0,
        "clean_called_littered": true_total == 0 and said_total > 0,
        "scene": scene,
        "true": exact and scene != "wrong",
    }


# what reading a record's ground truth raises where it is not what 01 writes (a box without a label, a label no text)
LABELS_UNREADABLE = (TypeError, KeyError, AttributeError, ValueError)
MATCH_IOU = 0.5  # a detection found a labelled box at this overlap or more (the VOC and COCO rule)


def boxed(record: dict) -> list[dict]:
    """A record's (or its ground truth's) detections with a box of four numbers, in order: the boxes a page draws."""
    return [d for d in record.get("detections") or [] if isinstance(d.get("bbox"), list) and len(d["bbox"]) == 4]


def unmatched_boxes(record: dict, min_confidence: float) -> tuple[list[int], list[int]]:
    """A labelled record's detections a description states (at `min_confidence`) matched one to one to its labelled
    boxes of their category (as the descriptions name it) at an IoU of `MATCH_IOU` or more, the best overlaps first:
    (the labelled boxes no detection found, the stated detections on no labelled box), each by its place among the
    boxes (`boxed`) of the ground truth and of the record. A count can be right with a box wrong.

    Raises:
        LABELS_UNREADABLE's errors: The ground truth (or a stated box) cannot be read.
    """
    labelled, detections = boxed(record["ground_truth"]), boxed(record)
    stated = [index for index, d in enumerate(detections) if float(d["confidence"]) >= min_confidence]
    pairs = [
        (-overlap, index, place)
        for index in stated
        for place, truth in enumerate(labelled)
        if canonical_label(str(detections[index]["label"])) == canonical_label(str(truth["label"]))
        and (overlap := box_overlap([float(v) for v in detections[index]["bbox"]], [float(v) for v in truth["bbox"]]))
        >= MATCH_IOU
    ]
    matched = greedy_pairs(pairs)
    found = set(matched.values())
    return [place for place in range(len(labelled)) if place not in found], [i for i in stated if i not in matched]


def truth_line(said, record: dict, min_confidence: float | None = None) -> str | None:
    """A labelled photo's labels and how true `said` (a sentence's reading: counts, scene) is to them, in words, for
    people reviewing it (Label Studio's tasks): "labels: 3 × plastic, 1 × tire; scene grass. Untrue: missed tire.";
    with `min_confidence` (the describer's threshold), box by box too (`unmatched_boxes`): "Boxes: 3 of 4 labelled
    found, 1 detection on no label." None without ground truth."""
    truth = truth_facts(record)
    if truth is None:
        return None
    compared = compare(said, truth)
    there = ", ".join(f"{count} × {label}" for label, count in truth.counts.items()) or "no litter"
    scene = f"; scene {truth.scene}" if truth.scene else ""
    wrong = [f"missed {', '.join(compared['missed'])}"] if compared["missed"] else []
    wrong += [f"invented {', '.join(compared['invented'])}"] if compared["invented"] else []
    wrong += [f"counts off by {compared['count_error']}"] if compared["count_error"] and not wrong else []
    wrong += ["scene wrong"] if compared["scene"] == "wrong" else []
    line = f"labels: {there}{scene}. " + ("True to them." if compared["true"] else f"Untrue: {'; '.join(wrong)}.")
    if min_confidence is None or not (labelled := boxed(record["ground_truth"])):
        return line
    missed, false = unmatched_boxes(record, min_confidence)
    on_none = f", {len(false)} detection{'s' if len(false) != 1 else ''} on no label" if false else ""
    return f"{line} Boxes: {len(labelled) - len(missed)} of {len(labelled)} labelled found{on_none}."


def truth_rows(records: list[dict], described: list, on_truth: list) -> list[dict]:
    """Per photo with ground truth: the three comparisons and the two sentences.

    Args:
        records: The evaluated records (those without ground truth are skipped).
        described: The guarded describer's `Description` of each record.
        on_truth: Its `Description` of each record's `truth_record` (None where there is no truth).
    """
    rows = []
    for record, result, truth_result in zip(records, described, on_truth, strict=True):
        truth = truth_facts(record)
        if truth is None:
            continue
        rows.append(
            {
                "id": record.get("id"),
                "truth": {"counts": truth.counts, "scene": truth.scene},
                "sentence": result.text,
                "truth_sentence": truth_result.text,
                "end_to_end": compare(result.said, truth),
                "describer_on_truth": compare(truth_result.said, truth),
                "detectors": compare(result.expected, truth),
            }
        )
    return rows


def summarise_truth(rows: list[dict], photos: int, unreadable: int = 0) -> dict:
    """Each column's shares and counts over the photos with ground truth; coverage of all photos."""
    summary: dict = {"photos": photos, "with_ground_truth": len(rows), "ground_truth_unreadable": unreadable}
    littered = sum(sum(row["truth"]["counts"].values()) > 0 for row in rows)
    for column in COLUMNS:
        cells = [row[column] for row in rows]
        n = max(1, len(cells))
        scenes = Counter(cell["scene"] for cell in cells)
        summary[column] = {
            "true": sum(c["true"] for c in cells) / n,
            "counts_exact": sum(c["counts_exact"] for c in cells) / n,
            "missed_categories": sum(len(c["missed"]) for c in cells),
            "invented_categories": sum(len(c["invented"]) for c in cells),
            "mean_count_error": sum(c["count_error"] for c in cells) / n,
            "littered_called_clean": sum(c["littered_called_clean"] for c in cells),
            "clean_called_littered": sum(c["clean_called_littered"] for c in cells),
            "littered_photos": littered,
            **{f"scene_{kind.replace(' ', '_')}": scenes[kind] for kind in ("right", "wrong", "not stated", "unknown")},
        }
    return summary


def worst_photos(rows: list[dict], count: int) -> list[dict]:
    """The photos whose end-to-end sentence is furthest from the truth."""

    def badness(row: dict) -> tuple:
        cell = row["end_to_end"]
        return -cell["count_error"], -cell["littered_called_clean"], str(row["id"])

    return sorted((row for row in rows if not row["end_to_end"]["true"]), key=badness)[:count]
