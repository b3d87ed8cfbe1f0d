"""Florence-2's fine-tuning entries (`desclm export --format florence2`): per photo, as a JSON line of the
JSONL that Roboflow's maestro trains Florence-2 on (`image`, `prefix`, `suffix`: the keys its `JSONLDataset`
asks; maestro itself is not run here), each task's prompt and the answer Florence-2 is to write:

- **caption**: `<CAPTION>` -> the description (an entry per caption);
- **detection**: `<OD>` -> each box the description states (`--min_confidence`), its label as given and
  its corners in Florence-2's location tokens, `plastic<loc_x1><loc_y1><loc_x2><loc_y2>`; a photo without
  litter an empty answer (as a YOLO dataset's background photo);
- **grounding**: `<CAPTION_TO_PHRASE_GROUNDING>` and the caption -> each phrase of it that counts items
  (`provenance`: the items it speaks for), as written, followed by its items' boxes.

A location token is a thousandth of the photo's width or height, as Florence-2's processor quantizes a box
(`floor(x * 1000)`, at most 999; it reads a token back as the middle of its thousandth), so the boxes, given
from 0 to 1, need no photo size. transformers' `Florence2Processor.post_process_generation` reads the answers
back (`tests/test_exports.py`). Its reader keeps ASCII characters only, ends a phrase at a line break and
strips its spaces, and a `<` would open a tag: a label or phrase it cannot give back as written makes the row
a problem, not an entry with another label.
"""

from __future__ import annotations

import math

from helpers.core.answer_boxes import LOCATION_BINS
from helpers.core.contract import Policy
from helpers.describer.options import FLORENCE_TASKS
from helpers.describer.provenance import provenance

TASK_PROMPTS = {"caption": "<CAPTION>", "detection": "<OD>", "grounding": "<CAPTION_TO_PHRASE_GROUNDING>"}


def locations(box: list[float]) -> str:
    """A box's corners (x1, y1, x2, y2 from 0 to 1) as Florence-2's location tokens."""
    return "".join(f"<loc_{min(LOCATION_BINS - 1, max(0, math.floor(value * LOCATION_BINS)))}>" for value in box)


def _readable(text: str) -> bool:
    """Whether Florence-2's reader gives `text` back as written: printable ASCII (a line break ends its phrase),
    no `<`, no spaces around it."""
    return bool(text) and text.isascii() and text.isprintable() and "<" not in text and text == text.strip()


def _stated(record: dict | None, policy: Policy) -> list[dict]:
    return [d for d in (record or {}).get("detections") or [] if d["confidence"] >= policy.min_confidence]


def _grounded(caption: str, detections: list[dict], policy: Policy) -> list[tuple[str, list[list[float]]]]:
    """Each phrase of `caption` that counts items, as written, and its items' boxes."""
    return [
        (caption[phrase.start : phrase.end], [detections[number]["bbox"] for number in phrase.detections])
        for phrase in provenance(caption, {"detections": detections}, policy)
        if phrase.count is not None and phrase.detections
    ]


def florence_problem(row, tasks: tuple[str, ...], policy: Policy) -> str | None:
    """Why a row's detection or grounding answer would not read back as written (`_readable`), else None."""
    detections = (row.record or {}).get("detections") or []
    if "detection" in tasks:
        for detection in _stated(row.record, policy):
            if not _readable(detection["label"]):
                return (
                    f"label {detection['label']!r}: Florence-2's reader keeps printable ASCII characters only, without "
                    "'<' or spaces around them, so its detection answer would give another label"
                )
    if "grounding" in tasks:
        for caption in row.captions:
            for phrase, _ in _grounded(caption, detections, policy):
                if not _readable(phrase):
                    return (
                        f"phrase {phrase!r}: Florence-2's reader keeps printable ASCII characters only, without "
                        "'<', so its grounding answer would give another phrase"
                    )
    return None


def florence2_entries(row, tasks: tuple[str, ...] = FLORENCE_TASKS, policy: Policy = Policy()) -> list[dict]:
    """A row's entries (see the module docstring), in `tasks`' order; rows are checked first
    (`florence_problem`, and their boxes)."""
    detections = (row.record or {}).get("detections") or []
    entries = []
    for task in tasks:
        if task == "caption":
            entries += [{"prefix": TASK_PROMPTS[task], "suffix": caption} for caption in row.captions]
        elif task == "detection":
            stated = _stated(row.record, policy)
            entries.append(
                {"prefix": TASK_PROMPTS[task], "suffix": "".join(d["label"] + locations(d["bbox"]) for d in stated)}
            )
        else:
            for caption in row.captions:
                phrases = _grounded(caption, detections, policy)
                answer = "".join(phrase + "".join(map(locations, boxes)) for phrase, boxes in phrases)
                entries.append({"prefix": TASK_PROMPTS[task] + caption, "suffix": answer})
    return [{"image": row.photo_name, **entry} for entry in entries]
