"""Boxes a vision-language model lists as its answer, each after its label or phrase, with no sentence around them:

- **Florence-2's** (what its `<OD>` and `<CAPTION_TO_PHRASE_GROUNDING>` tasks generate, and `desclm export --format
  florence2` trains): `plastic<loc_x1><loc_y1><loc_x2><loc_y2>can<loc_...>...`, a label or phrase, then each of
  its boxes as four location tokens, bins of a thousandth of the photo read as the bin's middle (as transformers'
  `Florence2PostProcessor` dequantizes them); `<s>`, `</s>` and `<pad>` left out, a phrase with no box passed
  over, as that reader does; a last box of fewer than four tokens is given as read (overlapping nothing);
- **Qwen's JSON** (the grounding cookbook's, Qwen2.5-VL's and Qwen3-VL's answers:
  `[{"bbox_2d": [x1, y1, x2, y2], "label": "plastic bottle"}, ...]`, a single object alike, fenced as
  `` ```json `` or not): a label a box, the corners in `AnswerUnits`' units: thousandths of the photo (Qwen3-VL),
  pixels of the photo, or pixels of the photo as Qwen2.5-VL's processor resized it (`qwen_resized`);
- **Gemini's JSON** (`[{"box_2d": [y1, x1, y2, x2], "label": ...}]`, or `{"boxes": [...]}`): a label a box, y
  first, thousandths of the photo;
- **PaliGemma's** detection answer (`<loc0256><loc0128><loc0512><loc0384> plastic ; <loc...> can`): a box four
  location tokens, y first, in 1,024ths of the photo, then its label;
- **Points** of a pointing model: Molmo's tags (`<points x1="20" y1="30" x2=".." y2=".." alt="plastic">two
  bottles</points>`, `<point x=".." y="..">`, hundredths of the photo), Qwen's `point_2d` [x, y] (its boxes' units)
  and Gemini's `point` [y, x] (thousandths): each a point (x, y) in place of a box;
- **Florence-2's post-processed** answer, as transformers' `post_process_generation` gives it and people keep it
  (`{"<OD>": {"bboxes": [[x1, y1, x2, y2], ...], "labels": [...]}}`, or the task's part alone): pixels of the photo
  (the `image_size` it was told), a phrase grounding's phrase repeated for each of its boxes read as one phrase.

`listed_boxes` reads each (None for any other answer: a sentence, or a grounding model's tags, which
`helpers.core.chat_entries.model_grounding` reads); `desclm check` counts and places them
(`helpers.text.check.check_listed`).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass

from helpers.core.chat_entries import MODEL_SCALE

LOCATION_BINS = 1000  # Florence-2's <loc_0> .. <loc_999>, along each side
FLORENCE_LOCATION = re.compile(r"<loc_(\d+)>")
FLORENCE_RUN = re.compile(r"(?:<loc_\d+>)+")  # a phrase's boxes, one after another
FLORENCE_SPECIAL = ("<s>", "</s>", "<pad>")  # left in a decoded answer (special tokens kept, for the locations)
PALIGEMMA_LOCATION = re.compile(r"<loc(\d{4})>")
PALIGEMMA_BOX = re.compile(r"((?:<loc\d{4}>){4})([^<;]*)")  # y1, x1, y2, x2 in 1,024ths, then its label
PALIGEMMA_BINS = 1024
JSON_FENCE = re.compile(r"```(?:json)?\s*(.*?)```", re.DOTALL)
JSON_BOX = "bbox_2d"  # Qwen's: [x1, y1, x2, y2] in `AnswerUnits`
JSON_POINT = "point_2d"  # Qwen's point: [x, y], the same units
GEMINI_BOX = "box_2d"  # Gemini's: [y1, x1, y2, x2] in thousandths
GEMINI_POINT = "point"  # Gemini's point: [y, x] in thousandths
JSON_FORMS = {JSON_BOX: "qwen", JSON_POINT: "qwen", GEMINI_BOX: "gemini", GEMINI_POINT: "gemini"}
# Molmo's points: `<point x="61.5" y="40.6" alt="can">can</point>`, `<points x1=".." y1=".." x2=".." y2=".."
# alt="cans">cans</points>`, in hundredths (percent) of the photo
MOLMO_POINTS = re.compile(r"<(points?)\b([^>]*)>(.*?)</\1>", re.DOTALL)
MOLMO_ATTRIBUTE = re.compile(r'(\w+)="([^"]*)"')
BOX_UNITS = ("thousandths", "pixels", "qwen2.5-vl")
# Qwen2.5-VL's processor: photos resized to sides of whole multiples of its patches (14 pixels, merged 2 x 2), the
# published checkpoints' pixel range (preprocessor_config.json: 4 to 16,384 patches of 28 x 28)
QWEN_FACTOR = 28
QWEN_MIN_PIXELS = 56 * 56
QWEN_MAX_PIXELS = 28 * 28 * 16384


class AnswerError(ValueError):
    """A listed answer that cannot be read: naming its entry and field."""


@dataclass(frozen=True)
class AnswerUnits:
    """What the corners of Qwen's JSON boxes count (`BOX_UNITS`): thousandths of the photo, its pixels, or the
    pixels of the photo as Qwen2.5-VL's processor resized it within `min_pixels` .. `max_pixels` (`qwen_resized`).
    `max_side`: the photo the model saw was shrunk to this longer side (`desclm export --max_side`: `shrunk_size`),
    its pixels those of the shrunk photo; 0: the photo as its record's size says."""

    units: str = "thousandths"
    min_pixels: int = QWEN_MIN_PIXELS
    max_pixels: int = QWEN_MAX_PIXELS
    max_side: int = 0

    def __post_init__(self) -> None:
        if self.units not in BOX_UNITS:
            raise ValueError(f"box_units must be one of {', '.join(BOX_UNITS)}, got {self.units!r}")
        if not 0 < self.min_pixels <= self.max_pixels:
            raise ValueError(f"need 0 < min_pixels <= max_pixels, got {self.min_pixels} and {self.max_pixels}")
        if isinstance(self.max_side, bool) or not isinstance(self.max_side, int) or self.max_side < 0:
            raise ValueError(f"max_side must be a whole number of pixels >= 0 (0: as stored), got {self.max_side!r}")

    def seen(self, size: tuple[int, int] | None) -> tuple[int, int] | None:
        """The (width, height) of the photo the model saw, of a photo of `size` (None: not known)."""
        return shrunk_size(size, self.max_side) if size is not None and self.max_side else size

    def scale(self, size: tuple[int, int] | None) -> tuple[float, float]:
        """What a corner's x and y are divided by, for a photo of `size` (width, height).

        Raises:
            AnswerError: Pixels asked, and the size is not known.
        """
        if self.units == "thousandths":
            return float(MODEL_SCALE), float(MODEL_SCALE)
        size = self.seen(size)
        if size is None:
            units = "pixels" if self.units == "pixels" else "pixels of the photo as Qwen2.5-VL resized it"
            raise AnswerError(f"boxes in {units} need the photo's size: its CV record has no width and height")
        if self.units == "pixels":
            return float(size[0]), float(size[1])
        height, width = qwen_resized(size[1], size[0], self.min_pixels, self.max_pixels)
        return float(width), float(height)


def shrunk_size(size: tuple[int, int], max_side: int) -> tuple[int, int]:
    """(width, height) of a photo of `size` shrunk to at most `max_side` on its longer side, keeping its shape, as
    Pillow's `thumbnail` computes it (`helpers.core.photo_rewrite`, img2dataset's keep_ratio); a smaller photo's own."""
    width, height = size
    if max_side >= width and max_side >= height:
        return size
    aspect = width / height

    def rounded(number: float, key) -> int:
        return max(min(math.floor(number), math.ceil(number), key=key), 1)

    if 1 >= aspect:
        return rounded(max_side * aspect, lambda n: abs(aspect - n / max_side)), max_side
    return max_side, rounded(max_side / aspect, lambda n: 0 if n == 0 else abs(aspect - max_side / n))


def record_size(record) -> tuple[int, int] | None:
    """A CV record's photo (width, height) in pixels (01 writes them): what boxes in pixels are of, both ways (read
    and written); None where it has none."""
    size = (record.get("width"), record.get("height")) if isinstance(record, dict) else ()
    whole = all(isinstance(side, int) and not isinstance(side, bool) and side > 0 for side in size)
    return size if size and whole else None


def qwen_resized(height: int, width: int, min_pixels: int = QWEN_MIN_PIXELS, max_pixels: int = QWEN_MAX_PIXELS):
    """(height, width) of a photo as Qwen2.5-VL's processor resizes it (its `smart_resize`): each side rounded to a
    multiple of `QWEN_FACTOR`, the whole scaled, keeping the shape, into `min_pixels` .. `max_pixels`.

    Raises:
        AnswerError: One side over 200 times the other (the processor refuses such a photo).
    """
    if max(height, width) > 200 * min(height, width):
        raise AnswerError(f"a photo of {width} x {height} pixels: Qwen2.5-VL refuses sides over 200 times apart")
    resized_height = round(height / QWEN_FACTOR) * QWEN_FACTOR
    resized_width = round(width / QWEN_FACTOR) * QWEN_FACTOR
    if resized_height * resized_width > max_pixels:
        beta = math.sqrt(height * width / max_pixels)
        resized_height = max(QWEN_FACTOR, math.floor(height / beta / QWEN_FACTOR) * QWEN_FACTOR)
        resized_width = max(QWEN_FACTOR, math.floor(width / beta / QWEN_FACTOR) * QWEN_FACTOR)
    elif resized_height * resized_width < min_pixels:
        beta = math.sqrt(min_pixels / (height * width))
        resized_height = math.ceil(height * beta / QWEN_FACTOR) * QWEN_FACTOR
        resized_width = math.ceil(width * beta / QWEN_FACTOR) * QWEN_FACTOR
    return resized_height, resized_width


@dataclass(frozen=True)
class ListedBoxes:
    """A label or phrase of a listed answer, as written, and the boxes given it."""

    text: str
    boxes: tuple[tuple[float, ...], ...]  # [x1, y1, x2, y2] (a point: [x, y]) in 0..1 of the photo, as written
    may_count: bool = True  # the text may be a phrase that counts (Florence-2's phrase grounding), not a label alone


def _florence_boxes(text: str) -> tuple[ListedBoxes, ...]:
    for token in FLORENCE_SPECIAL:
        text = text.replace(token, "")
    listed, position = [], 0
    for run in FLORENCE_RUN.finditer(text):
        phrase = text[position : run.start()].strip()
        position = run.end()
        bins = [(int(number) + 0.5) / LOCATION_BINS for number in FLORENCE_LOCATION.findall(run.group())]
        boxes = tuple(tuple(bins[i : i + 4]) for i in range(0, len(bins), 4))
        listed.append(ListedBoxes(phrase, boxes))  # "": boxes of no label (<REGION_PROPOSAL>'s)
    return tuple(listed)


def _paligemma_boxes(text: str) -> tuple[ListedBoxes, ...]:
    """PaliGemma's detection answer: each box four location tokens, y first, then its label; boxes split by ` ; `."""
    listed = []
    for match in PALIGEMMA_BOX.finditer(text):
        y1, x1, y2, x2 = (int(value) / PALIGEMMA_BINS for value in PALIGEMMA_LOCATION.findall(match.group(1)))
        listed.append(ListedBoxes(match.group(2).strip(), ((x1, y1, x2, y2),), may_count=False))
    return tuple(listed)


def _json_answer(text: str) -> tuple[str, object] | None:
    """The JSON of an answer listing boxes: ("qwen" or "gemini", its entries: `JSON_FORMS`) or ("florence2", its
    task and {"bboxes", "labels"}: `_florence_parsed`); None where `text` is no such answer."""
    body = _json_body(text)
    if not body.startswith(("[", "{")) and not any(key in body for key in JSON_FORMS):
        return None
    try:
        value = json.loads(body)
    except ValueError as error:
        meant = any(f'"{key}"' in body for key in (*JSON_FORMS, "bboxes"))  # meant as boxes
        if meant and _cut_short(body):  # a generation stopped at its token limit: the entries it finished
            value = _complete_objects(body[body.index("[") :] if body.startswith("{") else body)
        elif meant:
            raise AnswerError(f"boxes in JSON that does not parse ({error})") from None
        else:
            return None
    if isinstance(value, dict) and (parsed := _florence_parsed(value)) is not None:
        return "florence2", parsed
    if isinstance(value, dict) and isinstance(value.get("boxes"), list):  # Gemini's structured output
        value = value["boxes"]
    entries = [value] if isinstance(value, dict) else value
    if not isinstance(entries, list):
        return None
    keys = {key for entry in entries if isinstance(entry, dict) for key in JSON_FORMS if key in entry}
    forms = {JSON_FORMS[key] for key in keys}
    if len(forms) > 1:
        raise AnswerError(f"entries of {', '.join(sorted(keys))}: Qwen's and Gemini's boxes in one answer")
    if entries and not keys:
        return None
    return forms.pop() if forms else "qwen", entries  # (an empty list: no box, in any units)


def _json_body(text: str) -> str:
    """An answer's JSON: inside its fence (```json ... ```, one cut short too), else the answer itself."""
    stripped = text.strip()
    fenced = JSON_FENCE.search(stripped)
    return fenced.group(1).strip() if fenced else re.sub(r"^```(?:json)?", "", stripped).strip()


def _brackets(body: str) -> Iterator[tuple[int, str]]:
    """Each bracket or brace of JSON text outside its strings, with where it is."""
    quoted = escaped = False
    for index, char in enumerate(body):
        if quoted:  # inside a string: a bracket there is text
            quoted, escaped = (escaped or char != '"'), (not escaped and char == "\\")
        elif char == '"':
            quoted = True
        elif char in "[]{}":
            yield index, char


def _cut_short(body: str) -> bool:
    """Whether an answer's JSON list (or Gemini's `{"boxes": [...]}`) ends before it closes (the generation stopped at
    its token limit)."""
    depth = 0
    for _, char in _brackets(body):
        depth += 1 if char in "[{" else -1
    listed = body.startswith("[") or (body.startswith("{") and '"boxes"' in body)
    return listed and depth > 0


def _complete_objects(body: str) -> list[dict]:
    """The JSON objects of a list cut short that are whole (each `{...}` in the list that parses)."""
    objects, depth, start = [], 0, None
    for index, char in _brackets(body):
        if char == "{":
            depth, start = depth + 1, index if depth == 0 else start
        elif char == "}" and depth:
            depth -= 1
            if depth == 0:
                try:
                    value = json.loads(body[start : index + 1])
                except ValueError:
                    continue
                if isinstance(value, dict):
                    objects.append(value)
    return objects


def cut_short(text: str) -> bool:
    """Whether `text` is a JSON answer of boxes cut short (`listed_boxes` reads its whole entries)."""
    body = _json_body(text)
    return _cut_short(body) and any(f'"{key}"' in body for key in JSON_FORMS)


def _florence_parsed(value: dict) -> tuple[str | None, dict] | None:
    """Florence-2's post-processed answer (`post_process_generation`: `{"<OD>": {"bboxes": [...], "labels": [...]}}`,
    or the task's part alone) as (its task, if named; the part), None where `value` is none."""
    task = None
    if len(value) == 1 and str(next(iter(value))).startswith("<") and isinstance(next(iter(value.values())), dict):
        task, value = next(iter(value.items()))
    return (task, value) if "bboxes" in value and ("labels" in value or "bboxes_labels" in value) else None


def lists_boxes(value) -> bool:
    """Whether a JSON value (a caption field's, kept as JSON rather than text) is an answer listing boxes: Qwen's or
    Gemini's entries, or Florence-2's post-processed answer."""
    if isinstance(value, dict) and isinstance(value.get("boxes"), list):  # Gemini's structured output
        value = value["boxes"]
    if isinstance(value, dict):
        return any(key in value for key in JSON_FORMS) or _florence_parsed(value) is not None
    return isinstance(value, list) and any(isinstance(e, dict) and any(k in e for k in JSON_FORMS) for e in value)


def _florence_pixel_boxes(answer: tuple[str | None, dict], size: tuple[int, int] | None) -> tuple[ListedBoxes, ...]:
    """Florence-2's post-processed boxes (pixels of the photo, as `image_size` told it): a box a label, a phrase
    grounding's phrase repeated for each of its boxes (one after another: one phrase again); an `<OD>` answer's
    labels are labels alone."""
    task, parsed = answer
    boxes, labels = parsed["bboxes"], parsed.get("labels", parsed.get("bboxes_labels"))
    if not (isinstance(boxes, list) and isinstance(labels, list) and len(boxes) == len(labels)):
        raise AnswerError("Florence-2's answer: 'bboxes' and 'labels' are not lists of one length")
    x_scale, y_scale = AnswerUnits("pixels").scale(size) if boxes else (1.0, 1.0)  # (the size the model saw)
    listed: list[ListedBoxes] = []
    for number, (box, label) in enumerate(zip(boxes, labels, strict=True), start=1):
        if not (isinstance(box, list) and len(box) == 4 and all(_number(value) for value in box)):
            raise AnswerError(f"Florence-2's answer: box {number} is not four numbers: {json.dumps(box)[:80]}")
        if not isinstance(label, str):
            raise AnswerError(f"Florence-2's answer: label {number} is not text: {json.dumps(label)[:80]}")
        corners = (box[0] / x_scale, box[1] / y_scale, box[2] / x_scale, box[3] / y_scale)
        if listed and listed[-1].text == label.strip():
            listed[-1] = ListedBoxes(listed[-1].text, (*listed[-1].boxes, corners), task != "<OD>")
        else:
            listed.append(ListedBoxes(label.strip(), (corners,), task != "<OD>"))
    return tuple(listed)


def _number(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _json_boxes(entries: list, form: str, scale: tuple[float, float]) -> tuple[ListedBoxes, ...]:
    """JSON entries' labelled boxes or points: Qwen's `bbox_2d` [x1, y1, x2, y2] or `point_2d` [x, y], Gemini's
    `box_2d` [y1, x1, y2, x2] (its corners in either order) or `point` [y, x]; divided by `scale` (x, y)."""
    box_key, point_key = (JSON_BOX, JSON_POINT) if form == "qwen" else (GEMINI_BOX, GEMINI_POINT)
    listed = []
    for number, entry in enumerate(entries, start=1):
        if not isinstance(entry, dict):
            raise AnswerError(f"answer entry {number}: not a JSON object")
        key, size = (box_key, 4) if box_key in entry or point_key not in entry else (point_key, 2)
        box, label = entry.get(key), entry.get("label")
        if not (isinstance(box, list) and len(box) == size and all(_number(value) for value in box)):
            many = "four" if size == 4 else "two"
            raise AnswerError(f"answer entry {number}: {key} is not {many} numbers: {json.dumps(box)[:80]}")
        if not isinstance(label, str):
            raise AnswerError(f"answer entry {number}: its label is not text: {json.dumps(label)[:80]}")
        if form == "gemini" and size == 4:
            y1, x1, y2, x2 = box
            box = [min(x1, x2), min(y1, y2), max(x1, x2), max(y1, y2)]
        elif form == "gemini":
            box = [box[1], box[0]]
        corners = tuple(value / scale[index % 2] for index, value in enumerate(box))
        listed.append(ListedBoxes(label.strip(), (corners,), may_count=False))  # a box (or point) a label
    return tuple(listed)


def _molmo_points(text: str) -> tuple[ListedBoxes, ...]:
    """Molmo's points (`MOLMO_POINTS`): each tag its label (its `alt`, else its text) and its points, x and y in
    hundredths of the photo (`x`, `y`, or `x1`, `y1`, `x2`, `y2`, ...)."""
    listed = []
    for match in MOLMO_POINTS.finditer(text):
        attributes = dict(MOLMO_ATTRIBUTE.findall(match.group(2)))
        label = attributes.get("alt", match.group(3)).strip()
        names = ["x", "y"] if "x" in attributes else []
        number = 1
        while f"x{number}" in attributes:
            names += [f"x{number}", f"y{number}"]
            number += 1
        try:
            values = [float(attributes[name]) / 100 for name in names]
        except (KeyError, ValueError):
            raise AnswerError(f"Molmo's point {label!r}: its x and y are not numbers: {match.group(2)[:80]}") from None
        points = tuple(tuple(values[i : i + 2]) for i in range(0, len(values), 2))
        listed.append(ListedBoxes(label, points, may_count=False))
    return tuple(listed)


# The answers told by their tokens, in the order they are looked for (before JSON), each with its reader
TOKEN_FORMS = (
    (FLORENCE_LOCATION, _florence_boxes),
    (PALIGEMMA_LOCATION, _paligemma_boxes),
    (MOLMO_POINTS, _molmo_points),
)


def is_listed_answer(text: str) -> bool:
    """Whether `text` is an answer listing boxes (`listed_boxes` reads it), without reading its boxes."""
    try:
        return any(pattern.search(text) for pattern, _ in TOKEN_FORMS) or _json_answer(text) is not None
    except AnswerError:
        return True


def listed_boxes(
    text: str, units: AnswerUnits = AnswerUnits(), size: tuple[int, int] | None = None
) -> tuple[ListedBoxes, ...] | None:
    """The labels or phrases of a listed answer (Florence-2's location tokens or post-processed JSON, PaliGemma's
    location tokens, Qwen's or Gemini's JSON: see the module docstring) with their boxes, in order; None where `text`
    is no such answer. `size`: the photo's (width, height), for boxes in pixels (Qwen's with `units` asking so;
    Florence-2's post-processed, always; of the photo shrunk to `units.max_side` where the model saw it so).

    Raises:
        AnswerError: JSON that does not parse, an entry without four numbers or a label (naming it), or pixels
            where `size` is None.
    """
    for pattern, read in TOKEN_FORMS:
        if pattern.search(text):
            return read(text)
    answer = _json_answer(text)
    if answer is None:
        return None
    form, value = answer
    if form == "florence2":
        return _florence_pixel_boxes(value, units.seen(size))
    if form == "gemini":
        return _json_boxes(value, "gemini", (MODEL_SCALE, MODEL_SCALE))
    return _json_boxes(value, "qwen", units.scale(size) if value else (1.0, 1.0))


def qwen_answer(boxes: list[tuple[str, list[float]]], units: AnswerUnits, size: tuple[int, int] | None) -> str:
    """Labelled boxes ([x1, y1, x2, y2] in 0..1 of the photo) as Qwen's grounding answer, the form `listed_boxes`
    reads: a fenced JSON list, an object a line (`{"bbox_2d": [...], "label": ...}`), labels as given, corners whole
    numbers in `units` (thousandths, or pixels: of the photo of `size` (width, height), or as Qwen2.5-VL resizes it).

    Raises:
        AnswerError: Pixels asked, and `size` is None.
    """
    x_scale, y_scale = units.scale(size) if boxes else (1.0, 1.0)
    lines = []
    for label, box in boxes:
        corners = [round(box[0] * x_scale), round(box[1] * y_scale), round(box[2] * x_scale), round(box[3] * y_scale)]
        lines.append("\t" + json.dumps({JSON_BOX: corners, "label": label}, ensure_ascii=False))
    return "```json\n[" + ("\n" + ",\n".join(lines) + "\n" if lines else "") + "]\n```"
